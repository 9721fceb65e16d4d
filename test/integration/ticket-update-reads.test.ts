/**
 * A ticket update does not read the whole `tickets` collection (issue 11: 4.9 s p50 at 10,000
 * tickets). Through real HTTP against the real app and database: every staff change of a ticket
 * (status, priority, assignment, reply, note, correction, review, spam decision) reaches `tickets`
 * only with a top-level `_id` equality (or `$in`) in its filter, and — on the embedded FerretDB, as
 * scripts/install-ferretdb.mjs builds it — SQLite answers such a filter from the `_id` index
 * (`SEARCH … USING INDEX`), never by reading every row (`SCAN`). On MongoDB: no COLLSCAN.
 */
import { randomUUID } from 'node:crypto';
import type { CommandStartedEvent, Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../store/index.js';
import type { TicketCreate } from '../../store/schemas.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { commandFilters, expectFromIndex, isIdFilter, planOf } from '../helpers/query-plans.js';

let A: RunningApp;
let token: string;
let ferret: boolean;
const commands: CommandStartedEvent[] = [];
const PASSWORD = 'update-reads-Pw1!';

function input(text: string, needsReview = false): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `u-${randomUUID().slice(0, 6)}` },
    conversationRef: null,
    contact: {},
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: 'billing', type: 'complaint', spam: false, confidence: 0.8, alternatives: [], keywords: [], modelVersion: 'test', needsReview, reviewReason: needsReview ? 'low-confidence' : null },
  };
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Document }> {
  const res = await fetch(`${A.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Document) : {} };
}

/** The filters of the commands that read or write `tickets`. */
const ticketFilters = (seen: CommandStartedEvent[]) => commandFilters(seen).filter((f) => f.collection === 'tickets');

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '1000' }, { onCommand: (e) => commands.push(e) });
  ferret = 'ferretdbVersion' in (await A.db.admin().command({ buildInfo: 1 }));
  await A.services.auth.createUser({ username: 'lead', password: PASSWORD, role: 'admin', createdBy: 'test' });
  await A.services.auth.createUser({ username: 'agent1', password: PASSWORD, role: 'agent', createdBy: 'test' });
  const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'lead', password: PASSWORD }) });
  token = ((await login.json()) as { token: string }).token;
});

afterAll(async () => {
  await A?.stop();
});

describe('a ticket update reads tickets by _id only', () => {
  it('every staff change reaches tickets through an _id filter, answered from the _id index', async () => {
    // Some history beside the ticket changed, so a scan would have rows to read.
    for (let i = 0; i < 30; i++) await A.services.tickets.file(input(`历史工单 ${i} 退款没有到账`));
    const n = (await A.services.tickets.file(input('发票开错了，请重新开', true))).ticket.number;
    const spamOne = (await A.services.tickets.file(input('加微信领红包'))).ticket.number;
    await A.store.tickets.settled();
    const steps: [string, () => Promise<{ status: number; body: Document }>, number][] = [
      ['status', () => call('PATCH', `/api/tickets/${n}`, { status: 'in_progress' }), 200],
      ['priority', () => call('PATCH', `/api/tickets/${n}`, { priority: 'high' }), 200],
      ['assignment', () => call('PATCH', `/api/tickets/${n}`, { assignee: 'agent1' }), 200],
      ['reply', () => call('POST', `/api/tickets/${n}/replies`, { text: '您好，已为您重新开票。' }), 201],
      ['note', () => call('POST', `/api/tickets/${n}/notes`, { text: '已电话联系' }), 201],
      ['review', () => call('POST', `/api/tickets/${n}/review`), 200],
      ['correction', () => call('POST', `/api/tickets/${n}/corrections`, { field: 'topic', to: 'delivery' }), 201],
      ['spam decision', () => call('POST', `/api/tickets/${spamOne}/spam`, { spam: true }), 200],
      ['resolve', () => call('PATCH', `/api/tickets/${n}`, { status: 'resolved' }), 200],
    ];
    let checked = 0;
    for (const [name, run, status] of steps) {
      commands.length = 0;
      const r = await run();
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).toBe(status);
      await A.store.tickets.settled(); // read-model updates run after the response: include them
      const filters = ticketFilters(commands);
      // The change itself was written to tickets (the test would pass vacuously otherwise).
      expect(filters.some((f) => f.command === 'update' || f.command === 'findAndModify'), name).toBe(true);
      for (const f of filters) {
        expect(isIdFilter(f.filter), `${name}: ${f.command} ${JSON.stringify(f.filter)}`).toBe(true);
        await expectFromIndex(A.db, 'tickets', f.filter, `${name}: ${JSON.stringify(f.filter)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(steps.length);
    const final = await call('GET', `/api/tickets/${n}`);
    expect(final.body).toMatchObject({ status: 'resolved', priority: 'high', assignee: 'agent1', topic: 'delivery' });
    expect(final.body.replies).toHaveLength(1);
    expect(final.body.notes).toHaveLength(1);
  });

  it('a filter holding more than _id is still applied whole (the _id prefilter never widens a match)', async () => {
    const n = (await A.services.tickets.file(input('快递丢了'))).ticket.number;
    const tickets = A.db.collection('tickets');
    const t = await tickets.findOne({ _id: n as never });
    expect(t?.version).toBe(1);
    expect(await tickets.countDocuments({ _id: n as never, version: 2 })).toBe(0);
    expect((await tickets.updateOne({ _id: n as never, version: 2 }, { $set: { priority: 'urgent' } })).matchedCount).toBe(0);
    expect((await tickets.findOne({ _id: n as never }))?.priority).toBe('normal');
    expect(await tickets.countDocuments({ _id: n as never, version: 1, status: 'new' })).toBe(1);
    expect(await tickets.find({ _id: n as never, $or: [{ status: 'closed' }, { spam: true }] }).toArray()).toEqual([]);
    // `$in` of numbers: the ones stored, in one index lookup each.
    const m = (await A.services.tickets.file(input('退货地址是哪里'))).ticket.number;
    const both = { _id: { $in: [n, m, 'T20000101-0001'] } };
    expect((await tickets.find(both as never).toArray()).map((d) => d._id).sort()).toEqual([n, m].sort());
    expect(await tickets.countDocuments({ ...both, version: 1, priority: 'normal' } as never)).toBe(2);
    expect((await tickets.deleteMany({ _id: { $in: [n, m] }, version: 9 } as never)).deletedCount).toBe(0);
    if (ferret) expect(await planOf(A.db, 'tickets', both)).toMatch(/USING (COVERING )?INDEX/);
    // Two `_id` keys (legal in BSON) are not pushed down; the answer is still right.
    expect(await tickets.countDocuments({ _id: n as never, $and: [{ _id: n as never }] })).toBe(1);
  });

  it("a process's first ticket of the day continues the day's numbers, reading tickets by _id only", async () => {
    const before = (await A.services.tickets.file(input('再来一张'))).ticket.number;
    const seq = Number(before.slice(-4));
    // Another process: a store of its own on the same database, which has numbered nothing today.
    const other = await createStore({ db: A.db, outboxPath: join(mkdtempSync(join(tmpdir(), 'seq-')), 'o.jsonl'), timeZone: A.services.config.TIME_ZONE, topics: A.store.topics, log: { info() {}, warn() {}, error() {} } });
    commands.length = 0;
    const made = (await other.tickets.create(input('另一个进程的第一张'))).ticket.number;
    expect(made).toBe(`${before.slice(0, -4)}${String(seq + 1).padStart(4, '0')}`);
    const filters = ticketFilters(commands);
    expect(filters.length).toBeGreaterThan(0);
    if (ferret) for (const f of filters) expect(typeof f.filter._id, JSON.stringify(f.filter)).toBe('string');
    // And this process goes on after it without a collision.
    expect((await A.services.tickets.file(input('第三张'))).ticket.number).toBe(`${before.slice(0, -4)}${String(seq + 2).padStart(4, '0')}`);
    await other.tickets.settled();
  });
});
