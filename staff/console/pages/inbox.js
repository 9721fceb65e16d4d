/**
 * Ticket inbox and review queue (#/inbox, #/review): the working-day views (all, assigned to me,
 * unassigned, waiting for the customer, overdue) with their counts, filters kept in the hash's query
 * (so back and forward work and a view can be shared), a table that becomes cards on narrow
 * screens, due times with overdue rows highlighted, bulk actions on the selected tickets, export of
 * the current filter (CSV, Excel) and pagination. The review queue lists only the tickets waiting
 * for review (`view=review`).
 */
import { api, assignees, download, taxonomy } from '../api.js';
import { field, h, replace, select } from '../dom.js';
import * as f from '../format.js';
import { getLang, t } from '../i18n.js';
import { onDeskEvent } from '../events.js';
import { onWorkChange, WORK_EVENTS, workCounts } from '../work.js';

const FILTERS = ['view', 'status', 'topic', 'type', 'channelId', 'needsReview', 'spam', 'assignee', 'from', 'to', 'search', 'sort', 'pageSize'];
const SORTS = ['-createdAt', 'createdAt', 'review', '-priority', 'priority', 'confidence', '-confidence'];
const VIEWS = ['', 'mine', 'unassigned', 'waiting', 'overdue'];
const STATUSES = ['new', 'in_progress', 'resolved', 'closed', 'reopened'];
const CHANNELS = ['webchat', 'directline', 'msteams', 'emulator', 'slack', 'telegram', 'wechat', 'email', 'sms', 'phone', 'walk-in', 'letter', 'other'];
export const LIST_KEY = 'demand-desk.console.lastList';

export async function render(ctx) {
  const review = ctx.name === 'review';
  const base = review ? '#/review' : '#/inbox';
  const q = Object.fromEntries([...ctx.query.entries()].filter(([k, v]) => (FILTERS.includes(k) || k === 'page') && v !== ''));
  // The review queue is the pending tickets only; the view is fixed, not a filter to clear.
  if (review) q.view = 'review';
  const page = Math.max(1, Number(q.page) || 1);
  const pageSize = [10, 20, 50, 100].includes(Number(q.pageSize)) ? Number(q.pageSize) : 20;
  sessionStorage.setItem(LIST_KEY, location.hash || base);
  ctx.setTitle(t(review ? 'nav.review' : 'nav.inbox'));

  const [tax, staff] = await Promise.all([taxonomy(), assignees().catch(() => ({ items: [] }))]);
  const users = (staff?.items ?? []).map((u) => u.username);
  const go = (params) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) s.set(k, String(v));
    if (review) s.delete('view');
    const qs = s.toString();
    ctx.navigate(`${base}${qs ? `?${qs}` : ''}`);
  };

  const form = filterForm({ q, tax, users, review, pageSize, go });
  const tabs = review ? null : viewTabs(ctx, q);
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t(review ? 'nav.review' : 'nav.inbox')), h('p', { class: 'muted' }, t(review ? 'inbox.reviewIntro' : 'inbox.intro'))),
      tabs,
      h('details', { class: 'panel filter-panel', open: !window.matchMedia('(max-width: 760px)').matches || Object.keys(q).some((k) => k !== 'sort' && k !== 'page') }, h('summary', null, t('filter.title')), form),
      exportBar(ctx, q),
      results,
    ),
  );

  let data;
  try {
    data = await api('/api/tickets', { query: { ...q, page, pageSize } });
  } catch (err) {
    if (err.status === 401) throw err;
    results.setAttribute('aria-busy', 'false');
    replace(results, h('p', { class: 'error-text', role: 'alert' }, ctx.errorText(err)));
    return;
  }
  if (!ctx.isCurrent()) return;
  results.setAttribute('aria-busy', 'false');
  const items = Array.isArray(data?.items) ? data.items : [];
  const total = Number(data?.total ?? items.length);
  const pages = Math.max(1, Math.ceil(total / pageSize));

  if (items.length === 0) {
    replace(results, h('p', { class: 'empty' }, t('inbox.empty')));
    ctx.onCleanup(
      onDeskEvent((e) => {
        if (WORK_EVENTS.includes(e.type) && ctx.isCurrent() && !form.contains(document.activeElement)) setTimeout(() => ctx.isCurrent() && ctx.navigate(location.hash), 400);
      }),
    );
    return;
  }
  const selected = new Set();
  const bulk = bulkBar(ctx, users, selected, () => ctx.navigate(location.hash));
  const table = ticketTable({ items, tax, review, selected, onSelect: bulk.update });
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': t('pager.label') },
    h('button', { type: 'button', class: 'btn', disabled: page <= 1, 'data-action': 'prev', onclick: () => go({ ...q, page: page - 1 }) }, t('pager.prev')),
    h('span', { class: 'pager-info' }, t('pager.info', { page, pages, total })),
    h('button', { type: 'button', class: 'btn', disabled: page >= pages, 'data-action': 'next', onclick: () => go({ ...q, page: page + 1 }) }, t('pager.next')),
  );
  replace(results, h('p', { class: 'muted result-count' }, t('inbox.count', { total })), bulk.el, h('div', { class: 'table-wrap' }, table), pager);

  // Live: a new ticket, an assignment or a customer's message redraws the list — unless the agent is
  // in the middle of something here (tickets ticked, typing in the filters).
  let redraw = null;
  ctx.onCleanup(() => clearTimeout(redraw));
  ctx.onCleanup(
    onDeskEvent((e) => {
      if (!WORK_EVENTS.includes(e.type)) return;
      clearTimeout(redraw);
      redraw = setTimeout(() => {
        if (!ctx.isCurrent() || selected.size > 0 || form.contains(document.activeElement)) return;
        ctx.navigate(location.hash);
      }, 400);
    }),
  );
}

/** The filter form, filled from the query; applying it navigates (the hash keeps the filter). */
function filterForm({ q, tax, users, review, pageSize, go }) {
const any = { value: '', label: t('filter.any') };
  const yesNo = [any, { value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }];
  const c = {
    status: select({ name: 'status' }, [any, ...STATUSES.map((s) => ({ value: s, label: f.statusName(s) }))], q.status),
    topic: select({ name: 'topic' }, [any, ...(tax.topics ?? []).map((x) => ({ value: x.id, label: f.topicName(tax, x.id) }))], q.topic),
    type: select({ name: 'type' }, [any, ...(tax.types ?? []).map((x) => ({ value: x.id, label: f.typeName(tax, x.id) }))], q.type),
    channelId: h('input', { name: 'channelId', type: 'text', list: 'channel-options', value: q.channelId ?? '', maxlength: 40, autocomplete: 'off' }),
    needsReview: select({ name: 'needsReview' }, yesNo, q.needsReview),
    spam: select({ name: 'spam' }, yesNo, q.spam),
    assignee: select({ name: 'assignee' }, [any, ...users.map((u) => ({ value: u, label: u })), ...(q.assignee && !users.includes(q.assignee) ? [{ value: q.assignee, label: q.assignee }] : [])], q.assignee),
    from: h('input', { name: 'from', type: 'date', value: q.from ?? '' }),
    to: h('input', { name: 'to', type: 'date', value: q.to ?? '' }),
    search: h('input', { name: 'search', type: 'search', value: q.search ?? '', maxlength: 100, placeholder: t('filter.searchHint') }),
    sort: select({ name: 'sort' }, SORTS.map((s) => ({ value: s, label: t(`sort.${s}`) })), q.sort ?? '-createdAt'),
    pageSize: select({ name: 'pageSize' }, [10, 20, 50, 100].map((n) => ({ value: n, label: String(n) })), pageSize),
  };
  const values = () => ({ view: review ? undefined : q.view, ...Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value.trim()])) });
  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': t('filter.title'),
      onsubmit: (e) => {
        e.preventDefault();
        go(values());
      },
    },
    h('datalist', { id: 'channel-options' }, CHANNELS.map((ch) => h('option', { value: ch }, f.channelName(ch)))),
    h(
      'div',
      { class: 'filter-grid' },
      field(t('filter.search'), c.search),
      field(t('ticket.status'), c.status),
      field(t('ticket.topic'), c.topic),
      field(t('ticket.type'), c.type),
      field(t('ticket.channel'), c.channelId),
      field(t('filter.needsReview'), c.needsReview),
      field(t('filter.spam'), c.spam),
      field(t('ticket.assignee'), c.assignee),
      field(t('filter.from'), c.from),
      field(t('filter.to'), c.to),
      field(t('filter.sort'), c.sort),
      field(t('filter.pageSize'), c.pageSize),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, t('filter.apply')),
      h('button', { type: 'button', class: 'btn', onclick: () => go({}) }, t('filter.reset')),
    ),
  );
  return form;
}

/** The working-day views, each with its count from the server's read model, kept current. */
function viewTabs(ctx, q) {
  const tabs = h(
    'nav',
    { class: 'view-tabs', 'aria-label': t('view.label') },
    VIEWS.map((v) =>
      h(
        'a',
        { href: v ? `#/inbox?view=${v}` : '#/inbox', class: ['view-tab', (q.view ?? '') === v && 'active'], 'aria-current': (q.view ?? '') === v ? 'page' : null, 'data-view': v || 'all' },
        t(`view.${v || 'all'}`),
        v ? h('span', { class: ['count', v === 'overdue' && 'count-error'], 'data-count': v }) : null,
      ),
    ),
  );
  const paintTabs = () => {
    const counts = workCounts();
    if (!counts) return;
    for (const el of tabs.querySelectorAll('[data-count]')) el.textContent = String(counts[el.dataset.count] ?? '');
  };
  paintTabs();
  ctx.onCleanup(onWorkChange(paintTabs));
  return tabs;
}

/** Export of the current filter (every page of it), as the server writes it. */
function exportBar(ctx, q) {
  const exportStatus = h('span', { class: 'muted small', role: 'status', 'data-testid': 'export-status' });
  const exportAs = async (format, button) => {
    button.disabled = true;
    exportStatus.textContent = t('export.working');
    try {
      const { page: _p, pageSize: _s, ...filter } = q;
      const r = await download('/api/tickets/export', { ...filter, format, lang: getLang() });
      exportStatus.textContent = t('export.done', { name: r.name, rows: r.rows });
    } catch (err) {
      exportStatus.textContent = '';
      if (err.status !== 401) ctx.notify(ctx.errorText(err), 'error');
    } finally {
      button.disabled = false;
    }
  };
  const csvBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'export-csv' }, t('export.csv'));
  csvBtn.onclick = () => exportAs('csv', csvBtn);
  const xlsxBtn = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'export-xlsx' }, t('export.xlsx'));
  xlsxBtn.onclick = () => exportAs('xlsx', xlsxBtn);
  return h('div', { class: 'toolbar export-bar' }, h('span', { class: 'muted small' }, t('export.label')), csvBtn, xlsxBtn, exportStatus);
}

/** The tickets as a table (cards on narrow screens), each with a box to select it for bulk actions. */
function ticketTable({ items, tax, review, selected, onSelect }) {
  const cols = ['number', 'createdAt', 'customer', 'channel', 'topic', 'type', 'confidence', 'status', 'priority', 'dueAt', 'assignee'];
  const boxes = [];
  const all = h('input', { type: 'checkbox', 'aria-label': t('bulk.selectAll'), 'data-action': 'select-all' });
  const sync = () => {
    all.checked = selected.size > 0 && selected.size === items.length;
    all.indeterminate = selected.size > 0 && selected.size < items.length;
    onSelect();
  };
  all.onchange = () => {
    for (const b of boxes) {
      b.checked = all.checked;
      if (all.checked) selected.add(b.value);
      else selected.delete(b.value);
    }
    sync();
  };
  const rows = items.map((tk) => {
    const box = h('input', { type: 'checkbox', value: tk.number, 'aria-label': t('bulk.select', { number: tk.number }), 'data-select': tk.number });
    box.onchange = () => {
      if (box.checked) selected.add(tk.number);
      else selected.delete(tk.number);
      sync();
    };
    boxes.push(box);
    return ticketRow(tk, tax, box);
  });
  return h(
    'table',
    { class: 'table tickets' },
    h('caption', { class: 'sr-only' }, t(review ? 'nav.review' : 'nav.inbox')),
    h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'select' }, all), cols.map((k) => h('th', { scope: 'col' }, t(`ticket.${k}`))))),
    h('tbody', null, rows),
  );
}

/** One ticket's row. */
function ticketRow(tk, tax, box) {
  return h(
    'tr',
    { class: [tk.needsReview && 'needs-review', tk.overdue && 'overdue'], 'data-number': tk.number },
    h('td', { class: 'select' }, box),
    h(
      'td',
      { 'data-label': t('ticket.number') },
      h('a', { href: `#/tickets/${encodeURIComponent(tk.number)}`, class: 'ticket-link' }, tk.number),
      tk.needsReview ? h('span', { class: 'badge badge-warn', title: f.reasonName(tk.reviewReason) }, t('ticket.review')) : null,
      tk.spam ? h('span', { class: 'badge badge-muted' }, t('ticket.spam')) : null,
      h('div', { class: 'excerpt' }, f.excerpt(tk.text?.original, 60)),
    ),
    h('td', { 'data-label': t('ticket.createdAt') }, f.dateTime(tk.createdAt)),
    h('td', { 'data-label': t('ticket.customer'), title: tk.customer?.userId ?? '' }, tk.customer?.name || f.excerpt(tk.customer?.userId ?? '—', 16)),
    h('td', { 'data-label': t('ticket.channel'), class: 'nowrap' }, f.channelName(tk.customer?.channelId)),
    h('td', { 'data-label': t('ticket.topic'), class: 'nowrap' }, f.topicName(tax, tk.topic)),
    h('td', { 'data-label': t('ticket.type'), class: 'nowrap' }, f.typeName(tax, tk.type)),
    h('td', { 'data-label': t('ticket.confidence'), class: 'num' }, f.pct(tk.confidence, 0)),
    h('td', { 'data-label': t('ticket.status') }, h('span', { class: ['status', `status-${tk.status}`] }, f.statusName(tk.status))),
    h('td', { 'data-label': t('ticket.priority') }, h('span', { class: ['prio', `prio-${tk.priority}`] }, f.priorityName(tk.priority))),
    h(
      'td',
      { 'data-label': t('ticket.dueAt'), class: 'nowrap' },
      f.dateTime(tk.dueAt),
      tk.overdue ? h('span', { class: 'badge badge-error', 'data-testid': 'overdue' }, t('ticket.overdue')) : null,
      tk.waiting ? h('span', { class: 'badge badge-muted' }, t('ticket.waiting')) : null,
    ),
    h('td', { 'data-label': t('ticket.assignee') }, tk.assignee ?? '—'),
    );
}

/**
 * The bulk action bar: assign to someone (or nobody), move the status, or mark spam / not spam,
 * for the selected tickets in one request; the outcome of each ticket is reported.
 */
function bulkBar(ctx, users, selected, done) {
  const action = select({ name: 'bulk-action', 'aria-label': t('bulk.action'), 'data-testid': 'bulk-action' }, [
    { value: '', label: t('bulk.choose') },
    ...users.map((u) => ({ value: `assign:${u}`, label: t('bulk.assignTo', { user: u }) })),
    { value: 'assign:', label: t('bulk.unassign') },
    ...['in_progress', 'resolved', 'closed'].map((s) => ({ value: `status:${s}`, label: t('bulk.statusTo', { status: f.statusName(s) }) })),
    { value: 'spam:true', label: t('spam.mark') },
    { value: 'spam:false', label: t('spam.unmark') },
  ]);
  const apply = h('button', { type: 'button', class: 'btn btn-primary btn-small', 'data-action': 'bulk-apply', disabled: true }, t('bulk.apply'));
  const info = h('span', { class: 'muted small', 'data-testid': 'bulk-count' });
  const outcome = h('div', { role: 'status', 'data-testid': 'bulk-outcome' });
  const update = () => {
    info.textContent = t('bulk.selected', { n: selected.size });
    apply.disabled = selected.size === 0 || !action.value;
  };
  action.onchange = update;
  apply.onclick = async () => {
    const [kind, value] = action.value.split(/:(.*)/s);
    const body = { numbers: [...selected], action: kind };
    if (kind === 'assign') body.assignee = value || null;
    if (kind === 'status') body.status = value;
    if (kind === 'spam') body.spam = value === 'true';
    apply.disabled = true;
    try {
      const res = await api('/api/tickets/bulk', { method: 'POST', body });
      const failed = (res.results ?? []).filter((r) => !r.ok);
      ctx.notify(t('bulk.done', { ok: res.ok, failed: res.failed }), failed.length ? 'error' : 'info');
      ctx.refreshWork();
      if (failed.length === 0) return done();
      replace(outcome, h('ul', { class: 'error-text small' }, failed.map((r) => h('li', null, `${r.number}: ${r.message}`))));
    } catch (err) {
      if (err.status !== 401) ctx.notify(ctx.errorText(err), 'error');
    } finally {
      update();
    }
  };
  update();
  return { el: h('div', { class: 'toolbar bulk-bar', 'data-testid': 'bulk-bar' }, info, action, apply, outcome), update };
}
