/**
 * Trainer pages for models (trainer/routes.ts):
 * - #/models: versions (GET /api/models → {active, serving, items:[{version, createdAt, trainedBy,
 *   active, activatedAt, activatedBy, trainingRows, corrections, evaluation:{topicAccuracy,
 *   topicMacroF1, typeAccuracy, reviewRate}}]}), retrain (POST /api/models → 202) with a progress bar
 *   (polls GET /api/models/training → {state, stage, progress, startedAt, finishedAt, version, error}),
 *   activate / roll back (POST /api/models/{version}/activate), pick two to compare;
 * - #/models/compare?a&b: GET /api/models/compare → {a, b, delta} (two evaluations on the same rows:
 *   topic and type reports with accuracy, macro-F1, per-class figures and confusion matrices), side by
 *   side with confusion-matrix heatmaps;
 * - #/models/{version}: the record, provenance, the out-of-fold figures of each head, and its
 *   evaluation beside the version that was active when it was trained.
 * Everything is read defensively: a missing figure shows as "—".
 */
import { api, taxonomy } from '../api.js';
import { chart, matrixHeatmap } from '../charts.js';
import { bar, h, replace } from '../dom.js';
import * as f from '../format.js';
import { t, tOr } from '../i18n.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const fin = (v) => (Number.isFinite(v) ? v : undefined);

/** Training stages as the trainer reports them (English, free text) → a label in the UI language. */
export function stageText(stage) {
  if (!stage) return '';
  const s = String(stage);
  const m = /^(\w+):\s*(.*)$/.exec(s);
  if (m && m[1] !== 'svm') return `${tOr(`models.head.${m[1]}`, m[1])} · ${stageText(m[2])}`;
  const c = /^svm C=([\d.]+)$/.exec(s);
  if (c) return t('train.stage.svmC', { c: c[1] });
  return tOr(`train.stage.${s}`, s);
}

/** Heads of an evaluation ({topic: report, type: report}) or of a bare report. */
function reportsOf(ev) {
  if (!isObj(ev)) return [];
  if (Array.isArray(ev.labels) && Number.isFinite(ev.accuracy)) return [{ name: 'topic', report: ev }];
  return Object.entries(ev)
    .filter(([, v]) => isObj(v) && (Number.isFinite(v.accuracy) || Array.isArray(v.confusion)))
    .map(([name, report]) => ({ name, report }));
}

/** The headline figures of an evaluation: [{key, label, value, kind: 'pct'|'num', lowerBetter}]. */
function figuresOf(ev) {
  if (!isObj(ev)) return [];
  const out = [];
  for (const { name, report } of reportsOf(ev)) {
    const head = tOr(`models.head.${name}`, name);
    out.push({ key: `${name}.accuracy`, label: `${head} · ${t('models.accuracy')}`, value: fin(report.accuracy) });
    out.push({ key: `${name}.macroF1`, label: `${head} · ${t('models.macroF1')}`, value: fin(report.macroF1) });
  }
  out.push({ key: 'reviewRate', label: t('models.reviewRate'), value: fin(ev.reviewRate), lowerBetter: true });
  if ('accuracyNotReviewed' in ev) out.push({ key: 'accuracyNotReviewed', label: t('models.accuracyNotReviewed'), value: fin(ev.accuracyNotReviewed) });
  if (isObj(ev.spam)) {
    out.push({ key: 'spam.recall', label: t('models.spamRecall'), value: fin(ev.spam.recall) });
    out.push({ key: 'spam.normalFlagged', label: t('models.spamFalse'), value: fin(ev.spam.normalFlagged), lowerBetter: true });
  }
  if (isObj(ev.topicAccuracyBySource)) {
    out.push({ key: 'bySource.holdout', label: t('models.accHoldout'), value: fin(ev.topicAccuracyBySource.holdout) });
    out.push({ key: 'bySource.corrections', label: t('models.accCorrections'), value: fin(ev.topicAccuracyBySource.corrections) });
  }
  if (Number.isFinite(ev.threshold)) out.push({ key: 'threshold', label: t('models.threshold'), value: ev.threshold, kind: 'num' });
  if (isObj(ev.rows)) out.push({ key: 'rows', label: t('models.rows'), value: fin(ev.rows.total), kind: 'int', note: t('models.rowsNote', { holdout: ev.rows.holdout ?? 0, corrections: ev.rows.corrections ?? 0 }) });
  return out;
}

const fmtFigure = (fig, v) => (fig.kind === 'int' ? f.num(v) : fig.kind === 'num' ? f.num(v, 3) : f.pct(v));

/** Side-by-side table of the figures of several evaluations; with two, the difference b − a. */
function figuresTable(evals, names) {
  const figs = evals.map(figuresOf);
  const keys = [];
  for (const list of figs) for (const x of list) if (!keys.some((k) => k.key === x.key)) keys.push(x);
  const two = evals.length === 2;
  return h(
    'table',
    { class: 'table compact metrics-table', 'data-testid': 'metrics' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('models.metric')), names.map((n) => h('th', { scope: 'col', class: 'num mono' }, n)), two ? h('th', { scope: 'col', class: 'num' }, t('models.delta')) : null)),
    h(
      'tbody',
      null,
      keys.map((k) => {
        const vals = figs.map((list) => list.find((x) => x.key === k.key)?.value);
        const d = two && Number.isFinite(vals[0]) && Number.isFinite(vals[1]) ? vals[1] - vals[0] : null;
        const better = d !== null && d !== 0 && (k.lowerBetter ? d < 0 : d > 0);
        return h(
          'tr',
          { 'data-metric': k.key },
          h('th', { scope: 'row' }, k.label, k.note ? h('small', { class: 'muted' }, ` (${figs[0].find((x) => x.key === k.key)?.note ?? k.note})`) : null),
          vals.map((v) => h('td', { class: 'num' }, fmtFigure(k, v))),
          two
            ? h(
                'td',
                { class: ['num', d && k.kind !== 'int' && k.kind !== 'num' ? (better ? 'delta-up' : 'delta-down') : null] },
                d === null ? '—' : k.kind === 'int' ? `${d > 0 ? '+' : ''}${f.num(d)}` : k.kind === 'num' ? `${d > 0 ? '+' : ''}${f.num(d, 3)}` : `${d > 0 ? '+' : ''}${f.num(d * 100, 1)} pt`,
              )
            : null,
        );
      }),
    ),
  );
}

/** Per-class table of a report ({labels, perClass: {label: {precision, recall, f1, support}}}). */
function perClassTable(name, report, tax) {
  const pc = report?.perClass;
  const rows = Array.isArray(pc) ? pc.map((r) => [r.label, r]) : isObj(pc) ? (report.labels ?? Object.keys(pc)).map((l) => [l, pc[l] ?? {}]) : [];
  if (!rows.length) return h('p', { class: 'muted' }, t('common.none'));
  const label = (l) => (name === 'type' ? f.typeName(tax, l) : name === 'topic' ? f.topicName(tax, l) : String(l));
  return h(
    'table',
    { class: 'table compact' },
    h('thead', null, h('tr', null, ['class', 'precision', 'recall', 'f1', 'support'].map((k) => h('th', { scope: 'col', class: k === 'class' ? null : 'num' }, t(`models.${k}`))))),
    h(
      'tbody',
      null,
      rows.map(([l, r]) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, label(l)),
          h('td', { class: 'num' }, f.pct(r.precision)),
          h('td', { class: 'num' }, f.pct(r.recall)),
          h('td', { class: 'num f1-cell' }, h('span', { class: 'bar-row' }, bar(r.f1, `F1 ${label(l)}`), f.pct(r.f1))),
          h('td', { class: 'num' }, f.num(r.support ?? r.n)),
        ),
      ),
    ),
  );
}

/** A confusion matrix of a report as {labels, matrix}, from number[][] or {actual: {predicted: n}}. */
function confusionOf(report) {
  const c = report?.confusion;
  if (Array.isArray(c) && c.every(Array.isArray)) return { labels: report.labels ?? c.map((_, i) => String(i)), matrix: c };
  if (isObj(c) && Array.isArray(c.matrix)) return { labels: c.labels ?? report.labels, matrix: c.matrix };
  if (isObj(c)) {
    const labels = [...new Set([...Object.keys(c), ...Object.values(c).filter(isObj).flatMap((r) => Object.keys(r))])];
    return { labels, matrix: labels.map((a) => labels.map((p) => Number(c[a]?.[p] ?? 0))) };
  }
  return null;
}

/** A heatmap element for a report's confusion matrix and the function that draws it. */
function confusionChart(ctx, name, report, tax, key) {
  const cm = confusionOf(report);
  if (!cm || !cm.labels?.length) return { el: h('p', { class: 'muted' }, t('models.noConfusion')), draw: async () => undefined };
  const el = h('div', { class: 'chart chart-square', 'data-chart': `confusion-${key}`, role: 'img', 'aria-label': t('models.confusionOf', { v: key }) });
  const names = name === 'type' ? (l) => f.typeName(tax, l) : name === 'topic' ? (l) => f.topicName(tax, l) : (l) => String(l);
  return { el, draw: () => chart(el, matrixHeatmap({ rows: cm.labels, cols: cm.labels, values: cm.matrix, rowName: t('models.actual'), colName: t('models.predicted'), names }), ctx.onCleanup) };
}

export async function render(ctx) {
  const sub = ctx.parts[1];
  if (sub === 'compare') return compare(ctx);
  if (sub) return detail(ctx, sub);
  return list(ctx);
}

/**
 * The versions list with the retrain panel. `lp` is what its parts share: the elements they update,
 * the (at most two) versions picked for comparison, and the training poll's timer.
 */
async function list(ctx) {
  const lp = {
    ctx,
    progress: h('div', { class: 'training', 'data-testid': 'training' }),
    table: h('div', { class: 'results' }),
    live: h('p', { class: 'muted', 'data-testid': 'live-version' }),
    retrain: h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'retrain' }, t('models.retrain')),
    compareBtn: h('button', { type: 'button', class: 'btn', 'data-action': 'compare', disabled: true }, t('models.compareSelected')),
    selected: [],
    timer: null,
    stopped: false,
  };
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.models')), h('p', { class: 'muted' }, t('models.intro'))),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'train-title' },
        h('h2', { id: 'train-title' }, t('models.training')),
        h('p', { class: 'muted small' }, t('models.trainingIntro')),
        h('div', { class: 'actions' }, lp.retrain),
        lp.progress,
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'versions-title' }, h('div', { class: 'panel-head' }, h('h2', { id: 'versions-title' }, t('models.versions')), lp.compareBtn), lp.live, lp.table),
    ),
  );

  ctx.onCleanup(() => {
    lp.stopped = true;
    clearTimeout(lp.timer);
  });
  lp.compareBtn.addEventListener('click', () => {
    const { selected } = lp;
    if (selected.length === 2) ctx.navigate(`#/models/compare?${new URLSearchParams({ a: selected[0], b: selected[1] }).toString()}`);
  });
  lp.retrain.addEventListener('click', () => startTraining(lp));

  await Promise.all([loadList(lp), poll(lp, false)]);
}

/** Compare is possible with exactly two versions picked. */
function updateCompare(lp) {
  lp.compareBtn.disabled = lp.selected.length !== 2;
}

/** Makes `version` the live model (or rolls back to it) after the user confirms; the list reloads. */
async function activate(lp, version, older, button) {
  const { ctx } = lp;
  if (!window.confirm(t(older ? 'models.rollbackConfirm' : 'models.activateConfirm', { v: version }))) return;
  button.disabled = true;
  try {
    await api(`/api/models/${encodeURIComponent(version)}/activate`, { method: 'POST' });
    ctx.notify(t('models.activated', { v: version }));
    await loadList(lp);
  } catch (err) {
    if (err.status === 401) return;
    ctx.notify(err.status === 422 ? t('models.refused', { msg: err.message }) : ctx.errorText(err), 'error');
    button.disabled = false;
  }
}

/** Loads the versions and redraws the live line and the table; picks of versions now gone are dropped. */
async function loadList(lp) {
  const { ctx, selected } = lp;
  const res = await api('/api/models');
  if (!ctx.isCurrent()) return;
  const models = (Array.isArray(res) ? res : (res?.items ?? [])).filter(isObj);
  const active = typeof res?.active === 'string' ? res.active : (models.find((m) => m.active)?.version ?? null);
  const activeRecord = models.find((m) => m.version === active);
  replace(
    lp.live,
    active ? t('models.liveLine', { v: active }) : null,
    res?.serving && res.serving !== active ? ` ${t('models.servingLine', { v: res.serving })}` : null,
  );
  for (let i = selected.length - 1; i >= 0; i--) if (!models.some((m) => m.version === selected[i])) selected.splice(i, 1);
  if (!models.length) {
    replace(lp.table, h('p', { class: 'empty' }, t('models.none')));
    updateCompare(lp);
    return;
  }
  replace(
    lp.table,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table models', 'data-testid': 'models' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, t('models.select'))),
            ['version', 'createdAt', 'trainedBy', 'data', 'accuracy', 'macroF1', 'typeAccuracy', 'reviewRate', 'state', 'actions'].map((k) => h('th', { scope: 'col' }, t(`models.${k}`))),
          ),
        ),
        h(
          'tbody',
          null,
          models.map((m) => versionRow(lp, m, active, activeRecord)),
        ),
      ),
    ),
  );
  updateCompare(lp);
}

/**
 * One version's row: its pick box, figures and state, and Activate (or Roll back, for a version older
 * than the live one) with Compare with the live version.
 */
function versionRow(lp, m, active, activeRecord) {
  const ev = isObj(m.evaluation) ? m.evaluation : {};
  const isActive = m.version === active;
  const older = activeRecord && new Date(m.createdAt) < new Date(activeRecord.createdAt);
  const btn = isActive ? null : h('button', { type: 'button', class: 'btn btn-small', 'data-action': older ? 'rollback' : 'activate' }, older ? t('models.rollback') : t('models.activate'));
  btn?.addEventListener('click', () => activate(lp, m.version, older, btn));
  return h(
    'tr',
    { class: isActive ? 'active-row' : null, 'data-version': m.version },
    h('td', { class: 'check' }, pickBox(lp, m.version)),
    h('td', { 'data-label': t('models.version'), class: 'nowrap' }, h('a', { href: `#/models/${encodeURIComponent(m.version)}`, class: 'mono' }, m.version)),
    h('td', { 'data-label': t('models.createdAt') }, f.dateTime(m.createdAt)),
    h('td', { 'data-label': t('models.trainedBy') }, m.trainedBy ?? '—'),
    h('td', { 'data-label': t('models.data'), class: 'small' }, Number.isFinite(m.trainingRows) ? t('models.dataLine', { rows: f.num(m.trainingRows), corrections: f.num(m.corrections ?? 0) }) : '—'),
    h('td', { class: 'num', 'data-label': t('models.accuracy') }, f.pct(ev.topicAccuracy)),
    h('td', { class: 'num', 'data-label': t('models.macroF1') }, f.pct(ev.topicMacroF1)),
    h('td', { class: 'num', 'data-label': t('models.typeAccuracy') }, f.pct(ev.typeAccuracy)),
    h('td', { class: 'num', 'data-label': t('models.reviewRate') }, f.pct(ev.reviewRate)),
    h(
      'td',
      { 'data-label': t('models.state') },
      isActive ? h('span', { class: 'badge badge-ok', 'data-testid': 'active-badge' }, t('models.active')) : h('span', { class: 'muted' }, t('models.inactive')),
      m.activatedAt ? h('div', { class: 'muted small' }, t('models.activatedBy', { by: m.activatedBy ?? '—', at: f.dateTime(m.activatedAt) })) : null,
    ),
    h(
      'td',
      { 'data-label': t('models.actions') },
      h(
        'div',
        { class: 'btn-row' },
        btn,
        active && !isActive ? h('a', { class: 'btn btn-small btn-ghost', 'data-action': 'compare-active', href: `#/models/compare?${new URLSearchParams({ a: active, b: m.version }).toString()}` }, t('models.compareWithActive')) : null,
      ),
    ),
  );
}

/** The box that picks a version for comparison; a third pick drops the oldest (and unticks its box). */
function pickBox(lp, version) {
  const { selected } = lp;
  return h('input', {
    type: 'checkbox',
    'aria-label': t('models.selectVersion', { v: version }),
    checked: selected.includes(version),
    onchange: (e) => {
      const i = selected.indexOf(version);
      if (e.target.checked && i < 0) {
        selected.push(version);
        if (selected.length > 2) {
          const dropped = selected.shift();
          for (const box of lp.table.querySelectorAll('tr[data-version] input[type=checkbox]')) if (box.closest('tr').dataset.version === dropped) box.checked = false;
        }
      } else if (!e.target.checked && i >= 0) selected.splice(i, 1);
      updateCompare(lp);
    },
  });
}

/** Shows the training run; polls every second while it runs; refreshes the list when it ends. */
async function poll(lp, wasRunning) {
  const { ctx, progress } = lp;
  let j;
  try {
    j = await api('/api/models/training');
  } catch (err) {
    if (err.status === 401) return;
    replace(progress, h('p', { class: 'error-text' }, ctx.errorText(err)));
    return;
  }
  if (lp.stopped || !ctx.isCurrent()) return;
  const state = String(j?.state ?? 'idle');
  const running = state === 'running' || state === 'queued';
  lp.retrain.disabled = running;
  if (state === 'idle') replace(progress, h('p', { class: 'muted' }, t('models.noTraining')));
  else replace(progress, trainingBlock(state, j));
  if (running) lp.timer = setTimeout(() => poll(lp, true), 1000);
  else if (wasRunning) {
    if (state === 'succeeded') ctx.notify(t('models.trainingDone'));
    else if (state === 'failed') ctx.notify(t('models.trainingFailedShort'), 'error');
    await loadList(lp).catch(() => undefined);
  }
}

/** A training run that is not idle: its state and stage, the progress bar, times, and any error. */
function trainingBlock(state, j) {
  const p = Math.max(0, Math.min(1, Number(j.progress) || 0));
  const err = j.error ? (typeof j.error === 'string' ? j.error : (j.error.message ?? j.error.code)) : null;
  return h(
    'div',
    { class: 'progress-block', 'data-state': state },
    h(
      'div',
      { class: 'progress-meta' },
      h('strong', { 'data-testid': 'training-state' }, tOr(`train.state.${state}`, state)),
      j.stage ? h('span', { class: 'muted', 'data-testid': 'training-stage' }, stageText(j.stage)) : null,
      h('span', { class: 'num', 'data-testid': 'progress-value' }, f.pct(p, 0)),
    ),
    h(
      'div',
      { class: 'progress', role: 'progressbar', 'aria-label': t('models.progress'), 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': Math.round(p * 100), 'aria-valuetext': `${f.pct(p, 0)} ${stageText(j.stage)}` },
      h('div', { class: 'progress-fill', style: { width: `${(p * 100).toFixed(1)}%` } }),
    ),
    h(
      'p',
      { class: 'muted small' },
      [
        j.startedAt ? t('models.startedAt', { at: f.dateTime(j.startedAt) }) : null,
        j.by ? t('models.by', { by: j.by }) : null,
        j.finishedAt ? t('models.finishedAt', { at: f.dateTime(j.finishedAt) }) : null,
        j.version ? t('models.newVersion', { v: j.version }) : null,
      ]
        .filter(Boolean)
        .join(' · '),
    ),
    err ? h('p', { class: 'error-text', role: 'alert' }, t('models.trainingFailed', { msg: err })) : null,
  );
}

/** Starts a training run (one already running is a 409: the page just follows it) and polls it. */
async function startTraining(lp) {
  const { ctx, retrain } = lp;
  retrain.disabled = true;
  try {
    await api('/api/models', { method: 'POST', body: {} });
    ctx.notify(t('models.trainingStarted'));
  } catch (err) {
    if (err.status === 401) return;
    if (err.status === 409) ctx.notify(t('models.trainingBusy'), 'warn');
    else {
      ctx.notify(ctx.errorText(err), 'error');
      retrain.disabled = false;
      return;
    }
  }
  clearTimeout(lp.timer);
  poll(lp, true);
}

async function compare(ctx) {
  const a = ctx.query.get('a');
  const b = ctx.query.get('b');
  if (!a || !b) {
    ctx.navigate('#/models');
    return;
  }
  const waiting = h('div', { class: 'panel' }, h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), t('models.evaluating')));
  replace(ctx.root, h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('a', { href: '#/models', class: 'back' }, `← ${t('nav.models')}`), h('h1', null, t('models.compareTitle'))), waiting));
  const [tax, res] = await Promise.all([taxonomy(), api('/api/models/compare', { query: { a, b } })]);
  if (!ctx.isCurrent()) return;
  const evA = isObj(res?.a) ? res.a : {};
  const evB = isObj(res?.b) ? res.b : {};
  const heads = [...new Set([...reportsOf(evA), ...reportsOf(evB)].map((x) => x.name))];
  const head = heads.includes(ctx.query.get('head')) ? ctx.query.get('head') : heads.includes('topic') ? 'topic' : heads[0];
  const sides = [
    { key: 'a', version: evA.version ?? a, ev: evA },
    { key: 'b', version: evB.version ?? b, ev: evB },
  ].map((s) => {
    const report = reportsOf(s.ev).find((x) => x.name === head)?.report;
    const cm = confusionChart(ctx, head, report, tax, s.key);
    return {
      cm,
      panel: h(
        'section',
        { class: 'panel compare-col', 'aria-labelledby': `side-${s.key}`, 'data-side': s.key },
        h('h2', { id: `side-${s.key}` }, h('span', { class: 'badge badge-muted' }, s.key.toUpperCase()), h('span', { class: 'mono' }, s.version)),
        h('h3', null, `${t('models.confusion')} · ${tOr(`models.head.${head}`, head)}`),
        cm.el,
        h('h3', null, t('models.perClass')),
        perClassTable(head, report, tax),
      ),
    };
  });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h(
        'div',
        { class: 'page-head' },
        h('a', { href: '#/models', class: 'back' }, `← ${t('nav.models')}`),
        h('h1', null, t('models.compareTitle')),
        h('p', { class: 'muted' }, t('models.compareIntro')),
      ),
      heads.length > 1
        ? h(
            'nav',
            { class: 'tabs', 'aria-label': t('models.head.label') },
            heads.map((hn) => h('a', { href: `#/models/compare?${new URLSearchParams({ a, b, head: hn }).toString()}`, class: hn === head ? 'active' : null, 'aria-current': hn === head ? 'page' : null }, tOr(`models.head.${hn}`, hn))),
          )
        : null,
      h('section', { class: 'panel' }, h('h2', null, t('models.metrics')), h('div', { class: 'table-wrap' }, figuresTable([evA, evB], [`A ${evA.version ?? a}`, `B ${evB.version ?? b}`]))),
      h('div', { class: 'compare-grid' }, sides.map((s) => s.panel)),
    ),
  );
  await Promise.all(sides.map((s) => s.cm.draw()));
}

async function detail(ctx, version) {
  const [tax, m] = await Promise.all([taxonomy(), api(`/api/models/${encodeURIComponent(version)}`)]);
  if (!ctx.isCurrent()) return;
  ctx.setTitle(version);
  const metrics = isObj(m.metrics) ? m.metrics : {};
  const evaluation = isObj(metrics.evaluation) ? metrics.evaluation : {};
  const candidate = isObj(evaluation.candidate) ? evaluation.candidate : null;
  const then = isObj(evaluation.active) ? evaluation.active : null;
  const prov = isObj(m.provenance) ? m.provenance : null;
  const facts = [
    ['createdAt', f.dateTime(m.createdAt)],
    ['trainedBy', m.trainedBy ?? '—'],
    ['state', m.active ? t('models.active') : t('models.inactive')],
    ['activatedAt', m.activatedAt ? t('models.activatedBy', { by: m.activatedBy ?? '—', at: f.dateTime(m.activatedAt) }) : '—'],
    ['taxonomyVersion', m.taxonomyVersion ?? '—'],
    ['seed', m.seed ?? '—'],
    ['trainingDataHash', m.trainingDataHash ?? '—'],
  ];
  if (prov) {
    facts.push(['data', t('models.provLine', { corpus: f.num(prov.corpusRows), corrections: f.num(prov.corrections), skipped: f.num(prov.correctionsSkipped ?? 0), replaced: f.num(prov.replacedCorpusRows ?? 0), rows: f.num(prov.trainingRows) })]);
  }
  const heads = isObj(metrics.heads) ? Object.entries(metrics.heads).filter(([, v]) => isObj(v)) : [];
  const reports = candidate ? reportsOf(candidate) : [];
  const charts = reports.map((r) => ({ ...r, cm: confusionChart(ctx, r.name, r.report, tax, r.name) }));
  replace(
    ctx.root,
    h(
      'article',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('a', { href: '#/models', class: 'back' }, `← ${t('nav.models')}`), h('h1', null, h('span', { class: 'mono' }, m.version ?? version), m.active ? h('span', { class: 'badge badge-ok' }, t('models.active')) : null)),
      h('section', { class: 'panel' }, h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, t(`models.${k}`)), h('dd', { class: k === 'trainingDataHash' ? 'mono small break' : null }, String(v))]))),
      candidate
        ? h(
            'section',
            { class: 'panel' },
            h('h2', null, t('models.evaluation')),
            h('p', { class: 'muted small' }, then ? t('models.evaluationIntro', { v: then.version ?? '—' }) : evaluation.activeError ? t('models.evaluationNoActive', { msg: evaluation.activeError }) : ''),
            h('div', { class: 'table-wrap' }, figuresTable(then ? [then, candidate] : [candidate], then ? [then.version ?? '—', candidate.version ?? version] : [candidate.version ?? version])),
          )
        : null,
      heads.length
        ? h(
            'section',
            { class: 'panel' },
            h('h2', null, t('models.cv')),
            h('p', { class: 'muted small' }, t('models.cvIntro')),
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'table compact' },
                h('thead', null, h('tr', null, ['head', 'cvRows', 'cvKeyword', 'cvSvm', 'cvEnsemble', 'coverage', 'precisionAtThreshold'].map((k) => h('th', { scope: 'col', class: k === 'head' ? null : 'num' }, t(`models.${k}`))))),
                h(
                  'tbody',
                  null,
                  heads.map(([name, x]) =>
                    h(
                      'tr',
                      null,
                      h('th', { scope: 'row' }, tOr(`models.head.${name}`, name)),
                      h('td', { class: 'num' }, f.num(x.rows)),
                      h('td', { class: 'num' }, f.pct(x.cvAccuracyKeyword)),
                      h('td', { class: 'num' }, f.pct(x.cvAccuracySvm)),
                      h('td', { class: 'num' }, f.pct(x.cvAccuracyEnsemble)),
                      h('td', { class: 'num' }, f.pct(x.coverage)),
                      h('td', { class: 'num' }, f.pct(x.precisionAtThreshold)),
                    ),
                  ),
                ),
              ),
            ),
          )
        : null,
      charts.map((c) =>
        h(
          'section',
          { class: 'panel' },
          h('h2', null, tOr(`models.head.${c.name}`, c.name)),
          h('div', { class: 'two-col' }, h('div', null, h('h3', null, t('models.confusion')), c.cm.el), h('div', null, h('h3', null, t('models.perClass')), perClassTable(c.name, c.report, tax))),
        ),
      ),
    ),
  );
  await Promise.all(charts.map((c) => c.cm.draw()));
}
