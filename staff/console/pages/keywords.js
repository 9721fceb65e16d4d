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
  const rows = rowsFromView(view);
  const revision = Number.isInteger(view?.revision) ? view.revision : undefined;
  const original = JSON.stringify(editsFromRows(rows));
  const positive = rows.map((r) => r.modelWeight).filter((w) => Number.isFinite(w) && w > 0).sort((a, b) => a - b);
  const defaultWeight = positive.length ? round(positive[Math.floor(positive.length / 2)]) : 1;
  let dirty = false;
  let filter = '';

  const topicPicker = select({ id: 'kw-topic', onchange: (e) => ctx.navigate(`#/keywords/${encodeURIComponent(e.target.value)}`) }, topics.map((x) => ({ value: x.id, label: f.topicName(tax, x.id) })), topic);
  const tableSlot = h('div', { class: 'table-wrap kw-scroll', tabindex: '0', 'aria-label': t('keywords.tableCaption', { topic: f.topicName(tax, topic) }) });
  const counter = h('p', { class: 'muted small' });
  const status = h('p', { class: 'form-message', role: 'status', 'data-testid': 'keywords-status' });
  const save = h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'save', disabled: true }, t('keywords.save'));
  const revert = h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => ctx.navigate(location.hash) }, t('keywords.revert'));
  const search = h('input', {
    type: 'search',
    maxlength: 40,
    placeholder: t('keywords.filterHint'),
    oninput: (e) => {
      filter = e.target.value.trim().toLowerCase();
      renderTable();
    },
  });

  const markDirty = () => {
    dirty = JSON.stringify(editsFromRows(rows)) !== original;
    save.disabled = !dirty;
    revert.disabled = !dirty;
    status.className = 'form-message';
    status.textContent = dirty ? t('keywords.unsaved') : '';
  };

  function renderTable() {
    const edited = rows.filter((r) => r.override !== null || r.pinned || r.removed || r.added).length;
    counter.textContent = t('keywords.count', { n: rows.filter((r) => !r.removed).length, edited });
    const shown = rows.filter((r) => !filter || r.term.toLowerCase().includes(filter));
    if (!shown.length) {
      replace(tableSlot, h('p', { class: 'empty' }, t(rows.length ? 'keywords.noMatch' : 'keywords.none')));
      return;
    }
    replace(
      tableSlot,
      h(
        'table',
        { class: 'table keywords', 'data-testid': 'keywords' },
        h('caption', { class: 'sr-only' }, t('keywords.tableCaption', { topic: f.topicName(tax, topic) })),
        h('thead', null, h('tr', null, ['term', 'modelWeight', 'override', 'pinned', 'source', 'actions'].map((k) => h('th', { scope: 'col', class: k === 'modelWeight' ? 'num' : null }, t(`keywords.${k}`))))),
        h(
          'tbody',
          null,
          shown.map((r) => {
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
                if (raw === '') r.override = r.added ? defaultWeight : null;
                else if (Number.isFinite(v) && v >= -20 && v <= 20) r.override = v;
                else return;
                markDirty();
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
                markDirty();
              },
            });
            const action = r.removed
              ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('keywords.restoreOf', { term: r.term }), onclick: () => { r.removed = false; renderTable(); markDirty(); } }, t('keywords.restore'))
              : h(
                  'button',
                  {
                    type: 'button',
                    class: 'btn btn-small btn-ghost',
                    'aria-label': t('keywords.removeOf', { term: r.term }),
                    onclick: () => {
                      if (r.added && r.modelWeight === null) rows.splice(rows.indexOf(r), 1);
                      else {
                        r.removed = true;
                        r.pinned = false;
                        r.override = null;
                      }
                      renderTable();
                      markDirty();
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
          }),
        ),
      ),
    );
  }

  /** Adds a term (or brings back a removed one); false when it is listed already. */
  const addTerm = (term, weight, pinned) => {
    const clean = String(term).trim();
    if (!clean) return false;
    const existing = rows.find((r) => r.term === clean);
    if (existing && !existing.removed) {
      ctx.notify(t('keywords.exists', { term: clean }), 'warn');
      return false;
    }
    if (existing) existing.removed = false;
    const r = existing ?? { term: clean, modelWeight: null, source: null, override: null, pinned: false, removed: false, added: true };
    r.override = Number.isFinite(weight) ? weight : defaultWeight;
    r.pinned = pinned;
    if (!existing) rows.unshift(r);
    renderTable();
    markDirty();
    return true;
  };
  const newTerm = h('input', { type: 'text', name: 'term', maxlength: 40, required: true, autocomplete: 'off' });
  const newWeight = h('input', { type: 'number', name: 'weight', step: '0.1', min: '-20', max: '20', value: String(defaultWeight), class: 'num-input' });
  const newPinned = h('input', { type: 'checkbox', name: 'pinned', checked: true, id: 'kw-new-pinned' });
  const addForm = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': t('keywords.addTitle'),
      onsubmit: (e) => {
        e.preventDefault();
        const w = Number(newWeight.value);
        if (addTerm(newTerm.value, Number.isFinite(w) ? w : defaultWeight, newPinned.checked)) {
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

  save.addEventListener('click', async () => {
    save.disabled = true;
    status.className = 'form-message';
    status.textContent = t('common.saving');
    try {
      await api(`/api/keywords/${encodeURIComponent(topic)}`, { method: 'PUT', body: { ...editsFromRows(rows), ...(revision !== undefined ? { revision } : {}) } });
      dirty = false;
      ctx.notify(t('keywords.saved', { topic: f.topicName(tax, topic) }));
      ctx.navigate(location.hash);
    } catch (err) {
      if (err.status === 401) return;
      status.className = 'form-message error';
      status.textContent = err.status === 409 ? t('keywords.conflict') : ctx.errorText(err);
      save.disabled = false;
    }
  });

  // Suggestions: this topic's first, then the rest.
  let suggestionsEl;
  if (sugRes?.error) suggestionsEl = h('p', { class: 'error-text' }, ctx.errorText(sugRes.error));
  else {
    const items = (Array.isArray(sugRes?.items) ? sugRes.items : Array.isArray(sugRes) ? sugRes : []).filter((s) => isObj(s) && s.term);
    items.sort((x, y) => Number(y.topic === topic) - Number(x.topic === topic) || (Number(y.count) || 0) - (Number(x.count) || 0));
    suggestionsEl = items.length
      ? h(
          'ul',
          { class: 'suggestions', 'data-testid': 'suggestions' },
          items.slice(0, 40).map((s) =>
            h(
              'li',
              { class: s.topic === topic ? 'this-topic' : null },
              h(
                'div',
                null,
                h('span', { class: 'sug-term' }, String(s.term)),
                h(
                  'div',
                  { class: 'muted small' },
                  [Number.isFinite(s.count) ? t('keywords.seen', { n: s.count }) : null, s.topic ? f.topicName(tax, s.topic) : null].filter(Boolean).join(' · '),
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
                    if (addTerm(String(s.term), defaultWeight, true)) e.target.disabled = true;
                  },
                },
                t('keywords.add'),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('keywords.noSuggestions'));
  }
  const sugPanel = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'sug-title' },
    h('h2', { id: 'sug-title' }, t('keywords.suggestions')),
    h('p', { class: 'muted small' }, t('keywords.suggestionsIntro'), isObj(sugRes?.scanned) ? ` ${t('keywords.scanned', { review: sugRes.scanned.review ?? 0, corrected: sugRes.scanned.corrected ?? 0 })}` : null),
    suggestionsEl,
  );

  const info = [
    view?.modelVersion ? t('keywords.modelLine', { v: view.modelVersion }) : null,
    revision ? t('keywords.revisionLine', { r: revision, by: view.updatedBy ?? '—', at: f.dateTime(view.updatedAt) }) : view?.editsSource === 'file' ? t('keywords.fromFile') : null,
  ].filter(Boolean);
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.keywords')), h('p', { class: 'muted' }, t('keywords.intro'))),
      h('div', { class: 'panel toolbar' }, h('div', { class: 'field' }, h('label', { for: 'kw-topic' }, t('ticket.topic')), topicPicker), field(t('keywords.filter'), search), h('div', { class: 'kw-info' }, counter, info.map((x) => h('p', { class: 'muted small' }, x)))),
      view?.inModel === false ? h('div', { class: 'banner banner-warn', role: 'status' }, t('keywords.notInModel')) : null,
      h(
        'div',
        { class: 'two-col wide-left' },
        h('section', { class: 'panel', 'aria-labelledby': 'kw-title' }, h('h2', { id: 'kw-title' }, f.topicName(tax, topic)), addForm, h('p', { class: 'muted small' }, t('keywords.overrideHint')), tableSlot, h('div', { class: 'actions' }, save, revert), status),
        sugPanel,
      ),
    ),
  );
  renderTable();

  const beforeUnload = (e) => {
    if (dirty) e.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);
  ctx.onCleanup(() => window.removeEventListener('beforeunload', beforeUnload));
}
