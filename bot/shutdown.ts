/**
 * The server's graceful stop (bot/main.ts on SIGINT/SIGTERM), in the order what is still to be done
 * needs its parts:
 * 1. stop accepting connections (requests on open ones and Direct Line streams still arrive);
 * 2. let the turns in flight finish (up to `turnsMs`): their replies need the channels and the database;
 * 3. replay the outbox and the spool of kept writes once more, with the database and every channel
 *    still open: a kept write may be a message to a customer (a live chat notice), which a closed
 *    channel would refuse; what cannot be written now stays in its file for the next start;
 * 4. close the channels (Direct Line streams, staff event streams, channels' background work);
 * 5. stop the services and the database.
 * Closing the channels first, as this once did, left the final replay to channels already closed.
 */
import type { Logger } from 'pino';
import type { Services } from '../desk/services.js';
import type { App } from './app.js';

/** How long the stop waits for turns in flight by default. */
export const TURNS_WAIT_MS = 10_000;

/** Stops `app` and `services` gracefully (see the module comment). Never throws for a replay that fails. */
export async function shutDown(app: Pick<App, 'server' | 'inFlight' | 'closeChannels'>, services: Pick<Services, 'tickets' | 'store' | 'database' | 'close'>, log: Logger, opts: { turnsMs?: number } = {}): Promise<void> {
  log.info('shutting down');
  app.server.close();
  const deadline = Date.now() + (opts.turnsMs ?? TURNS_WAIT_MS);
  while (app.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (app.inFlight() > 0) log.warn({ inFlight: app.inFlight(), waitedMs: opts.turnsMs ?? TURNS_WAIT_MS }, 'turns still running at shutdown; stopping without them');
  await services.tickets.flushOutbox().catch((err: Error) => log.warn({ err: err.message, pending: services.store.outbox.pending(), held: services.store.held.pending() }, 'outbox not flushed; it is replayed at the next start'));
  await app.closeChannels();
  const stats = services.database?.commandStats();
  // One line for bench:bot --db-stats (stderr: stdout stays the log's).
  if (stats) process.stderr.write(`db-command-stats ${JSON.stringify(stats)}\n`);
  // Stops background jobs and the model side, then the database.
  await services.close();
  log.info('stopped');
}
