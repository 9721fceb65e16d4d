/**
 * npm start: the bot server. Reads and validates the configuration, opens the database (the
 * embedded FerretDB unless MONGODB_URI is set), loads the model, serves the Bot Framework endpoint,
 * the web chat and Direct Line, and shuts down gracefully on SIGINT/SIGTERM: stop accepting, finish
 * turns in flight, flush the outbox, stop the embedded database.
 */
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../runtime/config.js';
import { loadTaxonomy } from '../runtime/project-data.js';
import { openDatabase } from '../store/database.js';
import { createStore } from '../store/index.js';
import { createModelServices } from '../trainer/index.js';
import { createApp } from './app.js';

export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env);
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'demand-bot' } });
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const database = await openDatabase(config, { info: (o, m) => log.debug(o, m), warn: (o, m) => log.warn(o, m) });
  log.info({ server: database.server?.kind ?? 'MONGODB_URI', db: database.db.databaseName }, 'database open');
  const store = await createStore({
    db: database.db,
    outboxPath: config.OUTBOX_PATH,
    timeZone: config.TIME_ZONE,
    topics: taxonomy.topics.map((t) => t.id),
    log,
    conversationTtlMs: config.CONVERSATION_TTL_HOURS * 3_600_000,
    capacity: { embedded: !config.MONGODB_URI, ticketCeiling: config.EMBEDDED_TICKET_CEILING },
  });
  const capacity = await store.capacity.status().catch(() => null);
  if (capacity && capacity.level !== 'ok') log.warn({ tickets: capacity.tickets, ceiling: capacity.ceiling, level: capacity.level }, capacity.message!.en);
  else if (capacity) log.info({ engine: capacity.engine, tickets: capacity.tickets, ceiling: capacity.ceiling }, 'history size');
  const models = await createModelServices({ config, taxonomy, store, log });
  log.info({ model: models.holder.version, writeConcern: store.writeConcern }, 'model loaded');
  const app = createApp({
    config,
    models,
    taxonomy,
    store,
    log,
    databaseReady: async () => (await database.db.command({ ping: 1 })).ok === 1,
    databaseStatus: () => database.status(),
  });
  await store.flushOutbox().catch((err: Error) => log.warn({ err: err.message }, 'outbox replay at start failed; will retry'));
  const stopJobs = store.startBackgroundJobs(5_000);
  await new Promise<void>((resolve) => app.server.listen(config.PORT, config.HOST, resolve));
  log.info({ url: app.server.url, mode: config.MicrosoftAppId ? 'bot-framework' : 'local' }, 'listening');

  let stopping: Promise<void> | null = null;
  return () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      await app.closeChannels();
      app.server.close();
      const deadline = Date.now() + 10_000;
      while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      stopJobs();
      await models.stop();
      await store.flushOutbox().catch((err: Error) => log.warn({ err: err.message, pending: store.outbox.pending() }, 'outbox not flushed; it is replayed at the next start'));
      await database.close();
      log.info('stopped');
    })());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.env).then(
    (stop) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          stop().then(
            () => process.exit(0),
            (err: Error) => {
              process.stderr.write(`error during shutdown: ${err.message}\n`);
              process.exit(1);
            },
          );
        });
      }
    },
    (err: Error) => {
      process.stderr.write(`error: ${err instanceof ConfigError ? err.message : (err.stack ?? err.message)}\n`);
      process.exit(1);
    },
  );
}
