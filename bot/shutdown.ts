/**
 * The server's graceful stop (bot/main.ts on SIGINT/SIGTERM), in the order what is still to be done
 * needs its parts:
 * 1. stop accepting connections, and refuse requests still arriving on open ones (503, `Retry-After`,
 *    `Connection: close`: bot/requests-in-flight.ts);
 * 2. let the turns and the HTTP requests in flight finish (up to `turnsMs` for both): a bot turn's
 *    replies and a staff request (a reply being delivered and recorded, a ticket change) need the
 *    channels and the database, and the staff member gets the request's normal answer;
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

/** How long the stop waits for turns and requests in flight by default. */
export const TURNS_WAIT_MS = 10_000;

/** Stops `app` and `services` gracefully (see the module comment). Never throws for a replay that fails. */
export async function shutDown(app: Pick<App, 'server' | 'inFlight' | 'requests' | 'closeChannels'>, services: Pick<Services, 'tickets' | 'store' | 'database' | 'close'>, log: Logger, opts: { turnsMs?: number } = {}): Promise<void> {
  log.info('shutting down');
  app.requests.stopAccepting();
  app.server.close();
  const waitMs = opts.turnsMs ?? TURNS_WAIT_MS;
  const deadline = Date.now() + waitMs;
  const busy = () => app.inFlight() > 0 || app.requests.count() > 0;
  while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (busy()) log.warn({ inFlight: app.inFlight(), requests: app.requests.count(), waitedMs: waitMs }, 'turns or requests still running at shutdown; stopping without them');
  // Kept-alive connections that have gone quiet end now rather than at their idle time-out.
  app.server.server.closeIdleConnections();
  await services.tickets.flushOutbox().catch((err: Error) => log.warn({ err: err.message, pending: services.store.outbox.pending(), held: services.store.held.pending() }, 'outbox not flushed; it is replayed at the next start'));
  await app.closeChannels();
  const stats = services.database?.commandStats();
  // One line for bench:bot --db-stats (stderr: stdout stays the log's).
  if (stats) process.stderr.write(`db-command-stats ${JSON.stringify(stats)}\n`);
  // Stops background jobs and the model side, then the database.
  await services.close();
  log.info('stopped');
}
