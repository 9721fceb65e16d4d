/**
 * Dashboard (#/dashboard?from&to&granularity): key figures and ECharts charts from GET /api/stats —
 * tickets per day or week by topic (stacked), topic × type matrix (heatmap), channel mix (pie),
 * status mix, emerging keywords (bar and table), review rate and median response/resolution times,
 * customer satisfaction (the average rating, and by topic, agent, channel and week).
 */
import { api, taxonomy } from '../api.js';
import { chart } from '../charts.js';
import { field, h, replace } from '../dom.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

const DAY = 86_400_000;

/** Every day from..to (inclusive) as YYYY-MM-DD (at most 400). */
function days(from, to) {
  const out = [];
  const a = new Date(`${from}T00:00:00Z`).getTime();
  const b = new Date(`${to}T00:00:00Z`).getTime();
  if (!Number.isFinite(a) || !Number.isFinite(b)) return out;
  for (let d = a; d <= b && out.length < 400; d += DAY) out.push(new Date(d).toISOString().slice(0, 10));
  return out;
}

/** A YYYY-MM-DD date, or undefined for anything else. */
const day = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v ?? '') ? v : undefined);

/** Renders the dashboard: the range form at once, then the figures and charts of GET /api/stats. */
export async function render(ctx) {
  // Without a range in the address, the server's default applies (the last days up to today in the
  // service's time zone, which may differ from the browser's); the inputs then show what it used.
  const from = day(ctx.query.get('from'));
  const to = day(ctx.query.get('to'));
  const granularity = ctx.query.get('granularity') === 'week' ? 'week' : 'day';
  const { form, fromIn, toIn } = rangeForm(ctx, from, to, granularity);

  const body = h('div', { class: 'dash-body', 'aria-busy': 'true' });
  replace(ctx.root, h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', null, t('nav.dashboard')), h('p', { class: 'muted' }, t('dash.intro'))), h('div', { class: 'panel' }, form), body));

  const [tax, stats] = await Promise.all([taxonomy(), api('/api/stats', { query: { from, to, granularity } })]);
  if (!ctx.isCurrent()) return;
  if (!fromIn.value && day(stats?.from)) fromIn.value = stats.from;
  if (!toIn.value && day(stats?.to)) toIn.value = stats.to;
  body.setAttribute('aria-busy', 'false');

  const emerging = Array.isArray(stats?.emerging) ? stats.emerging : [];
  const charts = {
    topic: chartBox('topic', t(granularity === 'week' ? 'dash.perWeekByTopic' : 'dash.perDayByTopic')),
    matrix: chartBox('matrix', t('dash.matrix')),
    channel: chartBox('channel', t('dash.channels')),
    status: chartBox('status', t('dash.statuses')),
    emerging: emergingBox(emerging),
    satisfaction: { el: null, panel: satisfactionPanel(tax, stats?.satisfaction) },
  };
  replace(body, kpiRow(stats), h('div', { class: 'chart-grid' }, Object.values(charts).map((c) => c.panel)));

  const pending = [
    topicChart(ctx, tax, stats, charts.topic.el, { from, to, granularity }),
    matrixChart(ctx, tax, stats, charts.matrix.el),
    channelChart(ctx, stats, charts.channel.el),
    statusChart(ctx, stats, charts.status.el),
  ];
  if (charts.emerging.el) pending.push(emergingChart(ctx, emerging, charts.emerging.el));
  await Promise.all(pending);
}

/** The range form (from, to, day or week); submitting it, or switching the granularity, navigates. */
function rangeForm(ctx, from, to, granularity) {
  const fromIn = h('input', { type: 'date', name: 'from', value: from ?? '' });
  const toIn = h('input', { type: 'date', name: 'to', value: to ?? '' });
  const gran = h(
    'fieldset',
    { class: 'segmented' },
    h('legend', null, t('dash.granularity')),
    ['day', 'week'].map((g) => h('label', null, h('input', { type: 'radio', name: 'granularity', value: g, checked: g === granularity }), h('span', null, t(`dash.${g}`)))),
  );
  const go = (p) => ctx.navigate(`#/dashboard?${new URLSearchParams(p).toString()}`);
  const form = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': t('dash.range'),
      onsubmit: (e) => {
        e.preventDefault();
        const p = { granularity: gran.querySelector('input:checked')?.value ?? 'day' };
        if (fromIn.value) p.from = fromIn.value;
        if (toIn.value) p.to = toIn.value;
        go(p);
      },
      onchange: (e) => {
        if (e.target.name === 'granularity') form.requestSubmit();
      },
    },
    field(t('filter.from'), fromIn),
    field(t('filter.to'), toIn),
    gran,
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('dash.update')),
  );
  return { form, fromIn, toIn };
}

/** The key figures: tickets, review rate, spam, corrected, and the median response and resolution times. */
function kpiRow(stats) {
  const totals = stats?.totals ?? {};
  const medians = stats?.medians ?? {};
  const kpi = (key, value, sub) => h('div', { class: 'kpi', 'data-kpi': key }, h('span', { class: 'kpi-label' }, t(`dash.kpi.${key}`)), h('strong', { class: 'kpi-value' }, value), sub ? h('small', { class: 'muted' }, sub) : null);
  const reviewRate = Number.isFinite(totals.reviewRate) ? totals.reviewRate : totals.tickets ? (totals.needsReview ?? 0) / totals.tickets : NaN;
  return h(
    'div',
    { class: 'kpis' },
    kpi('tickets', f.num(totals.tickets ?? 0)),
    kpi('reviewRate', f.pct(reviewRate), t('dash.kpi.reviewSub', { n: f.num(totals.needsReview ?? 0) })),
    kpi('spam', f.num(totals.spam ?? 0)),
    kpi('corrected', f.num(totals.corrected ?? 0)),
    kpi('firstResponse', f.minutes(medians.firstResponseMinutes), t('dash.kpi.basedOn', { n: f.num(medians.firstResponseCount ?? 0) })),
    kpi('resolution', f.minutes(medians.resolutionMinutes), t('dash.kpi.basedOn', { n: f.num(medians.resolutionCount ?? 0) })),
    kpi('satisfaction', rating(stats?.satisfaction?.average), t('dash.kpi.ratings', { n: f.num(stats?.satisfaction?.count ?? 0) })),
  );
}

/** An average 1–5 rating as "4.2 / 5", or — without ratings. */
const rating = (v) => (Number.isFinite(v) ? `${f.num(v, 1)} / 5` : '—');

/**
 * Customer satisfaction (GET /api/stats → satisfaction): ratings and their average by topic, agent,
 * channel and week, one table; the README promised them on the dashboard, where only the API had them.
 */
function satisfactionPanel(tax, sat) {
  const groups = [
    ['byTopic', (k) => (k === null ? t('common.unclassified') : f.topicName(tax, k))],
    ['byAgent', (k) => (k === null ? t('ticket.unassigned') : k)],
    ['byChannel', (k) => f.channelName(k)],
    ['byWeek', (k) => String(k)],
  ];
  const rows = groups.flatMap(([group, label]) =>
    (Array.isArray(sat?.[group]) ? sat[group] : []).map((r) =>
      h(
        'tr',
        { 'data-group': group },
        h('td', { 'data-label': t('dash.sat.group') }, t(`dash.sat.${group}`)),
        h('td', { 'data-label': t('dash.sat.key') }, label(r.key ?? null)),
        h('td', { class: 'num', 'data-label': t('dash.sat.count') }, f.num(r.count ?? 0)),
        h('td', { class: 'num', 'data-label': t('dash.sat.average') }, rating(r.average)),
      ),
    ),
  );
  const body = rows.length
    ? h(
        'table',
        { class: 'table compact', 'data-testid': 'satisfaction' },
        h('thead', null, h('tr', null, ['group', 'key', 'count', 'average'].map((k) => h('th', { scope: 'col', class: k === 'count' || k === 'average' ? 'num' : null }, t(`dash.sat.${k}`))))),
        h('tbody', null, rows),
      )
    : h('p', { class: 'muted', 'data-testid': 'satisfaction' }, t('dash.sat.none'));
  return h('section', { class: 'panel chart-panel chart-satisfaction', 'aria-labelledby': 'chart-satisfaction-title' }, h('h2', { id: 'chart-satisfaction-title' }, t('dash.sat.title')), body);
}

/** A chart's panel: its title, the element the chart draws in (`el`), and anything below it. */
function chartBox(key, title, extra) {
  const el = h('div', { class: 'chart', 'data-chart': key, role: 'img', 'aria-label': title });
  return { el, panel: h('section', { class: ['panel', 'chart-panel', `chart-${key}`], 'aria-labelledby': `chart-${key}-title` }, h('h2', { id: `chart-${key}-title` }, title), el, extra ?? null) };
}

/** The emerging keywords' panel: chart and table, or (with none) the panel's title and a note, no chart. */
function emergingBox(emerging) {
  const emergingTable = emerging.length
    ? h(
        'table',
        { class: 'table compact' },
        h('thead', null, h('tr', null, ['term', 'thisWeek', 'before', 'growth'].map((k) => h('th', { scope: 'col', class: k === 'term' ? null : 'num' }, t(`dash.emerging.${k}`))))),
        h(
          'tbody',
          null,
          emerging.map((e) =>
            h('tr', null, h('td', { 'data-label': t('dash.emerging.term') }, e.term), h('td', { class: 'num', 'data-label': t('dash.emerging.thisWeek') }, f.num(e.thisWeek)), h('td', { class: 'num', 'data-label': t('dash.emerging.before') }, f.num(e.weeklyAverageBefore, 1)), h('td', { class: 'num', 'data-label': t('dash.emerging.growth') }, Number.isFinite(e.growth) ? `×${f.num(e.growth, 1)}` : '—')),
          ),
        ),
      )
    : h('p', { class: 'muted' }, t('dash.emerging.none'));
  return emerging.length ? chartBox('emerging', t('dash.emerging.title'), emergingTable) : { el: null, panel: h('section', { class: 'panel chart-panel chart-emerging', 'aria-labelledby': 'chart-emerging-title' }, h('h2', { id: 'chart-emerging-title' }, t('dash.emerging.title')), emergingTable) };
}

/** Tickets per period by topic, stacked; by day every day of the range has its bar, empty or not. */
function topicChart(ctx, tax, stats, el, { from, to, granularity }) {
  const topicSeries = Array.isArray(stats?.series?.topic) ? stats.series.topic : [];
  const periods = granularity === 'day' && topicSeries.every((r) => /^\d{4}-\d{2}-\d{2}$/.test(r.period)) ? days(stats?.from ?? from ?? '', stats?.to ?? to ?? '') : [...new Set(topicSeries.map((r) => String(r.period)))].sort();
  const keys = [...new Set(topicSeries.map((r) => r.key ?? null))];
  const count = new Map(topicSeries.map((r) => [`${r.period}|${r.key ?? null}`, Number(r.count) || 0]));
  const label = (k) => (k === null ? t('common.unclassified') : f.topicName(tax, k));
  return chart(
    el,
    {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { type: 'scroll', bottom: 0 },
      grid: { left: 16, right: 20, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: 'category', data: periods, axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', minInterval: 1 },
      series: keys.map((k) => ({ name: label(k), type: 'bar', stack: 'topic', barMaxWidth: 36, emphasis: { focus: 'series' }, data: periods.map((p) => count.get(`${p}|${k}`) ?? 0) })),
    },
    ctx.onCleanup,
  );
}

/** Topic × type heatmap: the taxonomy's topics and types, then any others the figures name. */
function matrixChart(ctx, tax, stats, el) {
  const matrix = Array.isArray(stats?.matrix) ? stats.matrix : [];
  const topics = (tax.topics ?? []).map((x) => x.id);
  const types = (tax.types ?? []).map((x) => x.id);
  for (const m of matrix) {
    if (m.topic && !topics.includes(m.topic)) topics.push(m.topic);
    if (m.type && !types.includes(m.type)) types.push(m.type);
  }
  const cell = new Map(matrix.map((m) => [`${m.topic}|${m.type}`, Number(m.count) || 0]));
  let max = 0;
  const heat = [];
  types.forEach((ty, i) =>
    topics.forEach((to2, j) => {
      const v = cell.get(`${to2}|${ty}`) ?? 0;
      max = Math.max(max, v);
      heat.push([j, i, v]);
    }),
  );
  return chart(
    el,
    {
      tooltip: { position: 'top', formatter: (p) => `${f.topicName(tax, topics[p.value[0]])} · ${f.typeName(tax, types[p.value[1]])}: ${p.value[2]}` },
      grid: { left: 8, right: 16, top: 8, bottom: 64, containLabel: true },
      xAxis: { type: 'category', data: topics.map((x) => f.topicName(tax, x)), axisLabel: { rotate: 40, interval: 0 }, splitArea: { show: true } },
      yAxis: { type: 'category', data: types.map((x) => f.typeName(tax, x)), splitArea: { show: true } },
      visualMap: { min: 0, max: Math.max(1, max), orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120, inRange: { color: ['#f4f7fb', '#9cc1e6', '#2f6fb5', '#173c66'] } },
      series: [{ type: 'heatmap', data: heat, label: { show: true, fontSize: 10, formatter: (p) => (p.value[2] ? String(p.value[2]) : '') } }],
    },
    ctx.onCleanup,
  );
}

/** A series' counts summed per key, largest first: [[key, count]]. */
function sumBy(rows) {
  const m = new Map();
  for (const r of Array.isArray(rows) ? rows : []) m.set(r.key ?? null, (m.get(r.key ?? null) ?? 0) + (Number(r.count) || 0));
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

/** Channel mix (pie). */
function channelChart(ctx, stats, el) {
  const channels = sumBy(stats?.series?.channel);
  return chart(
    el,
    {
      tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
      legend: { type: 'scroll', bottom: 0 },
      series: [{ type: 'pie', radius: ['38%', '68%'], center: ['50%', '45%'], avoidLabelOverlap: true, label: { formatter: '{b}\n{d}%' }, data: channels.map(([k, v]) => ({ name: f.channelName(k), value: v })) }],
    },
    ctx.onCleanup,
  );
}

/** Status mix (bars), as tall as its statuses need. */
function statusChart(ctx, stats, el) {
  const statuses = sumBy(stats?.series?.status);
  el.style.height = `${Math.max(180, 40 * statuses.length + 40)}px`;
  return chart(
    el,
    {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: statuses.map(([k]) => f.statusName(k)) },
      series: [{ type: 'bar', barMaxWidth: 26, data: statuses.map(([, v]) => v), label: { show: true, position: 'right' }, itemStyle: { color: '#2f6fb5' } }],
    },
    ctx.onCleanup,
  );
}

/** Emerging keywords: the first 15, this week beside the weekly average before. */
function emergingChart(ctx, emerging, el) {
  const top = emerging.slice(0, 15);
  el.style.height = `${Math.max(180, 34 * top.length + 70)}px`;
  return chart(
    el,
    {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 8, bottom: 36, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: top.map((e) => String(e.term)) },
      series: [
        { name: t('dash.emerging.thisWeek'), type: 'bar', barMaxWidth: 14, data: top.map((e) => Number(e.thisWeek) || 0), itemStyle: { color: '#e08a2c' } },
        { name: t('dash.emerging.before'), type: 'bar', barMaxWidth: 14, data: top.map((e) => Number(e.weeklyAverageBefore) || 0), itemStyle: { color: '#9cb3c9' } },
      ],
    },
    ctx.onCleanup,
  );
}
