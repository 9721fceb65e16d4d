/** Waiting for a client to reach a restarted database again. */
import type { Db } from 'mongodb';
import { expect, vi } from 'vitest';
import type { OpenDatabase } from '../../store/database.js';

/**
 * Resolves once `db`'s client reaches its server again (up to 60 s). A restarted server is back
 * when it answers, not when this client has reconnected: until then an operation fails at once
 * under a short DB_TIMEOUT_MS and the product keeps its work for a later try (the outbox, a
 * channel's cursor), by design. On a loaded machine that reconnection took long enough for a
 * check right after the restart to find the work still kept; tests wait for this first.
 */
export async function reconnected(db: Db): Promise<void> {
  await vi.waitFor(() => db.command({ ping: 1 }), { timeout: 60_000, interval: 250 });
}

/**
 * Stops `database`'s embedded server, runs `work`, starts it again whatever happens, and waits until
 * its client reaches it ({@link reconnected}). `database` is an app's (openDatabase) or any embedded
 * server with a database of a client connected to it.
 */
export async function whileDatabaseDown(database: Pick<OpenDatabase, 'server' | 'db'>, work: () => Promise<void>): Promise<void> {
  await database.server!.stop();
  try {
    await work();
  } finally {
    await database.server!.restart();
  }
  await reconnected(database.db);
}

/**
 * Runs `work` with `database`'s embedded server stopped the first time `method` of `target` is
 * called (just before it runs): the database lost at that exact step of the work. The server is
 * started again whatever happens and its client waited for; asserts the step was reached.
 */
export async function losingDatabaseAt<T>(database: OpenDatabase, target: object, method: string, work: () => Promise<T>): Promise<T> {
  const t = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = t[method];
  let stopped = false;
  t[method] = async function (this: unknown, ...args: unknown[]) {
    t[method] = original;
    await database.server!.stop();
    stopped = true;
    return original.apply(this, args);
  };
  try {
    return await work();
  } finally {
    t[method] = original;
    if (database.server!.status().state !== 'running') await database.server!.restart();
    await reconnected(database.db);
    expect(stopped, `the work reached ${method}`).toBe(true);
  }
}
