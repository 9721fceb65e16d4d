/**
 * Ticket detail (#/tickets/{number}): the conversation (customer messages and staff replies), the
 * classification explanation, correction of topic and type, follow-up (status along the life
 * cycle, priority, assignee — sent with the version the user saw, so a concurrent change gives a
 * conflict instead of being overwritten; the assignee chosen from the active staff accounts), the
 * due time (overdue highlighted), notes, the reply box with the canned replies (快捷回复) filled
 * for this ticket, and the files the customer sent (ticket-attachments.js).
 */
import { api, assignees, newRequestId, taxonomy } from '../api.js';
import { bar, field, h, replace, select, uid } from '../dom.js';
import * as f from '../format.js';
import { t, tParts } from '../i18n.js';
import { onDeskEvent } from '../events.js';
import { LIST_KEY } from './inbox.js';
import { settleButtons } from './reply-settle.js';
import { attachmentsPanel } from './ticket-attachments.js';

/** The ticket life cycle (as the API enforces it). */
export const STATUS_TRANSITIONS = {
  new: ['in_progress', 'resolved', 'closed'],
  in_progress: ['resolved', 'closed'],
  resolved: ['closed', 'reopened'],
  closed: ['reopened'],
  reopened: ['in_progress', 'resolved', 'closed'],
};
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
/** Channels staff log tickets from that no message can be sent on. */
const OFFLINE_CHANNELS = ['phone', 'walk-in', 'letter', 'other'];

/** The ticket in an API answer: the ticket itself, or {ticket, …}. */
const ticketOf = (res) => (res && typeof res === 'object' && res.ticket && typeof res.ticket === 'object' ? res.ticket : res);

/**
 * Renders the page. `page` is what every panel reads: the ticket as last loaded, the lists the forms
 * use, and `edit`, which runs a change and re-renders every panel with the ticket it returns.
 */
export async function render(ctx) {
  const asked = ctx.parts[1] ?? '';
  const cannedFor = (n) => api(`/api/tickets/${encodeURIComponent(n)}/canned-replies`).catch(() => ({ items: [] }));
  const [tax, initial, staff, cannedAsked] = await Promise.all([taxonomy(), opened(ctx, asked), assignees().catch(() => ({ items: [] })), cannedFor(asked)]);
  if (initial === null) return;
  const number = initial.number;
  const provisional = openedAs(asked, number);
  const canned = number === asked ? cannedAsked : await cannedFor(number);
  if (!ctx.isCurrent()) return;
  // The stored number in the address; the entry remembers the provisional one, so the notice stays
  // while the staff member is on this ticket (a reload, a language switch, back to this entry).
  if (provisional) window.history.replaceState({ ...(window.history.state ?? {}), openedAs: { provisional, number } }, '', `#/tickets/${encodeURIComponent(number)}`);
  const page = {
    ctx,
    number,
    tax,
    canned,
    users: (staff?.items ?? []).map((u) => u.username),
    ticket: initial,
    edit,
    // The reply and note inputs survive re-rendering (nobody loses a half-written text).
    replyText: h('textarea', { id: uid('reply'), name: 'reply', rows: 3, maxlength: 4000, required: true, 'data-testid': 'reply-text' }),
    /** The reply being sent and its request id (kept across a failed submit of the same text). */
    replyRequest: null,
    replyStatus: h('p', { class: 'form-message', role: 'status', 'data-testid': 'reply-status' }),
    noteText: h('textarea', { id: uid('note'), name: 'note', rows: 2, maxlength: 4000 }),
    profileSlot: h('p'),
  };
  ctx.setTitle(page.ticket.number);

  // The conflict banner comes and goes with edits and reloads; the provisional number's notice stays.
  const banner = h('div', { class: 'banner-slot' });
  const notice = provisional ? h('p', { class: 'banner banner-ok', role: 'status', 'data-testid': 'ticket-provisional' }, t('ticket.openedProvisional', { provisional, number })) : null;
  // Tickets queued under this number during an outage and stored under others (it was taken): whoever
  // was given this number is probably looking for one of them. From the opening read; it stays.
  const alsoQuoted = (initial.alsoQuotedFor ?? []).map(({ number: moved }) =>
    h('p', { class: 'banner banner-warn', role: 'note', 'data-testid': 'ticket-also-quoted' }, ...tParts('ticket.alsoQuotedFor', { number: h('a', { href: `#/tickets/${encodeURIComponent(moved)}`, class: 'mono' }, moved) })),
  );
  const head = h('div', { class: 'page-head ticket-head' });
  const conversation = h('section', { class: 'panel', 'aria-labelledby': 'conv-title' });
  const followUp = h('section', { class: 'panel', 'aria-labelledby': 'follow-title' });
  const explanation = h('section', { class: 'panel', 'aria-labelledby': 'expl-title', 'data-testid': 'explanation' });
  const correction = h('section', { class: 'panel', 'aria-labelledby': 'corr-title' });
  const customer = h('section', { class: 'panel', 'aria-labelledby': 'cust-title' });
  const notes = h('section', { class: 'panel', 'aria-labelledby': 'notes-title' });
  const history = h('section', { class: 'panel', 'aria-labelledby': 'hist-title' });
  const files = attachmentsPanel(number, ctx);
  ctx.onCleanup(files.dispose);

  function renderAll() {
    replace(head, ...headLines(page.ticket));
    replace(conversation, ...conversationPanel(page));
    replace(followUp, ...followUpPanel(page));
    replace(explanation, ...explanationPanel(tax, page.ticket));
    replace(correction, ...correctionPanel(page));
    replace(customer, ...customerPanel(page.ticket, page.profileSlot));
    replace(notes, ...notesPanel(page));
    replace(history, ...historyPanel(tax, page.ticket));
  }
  /** Shows that someone else changed the ticket; the user reloads instead of overwriting. */
  function conflict() {
    replace(
      banner,
      h(
        'div',
        { class: 'banner banner-warn', role: 'alert', 'data-testid': 'conflict' },
        h('strong', null, t('ticket.conflictTitle')),
        h('span', null, t('ticket.conflict')),
        h('button', { type: 'button', class: 'btn', onclick: () => reload() }, t('ticket.reload')),
      ),
    );
    banner.querySelector('button')?.focus();
  }
  async function reload(quiet = false) {
    try {
      page.ticket = await api(`/api/tickets/${encodeURIComponent(number)}`);
      replace(banner);
      renderAll();
      if (!quiet) ctx.notify(t('ticket.reloaded'));
    } catch (err) {
      if (err.status !== 401) ctx.notify(ctx.errorText(err), 'error');
    }
  }
  /** Runs an edit; on success takes the returned ticket, on 409 shows the conflict banner. */
  async function edit(button, request, done) {
    if (button) button.disabled = true;
    try {
      const res = await request();
      const next = ticketOf(res);
      if (next && typeof next === 'object' && next.number) page.ticket = next;
      replace(banner);
      renderAll();
      ctx.refreshWork();
      done?.(res);
      return res;
    } catch (err) {
      if (err.status === 409) conflict();
      else if (err.status !== 401) ctx.notify(ctx.errorText(err), 'error');
      return null;
    } finally {
      if (button) button.disabled = false;
    }
  }

  renderAll();
  // Live: the customer writes on this ticket (or it is reassigned) → the page shows it; drafts survive.
  ctx.onCleanup(
    onDeskEvent((e) => {
      if (e.ticketNumber !== number || !ctx.isCurrent()) return;
      if (e.type === 'ticket.customerMessage' || e.type === 'ticket.assigned') void reload(true);
      // A picture or file comes with a customer message (stored before or while it is filed).
      if (e.type === 'ticket.customerMessage') void files.refresh();
    }),
  );
  replace(
    ctx.root,
    h('article', { class: 'page ticket', 'aria-labelledby': 'ticket-h1' }, head, notice, ...alsoQuoted, banner, h('div', { class: 'ticket-grid' }, h('div', { class: 'col-main' }, conversation, files.section, notes, history), h('div', { class: 'col-side' }, followUp, explanation, correction, customer))),
  );
  findProfile(page);
  void files.refresh();
}

/**
 * The ticket `asked` opens. A provisional number that stands for a stored ticket is redirected to it
 * (the fetch follows: the answer is that ticket, under its own number). One not stored yet (still
 * queued in a server's outbox: 404) shows a page saying so, with a button to open it again; null then.
 */
async function opened(ctx, asked) {
  try {
    return await api(`/api/tickets/${encodeURIComponent(asked)}`);
  } catch (err) {
    if (err.status !== 404 || !f.isProvisionalNumber(asked) || !ctx.isCurrent()) throw err;
    const again = h('button', { type: 'button', class: 'btn', 'data-testid': 'open-again', onclick: () => ctx.navigate(location.hash) }, t('ticket.openAgain'));
    replace(ctx.root, h('section', { class: 'panel' }, h('h1', { class: 'mono' }, asked), h('p', { role: 'status', 'data-testid': 'provisional-queued' }, t('ticket.provisionalQueued', { number: asked })), h('div', { class: 'actions' }, again)));
    ctx.setTitle(asked);
    return null;
  }
}

/**
 * The provisional number this visit to ticket `number` came through (`asked`, redirected), or the one
 * this history entry remembers for it (the same visit, drawn again); null for a visit by its number.
 */
function openedAs(asked, number) {
  if (number.toUpperCase() !== asked.toUpperCase()) return asked;
  const kept = window.history.state?.openedAs;
  return kept && kept.number === number ? kept.provisional : null;
}

/** The number, status, badges, dates, rating and due time. */
function headLines(ticket) {
  const back = sessionStorage.getItem(LIST_KEY) || '#/inbox';
  return [
    h('a', { href: back, class: 'back' }, `← ${t('ticket.back')}`),
    h(
      'h1',
      { id: 'ticket-h1' },
      h('span', { class: 'mono', 'data-testid': 'ticket-number' }, ticket.number),
      ' ',
      h('span', { class: ['status', `status-${ticket.status}`], 'data-testid': 'ticket-status' }, f.statusName(ticket.status)),
      ticket.needsReview ? h('span', { class: 'badge badge-warn' }, t('ticket.review')) : null,
      ticket.spam ? h('span', { class: 'badge badge-muted' }, t('ticket.spam')) : null,
      !ticket.spam && ticket.suspectedSpam ? h('span', { class: 'badge badge-warn', 'data-testid': 'suspected-spam' }, t('ticket.suspectedSpam')) : null,
    ),
    h('p', { class: 'muted' }, t('ticket.createdLine', { at: f.dateTime(ticket.createdAt), channel: f.channelName(ticket.customer?.channelId), updated: f.dateTime(ticket.updatedAt) })),
    ticket.formerNumber ? h('p', { class: 'small', 'data-testid': 'former-number' }, t('ticket.formerNumber', { number: ticket.formerNumber })) : null,
    ticket.satisfaction
      ? h('p', { 'data-testid': 'satisfaction' }, t('ticket.satisfaction', { score: ticket.satisfaction.score }), ticket.satisfaction.comment ? ` — ${ticket.satisfaction.comment}` : '')
      : null,
    ticket.dueAt
      ? h(
          'p',
          { class: ['due-line', ticket.overdue && 'overdue'], 'data-testid': 'due' },
          t('ticket.dueLine', { at: f.dateTime(ticket.dueAt), priority: f.priorityName(ticket.priority) }),
          ticket.overdue ? h('span', { class: 'badge badge-error', 'data-testid': 'overdue' }, t('ticket.overdue')) : null,
          ticket.waiting ? h('span', { class: 'badge badge-muted', 'data-testid': 'waiting' }, t('ticket.waiting')) : null,
        )
      : null,
  ];
}

/** The customer's messages and the staff replies in time order, then the reply box. */
function conversationPanel(page) {
  const { ticket } = page;
  // A call, visit or letter has no channel to send on: its replies are records, never undelivered
  // (they were shown as 未送达 with the server's English reason and a 重新发送 that could not work).
  const offline = OFFLINE_CHANNELS.includes(ticket.customer?.channelId);
  const entries = [
    { who: 'customer', text: ticket.text?.original ?? '', at: ticket.createdAt, first: true },
    ...(ticket.messages ?? []).map((m) => ({ who: 'customer', text: m.text, at: m.at })),
    ...(ticket.replies ?? []).map((r) => ({ who: 'staff', id: r.id, text: r.text, at: r.at, by: r.by, delivered: r.delivered, error: r.error, sending: r.sending === true, attempts: r.attempts ?? 1, settledBy: r.settledBy ?? null, settledAt: r.settledAt ?? null, offline })),
  ].sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime() || (a.first ? -1 : b.first ? 1 : 0));
  return [
    h('h2', { id: 'conv-title' }, t('ticket.conversation')),
    h(
      'ol',
      { class: 'timeline', 'data-testid': 'timeline' },
      entries.map((e) =>
        h(
          'li',
          { class: ['msg', `msg-${e.who}`] },
          h(
            'div',
            { class: 'msg-meta' },
            h('strong', null, e.who === 'staff' ? e.by : ticket.customer?.name || t('ticket.customerLabel')),
            h('time', { datetime: e.at }, f.dateTime(e.at)),
            e.who === 'staff' ? deliveryBadge(e) : null,
          ),
          h('p', { class: 'msg-text' }, e.text),
          e.who === 'staff' && !e.offline && !e.delivered && e.error ? h('p', { class: 'error-text small' }, e.error) : null,
          e.who === 'staff' && e.sending ? h('p', { class: 'hint small', 'data-testid': 'delivery-unknown-hint' }, t('reply.unknownHint')) : null,
          e.who === 'staff' && e.settledBy ? settledLine(e) : null,
          // A 409 (sent again or settled meanwhile) shows the page's conflict banner.
          e.who === 'staff' && e.sending && e.id ? settleButtons(page.number, e, page.edit) : null,
          e.who === 'staff' && !e.offline && !e.delivered && e.id ? retryButton(page, e.id, e.sending) : null,
        ),
      ),
    ),
    replyBox(page),
  ];
}

/**
 * A reply's delivery: delivered, not delivered, or unknown (`sending` on the ticket: recorded before
 * its send, its outcome never recorded, so it may have reached the customer).
 */
function deliveryBadge(e) {
  if (e.offline && !e.sending) return h('span', { class: ['badge', 'badge-muted'], 'data-testid': 'delivery' }, t('reply.recorded'));
  const [cls, key] = e.sending ? ['badge-warn', 'reply.unknown'] : e.delivered ? ['badge-ok', 'reply.delivered'] : ['badge-error', 'reply.notDelivered'];
  return h('span', { class: ['badge', cls], 'data-testid': 'delivery', title: e.error ?? '' }, t(key));
}

/** Who settled a reply's unknown outcome by hand, and when (the channel never said). */
function settledLine(e) {
  const key = e.delivered ? 'reply.settledDelivered' : 'reply.settledNotDelivered';
  return h('p', { class: 'hint small', 'data-testid': 'delivery-settled' }, t(key, { by: e.settledBy, at: f.dateTime(e.settledAt) }));
}

/**
 * Sends an undelivered reply again (the outcome is recorded on that reply). One of unknown outcome
 * may already be with the customer: sent again only after the staff member confirms it.
 */
function retryButton(page, id, unknown) {
  const { edit, number } = page;
  const button = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': unknown ? 'resend-unknown' : 'retry-reply' }, t(unknown ? 'reply.retryUnknown' : 'reply.retry'));
  button.onclick = () => {
    if (unknown && !window.confirm(t('reply.confirmResend'))) return;
    edit(button, () => api(`/api/tickets/${encodeURIComponent(number)}/replies/${encodeURIComponent(id)}/retry${unknown ? '?confirm=true' : ''}`, { method: 'POST' }));
  };
  return button;
}

/**
 * The request id for sending `text`: kept while the same text is sent again after a failure (the
 * server then sends it once, whatever the first attempt did), new for a new text.
 */
function requestIdFor(page, text) {
  if (page.replyRequest?.text !== text) page.replyRequest = { id: newRequestId(), text };
  return page.replyRequest.id;
}

/** The status line after a reply was sent. */
function sentStatus(res, page) {
  if (res.recorded === false) return ['warn', t('reply.sentUnrecorded')];
  const delivered = res.delivered ?? page.ticket.replies?.at(-1)?.delivered;
  return delivered ? ['ok', t('reply.sentDelivered')] : ['error', t('reply.sentNotDelivered')];
}

/** The reply form with the canned replies (快捷回复); its text area outlives re-rendering. */
function replyBox(page) {
  const { canned, edit, number, replyText, replyStatus } = page;
  const send = h('button', { type: 'submit', class: 'btn btn-primary' }, t('reply.send'));
  const items = canned?.items ?? [];
  const pick = select({ name: 'canned', 'data-testid': 'canned-replies', 'aria-label': t('canned.label') }, [{ value: '', label: items.length ? t('canned.choose') : t('canned.none') }, ...items.map((c) => ({ value: c.id, label: c.title }))], '');
  pick.disabled = items.length === 0;
  pick.onchange = () => {
    const c = items.find((x) => x.id === pick.value);
    if (!c) return;
    // Into the box for the agent to adjust; a half-written text keeps its place before it.
    replyText.value = replyText.value.trim() ? `${replyText.value.trimEnd()}\n${c.text}` : c.text;
    pick.value = '';
    replyText.focus();
  };
  return h(
    'form',
    {
      class: 'reply-box',
      onsubmit: async (e) => {
        e.preventDefault();
        const text = replyText.value.trim();
        if (!text) {
          replyStatus.className = 'form-message error';
          replyStatus.textContent = t('reply.empty');
          replyText.focus();
          return;
        }
        replyStatus.className = 'form-message';
        replyStatus.textContent = t('reply.sending');
        const requestId = requestIdFor(page, text);
        const res = await edit(send, () => api(`/api/tickets/${encodeURIComponent(number)}/replies`, { method: 'POST', body: { text, requestId } }));
        if (res) {
          replyText.value = '';
          page.replyRequest = null;
          const [cls, message] = sentStatus(res, page);
          replyStatus.className = `form-message ${cls}`;
          replyStatus.textContent = message;
        } else {
          replyStatus.textContent = '';
        }
      },
    },
    h('div', { class: 'reply-head' }, h('label', { for: replyText.id }, t('reply.label')), h('span', { class: 'canned' }, pick)),
    replyText,
    // Calls, visits and letters have no channel to send on: the reply is a record of what staff told the customer.
    h('p', { class: 'hint' }, OFFLINE_CHANNELS.includes(page.ticket.customer?.channelId) ? t('reply.offlineHint', { channel: f.channelName(page.ticket.customer?.channelId) }) : t('reply.hint', { channel: f.channelName(page.ticket.customer?.channelId) })),
    h('div', { class: 'actions' }, send),
    replyStatus,
  );
}

/** Status along the life cycle, priority and assignee, sent with the version the user saw. */
function followUpPanel(page) {
  const { ctx, edit, number, ticket, users } = page;
  const next = STATUS_TRANSITIONS[ticket.status] ?? [];
  const status = select({ name: 'status', id: uid('status') }, [{ value: ticket.status, label: `${f.statusName(ticket.status)} (${t('ticket.current')})` }, ...next.map((s) => ({ value: s, label: f.statusName(s) }))], ticket.status);
  const priority = select({ name: 'priority', id: uid('priority') }, PRIORITIES.map((p) => ({ value: p, label: f.priorityName(p) })), ticket.priority);
  // Only active staff accounts; a former colleague still on the ticket stays visible as such.
  const options = [{ value: '', label: t('ticket.unassigned') }, ...users.map((u) => ({ value: u, label: u }))];
  if (ticket.assignee && !users.includes(ticket.assignee)) options.push({ value: ticket.assignee, label: t('ticket.inactiveUser', { user: ticket.assignee }), disabled: true });
  const assignee = select({ name: 'assignee', 'data-testid': 'assignee' }, options, ticket.assignee ?? '');
  const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'));
  const mine = h('button', { type: 'button', class: 'btn btn-ghost', disabled: !users.includes(ctx.user.username), onclick: () => (assignee.value = ctx.user.username) }, t('ticket.assignMe'));
  return [
    h('h2', { id: 'follow-title' }, t('ticket.followUp')),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const patch = {};
          if (status.value !== page.ticket.status) patch.status = status.value;
          if (priority.value !== page.ticket.priority) patch.priority = priority.value;
          const a = assignee.value.trim() || null;
          if (a !== (page.ticket.assignee ?? null)) patch.assignee = a;
          if (Object.keys(patch).length === 0) {
            ctx.notify(t('ticket.nothingChanged'));
            return;
          }
          await edit(save, () => api(`/api/tickets/${encodeURIComponent(number)}`, { method: 'PATCH', body: { ...patch, version: page.ticket.version } }), () => ctx.notify(t('ticket.saved')));
        },
      },
      field(t('ticket.status'), status, next.length ? null : t('ticket.finalStatus')),
      field(t('ticket.priority'), priority),
      field(t('ticket.assignee'), assignee),
      h('div', { class: 'actions' }, save, mine),
      h('p', { class: 'muted small' }, t('ticket.version', { v: ticket.version })),
    ),
  ];
}

/** Why the classifier chose what it did: scores, alternatives and keywords. */
function explanationPanel(tax, ticket) {
  const alts = Array.isArray(ticket.alternatives) ? ticket.alternatives.slice(0, 3) : [];
  const kws = Array.isArray(ticket.keywords) ? ticket.keywords : [];
  return [
    h('h2', { id: 'expl-title' }, t('ticket.explanation')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, t('ticket.topic')),
      h('dd', { 'data-testid': 'ticket-topic' }, f.topicName(tax, ticket.topic)),
      h('dt', null, t('ticket.type')),
      h('dd', { 'data-testid': 'ticket-type' }, f.typeName(tax, ticket.type)),
      h('dt', null, t('ticket.confidence')),
      h('dd', null, h('span', { class: 'bar-row' }, bar(ticket.confidence, t('ticket.confidence')), h('span', { class: 'num' }, f.pct(ticket.confidence)))),
      h('dt', null, t('ticket.reviewReason')),
      h('dd', null, ticket.needsReview ? f.reasonName(ticket.reviewReason) : t('ticket.noReview')),
      h('dt', null, t('ticket.lang')),
      h('dd', null, f.langName(ticket.lang)),
      h('dt', null, t('ticket.modelVersion')),
      h('dd', { class: 'mono small' }, ticket.modelVersion ?? '—'),
    ),
    h('h3', null, t('ticket.alternatives')),
    alts.length
      ? h(
          'ol',
          { class: 'scores', 'data-testid': 'alternatives' },
          alts.map((a) => h('li', null, h('span', { class: 'score-label', title: f.topicName(tax, a.topic) }, f.topicName(tax, a.topic)), bar(a.score, f.topicName(tax, a.topic)), h('span', { class: 'num' }, f.pct(a.score)))),
        )
      : h('p', { class: 'muted' }, t('common.none')),
    h('h3', null, t('ticket.keywords')),
    kws.length
      ? h(
          'ul',
          { class: 'chips', 'data-testid': 'keywords' },
          kws.map((k) => h('li', { class: 'chip', title: `${f.topicName(tax, k.topic)} · ${f.num(k.weight, 2)}` }, h('span', null, k.term), h('small', null, `${f.topicName(tax, k.topic)} ${f.num(k.weight, 2)}`))),
        )
      : h('p', { class: 'muted' }, t('ticket.noKeywords')),
  ];
}

/** Correction of topic and type, and the review box. */
function correctionPanel(page) {
  const { ctx, edit, number, tax, ticket } = page;
  const mk = (fieldName, items, current, name) => {
    // Never prefilled with a value the ticket does not have: no label (spam, unclassified) shows "choose".
    const value = ticket.spam ? '' : (current ?? '');
    const sel = select(
      { name: fieldName, id: uid(fieldName), 'data-testid': `correct-${fieldName}`, disabled: ticket.spam },
      [...(value === '' ? [{ value: '', label: t('correct.choose'), disabled: true }] : []), ...(items ?? []).map((x) => ({ value: x.id, label: name(tax, x.id) }))],
      value,
    );
    const btn = h('button', { type: 'submit', class: 'btn', 'data-testid': `correct-${fieldName}-submit`, disabled: ticket.spam }, t('correct.submit'));
    return h(
      'form',
      {
        class: 'inline-form',
        onsubmit: async (e) => {
          e.preventDefault();
          if (!sel.value) {
            ctx.notify(t('correct.chooseFirst'));
            sel.focus();
            return;
          }
          if (sel.value === (page.ticket[fieldName] ?? '')) {
            ctx.notify(t('correct.same'));
            return;
          }
          await edit(btn, () => api(`/api/tickets/${encodeURIComponent(number)}/corrections`, { method: 'POST', body: { field: fieldName, to: sel.value } }), () =>
            ctx.notify(t('correct.done', { field: t(`ticket.${fieldName}`), to: name(tax, sel.value) })),
          );
        },
      },
      field(t(`ticket.${fieldName}`), sel),
      btn,
    );
  };
  return [
    h('h2', { id: 'corr-title' }, t('correct.title')),
    h('p', { class: 'muted small' }, t(ticket.spam ? 'correct.spamFirst' : 'correct.intro')),
    mk('topic', tax.topics, ticket.topic, f.topicName),
    mk('type', tax.types, ticket.type, f.typeName),
    reviewBox(page),
  ];
}

/** Confirm the classification, or decide spam / not spam: each becomes a training example. */
function reviewBox(page) {
  const { ctx, edit, number, ticket } = page;
  const path = (what) => `/api/tickets/${encodeURIComponent(number)}/${what}`;
  const confirm = h('button', { type: 'button', class: 'btn', 'data-testid': 'confirm-review', disabled: ticket.spam || (!ticket.topic && !ticket.type) }, t('review.confirm'));
  confirm.onclick = () => edit(confirm, () => api(path('review'), { method: 'POST' }), () => ctx.notify(t('review.confirmed')));
  const toSpam = !ticket.spam;
  const spam = h('button', { type: 'button', class: toSpam ? 'btn btn-danger' : 'btn', 'data-testid': toSpam ? 'mark-spam' : 'not-spam' }, t(toSpam ? 'spam.mark' : 'spam.unmark'));
  spam.onclick = () => edit(spam, () => api(path('spam'), { method: 'POST', body: { spam: toSpam } }), () => ctx.notify(t(toSpam ? 'spam.marked' : 'spam.unmarked')));
  const d = ticket.spamDecision;
  return h(
    'div',
    { class: 'review-box', 'data-testid': 'review-box' },
    h('h3', null, t('review.title')),
    h('p', { class: 'muted small' }, t('review.intro')),
    h('div', { class: 'actions' }, confirm, spam),
    ticket.reviewedBy ? h('p', { class: 'small', 'data-testid': 'reviewed-by' }, t('review.confirmedBy', { by: ticket.reviewedBy, at: f.dateTime(ticket.reviewedAt) })) : null,
    d ? h('p', { class: 'small', 'data-testid': 'spam-decision' }, t(d.spam ? 'spam.decidedSpam' : 'spam.decidedHam', { by: d.by, at: f.dateTime(d.at) })) : null,
  );
}

/** Who the customer is and how to reach them; the profile link lands in `profileSlot`. */
function customerPanel(ticket, profileSlot) {
  const c = ticket.customer ?? {};
  return [
    h('h2', { id: 'cust-title' }, t('ticket.customer')),
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, t('customer.name')),
      h('dd', null, c.name || '—'),
      h('dt', null, t('ticket.channel')),
      h('dd', null, f.channelName(c.channelId)),
      h('dt', null, t('customer.userId')),
      h('dd', { class: 'mono small break' }, c.userId ?? '—'),
      h('dt', null, t('customer.phone')),
      h('dd', null, ticket.contact?.phone ?? '—'),
      h('dt', null, t('customer.email')),
      h('dd', { class: 'break' }, ticket.contact?.email ?? '—'),
    ),
    profileSlot,
  ];
}

/** Links the customer's profile when the directory knows them (optional: a failure shows no link). */
async function findProfile(page) {
  const c = page.ticket.customer ?? {};
  if (!c.userId) return;
  try {
    const res = await api('/api/customers', { query: { search: c.userId, pageSize: 10 } });
    const match = (res?.items ?? []).find((x) => (x.identities ?? []).some((i) => i.channelId === c.channelId && i.userId === c.userId)) ?? (res?.items ?? [])[0];
    if (match?.id) replace(page.profileSlot, h('a', { href: `#/customers/${encodeURIComponent(match.id)}`, 'data-testid': 'customer-profile-link' }, `${t('customer.openProfile')} →`));
  } catch {
    /* the profile link is optional */
  }
}

/** Internal notes and the form to add one; its text area outlives re-rendering. */
function notesPanel(page) {
  const { edit, noteText, number, ticket } = page;
  const add = h('button', { type: 'submit', class: 'btn' }, t('notes.add'));
  const list = ticket.notes ?? [];
  return [
    h('h2', { id: 'notes-title' }, t('notes.title')),
    list.length
      ? h(
          'ul',
          { class: 'notes' },
          list.map((n) => h('li', null, h('div', { class: 'msg-meta' }, h('strong', null, n.author), h('time', { datetime: n.at }, f.dateTime(n.at))), noteBody(n))),
        )
      : h('p', { class: 'muted' }, t('notes.none')),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const text = noteText.value.trim();
          if (!text) {
            noteText.focus();
            return;
          }
          const ok = await edit(add, () => api(`/api/tickets/${encodeURIComponent(number)}/notes`, { method: 'POST', body: { text } }));
          if (ok) noteText.value = '';
        },
      },
      h('label', { for: noteText.id }, t('notes.label')),
      noteText,
      h('div', { class: 'actions' }, add),
    ),
  ];
}

/** The ways a live chat's end is worded (desk/events.ts HANDOVER_ENDINGS that the desk notes). */
const LIVE_ENDINGS = ['handedBack', 'ended', 'timedOut'];

/**
 * A note's text. A live chat's end carries its facts (`liveChat`), worded here in the reader's
 * language; its `text` is an English line for API clients. Staff notes, older live chat notes
 * (text only) and an ending this console does not know show their text as stored.
 */
function noteBody(n) {
  // A live chat notice the customer's channel refused (desk/tickets.ts replayNotice): staff must know they were not told.
  const u = n.undeliveredNotice;
  if (u) return h('p', { class: 'msg-text', 'data-testid': 'note-undelivered-notice', title: n.text }, t('notes.noticeNotSent', { error: u.error, at: f.dateTime(u.triedAt), text: u.text }));
  const c = n.liveChat;
  if (!c || !LIVE_ENDINGS.includes(c.how)) return h('p', { class: 'msg-text' }, n.text);
  const detail = t(c.customerMessages === 1 ? 'notes.live.detailOne' : 'notes.live.detail', { at: f.dateTime(c.requestedAt), n: c.customerMessages });
  const agent = c.agent && c.agent !== c.by ? t('notes.live.agent', { agent: c.agent }) : '';
  return h('p', { class: 'msg-text', 'data-testid': 'note-live-chat', title: n.text }, `${t(`notes.live.${c.how}`, { by: c.by })}${agent}${detail}`);
}

/** Corrections made so far and the life-cycle dates. */
function historyPanel(tax, ticket) {
  const list = ticket.corrections ?? [];
  return [
    h('h2', { id: 'hist-title' }, t('ticket.corrections')),
    list.length
      ? h(
          'ul',
          { class: 'history', 'data-testid': 'corrections' },
          list.map((c) => {
            const name = c.field === 'type' ? f.typeName : f.topicName;
            return h('li', null, t('ticket.correctionLine', { by: c.by, at: f.dateTime(c.at), field: t(`correct.field.${c.field}`), from: name(tax, c.from), to: name(tax, c.to) }));
          }),
        )
      : h('p', { class: 'muted' }, t('ticket.noCorrections')),
    ticket.firstResponseAt || ticket.resolvedAt || ticket.closedAt
      ? h(
          'dl',
          { class: 'facts' },
          ticket.firstResponseAt ? [h('dt', null, t('ticket.firstResponseAt')), h('dd', null, f.dateTime(ticket.firstResponseAt))] : null,
          ticket.resolvedAt ? [h('dt', null, t('ticket.resolvedAt')), h('dd', null, f.dateTime(ticket.resolvedAt))] : null,
          ticket.closedAt ? [h('dt', null, t('ticket.closedAt')), h('dd', null, f.dateTime(ticket.closedAt))] : null,
        )
      : null,
  ];
}

