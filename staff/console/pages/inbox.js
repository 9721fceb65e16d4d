/**
 * Ticket inbox and review queue (#/inbox, #/review): filters kept in the hash's query (so back and
 * forward work and a view can be shared), a table that becomes cards on narrow screens, pagination.
 * The review queue is the inbox sorted with `sort=review` (needsReview first, then newest).
 */
import { api, taxonomy } from '../api.js';
import { field, h, replace, select } from '../dom.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

const FILTERS = ['status', 'topic', 'type', 'channelId', 'needsReview', 'spam', 'assignee', 'from', 'to', 'search', 'sort', 'pageSize'];
const SORTS = ['-createdAt', 'createdAt', 'review', '-priority', 'priority', 'confidence', '-confidence'];
const STATUSES = ['new', 'in_progress', 'resolved', 'closed', 'reopened'];
const CHANNELS = ['webchat', 'directline', 'msteams', 'emulator', 'slack', 'telegram', 'wechat', 'email', 'sms'];
export const LIST_KEY = 'demand-desk.console.lastList';

export async function render(ctx) {
  const review = ctx.name === 'review';
  const base = review ? '#/review' : '#/inbox';
  const q = Object.fromEntries([...ctx.query.entries()].filter(([k, v]) => (FILTERS.includes(k) || k === 'page') && v !== ''));
  if (review && !q.sort) q.sort = 'review';
  const page = Math.max(1, Number(q.page) || 1);
  const pageSize = [10, 20, 50, 100].includes(Number(q.pageSize)) ? Number(q.pageSize) : 20;
  sessionStorage.setItem(LIST_KEY, location.hash || base);
  ctx.setTitle(t(review ? 'nav.review' : 'nav.inbox'));

  const tax = await taxonomy();
  const go = (params) => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== undefined && v !== null) s.set(k, String(v));
    if (review && s.get('sort') === 'review') s.delete('sort');
    const qs = s.toString();
    ctx.navigate(`${base}${qs ? `?${qs}` : ''}`);
  };

  // Filter form.
  const any = { value: '', label: t('filter.any') };
  const yesNo = [any, { value: 'true', label: t('common.yes') }, { value: 'false', label: t('common.no') }];
  const c = {
    status: select({ name: 'status' }, [any, ...STATUSES.map((s) => ({ value: s, label: f.statusName(s) }))], q.status),
    topic: select({ name: 'topic' }, [any, ...(tax.topics ?? []).map((x) => ({ value: x.id, label: f.topicName(tax, x.id) }))], q.topic),
    type: select({ name: 'type' }, [any, ...(tax.types ?? []).map((x) => ({ value: x.id, label: f.typeName(tax, x.id) }))], q.type),
    channelId: h('input', { name: 'channelId', type: 'text', list: 'channel-options', value: q.channelId ?? '', maxlength: 40, autocomplete: 'off' }),
    needsReview: select({ name: 'needsReview' }, yesNo, q.needsReview),
    spam: select({ name: 'spam' }, yesNo, q.spam),
    assignee: h('input', { name: 'assignee', type: 'text', value: q.assignee ?? '', maxlength: 64, autocomplete: 'off' }),
    from: h('input', { name: 'from', type: 'date', value: q.from ?? '' }),
    to: h('input', { name: 'to', type: 'date', value: q.to ?? '' }),
    search: h('input', { name: 'search', type: 'search', value: q.search ?? '', maxlength: 100, placeholder: t('filter.searchHint') }),
    sort: select({ name: 'sort' }, SORTS.map((s) => ({ value: s, label: t(`sort.${s}`) })), q.sort ?? '-createdAt'),
    pageSize: select({ name: 'pageSize' }, [10, 20, 50, 100].map((n) => ({ value: n, label: String(n) })), pageSize),
  };
  const values = () => Object.fromEntries(Object.entries(c).map(([k, el]) => [k, el.value.trim()]));
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
      h('button', { type: 'button', class: 'btn btn-ghost', onclick: () => go({ ...values(), assignee: ctx.user.username }) }, t('filter.mine')),
    ),
  );

  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t(review ? 'nav.review' : 'nav.inbox')), h('p', { class: 'muted' }, t(review ? 'inbox.reviewIntro' : 'inbox.intro'))),
      h('details', { class: 'panel filter-panel', open: !window.matchMedia('(max-width: 760px)').matches || Object.keys(q).some((k) => k !== 'sort' && k !== 'page') }, h('summary', null, t('filter.title')), form),
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
    return;
  }
  const cols = ['number', 'createdAt', 'customer', 'channel', 'topic', 'type', 'confidence', 'status', 'priority', 'assignee'];
  const table = h(
    'table',
    { class: 'table tickets' },
    h('caption', { class: 'sr-only' }, t(review ? 'nav.review' : 'nav.inbox')),
    h('thead', null, h('tr', null, cols.map((k) => h('th', { scope: 'col' }, t(`ticket.${k}`))))),
    h(
      'tbody',
      null,
      items.map((tk) =>
        h(
          'tr',
          { class: [tk.needsReview && 'needs-review'], 'data-number': tk.number },
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
          h('td', { 'data-label': t('ticket.assignee') }, tk.assignee ?? '—'),
        ),
      ),
    ),
  );
  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': t('pager.label') },
    h('button', { type: 'button', class: 'btn', disabled: page <= 1, 'data-action': 'prev', onclick: () => go({ ...q, page: page - 1 }) }, t('pager.prev')),
    h('span', { class: 'pager-info' }, t('pager.info', { page, pages, total })),
    h('button', { type: 'button', class: 'btn', disabled: page >= pages, 'data-action': 'next', onclick: () => go({ ...q, page: page + 1 }) }, t('pager.next')),
  );
  replace(results, h('p', { class: 'muted result-count' }, t('inbox.count', { total })), h('div', { class: 'table-wrap' }, table), pager);
}
