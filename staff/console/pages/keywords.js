/**
 * Keyword editor (#/keywords/{topic}, trainer). GET /api/keywords/{topic} gives the serving model's
 * keywords ({term, weight, source}) and the trainers' edits ({set: {term: weight}, pin: [], remove: []},
 * revision); the table shows them merged — add, remove (and restore), re-weight, pin — and saving
 * sends the whole edit set with the revision it was based on (PUT /api/keywords/{topic}; 409 when
 * someone saved a newer one). Edits apply from the next training run. Suggestions come from
 * GET /api/keywords/suggestions ({items: [{term, count, examples, topic}]}).
 */
import { api, taxonomy } from '../api.js';
import { field, h, replace, select } from '../dom.js';
import * as f from '../format.js';
import { t, tOr } from '../i18n.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const round = (w) => Math.round(w * 1000) / 1000;

/** Rows of the editor from the API's view: the model's keywords with the edits laid over them. */
export function rowsFromView(view) {
  const edits = isObj(view?.edits) ? view.edits : {};
  const set = isObj(edits.set) ? edits.set : {};
  const pin = new Set(Array.isArray(edits.pin) ? edits.pin : []);
  const remove = new Set(Array.isArray(edits.remove) ? edits.remove : []);
  const rows = new Map();
  for (const k of Array.isArray(view?.keywords) ? view.keywords : []) {
    const term = String(k?.term ?? '');
    if (!term || rows.has(term)) continue;
    const modelWeight = Number(k.weight);
    rows.set(term, { term, modelWeight: Number.isFinite(modelWeight) ? modelWeight : null, source: k.source ?? null, override: null, pinned: false, removed: false, added: false });
  }
  const row = (term) => {
    if (!rows.has(term)) rows.set(term, { term, modelWeight: null, source: null, override: null, pinned: false, removed: false, added: true });
    return rows.get(term);
  };
  for (const [term, w] of Object.entries(set)) if (Number.isFinite(Number(w))) row(term).override = Number(w);
  for (const term of pin) row(term).pinned = true;
  for (const term of remove) row(term).removed = true;
  return [...rows.values()];
}

/** The edit set of the rows, as PUT /api/keywords/{topic} takes it. */
export function editsFromRows(rows) {
  const set = {};
  const pin = [];
  const remove = [];
  for (const r of rows) {
    if (r.removed) {
      remove.push(r.term);
      continue;
    }
    if (r.override !== null && Number.isFinite(r.override)) set[r.term] = r.override;
    if (r.pinned) pin.push(r.term);
  }
  return { set, pin, remove };
}

/**
 * Renders the editor. `ed` is what every part reads and changes: the rows as edited, the filter, the
 * dirty flag, and the elements the handlers update (table, counter, status, save and revert).
 */
export async function render(ctx) {
  const tax = await taxonomy();
  const topics = tax.topics ?? [];
  const topic = ctx.parts[1] && topics.some((x) => x.id === ctx.parts[1]) ? ctx.parts[1] : topics[0]?.id;
  if (!topic) {
    replace(ctx.root, h('p', { class: 'empty' }, t('keywords.noTopics')));
    return;
  }
  if (ctx.parts[1] !== topic) {
    ctx.navigate(`#/keywords/${encodeURIComponent(topic)}`);
    return;
  }
  ctx.setTitle(`${t('nav.keywords')} · ${f.topicName(tax, topic)}`);

  const [view, sugRes] = await Promise.all([
    api(`/api/keywords/${encodeURIComponent(topic)}`),
    api('/api/keywords/suggestions', { query: { limit: 60 } }).catch((err) => {
      if (err.status === 401) throw err;
      return { error: err };
    }),
  ]);
  if (!ctx.isCurrent()) return;
  const ed = editorState(ctx, tax, topic, view);
  const topicPicker = select({ id: 'kw-topic', onchange: (e) => ctx.navigate(`#/keywords/${encodeURIComponent(e.target.value)}`) }, topics.map((x) => ({ value: x.id, label: f.topicName(tax, x.id) })), topic);
  const search = h('input', {
    type: 'search',
    maxlength: 40,
    placeholder: t('keywords.filterHint'),
    oninput: (e) => {
      ed.filter = e.target.value.trim().toLowerCase();
      renderTable(ed);
    },
  });
  const form = addForm(ed);
  ed.save.addEventListener('click', () => saveEdits(ed));
  const sugPanel = suggestionsPanel(ed, sugRes);

  const info = [
    view?.modelVersion ? t('keywords.modelLine', { v: view.modelVersion }) : null,
    ed.revision ? t('keywords.revisionLine', { r: ed.revision, by: view.updatedBy ?? '—', at: f.dateTime(view.updatedAt) }) : view?.editsSource === 'file' ? t('keywords.fromFile') : null,
  ].filter(Boolean);
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.keywords')), h('p', { class: 'muted' }, t('keywords.intro'))),
      h('div', { class: 'panel toolbar' }, h('div', { class: 'field' }, h('label', { for: 'kw-topic' }, t('ticket.topic')), topicPicker), field(t('keywords.filter'), search), h('div', { class: 'kw-info' }, ed.counter, info.map((x) => h('p', { class: 'muted small' }, x)))),
      view?.inModel === false ? h('div', { class: 'banner banner-warn', role: 'status' }, t('keywords.notInModel')) : null,
      h(
        'div',
        { class: 'two-col wide-left' },
        h('section', { class: 'panel', 'aria-labelledby': 'kw-title' }, h('h2', { id: 'kw-title' }, f.topicName(tax, topic)), form, h('p', { class: 'muted small' }, t('keywords.overrideHint')), ed.tableSlot, h('div', { class: 'actions' }, ed.save, ed.revert), ed.status),
        sugPanel,
      ),
    ),
  );
  renderTable(ed);

  const beforeUnload = (e) => {
    if (ed.dirty) e.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);
  ctx.onCleanup(() => window.removeEventListener('beforeunload', beforeUnload));
}

/** The editor's state for one topic's view, with the elements its handlers update. */
function editorState(ctx, tax, topic, view) {
  const rows = rowsFromView(view);
  const positive = rows.map((r) => r.modelWeight).filter((w) => Number.isFinite(w) && w > 0).sort((a, b) => a - b);
  return {
    ctx,
    tax,
    topic,
    rows,
    revision: Number.isInteger(view?.revision) ? view.revision : undefined,
    // Unsaved means: the edit set differs from the one loaded (not merely that a control was touched).
    original: JSON.stringify(editsFromRows(rows)),
    // A new term starts at the median positive model weight: a typical keyword, not a dominant one.
    defaultWeight: positive.length ? round(positive[Math.floor(positive.length / 2)]) : 1,
    dirty: false,
    filter: '',
    tableSlot: h('div', { class: 'table-wrap kw-scroll', tabindex: '0', 'aria-label': t('keywords.tableCaption', { topic: f.topicName(tax, topic) }) }),
    counter: h('p', { class: 'muted small' }),
    status: h('p', { class: 'form-message', role: 'status', 'data-testid': 'keywords-status' }),
    save: h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'save', disabled: true }, t('keywords.save')),
    revert: h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => ctx.navigate(location.hash) }, t('keywords.revert')),
  };
}

/** Recomputes whether the rows differ from what was loaded; save, revert and the status follow. */
function markDirty(ed) {
  ed.dirty = JSON.stringify(editsFromRows(ed.rows)) !== ed.original;
  ed.save.disabled = !ed.dirty;
  ed.revert.disabled = !ed.dirty;
  ed.status.className = 'form-message';
  ed.status.textContent = ed.dirty ? t('keywords.unsaved') : '';
}

/** Redraws the counter and the table of the rows the filter lets through. */
function renderTable(ed) {
  const { rows, filter } = ed;
  const edited = rows.filter((r) => r.override !== null || r.pinned || r.removed || r.added).length;
  ed.counter.textContent = t('keywords.count', { n: rows.filter((r) => !r.removed).length, edited });
  const shown = rows.filter((r) => !filter || r.term.toLowerCase().includes(filter));
  if (!shown.length) {
    replace(ed.tableSlot, h('p', { class: 'empty' }, t(rows.length ? 'keywords.noMatch' : 'keywords.none')));
    return;
  }
  replace(
    ed.tableSlot,
    h(
      'table',
      { class: 'table keywords', 'data-testid': 'keywords' },
      h('caption', { class: 'sr-only' }, t('keywords.tableCaption', { topic: f.topicName(ed.tax, ed.topic) })),
      h('thead', null, h('tr', null, ['term', 'modelWeight', 'override', 'pinned', 'source', 'actions'].map((k) => h('th', { scope: 'col', class: k === 'modelWeight' ? 'num' : null }, t(`keywords.${k}`))))),
      h(
        'tbody',
        null,
        shown.map((r) => keywordRow(ed, r)),
      ),
    ),
  );
}

/** One keyword's row: its weight override, pin and remove (or restore) act on `r` in place. */
function keywordRow(ed, r) {
  const weight = h('input', {
    type: 'number',
    step: '0.1',
    min: '-20',
    max: '20',
    value: r.override !== null ? String(r.override) : '',
    placeholder: r.modelWeight !== null ? String(round(r.modelWeight)) : '',
    class: 'num-input',
    disabled: r.removed,
    'aria-label': t('keywords.weightOf', { term: r.term }),
    oninput: (e) => {
      const raw = e.target.value.trim();
      const v = Number(raw);
      // An added term has no model weight to fall back on, so an emptied field means the default.
      if (raw === '') r.override = r.added ? ed.defaultWeight : null;
      else if (Number.isFinite(v) && v >= -20 && v <= 20) r.override = v;
      else return;
      markDirty(ed);
    },
  });
  const pinned = h('input', {
    type: 'checkbox',
    checked: r.pinned,
    disabled: r.removed,
    'aria-label': t('keywords.pinOf', { term: r.term }),
    onchange: (e) => {
      r.pinned = e.target.checked;
      e.target.closest('tr')?.classList.toggle('pinned', r.pinned);
      markDirty(ed);
    },
  });
  const action = r.removed
    ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('keywords.restoreOf', { term: r.term }), onclick: () => { r.removed = false; renderTable(ed); markDirty(ed); } }, t('keywords.restore'))
    : h(
        'button',
        {
          type: 'button',
          class: 'btn btn-small btn-ghost',
          'aria-label': t('keywords.removeOf', { term: r.term }),
          onclick: () => {
            // A term only this edit added is simply dropped; a model term is kept, marked removed.
            if (r.added && r.modelWeight === null) ed.rows.splice(ed.rows.indexOf(r), 1);
            else {
              r.removed = true;
              r.pinned = false;
              r.override = null;
            }
            renderTable(ed);
            markDirty(ed);
          },
        },
        t('keywords.remove'),
      );
  return h(
    'tr',
    { 'data-term': r.term, class: [r.pinned && 'pinned', r.removed && 'removed', r.added && 'added'] },
    h('th', { scope: 'row', 'data-label': t('keywords.term') }, r.term, r.added ? h('span', { class: 'badge badge-ok' }, t('keywords.new')) : null, r.removed ? h('span', { class: 'badge badge-error' }, t('keywords.removed')) : null),
    h('td', { class: 'num', 'data-label': t('keywords.modelWeight') }, r.modelWeight !== null ? f.num(r.modelWeight, 2) : '—'),
    h('td', { 'data-label': t('keywords.override') }, weight),
    h('td', { 'data-label': t('keywords.pinned') }, pinned),
    h('td', { 'data-label': t('keywords.source'), class: 'muted small' }, r.source ? tOr(`keywords.src.${r.source}`, r.source) : r.added ? t('keywords.src.manual') : '—'),
    h('td', { 'data-label': t('keywords.actions') }, action),
  );
}

/** Adds a term (or brings back a removed one); false when it is listed already. */
function addTerm(ed, term, weight, pinned) {
  const clean = String(term).trim();
  if (!clean) return false;
  const existing = ed.rows.find((r) => r.term === clean);
  if (existing && !existing.removed) {
    ed.ctx.notify(t('keywords.exists', { term: clean }), 'warn');
    return false;
  }
  if (existing) existing.removed = false;
  const r = existing ?? { term: clean, modelWeight: null, source: null, override: null, pinned: false, removed: false, added: true };
  r.override = Number.isFinite(weight) ? weight : ed.defaultWeight;
  r.pinned = pinned;
  if (!existing) ed.rows.unshift(r);
  renderTable(ed);
  markDirty(ed);
  return true;
}

/** The form that adds a term with a weight, pinned unless unticked. */
function addForm(ed) {
  const newTerm = h('input', { type: 'text', name: 'term', maxlength: 40, required: true, autocomplete: 'off' });
  const newWeight = h('input', { type: 'number', name: 'weight', step: '0.1', min: '-20', max: '20', value: String(ed.defaultWeight), class: 'num-input' });
  const newPinned = h('input', { type: 'checkbox', name: 'pinned', checked: true, id: 'kw-new-pinned' });
  return h(
    'form',
    {
      class: 'toolbar',
      'aria-label': t('keywords.addTitle'),
      onsubmit: (e) => {
        e.preventDefault();
        const w = Number(newWeight.value);
        if (addTerm(ed, newTerm.value, Number.isFinite(w) ? w : ed.defaultWeight, newPinned.checked)) {
          newTerm.value = '';
          newTerm.focus();
        }
      },
    },
    field(t('keywords.term'), newTerm),
    field(t('keywords.weight'), newWeight),
    h('div', { class: 'field checkbox-field' }, newPinned, h('label', { for: 'kw-new-pinned' }, t('keywords.pinned'))),
    h('button', { type: 'submit', class: 'btn', 'data-action': 'add' }, t('keywords.add')),
  );
}

/** Saves the whole edit set with the revision it was based on; a newer save meanwhile is a 409. */
async function saveEdits(ed) {
  const { ctx, save, status } = ed;
  save.disabled = true;
  status.className = 'form-message';
  status.textContent = t('common.saving');
  try {
    await api(`/api/keywords/${encodeURIComponent(ed.topic)}`, { method: 'PUT', body: { ...editsFromRows(ed.rows), ...(ed.revision !== undefined ? { revision: ed.revision } : {}) } });
    ed.dirty = false;
    ctx.notify(t('keywords.saved', { topic: f.topicName(ed.tax, ed.topic) }));
    ctx.navigate(location.hash);
  } catch (err) {
    if (err.status === 401) return;
    status.className = 'form-message error';
    status.textContent = err.status === 409 ? t('keywords.conflict') : ctx.errorText(err);
    save.disabled = false;
  }
}

/** The suggestions panel: this topic's first, then the rest; each can be added in one click. */
function suggestionsPanel(ed, sugRes) {
  const { ctx, tax, topic } = ed;
  let suggestionsEl;
  if (sugRes?.error) suggestionsEl = h('p', { class: 'error-text' }, ctx.errorText(sugRes.error));
  else {
    const items = (Array.isArray(sugRes?.items) ? sugRes.items : Array.isArray(sugRes) ? sugRes : []).filter((s) => isObj(s) && s.term);
    items.sort((x, y) => Number(y.topic === topic) - Number(x.topic === topic) || (Number(y.count) || 0) - (Number(x.count) || 0));
    suggestionsEl = items.length ? h('ul', { class: 'suggestions', 'data-testid': 'suggestions' }, items.slice(0, 40).map((s) => suggestionItem(ed, s))) : h('p', { class: 'muted' }, t('keywords.noSuggestions'));
  }
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'sug-title' },
    h('h2', { id: 'sug-title' }, t('keywords.suggestions')),
    h('p', { class: 'muted small' }, t('keywords.suggestionsIntro'), isObj(sugRes?.scanned) ? ` ${t('keywords.scanned', { review: sugRes.scanned.review ?? 0, corrected: sugRes.scanned.corrected ?? 0 })}` : null),
    suggestionsEl,
  );
}

/** One suggested term: how often it was seen, its topic, up to three example tickets, and Add. */
function suggestionItem(ed, s) {
  return h(
    'li',
    { class: s.topic === ed.topic ? 'this-topic' : null },
    h(
      'div',
      null,
      h('span', { class: 'sug-term' }, String(s.term)),
      h(
        'div',
        { class: 'muted small' },
        [Number.isFinite(s.count) ? t('keywords.seen', { n: s.count }) : null, s.topic ? f.topicName(ed.tax, s.topic) : null].filter(Boolean).join(' · '),
        (Array.isArray(s.examples) ? s.examples : []).slice(0, 3).map((n) => [' ', h('a', { href: `#/tickets/${encodeURIComponent(n)}`, class: 'mono' }, String(n))]),
      ),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-small',
        'aria-label': t('keywords.addOf', { term: s.term }),
        onclick: (e) => {
          if (addTerm(ed, String(s.term), ed.defaultWeight, true)) e.target.disabled = true;
        },
      },
      t('keywords.add'),
    ),
  );
}
