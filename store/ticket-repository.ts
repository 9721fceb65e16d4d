/**
 * Tickets in MongoDB (official driver; only what FerretDB 1.24 supports: no $text, no change
 * streams, no multi-document transactions).
 *
 * Nothing is lost: a ticket number is returned only after the insert is acknowledged (journaled
 * where the server supports it), or after the ticket is fsynced into the local outbox when the
 * database cannot be reached; the outbox is replayed idempotently by ticket number.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import {
  type Collection,
  type Db,
  type Filter,
  type Sort,
  type WriteConcernSettings,
} from 'mongodb';
import type { z } from 'zod';
import { backoff, Claims, isDuplicateKey } from './claims.js';
import { dayOf } from './clock.js';
import type { CountFilter } from './ticket-counters.js';
import { dayOfNumber, matches, summarize, type IndexedQuery, type TicketIndex, type TicketSummary } from './ticket-index.js';
import { archiveCollectionOf, noteRestore } from './archive.js';
import { decodeCursor, encodeCursor, type Cursor } from './cursor.js';
import type { SearchIndex } from './search-index.js';
import { compareNumbersDesc } from './search-index.js';
import { formerNumberTerm, parseSearch } from './search-terms.js';
import { ensureIndexes } from './indexes.js';
import { OPEN_STATUSES } from './working-day.js';
import { InsertBatcher } from './insert-batcher.js';
import { ConflictError, isUnavailable, NotFoundError, ValidationError } from './errors.js';
import { DEFAULT_RETRY, mayHaveApplied, retryTransient, type RetryPolicy } from './transient-errors.js';
import type { FileOutbox, OutboxLogger, ReplayOutcome } from './outbox.js';
import {
  CorrectionInputSchema,
  NoteInputSchema,
  ReplyInputSchema,
  ReplySettlementSchema,
  SpamDecisionInputSchema,
  STATUS_TRANSITIONS,
  TicketCreateSchema,
  TicketNumber,
  TicketPatchSchema,
  TicketQuerySchema,
  type Ticket,
  type TicketCorrection,
  type TicketCreate,
  type TicketNote,
  type NoteInput,
  type TicketPatch,
  type TicketQuery,
  type SpamDecision,
  type StaffReply,
  type Satisfaction,
  type SatisfactionInput,
  SatisfactionInputSchema,
  type TicketAttachment,
  type CustomerIdentity,
} from './schemas.js';
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { assertDocumentSize, escapeRegex, parseInput } from './validation.js';

/** Where a created ticket is: in the database, or waiting in the local outbox. */
export type Durability = 'database' | 'outbox';

/** A created ticket and where it is; `duplicate`: its request was stored already, this is that ticket (see `create`). */
export interface Created {
  ticket: Ticket;
  stored: Durability;
  duplicate?: boolean;
}

export interface PageOf<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  /**
   * Keyset pagination: pass it as `cursor` (same filters and sort) for the page after this one;
   * null on the last page. Stable under inserts, unlike `page`.
   */
  nextCursor?: string | null;
}

/** Counts of tickets per day and per value of one field. */
export interface DailyCount {
  day: string;
  key: string | null;
  count: number;
}

export const STAT_FIELDS = { topic: '$topic', type: '$type', channel: '$customer.channelId', status: '$status' } as const;
export type StatField = keyof typeof STAT_FIELDS;

/** The ticket store as the bot and the staff API see it. */
export interface TicketRepository {
  /**
   * Creates a ticket: in the database, or in the outbox when it is unreachable (`unreachable`: the
   * caller has just found so, so the ticket goes to the outbox without waiting for it again).
   * `duplicate`: the input's `requestId` turned out stored already (by a filing that took its claim
   * over, or an outbox replay): that ticket is returned and nothing was stored.
   */
  create(input: TicketCreate, opts?: { unreachable?: boolean }): Promise<Created>;
  get(number: string): Promise<Ticket | null>;
  /**
   * The number of the stored ticket a provisional number stands for, when no ticket holds it: a
   * request's copy queued under it during an outage and dropped at replay for the ticket stored
   * before (`ticketRequestCopies`); null otherwise.
   */
  keptFor(number: string): Promise<string | null>;
  /**
   * The numbers of the tickets queued under `number` during an outage and stored under others at
   * replay, because another ticket had taken it meanwhile (`ticketNumberMoves`: one read by `_id`);
   * empty for nearly every number.
   */
  alsoQuotedFor(number: string): Promise<string[]>;
  list(query?: TicketQuery): Promise<PageOf<Ticket>>;
  /** Changes status, assignee or priority; `expectedVersion` makes it fail with a conflict if someone changed the ticket since. */
  update(number: string, patch: TicketPatch, opts?: { expectedVersion?: number; by?: string }): Promise<Ticket>;
  /** Appends an internal note; `liveChat` when a live chat's end adds it, `undeliveredNotice` for a refused live chat notice (store/schemas.ts). */
  addNote(number: string, note: NoteInput): Promise<Ticket>;
  /**
   * Records a staff reply (`sending: true` while it is being sent; `id` chosen by the caller). A
   * reply whose `requestId` the ticket holds already is not added again: the ticket is returned as
   * it is (a double submit); the same request id with another text is a ValidationError.
   */
  recordReply(number: string, reply: ReplyInput): Promise<Ticket>;
  correct(number: string, correction: { field: 'topic' | 'type'; to: string; by: string }): Promise<{ ticket: Ticket; correction: TicketCorrection }>;
  addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket>;
  /** Records the customer's satisfaction rating (replacing an earlier one). */
  rate(number: string, rating: SatisfactionInput): Promise<Ticket>;
  /** Marks reply `id` as being sent again (a retry: one attempt more); refused as {@link replyToResend} says. */
  markReplySending(number: string, id: string, opts?: { confirmed?: boolean }): Promise<Ticket>;
  /** Sets the delivery outcome of reply `id`, after its first send or a retry (NotFoundError without that reply). */
  recordReplyOutcome(number: string, id: string, outcome: { delivered: boolean; error: string | null }): Promise<Ticket>;
  /**
   * A person settles reply `id` whose delivery outcome is unknown (`sending`): delivered (the
   * customer confirmed they have it) or not delivered (it may then be sent again like any refused
   * reply). `attempts` is the attempt the person saw; refused as {@link replyToSettle} says.
   */
  settleReply(number: string, id: string, settlement: ReplySettlement): Promise<Ticket>;
  /** Flags the ticket for review with `reason` (no write when it is flagged so already). */
  flagForReview(number: string, reason: string): Promise<Ticket>;
  /** Marks the classification confirmed by `by` (leaves the review queue). */
  confirmReview(number: string, by: string): Promise<Ticket>;
  /** Records a staff spam decision; `spam` follows it. */
  decideSpam(number: string, decision: { spam: boolean; by: string }): Promise<Ticket>;
  /** The customer's most recent open ticket (to add details to it). */
  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
  countsPerDay(field: StatField, range: { from: string; to: string }): Promise<DailyCount[]>;
  /** Replays the outbox into the database (`onStored` runs for each ticket newly stored). */
  flushOutbox(onStored?: (ticket: Ticket) => Promise<void>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
  /** Replays only this customer's tickets waiting in the outbox. */
  flushOutboxFor(customer: CustomerIdentity, onStored?: (ticket: Ticket) => Promise<void>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
  /**
   * The ticket logged by hand under the staff form's `requestId` (waiting in the outbox, or stored),
   * or null when there is none and the caller now holds the request: it alone may file it (with that
   * `requestId`). A filing of the same request under way elsewhere is waited for (see
   * {@link MongoTicketRepository.claimRequest}). Throws when the database cannot be reached and the
   * outbox has none.
   */
  claimRequest(requestId: string): Promise<{ ticket: Ticket; stored: Durability } | null>;
  /**
   * Gives up a request claimed by {@link claimRequest} whose filing failed before any insert was
   * tried (its note names no number), so the form sent again files at once instead of waiting for
   * the claim to turn stale. A claim whose filing tried a number stays (that insert may have applied).
   */
  releaseRequest(requestId: string): Promise<void>;
}

export interface MongoTicketRepositoryOptions {
  /** IANA time zone of the service, for ticket-number dates and per-day statistics. */
  timeZone: string;
  /** Valid topic ids (corrections are checked against them). */
  topics: readonly string[];
  outbox: FileOutbox;
  log: OutboxLogger;
  writeConcern?: WriteConcernSettings;
  now?: () => Date;
  /**
   * The server applies single-document updates atomically (MongoDB): changes use its operators and
   * conditional updates without claims. False (FerretDB, the default) takes a claim per change.
   */
  atomicUpdates?: boolean;
  /** Called after a ticket goes to the outbox (metrics). */
  onOutboxed?: (number: string) => void;
  /**
   * How a transient database error (FerretDB's SQLite lock, MongoDB's retryable labels:
   * store/transient-errors.ts) is retried where a retry is safe (default DEFAULT_RETRY, silent).
   */
  retry?: RetryPolicy;
  /**
   * Called after every stored ticket write, with the ticket before (null when new) and after: the
   * one place read models (statistics counters, customer documents) follow the tickets. Not
   * awaited by the write (see `changed`): this process's reads wait for them, other processes see
   * them moments later; a failure is logged, never undoes the write (`stats:rebuild` repairs).
   * `once` is set on a change a resumed outbox replay may apply again: each read model applies it
   * once (read-model-generations.ts `TicketVersion`).
   */
  onTicketChanged?: (before: Ticket | null, after: Ticket, once?: string) => Promise<void>;
  /**
   * Each customer's tickets, newest first, from the customer documents: queries about one customer
   * read those and the tickets by `_id` instead of scanning the tickets.
   */
  customerTickets?: (identity: { channelId: string; userId: string }) => Promise<{ number: string; status: Ticket['status']; spam?: boolean }[]>;
  /** The per-day ticket summaries that answer the ticket list without a scan (store/ticket-index.ts). */
  index?: Pick<TicketIndex, 'page' | 'summaries' | 'dueClock'>;
  /** The inverted index that answers text search without reading tickets (store/search-index.ts). */
  search?: Pick<SearchIndex, 'find'>;
  /** Counts the tickets of a one-field filter from the statistics counters; null when it cannot. */
  count?: (filter: CountFilter) => Promise<number | null>;
}

/**
 * The stored document: the ticket, `_id` = its number, the day sequence of the number, the
 * priority's rank (priorities sort by urgency, not alphabetically), and the ids of its last changes
 * (`changeIds`, oldest first: the last one made the current version; absent on tickets not
 * changed since it was added), by which a writer whose write may or may not have been stored tells
 * which (see `versioned`).
 */
type TicketDoc = Ticket & { _id: string; daySeq: number | null; priorityRank?: number; changeIds?: string[] };

/**
 * Change ids kept per ticket: a writer looks for its own right after its write failed, so it needs
 * to reach past only the few changes others made meanwhile; beyond, it reports its error.
 */
export const CHANGE_IDS_KEPT = 16;

/** The version the change `id` made, while the ticket still lists it among its last changes; else null. */
function heldVersion(doc: TicketDoc, id: string): number | null {
  const ids = doc.changeIds ?? [];
  const i = ids.lastIndexOf(id);
  return i < 0 ? null : doc.version - (ids.length - 1 - i);
}

/**
 * Which of a change's writes that may have been stored (`unsure`, by the version each wrote) the
 * ticket holds, by the change's `id` in its `changeIds`; null when none (it was not stored). Throws
 * `err` (the failure that left it unsure) when the list no longer reaches back to those versions.
 */
function storedWrite<W>(doc: TicketDoc, id: string, unsure: ReadonlyMap<number, W>, err: unknown): W | null {
  const held = heldVersion(doc, id);
  if (held !== null && unsure.has(held)) return unsure.get(held)!;
  // Changes beyond the list's reach since: whether this one is among them cannot be told.
  if (held !== null || Math.min(...unsure.keys()) <= doc.version - (doc.changeIds?.length ?? 0)) throw err;
  return null;
}

/**
 * The ticket as a change makes it (`set` applied, each `push` item appended, `version` + 1, `at`),
 * and the whole arrays the change appends to: written whole (`$set`), so an attempt still on its way
 * that lands beside a second one writes the same item, never a second copy of it.
 */
function changedTicket(current: Ticket, set: Record<string, unknown>, push: Record<string, unknown>, at: Date): { written: Ticket; arrays: Record<string, unknown[]> } {
  const { priorityRank: _rank, ...fields } = set;
  const written = { ...current, ...fields, version: current.version + 1, updatedAt: at } as Ticket;
  const arrays: Record<string, unknown[]> = {};
  for (const [field, value] of Object.entries(push)) arrays[field] = [...(current[field as keyof Ticket] as unknown[]), value];
  Object.assign(written, arrays);
  return { written, arrays };
}

/**
 * The move an atomic append of change `id` made, read back from the ticket after its reply was
 * lost: the ticket at the version the change wrote and the same without its items (a later
 * change, if any, shows in both; the change hook counts only their difference). Null when the
 * ticket does not hold the change.
 */
function storedAppend(doc: TicketDoc, id: string, items: Record<string, unknown>): { before: Ticket; written: Ticket } | null {
  const held = heldVersion(doc, id);
  if (held === null) return null;
  const written = { ...toTicket(doc), version: held } as Ticket;
  const before = { ...written, version: held - 1 } as Ticket;
  for (const [field, value] of Object.entries(items)) {
    const mine = JSON.stringify(value);
    const list = written[field as keyof Ticket] as unknown[];
    const i = list.findLastIndex((x) => JSON.stringify(x) === mine);
    (before as unknown as Record<string, unknown[]>)[field] = i < 0 ? list : [...list.slice(0, i), ...list.slice(i + 1)];
  }
  return { before, written };
}

/** Sort rank of each priority: low < normal < high < urgent. */
const PRIORITY_RANK: Readonly<Record<Ticket['priority'], number>> = { low: 0, normal: 1, high: 2, urgent: 3 };

export { isUnavailable };

/** Whether two ticket documents record the same intake: same customer, same moment, same text. */
function sameIntake(a: TicketDoc, b: TicketDoc): boolean {
  return (
    a.customer.channelId === b.customer.channelId &&
    a.customer.userId === b.customer.userId &&
    new Date(a.createdAt).getTime() === new Date(b.createdAt).getTime() &&
    a.text.original === b.text.original
  );
}

/**
 * Key of an outboxed ticket's renumber note (`outboxRenumbered`): the number its customer was
 * given, the customer and the moment of intake, which name one outbox record. Exported for tests.
 */
export function renumberNoteId(doc: Pick<Ticket, 'number' | 'customer' | 'createdAt'>): string {
  return JSON.stringify([doc.number, doc.customer.channelId, doc.customer.userId, new Date(doc.createdAt).getTime()]);
}

/**
 * A renumber note (`outboxRenumbered`, `_id` = {@link renumberNoteId}): the number an outboxed
 * ticket is being stored under, the ticket as stored under it (version 1, `formerNumber` set: what
 * its read models are given), and the outbox that holds its record (host and file: see
 * `sweepRenumberNotes`). Notes written before `ticket` and `outbox` existed hold `number` alone.
 */
interface RenumberNote {
  _id: string;
  number: string;
  ticket?: TicketDoc;
  outbox?: string;
}

/**
 * A request note (`ticketRequests`, `_id` = the staff form's request id): the claim of the filing
 * that stores its ticket (`at`: when it was claimed or last noted), and the number that ticket is
 * being stored under (none until its first insert is tried). Notes written before claims existed
 * hold `number` alone.
 */
interface RequestNote {
  _id: string;
  number?: string;
  at?: Date;
}

/**
 * A request copy (`ticketRequestCopies`, `_id` = its provisional number): an outboxed ticket logged
 * by hand whose request the replay found stored already (sent before the outage, sent again during
 * it), so it was dropped; `number` is the ticket kept, which that provisional number finds.
 */
interface RequestCopy {
  _id: string;
  number: string;
  requestId: string;
  at: Date;
}

/**
 * A number given out for tickets stored under others (`ticketNumberMoves`, `_id` = that number):
 * each outboxed ticket queued under it that the replay stored under a new number because another
 * ticket had taken it meanwhile (or whose request was stored meanwhile, see `replayRecord`). Read by
 * `_id` when the number is opened, where looking for `formerNumber` among the tickets would scan them
 * on FerretDB. `numbers`: more than one only if the number was given out more than once.
 */
interface NumberMove {
  _id: string;
  numbers: string[];
  at: Date;
}

/**
 * How long a request's claim stands without a stored ticket before another filing of the request
 * takes it over: far beyond a filing's insert (its retries included), so a live filing is seldom
 * raced (and when it is, the tickets' unique `requestId` keeps it to one ticket); a staff member sending the form again after its filer died waits at most this long.
 */
const REQUEST_CLAIM_STALE_MS = 30_000;

/**
 * The insert of a ticket refused by the tickets' unique request id (`requestId_unique`): its request
 * is stored already as `kept`. The claim ({@link MongoTicketRepository.claimRequest}) keeps a second
 * filing of a request from starting; this index keeps a filing that started anyway (a filer slower
 * than the takeover window, an outbox replay beside a new submit) from storing a second ticket.
 */
class RequestStoredAlready extends Error {
  constructor(readonly kept: TicketDoc) {
    super(`request ${kept.requestId} is stored already as ${kept.number}`);
  }
}

/** A renumber note to delete once its ticket's read models are stored (after the replay that took its record). */
interface NoteToClear {
  note: string;
  readModels: Promise<boolean>;
}

/** The one place that maps a stored document to the ticket returned to callers. */
function toTicket(doc: TicketDoc): Ticket {
  const { _id: _ignored, daySeq: _seq, priorityRank: _rank, changeIds: _changes, ...ticket } = doc;
  // Tickets stored before these fields existed read as "not flagged / not decided / not reviewed".
  return { ...ticket, suspectedSpam: ticket.suspectedSpam === true, spamDecision: ticket.spamDecision ?? null, reviewedBy: ticket.reviewedBy ?? null, reviewedAt: ticket.reviewedAt ?? null, satisfaction: ticket.satisfaction ?? null };
}

export class MongoTicketRepository implements TicketRepository {
  private readonly tickets: Collection<TicketDoc>;
  /** Renumber notes: the new number an outboxed ticket is being stored under (see `replayRecord`). */
  private readonly renumbered: Collection<RenumberNote>;
  /** This process's outbox as renumber notes name it: its host and its file. */
  private readonly outboxId: string;
  /** Whether renumber notes of this outbox may wait to be finished (at start, and after a failure). */
  private notesToSweep = true;
  /** Request notes: the claim of a ticket logged by hand and the number it is stored under, by its request id (see `claimRequest`). */
  private readonly requests: Collection<RequestNote>;
  /** Request copies: the provisional number of each outboxed copy of a request the replay dropped, naming the ticket kept (see `numbered`). */
  private readonly copies: Collection<RequestCopy>;
  /** Number moves: the new numbers of the outboxed tickets queued under a number another ticket took (see `noteMove`). */
  private readonly moves: Collection<NumberMove>;
  private readonly claims: Claims;
  private readonly inserts: InsertBatcher<TicketDoc>;
  /** Last day sequence this process handed out, per day (numbers are allocated without a counter). */
  private readonly lastSeq = new Map<string, number>();
  private readonly now: () => Date;
  /** Read-model updates still being stored (see `changed`), and renumber notes waiting for theirs (`clearNotes`). */
  private readonly pendingHooks = new Set<Promise<unknown>>();
  private readonly writeConcern: WriteConcernSettings;

  constructor(
    private readonly db: Db,
    private readonly opts: MongoTicketRepositoryOptions,
  ) {
    this.tickets = db.collection<TicketDoc>('tickets');
    this.renumbered = db.collection<RenumberNote>('outboxRenumbered');
    this.outboxId = `${hostname()}:${resolve(opts.outbox.path)}`;
    this.requests = db.collection<RequestNote>('ticketRequests');
    this.copies = db.collection<RequestCopy>('ticketRequestCopies');
    this.moves = db.collection<NumberMove>('ticketNumberMoves');
    this.claims = new Claims(db);
    this.inserts = new InsertBatcher(this.tickets, () => this.writeConcern);
    this.now = opts.now ?? (() => new Date());
    this.writeConcern = opts.writeConcern ?? { w: 'majority', journal: true };
  }

  /** Creates the indexes the staff queries need, the request id's unique index, and the notes' collections. Idempotent. */
  async ensureIndexes(): Promise<void> {
    await this.prepareRenumberNotes();
    await ensureIndexes(this.tickets, [
      { key: { number: 1 }, name: 'number_unique', unique: true },
      { key: { status: 1, createdAt: -1 }, name: 'status_createdAt' },
      { key: { topic: 1, createdAt: -1 }, name: 'topic_createdAt' },
      { key: { needsReview: 1, createdAt: -1 }, name: 'needsReview_createdAt' },
      { key: { assignee: 1, status: 1 }, name: 'assignee_status' },
      { key: { 'customer.channelId': 1, 'customer.userId': 1, createdAt: -1 }, name: 'customer_createdAt' },
      { key: { createdDay: 1, daySeq: -1 }, name: 'createdDay_daySeq' },
    ]);
    await this.ensureRequestIndex();
  }

  /**
   * One ticket per request id, whatever the timing: a unique index on `requestId`. Sparse, so tickets
   * without one (the bot's) are not in it on MongoDB; FerretDB 1.24 accepts `sparse` without keeping
   * it (and has no `partialFilterExpression`), but its SQLite index holds a missing field as NULL, and
   * NULLs never collide there. A database already holding two tickets of one request (filed before
   * this index existed) cannot take it: said at start, and the claims alone guard the requests then.
   */
  private async ensureRequestIndex(): Promise<void> {
    try {
      await ensureIndexes(this.tickets, [{ key: { requestId: 1 }, name: 'requestId_unique', unique: true, sparse: true }]);
    } catch (err) {
      // Told by the data, not the error: MongoDB says E11000, FerretDB an SQLite "UNIQUE constraint failed".
      const twice = await this.tickets
        .aggregate<{ _id: string }>([{ $match: { requestId: { $exists: true } } }, { $group: { _id: '$requestId', n: { $sum: 1 } } }, { $match: { n: { $gt: 1 } } }, { $limit: 5 }])
        .toArray()
        .catch(() => []);
      if (twice.length === 0) throw err;
      this.opts.log.error({ err: (err as Error).message, requestIds: twice.map((t) => t._id) }, 'tickets hold two tickets of one request id: the unique index on requestId is not made, so a filer slower than 30 s could store a second one; merge the duplicates, then restart');
    }
  }

  async create(input: TicketCreate, opts: { unreachable?: boolean } = {}): Promise<Created> {
    const data = parseInput(TicketCreateSchema, input, 'ticket');
    if (data.classification.topic !== null && !this.opts.topics.includes(data.classification.topic)) {
      throw new ValidationError(`invalid ticket: unknown topic "${data.classification.topic}"`, [{ path: 'classification.topic', message: 'unknown topic' }]);
    }
    const now = this.now();
    const day = dayOf(now, this.opts.timeZone);
    const doc: TicketDoc = {
      _id: '',
      number: '',
      daySeq: null,
      customer: data.customer,
      conversationRef: data.conversationRef,
      contact: data.contact ?? {},
      ...(data.attachments?.length ? { attachments: data.attachments } : {}),
      text: data.text,
      ...data.classification,
      status: 'new',
      assignee: null,
      priority: data.priority,
      priorityRank: PRIORITY_RANK[data.priority],
      ...(data.requestId ? { requestId: data.requestId } : {}),
      ...(data.filedBy ? { filedBy: data.filedBy } : {}),
      notes: [],
      corrections: [],
      messages: [],
      replies: [],
      createdAt: now,
      createdDay: day,
      updatedAt: now,
      firstResponseAt: null,
      resolvedAt: null,
      closedAt: null,
      spamDecision: null,
      reviewedBy: null,
      reviewedAt: null,
      satisfaction: null,
      version: 1,
    };
    assertDocumentSize(doc, 'ticket');
    if (opts.unreachable) return this.outboxed(doc, day, 'the caller found the database unreachable');
    try {
      // A request note before each insert: a crash after the insert still leaves the ticket findable by its request id.
      await this.insertNumbered(doc, day, data.requestId ? (n) => this.noteRequest(data.requestId!, n) : undefined);
      const ticket = toTicket(doc);
      await this.changed(null, ticket);
      return { ticket, stored: 'database' };
    } catch (err) {
      if (err instanceof RequestStoredAlready) {
        // This filing's claim was taken over while it was slow: the note named this filing's number; it names the one kept again.
        await this.noteRequest(data.requestId!, err.kept.number);
        return { ticket: toTicket(err.kept), stored: 'database', duplicate: true };
      }
      if (!isUnavailable(err)) throw err;
      return this.outboxed(doc, day, (err as Error).message);
    }
  }

  /** Keeps a new ticket in the local outbox (fsynced) while the database is unreachable. */
  private async outboxed(doc: TicketDoc, day: string, why: string): Promise<{ ticket: Ticket; stored: Durability }> {
    // Keep a number the database already gave out, or make one that needs no database.
    if (!doc.number) doc.number = doc._id = offlineNumber(day);
    await this.opts.outbox.append(doc);
    this.opts.log.warn({ ticket: doc.number, err: why, outboxed: this.opts.outbox.stats.appended }, 'database unreachable: ticket kept in the local outbox');
    this.opts.onOutboxed?.(doc.number);
    return { ticket: toTicket(doc), stored: 'outbox' };
  }

  /**
   * Inserts the ticket under the next free number of the day (T20261125-0042). The unique index
   * on `number` is the arbiter: numbers are taken in order from this process's last one (or the
   * day's highest stored), and a number another process took first makes the insert fail with a
   * duplicate key, so the next one is tried. Concurrent calls in one process never collide.
   */
  private async insertNumbered(doc: TicketDoc, day: string, beforeInsert?: (number: string) => Promise<void>): Promise<void> {
    const compact = day.replaceAll('-', '');
    let stored = this.lastSeq.get(day);
    if (stored === undefined) stored = await this.highestSeq(day);
    for (let attempt = 0; attempt < 1000; attempt++) {
      // Synchronous from reading lastSeq to writing it: concurrent callers get distinct numbers.
      const seq = Math.max(this.lastSeq.get(day) ?? 0, stored) + 1;
      this.lastSeq.set(day, seq);
      doc.daySeq = seq;
      doc.number = doc._id = `T${compact}-${String(seq).padStart(4, '0')}`;
      await beforeInsert?.(doc.number);
      if (await this.insertOnce(doc)) return;
    }
    throw new ConflictError('could not allocate a ticket number after 1000 attempts');
  }

  /**
   * Inserts the ticket under its number: true when stored, false when the number is another
   * ticket's. A transient failure is retried under the same number; as a batched insert may have
   * stored it anyway, a duplicate key after that is looked at: this very ticket means stored.
   */
  private async insertOnce(doc: TicketDoc): Promise<boolean> {
    try {
      return await this.insertRetried(doc);
    } catch (err) {
      // The reply lost (or a write-concern error): the number holding this very intake means stored.
      // Kept in the outbox instead, it would be told to the customer as not yet filed, and its replay
      // would find it stored and skip the read models (which never saw it).
      if (!mayHaveApplied(err)) throw err;
      const holder = await this.tickets.findOne({ _id: doc._id }).catch(() => null);
      if (holder === null) throw err;
      return sameIntake(holder, doc);
    }
  }

  /** {@link insertOnce}'s insert, repeated after a transient failure under the same number. */
  private insertRetried(doc: TicketDoc): Promise<boolean> {
    let failedBefore = false;
    return retryTransient(
      async () => {
        try {
          await this.inserts.insert({ ...doc });
          return true;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          if (doc.requestId) await this.refuseStoredRequest(doc);
          if (!failedBefore) return false;
          const holder = await this.tickets.findOne({ _id: doc._id });
          return holder !== null && sameIntake(holder, doc);
        }
      },
      { idempotent: true, policy: { ...(this.opts.retry ?? DEFAULT_RETRY), onRetry: (err, attempt) => ((failedBefore = true), this.opts.retry?.onRetry?.(err, attempt)) } },
    );
  }

  /**
   * After a duplicate key on inserting `doc` (which has a request id): throws {@link RequestStoredAlready}
   * when its request is stored as another intake (under this number, or, when no ticket holds the
   * number, under another), and returns when the key was only its number (or this very intake holds
   * it: an earlier attempt stored it). A read by `_id`; the read by request id only when no ticket
   * holds the number.
   */
  private async refuseStoredRequest(doc: TicketDoc): Promise<void> {
    const holder = await this.tickets.findOne({ _id: doc._id });
    if (holder !== null) {
      if (holder.requestId === doc.requestId && !sameIntake(holder, doc)) throw new RequestStoredAlready(holder);
      return;
    }
    const kept = await this.tickets.findOne({ requestId: doc.requestId, _id: { $ne: doc._id } });
    if (kept !== null) throw new RequestStoredAlready(kept);
  }

  /**
   * The day's highest stored sequence, where this process starts numbering (its first ticket of the
   * day). MongoDB answers from the `createdDay_daySeq` index. On FerretDB that query reads every
   * ticket (seconds at 100,000), so numbers are probed by `_id` instead (an index lookup each, with
   * the patched build): doubling until one is free, then halving between the last taken and the
   * first free, about 2·log2(n) lookups. A gap (a number kept in the outbox, say) can make it answer
   * low; the unique `_id` then turns each taken number into a retry of the next one, never a duplicate.
   */
  private async highestSeq(day: string): Promise<number> {
    if (this.opts.atomicUpdates) {
      const top = await this.tickets.find({ createdDay: day, daySeq: { $ne: null } }, { projection: { daySeq: 1 } }).sort({ daySeq: -1 }).limit(1).next();
      return top?.daySeq ?? 0;
    }
    const compact = day.replaceAll('-', '');
    const taken = async (seq: number) => (await this.tickets.findOne({ _id: `T${compact}-${String(seq).padStart(4, '0')}` }, { projection: { _id: 1 } })) !== null;
    let low = 0; // taken (0: nothing before the first)
    let high = 1; // candidate
    while (await taken(high)) {
      low = high;
      high *= 2;
    }
    // low is taken (or 0), high is free: narrow to adjacent.
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (await taken(mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  /**
   * Replays the outbox. A record whose number is already stored is either this very ticket (the
   * insert reached the database before the connection failed: skipped) or another ticket that took
   * the number meanwhile: the database lost the insert that had allocated it, and another process,
   * or this one after a restart, probed the number as free. That ticket is stored under the next
   * free number, with the number its customer was given kept as `formerNumber`, never skipped.
   */
  async flushOutbox(onStored?: (ticket: Ticket) => Promise<void>) {
    await this.sweepRenumberNotes();
    const notes: NoteToClear[] = [];
    const r = await this.opts.outbox.drain((record) => this.replayRecord(record as TicketDoc, onStored, notes));
    this.clearNotes(notes);
    return r;
  }

  /**
   * Replays only `customer`'s tickets waiting in the outbox (as {@link flushOutbox} does each),
   * leaving everybody else's to the background replay: what a customer's turn needs when the ticket
   * they quote is not stored yet, without waiting for every ticket of a long outage.
   */
  async flushOutboxFor(customer: CustomerIdentity, onStored?: (ticket: Ticket) => Promise<void>) {
    const theirs = (record: object) => {
      const c = (record as Partial<TicketDoc>).customer;
      return c?.channelId === customer.channelId && c?.userId === customer.userId;
    };
    const notes: NoteToClear[] = [];
    // The user id as the record's JSON spells it: lines without it are not parsed.
    const r = await this.opts.outbox.drainWhere(theirs, (record) => this.replayRecord(record as TicketDoc, onStored, notes), JSON.stringify(customer.userId));
    this.clearNotes(notes);
    return r;
  }

  /**
   * One outbox record into the database (see {@link flushOutbox}). A record stored under a new
   * number adds its renumber note to `notes`, to be deleted when the replay has taken the record
   * out of the outbox file and its read models are stored ({@link clearNotes}).
   */
  private async replayRecord(doc: TicketDoc, onStored: ((ticket: Ticket) => Promise<void>) | undefined, notes: NoteToClear[]): Promise<ReplayOutcome> {
    if (doc.requestId) {
      // The same request may be stored already under another number (sent again while this one waited,
      // or stored before the outage by an attempt whose answer was lost): one ticket per request.
      const stored = await this.storedRequest(doc.requestId);
      if (stored !== null && stored._id !== doc._id) {
        // This very record, stored under a new number by a replay that died before the outbox file was
        // rewritten (its request note names the new number): finished as the renumbering below would.
        if (stored.formerNumber === doc.number && sameIntake(stored, doc)) await this.resumeRenumbered(doc, notes);
        else await this.noteCopy(doc, stored);
        return 'duplicate';
      }
      await this.noteRequest(doc.requestId, doc.number);
    }
    try {
      await this.tickets.insertOne(doc, { writeConcern: this.writeConcern });
    } catch (err) {
      if (!isDuplicateKey(err)) {
        // The reply lost (or a write-concern error): stored by this very insert if its number holds
        // this intake, and its read models follow below; a later replay would find it a duplicate
        // and skip them.
        const holder = mayHaveApplied(err) ? await this.tickets.findOne({ _id: doc._id }).catch(() => null) : null;
        if (holder === null || !sameIntake(holder, doc)) throw err;
        await this.changed(null, toTicket(doc));
        await onStored?.(toTicket(doc));
        return 'stored';
      }
      const holder = await this.tickets.findOne({ _id: doc._id });
      if (holder === null) {
        // No ticket holds its number: the key was its request id, stored meanwhile by a new submit of
        // the form (which took over the claim this replay had noted): the copy is dropped.
        const kept = doc.requestId ? await this.tickets.findOne({ requestId: doc.requestId }) : null;
        if (kept !== null) await this.dropCopy(doc, kept);
        return 'duplicate';
      }
      if (sameIntake(holder, doc)) return 'duplicate';
      const quoted = doc.number;
      const note = renumberNoteId(doc);
      if (await this.resumeRenumbered(doc, notes)) return 'duplicate';
      // Each number is noted before the insert under it: a crash after the insert and before the
      // outbox file is rewritten leaves the record to be replayed again, and the note finds it stored.
      const noteNumber = async (n: string) => {
        await this.renumbered.updateOne({ _id: note }, { $set: { number: n, ticket: { ...doc }, outbox: this.outboxId } }, { upsert: true, writeConcern: this.writeConcern });
        if (doc.requestId) await this.noteRequest(doc.requestId, n);
      };
      try {
        await this.insertNumbered(Object.assign(doc, { formerNumber: quoted }), doc.createdDay, noteNumber);
      } catch (err) {
        if (!(err instanceof RequestStoredAlready)) throw err;
        // Its request stored meanwhile (as above): dropped under the number its staff member was given; nothing is under the note's.
        const { formerNumber: _f, ...copy } = doc;
        await this.dropCopy({ ...copy, _id: quoted, number: quoted }, err.kept);
        await this.noteMove(quoted, err.kept.number);
        await this.renumbered.deleteOne({ _id: note }, { writeConcern: this.writeConcern });
        return 'duplicate';
      }
      // Before the record leaves the outbox: a crash here replays it, and resumeRenumbered notes it.
      await this.noteMove(quoted, doc.number);
      this.opts.log.warn({ ticket: doc.number, formerNumber: quoted }, 'an outboxed ticket\'s number was taken while it waited: stored under a new number');
      notes.push({ note, readModels: this.readModels(null, toTicket(doc), note) });
      await onStored?.(toTicket(doc));
      return 'stored';
    }
    await this.changed(null, toTicket(doc));
    await onStored?.(toTicket(doc));
    return 'stored';
  }

  /**
   * Whether this outbox record was stored under a new number by a replay that crashed after the
   * insert (see {@link storedRenumbered}). Its read models may be missing (all, some or none of their
   * documents written): given the creation again under the note's key, each document that lacks it
   * applies it, once; its note joins `notes`, deleted when they are through.
   */
  private async resumeRenumbered(doc: TicketDoc, notes: NoteToClear[]): Promise<boolean> {
    const note = renumberNoteId(doc);
    const stored = await this.storedRenumbered(doc, note);
    if (!stored) return false;
    await this.noteMove(doc.number, stored.number);
    notes.push({ note, readModels: this.readModels(null, toTicket(stored), note) });
    return true;
  }

  /**
   * Deletes each renumber note once nothing can need it: its record is out of the outbox file (the
   * replay that took it has returned) and its ticket's read models are stored, so neither a replay
   * of the record nor a read model can ask for it again. A note whose read models failed stays, for
   * {@link sweepRenumberNotes}. Runs behind the replay; `settled()` waits for it.
   */
  private clearNotes(notes: NoteToClear[]): void {
    for (const { note, readModels } of notes) {
      const run = readModels
        .then((stored) => (stored ? this.renumbered.deleteOne({ _id: note }, { writeConcern: this.writeConcern }) : Promise.reject(new Error('read models not stored'))))
        .then(
          () => undefined,
          (err: Error) => {
            this.notesToSweep = true;
            this.opts.log.warn({ note, err: err.message }, 'renumber note kept; finished at the next outbox replay');
          },
        );
      this.pendingHooks.add(run);
      void run.finally(() => this.pendingHooks.delete(run));
    }
  }

  /**
   * Finishes the renumber notes of this process's outbox whose record is no longer in it (the
   * outbox file and an interrupted replay's files, the only files that can hold the record): a
   * crash after the record left the file and before the note was deleted, or read models that
   * failed. Their ticket's read models are given its creation under the note's key (each document
   * applies it once), then the note is deleted. A note whose record still waits is the replay's.
   * Runs at the first replay of a process (its start) and after a note could not be finished.
   * Notes of other outboxes (another process's, by host and file) are left to their own process;
   * a note of an older version (no `outbox`) is finished only when its record is replayed again.
   */
  private async sweepRenumberNotes(): Promise<void> {
    if (!this.notesToSweep) return;
    this.notesToSweep = false;
    try {
      // Few documents (one per renumbered ticket whose replay has not ended): a scan is cheap.
      const mine = await this.renumbered.find({ outbox: this.outboxId }).toArray();
      if (mine.length === 0) return;
      const waiting = new Set(this.opts.outbox.find(() => true).map((r) => renumberNoteId(r as TicketDoc)));
      for (const n of mine) {
        if (waiting.has(n._id) || !n.ticket) continue;
        const found = await this.locate(n.number);
        if (found && found.doc.formerNumber === n.ticket.formerNumber && sameIntake(found.doc, n.ticket) && !(await this.readModels(null, toTicket(n.ticket), n._id))) {
          this.notesToSweep = true;
          continue;
        }
        await this.renumbered.deleteOne({ _id: n._id }, { writeConcern: this.writeConcern });
      }
    } catch (err) {
      // The database went away again: the replay below meets it too; the sweep is tried next time.
      this.notesToSweep = true;
      this.opts.log.warn({ err: (err as Error).message }, 'renumber notes not finished; tried again at the next outbox replay');
    }
  }

  /**
   * Creates the notes' collections (renumber, request) at start: FerretDB creating a table on a
   * first write fails concurrent writes with SQLITE_BUSY (see archive.ts `prepareRestoreNotes`), and
   * the first note is written in the middle of a replay or a filing.
   */
  private async prepareRenumberNotes(): Promise<void> {
    for (const name of [this.renumbered.collectionName, this.requests.collectionName, this.copies.collectionName, this.moves.collectionName]) {
      if ((await this.db.listCollections({ name }, { nameOnly: true }).toArray()).length > 0) continue;
      await this.db.createCollection(name).catch((err: { codeName?: string }) => (err.codeName === 'NamespaceExists' ? undefined : Promise.reject(err)));
    }
  }

  /**
   * The ticket of a request id, or null when this caller has just claimed the request. The claim is
   * the insert of the request's note (`_id` = the request id), so of two filings of one request at
   * the same instant, in two processes, exactly one gets null (FerretDB enforces unique `_id`s, where
   * a read-then-write would let both through). The other waits for the ticket the note comes to
   * name, and answers with it; a claim that names no stored ticket for {@link REQUEST_CLAIM_STALE_MS}
   * (its filer died, or its ticket went to that process's outbox, whose replay then finds this one
   * and drops its copy) is taken over. A filer taken over while alive stores nothing: the tickets'
   * unique `requestId` refuses its insert, and it answers the ticket stored ({@link RequestStoredAlready}).
   */
  async claimRequest(requestId: string): Promise<{ ticket: Ticket; stored: Durability } | null> {
    // The outbox first: a replay writes the note and the ticket before it removes the record, so a
    // record gone from the file is found below.
    const waiting = this.opts.outbox.find((d) => d.requestId === requestId, JSON.stringify(requestId));
    if (waiting.length > 0) return { ticket: toTicket(waiting[0] as TicketDoc), stored: 'outbox' };
    for (let attempt = 0; ; attempt++) {
      try {
        // Retried only after a transient error that certainly did not apply it (else it would find its own claim).
        await this.retried(() => this.requests.insertOne({ _id: requestId, at: new Date() }, { writeConcern: this.writeConcern }), false);
        return null;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
      const note = await this.requests.findOne({ _id: requestId });
      if (note === null) continue; // taken over and given up meanwhile: claim it
      const stored = await this.storedUnder(note, requestId);
      if (stored) return { ticket: toTicket(stored), stored: 'database' };
      if (note.at && Date.now() - note.at.getTime() < REQUEST_CLAIM_STALE_MS) {
        await backoff(attempt);
        continue;
      }
      // Stale: remove exactly that claim (a note written before claims existed has no time), then claim.
      await this.requests.deleteOne({ _id: requestId, at: note.at ?? { $exists: false } }, { writeConcern: this.writeConcern });
    }
  }

  async releaseRequest(requestId: string): Promise<void> {
    await this.requests.deleteOne({ _id: requestId, number: { $exists: false } }, { writeConcern: this.writeConcern });
  }

  /**
   * The stored ticket of a request id: the one its note names, if that ticket holds the id (a note
   * written before an insert that never happened, or before a renumbering, names another or none).
   * Two reads by `_id`, so no scan on FerretDB.
   */
  private async storedRequest(requestId: string): Promise<TicketDoc | null> {
    const note = await this.requests.findOne({ _id: requestId });
    return note === null ? null : this.storedUnder(note, requestId);
  }

  /** The stored ticket a request note names, if it holds that request (see {@link storedRequest}). */
  private async storedUnder(note: RequestNote, requestId: string): Promise<TicketDoc | null> {
    if (!note.number) return null; // claimed, no number tried yet
    const found = await this.locate(note.number);
    return found !== null && found.doc.requestId === requestId ? found.doc : null;
  }

  /**
   * Notes that the outboxed `copy` of a request is dropped for the ticket `kept` (stored before, by
   * an earlier submit): the staff member who sent it again during the outage was given the copy's
   * provisional number, which then finds the kept ticket (search, see {@link numbered}). Written
   * before the record leaves the outbox (a duplicate key: noted by a replay that died before that).
   */
  private async noteCopy(copy: TicketDoc, kept: TicketDoc): Promise<void> {
    try {
      await this.copies.insertOne({ _id: copy.number, number: kept.number, requestId: copy.requestId!, at: new Date() }, { writeConcern: this.writeConcern });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    this.opts.log.info({ ticket: kept.number, provisional: copy.number, requestId: copy.requestId }, 'a ticket logged by hand was sent again during the outage: its queued copy is dropped, its provisional number finds the stored ticket');
  }

  /**
   * Drops the outboxed `copy` of a request another filing stored as `kept` while the replay was under
   * way: its provisional number finds `kept` ({@link noteCopy}), and the request's note, which the
   * replay had pointed at the copy's number, names `kept` again.
   */
  private async dropCopy(copy: TicketDoc, kept: TicketDoc): Promise<void> {
    await this.noteCopy(copy, kept);
    await this.noteRequest(copy.requestId!, kept.number);
  }

  /**
   * Notes the number a request's ticket is about to be stored under (upsert by request id), which
   * renews its claim: the filing is alive.
   */
  private async noteRequest(requestId: string, number: string): Promise<void> {
    await this.requests.updateOne({ _id: requestId }, { $set: { number, at: new Date() } }, { upsert: true, writeConcern: this.writeConcern });
  }

  /**
   * Whether this outbox record was already stored under a new number by an earlier replay that did
   * not live to rewrite the outbox file: its renumber note names a ticket holding this very intake
   * under `formerNumber` = the record's number. Two reads by `_id` (an index lookup on MongoDB and
   * on the patched FerretDB), where looking for `formerNumber` among the tickets would scan them on
   * FerretDB, and the read models (customer documents, search index) are written behind the insert,
   * so a crash can leave them without it. A note whose insert never happened names a free number or
   * another ticket: not this one, so the record is stored.
   */
  private async storedRenumbered(doc: TicketDoc, note: string): Promise<TicketDoc | null> {
    const noted = await this.renumbered.findOne({ _id: note });
    if (noted === null) return null;
    const found = await this.locate(noted.number);
    if (found === null || found.doc.formerNumber !== doc.number || !sameIntake(found.doc, doc)) return null;
    // The ticket as first stored (its read models' creation), though staff may have changed it since.
    return noted.ticket ?? { ...doc, _id: found.doc._id, number: found.doc.number, daySeq: found.doc.daySeq, formerNumber: doc.number };
  }

  /**
   * Notes that a ticket queued under `quoted` is stored as `number` (upsert by `_id`; repeated by a
   * replay of the same record, it adds nothing), so that opening `quoted`, which another ticket holds,
   * names it ({@link alsoQuotedFor}).
   */
  private async noteMove(quoted: string, number: string): Promise<void> {
    await this.moves.updateOne({ _id: quoted }, { $addToSet: { numbers: number }, $setOnInsert: { at: new Date() } }, { upsert: true, writeConcern: this.writeConcern });
  }

  async alsoQuotedFor(number: string): Promise<string[]> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    return (await this.retried(() => this.moves.findOne({ _id: n }), true))?.numbers ?? [];
  }

  async keptFor(number: string): Promise<string | null> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    return (await this.retried(() => this.copies.findOne({ _id: n }), true))?.number ?? null;
  }

  /** The ticket (working set, else archive), read by `_id`. */
  async get(number: string): Promise<Ticket | null> {
    return this.read(parseInput(TicketNumber, number, 'ticket number'));
  }

  /** The ticket as stored in the tickets collection (the source of truth). */
  private async read(n: string): Promise<Ticket | null> {
    const found = await this.locate(n);
    return found ? toTicket(found.doc) : null;
  }

  /**
   * The stored ticket and whether it is archived. The working set wins: a ticket found in both
   * (an archive move or a restore interrupted between its two writes) is the working set's.
   */
  private async locate(n: string): Promise<{ doc: TicketDoc; archived: boolean } | null> {
    // By _id: an index lookup on MongoDB and on FerretDB as the install builds it (patch `id-index`;
    // a stock 1.24 reads every row, about 15 µs per stored ticket, hence its lower ceiling).
    const doc = await this.retried(() => this.tickets.findOne({ _id: n }), true);
    if (doc) return { doc, archived: false };
    // Archived tickets live in one collection per creation month, which the number names.
    const old = await this.retried(() => this.db.collection<TicketDoc>(archiveCollectionOf(n)).findOne({ _id: n }), true);
    return old ? { doc: old, archived: true } : null;
  }

  /**
   * Brings an archived ticket back into the working set before it changes (a reopened ticket is
   * worked on again): a note for rebuilds, then insert, then delete the archive copy, so an
   * interruption leaves it in the working set (which wins) and never nowhere.
   */
  private async restore(doc: TicketDoc): Promise<void> {
    // Noted first, for a rebuild whose two passes this restore falls between (archive.ts everyStoredTicket).
    await this.retried(() => noteRestore(this.db, doc._id, this.writeConcern), true);
    // Both steps may be repeated: the insert's duplicate key means "already back", the delete is by `_id`.
    await this.retried(async () => {
      try {
        await this.tickets.insertOne(doc, { writeConcern: this.writeConcern });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }, true);
    await this.retried(() => this.db.collection<TicketDoc>(archiveCollectionOf(doc._id)).deleteOne({ _id: doc._id }, { writeConcern: this.writeConcern }), true);
  }

  /**
   * `op` retried after a transient database error (store/transient-errors.ts): after any, when
   * `idempotent`; otherwise only after one that certainly did not apply it.
   */
  private retried<T>(op: () => Promise<T>, idempotent: boolean): Promise<T> {
    return retryTransient(op, { idempotent, policy: this.opts.retry ?? DEFAULT_RETRY });
  }

  /**
   * Tickets by number, in the order given (missing ones left out). One `$in` query by `_id`: index
   * lookups on MongoDB and on FerretDB as the install builds it (patch `id-prefilter-in`); numbers
   * not in the working set are looked for in the archive one by one.
   */
  async getMany(numbers: readonly string[]): Promise<Ticket[]> {
    if (numbers.length === 0) return [];
    const byNumber = new Map<string, Ticket>();
    if (numbers.length === 1) {
      const t = await this.read(numbers[0]);
      if (t) byNumber.set(t.number, t);
    } else {
      for (const d of await this.tickets.find({ _id: { $in: [...new Set(numbers)] } }).toArray()) byNumber.set(d._id, toTicket(d));
      for (const n of numbers) {
        if (byNumber.has(n)) continue;
        const t = await this.read(n);
        if (t) byNumber.set(n, t);
      }
    }
    return numbers.map((n) => byNumber.get(n)).filter((t): t is Ticket => t !== undefined);
  }

  async list(query: TicketQuery = {}): Promise<PageOf<Ticket>> {
    const q = parseInput(TicketQuerySchema, query, 'ticket query');
    if (q.cursor !== undefined && q.page > 1) throw new ValidationError('invalid ticket query: send either cursor or page, not both', [{ path: 'cursor', message: 'not with page' }]);
    // A query with nothing to look up in the index (only punctuation, say) is matched literally by the scan below.
    if (q.search !== undefined && this.opts.search) {
      const wanted = parseSearch(q.search);
      if (wanted.number !== null || wanted.terms.length > 0) return this.listFromSearch(q);
    }
    const mine = (q.cursor === undefined ? await this.listForCustomer(q) : null) ?? (await this.listFromIndex(q));
    if (mine) return mine;
    // "Waiting" and "overdue" are derived (replies, due times): only the ticket index answers them.
    if (q.waiting !== undefined || q.overdue !== undefined) {
      throw new ValidationError('the waiting and overdue views cannot be combined with text search or this sort yet: clear the search (or sort by time)', [{ path: q.search !== undefined ? 'search' : 'sort', message: 'not with waiting/overdue' }]);
    }
    const filter: Filter<TicketDoc> = {};
    if (q.status) filter.status = q.status;
    else if (q.open !== undefined) filter.status = q.open ? { $in: [...OPEN_STATUSES] } : { $nin: [...OPEN_STATUSES] };
    if (q.unassigned !== undefined) filter.assignee = q.unassigned ? null : { $ne: null };
    if (q.topic) filter.topic = q.topic;
    if (q.type) filter.type = q.type;
    if (q.channelId) filter['customer.channelId'] = q.channelId;
    if (q.customerUserId) filter['customer.userId'] = q.customerUserId;
    if (q.needsReview !== undefined) filter.needsReview = q.needsReview;
    if (q.spam !== undefined) filter.spam = q.spam;
    if (q.assignee) filter.assignee = q.assignee;
    if (q.from || q.to) filter.createdDay = { ...(q.from ? { $gte: q.from } : {}), ...(q.to ? { $lte: q.to } : {}) };
    if (q.search) {
      const re = { $regex: escapeRegex(q.search), $options: 'i' };
      filter.$or = [{ number: re }, { 'text.original': re }, { 'contact.phone': re }, { 'contact.email': re }];
    }
    let sort: Record<string, 1 | -1>;
    if (q.sort === 'review') {
      sort = { needsReview: -1, createdAt: -1, number: -1 };
    } else {
      const desc = q.sort.startsWith('-');
      const name = desc ? q.sort.slice(1) : q.sort;
      const field = name === 'priority' ? 'priorityRank' : name;
      sort = { [field]: desc ? -1 : 1, number: desc ? -1 : 1 };
    }
    const fields = Object.entries(sort);
    // Keyset: after the cursor's key in the sort order (the first field that differs decides).
    let page: Filter<TicketDoc> = filter;
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor, 'q', q.sort);
      if (c.k.length !== fields.length) throw new ValidationError('invalid cursor: made for another list or sort', [{ path: 'cursor', message: 'wrong key' }]);
      const vals = c.k.map((v, i) => (fields[i][0] === 'createdAt' && typeof v === 'number' ? new Date(v) : v));
      const or = fields.map(([f, d], i) => ({ ...Object.fromEntries(fields.slice(0, i).map(([g], j) => [g, vals[j]])), [f]: { [d === 1 ? '$gt' : '$lt']: vals[i] } }));
      page = { $and: [filter, { $or: or }] } as Filter<TicketDoc>;
    }
    const [docs, total] = await Promise.all([
      this.tickets
        .find(page)
        .sort(sort as Sort)
        .skip(q.cursor !== undefined ? 0 : (q.page - 1) * q.pageSize)
        .limit(q.pageSize + 1)
        .toArray(),
      this.tickets.countDocuments(filter),
    ]);
    const items = docs.slice(0, q.pageSize);
    const last = items.at(-1) as unknown as Record<string, unknown> | undefined;
    const key = (d: Record<string, unknown>) => fields.map(([f]) => (d[f] instanceof Date ? (d[f] as Date).getTime() : ((d[f] as string | number | boolean | undefined) ?? null)));
    const nextCursor = docs.length > q.pageSize && last ? encodeCursor({ m: 'q', s: q.sort, k: key(last) }) : null;
    return { items: items.map(toTicket), total, page: q.page, pageSize: q.pageSize, nextCursor };
  }

  /**
   * The tickets a number typed in the search box names: the ticket holding it, and one stored under
   * a new number at outbox replay whose customer was given it (their `formerNumber`: a customer
   * quoting it to staff means that one, which staff must not miss for the other).
   */
  private async numbered(number: string): Promise<string[]> {
    const month = number.slice(1, 7);
    const [indexed, noted, kept] = await Promise.all([this.opts.search!.find([formerNumberTerm(number)], { fromMonth: month, toMonth: month }), this.alsoQuotedFor(number), this.keptFor(number)]);
    // The number moves name them at once; the search index (written behind) names those renumbered before moves were noted.
    const moved = [...new Set([...noted, ...indexed])];
    const found = [...((await this.get(number)) ? [number] : []), ...moved.filter((n) => n !== number)];
    // A provisional number given to a request sent again during an outage, whose copy the replay dropped.
    return kept && !found.includes(kept) ? [...found, kept] : found;
  }

  /**
   * Text search from the inverted index (store/search-index.ts): the matching numbers, filtered by
   * their summaries in the ticket index when the query has other filters, sorted, then one page of
   * tickets read. A ticket number typed in the box is looked up directly. Reads no other ticket.
   */
  private async listFromSearch(q: z.output<typeof TicketQuerySchema>): Promise<PageOf<Ticket>> {
    const wanted = parseSearch(q.search!);
    const month = (day: string | undefined) => (day ? day.slice(0, 4) + day.slice(5, 7) : undefined);
    let numbers = wanted.number ? await this.numbered(wanted.number) : await this.opts.search!.find(wanted.terms, { fromMonth: month(q.from), toMonth: month(q.to) });
    numbers = numbers.filter((n) => (!q.from || dayOfNumber(n) >= q.from) && (!q.to || dayOfNumber(n) <= q.to));
    const filtered = SUMMARY_FILTERS.some((k) => q[k] !== undefined);
    const timeSort = q.sort === '-createdAt' || q.sort === 'createdAt';
    let rows: { n: string; key: Cursor['k'] }[];
    if (!filtered && timeSort) {
      rows = numbers.map((n) => ({ n, key: [n] }));
    } else {
      const sums: Map<string, TicketSummary> = this.opts.index ? await this.opts.index.summaries(numbers) : new Map();
      // Tickets without a summary (the index not yet rebuilt) are read whole.
      const missing = numbers.filter((n) => !sums.has(n));
      if (missing.length) for (const t of await this.getMany(missing)) sums.set(t.number, summarize(t));
      const due = this.opts.index?.dueClock();
      const kept = numbers.filter((n) => sums.has(n) && matches(sums.get(n)!, q as unknown as IndexedQuery, due));
      const rank = new Map<string, number>();
      if (q.sort.endsWith('priority')) for (const t of await this.getMany(kept)) rank.set(t.number, PRIORITY_RANK[t.priority]);
      rows = kept.map((n) => {
        const s = sums.get(n)!;
        if (q.sort === 'review') return { n, key: [s.r ? 1 : 0, s.c, n] };
        if (q.sort.endsWith('confidence')) return { n, key: [s.f, n] };
        if (q.sort.endsWith('priority')) return { n, key: [rank.get(n) ?? 1, n] };
        return { n, key: [n] };
      });
    }
    const desc = q.sort.startsWith('-') || q.sort === 'review';
    const order = (a: Cursor['k'], b: Cursor['k']) => (desc ? -compareKeys(a, b) : compareKeys(a, b));
    rows.sort((a, b) => order(a.key, b.key));
    let start = (q.page - 1) * q.pageSize;
    if (q.cursor !== undefined) {
      const after = decodeCursor(q.cursor, 's', q.sort).k;
      start = rows.findIndex((r) => order(r.key, after) > 0);
      if (start < 0) start = rows.length;
    }
    const slice = rows.slice(start, start + q.pageSize);
    const nextCursor = start + q.pageSize < rows.length ? encodeCursor({ m: 's', s: q.sort, k: slice.at(-1)!.key }) : null;
    return { items: await this.getMany(slice.map((r) => r.n)), total: rows.length, page: q.page, pageSize: q.pageSize, nextCursor };
  }

  async update(number: string, patch: TicketPatch, opts: { expectedVersion?: number; by?: string } = {}): Promise<Ticket> {
    const p = parseInput(TicketPatchSchema, patch, 'ticket change');
    return this.versioned(number, opts.expectedVersion, (current, at) => {
      const set: Record<string, unknown> = { ...p };
      if (p.priority) set.priorityRank = PRIORITY_RANK[p.priority];
      if (p.status && p.status !== current.status) {
        if (!STATUS_TRANSITIONS[current.status].includes(p.status)) {
          throw new ValidationError(`ticket ${number}: status cannot change from ${current.status} to ${p.status}`, [{ path: 'status', message: 'invalid transition' }]);
        }
        if (p.status === 'resolved') set.resolvedAt = at;
        if (p.status === 'closed') set.closedAt = at;
      }
      return { set };
    });
  }

  async addNote(number: string, note: NoteInput): Promise<Ticket> {
    const n = parseInput(NoteInputSchema, note, 'note');
    const id = randomUUID();
    const push = (at: Date) => ({ notes: { id, author: n.author, text: n.text, at, ...(n.liveChat ? { liveChat: n.liveChat } : {}), ...(n.undeliveredNotice ? { undeliveredNotice: n.undeliveredNotice } : {}) } satisfies TicketNote });
    if (this.opts.atomicUpdates) return this.append(number, push);
    return this.versioned(number, undefined, (_, at) => ({ push: push(at) }));
  }

  /** Records a staff reply (see {@link TicketRepository.recordReply}); the first one stamps firstResponseAt. */
  async recordReply(number: string, reply: ReplyInput): Promise<Ticket> {
    const { id = randomUUID(), ...r } = parseInput(ReplyInputSchema, reply, 'reply');
    let earlier: Ticket | null = null;
    return this.versioned(number, undefined, (current, at) => {
      if (r.requestId && holdsRequest(current, r.requestId, r.text)) {
        earlier = current;
        throw new AlreadyRecorded();
      }
      return { set: current.firstResponseAt ? {} : { firstResponseAt: at }, push: { replies: { id, ...r, at } satisfies StaffReply } };
    }).catch((err: unknown) => {
      if (err instanceof AlreadyRecorded && earlier) return earlier;
      throw err;
    });
  }

  async addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket> {
    const t = parseInput(TicketCreateSchema.shape.text.shape.original, text, 'customer message');
    const a = attachments?.length ? parseInput(TicketCreateSchema.shape.attachments, attachments, 'attachments') : undefined;
    const message = (at: Date) => ({ messages: { text: t, at, ...(a?.length ? { attachments: a } : {}) } });
    if (this.opts.atomicUpdates) return this.append(number, message);
    return this.versioned(number, undefined, (_, at) => ({ push: message(at) }));
  }

  async rate(number: string, rating: SatisfactionInput): Promise<Ticket> {
    const r = parseInput(SatisfactionInputSchema, rating, 'rating');
    return this.versioned(number, undefined, (_, at) => ({ set: { satisfaction: { score: r.score, comment: r.comment || null, at } satisfies Satisfaction } }));
  }

  async markReplySending(number: string, id: string, opts: { confirmed?: boolean } = {}): Promise<Ticket> {
    // Checked on the version written: two retries of one reply at once send it once.
    return this.versioned(number, undefined, (current, at) => {
      replyToResend(current, id, opts.confirmed === true);
      // A person's settlement (not delivered) is of the attempt before: the audit trail keeps it.
      const replies = current.replies.map((r) => (r.id === id ? { ...withoutSettlement(r), sending: true, error: null, retriedAt: at, attempts: (r.attempts ?? 1) + 1 } : r));
      return { set: { replies } };
    });
  }

  async recordReplyOutcome(number: string, id: string, outcome: { delivered: boolean; error: string | null }): Promise<Ticket> {
    const error = outcome.error === null ? null : outcome.error.slice(0, 500);
    return this.versioned(number, undefined, (current, at) => {
      if (!current.replies.some((r) => r.id === id)) throw new NotFoundError(`ticket ${number} has no reply ${id}`);
      // The channel's answer, even after a person settled it while the send was on its way: it is what happened.
      const replies = current.replies.map((r) => (r.id === id ? withOutcome(withoutSettlement(r), outcome.delivered, error) : r));
      // A retried reply that now arrives is the first response only if none arrived before it.
      return { set: { replies, ...(current.firstResponseAt || !outcome.delivered ? {} : { firstResponseAt: at }) } };
    });
  }

  /**
   * Settles a reply of unknown outcome (see {@link TicketRepository.settleReply}). Checked on the
   * version written, like {@link markReplySending}: of a settlement and a resend at once, whichever
   * is stored first wins, and the other is refused (the resend finds the reply delivered, or the
   * settlement finds another attempt under way).
   */
  async settleReply(number: string, id: string, settlement: ReplySettlement): Promise<Ticket> {
    const s = parseInput(ReplySettlementSchema, settlement, 'reply settlement');
    return this.versioned(number, undefined, (current, at) => {
      const settled = replyToSettle(current, id, s.attempts);
      const replies = current.replies.map((r) => (r.id === id ? { ...withOutcome(r, s.delivered, null), settledBy: s.by, settledAt: at } : r));
      // It reached the customer when it was sent (or last sent again), not when a person said so.
      const first = current.firstResponseAt || !s.delivered ? {} : { firstResponseAt: settled.retriedAt ?? settled.at };
      return { set: { replies, ...first } };
    });
  }

  async correct(number: string, correction: { field: 'topic' | 'type'; to: string; by: string }) {
    const c = parseInput(CorrectionInputSchema, correction, 'correction');
    const allowed: readonly string[] = c.field === 'topic' ? this.opts.topics : DEMAND_TYPES;
    if (!allowed.includes(c.to)) throw new ValidationError(`invalid correction: "${c.to}" is not a ${c.field}`, [{ path: 'to', message: `unknown ${c.field}` }]);
    let entry: TicketCorrection | null = null;
    const ticket = await this.versioned(number, undefined, (current, at) => {
      entry = { field: c.field, from: current[c.field], to: c.to, by: c.by, at };
      return { set: { [c.field]: c.to, needsReview: false }, push: { corrections: entry } };
    });
    return { ticket, correction: entry! };
  }

  /**
   * Flags the ticket for staff (the review queue) with `reason`, e.g. a customer's request for a
   * person that could not be queued. A ticket flagged so already is returned as it is: a replay
   * run twice writes once.
   */
  async flagForReview(number: string, reason: string): Promise<Ticket> {
    const why = parseInput(ReviewReason, reason, 'review reason');
    let held: Ticket | null = null;
    return this.versioned(number, undefined, (current) => {
      if (current.needsReview && current.reviewReason === why) {
        held = current;
        throw new AlreadyRecorded();
      }
      return { set: { needsReview: true, reviewReason: why } };
    }).catch((err: unknown) => {
      if (err instanceof AlreadyRecorded && held) return held;
      throw err;
    });
  }

  /** Records that a person confirmed the classification in review: it leaves the review queue. */
  async confirmReview(number: string, by: string): Promise<Ticket> {
    const who = parseInput(SpamDecisionInputSchema.shape.by, by, 'reviewer');
    return this.versioned(number, undefined, (_, at) => ({ set: { needsReview: false, reviewedBy: who, reviewedAt: at } }));
  }

  /**
   * Records a staff spam / not-spam decision: the ticket's `spam` follows it (so it leaves or
   * enters the spam view) and it leaves the review queue.
   */
  async decideSpam(number: string, decision: { spam: boolean; by: string }): Promise<Ticket> {
    const d = parseInput(SpamDecisionInputSchema, decision, 'spam decision');
    return this.versioned(number, undefined, (_, at) => ({
      set: { spam: d.spam, spamDecision: { spam: d.spam, by: d.by, at } satisfies SpamDecision, needsReview: false, reviewedBy: d.by, reviewedAt: at },
    }));
  }

  /**
   * Applies one change to a ticket as the move from its current version v to v + 1: the writer
   * that claims `ticket:<number>:v<v+1>` applies it, concurrent writers re-read and retry (or, with
   * `expectedVersion`, get a conflict). So no change is lost and none overwrites another unseen.
   *
   * A write that failed in a way that may still have stored it (its reply lost, a write-concern
   * error: transient-errors.ts `mayHaveApplied`) is not reported as failed on a guess: the change
   * carries an id, kept in the ticket's `changeIds`, and the ticket is read again. Holding the id,
   * the change is stored and reported so; not holding it (and the list reaching back to the version
   * written), it was not, and is written again under the claim this change took (the claim's owner
   * is the change's id). Arrays are written whole (`$set`), so a first attempt still on its way
   * that lands beside the second writes the same item, never a second copy of it.
   */
  private async versioned(
    number: string,
    expectedVersion: number | undefined,
    change: (current: Ticket, at: Date) => { set?: Record<string, unknown>; push?: Record<string, unknown> },
  ): Promise<Ticket> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    const id = randomUUID();
    // The claim this call took for a version it could not write (released if the ticket turns out archived).
    let ownClaim: string | null = null;
    // Writes of this change that may have been stored, by the version they wrote, and the last such error.
    const unsure = new Map<number, { before: Ticket; written: Ticket }>();
    let unsureErr: unknown = null;
    let unsureCount = 0;
    for (let attempt = 0; attempt < 100; attempt++) {
      const found = await this.locate(n).catch((err: unknown) => {
        // The database cannot say whether the change is stored: the caller hears the first error.
        throw unsureErr ?? err;
      });
      if (!found) throw new NotFoundError(`ticket ${number} not found`);
      const stored = unsureErr === null ? null : storedWrite(found.doc, id, unsure, unsureErr);
      if (stored) {
        await this.changed(stored.before, stored.written);
        return stored.written;
      }
      if (attempt > 0 && found.archived) {
        // Archived: back into the working set first; the claim taken for it is released
        // (nobody else applied that version: the ticket was not in the working set).
        await this.restore(found.doc);
        if (ownClaim === `ticket:${found.doc._id}:v${found.doc.version + 1}`) await this.claims.release(ownClaim);
      }
      ownClaim = null;
      const current = toTicket(found.doc);
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        throw new ConflictError(`ticket ${number} was changed by someone else (now version ${current.version}, you edited version ${expectedVersion}); reload it`);
      }
      const at = this.now();
      const { set = {}, push = {} } = change(current, at);
      const next = current.version + 1;
      // The ticket as this write makes it: the hook gets exactly this version (a re-read could already include a later change).
      const { written, arrays } = changedTicket(current, set, push, at);
      const changeIds = [...(found.doc.changeIds ?? []), id].slice(-CHANGE_IDS_KEPT);
      let r: { matchedCount: number };
      try {
        // On MongoDB the conditional update below is atomic by itself; FerretDB needs the claim.
        // A claim or a conditional update that failed on a transient error did not happen: repeated as is.
        if (!this.opts.atomicUpdates && !(await this.retried(() => this.claims.claim(`ticket:${current.number}:v${next}`, id), false))) {
          if (expectedVersion !== undefined) throw new ConflictError(`ticket ${number} was changed by someone else; reload it`);
          await backoff(attempt);
          continue;
        }
        const update = { $set: { ...set, ...arrays, changeIds, version: next, updatedAt: at } };
        r = await this.retried(() => this.tickets.updateOne({ _id: current.number, version: current.version }, update, { writeConcern: this.writeConcern }), false);
      } catch (err) {
        if (!mayHaveApplied(err) || ++unsureCount >= (this.opts.retry ?? DEFAULT_RETRY).attempts) throw err;
        // Maybe stored: the next round reads the ticket and looks for this change's id.
        unsure.set(next, { before: current, written });
        unsureErr = err;
        continue;
      }
      if (r.matchedCount === 0) {
        if (!this.opts.atomicUpdates) ownClaim = `ticket:${current.number}:v${next}`;
        // Our read was stale (the ticket had moved on, or was archived): nothing was written, so retry from a fresh read.
        // An edit of a version the editor saw conflicts, unless the ticket only moved to the archive.
        if (expectedVersion !== undefined && !(await this.locate(current.number))?.archived) throw new ConflictError(`ticket ${number} was changed by someone else; reload it`);
        continue;
      }
      await this.changed(current, written);
      return written;
    }
    throw new ConflictError(`ticket ${number} is changing too fast; try again`);
  }

  /**
   * An append with MongoDB's atomic operators: one round trip. The change's id goes into the
   * ticket's `changeIds` with it, and the push applies only to a ticket not holding that id yet, so
   * after a failure that may have stored it (transient-errors.ts `mayHaveApplied`) it is simply
   * sent again: a stored one matches nothing and the ticket, read, shows it stored.
   */
  private async append(number: string, push: (at: Date) => Record<string, unknown>): Promise<Ticket> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    const id = randomUUID();
    const at = this.now();
    const items = push(at);
    const update = { $push: { ...items, changeIds: { $each: [id], $slice: -CHANGE_IDS_KEPT } }, $inc: { version: 1 }, $set: { updatedAt: at } };
    // The pre-image of this atomic update: with the pushed items it is exactly the version written.
    const pushed = () => this.pushOnce(n, id, update);
    let r = await pushed();
    if (!r.doc) {
      const found = await this.locate(n).catch((err: unknown) => {
        throw r.unsure ?? err;
      });
      if (found?.archived) {
        await this.restore(found.doc);
        r = await pushed();
      } else if (found && r.unsure) {
        // An attempt whose reply was lost may have stored it: the ticket tells.
        const stored = storedAppend(found.doc, id, items);
        if (!stored) throw r.unsure;
        await this.changed(stored.before, stored.written);
        return this.require(number);
      }
    }
    if (!r.doc) throw new NotFoundError(`ticket ${number} not found`);
    const before = toTicket(r.doc);
    const written = { ...before, version: before.version + 1, updatedAt: at } as Ticket;
    for (const [field, value] of Object.entries(items)) (written as unknown as Record<string, unknown[]>)[field] = [...(before[field as keyof Ticket] as unknown[]), value];
    await this.changed(before, written);
    return this.require(number);
  }

  /**
   * The atomic push of change `id` (see {@link append}): the pre-image, or null when no working-set
   * ticket without that id matched. Repeated after a failure that did not apply it, and after one
   * that may have (`unsure` is then that error): the id makes a stored push match nothing.
   */
  private async pushOnce(n: string, id: string, update: Record<string, unknown>): Promise<{ doc: TicketDoc | null; unsure: unknown }> {
    let unsure: unknown = null;
    for (let attempt = 1; ; attempt++) {
      try {
        const doc = await this.retried(() => this.tickets.findOneAndUpdate({ _id: n, changeIds: { $ne: id } }, update, { returnDocument: 'before', writeConcern: this.writeConcern }), false);
        return { doc, unsure };
      } catch (err) {
        if (!mayHaveApplied(err) || attempt >= (this.opts.retry ?? DEFAULT_RETRY).attempts) throw err;
        unsure = err;
      }
    }
  }

  /**
   * Starts the change hook and returns without waiting for it: the ticket write is already durable,
   * and the read models' compare-and-set writes (several scans each on FerretDB) stay off the
   * request's path. Their updates are queued synchronously, and reads in this process wait for the
   * documents they read (json-docs.ts), so this process reads its own writes; other processes see
   * them when stored, moments later. A failure, or a crash before they are stored, is repaired by
   * `npm run stats:rebuild` (a recount from the tickets); it is logged, never thrown.
   */
  private changed(before: Ticket | null, after: Ticket): Promise<void> {
    void this.readModels(before, after);
    return Promise.resolve();
  }

  /**
   * {@link changed}'s hook, started and tracked (`settled` waits for it); resolves to whether the
   * read models stored the change (a failure is logged). `once`: see `onTicketChanged`.
   */
  private readModels(before: Ticket | null, after: Ticket, once?: string): Promise<boolean> {
    if (!this.opts.onTicketChanged) return Promise.resolve(true);
    const run = this.opts.onTicketChanged(before, after, once).then(
      () => true,
      (err: unknown) => {
        this.opts.log.error({ ticket: after.number, err: (err as Error).message }, 'read models missed a ticket change; run `npm run stats:rebuild` to recount');
        return false;
      },
    );
    this.pendingHooks.add(run);
    void run.finally(() => this.pendingHooks.delete(run));
    return run;
  }

  /** Resolves when every read-model update started so far in this process is stored (or failed and logged). */
  async settled(): Promise<void> {
    while (this.pendingHooks.size > 0) await Promise.all([...this.pendingHooks]);
  }

  /**
   * One customer's tickets by status, newest first (the bot's "my ticket"), from the customer's
   * document and reads by `_id`; null when the query asks for more than that (the general path).
   */
  private async listForCustomer(q: z.output<typeof TicketQuerySchema>): Promise<PageOf<Ticket> | null> {
    const { channelId, customerUserId: userId, status, sort, page, pageSize, ...rest } = q;
    const others = Object.values(rest).some((v) => v !== undefined);
    if (!this.opts.customerTickets || !channelId || !userId || others || (sort !== '-createdAt' && sort !== 'createdAt')) return null;
    let summaries = (await this.opts.customerTickets({ channelId, userId })).filter((t) => !status || t.status === status);
    if (sort === 'createdAt') summaries = summaries.reverse();
    const slice = summaries.slice((page - 1) * pageSize, page * pageSize);
    return { items: await this.getMany(slice.map((t) => t.number)), total: summaries.length, page, pageSize };
  }

  /**
   * The list from the per-day summaries (store/ticket-index.ts): every filter but text search,
   * sorted by time; null for what it does not answer (search, other sorts), which the query below
   * answers — with the indexes on MongoDB, by a scan on FerretDB.
   */
  private async listFromIndex(q: z.output<typeof TicketQuerySchema>): Promise<PageOf<Ticket> | null> {
    if (!this.opts.index || q.search !== undefined || (q.sort !== '-createdAt' && q.sort !== 'createdAt')) return null;
    const { search: _search, cursor, ...rest } = q;
    let after: { c: number; n: string } | undefined;
    if (cursor !== undefined) {
      const [c, n] = decodeCursor(cursor, 'i', q.sort).k;
      if (typeof c !== 'number' || typeof n !== 'string') throw new ValidationError('invalid cursor: made for another list or sort', [{ path: 'cursor', message: 'wrong key' }]);
      after = { c, n };
    }
    const page = await this.opts.index.page({ ...rest, sort: q.sort, after });
    let total = page.total;
    if (total === null && q.assignee === undefined && q.customerUserId === undefined) total = (await this.opts.count?.(q)) ?? null;
    if (total === null) total = (await this.opts.index.page({ ...rest, sort: q.sort, page: 1, pageSize: Number.MAX_SAFE_INTEGER })).numbers.length;
    const nextCursor = page.more && page.last ? encodeCursor({ m: 'i', s: q.sort, k: [page.last.c, page.last.n] }) : null;
    return { items: await this.getMany(page.numbers), total, page: q.page, pageSize: q.pageSize, nextCursor };
  }

  async latestOpenFor(channelId: string, userId: string): Promise<Ticket | null> {
    if (this.opts.customerTickets) {
      const open = (await this.opts.customerTickets({ channelId, userId })).filter((t) => !t.spam && (OPEN_STATUSES as readonly string[]).includes(t.status));
      for (const t of open) {
        const ticket = await this.get(t.number);
        if (ticket && (OPEN_STATUSES as readonly string[]).includes(ticket.status)) return ticket;
      }
      return null;
    }
    const doc = await this.tickets.find({ 'customer.channelId': channelId, 'customer.userId': userId, status: { $in: [...OPEN_STATUSES] }, spam: false }).sort({ createdAt: -1 }).limit(1).next();
    return doc ? toTicket(doc) : null;
  }

  async countsPerDay(field: StatField, range: { from: string; to: string }): Promise<DailyCount[]> {
    const rows = await this.tickets
      .aggregate<{ _id: { day: string; key: string | null }; count: number }>([
        { $match: { createdDay: { $gte: range.from, $lte: range.to } } },
        { $group: { _id: { day: '$createdDay', key: STAT_FIELDS[field] }, count: { $sum: 1 } } },
        { $sort: { '_id.day': 1, '_id.key': 1 } },
      ])
      .toArray();
    return rows.map((r) => ({ day: r._id.day, key: r._id.key ?? null, count: r.count }));
  }

  /** The stored ticket, from the source of truth (read-modify-write must not start from a copy). */
  private async require(number: string): Promise<Ticket> {
    const t = await this.read(parseInput(TicketNumber, number, 'ticket number'));
    if (!t) throw new NotFoundError(`ticket ${number} not found`);
    return t;
  }
}

/** Query fields the ticket summaries answer (search filters them in memory). */
const SUMMARY_FILTERS = ['status', 'topic', 'type', 'channelId', 'needsReview', 'spam', 'assignee', 'customerUserId', 'open', 'unassigned', 'waiting', 'overdue'] as const;

/** Compares sort keys field by field (ticket numbers by day, then sequence). */
function compareKeys(a: Cursor['k'], b: Cursor['k']): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'string' && typeof y === 'string') return -compareNumbersDesc(x, y) || (x < y ? -1 : 1);
    if (x === null || x === undefined) return -1;
    if (y === null || y === undefined) return 1;
    return Number(x) < Number(y) ? -1 : 1;
  }
  return 0;
}

/** A number that needs no database: T20261125-O + 6 random base-36 characters. */
export function offlineNumber(day: string): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = randomBytes(6);
  let s = '';
  for (const b of bytes) s += alphabet[b % 36];
  return `T${day.replaceAll('-', '')}-O${s}`;
}

/** A staff reply as recorded (see {@link TicketRepository.recordReply}). */
export type ReplyInput = z.input<typeof ReplyInputSchema>;

/** A person's settlement of a reply of unknown outcome (see {@link TicketRepository.settleReply}). */
export type ReplySettlement = z.input<typeof ReplySettlementSchema>;

/**
 * The reply `id` of ticket `t` if a person may settle its outcome: it is of unknown outcome
 * (`sending`) and still at the attempt they saw (`attempts`; 1 for a reply never sent again).
 * NotFoundError without it; ConflictError (409) when its outcome is known (delivered, or refused by
 * the channel) or it was sent again since (that attempt's own outcome is still to come).
 */
export function replyToSettle(t: Ticket, id: string, attempts: number): StaffReply {
  const r = t.replies.find((x) => x.id === id);
  if (!r) throw new NotFoundError(`ticket ${t.number} has no reply ${id}`);
  const at = r.attempts ?? 1;
  if (!r.sending) {
    const known = r.delivered ? 'delivered' : 'not delivered';
    throw new ConflictError(`reply ${id} is not of unknown outcome: it is already recorded as ${known}${r.settledBy ? ` (by ${r.settledBy})` : ''}; reload the ticket`);
  }
  if (at !== attempts) throw new ConflictError(`reply ${id} was sent again since you saw it (attempt ${at}, you saw attempt ${attempts}); reload the ticket`);
  return r;
}

/** A review reason as the ticket keeps it. */
const ReviewReason = TicketCreateSchema.shape.classification.shape.reviewReason.unwrap();

/** Thrown inside a versioned change to write nothing: what it would write is stored already. */
class AlreadyRecorded extends Error {}

/** Whether the ticket holds the reply of request `requestId`; the same id for another text is refused. */
function holdsRequest(t: Ticket, requestId: string, text: string): boolean {
  const r = t.replies.find((x) => x.requestId === requestId);
  if (r && r.text !== text) throw new ValidationError(`request id ${requestId} was used for another reply on ticket ${t.number}`, [{ path: 'requestId', message: 'used for another reply' }]);
  return r !== undefined;
}

/** Reply `r` with its delivery outcome recorded (no longer `sending`). */
function withOutcome(r: StaffReply, delivered: boolean, error: string | null): StaffReply {
  const { sending: _sending, ...rest } = r;
  return { ...rest, delivered, error };
}

/** Reply `r` without a person's settlement of an earlier attempt. */
function withoutSettlement(r: StaffReply): StaffReply {
  const { settledBy: _by, settledAt: _at, ...rest } = r;
  return rest;
}

/**
 * The reply `id` of ticket `t` if it may be sent again: not delivered, and not of unknown outcome
 * (`sending`: recorded before its send, its outcome never recorded, so it may have reached the
 * customer) unless a person `confirmed` sending it again. NotFoundError without it; ConflictError
 * (409) when it was delivered (its state forbids a resend, as {@link replyToSettle} refuses a known
 * outcome); ValidationError (400) when its outcome is unknown and the request lacks the confirmation.
 */
export function replyToResend(t: Ticket, id: string, confirmed: boolean): StaffReply {
  const r = t.replies.find((x) => x.id === id);
  if (!r) throw new NotFoundError(`ticket ${t.number} has no reply ${id}`);
  if (r.delivered) throw new ConflictError(`reply ${id} was already delivered; reload the ticket`);
  if (r.sending && !confirmed) {
    throw new ValidationError(`reply ${id} may already have reached the customer (its delivery outcome was not recorded); send it again only with "confirm": true`, [{ path: 'confirm', message: 'delivery outcome unknown' }]);
  }
  return r;
}
