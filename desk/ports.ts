/**
 * What the application layer needs from storage, as narrow type-only interfaces. The MongoDB
 * implementations live in store/; the desk never sees a collection, and a test may hand it fakes.
 */
import type { AuditEntry, AuditQuery } from '../store/audit-log.js';
import type { NotificationKind } from '../store/notification-repository.js';
import type { CustomerIdentity, NoteInput, SatisfactionInput, Ticket, TicketAttachment, TicketCorrection, TicketCreate, TicketPatch, TicketQuery } from '../store/schemas.js';
import type { Created, Durability, PageOf, ReplyInput } from '../store/ticket-repository.js';
import type { ExampleLabels, ExampleSource, TrainingExample } from '../store/training-repository.js';

/** Ticket reads and the ticket's single write path (each write keeps the ticket's version). */
export interface TicketStore {
  /**
   * `unreachable`: the caller just found the database unreachable; the ticket goes to the outbox at once.
   * `duplicate`: the input's request id was stored already; that ticket, nothing stored (store/ticket-repository.ts).
   */
  create(input: TicketCreate, opts?: { unreachable?: boolean }): Promise<Created>;
  get(number: string): Promise<Ticket | null>;
  /** The stored ticket's number a dropped copy's provisional number stands for (no ticket holds it), or null. */
  keptFor(number: string): Promise<string | null>;
  /** The numbers of the tickets queued under `number` during an outage and stored under others at replay (another ticket took it); by `_id`. */
  alsoQuotedFor(number: string): Promise<string[]>;
  list(query?: TicketQuery): Promise<PageOf<Ticket>>;
  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
  update(number: string, patch: TicketPatch, opts?: { expectedVersion?: number; by?: string }): Promise<Ticket>;
  addNote(number: string, note: NoteInput): Promise<Ticket>;
  /** Records a staff reply; a `requestId` the ticket holds already adds nothing (store/ticket-repository.ts). */
  recordReply(number: string, reply: ReplyInput): Promise<Ticket>;
  correct(number: string, correction: { field: 'topic' | 'type'; to: string; by: string }): Promise<{ ticket: Ticket; correction: TicketCorrection }>;
  addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket>;
  rate(number: string, rating: SatisfactionInput): Promise<Ticket>;
  /** Marks reply `id` as being sent again (one attempt more); refused unless `replyToResend` allows it. */
  markReplySending(number: string, id: string, opts?: { confirmed?: boolean }): Promise<Ticket>;
  /** Sets the delivery outcome of reply `id` (its send or a retry); NotFoundError when the ticket has no such reply. */
  recordReplyOutcome(number: string, id: string, outcome: { delivered: boolean; error: string | null }): Promise<Ticket>;
  /** A person settles reply `id` of unknown outcome (store/ticket-repository.ts `replyToSettle` says when it is refused). */
  settleReply(number: string, id: string, settlement: { delivered: boolean; by: string; attempts: number }): Promise<Ticket>;
  /** Flags the ticket for review with `reason` (kept as it is when already flagged so). */
  flagForReview(number: string, reason: string): Promise<Ticket>;
  confirmReview(number: string, by: string): Promise<Ticket>;
  decideSpam(number: string, decision: { spam: boolean; by: string }): Promise<Ticket>;
  /** Replays the outbox; `onStored` runs for each ticket newly stored. */
  flushOutbox(onStored?: (ticket: Ticket) => Promise<void>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
  /** Replays only `customer`'s tickets waiting in the outbox (the rest stay for flushOutbox). */
  flushOutboxFor(customer: CustomerIdentity, onStored?: (ticket: Ticket) => Promise<void>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
  /**
   * The ticket logged by hand under a staff form's request id (outbox or database), or null when
   * there is none and the caller now holds the request (it alone files it; store/ticket-repository.ts).
   */
  claimRequest(requestId: string): Promise<{ ticket: Ticket; stored: Durability } | null>;
  /** Gives up a claimed request whose filing failed before any insert was tried. */
  releaseRequest(requestId: string): Promise<void>;
}

/**
 * A durable local spool (store/outbox.ts `FileOutbox`): here, the customer messages kept during a
 * database outage (store/held-messages.ts).
 */
export interface MessageSpool {
  append(doc: object): Promise<void>;
  pending(): number;
  /** `unknown`: no record this version knows; the spool sets it aside (store/outbox.ts), never drops it. */
  drain(apply: (doc: Record<string, unknown>) => Promise<'stored' | 'duplicate' | 'unknown'>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
}

/** Labelled examples for retraining, one per ticket. */
export interface TrainingExamples {
  record(example: { ticketNumber: string; text: string; source: ExampleSource; by: string; at: Date }, decided: Partial<ExampleLabels>, current: ExampleLabels): Promise<void>;
  recent(limit: number): Promise<TrainingExample[]>;
}

/** The insert-only audit trail. */
export interface AuditTrail {
  /** `id` and `at` for an entry made earlier and written now (the same id twice is stored once). */
  record(entry: { id?: string; at?: Date; actor: string; action: string; target?: string | null; details?: Record<string, unknown> }): Promise<void>;
  list(query?: AuditQuery): Promise<{ items: AuditEntry[]; total: number; page: number; pageSize: number }>;
}

/** Staff accounts, as far as the desk needs them (who may be assigned a ticket). */
export interface StaffDirectory {
  get(username: string): Promise<{ username: string; disabled: boolean } | null>;
}

/** Tells a staff member about a ticket (store/notification-repository.ts). */
export interface StaffNotifier {
  add(username: string, n: { kind: NotificationKind; ticket: string; by: string | null; at: Date }): Promise<void>;
}

/** Reaches the customer on the ticket's channel (the bot's proactive path). */
export interface CustomerChannel {
  /** Delivers `text`; resolves with null when the channel took it, else the channel's error. */
  deliver(ticket: Ticket, text: string): Promise<string | null>;
  /**
   * Tells the customer the ticket is resolved and asks for a 1–5 rating, in the conversation's
   * language (the bot words it); resolves with null when the channel took it, else the error.
   */
  askRating(ticket: Ticket): Promise<string | null>;
}
