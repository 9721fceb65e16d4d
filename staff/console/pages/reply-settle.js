/**
 * Settling a staff reply of unknown outcome without sending it, wherever the console shows one (the
 * ticket page's conversation, the live chat's transcript): once the staff member has asked the
 * customer, they have it (delivered), or they do not (not delivered: it can then be sent again
 * without the confirmation). Each button asks first; the attempt shown is sent along, so a reply sent
 * again meanwhile is not settled by mistake (409).
 */
import { api } from '../api.js';
import { h } from '../dom.js';
import { t } from '../i18n.js';

/**
 * The two buttons for reply `reply` (`{id, attempts}`, attempts 1 when never sent again) of ticket
 * `number`. `run(button, request)` is how the page makes the change and shows its outcome.
 */
export function settleButtons(number, reply, run) {
  const button = (delivered) => {
    const b = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'data-testid': delivered ? 'settle-delivered' : 'settle-not-delivered' }, t(delivered ? 'reply.markDelivered' : 'reply.markNotDelivered'));
    b.onclick = () => {
      if (!window.confirm(t(delivered ? 'reply.confirmMarkDelivered' : 'reply.confirmMarkNotDelivered'))) return;
      const path = `/api/tickets/${encodeURIComponent(number)}/replies/${encodeURIComponent(reply.id)}/settle`;
      run(b, () => api(path, { method: 'POST', body: { delivered, attempts: reply.attempts } }));
    };
    return b;
  };
  return h('div', { class: 'actions' }, button(true), button(false));
}
