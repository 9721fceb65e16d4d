/**
 * npm start: the bot server. Reads and validates the configuration, opens the database (the
 * embedded FerretDB unless MONGODB_URI is set), loads the model, serves the Bot Framework endpoint,
 * the web chat and Direct Line, and shuts down gracefully on SIGINT/SIGTERM (bot/shutdown.ts): stop
 * accepting, finish turns in flight, flush the outbox with the channels still open, close the
 * channels, stop the embedded database.
 */
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createServices } from '../desk/services.js';
import { ConfigError, loadConfig } from '../runtime/config.js';
import { createApp } from './app.js';
import { shutDown } from './shutdown.js';
import { LISTENING_MESSAGE_TYPE, type ListeningMessage } from './listening-message.js';

/** A started server: where it listens, and how to stop it. */
export interface RunningServer {
  port: number;
  url: string;
  /** Stops gracefully (idempotent): stop accepting, finish turns, flush the outbox, close the channels, then the database (bot/shutdown.ts). */
  stop: () => Promise<void>;
}

/** Starts the bot server from the environment `env` and resolves once it listens. */
export async function main(env: Record<string, string | undefined>): Promise<RunningServer> {
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
  // With PORT=0 the configured number is not the port: the bound address is.
  const { port } = app.server.address() as AddressInfo;
  const url: string = app.server.url;
  log.info({ url, port, mode: config.MicrosoftAppId ? 'bot-framework' : 'local' }, 'listening');

  let stopping: Promise<void> | null = null;
  const stop = () => (stopping ??= shutDown(app, services, log));
  return { port, url, stop };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.env).then(
    ({ port, url, stop }) => {
      // Sent here, not in main(): a process that calls main() itself may own its IPC channel.
      if (process.send && process.connected) {
        const message: ListeningMessage = { type: LISTENING_MESSAGE_TYPE, port, url };
        // A parent that has gone since asked nothing any more: a failed send is not an error here.
        process.send(message, undefined, {}, () => undefined);
      }
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
