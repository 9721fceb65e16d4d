/**
 * A ticket logged by hand with a `requestId` (`POST /api/tickets`) is one ticket, however many
 * processes the same request reaches at the same instant: two app instances (each its own ticket
 * service, as two server processes behind a load balancer) on one database, over real HTTP, each
 * sent the same request at once. One files it, the other answers with that ticket
 * (`duplicate: true`); the database holds one ticket, one request note and one `ticket.file` entry.
 *
 * The same holds whatever the timing: each app reaches the database through its own proxy
 * (test/helpers/losing-proxy.ts), which can hold one app's ticket insert back (a filer alive but
 * slower than the claim's takeover window; a replay and a new submit interleaved) or take the
 * database away from it (an outage, during which a filing is queued in that app's outbox).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Classification } from '../../classifier/demand-classifier.js';
import { hashPassword } from '../../staff/auth.js';
import { ValidationError } from '../../store/errors.js';
import { clientOptions } from '../../store/database.js';
import { createStore } from '../../store/index.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { commandBytes, LosingProxy } from '../helpers/losing-proxy.js';
import { reconnected } from '../helpers/reconnected.js';

type Json = Record<string, any>;
const PASSWORD = 'one ticket per request';
let A: RunningApp;
let B: RunningApp;
/** A's and B's ways to the database. */
let proxyA: LosingProxy;
let proxyB: LosingProxy;
const tokens = new Map<RunningApp, string>();

async function post(app: RunningApp, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${app.url}/api/tickets`, { method: 'POST', headers: { authorization: `Bearer ${tokens.get(app)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Json };
}

beforeAll(async () => {
  const dbName = `requests_${randomUUID().slice(0, 8)}`;
  const target = new URL(inject('mongoUri').replace(/^mongodb:/, 'http:'));
  proxyA = new LosingProxy({ host: target.hostname, port: Number(target.port || 27017) });
  proxyB = new LosingProxy({ host: target.hostname, port: Number(target.port || 27017) });
  const through = async (p: LosingProxy) => `mongodb://127.0.0.1:${await p.listen()}/?directConnection=true`;
  // A's driver waits as long as a held insert takes; B finds an outage in a second (its filing is then queued).
  A = await startApp(await through(proxyA), { API_RATE_PER_MINUTE: '100000' }, { dbName });
  B = await startApp(await through(proxyB), { API_RATE_PER_MINUTE: '100000', DB_TIMEOUT_MS: '1000' }, { dbName, client: { ...clientOptions(1000), socketTimeoutMS: 120_000 } });
  await A.store.users.create({ username: 'alice', role: 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  for (const app of [A, B]) {
    const res = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
    expect(res.status).toBe(200);
    tokens.set(app, ((await res.json()) as Json).token as string);
  }
});

afterAll(async () => {
  await A?.stop();
  await B?.stop();
  await A?.db.dropDatabase().catch(() => undefined);
  await proxyA?.close();
  await proxyB?.close();
});

/**
 * Holds `proxy`'s next ticket insert back until `release()`: `caught` resolves when it is held (the
 * filer has claimed the request and noted the number it is about to store the ticket under).
 */
function holdNextTicketInsert(proxy: LosingProxy): { caught: Promise<void>; release: () => void } {
  let release!: () => void;
  let held!: () => void;
  const until = new Promise<void>((r) => (release = r));
  const caught = new Promise<void>((r) => (held = r));
  proxy.arm([commandBytes('insert', 'tickets')], { kind: 'hold', until, onHeld: held });
  return { caught, release };
}

/** Files `demand` on B while the database is away from it (queued in B's outbox: 202), then lets B reach it again: the provisional number. */
async function queuedOnB(demand: unknown): Promise<string> {
  proxyB.block();
  const queued = await post(B, demand).finally(() => proxyB.release());
  expect(queued.status, JSON.stringify(queued.body)).toBe(202);
  expect(queued.body.stored).toBe('outbox');
  await reconnected(B.db);
  return queued.body.ticket.number as string;
}

/** The stored tickets of a request id, by number. */
async function storedUnder(requestId: string): Promise<string[]> {
  return (await A.db.collection<{ number: string }>('tickets').find({ requestId }).toArray()).map((t) => t.number);
}

/** The number a request's note names. */
async function notedFor(requestId: string): Promise<string | undefined> {
  return (await A.db.collection<{ _id: string; number?: string }>('ticketRequests').findOne({ _id: requestId }))?.number;
}

describe('a ticket logged by hand, its request sent to two processes at once', () => {
  it('is one ticket: one process files it, the other answers with that ticket', async () => {
    for (let round = 0; round < 6; round++) {
      const requestId = `form-twice-${round}-${randomUUID().slice(0, 8)}`;
      const phone = `1390000${String(round).padStart(4, '0')}`;
      const demand = { channel: 'phone', text: `第${round}次来电：订单一直没有发货，要求尽快处理`, customer: { name: '周先生', phone }, requestId };
      const answers = await Promise.all([post(A, demand), post(B, demand)]);
      const stored = await A.db.collection<{ number: string }>('tickets').find({ requestId }).toArray();
      expect(stored.map((t) => t.number), `round ${round}`).toHaveLength(1);
      for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(201);
      const number = stored[0]!.number;
      // Both staff members are told the ticket that is stored; exactly one of them filed it.
      expect(answers.map((a) => a.body.ticket.number)).toEqual([number, number]);
      expect(answers.map((a) => a.body.duplicate).sort()).toEqual([false, true]);
      expect(await A.db.collection('ticketRequests').countDocuments({ _id: requestId as never })).toBe(1);
      expect(await A.db.collection('audit').countDocuments({ action: 'ticket.file', target: number })).toBe(1);
    }
  });

  it('takes over a claim its filer left without a ticket (it died after claiming): the request is filed, once', async () => {
    const requestId = `form-orphan-${randomUUID().slice(0, 8)}`;
    // What a process that died between claiming and inserting leaves: a claim a minute old, no number.
    await A.db.collection('ticketRequests').insertOne({ _id: requestId as never, at: new Date(Date.now() - 60_000) });
    const demand = { channel: 'walk-in', text: '到店反映：上次的投诉一直没人回复', customer: { phone: '13911112222' }, requestId };
    const first = await post(B, demand);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.duplicate).toBe(false);
    const again = await post(A, demand);
    expect(again.body).toMatchObject({ stored: 'database', duplicate: true, ticket: { number: first.body.ticket.number } });
    expect(await A.db.collection('tickets').countDocuments({ requestId })).toBe(1);
  });

  it('gives up the claim of a filing refused before any insert, so the same request sent again is filed', async () => {
    const requestId = `form-refused-${randomUUID().slice(0, 8)}`;
    const demand = { channel: 'phone' as const, text: '来电：分类结果无效的一次登记', customer: { phone: '13922223333' }, requestId };
    // A classification the store refuses (a topic the taxonomy does not have): a 400, after the claim.
    const refused = { normalized: demand.text, lang: 'zh-Hans', topic: 'no-such-topic', type: 'complaint', spam: false, suspectedSpam: false, act: 'demand', actConfidence: 0, spamScore: 0, confidence: 0.9, typeConfidence: 0.9, alternatives: [], keywords: [], needsReview: false, reason: null, modelVersion: 't' } as unknown as Classification;
    await expect(A.services.tickets.fileForCustomer(demand, refused, 'alice')).rejects.toBeInstanceOf(ValidationError);
    expect(await A.db.collection('ticketRequests').countDocuments({ _id: requestId as never })).toBe(0);
    const again = await post(B, demand);
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect(again.body.duplicate).toBe(false);
    expect(await A.db.collection('tickets').countDocuments({ requestId })).toBe(1);
  });

  it('is one ticket when its filer is alive but slower than the takeover window: its late insert is refused and it answers the ticket stored', async () => {
    const requestId = `form-slow-${randomUUID().slice(0, 8)}`;
    const demand = { channel: 'phone', text: '来电：快递显示已签收但没有收到', customer: { phone: '13933334444' }, requestId };
    // A claims the request, notes its number, and stalls before its insert (a GC pause, a slow disk).
    const slow = holdNextTicketInsert(proxyA);
    const late = post(A, demand);
    await slow.caught;
    // B gets the same request: A's claim names no stored ticket, so after the 30 s window B takes it over and files it.
    const startedAt = Date.now();
    const taken = await post(B, demand);
    expect(Date.now() - startedAt).toBeGreaterThan(25_000);
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    expect(taken.body.duplicate).toBe(false);
    const number = taken.body.ticket.number as string;
    // A wakes up and sends its insert: refused (the tickets' unique request id), it answers B's ticket.
    slow.release();
    const answer = await late;
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).toMatchObject({ stored: 'database', duplicate: true, ticket: { number, requestId } });
    expect(await storedUnder(requestId)).toEqual([number]);
    // The note names the ticket stored again (A had noted its own number before its insert).
    expect(await notedFor(requestId)).toBe(number);
    expect(await A.db.collection('audit').countDocuments({ action: 'ticket.file', 'details.channel': 'phone', target: number })).toBe(1);
    const again = await post(A, demand);
    expect(again.body).toMatchObject({ duplicate: true, ticket: { number } });
  });

  it('is one ticket when a new submit claims the request while the replay of its queued copy runs (the submit stores last)', async () => {
    const requestId = `form-replay-race-${randomUUID().slice(0, 8)}`;
    const demand = { channel: 'letter', text: '来信：退货运费没有退还', customer: { email: `race-${requestId}@example.com` }, requestId };
    // Filed on B during an outage: queued under a provisional number.
    const provisional = await queuedOnB(demand);
    // The same form sent again to A as the database is back: A claims the request and stalls before its insert…
    const slow = holdNextTicketInsert(proxyA);
    const submit = post(A, demand);
    await slow.caught;
    // …while B's replay stores the queued copy (A's claim names a number nothing is stored under).
    const replay = await B.services.tickets.flushOutbox();
    expect(replay).toMatchObject({ replayed: 1, remaining: 0 });
    slow.release();
    const answer = await submit;
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    expect(answer.body).toMatchObject({ stored: 'database', duplicate: true, ticket: { number: provisional } });
    expect(await storedUnder(requestId)).toEqual([provisional]);
    expect(await notedFor(requestId)).toBe(provisional);
  });

  it('is one ticket when the replay of a queued copy stores last (a new submit took the request over): the copy is dropped and its provisional number finds the ticket', async () => {
    const requestId = `form-replay-late-${randomUUID().slice(0, 8)}`;
    const demand = { channel: 'walk-in', text: '到店：会员卡余额不对', customer: { phone: '13944445555' }, requestId };
    const provisional = await queuedOnB(demand);
    // B's replay notes the request and stalls before its insert…
    const slow = holdNextTicketInsert(proxyB);
    const replay = B.services.tickets.flushOutbox();
    await slow.caught;
    expect(await notedFor(requestId)).toBe(provisional);
    // …past the takeover window (the note aged by the test, as 30 s would: the clock, not the check, is simulated),
    await A.db.collection<{ _id: string; at: Date }>('ticketRequests').updateOne({ _id: requestId }, { $set: { at: new Date(Date.now() - 60_000) } });
    // so a new submit on A takes the request over and files it.
    const submitted = await post(A, demand);
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    expect(submitted.body.duplicate).toBe(false);
    const number = submitted.body.ticket.number as string;
    slow.release();
    expect(await replay).toMatchObject({ replayed: 0, duplicates: 1, remaining: 0 });
    expect(await storedUnder(requestId)).toEqual([number]);
    expect(await notedFor(requestId)).toBe(number);
    // The staff member who was given the provisional number finds the ticket by it.
    expect(await A.db.collection('ticketRequestCopies').findOne({ _id: provisional as never })).toMatchObject({ number, requestId });
    const opened = await fetch(`${B.url}/api/tickets/${provisional}`, { headers: { authorization: `Bearer ${tokens.get(B)}` } });
    expect(opened.status).toBe(200);
    expect(((await opened.json()) as Json).number).toBe(number);
  });
});

describe("the tickets' unique index on requestId", () => {
  it('is made at start; a database already holding two tickets of one request starts without it and says so', async () => {
    expect((await A.db.collection('tickets').listIndexes().toArray()).find((i) => i.name === 'requestId_unique')).toMatchObject({ key: { requestId: 1 }, unique: true });
    // What a version without the index could leave: two tickets of one request (and tickets without one).
    const db = A.db.client.db(`requests_dup_${randomUUID().slice(0, 8)}`);
    const dir = mkdtempSync(join(tmpdir(), 'requests-dup-'));
    try {
      await db.collection('tickets').insertMany([
        { _id: 'T20261201-0001' as never, number: 'T20261201-0001', requestId: 'form-twice' },
        { _id: 'T20261201-0002' as never, number: 'T20261201-0002', requestId: 'form-twice' },
        { _id: 'T20261201-0003' as never, number: 'T20261201-0003' },
      ]);
      const errors: string[] = [];
      const log = { info() {}, warn() {}, error: (_o: object, msg: string) => void errors.push(msg) };
      await createStore({ db, outboxPath: join(dir, 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log });
      expect(errors).toEqual([expect.stringContaining('two tickets of one request id')]);
      expect((await db.collection('tickets').listIndexes().toArray()).map((i) => i.name)).not.toContain('requestId_unique');
    } finally {
      await db.dropDatabase().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
