/**
 * The composition root of the application layer: `createServices(config, …)` opens (or takes) the
 * database, builds the store, the live model and the training service, and the desk's services
 * (tickets, models, the audit trail). `bot/main.ts`, every CLI and the tests call this one function,
 * so a ticket, a correction or an activation is the same operation wherever it comes from.
 */
import type { Db } from 'mongodb';
import type { Taxonomy } from '../classifier/taxonomy.js';
import { NO_STOPWORDS } from '../classifier/tokenizer.js';
import type { Config } from '../runtime/config.js';
import { loadHoldout, loadKeywordOverrides, loadTaxonomy } from '../runtime/project-data.js';
import { AuthService } from '../staff/auth.js';
import { createTermExtractor } from '../staff/terms.js';
import type { CapacityOptions } from '../store/capacity.js';
import { openDatabase, type OpenDatabase } from '../store/database.js';
import { createStore, type Store } from '../store/index.js';
import type { DueHours } from '../store/working-day.js';
import { createModelServices, type ModelServices } from '../trainer/index.js';
import type { TrainerLog } from '../trainer/model-holder.js';
import type { DeskEvents } from './events.js';
import { HandoverService, type HandoverNotices } from './handover.js';
import { ModelService } from './models.js';
import { parseServiceHours } from './service-hours.js';
import type { AuditTrail, CustomerChannel } from './ports.js';
import { TicketService } from './tickets.js';

/** What the services log through (pino's logger fits; CLIs pass a stderr writer). */
export type ServiceLog = TrainerLog;

export interface ServiceOptions {
  log: ServiceLog;
  /** An open database to use (tests); without it the configured one is opened and closed by `close()`. */
  db?: Db;
  /** An opened database whose embedded server this process supervises (tests); reported in /readyz, not closed by `close()`. */
  database?: OpenDatabase;
  /** Local outbox file (default: OUTBOX_PATH). */
  outboxPath?: string;
  /** Conversation state unused this long reads as absent and is swept (default: kept forever). */
  conversationTtlMs?: number;
  /** The embedded engine's history ceiling to warn about (default: embedded unless MONGODB_URI is set). */
  capacity?: CapacityOptions;
  /** How often a running training job refreshes its lock and progress (ms; tests shorten it). */
  trainingHeartbeatMs?: number;
  /** How soon after `startBackgroundJobs` old claims are first pruned (ms; store/index.ts FIRST_MAINTENANCE_MS; tests shorten it). */
  firstMaintenanceMs?: number;
  now?: () => Date;
}

/** The services without the live model (for CLIs that never classify, e.g. `user:add`). */
export interface CoreServices {
  config: Config;
  taxonomy: Taxonomy;
  store: Store;
  /** The database in use (for maintenance CLIs such as stats:rebuild). */
  db: Db;
  /** The database this process opened (null when the caller passed `db`). */
  database: OpenDatabase | null;
  tickets: TicketService;
  /** Live updates for the console (published by tickets and the live queue, read by GET /api/events). */
  events: DeskEvents;
  /** The live queue: a person when asked (issue 12 item 2). */
  handovers: HandoverService;
  audit: AuditTrail;
  /** Staff accounts, sessions and API tokens. */
  auth: AuthService;
  /** Connects staff replies to the bot's channels (createApp calls it once the adapters exist). */
  useCustomerChannel(channel: CustomerChannel): void;
  /** Gives the live queue the customer's texts for its notices (createApp, from the bot's messages). */
  useHandoverNotices(notices: HandoverNotices): void;
  /** Whether the database answers a ping (for /readyz). */
  databaseReady(): Promise<boolean>;
  /** The embedded database's supervision state when this process runs it, else null (for /readyz). */
  databaseStatus(): object | null;
  /** Replays the outbox every `intervalMs` while it has records and prunes old claims; returns a stop function. */
  startBackgroundJobs(intervalMs: number): () => void;
  /** Stops background work and the model side, then closes the database if this opened it. */
  close(): Promise<void>;
}

export interface Services extends CoreServices {
  models: ModelService;
  /** The live model, the training service and the pipeline's tokenizer (for the bot and routes). */
  runtime: ModelServices;
}

/**
 * The ticket service over a store (what `createServices` uses; store-level tests that build their
 * own store with a fixed clock or topic list use it too).
 */
export function createTicketService(store: Store, opts: { log: ServiceLog; channel?: () => CustomerChannel | null; now?: () => Date; dueHours?: DueHours; events?: DeskEvents }): TicketService {
  return new TicketService({
    tickets: store.tickets,
    topics: store.topics,
    training: store.training,
    audit: store.audit,
    channel: opts.channel ?? (() => null),
    staff: store.users,
    notifier: store.notifications,
    log: opts.log,
    dueHours: opts.dueHours,
    events: opts.events,
    held: store.held,
    now: opts.now,
  });
}

/** Builds every service over one database. With `{ models: false }` the classifier is not loaded. */
export async function createServices(config: Config, opts: ServiceOptions & { models: false }): Promise<CoreServices>;
export async function createServices(config: Config, opts: ServiceOptions & { models?: true }): Promise<Services>;
export async function createServices(config: Config, opts: ServiceOptions & { models?: boolean }): Promise<CoreServices | Services> {
  const { log } = opts;
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  // The whole log, so a pino logger's debug carries the database's debug records (DB_LOG_LEVEL=debug).
  const database = opts.db || opts.database ? null : await openDatabase(config, log);
  const db = opts.db ?? opts.database?.db ?? database!.db;
  const stoppers: (() => void | Promise<void>)[] = [];
  try {
    const store = await createStore({
      db,
      outboxPath: opts.outboxPath ?? config.OUTBOX_PATH,
      timeZone: config.TIME_ZONE,
      dueHours: config.DUE_HOURS,
      topics: taxonomy.topics.map((t) => t.id),
      log,
      now: opts.now,
      conversationTtlMs: opts.conversationTtlMs,
      capacity: opts.capacity ?? { embedded: !config.MONGODB_URI, ticketCeiling: config.EMBEDDED_TICKET_CEILING },
      archiveAfterDays: config.ARCHIVE_AFTER_DAYS,
      archiveInBackground: config.ARCHIVE_IN_BACKGROUND,
      eventsPollMs: config.EVENTS_POLL_MS,
      readModelBatchMs: config.READ_MODEL_BATCH_MS,
      firstMaintenanceMs: opts.firstMaintenanceMs,
    });
    stoppers.push(() => store.events.close());
    let channel: CustomerChannel | null = null;
    let notices: HandoverNotices | null = null;
    const tickets = createTicketService(store, { log, channel: () => channel, now: opts.now, events: store.events, dueHours: config.DUE_HOURS });
    const handovers = new HandoverService({
      repo: store.handovers,
      tickets,
      events: store.events,
      channel: () => channel,
      notices: {
        taken: (lang, agent) => notices?.taken(lang, agent) ?? '',
        handedBack: (lang) => notices?.handedBack(lang) ?? '',
        ended: (lang, n) => notices?.ended(lang, n) ?? '',
        timedOut: (lang, n) => notices?.timedOut(lang, n) ?? '',
        timedOutAnswered: (lang, n) => notices?.timedOutAnswered(lang, n) ?? '',
        timedOutResolved: (lang, n) => notices?.timedOutResolved(lang, n) ?? '',
      },
      hours: config.SERVICE_HOURS ? parseServiceHours(config.SERVICE_HOURS) : null,
      timeZone: config.TIME_ZONE,
      waitMs: config.HANDOVER_WAIT_SECONDS * 1000,
      log,
      now: opts.now,
    });
    const core: CoreServices = {
      config,
      taxonomy,
      store,
      db,
      database,
      tickets,
      events: store.events,
      handovers,
      audit: store.audit,
      auth: new AuthService(store.users, { sessionTtlMs: config.SESSION_TTL_HOURS * 3_600_000, offlineAuthMs: config.STAFF_OFFLINE_AUTH_SECONDS * 1000, now: opts.now }),
      useCustomerChannel(c) {
        channel = c;
      },
      useHandoverNotices(n) {
        notices = n;
      },
      async databaseReady() {
        return (await db.command({ ping: 1 })).ok === 1;
      },
      databaseStatus() {
        return (database ?? opts.database)?.status() ?? null;
      },
      startBackgroundJobs(intervalMs) {
        const stopMaintenance = store.startMaintenance();
        // Every process sweeps the live queue (a claim decides which one tells the customer).
        const stopSweeper = handovers.startSweeper(config.HANDOVER_SWEEP_MS);
        let running = false;
        const timer = setInterval(() => {
          if (running || (store.outbox.pending() === 0 && store.held.pending() === 0)) return;
          running = true;
          tickets
            .flushOutbox()
            .catch((err: Error) => log.warn({ err: err.message }, 'outbox replay failed; will retry'))
            .finally(() => {
              running = false;
            });
        }, intervalMs);
        timer.unref();
        const stop = () => {
          clearInterval(timer);
          stopMaintenance();
          stopSweeper();
        };
        stoppers.push(stop);
        return stop;
      },
      async close() {
        for (const stop of stoppers.splice(0).reverse()) await stop();
        // Read-model updates run off the request path: store them before the database closes.
        await store.tickets.settled().catch(() => undefined);
        await database?.close();
      },
    };
    if (opts.models === false) return core;

    const runtime = await createModelServices({ config, taxonomy, store, log, audit: core.tickets, trainingHeartbeatMs: opts.trainingHeartbeatMs });
    stoppers.push(() => runtime.stop());
    const models = new ModelService({
      stores: { models: store.models, keywordEdits: store.keywordEdits, training: store.training, tickets: store.tickets },
      audit: core.tickets,
      holder: runtime.holder,
      training: runtime.training,
      taxonomy,
      holdout: loadHoldout(config.DATA_DIR, taxonomy),
      fileTopicEdits: loadKeywordOverrides(config.DATA_DIR).topic ?? {},
      // Every model version loads with the same tokenizer and stopwords (the loader checks it).
      terms: createTermExtractor(runtime.pipelineDeps.tokenizer, runtime.pipelineDeps.stopwords ?? NO_STOPWORDS),
    });
    return { ...core, models, runtime };
  } catch (err) {
    for (const stop of stoppers.reverse()) await Promise.resolve(stop()).catch(() => undefined);
    await database?.close().catch(() => undefined);
    throw err;
  }
}
