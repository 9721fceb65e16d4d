/**
 * A fix for a hang in the official MongoDB driver (mongodb 6.22; 7.9.1 has the same code), applied
 * to its connection class: a command written to a connection whose socket is already destroyed
 * waits for ever.
 *
 * How it happens: the network between the app and the database resets (a router, a NAT or a
 * container proxy restarting closes every connection at once). Node reads the end of the driver's
 * monitoring connection and destroys its socket, but the socket's `close` event (the one the driver
 * listens to) comes later in the same turn of the event loop. If, in between, another connection's
 * failure marks the server Unknown while an operation waits for a server (the app sends a write
 * again at once when its reply may be lost: audit-log.ts, ticket-repository.ts), the driver checks
 * the server on the monitoring connection it still believes open. `socket.write` on the destroyed
 * socket returns false and the driver waits for `drain`; neither `drain` nor `error` ever comes, and
 * the connection's own clean-up on `close` does not end that wait. The check never finishes, the
 * monitor ignores every later request to check, and the server stays Unknown: every operation fails
 * server selection until the process restarts. (test/integration/db-reconnect.test.ts cuts the
 * network during requests; without this guard the app stopped reaching the database after the first
 * cuts.) An application command can fall into the same wait, with no timeout either.
 *
 * The guard: a command write also ends, with the connection's own network error, when the
 * connection closes. That is what the driver does for a command waiting for its reply.
 */
import { createRequire } from 'node:module';
import { MongoNetworkError } from 'mongodb';
import { DriverGuardError } from './errors.js';

/** What the guard uses of the driver's (internal, unexported) `Connection`. */
interface DriverConnection {
  closed: boolean;
  error: Error | null;
  id: number | '<monitor>';
  address: string;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
  writeCommand(command: unknown, options: unknown): Promise<void>;
}

const GUARDED = Symbol.for('demand-desk.driver-write-guard');

/**
 * Installs the guard on the driver's connection class (once per process; later calls do nothing).
 * `createClient` (store/database.ts), which makes the app's and the benchmarks' clients, and the embedded
 * server's start-up probe (store/embedded-server.ts) call this.
 * Throws {@link DriverGuardError} when the driver's connection class has changed shape: an upgraded
 * driver needs db-reconnect.test.ts to say whether it still hangs, and this guard adapted or removed.
 */
export function guardDriverWrites(): void {
  const require = createRequire(import.meta.url);
  let proto: (DriverConnection & { [GUARDED]?: true }) | undefined;
  try {
    proto = (require('mongodb/lib/cmap/connection.js') as { Connection?: { prototype: DriverConnection } }).Connection?.prototype;
  } catch {
    proto = undefined;
  }
  if (!proto || typeof proto.writeCommand !== 'function') {
    throw new DriverGuardError('the MongoDB driver has no Connection.prototype.writeCommand any more: see store/driver-write-guard.ts');
  }
  if (proto[GUARDED]) return;
  const write = proto.writeCommand;
  proto.writeCommand = function guardedWriteCommand(this: DriverConnection, command: unknown, options: unknown): Promise<void> {
    const closedError = () => this.error ?? new MongoNetworkError(`connection ${this.id} to ${this.address} closed`);
    if (this.closed) return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      const onClose = () => reject(closedError());
      this.once('close', onClose);
      write.call(this, command, options).then(resolve, reject).finally(() => this.off('close', onClose));
    });
  };
  proto[GUARDED] = true;
}
