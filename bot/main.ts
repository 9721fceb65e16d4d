/**
 * npm start: the bot server. Reads and validates the configuration, opens the database (the
 * embedded FerretDB unless MONGODB_URI is set), loads the model, serves the Bot Framework endpoint,
 * the web chat and Direct Line, and shuts down gracefully on SIGINT/SIGTERM: stop accepting, finish
 * turns in flight, flush the outbox, stop the embedded database.
 */
import { pino } from 'pino';
import { createServices } from '../desk/services.js';
import { ConfigError, loadConfig } from '../runtime/config.js';
import { createApp } from './app.js';

export async function main(env: Record<string, string | undefined>): Promise<() => Promise<void>> {
  const config = loadConfig(env);
  const log = pino({ level: config.LOG_LEVEL, base: { service: 'demand-bot' } });
  const services = await createServices(config, {
    log,
    conversationTtlMs: config.CONVERSATION_TTL_HOURS * 3_600_000,
    capacity: { embedded: !config.MONGODB_URI, ticketCeiling: config.EMBEDDED_TICKET_CEILING },
  });
  log.info({ server: services.database?.server?.kind ?? 'MONGODB_URI', db: services.database?.db.databaseName, writeConcern: services.store.writeConcern, model: services.runtime.holder.version }, 'database open, model loaded');
  if (!config.MONGODB_URI && !services.store.idLookupsIndexed) {
    log.warn({ ceiling: services.store.capacity.ceiling }, 'the embedded FerretDB was built without its _id index patches, so every read scans its collection and the capacity ceiling is lowered: run `npm install` (or `node scripts/install-ferretdb.mjs`) to rebuild it');
  }
  const capacity = await services.store.capacity.status().catch(() => null);
  if (capacity && capacity.level !== 'ok') log.warn({ tickets: capacity.tickets, ceiling: capacity.ceiling, level: capacity.level }, capacity.message!.en);
  else if (capacity) log.info({ engine: capacity.engine, tickets: capacity.tickets, ceiling: capacity.ceiling }, 'history size');
  const app = createApp({ config, services, log });
  await services.tickets.flushOutbox().catch((err: Error) => log.warn({ err: err.message }, 'outbox replay at start failed; will retry'));
  services.startBackgroundJobs(5_000);
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
      await services.tickets.flushOutbox().catch((err: Error) => log.warn({ err: err.message, pending: services.store.outbox.pending() }, 'outbox not flushed; it is replayed at the next start'));
      const stats = services.database?.commandStats();
      // One line for bench:bot --db-stats (stderr: stdout stays the log's).
      if (stats) process.stderr.write(`db-command-stats ${JSON.stringify(stats)}\n`);
      // Stops background jobs and the model side, then the database.
      await services.close();
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
