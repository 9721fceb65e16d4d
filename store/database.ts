/**
 * Opening the database: MONGODB_URI when configured, otherwise the embedded server (FerretDB built
 * at install, or `mongod` on PATH), started here and stopped by `close()`.
 */
import { MongoClient, type Db } from 'mongodb';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerLogger } from './embedded-server.js';

export interface DatabaseSettings {
  MONGODB_URI?: string;
  DB_NAME: string;
  DB_DIR: string;
  DB_TIMEOUT_MS: number;
}

export interface OpenDatabase {
  client: MongoClient;
  db: Db;
  uri: string;
  /** The embedded server, when one was started. */
  server: EmbeddedServer | null;
  /** Closes the client, then stops the embedded server. */
  close(): Promise<void>;
}

/** Client options: fail over to the outbox quickly when the server is gone. */
export function clientOptions(timeoutMs: number, maxPoolSize = 100) {
  return { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, socketTimeoutMS: Math.max(timeoutMs * 5, 10_000), maxPoolSize, waitQueueTimeoutMS: timeoutMs * 5 };
}

export async function openDatabase(settings: DatabaseSettings, logger?: EmbeddedServerLogger): Promise<OpenDatabase> {
  const server = settings.MONGODB_URI ? null : await startEmbeddedServer({ dataDir: settings.DB_DIR, logger });
  const uri = settings.MONGODB_URI ?? server!.uri;
  // FerretDB's SQLite backend takes one writer at a time; many concurrent operations only make
  // them contend for its lock, so the embedded server gets a small pool (the driver queues the rest).
  const client = new MongoClient(uri, clientOptions(settings.DB_TIMEOUT_MS, server?.kind === 'ferretdb' ? 16 : 100));
  try {
    await client.connect();
  } catch (err) {
    await server?.stop();
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
      await server?.stop();
    },
  };
}
