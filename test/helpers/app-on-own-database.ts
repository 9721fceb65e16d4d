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

/** A running app on its own database; `stop()` closes both and removes the folder. */
export interface AppOnOwnDatabase {
  /** The temporary folder: the database's files (`db/`) and the outbox (`outbox.jsonl`). */
  dir: string;
  config: Config;
  database: OpenDatabase;
  services: Services;
  store: Store;
  app: App;
  url: string;
  stop(): Promise<void>;
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
  const log = pino({ level: 'silent' });
  let database: OpenDatabase | undefined;
  let services: Services | undefined;
  let app: App | undefined;
  const stop = async () => {
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
    await new Promise<void>((r) => app!.server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return { dir, config, database, services, store: services.store, app, url, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
