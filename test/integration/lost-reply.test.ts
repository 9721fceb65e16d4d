/**
 * A read-model write whose reply is lost after the server applied it (store/json-docs.ts) is
 * counted once. The lost reply is made for real: a TCP proxy between the driver and the test
 * database forwards the write command of the read-model collection, waits for the server's reply,
 * and closes the driver's connection instead of relaying it. The driver sees a network error (an
 * "unavailable" error), the write-behind queue keeps the batch for its outage retry, and the retry
 * must find the batch already in the document. On the code before the writers' marks, the change
 * was counted twice (a counter at 1 given +1 read 3; a new document's first +1 read 2). A rebuild
 * that replaces the document between the lost reply and the retry clears the marks: the two rebuild
 * cases fail (1 for 11) when it does not, and pass on the code before too (they guard the fix).
 */
import { randomUUID } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { clientOptions } from '../../store/database.js';
import { JsonDocs } from '../../store/json-docs.js';
import { ReadModelGenerations } from '../../store/read-model-generations.js';
import { OUTAGE_RETRY_MS } from '../../store/write-behind.js';

const dbName = `lostreply_${randomUUID().slice(0, 8)}`;
const direct = new MongoClient(inject('mongoUri'));

/** `"<command>": "<collection>"` as it opens an OP_MSG command document (BSON string element). */
function commandBytes(command: string, collection: string): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32LE(Buffer.byteLength(collection) + 1);
  return Buffer.concat([Buffer.from([0x02]), Buffer.from(`${command}\0`), len, Buffer.from(`${collection}\0`)]);
}

/** Splits a byte stream into whole wire-protocol messages (16-byte header, messageLength first). */
function framer(onMessage: (msg: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const size = pending.readInt32LE(0);
      onMessage(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  };
}

/**
 * A proxy to the test database that, when armed, lets the next write matching one of `commands`
 * reach the server and loses its reply: the driver's connection is closed when the reply comes.
 */
class LosingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed: Buffer[] | null = null;
  /** Whether the database stays unreachable through the proxy after the reply is lost (until {@link release}). */
  private holdAfter = false;
  private blocked = false;
  /** Replies lost so far (the test checks the trap did fire). */
  lost = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.pipe(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /** Loses the reply of the next command that starts with one of these `"command": "collection"` pairs. */
  arm(patterns: Buffer[], opts: { thenBlock?: boolean } = {}): void {
    this.armed = patterns;
    this.holdAfter = opts.thenBlock ?? false;
  }

  /** Lets connections through again after a loss armed with `thenBlock`. */
  release(): void {
    this.blocked = false;
  }

  private pipe(client: Socket): void {
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target);
    this.sockets.add(client).add(upstream);
    let trapped: number | null = null;
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on(
      'data',
      framer((msg) => {
        // OP_MSG (2013): flagBits, then section kind 0 with the command document, whose first element is the command.
        if (this.armed && msg.readInt32LE(12) === 2013 && this.armed.some((p) => msg.subarray(21, 21 + 4 + p.length).includes(p))) {
          this.armed = null;
          trapped = msg.readInt32LE(4);
        }
        upstream.write(msg);
      }),
    );
    upstream.on(
      'data',
      framer((msg) => {
        if (trapped !== null && msg.readInt32LE(8) === trapped) {
          // The server has answered, so the write is applied: the driver never hears of it.
          this.lost++;
          if (this.holdAfter) {
            this.blocked = true;
            for (const s of this.sockets) s.destroy();
          }
          close();
          return;
        }
        client.write(msg);
      }),
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let proxy: LosingProxy;
let viaProxy: MongoClient;

beforeAll(async () => {
  const url = new URL(inject('mongoUri').replace(/^mongodb:/, 'http:'));
  proxy = new LosingProxy({ host: url.hostname, port: Number(url.port || 27017) });
  const port = await proxy.listen();
  // retryWrites: false so the driver's own retry (a replica set's retryable writes; the test
  // database is a standalone, where it never retries) is not what the test exercises.
  viaProxy = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { ...clientOptions(2_000), retryWrites: false });
  await viaProxy.connect();
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
    proxy.arm([commandBytes('update', collection)], { thenBlock: true });
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
