/**
 * Notifications for staff, kept minimal: each is an audit entry (the insert-only trail every desk
 * operation already writes), so no new collection and no new write on the bot's turn path beyond
 * the audit insert. The console lists them with `GET /api/audit?action=<action>` and shows those
 * whose `details.notify` is the signed-in user (or all, for unassigned tickets: `notify` null).
 *
 * Entry shape: `{ actor: 'customer', action, target: <ticket number>, details: { notify, … } }`.
 */

/** Audit actions that are notifications for the ticket's assignee. */
export const NOTIFICATION_ACTIONS = {
  /** The customer wrote on their ticket after filing (a follow-up). Details: `{ notify, length }`. */
  customerMessage: 'ticket.customer-message',
  /** The customer rated the resolved ticket. Details: `{ notify, score, comment }`. */
  rating: 'ticket.rating',
} as const;

/** The actor of entries the customer caused (through the bot). */
export const CUSTOMER_ACTOR = 'customer';
