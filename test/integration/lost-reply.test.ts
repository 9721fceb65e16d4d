/**
 * A read-model write whose reply is lost after the server applied it (store/json-docs.ts) is
 * counted once. The lost reply is made for real: a TCP proxy between the driver and the test
 * database (test/helpers/losing-proxy.ts) forwards the write command of the read-model collection,
 * waits for the server's reply, and closes the driver's connection instead of relaying it. The
 * driver sees a network error (an "unavailable" error); the writer looks for its mark in the
 * document at once (json-docs.ts `storeOrFind`), or, when the database stays away (the rebuild
 * cases), the write-behind queue keeps the batch for its outage retry, which must find the batch
 * already in the document. On the code before the writers' marks, the change
 * was counted twice (a counter at 1 given +1 read 3; a new document's first +1 read 2). A rebuild
 * that replaces the document between the lost reply and the retry clears the marks: the two rebuild
 * cases fail (1 for 11) when it does not, and pass on the code before too (they guard the fix).
 */
import { randomUUID } from 'node:crypto';
import type { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { JsonDocs } from '../../store/json-docs.js';
import { ReadModelGenerations } from '../../store/read-model-generations.js';
import { OUTAGE_RETRY_MS } from '../../store/write-behind.js';
import { commandBytes, connectThroughProxy, type LosingProxy } from '../helpers/losing-proxy.js';
import { createClient } from '../../store/database.js';

const dbName = `lostreply_${randomUUID().slice(0, 8)}`;
const direct = createClient(inject('mongoUri'));

let proxy: LosingProxy;
let viaProxy: MongoClient;

beforeAll(async () => {
  ({ proxy, client: viaProxy } = await connectThroughProxy(inject('mongoUri')));
  await direct.connect();
});

afterAll(async () => {
  await direct.db(dbName).dropDatabase().catch(() => undefined);
  await viaProxy?.close();
  await proxy?.close();
  await direct.close();
});

interface Counter {
  n: number;
}

/** The stored counter, read past the proxy. */
async function storedCount(collection: string, id: string): Promise<number | undefined> {
  const doc = await direct.db(dbName).collection<{ _id: string; data: string | null }>(collection).findOne({ _id: id });
  return doc?.data ? (JSON.parse(doc.data) as Counter).n : undefined;
}

describe('a read-model write whose reply is lost after the server applied it', () => {
  it('is counted once when the write was an update of the document', async () => {
    const docs = new JsonDocs<Counter>(viaProxy.db(dbName), 'counts', () => ({ n: 0 }), { outageRetryMs: OUTAGE_RETRY_MS });
    await docs.update('c', (d) => void (d.n += 1));
    proxy.arm([commandBytes('update', 'counts')]);
    await docs.update('c', (d) => void (d.n += 1));
    expect(proxy.lost).toBe(1);
    expect(await storedCount('counts', 'c')).toBe(2);
    // A later change is applied as usual.
    await docs.update('c', (d) => void (d.n += 1));
    expect(await storedCount('counts', 'c')).toBe(3);
  });

  it('is counted once when the write created the document', async () => {
    const docs = new JsonDocs<Counter>(viaProxy.db(dbName), 'fresh', () => ({ n: 0 }), { outageRetryMs: OUTAGE_RETRY_MS });
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'fresh')]);
    await docs.update('c', (d) => void (d.n += 1));
    expect(proxy.lost).toBe(before + 1);
    expect(await storedCount('fresh', 'c')).toBe(1);
  });
});

describe('a lost reply, then a rebuild replaces the document before the retry (read-model-generations.ts)', () => {
  /**
   * The write of ticket 0002's change lands and its reply is lost; the database then stays
   * unreachable for the writer while `stats:rebuild` (its own client) replaces the document with a
   * recount that did or did not read 0002. The rebuild clears the writers' marks: the retry applies
   * the change again only where the recount lacks it.
   */
  async function lostThenRebuilt(collection: string, day: string, scanned0002: boolean): Promise<number | undefined> {
    // Counted versions are the database's, per generation: each case has tickets of its own.
    const [t1, t2] = [`T${day}-0001`, `T${day}-0002`];
    const viaDb = viaProxy.db(dbName);
    const docs = new JsonDocs<Counter>(viaDb, collection, () => ({ n: 0 }), { generations: new ReadModelGenerations(viaDb), outageRetryMs: OUTAGE_RETRY_MS });
    await docs.update('c', (d) => void (d.n += 1), { number: t1, version: 1 });
    const before = proxy.lost;
    proxy.arm([commandBytes('update', collection)], { kind: 'lose', thenBlock: true });
    const pending = docs.update('c', (d) => void (d.n += 10), { number: t2, version: 1 });
    try {
      await vi.waitFor(() => expect(proxy.lost).toBe(before + 1), { timeout: 30_000 });
      expect(await storedCount(collection, 'c')).toBe(11);
      const rebuild = await new ReadModelGenerations(direct.db(dbName)).begin();
      await rebuild.storeCounted(new Map([[t1, 1], ...(scanned0002 ? [[t2, 1] as const] : [])]));
      await new JsonDocs<Counter>(direct.db(dbName), collection, () => ({ n: 0 })).install(new Map([['c', { n: scanned0002 ? 11 : 1 }]]), rebuild.gen);
      await rebuild.finish();
    } finally {
      proxy.release();
    }
    await pending;
    return storedCount(collection, 'c');
  }

  it('does not apply the change again when the rebuild counted it', async () => {
    expect(await lostThenRebuilt('rebuiltCounted', '20261201', true)).toBe(11);
  });

  it('applies the change again when the rebuild did not count it', async () => {
    expect(await lostThenRebuilt('rebuiltMissed', '20261202', false)).toBe(11);
  });
});
