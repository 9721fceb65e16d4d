/**
 * Customer messages kept while the database is down and the conversation's state is unknown to
 * this process (it started during the outage, or another process served the conversation): a
 * "yes", "skip", a phone number, "补充：…" or "取消" that only the dialog could interpret. The bot
 * cannot process them without the state, and must not guess it; it must not lose them either
 * (issue 14). So they are appended, fsynced, to a second spool beside the ticket outbox (the same
 * {@link FileOutbox} mechanism: JSON Lines, replay in order, stops at the first failure and keeps
 * the rest), and the customer is told they were received and will be passed to staff.
 *
 * Replay (desk/tickets.ts `replayHeld`, run after the ticket outbox so a demand filed during the
 * same outage is in the database first) hands each message to staff:
 * - the demand the conversation's dialog still held, filed (for review) with the message on it, when
 *   the message answered it; a cancellation ends that dialog instead and files nothing;
 * - added to the customer's open ticket (the newest one created before the message), as the bot
 *   adds "补充：…" and follow-ups; or
 * - filed as a new ticket from {@link HeldMessage.ticket} (needs review, reason `held-during-outage`),
 *   carrying the conversation reference so staff can answer in the conversation.
 * A replay interrupted between the write and the removal of the line could write twice; replay
 * checks first (the same text on that ticket, or among the customer's tickets, since the message
 * was received) and skips it, so a message is stored once.
 *
 * The same spool keeps what follows a change already made and must not be lost while the database
 * is away ({@link KeptWrite}): the audit entry of a change already stored (a staff reply sent, a
 * status change, a note, a live chat taken …: desk/tickets.ts `auditAfterChange`), a customer's
 * request for a person on their open ticket (its review flag), and the notice telling a customer
 * their live chat was taken, handed back, ended or not taken in time, when their channel could not
 * take it (web chat delivers through the database). They are replayed in the same pass, in order
 * with the messages; the writes are idempotent (the audit entry by its own id, the flag by what the
 * ticket already holds); a notice is sent once, unless the replay stops between sending it and
 * removing its line (a crash), when the customer may read it twice.
 */
import { basename, dirname, join } from 'node:path';
import { BSON } from 'mongodb';
import type { TicketCreate } from './schemas.js';

/** Review reason of a ticket filed from a held message. */
export const HELD_REVIEW_REASON = 'held-during-outage';

/** One kept message, as stored in the spool (dates as EJSON). */
export interface HeldMessage {
  kind: 'held-message';
  /** Unique id of the kept message (for logs). */
  id: string;
  /** When the message arrived. */
  receivedAt: Date;
  /** The bot's conversation id (for logs and staff; the ticket input carries the full reference). */
  conversationId: string;
  /** The customer cancelled ("取消"): replay ends the dialog under way and files nothing. */
  cancel?: boolean;
  /**
   * The ticket to file when the customer has no open ticket to add the message to: the customer,
   * the conversation reference, the text and its classification (needs review).
   */
  ticket: TicketCreate;
}

/** Where held messages are spooled, beside the ticket outbox: `tickets.jsonl` → `tickets.held.jsonl`. */
export function heldMessagesPath(outboxPath: string): string {
  const name = basename(outboxPath).replace(/\.jsonl$/i, '');
  return join(dirname(outboxPath), `${name}.held.jsonl`);
}

/**
 * A spooled record as a held message, or null when it is not one (replay sets it aside in the
 * spool's quarantine file, store/outbox.ts: never blocks the rest, never lost). The spool keeps canonical Extended JSON, whose numbers read back as BSON wrappers; the
 * ticket input is validated as plain JSON, so the record is read back in relaxed form.
 */
export function readHeldMessage(doc: unknown): HeldMessage | null {
  const d = BSON.EJSON.parse(BSON.EJSON.stringify(doc, { relaxed: true }), { relaxed: true }) as Partial<HeldMessage> | null;
  const ok = d?.kind === 'held-message' && d.receivedAt instanceof Date && typeof d.ticket?.text?.original === 'string' && typeof d.ticket.customer?.userId === 'string';
  return ok ? (d as HeldMessage) : null;
}

/** An audit entry that could not be stored when its change was made (kept with its id and time). */
export interface KeptAuditEntry {
  kind: 'audit-entry';
  entry: { id: string; at: Date; actor: string; action: string; target: string | null; details: Record<string, unknown> };
}

/**
 * A customer's request for a person, added to their open ticket while the database failed before
 * the queue entry: the ticket is to be flagged for review with `reason` (customer-asked-for-person).
 */
export interface KeptReviewFlag {
  kind: 'review-flag';
  ticket: string;
  reason: string;
  /** When the customer asked. */
  at: Date;
}

/**
 * A notice to a customer about their live chat (desk/handover.ts) that their channel could not take
 * when the change was made: delivered on the channel named by ticket `ticket` at the replay.
 */
export interface KeptNotice {
  kind: 'customer-notice';
  ticket: string;
  text: string;
  /** The live chat it is about (for logs). */
  handoverId: string;
  /** When it was first tried. */
  at: Date;
}

/** A write kept in the spool for the database (see the module comment). */
export type KeptWrite = KeptAuditEntry | KeptReviewFlag | KeptNotice;

/** A spooled record as a kept write, or null when it is not one (see {@link readHeldMessage}). */
export function readKeptWrite(doc: unknown): KeptWrite | null {
  const d = BSON.EJSON.parse(BSON.EJSON.stringify(doc, { relaxed: true }), { relaxed: true }) as Partial<KeptAuditEntry> & Partial<KeptReviewFlag> & Partial<KeptNotice>;
  if (d?.kind === 'audit-entry' && typeof d.entry?.id === 'string' && d.entry.at instanceof Date && typeof d.entry.action === 'string') return d as KeptAuditEntry;
  if (d?.kind === 'review-flag' && typeof d.ticket === 'string' && typeof d.reason === 'string' && d.at instanceof Date) return d as KeptReviewFlag;
  if (d?.kind === 'customer-notice' && typeof d.ticket === 'string' && typeof d.text === 'string' && typeof d.handoverId === 'string' && d.at instanceof Date) return d as KeptNotice;
  return null;
}
