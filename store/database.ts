/**
 * Opening the database: MONGODB_URI when configured, otherwise the embedded server (FerretDB built
 * at install, or `mongod` on PATH), started here, supervised (restarted with back-off when it
 * dies; the driver reconnects to the same port by itself) and stopped by `close()`.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient, type Db, type MongoClientOptions } from 'mongodb';
import { CommandTally, type CommandStat } from './command-stats.js';
import { guardDriverWrites } from './driver-write-guard.js';
import type { DbLogLevel } from './embedded-server-log.js';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerLogger, type EmbeddedServerStatus } from './embedded-server.js';

export interface DatabaseSettings {
  MONGODB_URI?: string;
  DB_NAME: string;
  DB_DIR: string;
  DB_TIMEOUT_MS: number;
  /** How much of the embedded server's own log reaches the logger (default `warn`). */
  DB_LOG_LEVEL?: DbLogLevel;
  /** Count round trips by collection and command (see command-stats.ts). */
  DB_COMMAND_STATS?: boolean;
}

export interface OpenDatabase {
  client: MongoClient;
  db: Db;
  uri: string;
  /** The embedded server, when this process started one (null when it joined another process's). */
  server: EmbeddedServer | null;
  /** Closes the client, then stops the embedded server. */
  close(): Promise<void>;
  /** The embedded server's supervision state (null when the database is MONGODB_URI's or another process's). */
  status(): EmbeddedServerStatus | null;
  /** Round trips so far by collection and command, when DB_COMMAND_STATS is on (else null). */
  commandStats(): CommandStat[] | null;
}

/** Client options: fail over to the outbox quickly when the server is gone. */
export function clientOptions(timeoutMs: number, maxPoolSize = 100) {
  return { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, socketTimeoutMS: Math.max(timeoutMs * 5, 10_000), maxPoolSize, waitQueueTimeoutMS: timeoutMs * 5 };
}

/**
 * A driver client for `uri`. The app's clients are made here (openDatabase's, and the tests' app
 * helper), so the driver's connection class carries the guard against its hang after a network
 * reset (driver-write-guard.ts) before any of them connects.
 */
export function createClient(uri: string, options?: MongoClientOptions): MongoClient {
  guardDriverWrites();
  return new MongoClient(uri, options);
}

/** Written into DB_DIR while an embedded server runs, so other processes (CLIs) join it instead of starting a second one. */
const SERVER_FILE = 'server.json';

/** The embedded server another process of this project already runs on DB_DIR, if it answers. */
async function runningEmbeddedServer(dataDir: string, timeoutMs: number): Promise<{ uri: string; kind: unknown } | null> {
  let info: { uri?: unknown; pid?: unknown; kind?: unknown };
  try {
    info = JSON.parse(readFileSync(join(dataDir, SERVER_FILE), 'utf8'));
  } catch {
    return null;
  }
  if (typeof info.uri !== 'string' || typeof info.pid !== 'number') return null;
  try {
    process.kill(info.pid, 0);
  } catch {
    return null; // the owner is gone; its file is stale
  }
  const client = createClient(info.uri, clientOptions(Math.min(timeoutMs, 1000), 1));
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return { uri: info.uri, kind: info.kind };
  } catch {
    return null;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function openDatabase(settings: DatabaseSettings, logger?: EmbeddedServerLogger): Promise<OpenDatabase> {
  const joined = settings.MONGODB_URI ? null : await runningEmbeddedServer(settings.DB_DIR, settings.DB_TIMEOUT_MS);
  const server = settings.MONGODB_URI || joined ? null : await startEmbeddedServer({ dataDir: settings.DB_DIR, logger, logLevel: settings.DB_LOG_LEVEL });
  if (server) {
    mkdirSync(settings.DB_DIR, { recursive: true });
    writeFileSync(join(settings.DB_DIR, SERVER_FILE), JSON.stringify({ uri: server.uri, pid: process.pid, kind: server.kind }));
  }
  const stopServer = async () => {
    if (!server) return;
    rmSync(join(settings.DB_DIR, SERVER_FILE), { force: true });
    await server.stop();
  };
  const uri = settings.MONGODB_URI ?? joined?.uri ?? server!.uri;
  // FerretDB's SQLite backend takes one writer at a time; many concurrent operations only make
  // them contend for its lock, so the embedded server gets a small pool (the driver queues the rest).
  const client = createClient(uri, {
    ...clientOptions(settings.DB_TIMEOUT_MS, (server?.kind ?? joined?.kind) === 'ferretdb' ? 16 : 100),
    ...(settings.DB_COMMAND_STATS ? { monitorCommands: true } : {}),
  });
  const tally = settings.DB_COMMAND_STATS ? new CommandTally(client) : null;
  try {
    await client.connect();
  } catch (err) {
    await stopServer();
    throw err;
  }
  // A database named in the URI wins over DB_NAME.
  const named = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]*)/.exec(uri)?.[1] ?? '';
  const db = client.db(named || settings.DB_NAME);
  return {
    client,
    db,
    uri,
    server,
    async close() {
      await client.close();
      await stopServer();
    },
    status: () => server?.status() ?? null,
    commandStats: () => tally?.snapshot() ?? null,
  };
}
