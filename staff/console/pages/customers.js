/**
 * Customers (#/customers?search&page): list with search and the channel-preference overview (share of
 * customers in each of the five bands per channel, stacked bars); profile (#/customers/{id}):
 * identities, contacts, per-channel share and band, tickets across channels.
 */
import { api, taxonomy } from '../api.js';
import { chart } from '../charts.js';
import { bar, field, h, replace } from '../dom.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

const BAND_COLORS = ['#d9e3ee', '#a9c4e0', '#6f9fcf', '#3a73b0', '#173c66'];

export async function render(ctx) {
  if (ctx.parts[1]) return profile(ctx, ctx.parts[1]);
  return list(ctx);
}

async function list(ctx) {
  const search = ctx.query.get('search') ?? '';
  const page = Math.max(1, Number(ctx.query.get('page')) || 1);
  const pageSize = 20;
  const input = h('input', { type: 'search', name: 'search', value: search, maxlength: 100, placeholder: t('customer.searchHint') });
  const go = (p) => ctx.navigate(`#/customers?${new URLSearchParams(Object.entries(p).filter(([, v]) => v !== '' && v !== undefined)).toString()}`);
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  const prefChart = h('div', { class: 'chart', 'data-chart': 'bands', role: 'img', 'aria-label': t('customer.bandsChart') });
  const prefNote = h('div');
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.customers')), h('p', { class: 'muted' }, t('customer.intro'))),
      h(
        'div',
        { class: 'panel' },
        h(
          'form',
          {
            class: 'toolbar',
            role: 'search',
            onsubmit: (e) => {
              e.preventDefault();
              go({ search: input.value.trim() });
            },
          },
          field(t('filter.search'), input),
          h('button', { type: 'submit', class: 'btn btn-primary' }, t('filter.apply')),
        ),
      ),
      results,
      h('section', { class: 'panel chart-panel', 'aria-labelledby': 'bands-title' }, h('h2', { id: 'bands-title' }, t('customer.bandsChart')), h('p', { class: 'muted small' }, t('customer.bandsIntro')), prefChart, prefNote),
    ),
  );

  const [data, prefs] = await Promise.all([
    api('/api/customers', { query: { search, page, pageSize } }),
    api('/api/customers/channel-preferences').catch((err) => {
      if (err.status === 401) throw err;
      return { error: err };
    }),
  ]);
  if (!ctx.isCurrent()) return;

  const items = Array.isArray(data?.items) ? data.items : [];
  const total = Number(data?.total ?? items.length);
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (!items.length) replace(results, h('p', { class: 'empty' }, t('customer.none')));
  else
    replace(
      results,
      h('p', { class: 'muted result-count' }, t('customer.count', { total })),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table' },
          h('thead', null, h('tr', null, ['name', 'identities', 'contacts', 'tickets', 'lastContactAt'].map((k) => h('th', { scope: 'col' }, t(`customer.${k}`))))),
          h(
            'tbody',
            null,
            items.map((c) =>
              h(
                'tr',
                null,
                h('td', { 'data-label': t('customer.name') }, h('a', { href: `#/customers/${encodeURIComponent(c.id)}` }, c.name || c.identities?.[0]?.userId || c.id)),
                h('td', { 'data-label': t('customer.identities') }, h('span', { class: 'chips' }, channelChips(c.identities))),
                h('td', { 'data-label': t('customer.contacts') }, [...(c.phones ?? []), ...(c.emails ?? [])].join(', ') || '—'),
                h('td', { class: 'num', 'data-label': t('customer.tickets') }, f.num(Array.isArray(c.tickets) ? c.tickets.length : Number(c.tickets ?? 0))),
                h('td', { 'data-label': t('customer.lastContactAt') }, f.dateTime(c.lastContactAt)),
              ),
            ),
          ),
        ),
      ),
      h(
        'nav',
        { class: 'pager', 'aria-label': t('pager.label') },
        h('button', { type: 'button', class: 'btn', disabled: page <= 1, onclick: () => go({ search, page: page - 1 }) }, t('pager.prev')),
        h('span', { class: 'pager-info' }, t('pager.info', { page, pages, total })),
        h('button', { type: 'button', class: 'btn', disabled: page >= pages, onclick: () => go({ search, page: page + 1 }) }, t('pager.next')),
      ),
    );

  if (prefs?.error) {
    replace(prefNote, h('p', { class: 'error-text' }, ctx.errorText(prefs.error)));
    return;
  }
  const bands = Array.isArray(prefs?.bands) && prefs.bands.length ? prefs.bands : [1, 2, 3, 4, 5].map((b) => ({ band: b }));
  const chans = Array.isArray(prefs?.channels) ? prefs.channels : [];
  replace(
    prefNote,
    h(
      'table',
      { class: 'table compact' },
      h('caption', { class: 'sr-only' }, t('customer.bandsChart')),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('ticket.channel')), h('th', { scope: 'col' }, t('customer.customers')), bands.map((b) => h('th', { scope: 'col' }, bandLabel(b))))),
      h(
        'tbody',
        null,
        chans.map((c) =>
          h('tr', null, h('th', { scope: 'row' }, f.channelName(c.channelId)), h('td', { class: 'num' }, f.num(c.customers)), bands.map((_, i) => h('td', { class: 'num' }, f.pct(Number(c.shares?.[i] ?? 0), 0)))),
        ),
      ),
    ),
  );
  await chart(
    prefChart,
    {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => f.pct(v) },
      legend: { bottom: 0 },
      grid: { left: 8, right: 24, top: 8, bottom: 40, containLabel: true },
      xAxis: { type: 'value', max: 1, axisLabel: { formatter: (v) => f.pct(v, 0) } },
      yAxis: { type: 'category', inverse: true, data: chans.map((c) => f.channelName(c.channelId)) },
      series: bands.map((b, i) => ({ name: bandLabel(b), type: 'bar', stack: 'share', itemStyle: { color: BAND_COLORS[i % 5] }, data: chans.map((c) => Number(c.shares?.[i] ?? 0)) })),
    },
    ctx.onCleanup,
  );
}

/** One chip per channel, with the number of identities on it when more than one. */
function channelChips(identities) {
  const by = new Map();
  for (const i of Array.isArray(identities) ? identities : []) by.set(i.channelId, [...(by.get(i.channelId) ?? []), i.userId]);
  return [...by.entries()].map(([ch, ids]) => h('span', { class: 'chip', title: ids.join(', ') }, f.channelName(ch), ids.length > 1 ? h('small', null, `×${ids.length}`) : null));
}

function bandLabel(b) {
  const name = f.bandName(b.band, b.zh || b.en ? { zh: b.zh, en: b.en } : null);
  return b.range ? `${name} (${b.range})` : name;
}

async function profile(ctx, id) {
  const [tax, c] = await Promise.all([taxonomy(), api(`/api/customers/${encodeURIComponent(id)}`)]);
  if (!ctx.isCurrent()) return;
  const title = c.name || c.identities?.[0]?.userId || c.id;
  ctx.setTitle(title);
  const channels = Array.isArray(c.channels) ? c.channels : [];
  const tickets = Array.isArray(c.tickets) ? c.tickets : [];
  const shareChart = h('div', { class: 'chart chart-small', 'data-chart': 'customer-channels', role: 'img', 'aria-label': t('customer.channelShare') });
  replace(
    ctx.root,
    h(
      'article',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('a', { href: '#/customers', class: 'back' }, `← ${t('nav.customers')}`), h('h1', null, title), h('p', { class: 'muted' }, t('customer.summary', { total: c.total ?? tickets.length, first: f.date(c.firstContactAt), last: f.date(c.lastContactAt) }))),
      h(
        'div',
        { class: 'two-col' },
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'ids-title' },
          h('h2', { id: 'ids-title' }, t('customer.identities')),
          h('ul', { class: 'plain' }, (c.identities ?? []).map((i) => h('li', null, h('span', { class: 'chip' }, f.channelName(i.channelId)), ' ', h('span', { class: 'mono small break' }, i.userId)))),
          h('h2', null, t('customer.contacts')),
          h(
            'dl',
            { class: 'facts' },
            h('dt', null, t('customer.phone')),
            h('dd', null, (c.phones ?? []).join(', ') || '—'),
            h('dt', null, t('customer.email')),
            h('dd', { class: 'break' }, (c.emails ?? []).join(', ') || '—'),
          ),
        ),
        h(
          'section',
          { class: 'panel', 'aria-labelledby': 'pref-title' },
          h('h2', { id: 'pref-title' }, t('customer.channelShare')),
          channels.length
            ? h(
                'table',
                { class: 'table compact', 'data-testid': 'channel-preferences' },
                h('thead', null, h('tr', null, ['channel', 'contacts', 'share', 'band'].map((k) => h('th', { scope: 'col' }, t(k === 'channel' ? 'ticket.channel' : `customer.${k}`))))),
                h(
                  'tbody',
                  null,
                  channels.map((ch) =>
                    h(
                      'tr',
                      null,
                      h('td', { 'data-label': t('ticket.channel') }, f.channelName(ch.channelId)),
                      h('td', { class: 'num', 'data-label': t('customer.contacts') }, f.num(ch.contacts)),
                      h('td', { 'data-label': t('customer.share') }, h('span', { class: 'bar-row' }, bar(ch.share, f.channelName(ch.channelId)), h('span', { class: 'num' }, f.pct(ch.share, 0)))),
                      h('td', { 'data-label': t('customer.band') }, h('span', { class: ['band', `band-${ch.band}`] }, f.bandName(ch.band, ch.bandLabel))),
                    ),
                  ),
                ),
              )
            : h('p', { class: 'muted' }, t('common.none')),
          channels.length > 1 ? shareChart : null,
        ),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'ct-title' },
        h('h2', { id: 'ct-title' }, t('customer.ticketsAcross')),
        tickets.length
          ? h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'table' },
                h('thead', null, h('tr', null, ['number', 'createdAt', 'channel', 'topic', 'type', 'status'].map((k) => h('th', { scope: 'col' }, t(`ticket.${k}`))))),
                h(
                  'tbody',
                  null,
                  tickets.map((tk) =>
                    h(
                      'tr',
                      null,
                      h('td', { 'data-label': t('ticket.number') }, h('a', { href: `#/tickets/${encodeURIComponent(tk.number)}` }, tk.number), h('div', { class: 'excerpt' }, f.excerpt(tk.text, 60))),
                      h('td', { 'data-label': t('ticket.createdAt') }, f.dateTime(tk.createdAt)),
                      h('td', { 'data-label': t('ticket.channel') }, f.channelName(tk.channelId)),
                      h('td', { 'data-label': t('ticket.topic') }, f.topicName(tax, tk.topic)),
                      h('td', { 'data-label': t('ticket.type') }, f.typeName(tax, tk.type)),
                      h('td', { 'data-label': t('ticket.status') }, h('span', { class: ['status', `status-${tk.status}`] }, f.statusName(tk.status))),
                    ),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, t('common.none')),
      ),
    ),
  );
  if (channels.length > 1) {
    await chart(
      shareChart,
      {
        tooltip: { trigger: 'item', formatter: (p) => `${p.name}: ${f.pct(p.value / Math.max(1, c.total ?? 1), 0)}` },
        series: [{ type: 'pie', radius: ['35%', '65%'], data: channels.map((ch) => ({ name: f.channelName(ch.channelId), value: Number(ch.contacts) || 0 })) }],
      },
      ctx.onCleanup,
    );
  }
}

