/**
 * Pruning old claims (store/claims.ts) on the real test database. FerretDB's SQLite backend deletes
 * the documents a `deleteMany` matched in one statement with a variable per document, and SQLite
 * refuses more than 32,766 variables: a single `deleteMany` over more old claims than that failed
 * ("too many SQL variables") every hour, so claims were never pruned again once that many had
 * piled up (a process restarted more often than hourly never prunes).
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Claims } from '../../store/claims.js';

const client = new MongoClient(inject('mongoUri'));
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
