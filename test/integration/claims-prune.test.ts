/**
 * Pruning old claims (store/claims.ts) on the real test database. FerretDB's SQLite backend deletes
 * the documents a `deleteMany` matched in one statement with a variable per document, and SQLite
 * refuses more than 32,766 variables: a single `deleteMany` over more old claims than that failed
 * ("too many SQL variables") every hour, so claims were never pruned again once that many had
 * piled up. And a started server prunes soon after start, not only an hour later: a process
 * restarted more often than hourly never pruned.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createServices } from '../../desk/services.js';
import { loadConfig } from '../../runtime/config.js';
import { Claims } from '../../store/claims.js';
import { createClient } from '../../store/database.js';

const client = createClient(inject('mongoUri'));
const db = client.db(`claimsprune_${randomUUID().slice(0, 8)}`);

afterAll(async () => {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
});

describe('Claims.prune', () => {
  it('removes more old claims than one SQLite statement can name, and keeps the recent ones and generation marks', async () => {
    const old = 33_000;
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    const coll = db.collection<{ _id: string; at?: Date; owner?: string; gen?: string }>('claims');
    for (let from = 0; from < old; from += 5000) {
      const docs = [];
      for (let i = from; i < Math.min(old, from + 5000); i++) docs.push({ _id: `statsMonths:old${i}:v${i + 1}`, at: twoHoursAgo, owner: 'o' });
      await coll.insertMany(docs);
    }
    const claims = new Claims(db);
    expect(await claims.claim('statsMonths:recent:v2', 'o')).toBe(true);
    await coll.insertOne({ _id: 'gen:statsMonths', gen: 'mark' }); // a read-cache mark: no `at`, never pruned

    expect(await claims.prune()).toBe(old);

    expect((await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id).sort()).toEqual(['gen:statsMonths', 'statsMonths:recent:v2']);
    // The recent claim still decides: another owner cannot take it.
    expect(await claims.claim('statsMonths:recent:v2', 'other')).toBe(false);
  });
});

describe('the server\'s maintenance', () => {
  it('prunes old claims soon after start, without waiting an hour', async () => {
    const own = client.db(`claimsstart_${randomUUID().slice(0, 8)}`);
    const dir = mkdtempSync(join(tmpdir(), 'claims-start-'));
    const coll = own.collection<{ _id: string; at: Date }>('claims');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await coll.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `ticket:T-old${i}:v2`, at: twoHoursAgo })));
    await coll.insertOne({ _id: 'ticket:T-recent:v2', at: new Date() });
    // As bot/main.ts starts it (createServices, then the background jobs), with the first run shortened from a minute.
    const services = await createServices(loadConfig({}), { db: own, log: pino({ level: 'silent' }), outboxPath: join(dir, 'o.jsonl'), models: false, firstMaintenanceMs: 200 });
    try {
      services.startBackgroundJobs(60_000);
      await expect.poll(async () => (await coll.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id), { timeout: 10_000 }).toEqual(['ticket:T-recent:v2']);
    } finally {
      await services.close();
      await own.dropDatabase().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
