/** Starts the whole bot app (real classifier, real store on the test database) on an ephemeral port. */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { pino } from 'pino';
import { createApp, type App } from '../../bot/app.js';
import { loadConfig } from '../../runtime/config.js';
import { loadTaxonomy } from '../../runtime/project-data.js';
import { createStore, type Store } from '../../store/index.js';
import { createModelServices, type ModelServices } from '../../trainer/index.js';

export interface RunningApp {
  app: App;
  store: Store;
  models: ModelServices;
  db: Db;
  url: string;
  stop(): Promise<void>;
}

export async function startApp(mongoUri: string, env: Record<string, string> = {}, opts: { trainingHeartbeatMs?: number } = {}): Promise<RunningApp> {
  const config = loadConfig({ PORT: '0', ...env });
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const client = new MongoClient(mongoUri);
  await client.connect();
  const db = client.db(`app_${randomUUID().slice(0, 8)}`);
  const log = pino({ level: 'silent' });
  const store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'app-')), 'o.jsonl'), timeZone: config.TIME_ZONE, topics: taxonomy.topics.map((t) => t.id), log, capacity: { embedded: true, ticketCeiling: config.EMBEDDED_TICKET_CEILING } });
  const models = await createModelServices({ config, taxonomy, store, log, trainingHeartbeatMs: opts.trainingHeartbeatMs });
  const app = createApp({ config, models, taxonomy, store, log, databaseReady: async () => true });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    store,
    models,
    db,
    url,
    async stop() {
      await app.closeChannels();
      app.server.close();
      await models.stop();
      await db.dropDatabase().catch(() => undefined);
      await client.close();
    },
  };
}
