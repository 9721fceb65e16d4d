/**
 * Live conversations (#/live, #/live/{id}): the queue of customers waiting for a person and the
 * conversations agents are having, and the chat with the selected one. Driven by the desk's event
 * stream (../events.js): a new request, a take, a message or an ending shows without reloading.
 *
 * Taking is first come, first served: when two agents click at once, the server lets exactly one
 * take it and the other sees that someone else did.
 */
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { onDeskEvent, onStreamStatus } from '../events.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

const LIVE_EVENTS = new Set(['handover.requested', 'handover.taken', 'handover.ended', 'live.message']);

export async function render(ctx) {
  const selected = ctx.parts[1] ?? null;
  ctx.setTitle(t('nav.live'));
  const queueBox = h('div', { class: 'live-queue', 'aria-live': 'polite', 'data-testid': 'live-queue' });
  const chatBox = h('div', { class: 'live-chat panel', 'data-testid': 'live-chat' });
  const streamState = h('span', { class: 'badge badge-muted live-stream', 'data-testid': 'live-stream' });
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.live'), ' ', streamState), h('p', { class: 'muted' }, t('live.intro'))),
      h('div', { class: 'live-layout' }, h('div', { class: 'panel' }, h('h2', null, t('live.queue')), queueBox), chatBox),
    ),
  );
  ctx.onCleanup(onStreamStatus((s) => (streamState.textContent = t(`live.stream.${s}`))));

  let queue = [];
  let lastQueue = null;
  let transcript = [];
  let current = null;

  const loadQueue = async () => {
    const data = await api('/api/live');
    if (!ctx.isCurrent()) return;
    queue = data.items ?? [];
    lastQueue = data;
    drawQueue(data);
  };

  const loadChat = async () => {
    if (!selected) {
      replace(chatBox, h('p', { class: 'empty' }, t('live.pick')));
      return;
    }
    try {
      const data = await api(`/api/live/${encodeURIComponent(selected)}`);
      if (!ctx.isCurrent()) return;
      current = data.handover;
      transcript = data.transcript ?? [];
    } catch (err) {
      if (err.status === 401) throw err;
      current = null;
      replace(chatBox, h('p', { class: 'empty', 'data-testid': 'live-ended' }, err.status === 404 ? t('live.endedGone') : ctx.errorText(err)));
      return;
    }
    drawChat();
  };

  function drawQueue(data) {
    const row = (x) =>
      h(
        'li',
        { class: ['live-item', x.id === selected && 'active', `live-${x.state}`], 'data-id': x.id, 'data-state': x.state },
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
        x.state === 'waiting' ? h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'take', onclick: () => take(x.id) }, t('live.take')) : null,
      );
    const waiting = queue.filter((x) => x.state === 'waiting');
    const live = queue.filter((x) => x.state === 'live');
    replace(
      queueBox,
      data && data.staffed === false ? h('p', { class: 'banner banner-warn' }, t('live.closed', { hours: data.serviceHours ?? '' })) : null,
      h('h3', null, t('live.waitingCount', { n: waiting.length })),
      waiting.length ? h('ul', { class: 'live-list', 'data-testid': 'live-waiting' }, waiting.map(row)) : h('p', { class: 'empty' }, t('live.noneWaiting')),
      h('h3', null, t('live.liveCount', { n: live.length })),
      live.length ? h('ul', { class: 'live-list', 'data-testid': 'live-live' }, live.map(row)) : h('p', { class: 'empty' }, t('live.noneLive')),
    );
  }

  function drawChat() {
    if (!current) return;
    const mine = current.state === 'live' && current.takenBy === ctx.user.username;
    const lines = h(
      'ol',
      { class: 'live-transcript', 'aria-live': 'polite', 'data-testid': 'live-transcript' },
      transcript.map((l) =>
        h(
          'li',
          { class: ['live-line', `live-from-${l.from}`], 'data-from': l.from },
          h('small', { class: 'muted' }, l.from === 'customer' ? t('live.customer') : l.by, ' · ', f.dateTime(l.at), l.delivered === false ? ` · ${t('live.notDelivered')}` : ''),
          h('div', { class: 'live-text' }, l.text),
        ),
      ),
    );
    const input = h('textarea', { rows: 2, maxlength: 4000, 'aria-label': t('live.message'), placeholder: t('live.messageHint'), disabled: !mine, 'data-testid': 'live-input' });
    const form = h(
      'form',
      {
        class: 'live-send',
        onsubmit: async (e) => {
          e.preventDefault();
          const text = input.value.trim();
          if (!text) return;
          input.disabled = true;
          try {
            const r = await api(`/api/live/${encodeURIComponent(current.id)}/messages`, { method: 'POST', body: { text } });
            input.value = '';
            if (!r.delivered) ctx.notify(t('live.notDelivered'), 'error');
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
    const release = (action, done) =>
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          disabled: !mine,
          'data-action': action,
          onclick: async () => {
            try {
              await api(`/api/live/${encodeURIComponent(current.id)}/${action}`, { method: 'POST' });
              ctx.notify(t(done));
              ctx.navigate('#/live');
            } catch (err) {
              ctx.notify(ctx.errorText(err), 'error');
            }
          },
        },
        t(`live.${action === 'hand-back' ? 'handBack' : 'end'}`),
      );
    replace(
      chatBox,
      h(
        'div',
        { class: 'live-chat-head' },
        h('h2', null, h('a', { href: `#/tickets/${encodeURIComponent(current.ticketNumber)}` }, current.ticketNumber)),
        h('p', { class: 'muted' }, current.state === 'waiting' ? t('live.notTaken') : mine ? t('live.yours') : t('live.with', { name: current.takenBy })),
        current.state === 'waiting' ? h('button', { type: 'button', class: 'btn btn-primary', 'data-action': 'take', onclick: () => take(current.id) }, t('live.take')) : null,
        h('div', { class: 'actions' }, release('hand-back', 'live.handedBack'), release('end', 'live.ended')),
      ),
      transcript.length ? lines : h('p', { class: 'empty' }, t('live.noMessages')),
      form,
    );
    lines.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  async function take(id) {
    try {
      await api(`/api/live/${encodeURIComponent(id)}/take`, { method: 'POST' });
      ctx.notify(t('live.taken'));
      if (id === selected) await loadChat();
      else ctx.navigate(`#/live/${encodeURIComponent(id)}`);
    } catch (err) {
      ctx.notify(err.status === 409 ? t('live.takenByOther') : ctx.errorText(err), 'error');
      await loadQueue();
    }
  }

  ctx.onCleanup(
    onDeskEvent((e) => {
      if (!ctx.isCurrent() || !LIVE_EVENTS.has(e.type)) return;
      if (e.type === 'live.message' && e.handoverId === selected && current) {
        transcript.push({ from: e.from, by: e.by, text: e.text, at: e.at, delivered: e.delivered });
        drawChat();
        return;
      }
      if (e.type !== 'live.message') void loadQueue().catch(() => undefined);
      if (e.handoverId === selected && e.type !== 'live.message') void loadChat().catch(() => undefined);
    }),
  );
  // Waiting times move on.
  const tick = setInterval(() => queue.length && drawQueue(lastQueue), 5000);
  ctx.onCleanup(() => clearInterval(tick));
  await Promise.all([loadQueue(), loadChat()]);
}
