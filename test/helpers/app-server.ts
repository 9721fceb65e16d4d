/** Starts the whole bot app (real classifier, real store on the test database) on an ephemeral port, built by `createServices` as `npm start` builds it. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandStartedEvent, Db, MongoClientOptions } from 'mongodb';
import { pino } from 'pino';
import { createApp, type App } from '../../bot/app.js';
import { createServices, type Services } from '../../desk/services.js';
import { loadConfig } from '../../runtime/config.js';
import type { MemoryGuard } from '../../runtime/memory-guard.js';
import { createClient } from '../../store/database.js';
import type { Store } from '../../store/index.js';

export interface RunningApp {
  app: App;
  services: Services;
  store: Store;
  db: Db;
  url: string;
  stop(): Promise<void>;
}

export async function startApp(mongoUri: string, env: Record<string, string> = {}, opts: { trainingHeartbeatMs?: number; dbName?: string; memory?: MemoryGuard; onCommand?: (e: CommandStartedEvent) => void; client?: MongoClientOptions } = {}): Promise<RunningApp> {
  // Tests run several apps in one process: the process's memory is not one server's (memory-ceiling.test.ts sets its own).
  const config = loadConfig({ PORT: '0', MEMORY_CEILING_MB: '65536', ...env });
  // onCommand: every command the app sends (the driver's command monitoring), for tests that pin what a request reads.
  // The app's own client, as openDatabase makes it (with the driver guard of store/driver-write-guard.ts).
  // client: the driver's options (short timeouts for a test that takes the database away through a proxy).
  const client = createClient(mongoUri, { ...opts.client, ...(opts.onCommand ? { monitorCommands: true } : {}) });
  if (opts.onCommand) client.on('commandStarted', opts.onCommand);
  await client.connect();
  const db = client.db(opts.dbName ?? `app_${randomUUID().slice(0, 8)}`);
  const log = pino({ level: 'silent' });
  // The outbox's folder goes with stop() (a test run used to leave one per app in /tmp).
  const outboxDir = mkdtempSync(join(tmpdir(), 'app-'));
  const services = await createServices(config, { db, log, outboxPath: join(outboxDir, 'o.jsonl'), trainingHeartbeatMs: opts.trainingHeartbeatMs, capacity: { embedded: true, ticketCeiling: config.EMBEDDED_TICKET_CEILING } });
  const app = createApp({ config, services, log, memory: opts.memory });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    services,
    store: services.store,
    db,
    url,
    async stop() {
      await app.closeChannels();
      app.server.close();
      await services.close();
      if (!opts.dbName) await db.dropDatabase().catch(() => undefined);
      await client.close();
      rmSync(outboxDir, { recursive: true, force: true });
    },
  };
}
