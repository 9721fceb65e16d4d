/**
 * A ticket for a customer who called, came to the counter or wrote (#/new): the channel it came by,
 * the customer's name and contact, the demand in their words, the priority. The server classifies
 * the text like any other ticket and files it under that channel, so the customer's profile and
 * channel preference count it; the new ticket opens afterwards. While the database is unreachable the
 * ticket is queued (202): the form stays and says so with its provisional number; sending the same
 * form again files nothing new (its request id). Sent again after an answer that never came, it may
 * have been stored before the outage: the form says that this ticket is then kept, found by the
 * provisional number. The number is a link to its ticket page, and the form, its answer and its request
 * id are kept in this history entry: back from that page (or after a reload), the same form is there,
 * and sending it again still files nothing new.
 */
import { api, newRequestId } from '../api.js';
import { field, h, replace, select } from '../dom.js';
import * as f from '../format.js';
import { t, tParts } from '../i18n.js';

const CHANNELS = ['phone', 'walk-in', 'letter', 'email', 'other'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

/**
 * The form's request ids: one is kept while this form sends the same ticket again (a second click, a
 * retry after a lost answer: filed once), a new one for other contents or a new form. `resent`: this
 * id was sent before (its answer lost or failed, or queued in another server's outbox).
 */
function requestIds(kept = null) {
  let last = kept;
  const idFor = (body) => {
    const key = JSON.stringify(body);
    if (last?.key !== key) last = { id: newRequestId(), key, sent: 0 };
    return { id: last.id, resent: last.sent++ > 0 };
  };
  idFor.state = () => (last ? { ...last } : null);
  return idFor;
}

/** The form's fields as this history entry keeps them (see {@link render}). */
const FIELDS = ['channel', 'name', 'phone', 'email', 'priority', 'text'];

/** The queued answer's message, its provisional number a link to the ticket page. */
function queuedMessage(key, number) {
  const link = h('a', { href: `#/tickets/${encodeURIComponent(number)}`, class: 'mono', 'data-testid': 'new-provisional' }, number);
  return tParts(key, { number: link });
}

export async function render(ctx) {
  ctx.setTitle(t('nav.newTicket'));
  // A form queued earlier in this history entry (its answer, fields and request id), else a new one.
  const kept = window.history.state?.newTicket ?? null;
  const requestIdFor = requestIds(kept?.request ?? null);
  const c = {
    channel: select({ name: 'channel', 'data-testid': 'new-channel' }, CHANNELS.map((ch) => ({ value: ch, label: f.channelName(ch) })), 'phone'),
    name: h('input', { type: 'text', name: 'name', maxlength: 128, autocomplete: 'off' }),
    phone: h('input', { type: 'tel', name: 'phone', maxlength: 20, autocomplete: 'off', pattern: '\\+?[0-9][0-9 \\-]{5,19}', placeholder: '138 0000 0000' }),
    email: h('input', { type: 'email', name: 'email', maxlength: 254, autocomplete: 'off' }),
    priority: select({ name: 'priority' }, PRIORITIES.map((p) => ({ value: p, label: f.priorityName(p) })), 'normal'),
    text: h('textarea', { name: 'text', rows: 6, maxlength: 4000, required: true, 'data-testid': 'new-text' }),
  };
  const status = h('p', { class: 'form-message', role: 'status', 'data-testid': 'new-status' });
  if (kept) {
    for (const k of FIELDS) if (typeof kept.fields?.[k] === 'string') c[k].value = kept.fields[k];
    status.className = 'form-message warn';
    replace(status, ...queuedMessage(kept.key, kept.number));
  }
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'file-ticket' }, t('newTicket.submit'));
  const form = h(
    'form',
    {
      class: 'stack',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!form.reportValidity()) return;
        const customer = {};
        for (const k of ['name', 'phone', 'email']) if (c[k].value.trim()) customer[k] = c[k].value.trim();
        submit.disabled = true;
        status.className = 'form-message';
        status.textContent = t('newTicket.filing');
        try {
          const body = { channel: c.channel.value, text: c.text.value.trim(), customer, priority: c.priority.value };
          const request = requestIdFor(body);
          const res = await api('/api/tickets', { method: 'POST', body: { ...body, requestId: request.id } });
          if (res.stored === 'outbox') {
            // Queued while the database is down: the ticket page cannot open yet, so the number stays here.
            // The same form sent before and not found queued: the database may hold it already (the
            // earlier answer lost), which the replay keeps; the provisional number then finds that one.
            const key = request.resent && !res.duplicate ? 'newTicket.filedOfflineResent' : 'newTicket.filedOffline';
            status.className = 'form-message warn';
            replace(status, ...queuedMessage(key, res.ticket.number));
            if (ctx.isCurrent()) {
              const fields = Object.fromEntries(FIELDS.map((k) => [k, c[k].value]));
              window.history.replaceState({ ...(window.history.state ?? {}), newTicket: { key, number: res.ticket.number, fields, request: requestIdFor.state() } }, '');
            }
            return;
          }
          // Stored: back to this entry is a new form, not the one queued before.
          if (ctx.isCurrent() && window.history.state?.newTicket) window.history.replaceState({ ...window.history.state, newTicket: undefined }, '');
          ctx.notify(t('newTicket.filed', { number: res.ticket.number }));
          ctx.refreshWork();
          ctx.navigate(`#/tickets/${encodeURIComponent(res.ticket.number)}`);
        } catch (err) {
          status.className = 'form-message error';
          status.textContent = err.status === 400 ? t('newTicket.invalid', { message: err.message }) : ctx.errorText(err);
          if (err.status === 401) throw err;
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('div', { class: 'filter-grid' }, field(t('newTicket.channel'), c.channel), field(t('newTicket.name'), c.name), field(t('newTicket.phone'), c.phone), field(t('newTicket.email'), c.email), field(t('ticket.priority'), c.priority)),
    field(t('newTicket.text'), c.text, t('newTicket.textHint')),
    h('div', { class: 'actions' }, submit),
    status,
  );
  replace(
    ctx.root,
    h('section', { class: 'page' }, h('div', { class: 'page-head' }, h('h1', null, t('nav.newTicket')), h('p', { class: 'muted' }, t('newTicket.intro'))), h('section', { class: 'panel' }, form)),
  );
}
