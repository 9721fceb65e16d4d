/**
 * Tickets in MongoDB (official driver; only what FerretDB 1.24 supports: no $text, no change
 * streams, no multi-document transactions).
 *
 * Nothing is lost: a ticket number is returned only after the insert is acknowledged (journaled
 * where the server supports it), or after the ticket is fsynced into the local outbox when the
 * database cannot be reached; the outbox is replayed idempotently by ticket number.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
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
import type { TicketIndex } from './ticket-index.js';
import { ensureIndexes } from './indexes.js';
import { InsertBatcher } from './insert-batcher.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { FileOutbox, OutboxLogger, ReplayOutcome } from './outbox.js';
import {
  CorrectionInputSchema,
  NoteInputSchema,
  ReplyInputSchema,
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
  type TicketPatch,
  type TicketQuery,
  type SpamDecision,
  type StaffReply,
  type TicketAttachment,
} from './schemas.js';
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { assertDocumentSize, escapeRegex, parseInput } from './validation.js';

/** Where a created ticket is: in the database, or waiting in the local outbox. */
export type Durability = 'database' | 'outbox';

export interface PageOf<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
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
  create(input: TicketCreate): Promise<{ ticket: Ticket; stored: Durability }>;
  get(number: string): Promise<Ticket | null>;
  list(query?: TicketQuery): Promise<PageOf<Ticket>>;
  /** Changes status, assignee or priority; `expectedVersion` makes it fail with a conflict if someone changed the ticket since. */
  update(number: string, patch: TicketPatch, opts?: { expectedVersion?: number; by?: string }): Promise<Ticket>;
  addNote(number: string, note: { author: string; text: string }): Promise<Ticket>;
  recordReply(number: string, reply: { text: string; by: string; delivered: boolean; error: string | null }): Promise<Ticket>;
  correct(number: string, correction: { field: 'topic' | 'type'; to: string; by: string }): Promise<{ ticket: Ticket; correction: TicketCorrection }>;
  addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket>;
  /** Marks the classification confirmed by `by` (leaves the review queue). */
  confirmReview(number: string, by: string): Promise<Ticket>;
  /** Records a staff spam decision; `spam` follows it. */
  decideSpam(number: string, decision: { spam: boolean; by: string }): Promise<Ticket>;
  /** The customer's most recent open ticket (to add details to it). */
  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
  countsPerDay(field: StatField, range: { from: string; to: string }): Promise<DailyCount[]>;
  /** Replays the outbox into the database (`onStored` runs for each ticket newly stored). */
  flushOutbox(onStored?: (ticket: Ticket) => Promise<void>): Promise<{ replayed: number; duplicates: number; remaining: number }>;
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
   * Called after every stored ticket write, with the ticket before (null when new) and after: the
   * one place read models (statistics counters, customer documents) follow the tickets. Awaited,
   * so they are up to date when the write resolves; a failure is logged, never undoes the write.
   */
  onTicketChanged?: (before: Ticket | null, after: Ticket) => Promise<void>;
  /**
   * Each customer's tickets, newest first, from the customer documents: queries about one customer
   * read those and the tickets by `_id` instead of scanning the tickets.
   */
  customerTickets?: (identity: { channelId: string; userId: string }) => Promise<{ number: string; status: Ticket['status']; spam?: boolean }[]>;
  /** The per-day ticket summaries that answer the ticket list without a scan (store/ticket-index.ts). */
  index?: Pick<TicketIndex, 'page' | 'getTickets'>;
  /** Counts the tickets of a one-field filter from the statistics counters; null when it cannot. */
  count?: (filter: CountFilter) => Promise<number | null>;
}

/**
 * The stored document: the ticket, `_id` = its number, the day sequence of the number, and the
 * priority's rank (priorities sort by urgency, not alphabetically).
 */
type TicketDoc = Ticket & { _id: string; daySeq: number | null; priorityRank?: number };

/** Sort rank of each priority: low < normal < high < urgent. */
const PRIORITY_RANK: Readonly<Record<Ticket['priority'], number>> = { low: 0, normal: 1, high: 2, urgent: 3 };

const OPEN_STATUSES = ['new', 'in_progress', 'reopened'] as const;

/** Errors that mean "the database is not reachable now", as opposed to "the request is wrong". */
export function isUnavailable(err: unknown): boolean {
  return (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError ||
    (err instanceof Error && /ECONNREFUSED|ECONNRESET|socket|connection .* closed|Topology is closed/i.test(err.message))
  );
}

/** The one place that maps a stored document to the ticket returned to callers. */
function toTicket(doc: TicketDoc): Ticket {
  const { _id: _ignored, daySeq: _seq, priorityRank: _rank, ...ticket } = doc;
  // Tickets stored before these fields existed read as "not flagged / not decided / not reviewed".
  return { ...ticket, suspectedSpam: ticket.suspectedSpam === true, spamDecision: ticket.spamDecision ?? null, reviewedBy: ticket.reviewedBy ?? null, reviewedAt: ticket.reviewedAt ?? null };
}

export class MongoTicketRepository implements TicketRepository {
  private readonly tickets: Collection<TicketDoc>;
  private readonly claims: Claims;
  private readonly inserts: InsertBatcher<TicketDoc>;
  /** Last day sequence this process handed out, per day (numbers are allocated without a counter). */
  private readonly lastSeq = new Map<string, number>();
  private readonly now: () => Date;
  private readonly writeConcern: WriteConcernSettings;

  constructor(db: Db, private readonly opts: MongoTicketRepositoryOptions) {
    this.tickets = db.collection<TicketDoc>('tickets');
    this.claims = new Claims(db);
    this.inserts = new InsertBatcher(this.tickets, () => this.writeConcern);
    this.now = opts.now ?? (() => new Date());
    this.writeConcern = opts.writeConcern ?? { w: 'majority', journal: true };
  }

  /** Creates the indexes the staff queries need. Idempotent. */
  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.tickets, [
      { key: { number: 1 }, name: 'number_unique', unique: true },
      { key: { status: 1, createdAt: -1 }, name: 'status_createdAt' },
      { key: { topic: 1, createdAt: -1 }, name: 'topic_createdAt' },
      { key: { needsReview: 1, createdAt: -1 }, name: 'needsReview_createdAt' },
      { key: { assignee: 1, status: 1 }, name: 'assignee_status' },
      { key: { 'customer.channelId': 1, 'customer.userId': 1, createdAt: -1 }, name: 'customer_createdAt' },
      { key: { createdDay: 1, daySeq: -1 }, name: 'createdDay_daySeq' },
    ]);
  }

  async create(input: TicketCreate): Promise<{ ticket: Ticket; stored: Durability }> {
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
      version: 1,
    };
    assertDocumentSize(doc, 'ticket');
    try {
      await this.insertNumbered(doc, day);
      const ticket = toTicket(doc);
      await this.changed(null, ticket);
      return { ticket, stored: 'database' };
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      // Keep a number the database already gave out, or make one that needs no database.
      if (!doc.number) doc.number = doc._id = offlineNumber(day);
      await this.opts.outbox.append(doc);
      this.opts.log.warn({ ticket: doc.number, err: (err as Error).message, outboxed: this.opts.outbox.stats.appended }, 'database unreachable: ticket kept in the local outbox');
      this.opts.onOutboxed?.(doc.number);
      return { ticket: toTicket(doc), stored: 'outbox' };
    }
  }

  /**
   * Inserts the ticket under the next free number of the day (T20261125-0042). The unique index
   * on `number` is the arbiter: numbers are taken in order from this process's last one (or the
   * day's highest stored), and a number another process took first makes the insert fail with a
   * duplicate key, so the next one is tried. Concurrent calls in one process never collide.
   */
  private async insertNumbered(doc: TicketDoc, day: string): Promise<void> {
    const compact = day.replaceAll('-', '');
    let stored = this.lastSeq.get(day);
    if (stored === undefined) {
      const top = await this.tickets.find({ createdDay: day, daySeq: { $ne: null } }, { projection: { daySeq: 1 } }).sort({ daySeq: -1 }).limit(1).next();
      stored = top?.daySeq ?? 0;
    }
    for (let attempt = 0; attempt < 1000; attempt++) {
      // Synchronous from reading lastSeq to writing it: concurrent callers get distinct numbers.
      const seq = Math.max(this.lastSeq.get(day) ?? 0, stored) + 1;
      this.lastSeq.set(day, seq);
      doc.daySeq = seq;
      doc.number = doc._id = `T${compact}-${String(seq).padStart(4, '0')}`;
      try {
        await this.inserts.insert({ ...doc });
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    }
    throw new ConflictError('could not allocate a ticket number after 1000 attempts');
  }

  async flushOutbox(onStored?: (ticket: Ticket) => Promise<void>) {
    return this.opts.outbox.drain(async (doc): Promise<ReplayOutcome> => {
      try {
        await this.tickets.insertOne(doc as TicketDoc, { writeConcern: this.writeConcern });
        await this.changed(null, toTicket(doc as TicketDoc));
        await onStored?.(toTicket(doc as TicketDoc));
        return 'stored';
      } catch (err) {
        if (isDuplicateKey(err)) return 'duplicate';
        throw err;
      }
    });
  }

  /** The ticket, from the day documents of the ticket index when it has them, else from the tickets. */
  async get(number: string): Promise<Ticket | null> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    const indexed = (await this.opts.index?.getTickets([n]))?.get(n);
    if (indexed) return indexed;
    return this.read(n);
  }

  /** The ticket as stored in the tickets collection (the source of truth). */
  private async read(n: string): Promise<Ticket | null> {
    // By _id: the one filter FerretDB 1.24 hands to SQLite (which still reads every row, in C, with
    // no index: about 15 µs per stored ticket on the reference machine); an index lookup on MongoDB.
    const doc = await this.tickets.findOne({ _id: n });
    return doc ? toTicket(doc) : null;
  }

  /**
   * Tickets by number, in the order given (missing ones left out). One `$in` query: on FerretDB
   * 1.24 (SQLite) even an `_id` equality reads every row of the table, so one pass for the whole
   * page costs far less than one per ticket; on MongoDB it is an `_id` index lookup.
   */
  async getMany(numbers: readonly string[]): Promise<Ticket[]> {
    if (numbers.length === 0) return [];
    const byNumber = (await this.opts.index?.getTickets(numbers)) ?? new Map<string, Ticket>();
    const missing = numbers.filter((n) => !byNumber.has(n));
    if (missing.length === 1) {
      const t = await this.get(missing[0]);
      if (t) byNumber.set(t.number, t);
    } else if (missing.length > 1) {
      for (const d of await this.tickets.find({ _id: { $in: missing } }).toArray()) byNumber.set(d._id, toTicket(d));
    }
    return numbers.map((n) => byNumber.get(n)).filter((t): t is Ticket => t !== undefined);
  }

  async list(query: TicketQuery = {}): Promise<PageOf<Ticket>> {
    const q = parseInput(TicketQuerySchema, query, 'ticket query');
    const mine = (await this.listForCustomer(q)) ?? (await this.listFromIndex(q));
    if (mine) return mine;
    const filter: Filter<TicketDoc> = {};
    if (q.status) filter.status = q.status;
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
    let sort: Sort;
    if (q.sort === 'review') {
      sort = { needsReview: -1, createdAt: -1, number: -1 };
    } else {
      const desc = q.sort.startsWith('-');
      const name = desc ? q.sort.slice(1) : q.sort;
      const field = name === 'priority' ? 'priorityRank' : name;
      sort = { [field]: desc ? -1 : 1, number: desc ? -1 : 1 };
    }
    const [items, total] = await Promise.all([
      this.tickets.find(filter).sort(sort).skip((q.page - 1) * q.pageSize).limit(q.pageSize).toArray(),
      this.tickets.countDocuments(filter),
    ]);
    return { items: items.map(toTicket), total, page: q.page, pageSize: q.pageSize };
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

  async addNote(number: string, note: { author: string; text: string }): Promise<Ticket> {
    const n = parseInput(NoteInputSchema, note, 'note');
    const id = randomUUID();
    const push = (at: Date) => ({ notes: { id, author: n.author, text: n.text, at } satisfies TicketNote });
    if (this.opts.atomicUpdates) return this.append(number, push);
    return this.versioned(number, undefined, (_, at) => ({ push: push(at) }));
  }

  /** Records a staff reply (and whether the channel took it); the first one stamps firstResponseAt. */
  async recordReply(number: string, reply: { text: string; by: string; delivered: boolean; error: string | null }): Promise<Ticket> {
    const r = parseInput(ReplyInputSchema, reply, 'reply');
    const id = randomUUID();
    return this.versioned(number, undefined, (current, at) => ({
      set: current.firstResponseAt ? {} : { firstResponseAt: at },
      push: { replies: { id, ...r, at } satisfies StaffReply },
    }));
  }

  async addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket> {
    const t = parseInput(TicketCreateSchema.shape.text.shape.original, text, 'customer message');
    const a = attachments?.length ? parseInput(TicketCreateSchema.shape.attachments, attachments, 'attachments') : undefined;
    const message = (at: Date) => ({ messages: { text: t, at, ...(a?.length ? { attachments: a } : {}) } });
    if (this.opts.atomicUpdates) return this.append(number, message);
    return this.versioned(number, undefined, (_, at) => ({ push: message(at) }));
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
   */
  private async versioned(
    number: string,
    expectedVersion: number | undefined,
    change: (current: Ticket, at: Date) => { set?: Record<string, unknown>; push?: Record<string, unknown> },
  ): Promise<Ticket> {
    for (let attempt = 0; attempt < 100; attempt++) {
      // First from the index's copy (cheap on FerretDB), then from the source: the conditional
      // update below refuses a stale copy either way, so a lagging copy costs a retry, not a change.
      const current = attempt === 0 ? ((await this.get(number)) ?? (await this.require(number))) : await this.require(number);
      if (expectedVersion !== undefined && current.version !== expectedVersion) {
        throw new ConflictError(`ticket ${number} was changed by someone else (now version ${current.version}, you edited version ${expectedVersion}); reload it`);
      }
      const at = this.now();
      const { set = {}, push } = change(current, at);
      const next = current.version + 1;
      // On MongoDB the conditional update below is atomic by itself; FerretDB needs the claim.
      if (!this.opts.atomicUpdates && !(await this.claims.claim(`ticket:${current.number}:v${next}`))) {
        if (expectedVersion !== undefined) throw new ConflictError(`ticket ${number} was changed by someone else; reload it`);
        await backoff(attempt);
        continue;
      }
      const update: Record<string, unknown> = { $set: { ...set, version: next, updatedAt: at } };
      if (push) update.$push = push;
      const r = await this.tickets.updateOne({ _id: current.number, version: current.version }, update, { writeConcern: this.writeConcern });
      // Our read was stale (the ticket had moved on): nothing was written, so retry from a fresh read.
      if (r.matchedCount === 0) {
        if (expectedVersion !== undefined) throw new ConflictError(`ticket ${number} was changed by someone else; reload it`);
        continue;
      }
      // The hook gets exactly the version written here (a re-read could already include a later change).
      const { priorityRank: _rank, ...fields } = set;
      const written = { ...current, ...fields, version: next, updatedAt: at } as Ticket;
      for (const [field, value] of Object.entries(push ?? {})) (written as unknown as Record<string, unknown[]>)[field] = [...(current[field as keyof Ticket] as unknown[]), value];
      await this.changed(current, written);
      return written;
    }
    throw new ConflictError(`ticket ${number} is changing too fast; try again`);
  }

  /** An append with MongoDB's atomic operators: one round trip, nothing to retry. */
  private async append(number: string, push: (at: Date) => Record<string, unknown>): Promise<Ticket> {
    const n = parseInput(TicketNumber, number, 'ticket number');
    const at = this.now();
    const items = push(at);
    // The pre-image of this atomic update: with the pushed items it is exactly the version written.
    const doc = await this.tickets.findOneAndUpdate({ _id: n }, { $push: items, $inc: { version: 1 }, $set: { updatedAt: at } }, { returnDocument: 'before', writeConcern: this.writeConcern });
    if (!doc) throw new NotFoundError(`ticket ${number} not found`);
    const before = toTicket(doc);
    const written = { ...before, version: before.version + 1, updatedAt: at } as Ticket;
    for (const [field, value] of Object.entries(items)) (written as unknown as Record<string, unknown[]>)[field] = [...(before[field as keyof Ticket] as unknown[]), value];
    await this.changed(before, written);
    return this.require(number);
  }

  /** Runs the change hook; the ticket write is already durable, so a failure is logged, not thrown. */
  private async changed(before: Ticket | null, after: Ticket): Promise<void> {
    if (!this.opts.onTicketChanged) return;
    try {
      await this.opts.onTicketChanged(before, after);
    } catch (err) {
      this.opts.log.error({ ticket: after.number, err: (err as Error).message }, 'read models missed a ticket change; run `npm run stats:rebuild` to recount');
    }
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
    const { search: _search, ...rest } = q;
    const page = await this.opts.index.page({ ...rest, sort: q.sort });
    let total = page.total;
    if (total === null && q.assignee === undefined && q.customerUserId === undefined) total = (await this.opts.count?.(q)) ?? null;
    if (total === null) total = (await this.opts.index.page({ ...rest, sort: q.sort, page: 1, pageSize: Number.MAX_SAFE_INTEGER })).numbers.length;
    return { items: await this.getMany(page.numbers), total, page: q.page, pageSize: q.pageSize };
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

/** A number that needs no database: T20261125-O + 6 random base-36 characters. */
export function offlineNumber(day: string): string {
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const bytes = randomBytes(6);
  let s = '';
  for (const b of bytes) s += alphabet[b % 36];
  return `T${day.replaceAll('-', '')}-O${s}`;
}
