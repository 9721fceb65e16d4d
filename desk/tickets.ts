/**
 * Tickets, as business operations: each one owns its writes, the training example it produces,
 * its audit entry and its typed errors, so every caller (bot, staff API, CLI, tests) gets the same
 * behaviour. Ticket writes go through the repository's write methods only (they keep the version
 * and whatever the repository maintains beside the ticket).
 *
 * Two writes, one failure between them. A staff decision that teaches the classifier (correction,
 * review confirmation, spam decision) writes the training example FIRST, then the ticket. The
 * example is an idempotent upsert keyed by the ticket number holding the person's decision, which
 * is true of the text whether or not the ticket write then succeeds; if the ticket write fails the
 * caller gets the error and retrying repeats both writes harmlessly. The other order could leave a
 * corrected ticket whose example is missing for good, silently (the bug this replaces).
 */
import { randomUUID } from 'node:crypto';
import type { Classification } from '../classifier/demand-classifier.js';
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { AppError } from '../core/app-error.js';
import { isUnavailable, NotFoundError, ValidationError } from '../store/errors.js';
import type { CustomerIdentity, NoteInput, Priority, UndeliveredNotice, SatisfactionInput, Ticket, TicketAttachment, TicketCorrection, TicketCreate, TicketPatch, TicketQuery, TicketStatus } from '../store/schemas.js';
import { DEFAULT_DUE_HOURS, workingDayOf, type DueHours, type WorkingDayFields } from '../store/working-day.js';
import { ticketClassification } from './classification.js';
import type { Created, Durability, PageOf } from '../store/ticket-repository.js';
import type { ExampleLabels, ExampleSource } from '../store/training-repository.js';
import { ticketView, type TicketView } from './classification.js';
import type { DeskEvents } from './events.js';
import type { NotificationKind } from '../store/notification-repository.js';

/** The actor of audit entries the customer caused (through the bot). */
const CUSTOMER_ACTOR = 'customer';
import type { AuditTrail, CustomerChannel, MessageSpool, StaffDirectory, StaffNotifier, TicketStore, TrainingExamples } from './ports.js';
import { HELD_REVIEW_REASON, readHeldMessage, readKeptWrite, type HeldMessage, type KeptAuditEntry, type KeptNotice, type KeptReviewFlag, type KeptWrite } from '../store/held-messages.js';
import { mayHaveApplied, transientFailure } from '../store/transient-errors.js';
import { ASKED_FOR_PERSON } from './classification.js';

/** Channels staff log a customer's demand from (calls, visits, letters …), as the ticket's channel id. */
export const STAFF_CHANNELS = ['phone', 'walk-in', 'letter', 'email', 'other'] as const;
export type StaffChannel = (typeof STAFF_CHANNELS)[number];

/** A demand a staff member logs for a customer (a call, a visit, a letter). */
export interface StaffFiledDemand {
  channel: StaffChannel;
  text: string;
  customer: { name?: string; phone?: string; email?: string };
  priority?: Priority;
  /** The form's request id (idempotency key): the same one twice is one ticket. */
  requestId?: string;
}

/** What logging a demand by hand did: where the ticket is, and whether an earlier submit made it. */
export interface StaffFiling {
  ticket: Ticket;
  /** `outbox`: the database is unreachable; the ticket waits under a provisional number. */
  stored: Durability;
  /** True when the request id was used before: nothing new was filed, this is that ticket. */
  duplicate: boolean;
}

/** A ticket as the staff API returns it: with its explanation and its working-day fields. */
export type StaffTicket = TicketView & WorkingDayFields;

/** A ticket opened by its number (`GET /api/tickets/{number}`): with the tickets queued under that number and stored under others ({@link TicketService.open}). */
export type OpenedTicket = StaffTicket & { alsoQuotedFor: { number: string }[] };

/** One bulk action, applied to each ticket. */
export type BulkAction = { action: 'assign'; assignee: string | null } | { action: 'status'; status: TicketStatus } | { action: 'spam'; spam: boolean };

/** What happened to one ticket of a bulk action. */
export type BulkOutcome = { number: string; ok: true; version: number } | { number: string; ok: false; code: string; message: string };

export interface TicketServiceDeps {
  tickets: TicketStore;
  /** Valid topic ids (the taxonomy's). */
  topics: readonly string[];
  training: TrainingExamples;
  audit: AuditTrail;
  /** The customer's channel for staff replies; null until the bot's channels are mounted. */
  channel: () => CustomerChannel | null;
  /** Staff accounts: an assignee must be an active one (without it, any name is accepted). */
  staff?: StaffDirectory;
  /** Notifies an assignee (assigned to them, their customer replied); without it, nobody is told. */
  notifier?: StaffNotifier;
  /** Where a notification that could not be stored is reported (the change it follows is stored regardless). */
  log?: { warn: (obj: object, msg: string) => void };
  /** Hours until a ticket is due, per priority. */
  dueHours?: DueHours;
  /** Live updates for the console (ticket filed, customer wrote); none when omitted. */
  events?: DeskEvents;
  /** Customer messages kept during a database outage (store/held-messages.ts); none when omitted. */
  held?: MessageSpool;
  now?: () => Date;
}

/** A demand the intake dialog held when a message answering it was kept during an outage. */
export interface HeldDraft {
  text: string;
  classification: Classification;
  topic: string | null;
  type: string | null;
  contact?: { phone?: string; email?: string };
}

/** The bot's conversations, as replaying held messages needs them (bot/app.ts). */
export interface HeldConversations {
  /** The demand the message's conversation's dialog is still asking about, if any. */
  draftOf(message: HeldMessage): Promise<HeldDraft | null>;
  /**
   * Ends the dialog that held `draft` (on the filed ticket, the conversation then being about it; or
   * on nothing, for a cancellation), unless the conversation moved on meanwhile.
   */
  settle(message: HeldMessage, draft: HeldDraft, ticket: Ticket | null): Promise<void>;
}

/** What replaying the outbox did: tickets, then held messages (`remaining` counts both). */
export interface OutboxReplay {
  replayed: number;
  duplicates: number;
  remaining: number;
  /** Held messages: added to an open ticket, filed as new tickets, cancellations, skipped as already stored, left. */
  held: { attached: number; filed: number; cancelled: number; duplicates: number; remaining: number };
}

/**
 * A staff reply that was not sent because the database could not record it first: nothing reached
 * the customer, so sending it again is safe (HTTP 503).
 */
export class ReplyNotSentError extends AppError {
  readonly code = 'REPLY_NOT_SENT';
}

/**
 * The write a reply's send waits for (`sending` recorded first): the database being unreachable
 * there means nothing was sent, which the staff member must hear as such (ReplyNotSentError, 503),
 * not as a generic failure. Other errors pass unchanged.
 */
function notSentIfUnavailable<T>(write: Promise<T>, what: 'sent' | 'sent again'): Promise<T> {
  return write.catch((err: unknown) => {
    if (!isUnavailable(err)) throw err;
    throw new ReplyNotSentError(`the database is unavailable, so the reply was not ${what} (nothing reached the customer); send it again when it is back`, { cause: err });
  });
}

/** What sending a staff reply (or sending it again) did. */
export interface ReplyOutcome {
  ticket: StaffTicket;
  /** The reply's id on the ticket. */
  replyId: string;
  /** Whether the channel took it (false: refused, with the channel's error on the reply). */
  delivered: boolean;
  /**
   * False when it was sent but its outcome could not be recorded (the database went away): the
   * ticket shows it `sending` (outcome unknown), and it must not be sent again without a person's say.
   */
  recorded: boolean;
  /** True for a double submit (the same request id): nothing was sent; the first submit's reply. */
  duplicate: boolean;
}

/** The version an edit was based on, for optimistic concurrency (409 when someone changed it since). */
export interface EditOptions {
  expectedVersion?: number;
}

export class TicketService {
  private readonly now: () => Date;
  private heldConversations: HeldConversations | null = null;
  /** Filings under way by request id: a double submit waits for the first one and gets its ticket. */
  private readonly filing = new Map<string, Promise<StaffFiling>>();

  constructor(private readonly deps: TicketServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Files a ticket. The number is durable when this resolves (database, or the local outbox when
   * the database is unreachable). The customer's document and the statistics counters follow
   * through the repository's change hook (also when the outbox is replayed).
   */
  async file(input: TicketCreate, opts: { unreachable?: boolean } = {}): Promise<Created> {
    const r = await this.deps.tickets.create(input, opts);
    if (!r.duplicate) this.deps.events?.publish({ type: 'ticket.created', ticketNumber: r.ticket.number, channelId: r.ticket.customer.channelId });
    return r;
  }

  /**
   * Replays the outbox into the database, idempotently by ticket number, then the held messages
   * (after the tickets: a held "补充：…" may belong to a demand filed during the same outage).
   */
  async flushOutbox(): Promise<OutboxReplay> {
    const tickets = await this.deps.tickets.flushOutbox((t) => this.auditReplayed(t));
    const held = await this.replayHeld();
    return { ...tickets, remaining: tickets.remaining + held.remaining, held };
  }

  /**
   * Keeps a customer message the bot could not interpret during a database outage (fsynced before
   * this resolves; store/held-messages.ts). Throws when there is no spool or it cannot be written.
   */
  async hold(message: HeldMessage): Promise<void> {
    if (!this.deps.held) throw new Error('no spool for held messages is configured');
    await this.deps.held.append(message);
  }

  /** Held messages waiting for the database. */
  heldPending(): number {
    return this.deps.held?.pending() ?? 0;
  }

  /** Registers the bot's view of conversations for replaying held messages (bot/app.ts). */
  useHeldConversations(conversations: HeldConversations): void {
    this.heldConversations = conversations;
  }

  /**
   * Hands each held message to staff, once the database is back:
   * - its conversation's dialog still holds the demand the message answered (a "对" to "is this
   *   about …?"): that demand is filed (for review, with any contact the dialog had), the dialog
   *   ended on it (the conversation is then about that ticket), and the message added to it;
   * - else added to the customer's open ticket created before it;
   * - else filed as a ticket for review;
   * - a cancellation ("取消") ends the dialog under way, if any, and files nothing.
   * Every step checks first, so a replay interrupted anywhere and run again stores each thing once.
   */
  async replayHeld(): Promise<OutboxReplay['held']> {
    const out = { attached: 0, filed: 0, cancelled: 0, duplicates: 0, remaining: 0 };
    if (!this.deps.held || this.deps.held.pending() === 0) return out;
    const r = await this.deps.held.drain(async (doc) => {
      const kept = readKeptWrite(doc);
      if (kept) return this.replayKept(kept);
      const m = readHeldMessage(doc);
      // No record this version knows (a kind a newer one wrote): set aside beside the spool, never
      // dropped and never blocking the rest (store/outbox.ts).
      if (!m) return 'unknown';
      const { channelId, userId } = m.ticket.customer;
      const text = m.ticket.text.original;
      const since = m.receivedAt.getTime();
      const recent = (await this.deps.tickets.list({ customerUserId: userId, channelId, pageSize: 20, sort: '-createdAt' })).items;
      const draft = (await this.heldConversations?.draftOf(m)) ?? null;
      if (m.cancel) {
        // "取消": the demand under way is dropped, as the dialog would have; nothing to file.
        if (draft) await this.heldConversations!.settle(m, draft, null);
        out.cancelled++;
        return 'stored';
      }
      if (draft) {
        // Filed already by an interrupted replay (the newest ticket with the draft's text since then)?
        let ticket = recent.find((t) => t.text.original === draft.text && t.createdAt.getTime() >= since) ?? null;
        if (!ticket) {
          const filed = await this.file({
            ...m.ticket,
            ...(draft.contact && Object.keys(draft.contact).length ? { contact: draft.contact } : {}),
            text: { original: draft.text, normalized: draft.classification.normalized },
            classification: ticketClassification(draft.classification, { topic: draft.topic, type: draft.type }, HELD_REVIEW_REASON),
          });
          // Gone again: the ticket waits in the outbox, which is replayed before this next time.
          if (filed.stored !== 'database') throw new Error('the database went away while replaying held messages');
          ticket = filed.ticket;
          out.filed++;
        }
        await this.heldConversations!.settle(m, draft, ticket);
        if (!ticket.messages.some((x) => x.text === text && x.at.getTime() >= since)) await this.addCustomerMessage(ticket.number, text);
        return 'stored';
      }
      // Stored already by an interrupted replay: as a ticket of its own, or on one of the customer's tickets.
      if (recent.some((t) => (t.text.original === text && t.createdAt.getTime() >= since) || t.messages.some((x) => x.text === text && x.at.getTime() >= since))) return 'duplicate';
      const open = await this.deps.tickets.latestOpenFor(channelId, userId);
      if (open && open.createdAt.getTime() <= since) {
        await this.addCustomerMessage(open.number, text);
        out.attached++;
        return 'stored';
      }
      // Into the database, or (gone again) the ticket outbox: kept either way.
      await this.file(m.ticket);
      out.filed++;
      return 'stored';
    });
    out.duplicates = r.duplicates;
    out.remaining = r.remaining;
    return out;
  }

  /**
   * Writes a kept write (store/held-messages.ts `KeptWrite`): the audit entry under its own id (a
   * duplicate key: stored by an earlier replay), or the ticket's review flag (already flagged: no
   * write). A ticket gone meanwhile (deleted) has nothing to flag. An error stops the replay, which
   * keeps the record for the next one.
   */
  private async replayKept(kept: KeptWrite): Promise<'stored' | 'duplicate'> {
    if (kept.kind === 'customer-notice') return this.replayNotice(kept);
    if (kept.kind === 'audit-entry') {
      await this.deps.audit.record(kept.entry);
      return 'stored';
    }
    try {
      await this.deps.tickets.flagForReview(kept.ticket, kept.reason);
      return 'stored';
    } catch (err) {
      if (err instanceof NotFoundError) return 'duplicate';
      throw err;
    }
  }

  /**
   * Delivers a kept notice (store/held-messages.ts `KeptNotice`) on the channel its ticket names; a
   * ticket gone meanwhile has nobody to tell. The database unreachable (the ticket's read), or no
   * customer channel in this process yet, stops the replay, which keeps the notice for the next one.
   * A channel that refuses it while the database answers will not take it later either, so it is not
   * retried for ever: it is recorded as not delivered, as a refused staff reply is, so staff know the
   * customer was not told: a note on the ticket (`undeliveredNotice`: what the customer was to be
   * told, and the channel's error) and the audit entry `handover.notice` (`delivered: false`). The
   * note not written (the database gone again) keeps the notice for the next replay.
   */
  private async replayNotice(n: KeptNotice): Promise<'stored' | 'duplicate'> {
    const t = await this.deps.tickets.get(n.ticket);
    if (!t) return 'duplicate';
    const channel = this.deps.channel();
    if (!channel) throw new Error('no customer channel in this process yet: the live chat notice waits');
    const error = await channel.deliver(t, n.text).catch((err: Error) => err.message);
    if (!error) return 'stored';
    const facts = { handoverId: n.handoverId, text: n.text, error: error.slice(0, 500), triedAt: n.at.toISOString() };
    try {
      await this.annotate(n.ticket, undeliveredNoticeText(facts), 'bot', { undeliveredNotice: facts });
    } catch (err) {
      if (err instanceof NotFoundError) return 'duplicate'; // deleted meanwhile: nobody to tell
      throw err; // the database gone again: kept for the next replay
    }
    await this.auditAfterChange('bot', 'handover.notice', n.ticket, { handoverId: n.handoverId, delivered: false, error: facts.error, triedAt: facts.triedAt });
    this.deps.log?.warn({ ticket: n.ticket, handoverId: n.handoverId, error: facts.error }, 'kept live chat notice not delivered; recorded on the ticket');
    return 'stored';
  }

  /**
   * Keeps a notice about a customer's live chat (taken, handed back, ended, not taken in time) that
   * their channel could not take when the change was made (web chat delivers through the database):
   * in the spool of held messages, delivered by the replay once the database is back
   * ({@link replayNotice}). False, and logged, without a spool or when the spool fails.
   */
  async keepNotice(n: Omit<KeptNotice, 'kind' | 'at'>): Promise<boolean> {
    if (!this.deps.held) return false;
    try {
      await this.deps.held.append({ kind: 'customer-notice', ...n, at: this.now() } satisfies KeptNotice);
      return true;
    } catch (err) {
      this.deps.log?.warn({ ticket: n.ticket, handoverId: n.handoverId, err: (err as Error).message }, 'live chat notice could not be kept');
      return false;
    }
  }

  /**
   * Keeps a write that follows a change already made, when the database cannot take it now: in the
   * spool of held messages, which the replay (flushOutbox, every few seconds in the server) writes
   * once the database is back. Only an outage or a transient failure is kept (anything else would
   * stop the replay for good); without a spool, or when the spool fails too, it is logged.
   */
  private async keep(write: KeptWrite, err: unknown, what: Record<string, unknown>): Promise<void> {
    const passing = isUnavailable(err) || mayHaveApplied(err) || transientFailure(err) !== null;
    if (this.deps.held && passing) {
      try {
        await this.deps.held.append(write);
        this.deps.log?.warn({ ...what, err: (err as Error).message }, `${write.kind} not stored now; kept, and written when the database is back`);
        return;
      } catch (spoolErr) {
        this.deps.log?.warn({ ...what, err: (err as Error).message, spool: (spoolErr as Error).message }, `${write.kind} not stored, and could not be kept either`);
        return;
      }
    }
    this.deps.log?.warn({ ...what, err: (err as Error).message }, `${write.kind} not stored`);
  }

  /**
   * A customer asked for a person on their open ticket, and nobody could be queued because the
   * database failed just before the queue entry: the ticket is to be flagged for staff (review
   * reason {@link ASKED_FOR_PERSON}). The flag is kept in the spool and written by the replay once
   * the database is back (within seconds in the server): writing it now would make the customer's
   * turn wait out another database timeout first. Without a spool it is written now. Never throws an
   * outage: the customer is told the truth either way.
   */
  async flagAskedForPerson(number: string): Promise<void> {
    const kept: KeptReviewFlag = { kind: 'review-flag', ticket: number, reason: ASKED_FOR_PERSON, at: new Date() };
    if (this.deps.held) {
      try {
        await this.deps.held.append(kept);
        return;
      } catch (err) {
        this.deps.log?.warn({ ticket: number, err: (err as Error).message }, 'review flag could not be kept; writing it now');
      }
    }
    try {
      await this.deps.tickets.flagForReview(number, ASKED_FOR_PERSON);
    } catch (err) {
      this.deps.log?.warn({ ticket: number, err: (err as Error).message }, 'review-flag not stored');
    }
  }

  /**
   * A person settles a reply whose delivery outcome is unknown (送达结果未知): `delivered` when the
   * customer confirmed they have it; not delivered, so it can be sent again like any refused reply
   * (without the confirmation). `attempts` is the attempt the person saw. Refused with a
   * ConflictError (409) when the outcome is known or another attempt is under way (a resend and a
   * settlement at once: the first one stored wins). Audited (`ticket.reply-settle`, who and when;
   * kept for later when the database goes away right after the settlement).
   */
  async settleReply(number: string, replyId: string, by: string, s: { delivered: boolean; attempts: number }): Promise<StaffTicket> {
    const t = await this.deps.tickets.settleReply(number, replyId, { delivered: s.delivered, by, attempts: s.attempts });
    await this.auditAfterChange(by, 'ticket.reply-settle', t.number, { reply: replyId, delivered: s.delivered, attempts: s.attempts });
    return this.staffView(t);
  }

  /** A ticket, or NotFoundError. */
  async get(number: string): Promise<Ticket> {
    const t = await this.deps.tickets.get(number);
    if (!t) throw new NotFoundError(`ticket ${number} not found`);
    return t;
  }

  /**
   * What a staff member opening `number` reaches: the ticket holding it (with the explanation of its
   * classification and its due time: what the console shows; `alsoQuotedFor`: the tickets queued
   * under this number during an outage and stored under others because this one had taken it, which
   * whoever was given the number is looking for), else the stored ticket a provisional number stands
   * for (`storedAs`: a form sent again during an outage, whose queued copy the replay dropped for the
   * ticket stored before), else NotFoundError. The two reads by `_id` run side by side.
   */
  async open(number: string): Promise<{ ticket: OpenedTicket } | { storedAs: string }> {
    const [t, moved] = await Promise.all([this.deps.tickets.get(number), this.deps.tickets.alsoQuotedFor(number)]);
    if (t) return { ticket: { ...this.staffView(t), alsoQuotedFor: moved.filter((n) => n !== t.number).map((n) => ({ number: n })) } };
    const kept = await this.deps.tickets.keptFor(number);
    if (kept) return { storedAs: kept };
    throw new NotFoundError(`ticket ${number} not found`);
  }

  /** A ticket as staff see it: explanation, due time, waiting for the customer, overdue. */
  staffView(t: Ticket): StaffTicket {
    return { ...ticketView(t), ...workingDayOf(t, this.deps.dueHours ?? DEFAULT_DUE_HOURS, this.now()) };
  }

  /** A page of tickets as staff see them (due time, waiting, overdue on each). */
  async listForStaff(query?: TicketQuery): Promise<PageOf<Ticket & WorkingDayFields>> {
    const page = await this.deps.tickets.list(query);
    const hours = this.deps.dueHours ?? DEFAULT_DUE_HOURS;
    const now = this.now();
    return { ...page, items: page.items.map((t) => ({ ...t, ...workingDayOf(t, hours, now) })) };
  }

  /**
   * Files a demand staff took by phone, at the counter or by letter: classified like any other
   * (the caller passes the live classifier's result), filed through the same path as the bot's, under
   * the channel it came by, so the customer's profile and channel preference count it. Staff vouch
   * for the customer, so a spam reading only flags it for review; it is never refused.
   *
   * With the database unreachable it waits in the outbox like a customer's ticket (`stored:
   * 'outbox'`, a provisional number), and its audit entry is written when it is replayed. A
   * `requestId` used before returns that ticket (`duplicate: true`), wherever it is.
   */
  async fileForCustomer(demand: StaffFiledDemand, c: Classification, by: string): Promise<StaffFiling> {
    const id = demand.requestId;
    if (!id) return this.fileNew(demand, c, by);
    const under = this.filing.get(id);
    if (under) return { ...(await under), duplicate: true };
    const run = this.fileOnce(demand, c, by, id);
    this.filing.set(id, run);
    try {
      return await run;
    } finally {
      this.filing.delete(id);
    }
  }

  /**
   * A request id's filing: the ticket an earlier submit made, else a new one. The request is claimed
   * first, so another process sent the same request at the same instant files nothing and answers
   * with this one's ticket (or this one with its).
   */
  private async fileOnce(demand: StaffFiledDemand, c: Classification, by: string, requestId: string): Promise<StaffFiling> {
    try {
      const earlier = await this.deps.tickets.claimRequest(requestId);
      if (earlier) return { ...earlier, duplicate: true };
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      // The database unreachable here: the outbox had none, and a copy the database may hold is
      // found at replay (by the request's note), which then stores this one as a duplicate. The
      // ticket goes to the outbox without waiting for the database a second time.
      return this.fileNew(demand, c, by, { unreachable: true });
    }
    try {
      return await this.fileNew(demand, c, by);
    } catch (err) {
      // Failed before an insert (refused, say): the same form sent again must not wait for this claim.
      await this.deps.tickets.releaseRequest(requestId).catch((releaseErr: Error) => this.deps.log?.warn({ requestId, err: releaseErr.message }, 'request claim not released; it is taken over once stale'));
      throw err;
    }
  }

  private async fileNew(demand: StaffFiledDemand, c: Classification, by: string, opts: { unreachable?: boolean } = {}): Promise<StaffFiling> {
    const contact = { ...(demand.customer.phone ? { phone: demand.customer.phone } : {}), ...(demand.customer.email ? { email: demand.customer.email } : {}) };
    // One identity per contact detail, so a second call from the same number is the same customer.
    const userId = demand.customer.phone ? `tel:${demand.customer.phone.replace(/[^\d+]/g, '')}` : demand.customer.email ? demand.customer.email.toLowerCase() : `${demand.channel}:${randomUUID()}`;
    const classification = ticketClassification(c.spam ? { ...c, spam: false, suspectedSpam: true, needsReview: true } : c, { topic: c.spam ? null : c.topic, type: c.spam ? null : c.type }, c.spam ? 'possible-spam' : undefined);
    const r = await this.file({
      customer: { channelId: demand.channel, userId, ...(demand.customer.name ? { name: demand.customer.name } : {}) },
      conversationRef: null,
      ...(Object.keys(contact).length ? { contact } : {}),
      text: { original: demand.text, normalized: c.normalized },
      classification,
      priority: demand.priority ?? 'normal',
      ...(demand.requestId ? { requestId: demand.requestId } : {}),
      filedBy: by,
    }, opts);
    // Its request stored by another filing meanwhile (this one was slower than the takeover of its claim): that one's, audited there.
    if (r.duplicate) return { ticket: r.ticket, stored: r.stored, duplicate: true };
    // In the outbox, the database cannot take the audit entry either: the replay writes it (auditReplayed).
    if (r.stored === 'database') await this.auditAfterChange(by, 'ticket.file', r.ticket.number, { channel: demand.channel, stored: r.stored });
    return { ...r, duplicate: false };
  }

  /**
   * The audit entry of a ticket logged by hand while the database was unreachable, written when the
   * replay stores it. Never thrown: the ticket is stored, and an error would keep its outbox record
   * for a replay that then finds it stored and skips it; an entry the database cannot take now is
   * kept like a sent reply's ({@link auditAfterChange}).
   */
  private async auditReplayed(t: Ticket): Promise<void> {
    if (!t.filedBy) return;
    const details = { channel: t.customer.channelId, stored: 'outbox', ...(t.formerNumber ? { formerNumber: t.formerNumber } : {}) };
    await this.auditAfterChange(t.filedBy, 'ticket.file', t.number, details);
  }

  /** Ticket lookups for the bot (null when absent; a customer asking is not an error). */
  find(number: string): Promise<Ticket | null> {
    return this.deps.tickets.get(number);
  }

  list(query?: TicketQuery): Promise<PageOf<Ticket>> {
    return this.deps.tickets.list(query);
  }

  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null> {
    return this.deps.tickets.latestOpenFor(channelId, userId);
  }

  /**
   * The ticket a customer means by the number they were given: that ticket when it is theirs; or
   * theirs that was stored under a new number because the number was taken while it waited in the
   * outbox (`formerNumber`); null when they have none by that number (another customer's ticket
   * is never returned). Quoted numbers are upper-cased.
   */
  async forCustomer(number: string, customer: CustomerIdentity): Promise<Ticket | null> {
    const quoted = number.toUpperCase();
    const t = await this.deps.tickets.get(quoted);
    if (!t) return null;
    if (t.customer.channelId === customer.channelId && t.customer.userId === customer.userId) return t;
    // Theirs, renumbered: it kept the creation day its former number names, so look through their
    // tickets newest first, a page at a time, down to that day.
    const day = quoted.replace(/^T(\d{4})(\d{2})(\d{2})-.*$/, '$1-$2-$3');
    for (let page = 1; ; page++) {
      const theirs = await this.deps.tickets.list({ channelId: customer.channelId, customerUserId: customer.userId, pageSize: 100, sort: '-createdAt', page });
      const found = theirs.items.find((i) => i.formerNumber === quoted);
      if (found) return found;
      if (theirs.items.length < theirs.pageSize || page * theirs.pageSize >= theirs.total || theirs.items.some((i) => i.createdDay < day)) return null;
    }
  }

  /**
   * The customer's ticket quoted as `number` as the database holds it (see forCustomer). A ticket
   * the database does not have may still wait in the outbox, under a number another ticket can take
   * before the replay: the customer's own waiting tickets are replayed first, so the ticket is found
   * under the number it is stored under, never another customer's. Null when it still waits (the
   * replay stopped: the database went away again) or when the customer has no ticket by that number.
   */
  async filedFor(number: string, customer: CustomerIdentity): Promise<Ticket | null> {
    const found = await this.forCustomer(number, customer);
    if (found) return found;
    // Only this customer's tickets: after a long outage the whole outbox can take many seconds,
    // which their turn would wait for; everybody else's stay for the background job. Tickets only:
    // held messages replay after them, there too (see flushOutbox). Read again even when this
    // replay stored nothing: the background job may have stored it meanwhile.
    await this.deps.tickets.flushOutboxFor(customer, (t) => this.auditReplayed(t));
    return this.forCustomer(number, customer);
  }

  /** The number of the customer's ticket quoted as `number` (see filedFor), or NotFoundError. */
  private async requireForCustomer(number: string, customer: CustomerIdentity): Promise<string> {
    const t = await this.filedFor(number, customer);
    if (!t) throw new NotFoundError(`ticket ${number} not found`);
    return t.number;
  }

  /**
   * The customer writes on their ticket (a follow-up from the bot, or a line of a live chat):
   * appended as a customer message, and the assignee notified. Published as
   * `ticket.customerMessage` unless `live` (a live chat publishes its own `live.message`).
   * `attachments` are media the customer sent with it (a picture on WeChat).
   */
  async addCustomerMessage(number: string, text: string, opts: { live?: boolean; attachments?: TicketAttachment[]; customer?: CustomerIdentity } = {}): Promise<Ticket> {
    const target = opts.customer ? await this.requireForCustomer(number, opts.customer) : number;
    const t = await this.deps.tickets.addCustomerMessage(target, text, opts.attachments);
    if (!opts.live) this.deps.events?.publish({ type: 'ticket.customerMessage', ticketNumber: t.number, text });
    if (t.assignee) await this.notify(t.assignee, { kind: 'customer-replied', ticket: t.number, by: null });
    return t;
  }

  /** The customer's satisfaction rating (满意度), 1–5 with an optional comment; the assignee is notified. */
  async rate(number: string, rating: SatisfactionInput, customer?: CustomerIdentity): Promise<Ticket> {
    const t = await this.deps.tickets.rate(customer ? await this.requireForCustomer(number, customer) : number, rating);
    await this.auditAfterChange(CUSTOMER_ACTOR, 'ticket.rating', t.number, { score: rating.score, comment: t.satisfaction?.comment ?? null });
    if (t.assignee) await this.notify(t.assignee, { kind: 'rated', ticket: t.number, by: null });
    return t;
  }

  /**
   * Sends an undelivered reply again on the ticket's channel, in the order of {@link reply}: the
   * attempt is recorded first (the reply `sending`), then sent, then its outcome recorded. A
   * delivered reply is never sent again, and one whose outcome is unknown (still `sending`: it may
   * have reached the customer) only when the staff member `confirmed` it (ValidationError otherwise;
   * ConflictError for a delivered one).
   */
  async retryReply(number: string, replyId: string, by: string, opts: { confirmed?: boolean } = {}): Promise<ReplyOutcome> {
    const marked = await notSentIfUnavailable(this.deps.tickets.markReplySending(number, replyId, { confirmed: opts.confirmed === true }), 'sent again');
    const reply = marked.replies.find((r) => r.id === replyId)!;
    const error = await this.send(marked, reply.text);
    return this.settle(marked, replyId, error, by, 'ticket.reply-retry', { reply: replyId, ...(opts.confirmed ? { confirmed: true } : {}) });
  }

  /**
   * Changes status, assignee or priority; audited with each field's before and after. An assignee
   * must be an active staff account; the new assignee is notified (unless they assigned themselves).
   */
  async change(number: string, patch: TicketPatch, by: string, opts: EditOptions = {}): Promise<StaffTicket> {
    // The account's own spelling of the name (user names are case-insensitive), so views match it.
    if (patch.assignee) patch = { ...patch, assignee: await this.checkAssignee(patch.assignee) };
    const before = await this.get(number);
    const t = await this.deps.tickets.update(number, patch, { expectedVersion: opts.expectedVersion, by });
    const keys = Object.keys(patch) as (keyof TicketPatch)[];
    const changes = Object.fromEntries(keys.map((k) => [k, { from: before[k] ?? null, to: t[k] ?? null }]));
    await this.auditAfterChange(by, 'ticket.update', t.number, changes);
    if (t.status === 'resolved' && before.status !== 'resolved' && !t.spam) await this.tellResolved(t, by);
    if (t.assignee !== before.assignee) this.deps.events?.publish({ type: 'ticket.assigned', ticketNumber: t.number, assignee: t.assignee, by });
    if (t.assignee && t.assignee !== before.assignee && t.assignee !== by) await this.notify(t.assignee, { kind: 'assigned', ticket: t.number, by });
    return this.staffView(t);
  }

  /**
   * One action on several tickets in one request: each ticket gets its own outcome (a refused
   * status change on one does not stop the others), each change is audited as a single one would
   * be, and the bulk request itself is audited with its counts.
   */
  async bulk(numbers: readonly string[], action: BulkAction, by: string): Promise<BulkOutcome[]> {
    if (action.action === 'assign' && action.assignee) action = { ...action, assignee: await this.checkAssignee(action.assignee) };
    const outcomes: BulkOutcome[] = [];
    for (const number of [...new Set(numbers)]) {
      try {
        const t =
          action.action === 'assign'
            ? await this.change(number, { assignee: action.assignee }, by)
            : action.action === 'status'
              ? await this.change(number, { status: action.status }, by)
              : await this.decideSpam(number, action.spam, by);
        outcomes.push({ number, ok: true, version: t.version });
      } catch (err) {
        // A typed error is this ticket's outcome; anything else (a bug, a lost database) stops the batch.
        if (!(err instanceof AppError)) throw err;
        outcomes.push({ number, ok: false, code: err.code, message: err.message });
      }
    }
    const failed = outcomes.filter((o) => !o.ok).length;
    await this.auditAfterChange(by, 'ticket.bulk', null, { ...action, tickets: outcomes.length, ok: outcomes.length - failed, failed, numbers: outcomes.map((o) => o.number) });
    return outcomes;
  }

  /** The account name of an assignee; refuses one who is not an active staff account (a typo must not hide a ticket). */
  private async checkAssignee(username: string): Promise<string> {
    if (!this.deps.staff) return username;
    const user = await this.deps.staff.get(username).catch((err: unknown) => {
      // A name that cannot be a user name at all is as unknown as one nobody has.
      if (err instanceof ValidationError) return null;
      throw err;
    });
    if (!user || user.disabled) {
      throw new ValidationError(`invalid assignee: "${username}" is not an active staff account; choose one from GET /api/assignees`, [{ path: 'assignee', message: 'unknown or disabled user' }]);
    }
    return user.username;
  }

  /**
   * Notifies `username` of a change already stored. A notification that cannot be stored is logged,
   * not thrown: the caller would hear that the change failed, and the bot then asks the customer to
   * send their message again, which the ticket would hold twice (a staff member would repeat a done
   * assignment). The ticket itself shows the change in the console regardless.
   */
  private async notify(username: string, n: { kind: NotificationKind; ticket: string; by: string | null }): Promise<void> {
    try {
      await this.deps.notifier?.add(username, { ...n, at: this.now() });
    } catch (err) {
      this.deps.log?.warn({ user: username, ticket: n.ticket, kind: n.kind, err: (err as Error).message }, 'notification not stored; the ticket change it follows is');
    }
  }

  /**
   * Tells the customer their ticket is resolved and asks for a rating, on their channel. A channel
   * that refuses is recorded (audit `ticket.resolution-notice`), never an error for the resolution.
   */
  private async tellResolved(t: Ticket, by: string): Promise<void> {
    const channel = this.deps.channel();
    const error = channel ? await channel.askRating(t).catch((err: Error) => err.message.slice(0, 500)) : 'no customer channel in this process';
    await this.auditAfterChange(by, 'ticket.resolution-notice', t.number, { delivered: error === null, error });
  }

  /**
   * Adds an internal note (not shown to the customer). `facts`, kept as data for the console to word
   * in its reader's language: `liveChat`, of a live chat whose end adds the note (desk/handover.ts);
   * `undeliveredNotice`, of a live chat notice the customer's channel refused ({@link replayNotice}).
   */
  async annotate(number: string, text: string, by: string, facts: Pick<NoteInput, 'liveChat' | 'undeliveredNotice'> = {}): Promise<TicketView> {
    const t = await this.deps.tickets.addNote(number, { author: by, text, ...facts });
    await this.auditAfterChange(by, 'ticket.note', t.number, { length: text.length });
    return this.staffView(t);
  }

  /**
   * Corrects the topic or type: kept on the ticket (with who, when, from what) and recorded as a
   * training example. To say the classifier was right, use {@link confirmReview}.
   */
  async correct(number: string, correction: { field: 'topic' | 'type'; to: string }, by: string): Promise<{ ticket: TicketView; correction: TicketCorrection }> {
    const allowed: readonly string[] = correction.field === 'topic' ? this.deps.topics : DEMAND_TYPES;
    // Checked before the example is written: an invalid label must not reach the training data.
    if (!allowed.includes(correction.to)) {
      throw new ValidationError(`invalid correction: "${correction.to}" is not a ${correction.field}`, [{ path: 'to', message: `unknown ${correction.field}` }]);
    }
    const current = await this.get(number);
    await this.example(current, 'correction', by, { [correction.field]: correction.to, spam: false });
    const r = await this.deps.tickets.correct(number, { ...correction, by });
    await this.auditAfterChange(by, 'ticket.correct', number, { field: correction.field, from: r.correction.from, to: r.correction.to });
    return { ticket: this.staffView(r.ticket), correction: r.correction };
  }

  /** Confirms the classification as correct: a training signal, and the ticket leaves review. */
  async confirmReview(number: string, by: string): Promise<TicketView> {
    const current = await this.get(number);
    if (current.spam) {
      throw new ValidationError(`ticket ${number} is marked as spam: decide "not spam" first, then confirm its topic`, [{ path: 'spam', message: 'spam ticket' }]);
    }
    if (current.topic === null && current.type === null) {
      throw new ValidationError(`ticket ${number} has no topic or type to confirm; correct it instead`, [{ path: 'topic', message: 'nothing to confirm' }]);
    }
    await this.example(current, 'review', by, { topic: current.topic, type: current.type, spam: false });
    const t = await this.deps.tickets.confirmReview(number, by);
    await this.auditAfterChange(by, 'ticket.confirm', number, { topic: t.topic, type: t.type, wasInReview: current.needsReview });
    return this.staffView(t);
  }

  /**
   * A staff spam / not-spam decision: a training example for the spam head, and the ticket's
   * `spam` follows it (it leaves or enters the spam view).
   */
  async decideSpam(number: string, spam: boolean, by: string): Promise<TicketView> {
    const current = await this.get(number);
    // Spam has no topic or type; "not spam" keeps the ticket's labels (a spam-flagged ticket has none yet).
    await this.example(current, 'spam-decision', by, spam ? { topic: null, type: null, spam: true } : { topic: current.topic, type: current.type, spam: false });
    const t = await this.deps.tickets.decideSpam(number, { spam, by });
    await this.auditAfterChange(by, 'ticket.spam', number, { from: current.spam, to: spam });
    return this.staffView(t);
  }

  /**
   * A staff reply to the customer, on the ticket's channel, in the order of an outbox: recorded on
   * the ticket first (`sending`, under an id chosen here), then sent, then its outcome recorded
   * (delivered, or refused with the channel's error) and audited. So:
   * - the database failing before the send: the caller gets the error and nothing reached the
   *   customer (sending it again is safe);
   * - the outcome failing to be recorded after the send: no error (the customer may have it, and an
   *   error would have it sent again), `recorded: false`, and the ticket shows the reply `sending`
   *   (outcome unknown), which {@link retryReply} sends again only when a person confirms it;
   * - `requestId` (the console form's idempotency key): a second submit with it sends nothing and
   *   returns the reply the first one recorded (`duplicate: true`).
   * The send uses the ticket as the first write stored it (no separate read on the way).
   */
  async reply(number: string, text: string, by: string, opts: { requestId?: string } = {}): Promise<ReplyOutcome> {
    if (!text.trim()) throw new ValidationError('invalid reply: text is empty', [{ path: 'text', message: 'empty' }]);
    const id = randomUUID();
    const request = opts.requestId ? { requestId: opts.requestId } : {};
    const pending = await notSentIfUnavailable(this.deps.tickets.recordReply(number, { id, ...request, text, by, delivered: false, error: null, sending: true }), 'sent');
    if (!pending.replies.some((r) => r.id === id)) return this.earlierReply(pending, opts.requestId!);
    const error = await this.send(pending, text);
    return this.settle(pending, id, error, by, 'ticket.reply', { length: text.length });
  }

  /** The reply a double submit's first request recorded (sent by that request, if at all). */
  private earlierReply(t: Ticket, requestId: string): ReplyOutcome {
    const r = t.replies.find((x) => x.requestId === requestId)!;
    return { ticket: this.staffView(t), replyId: r.id, delivered: r.delivered, recorded: r.sending !== true, duplicate: true };
  }

  /** Sends `text` on the ticket's channel: null when the channel took it, else its error. */
  private async send(t: Ticket, text: string): Promise<string | null> {
    const channel = this.deps.channel();
    return channel ? channel.deliver(t, text) : 'no customer channel in this process';
  }

  /**
   * Records the outcome of sending reply `id` of `pending` (the ticket as the `sending` write left it)
   * and audits it. Failing after the send is not thrown (see {@link reply}): the reply stays
   * `sending` on the ticket, and the staff member hears `recorded: false`.
   */
  private async settle(pending: Ticket, id: string, error: string | null, by: string, action: string, details: Record<string, unknown>): Promise<ReplyOutcome> {
    const delivered = error === null;
    let t = pending;
    let recorded = true;
    try {
      t = await this.deps.tickets.recordReplyOutcome(pending.number, id, { delivered, error });
    } catch (err) {
      recorded = false;
      this.deps.log?.warn({ ticket: pending.number, reply: id, delivered, err: (err as Error).message }, 'reply sent, but its outcome was not recorded: the ticket shows it as sending (outcome unknown)');
    }
    await this.auditAfterChange(by, action, t.number, { ...details, delivered, ...(recorded ? {} : { recorded }) });
    return { ticket: this.staffView(t), replyId: id, delivered, recorded, duplicate: false };
  }

  /**
   * The audit entry of a change already stored, which the caller must not hear as failed: a staff
   * member told 503 for a change that was made repeats it (a note stored twice, a reply sent
   * again, a settlement refused; a ticket stored from the outbox would stop its replay). Every
   * operation here whose change is written before its audit entry records it through this, and so
   * do the live queue (desk/handover.ts) and the staff routes that audit a stored change. When the
   * database cannot take the entry it is kept (see {@link keep}) and written when the database is
   * back, under the id and time it was made with (a duplicate key there means stored).
   */
  async auditAfterChange(actor: string, action: string, target: string | null, details: Record<string, unknown> = {}): Promise<void> {
    const entry: KeptAuditEntry['entry'] = { id: randomUUID(), at: new Date(), actor, action, target, details };
    try {
      await this.deps.audit.record(entry);
    } catch (err) {
      await this.keep({ kind: 'audit-entry', entry }, err, { target, action });
    }
  }

  private async example(t: Ticket, source: ExampleSource, by: string, decided: Partial<ExampleLabels>): Promise<void> {
    const current: ExampleLabels = { topic: t.topic, type: t.type, spam: t.spam };
    await this.deps.training.record({ ticketNumber: t.number, text: t.text.original, source, by, at: this.now() }, decided, current);
  }

}

/**
 * The plain text of the note for a live chat notice the customer's channel refused (English, for API
 * clients and searches that read `text`; the console words the facts in its reader's language).
 */
export function undeliveredNoticeText(n: UndeliveredNotice): string {
  return `live chat notice not delivered to the customer (${n.error}); they were not told: ${n.text}`.slice(0, 4000);
}
