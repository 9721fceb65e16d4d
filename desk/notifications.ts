/**
 * Notifications for staff, kept minimal: each is an audit entry (the insert-only trail every desk
 * operation already writes), so no new collection and no new write on the bot's turn path beyond
 * the audit insert. `GET /api/notifications` (agents) lists the signed-in user's: the entries
 * whose `details.notify` is them (and, on request, those of unassigned tickets: `notify` null).
 *
 * Entry shape: `{ actor: 'customer', action, target: <ticket number>, details: { notify, … } }`.
 */
import type { AuditTrail } from './ports.js';

/** Audit actions that are notifications for the ticket's assignee. */
export const NOTIFICATION_ACTIONS = {
  /** The customer wrote on their ticket after filing (a follow-up). Details: `{ notify, length }`. */
  customerMessage: 'ticket.customer-message',
  /** The customer rated the resolved ticket. Details: `{ notify, score, comment }`. */
  rating: 'ticket.rating',
} as const;

/** The actor of entries the customer caused (through the bot). */
export const CUSTOMER_ACTOR = 'customer';

/** A notification as the console shows it. */
export interface Notification {
  /** Action, ticket and time: stable across reads (for a console's "seen" marks). */
  id: string;
  kind: 'customer-message' | 'rating';
  ticket: string;
  at: Date;
  details: Record<string, unknown>;
}

/** Entries read per action to find a user's notifications among everyone's (newest first). */
export const NOTIFICATION_SCAN = 200;

/**
 * The newest notifications for `username`: entries whose `notify` is them, and with
 * `includeUnassigned` those of unassigned tickets. Reads the newest {@link NOTIFICATION_SCAN}
 * entries of each action (a console read, never on the bot's turn path).
 */
export async function notificationsFor(
  audit: Pick<AuditTrail, 'list'>,
  username: string,
  opts: { includeUnassigned?: boolean; limit?: number } = {},
): Promise<Notification[]> {
  const kinds = [
    [NOTIFICATION_ACTIONS.customerMessage, 'customer-message'],
    [NOTIFICATION_ACTIONS.rating, 'rating'],
  ] as const;
  const out: Notification[] = [];
  for (const [action, kind] of kinds) {
    const { items } = await audit.list({ action, pageSize: NOTIFICATION_SCAN });
    for (const e of items) {
      const notify = e.details?.notify ?? null;
      if (notify === username || (opts.includeUnassigned && notify === null)) out.push({ id: `${action}:${e.target ?? ''}:${e.at.toISOString()}`, kind, ticket: e.target ?? '', at: e.at, details: e.details ?? {} });
    }
  }
  return out.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, opts.limit ?? 50);
}
