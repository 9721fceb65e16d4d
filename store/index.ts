/**
 * The ticket store, wired in one place: repositories over one database, the outbox, and the read
 * models that follow every ticket write (statistics counters, customer documents). Business
 * operations that touch several collections (a correction also records a training example) are the
 * application layer's (desk/), not the store's.
 */
import type { Db, WriteConcernSettings } from 'mongodb';
import { MongoAttachmentRepository } from './attachment-repository.js';
import { MongoAuditLog } from './audit-log.js';
import { MongoCannedReplyRepository } from './canned-reply-repository.js';
import { MongoNotificationRepository } from './notification-repository.js';
import { MongoBotStorage } from './bot-state-storage.js';
import { CapacityMonitor, DEFAULT_EMBEDDED_TICKET_CEILING, effectiveCeiling, idLookupsIndexed, type CapacityOptions } from './capacity.js';
import { Claims, updatesAreAtomic } from './claims.js';
import { dayOf } from './clock.js';
import { ChannelMessageCounts } from './channel-messages.js';
import { MongoCustomerRepository } from './customer-repository.js';
import { MongoDirectLineRepository } from './directline-repository.js';
import { MongoKeywordEdits } from './keyword-edits.js';
import { MongoModelRegistry } from './model-registry.js';
import { MongoEventLog } from './event-log.js';
import { MongoHandoverRepository } from './handover-repository.js';
import { FileOutbox, type OutboxLogger } from './outbox.js';
import { heldMessagesPath } from './held-messages.js';
import { OUTAGE_RETRY_MS } from './write-behind.js';
import { ReadModelGenerations } from './read-model-generations.js';
import { ReceiptJournal } from './receipt-journal.js';
import { TicketCounters } from './ticket-counters.js';
import { TicketIndex } from './ticket-index.js';
import { SearchIndex } from './search-index.js';
import { archiveTickets, DEFAULT_ARCHIVE_AFTER_DAYS, prepareRestoreNotes, pruneRestoreNotes, type ArchiveSummary } from './archive.js';
import { TicketFactsReader } from './ticket-facts.js';
import { MongoTicketRepository, isUnavailable } from './ticket-repository.js';
import { DEFAULT_RETRY, type RetryPolicy } from './transient-errors.js';
import { MongoTrainingJobs } from './training-jobs.js';
import { MongoTrainingRepository } from './training-repository.js';
import { MongoUserRepository } from './user-repository.js';
import type { DueHours } from './working-day.js';

export interface StoreOptions {
  db: Db;
  outboxPath: string;
  timeZone: string;
  topics: readonly string[];
  log: OutboxLogger;
  now?: () => Date;
  /** Conversation state unused this long reads as absent and is swept (default: kept forever). */
  conversationTtlMs?: number;
  /** Hours until a ticket is due, per priority (default store/working-day.ts DEFAULT_DUE_HOURS). */
  dueHours?: DueHours;
  /** How often a process with live-update listeners reads other processes' events (ms, default 250). */
  eventsPollMs?: number;
  /**
   * How long a read-model document's first change waits for others before it is written (ms,
   * default 0: at once; see store/json-docs.ts). Reads in this process never wait for it.
   */
  readModelBatchMs?: number;
  /** Which engine is in use and its ticket ceiling (default: embedded, the measured ceiling). */
  capacity?: CapacityOptions;
  /**
   * Resolved and closed tickets older than this many days move to the archive when the archive
   * runs (`npm run archive`, or daily in the background with `archiveInBackground`).
   */
  archiveAfterDays?: number;
  /** Runs the archive once a day from `startMaintenance` (default: only by the CLI). */
  archiveInBackground?: boolean;
  /**
   * How soon after `startMaintenance` the first pruning runs (ms, default {@link FIRST_MAINTENANCE_MS});
   * then hourly. Tests shorten it.
   */
  firstMaintenanceMs?: number;
}

/**
 * The first pruning of claims, restore notes and expired conversation state runs this long after
 * start, then every hour: a process restarted more often than hourly still prunes (with only the
 * hourly timer it never did), and start-up is not slowed by it.
 */
export const FIRST_MAINTENANCE_MS = 60_000;

export interface Store {
  tickets: MongoTicketRepository;
  customers: MongoCustomerRepository;
  botState: MongoBotStorage;
  /** The web chat channel's conversations, activity logs and shared signing key. */
  directLine: MongoDirectLineRepository;
  training: MongoTrainingRepository;
  models: MongoModelRegistry;
  /** Trainers' keyword edits per topic, as revisions. */
  keywordEdits: MongoKeywordEdits;
  /** The deployment-wide training lock, progress and last outcome. */
  trainingJobs: MongoTrainingJobs;
  outbox: FileOutbox;
  /**
   * Customer messages kept during a database outage that this process could not interpret without
   * the conversation's state (store/held-messages.ts), beside the outbox; replayed by the desk.
   */
  held: FileOutbox;
  /**
   * The receipt journal of live lines (`<outbox path>.live-lines`, one per process): a live
   * conversation's line is durable there before it is shown to the agent (bot/directline.ts).
   */
  receipts: ReceiptJournal;
  /** Staff accounts and access tokens. */
  users: MongoUserRepository;
  /** Projected ticket facts for statistics and customer profiles (briefly cached). */
  facts: TicketFactsReader;
  /** The ticket list's read model (per-day summaries and the hot set of open / in-review tickets). */
  ticketIndex: TicketIndex;
  /** Staff notifications (assigned to you, the customer replied), one document per user. */
  notifications: MongoNotificationRepository;
  /** Canned replies (快捷回复) per language. */
  cannedReplies: MongoCannedReplyRepository;
  /** Pre-aggregated statistics, kept up to date by every ticket write. */
  counters: TicketCounters;
  /** The inverted index of staff search, kept up to date by every ticket write. */
  search: SearchIndex;
  /**
   * Moves resolved and closed tickets older than `olderThanDays` (default: the configured
   * ARCHIVE_AFTER_DAYS) to the archive; counts only unless `apply` (store/archive.ts).
   */
  archive(opts?: { apply?: boolean; olderThanDays?: number; progress?: (moved: number) => void }): Promise<ArchiveSummary>;
  /** Inbound messages per channel per day (the channels count what they take). */
  channelMessages: ChannelMessageCounts;
  /** History size against the embedded database's measured ceiling. */
  capacity: CapacityMonitor;
  /** Who changed what, when (insert-only). */
  audit: MongoAuditLog;
  /**
   * Files customers sent with tickets (e-mail attachments), kept apart from the tickets. Its index
   * is created by the channels that store files (channels/email), not at every store start.
   */
  attachments: MongoAttachmentRepository;
  /** Write concern in use: journaled where the server accepts it. */
  writeConcern: WriteConcernSettings;
  /** Valid topic ids (the taxonomy's), as tickets are checked against them. */
  topics: readonly string[];
  /** Whether the server updates one document atomically (MongoDB); false on FerretDB (claims). */
  atomicUpdates: boolean;
  /**
   * Whether `_id` lookups use the `_id` index: true on MongoDB and on FerretDB as the install
   * builds it; false on a stock FerretDB 1.24 (every read scans; the capacity ceiling is lowered).
   */
  idLookupsIndexed: boolean;
  /** Desk events for the console's live updates, shared by every process (bucketed, polled). */
  events: MongoEventLog;
  /** The live queue: conversations waiting for or chatting with a person. */
  handovers: MongoHandoverRepository;
  /**
   * Background housekeeping, hourly: prunes old concurrency claims and restore notes and sweeps
   * expired conversation state. Returns a stop function. (The outbox replay is the desk's.)
   */
  startMaintenance(): () => void;
}

const JOURNALED: WriteConcernSettings = { w: 'majority', journal: true };
const ACKNOWLEDGED: WriteConcernSettings = { w: 1 };

/** Journaled writes if the server takes them, else acknowledged ones (decided once, at start). */
export async function chooseWriteConcern(db: Db, log: OutboxLogger): Promise<WriteConcernSettings> {
  const probe = db.collection('_writeConcernProbe');
  try {
    await probe.insertOne({ at: new Date() }, { writeConcern: JOURNALED });
    await probe.deleteMany({});
    return JOURNALED;
  } catch (err) {
    if (isUnavailable(err)) throw err;
    log.warn({ err: (err as Error).message }, 'server refuses journaled write concern; using acknowledged writes (w: 1)');
    return ACKNOWLEDGED;
  }
}

/** Builds the store and creates its indexes. The database must be reachable. */
export async function createStore(opts: StoreOptions): Promise<Store> {
  const writeConcern = await chooseWriteConcern(opts.db, opts.log);
  const outbox = new FileOutbox(opts.outboxPath, opts.log);
  const held = new FileOutbox(heldMessagesPath(opts.outboxPath), opts.log);
  const receipts = new ReceiptJournal(`${opts.outboxPath}.live-lines`, opts.log);
  // The read models follow ticket writes already stored: a change the database could not take is kept.
  // Changes honour the generation a concurrent `stats:rebuild` writes (read-model-generations.ts).
  // A transient lock error is retried where safe (transient-errors.ts); each retry is logged, as it means contention.
  const retry: RetryPolicy = { ...DEFAULT_RETRY, onRetry: (err, attempt) => opts.log.warn({ err: (err as Error).message, attempt }, 'transient database error; retrying') };
  const batch = { batchMs: opts.readModelBatchMs ?? 0, outageRetryMs: OUTAGE_RETRY_MS, generations: new ReadModelGenerations(opts.db), retry };
  const counters = new TicketCounters(opts.db, batch);
  const customers = new MongoCustomerRepository(opts.db, batch);
  const atomicUpdates = await updatesAreAtomic(opts.db);
  // chooseWriteConcern created its probe collection: explain needs one that exists.
  const indexed = atomicUpdates || (await idLookupsIndexed(opts.db, '_writeConcernProbe'));
  const capacity = opts.capacity ?? { embedded: true, ticketCeiling: DEFAULT_EMBEDDED_TICKET_CEILING };
  const index = new TicketIndex(opts.db, { dueHours: opts.dueHours, now: opts.now, ...batch });
  const search = new SearchIndex(opts.db, batch);
  const tickets = new MongoTicketRepository(opts.db, {
    atomicUpdates,
    timeZone: opts.timeZone,
    topics: opts.topics,
    outbox,
    log: opts.log,
    writeConcern,
    now: opts.now,
    retry,
    customerTickets: (identity) => customers.allTicketsOf(identity),
    index,
    search,
    count: (filter) => counters.count(filter),
    onTicketChanged: async (before, after, once) => {
      await Promise.all([counters.onTicketChanged(before, after, once), customers.onTicketChanged(before, after, once), index.onTicketChanged(before, after, once), search.onTicketChanged(before, after, once)]);
    },
  });
  const training = new MongoTrainingRepository(opts.db);
  const models = new MongoModelRegistry(opts.db);
  const keywordEdits = new MongoKeywordEdits(opts.db);
  const trainingJobs = new MongoTrainingJobs(opts.db);
  const directLine = new MongoDirectLineRepository(opts.db);
  // Web chat state is served from memory while this process knows the conversation is current.
  const botState = new MongoBotStorage(opts.db, 'botState', { ttlMs: opts.conversationTtlMs, freshness: (id) => directLine.freshness(id) });
  const audit = new MongoAuditLog(opts.db);
  const attachments = new MongoAttachmentRepository(opts.db);
  const users = new MongoUserRepository(opts.db);
  const facts = new TicketFactsReader(opts.db);
  // This month's and next month's ticket collections exist before any ticket is written.
  const today = dayOf(opts.now?.() ?? new Date(), opts.timeZone);
  const [y, m] = today.split('-').map(Number);
  const nextMonth = new Date(Date.UTC(y, m, 1)).toISOString().slice(0, 10);
  await search.prepare([today, nextMonth]);
  const events = new MongoEventLog(opts.db, { pollMs: opts.eventsPollMs, log: opts.log });
  const handovers = new MongoHandoverRepository(opts.db);
  await Promise.all([events.prepare(), handovers.prepare(), prepareRestoreNotes(opts.db)]);
  await Promise.all([tickets.ensureIndexes(), customers.ensureIndexes(), training.ensureIndexes(), audit.ensureIndexes(), users.ensureIndexes(), keywordEdits.ensureIndexes()]);

  const store: Store = {
    tickets,
    customers,
    botState,
    directLine,
    training,
    models,
    keywordEdits,
    trainingJobs,
    outbox,
    held,
    receipts,
    users,
    facts,
    counters,
    search,
    archive: (o = {}) =>
      archiveTickets(opts.db, { apply: o.apply, olderThanDays: o.olderThanDays ?? opts.archiveAfterDays ?? DEFAULT_ARCHIVE_AFTER_DAYS, now: opts.now?.(), writeConcern, progress: o.progress }),
    ticketIndex: index,
    notifications: new MongoNotificationRepository(opts.db),
    cannedReplies: new MongoCannedReplyRepository(opts.db),
    channelMessages: new ChannelMessageCounts(opts.db, opts.timeZone),
    capacity: new CapacityMonitor(counters, capacity.embedded ? { ...capacity, ticketCeiling: effectiveCeiling(capacity.ticketCeiling, indexed) } : capacity),
    audit,
    events,
    handovers,
    attachments,
    writeConcern,
    topics: opts.topics,
    atomicUpdates,
    idLookupsIndexed: indexed,
    startMaintenance() {
      // Tickets take claims on FerretDB only, but the read-model documents take them on MongoDB too.
      const claims = new Claims(opts.db);
      const prune = () => {
        claims.prune().catch((err: Error) => opts.log.warn({ err: err.message }, 'pruning claims failed'));
        pruneRestoreNotes(opts.db).catch((err: Error) => opts.log.warn({ err: err.message }, 'pruning restore notes failed'));
        botState.sweepExpired().catch((err: Error) => opts.log.warn({ err: err.message }, 'sweeping expired conversation state failed'));
      };
      // Soon after start, then hourly (FIRST_MAINTENANCE_MS); neither timer keeps the process alive.
      const first = setTimeout(prune, opts.firstMaintenanceMs ?? FIRST_MAINTENANCE_MS);
      first.unref();
      let hours = 0;
      const pruner = setInterval(() => {
        prune();
        // Once a day, when enabled: old closed tickets leave the working set (first an hour after start, as before).
        if (opts.archiveInBackground && ++hours % 24 === 1) {
          store
            .archive({ apply: true })
            .then((r) => opts.log.info({ archived: r.archived, changed: r.changed, workingSet: r.workingSet }, 'archived old closed tickets'))
            .catch((err: Error) => opts.log.warn({ err: err.message }, 'archiving old tickets failed; run `npm run archive -- --apply`'));
        }
      }, 60 * 60_000);
      pruner.unref();
      return () => {
        clearTimeout(first);
        clearInterval(pruner);
      };
    },
  };
  return store;
}

export type { Ticket, TicketCreate } from './schemas.js';
