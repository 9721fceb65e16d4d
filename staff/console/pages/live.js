/**
 * Live conversations (#/live, #/live/{id}): the queue of customers waiting for a person and the
 * conversations agents are having, and the chat with the selected one. Driven by the desk's event
 * stream (../events.js): a new request, a take, a message or an ending shows without reloading.
 *
 * Taking is first come, first served: when two agents click at once, the server lets exactly one
 * take it and the other sees that someone else did.
 */
import { api, newRequestId } from '../api.js';
import { h, replace } from '../dom.js';
import { onDeskEvent, onStreamStatus } from '../events.js';
import * as f from '../format.js';
import { getLang, t } from '../i18n.js';
import { settleButtons } from './reply-settle.js';

const LIVE_EVENTS = new Set(['handover.requested', 'handover.taken', 'handover.ended', 'live.message']);

/**
 * Renders the page. `lv` is what its parts share: the selected conversation's id, the queue as last
 * loaded, the selected conversation (`current`) with its transcript, and the two boxes they draw in.
 */
export async function render(ctx) {
  ctx.setTitle(t('nav.live'));
  const lv = {
    ctx,
    selected: ctx.parts[1] ?? null,
    queueBox: h('div', { class: 'live-queue', 'aria-live': 'polite', 'data-testid': 'live-queue' }),
    chatBox: h('div', { class: 'live-chat panel', 'data-testid': 'live-chat' }),
    queue: [],
    lastQueue: null,
    transcript: [],
    current: null,
  };
  const streamState = h('span', { class: 'badge badge-muted live-stream', 'data-testid': 'live-stream' });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.live'), ' ', streamState), h('p', { class: 'muted' }, t('live.intro'))),
      h('div', { class: 'live-layout' }, h('div', { class: 'panel' }, h('h2', null, t('live.queue')), lv.queueBox), lv.chatBox),
    ),
  );
  ctx.onCleanup(onStreamStatus((s) => (streamState.textContent = t(`live.stream.${s}`))));
  ctx.onCleanup(onDeskEvent((e) => onLiveEvent(lv, e)));
  // Waiting times move on.
  const tick = setInterval(() => lv.queue.length && drawQueue(lv, lv.lastQueue), 5000);
  ctx.onCleanup(() => clearInterval(tick));
  await Promise.all([loadQueue(lv), loadChat(lv)]);
}

/** A desk event: a message in the open chat is appended; anything else reloads the queue (and the chat it concerns). */
function onLiveEvent(lv, e) {
  if (!lv.ctx.isCurrent() || !LIVE_EVENTS.has(e.type)) return;
  if (e.type === 'live.message' && e.handoverId === lv.selected && lv.current) {
    lv.transcript.push({ from: e.from, by: e.by, text: e.text, at: e.at, delivered: e.delivered });
    drawChat(lv);
    return;
  }
  if (e.type !== 'live.message') void loadQueue(lv).catch(() => undefined);
  if (e.handoverId === lv.selected && e.type !== 'live.message') void loadChat(lv).catch(() => undefined);
}

async function loadQueue(lv) {
  const data = await api('/api/live');
  if (!lv.ctx.isCurrent()) return;
  lv.queue = data.items ?? [];
  lv.lastQueue = data;
  drawQueue(lv, data);
}

/** Loads the selected conversation; one that has ended (404) says so instead of a chat. */
async function loadChat(lv) {
  const { ctx, selected, chatBox } = lv;
  if (!selected) {
    replace(chatBox, h('p', { class: 'empty' }, t('live.pick')));
    return;
  }
  try {
    const data = await api(`/api/live/${encodeURIComponent(selected)}`);
    if (!ctx.isCurrent()) return;
    lv.current = data.handover;
    lv.transcript = data.transcript ?? [];
  } catch (err) {
    if (err.status === 401) throw err;
    lv.current = null;
    replace(chatBox, h('p', { class: 'empty', 'data-testid': 'live-ended' }, err.status === 404 ? t('live.endedGone') : ctx.errorText(err)));
    return;
  }
  drawChat(lv);
}

/**
 * The service hours in the reader's language, as the bot says them to customers (the API says them
 * in each console language); as written when a server without them answers.
 */
function hoursText(data) {
  return data.serviceHoursSaid?.[getLang()] ?? data.serviceHours ?? '';
}

/** The queue: a closed-hours banner, then the waiting conversations and the live ones. */
function drawQueue(lv, data) {
  const waiting = lv.queue.filter((x) => x.state === 'waiting');
  const live = lv.queue.filter((x) => x.state === 'live');
  const row = (x) => queueItem(lv, x);
  replace(
    lv.queueBox,
    data && data.staffed === false ? h('p', { class: 'banner banner-warn' }, t('live.closed', { hours: hoursText(data) })) : null,
    h('h3', null, t('live.waitingCount', { n: waiting.length })),
    waiting.length ? h('ul', { class: 'live-list', 'data-testid': 'live-waiting' }, waiting.map(row)) : h('p', { class: 'empty' }, t('live.noneWaiting')),
    h('h3', null, t('live.liveCount', { n: live.length })),
    live.length ? h('ul', { class: 'live-list', 'data-testid': 'live-live' }, live.map(row)) : h('p', { class: 'empty' }, t('live.noneLive')),
  );
}

/** One conversation in the queue: ticket, state, reason, excerpt, how long it waits (or who has it), and Take. */
function queueItem(lv, x) {
  return h(
    'li',
    { class: ['live-item', x.id === lv.selected && 'active', `live-${x.state}`], 'data-id': x.id, 'data-state': x.state },
    h(
      'a',
      { href: `#/live/${encodeURIComponent(x.id)}` },
      h('strong', null, x.ticketNumber),
      ' ',
      h('span', { class: ['badge', x.state === 'waiting' ? 'badge-warn' : 'badge-ok'] }, t(`live.state.${x.state}`)),
      ' ',
      h('span', { class: 'badge badge-muted' }, t(`live.reason.${x.reason}`)),
      h('div', { class: 'excerpt' }, f.excerpt(x.text, 60)),
      h(
        'small',
        { class: 'muted' },
        f.channelName(x.customer?.channelId),
        ' · ',
        x.state === 'waiting' ? t('live.waiting', { s: Math.max(0, Math.round((Date.now() - Date.parse(x.requestedAt)) / 1000)) }) : t('live.with', { name: x.takenBy }),
      ),
    ),
    x.state === 'waiting' ? h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'take', onclick: () => take(lv, x.id) }, t('live.take')) : null,
  );
}

/** The selected conversation: who has it, the transcript and the send box; only its agent may write. */
function drawChat(lv) {
  const { ctx, current, transcript } = lv;
  if (!current) return;
  const mine = current.state === 'live' && current.takenBy === ctx.user.username;
  const lines = h(
    'ol',
    { class: 'live-transcript', 'aria-live': 'polite', 'data-testid': 'live-transcript' },
    transcript.map((l) =>
      h(
        'li',
        { class: ['live-line', `live-from-${l.from}`], 'data-from': l.from },
        h('small', { class: 'muted' }, l.from === 'customer' ? t('live.customer') : l.by, ' · ', f.dateTime(l.at), l.sending ? ` · ${t('live.unknown')}` : l.delivered === false ? ` · ${t('live.notDelivered')}` : ''),
        h('div', { class: 'live-text' }, l.text),
        // Outcome unknown: settled here once the customer says whether they have it, as on the ticket page.
        l.from === 'agent' && l.sending && l.replyId ? settleButtons(current.ticketNumber, { id: l.replyId, attempts: l.attempts ?? 1 }, (b, request) => settle(lv, b, request)) : null,
      ),
    ),
  );
  const form = sendForm(lv, mine);
  replace(
    lv.chatBox,
    h(
      'div',
      { class: 'live-chat-head' },
      h('h2', null, h('a', { href: `#/tickets/${encodeURIComponent(current.ticketNumber)}` }, current.ticketNumber)),
      h('p', { class: 'muted' }, current.state === 'waiting' ? t('live.notTaken') : mine ? t('live.yours') : t('live.with', { name: current.takenBy })),
      current.state === 'waiting' ? h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'take', onclick: () => take(lv, lv.current.id) }, t('live.take')) : null,
      h('div', { class: 'actions' }, releaseButton(lv, mine, 'hand-back', 'live.handedBack'), releaseButton(lv, mine, 'end', 'live.ended')),
    ),
    transcript.length ? lines : h('p', { class: 'empty' }, t('live.noMessages')),
    form,
  );
  lines.lastElementChild?.scrollIntoView({ block: 'nearest' });
}

/**
 * The request id for sending `text` from the live chat (as the ticket page's reply form does): one
 * for a double click, and kept while the same text is sent again after a failure, so the server
 * sends it once; new for a new text.
 */
function sendRequestId(lv, text) {
  if (lv.sendRequest?.text !== text) lv.sendRequest = { id: newRequestId(), text };
  return lv.sendRequest.id;
}

/** The agent's send box; a message the channel could not deliver is reported. */
function sendForm(lv, mine) {
  const { ctx } = lv;
  const input = h('textarea', { rows: 2, maxlength: 4000, 'aria-label': t('live.message'), placeholder: t('live.messageHint'), disabled: !mine, 'data-testid': 'live-input' });
  return h(
    'form',
    {
      class: 'live-send',
      onsubmit: async (e) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        input.disabled = true;
        try {
          const requestId = sendRequestId(lv, text);
          const r = await api(`/api/live/${encodeURIComponent(lv.current.id)}/messages`, { method: 'POST', body: { text, requestId } });
          input.value = '';
          lv.sendRequest = null;
          // A duplicate's outcome is the first submit's, which reports it (it may still be sending).
          if (!r.delivered && !r.duplicate) ctx.notify(t('live.notDelivered'), 'error');
        } catch (err) {
          ctx.notify(ctx.errorText(err), 'error');
        } finally {
          input.disabled = false;
          input.focus();
        }
      },
    },
    input,
    h('button', { type: 'submit', class: 'btn btn-primary', disabled: !mine, 'data-action': 'send' }, t('live.send')),
  );
}

/** Hand back (to the bot) or End: the conversation leaves this agent and the page returns to the queue. */
function releaseButton(lv, mine, action, done) {
  const { ctx } = lv;
  return h(
    'button',
    {
      type: 'button',
      class: 'btn',
      disabled: !mine,
      'data-action': action,
      onclick: async () => {
        try {
          await api(`/api/live/${encodeURIComponent(lv.current.id)}/${action}`, { method: 'POST' });
          ctx.notify(t(done));
          ctx.navigate('#/live');
        } catch (err) {
          ctx.notify(ctx.errorText(err), 'error');
        }
      },
    },
    t(`live.${action === 'hand-back' ? 'handBack' : 'end'}`),
  );
}

/** Settles a reply of unknown outcome (reply-settle.js), then shows the conversation as it now stands (a 409: settled or sent again meanwhile). */
async function settle(lv, button, request) {
  button.disabled = true;
  try {
    await request();
  } catch (err) {
    lv.ctx.notify(lv.ctx.errorText(err), 'error');
  }
  await loadChat(lv).catch(() => undefined);
}

/** Takes a conversation; another agent's take first is a 409 ("taken by someone else"), and the queue reloads. */
async function take(lv, id) {
  const { ctx } = lv;
  try {
    await api(`/api/live/${encodeURIComponent(id)}/take`, { method: 'POST' });
    ctx.notify(t('live.taken'));
    if (id === lv.selected) await loadChat(lv);
    else ctx.navigate(`#/live/${encodeURIComponent(id)}`);
  } catch (err) {
    ctx.notify(err.status === 409 ? t('live.takenByOther') : ctx.errorText(err), 'error');
    await loadQueue(lv);
  }
}
