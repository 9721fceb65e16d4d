/**
 * The whole app on its own supervised embedded database, in a temporary folder: what the outage
 * tests stop, kill and restart (`database.server`) while customers and staff talk to it over real
 * HTTP. `startApp` (app-server.ts) shares one test database instead, which no test may stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp, type App } from '../../bot/app.js';
import { createServices, type Services } from '../../desk/services.js';
import { loadConfig, type Config } from '../../runtime/config.js';
import { openDatabase, type OpenDatabase } from '../../store/database.js';
import type { Store } from '../../store/index.js';

/** An app listening on port 0 of 127.0.0.1, and its URL. */
export interface ListeningApp {
  app: App;
  url: string;
}

/** A running app on its own database; `stop()` closes both and removes the folder. */
export interface AppOnOwnDatabase extends ListeningApp {
  /** The temporary folder: the database's files (`db/`) and the outbox (`outbox.jsonl`). */
  dir: string;
  config: Config;
  database: OpenDatabase;
  services: Services;
  store: Store;
  /**
   * A second app over the same services, with its own conversation-state fallback (as a second
   * process has): for a conversation served by one process whose next message reaches another.
   */
  anotherApp(): Promise<ListeningApp>;
  /** A second server process on the same database: its own services (store, outbox numbering) and app. */
  anotherProcess(): Promise<ListeningApp & { services: Services }>;
  /** Closes every app started here (the others first), the services, the database, and removes the folder. */
  stop(): Promise<void>;
}

async function listen(app: App): Promise<ListeningApp> {
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

/**
 * Starts the app on port 0 with its own database under a new folder named `prefix…`, a short
 * database time-out (800 ms: an outage is noticed at once) and the memory ceiling out of the way
 * (tests share one process); `env` adds or overrides settings. What started is closed again when
 * a later step fails.
 */
export async function startAppOnOwnDatabase(prefix: string, env: Record<string, string> = {}): Promise<AppOnOwnDatabase> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const config = loadConfig({ PORT: '0', DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox.jsonl'), DB_TIMEOUT_MS: '800', MEMORY_CEILING_MB: '65536', ...env });
  // TEST_LOG=info (or debug …) shows the app's log while a test is being looked into.
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  let database: OpenDatabase | undefined;
  let services: Services | undefined;
  let app: App | undefined;
  /** Apps (and their own services, if any) started after the first, closed before it. */
  const others: { app: App; services?: Services }[] = [];
  const stop = async () => {
    for (const o of others.reverse()) {
      await o.app.closeChannels();
      o.app.server.close();
      await o.services?.close();
    }
    await app?.closeChannels();
    app?.server.close();
    await services?.close();
    await database?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    database = await openDatabase(config);
    services = await createServices(config, { database, log });
    app = createApp({ config, services, log });
    const { url } = await listen(app);
    const db = database.db;
    const shared = services;
    const anotherApp = async () => {
      const other = createApp({ config, services: shared, log });
      others.push({ app: other });
      return listen(other);
    };
    const anotherProcess = async () => {
      const own = await createServices(config, { db, log });
      const other = createApp({ config, services: own, log });
      others.push({ app: other, services: own });
      return { ...(await listen(other)), services: own };
    };
    return { dir, config, database, services, store: services.store, app, url, anotherApp, anotherProcess, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
