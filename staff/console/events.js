/**
 * The console's live updates: one stream of desk events (`GET /api/events`, Server-Sent Events)
 * per page load, shared by every page that listens. EventSource cannot send the Authorization
 * header, so the stream is read with fetch; it reconnects after a drop (with Last-Event-ID, so
 * nothing published meanwhile is missed) and stops when the session ends.
 *
 * Usage, from any page module:
 * ```js
 * import { onDeskEvent } from '../events.js';
 * ctx.onCleanup(onDeskEvent((e) => { if (e.type === 'ticket.created') reloadList(); }));
 * ```
 * Event types (desk/events.ts): ticket.created {ticketNumber, channelId}, ticket.customerMessage
 * {ticketNumber, text}, handover.requested {handoverId, ticketNumber, channelId, reason, lang, text},
 * handover.taken {handoverId, ticketNumber, by}, live.message {handoverId, ticketNumber, from
 * ('customer'|'agent'), by, text, delivered}, handover.ended {handoverId, ticketNumber, how, by}.
 * Every event also has `id` and `at` (ISO time).
 */
import { session } from './api.js';

const listeners = new Set();
let controller = null;
let lastEventId = null;
let retryTimer = null;
let status = 'closed';
const statusListeners = new Set();

function setStatus(s) {
  status = s;
  for (const l of statusListeners) l(s);
}

/** 'open', 'connecting' or 'closed'. */
export function streamStatus() {
  return status;
}

/** Follows the stream's status (for a "live" indicator); returns the function that stops. */
export function onStreamStatus(fn) {
  statusListeners.add(fn);
  fn(status);
  return () => statusListeners.delete(fn);
}

/**
 * Calls `listener(event)` for every desk event from now on; opens the stream if needed.
 * Returns the function that stops listening (the stream closes with its last listener).
 */
export function onDeskEvent(listener) {
  listeners.add(listener);
  connect();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) disconnect();
  };
}

function disconnect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  controller?.abort();
  controller = null;
  setStatus('closed');
}

function retry() {
  controller = null;
  if (listeners.size === 0 || !session()) return setStatus('closed');
  setStatus('connecting');
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, 2000);
}

async function connect() {
  if (controller || listeners.size === 0) return;
  const s = session();
  if (!s) return;
  const mine = new AbortController();
  controller = mine;
  setStatus('connecting');
  const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${s.token}` };
  if (lastEventId) headers['Last-Event-ID'] = lastEventId;
  let res;
  try {
    res = await fetch('/api/events', { headers, signal: mine.signal, cache: 'no-store' });
  } catch {
    if (controller === mine) retry();
    return;
  }
  if (!res.ok || !res.body) {
    // 401: the session ended; the API client sends the user to the login page on its next call.
    if (controller === mine) (res.status === 401 ? disconnect() : retry());
    return;
  }
  setStatus('open');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
    }
  } catch {
    /* aborted or dropped */
  }
  if (controller === mine) retry();
}

function dispatch(block) {
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('data: ')) data += line.slice(6);
    else if (line.startsWith('id: ')) lastEventId = line.slice(4);
  }
  if (!data) return;
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    return;
  }
  for (const l of [...listeners]) {
    try {
      l(event);
    } catch (err) {
      console.error(err);
    }
  }
}
