/**
 * The agent's working day in the shell: the counts beside the navigation (tickets waiting for
 * review, the inbox views) and the notifications (assigned to you, a customer replied) with their
 * unread count. Refreshed when a page changes something, on a timer, and by the live-update stream
 * when the server has one.
 */
import { api } from './api.js';
import { h, replace } from './dom.js';
import { onDeskEvent } from './events.js';
import * as f from './format.js';
import { t } from './i18n.js';

let counts = null;
let notes = { items: [], unread: 0 };
const listeners = new Set();

/** The last counts ({review, mine, unassigned, waiting, overdue}), or null before the first load. */
export function workCounts() {
  return counts;
}

/** Calls `fn` whenever the counts or notifications change; returns an unsubscribe function. */
export function onWorkChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Desk events that move tickets between views or bring a notification. */
export const WORK_EVENTS = ['ticket.created', 'ticket.assigned', 'ticket.customerMessage', 'handover.requested'];

let following = null;
let pending = null;
/** While signed in: the counts and notifications follow the live stream (several events, one refresh). */
export function followWork() {
  following ??= onDeskEvent((e) => {
    if (!WORK_EVENTS.includes(e.type)) return;
    clearTimeout(pending);
    pending = setTimeout(() => void refreshWork(), 250);
  });
}

export function stopFollowingWork() {
  following?.();
  following = null;
}

/** Reloads the counts and the notifications (errors leave the last values in place). */
export async function refreshWork() {
  const [c, n] = await Promise.all([api('/api/tickets/counts').catch(() => null), api('/api/notifications').catch(() => null)]);
  if (c) counts = c;
  if (n) notes = n;
  paint();
  for (const fn of listeners) fn();
}

/** A count badge for a navigation entry (empty when zero). */
function badge(n, testid, kind) {
  return n > 0 ? h('span', { class: ['count', kind && `count-${kind}`], 'data-testid': testid }, String(n)) : null;
}

/** Writes the counts into the navigation and the bell; safe to call before the shell exists. */
export function paint() {
  const review = document.querySelector('[data-nav="review"]');
  if (review && counts) {
    review.querySelector('.count')?.remove();
    const b = badge(counts.review, 'review-count', 'warn');
    if (b) {
      b.setAttribute('aria-label', t('work.reviewCount', { n: counts.review }));
      review.appendChild(b);
    }
  }
  const bell = document.querySelector('[data-action="notifications"]');
  if (bell) {
    replace(bell, t('notify.title'), badge(notes.unread, 'unread-count', 'error'));
    bell.setAttribute('aria-label', t('notify.unread', { n: notes.unread }));
  }
  const panel = document.querySelector('[data-testid="notifications"]');
  if (panel && !panel.hidden) fillPanel(panel);
}

function describe(n) {
  if (n.kind === 'assigned') return t('notify.assigned', { by: n.by ?? '—', ticket: n.ticket });
  return n.kind === 'rated' ? t('notify.rated', { ticket: n.ticket }) : t('notify.customerReplied', { ticket: n.ticket });
}

function fillPanel(panel) {
  const readAll = h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'read-all', disabled: notes.unread === 0 }, t('notify.readAll'));
  readAll.onclick = async () => {
    await api('/api/notifications/read', { method: 'POST', body: {} }).catch(() => undefined);
    await refreshWork();
  };
  replace(
    panel,
    h('div', { class: 'notify-head' }, h('strong', null, t('notify.title')), readAll),
    notes.items.length
      ? h(
          'ul',
          { class: 'notify-list' },
          notes.items.slice(0, 30).map((n) =>
            h(
              'li',
              { class: [!n.read && 'unread'] },
              h(
                'a',
                {
                  href: `#/tickets/${encodeURIComponent(n.ticket)}`,
                  onclick: () => {
                    panel.hidden = true;
                    if (!n.read) api('/api/notifications/read', { method: 'POST', body: { ids: [n.id] } }).then(refreshWork, () => undefined);
                  },
                },
                describe(n),
              ),
              h('time', { datetime: n.at, class: 'muted small' }, f.dateTime(n.at)),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('notify.none')),
  );
}

/** The bell button and its panel, for the top bar. */
export function notificationsControl() {
  const panel = h('div', { class: 'notify-panel', 'data-testid': 'notifications', hidden: true, role: 'region', 'aria-label': t('notify.title') });
  const bell = h('button', { type: 'button', class: 'btn btn-ghost bell', 'data-action': 'notifications', 'aria-expanded': 'false' }, t('notify.title'));
  bell.onclick = () => {
    panel.hidden = !panel.hidden;
    bell.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) fillPanel(panel);
  };
  return h('div', { class: 'notify' }, bell, panel);
}
