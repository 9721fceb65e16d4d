/**
 * A transient lock error does not reach the person (store/transient-errors.ts), provoked for real:
 * an embedded FerretDB of this test's own, and Debian's `sqlite3` holding a write transaction on the
 * database's SQLite file from another process. FerretDB waits its 10 s `busy_timeout`, then answers
 * "database is locked (5) (SQLITE_BUSY)" (an insert tries its batch, then each document: 20 s); the
 * store logs the retry, the test lets the lock go at that moment (never after a fixed time), and the
 * write must succeed, applied once. On the code before the retry, all three writes fail.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer } from '../../store/embedded-server.js';
import { createStore, type Store } from '../../store/index.js';
import { JsonDocs } from '../../store/json-docs.js';
import { DEFAULT_RETRY } from '../../store/transient-errors.js';
import type { TicketCreate } from '../../store/schemas.js';
import { createClient } from '../../store/database.js';

const TOPICS = ['delivery', 'billing'];
const root = mkdtempSync(join(tmpdir(), 'transient-retry-'));
let server: EmbeddedServer;
let client: MongoClient;
let db: Db;
let store: Store;
/** The store's warnings about retried transient errors, and who wants to hear of the next one. */
const retries: { err: string; attempt: number }[] = [];
let onRetry: (() => void) | null = null;

const log = {
  info() {},
  error() {},
  warn(o: object, msg: string) {
    if (msg !== 'transient database error; retrying') return;
    retries.push(o as { err: string; attempt: number });
    onRetry?.();
  },
};

function input(text: string): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: 'u1' },
    conversationRef: null,
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: 'billing', type: 'inquiry', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 'test', needsReview: false, reviewReason: null },
  };
}

/** Another process holding SQLite's write lock on this test's database until `release()`. */
async function holdWriteLock(): Promise<{ release: () => Promise<void> }> {
  const file = join(root, 'data', `${db.databaseName}.sqlite`);
  // -bail: an error ends it (and fails the test) instead of going on unlocked.
  const sqlite: ChildProcessWithoutNullStreams = spawn('sqlite3', ['-bail', file]);
  let err = '';
  sqlite.stderr.on('data', (d: Buffer) => (err += String(d)));
  // Waits (up to 60 s) for writes still in flight, as FerretDB would, then holds the lock.
  sqlite.stdin.write('.timeout 60000\nBEGIN IMMEDIATE;\n.print locked\n');
  await new Promise<void>((resolve, reject) => {
    sqlite.stdout.once('data', (d: Buffer) => (String(d).includes('locked') ? resolve() : reject(new Error(`sqlite3: ${String(d)}`))));
    sqlite.once('exit', (code) => reject(new Error(`sqlite3 exited (${code}) before taking the lock: ${err}`)));
  });
  const exited = new Promise<number | null>((resolve) => sqlite.once('exit', resolve));
  return {
    release: async () => {
      sqlite.stdin.end('COMMIT;\n');
      expect({ code: await exited, err }).toEqual({ code: 0, err: '' });
    },
  };
}

/** Runs `write` while the lock is held; the lock goes when the store reports its first retry. */
async function underLock<T>(write: () => Promise<T>): Promise<T> {
  const lock = await holdWriteLock();
  const before = retries.length;
  let released: Promise<void> | null = null;
  onRetry = () => void (released ??= lock.release());
  try {
    const result = await write();
    expect(retries.length).toBeGreaterThan(before);
    expect(retries[before].err).toMatch(/database is locked \(5\) \(SQLITE_BUSY\)/);
    return result;
  } finally {
    onRetry = null;
    await (released ?? lock.release());
  }
}

beforeAll(async () => {
  const probe = spawnSync('sqlite3', ['-version']);
  if (probe.error) throw new Error('this test needs Debian\'s sqlite3 command (apt-get install sqlite3; .ci/run installs it)');
  server = await startEmbeddedServer({ dataDir: join(root, 'data') });
  expect(server.kind).toBe('ferretdb');
  client = createClient(server.uri);
  await client.connect();
  db = client.db('transient_retry');
  store = await createStore({ db, outboxPath: join(root, 'outbox.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log });
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('a SQLite lock held by another process', () => {
  it('a staff change waits it out and is applied once', async () => {
    const { ticket } = await store.tickets.create(input('发票开错了 请重开'));
    // Its read-model writes are stored first: this test is about the staff change alone.
    await store.tickets.settled();
    const changed = await underLock(() => store.tickets.update(ticket.number, { status: 'in_progress', assignee: 'alice' }));
    expect(changed).toMatchObject({ status: 'in_progress', assignee: 'alice', version: 2 });
    expect(await store.tickets.get(ticket.number)).toMatchObject({ status: 'in_progress', assignee: 'alice', version: 2 });
    await store.tickets.settled();
    expect(await store.counters.count({ status: 'in_progress' })).toBe(1);
  });

  it('a new ticket waits it out and is stored once, under one number', async () => {
    const { ticket, stored } = await underLock(() => store.tickets.create(input('快递三天没到')));
    expect(stored).toBe('database');
    const copies = await db.collection('tickets').find({ 'text.original': '快递三天没到' }).toArray();
    expect(copies.map((t) => t._id)).toEqual([ticket.number]);
    await store.tickets.settled();
  });

  it('a read-model change waits it out and is applied once', async () => {
    const counter = new JsonDocs<{ n: number }>(db, 'lockedCounters', () => ({ n: 0 }), { retry: { ...DEFAULT_RETRY, onRetry: (err, attempt) => log.warn({ err: (err as Error).message, attempt }, 'transient database error; retrying') } });
    await counter.update('c', (d) => void (d.n += 1));
    await underLock(() => counter.update('c', (d) => void (d.n += 10)));
    expect(await counter.get('c')).toEqual({ n: 11 });
    expect(await db.collection('lockedCounters').findOne({ _id: 'c' as never })).toMatchObject({ version: 2 });
  });
});
