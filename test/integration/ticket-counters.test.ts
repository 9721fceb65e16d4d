/**
 * Pre-aggregated statistics against a full recount, on the real database: two stores with their
 * own clients (as two server processes would have) create and change the same tickets at once —
 * status changes, corrections, replies, notes — and the counters must then give exactly the report
 * a recount of every ticket gives. A rebuild from the tickets must give it too.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTicketService } from '../../desk/services.js';
import { directorySummary, linkIdentities } from '../../staff/customer-directory.js';
import { customerSummary, linkCustomers } from '../../staff/customer-profiles.js';
import { computeStats, statsFromCounters } from '../../staff/stats.js';
import { rebuildReadModels } from '../../store/read-models.js';
import { createStore, type Store } from '../../store/index.js';
import { FileOutbox } from '../../store/outbox.js';
import { TicketFactsReader, type TicketFact } from '../../store/ticket-facts.js';
import { MongoTicketRepository } from '../../store/ticket-repository.js';
import type { TicketQuery } from '../../store/schemas.js';
import { dailyStatsOptions, MIX_TOPICS, mixedTicket, silentLog } from '../helpers/ticket-mix.js';
import { createClient } from '../../store/database.js';

let clients: MongoClient[] = [];
let db: Db;
let a: Store;
let b: Store;

/** The i-th ticket of the mix this test files. */
const input = (i: number) => mixedTicket(i, { users: 7 });

async function openStore(name: string): Promise<Store> {
  const client = createClient(inject('mongoUri'));
  await client.connect();
  clients.push(client);
  return createStore({ db: client.db(name), outboxPath: join(mkdtempSync(join(tmpdir(), 'counters-')), 'o.jsonl'), timeZone: 'Asia/Shanghai', topics: MIX_TOPICS, log: silentLog });
}

async function recount(from: string, to: string, now: Date) {
  const facts: TicketFact[] = await new TicketFactsReader(db, { cacheMs: 0 }).all();
  return computeStats(facts, dailyStatsOptions(from, to, now));
}

beforeAll(async () => {
  const name = `counters_${randomUUID().slice(0, 8)}`;
  a = await openStore(name);
  b = await openStore(name);
  db = clients[0].db(name);
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  for (const c of clients) await c.close();
});

describe('pre-aggregated statistics', () => {
  it('equal a full recount after concurrent creations and changes from two stores', async () => {
    const created = await Promise.all(Array.from({ length: 40 }, (_, i) => createTicketService(i % 2 ? a : b, { log: silentLog }).file(input(i))));
    const numbers = created.map((c) => c.ticket.number);
    expect(new Set(numbers).size).toBe(40);

    // Both stores change the same tickets at the same time: each change must be counted once.
    const changes: Promise<unknown>[] = [];
    numbers.forEach((n, i) => {
      const [s1, s2] = i % 2 ? [a, b] : [b, a];
      changes.push(s1.tickets.update(n, { status: 'in_progress' }).then(() => s2.tickets.update(n, { status: i % 4 === 0 ? 'closed' : 'resolved' })));
      changes.push(s2.tickets.recordReply(n, { text: '已处理', by: 'alice', delivered: true, error: null }));
      changes.push(s1.tickets.addNote(n, { author: 'bob', text: '跟进' }));
      if (i % 3 === 0) changes.push(createTicketService(s2, { log: silentLog }).correct(n, { field: 'topic', to: MIX_TOPICS[(i + 1) % 4] }, 'carol'));
      if (i % 5 === 0) changes.push(s1.tickets.update(n, { priority: 'high', assignee: 'dave' }));
    });
    await Promise.all(changes);
    // Satisfaction: customers rate half the tickets (both stores at once), some rate again, and
    // some rated tickets change agent afterwards (ratings are counted per agent).
    const rated = numbers.filter((_, i) => i % 2 === 0 && i % 11 !== 0);
    await Promise.all(rated.map((n, k) => createTicketService(k % 2 ? a : b, { log: silentLog }).rate(n, { score: 1 + (k % 5), ...(k % 3 ? { comment: '很好' } : {}) })));
    await Promise.all(rated.filter((_, k) => k % 4 === 0).map((n) => a.tickets.rate(n, { score: 5 })));
    await Promise.all(rated.filter((_, k) => k % 3 === 0).map((n) => b.tickets.update(n, { assignee: 'erin' })));
    // Read-model updates run off the writers' path: wait until both stores have stored theirs.
    await Promise.all([a.tickets.settled(), b.tickets.settled()]);

    const now = new Date();
    const today = created[0].ticket.createdDay;
    const counted = await a.counters.read({ from: today, to: today, textFrom: today });
    const fromCounters = statsFromCounters(counted, dailyStatsOptions(today, today, now));
    const expected = await recount(today, today, now);
    expect(expected.totals.tickets).toBe(40);
    expect(expected.medians.firstResponseCount).toBe(36); // 40 minus the 4 spam tickets
    expect(expected.satisfaction.count).toBe(rated.length);
    expect(expected.satisfaction.byAgent.find((g) => g.key === 'erin')?.count).toBe(rated.filter((_, k) => k % 3 === 0).length);
    expect(expected.satisfaction.byChannel.reduce((s, g) => s + g.count, 0)).toBe(rated.length);
    expect(fromCounters).toEqual(expected);
    // Every ticket ended resolved or closed; none is counted twice under another status.
    expect(fromCounters.series.status.reduce((s, p) => s + p.count, 0)).toBe(40);

    // The other store reads the same counters.
    expect(statsFromCounters(await b.counters.read({ from: today, to: today, textFrom: today }), dailyStatsOptions(today, today, now))).toEqual(expected);

    // Customers from their documents equal customers linked from every ticket.
    const facts = await new TicketFactsReader(db, { cacheMs: 0 }).all();
    const fromDocs = linkIdentities(await b.customers.identities()).map(directorySummary);
    expect(fromDocs.length).toBeGreaterThan(1);
    expect(fromDocs).toEqual(linkCustomers(facts).map(customerSummary));
    for (const f of facts.filter((x) => !x.spam)) {
      const summary = (await a.customers.ticketsOf(f.customer)).find((t) => t.number === f.number);
      expect(summary).toMatchObject({ status: f.status, topic: f.topic, type: f.type });
    }
  });

  it('lists tickets from the per-day summaries exactly as a query over the tickets does', async () => {
    // The same repository without the summaries and counters answers with a query over the tickets.
    const scan = new MongoTicketRepository(db, { timeZone: 'Asia/Shanghai', topics: MIX_TOPICS, outbox: new FileOutbox(join(mkdtempSync(join(tmpdir(), 'scan-')), 'o.jsonl'), silentLog), log: silentLog });
    // Some tickets stay open or wait for review (the hot set), one of them changed by the other store.
    const fresh = await Promise.all(Array.from({ length: 6 }, (_, i) => createTicketService(i % 2 ? a : b, { log: silentLog }).file(input(100 + i))));
    await Promise.all([a.tickets.update(fresh[1].ticket.number, { status: 'in_progress' }), b.tickets.update(fresh[2].ticket.number, { status: 'resolved' })]);
    await Promise.all([a.tickets.settled(), b.tickets.settled()]);
    const queries: TicketQuery[] = [
      {},
      { status: 'new' },
      { status: 'in_progress' },
      { needsReview: true, sort: 'createdAt' },
      { status: 'new', needsReview: false, pageSize: 2, page: 2 },
      { pageSize: 7, page: 2 },
      { status: 'resolved' },
      { status: 'closed', pageSize: 5, page: 3 },
      { topic: 'billing', sort: 'createdAt' },
      { needsReview: true, spam: false },
      { channelId: 'msteams', status: 'resolved' },
      { assignee: 'dave' },
      { type: 'inquiry', pageSize: 3 },
    ];
    for (const q of queries) {
      const fromIndex = await a.tickets.list(q);
      const fromScan = await scan.list(q);
      expect({ q, total: fromIndex.total, numbers: fromIndex.items.map((t) => t.number) }).toEqual({ q, total: fromScan.total, numbers: fromScan.items.map((t) => t.number) });
    }
    expect((await a.tickets.list({ status: 'resolved' })).total).toBeGreaterThan(0);
    expect((await a.tickets.list({ status: 'new' })).total).toBe(4);
    expect((await b.tickets.list({ needsReview: true })).total).toBe(2);
  });

  it('rebuilds the same counters and customer documents from the tickets', async () => {
    const now = new Date();
    const facts = await new TicketFactsReader(db, { cacheMs: 0 }).all();
    const today = facts[0].createdDay;
    // Spoil the stored counters, then rebuild them from the tickets.
    const spoil = (collection: string, _id: string, data: unknown) => db.collection<{ _id: string }>(collection).updateOne({ _id }, { $set: { data: JSON.stringify(data) }, $inc: { version: 1 } }, { upsert: true });
    await spoil('statsMonths', today.slice(0, 7), { days: {} });
    await spoil('statsMonths', '2001-01', { days: {} });
    await spoil('customerDirectory', 'shard-00', { identities: {} });
    const r = await rebuildReadModels(db);
    expect(r).toMatchObject({ tickets: 46, months: 1 });
    expect(await a.counters.months.get('2001-01')).toBeNull();
    const counted = await a.counters.read({ from: today, to: today, textFrom: today });
    expect(statsFromCounters(counted, dailyStatsOptions(today, today, now))).toEqual(await recount(today, today, now));
    expect(linkIdentities(await a.customers.identities()).map(directorySummary)).toEqual(linkCustomers(facts).map(customerSummary));
  });

  it('lists the hot set (open tickets, the review queue, the navigation counts) from its cached shards as the other store changes them', async () => {
    const scan = new MongoTicketRepository(db, { timeZone: 'Asia/Shanghai', topics: MIX_TOPICS, outbox: new FileOutbox(join(mkdtempSync(join(tmpdir(), 'scan-')), 'o.jsonl'), silentLog), log: silentLog });
    const same = async (q: TicketQuery) => {
      const [fromIndex, fromScan] = await Promise.all([b.tickets.list(q), scan.list(q)]);
      expect({ q, total: fromIndex.total, numbers: fromIndex.items.map((t) => t.number) }).toEqual({ q, total: fromScan.total, numbers: fromScan.items.map((t) => t.number) });
      return fromIndex.total;
    };
    // Store b reads first: its shards are now kept parsed.
    const newBefore = await same({ status: 'new' });
    const reviewBefore = await same({ needsReview: true });
    const countsBefore = await b.ticketIndex.workCounts('dave');
    // Store a files two tickets (one for review) and changes others: b must see every change.
    const filed = await Promise.all([createTicketService(a, { log: silentLog }).file(input(200)), createTicketService(a, { log: silentLog }).file(input(201))]);
    const open = (await a.tickets.list({ status: 'new', pageSize: 3 })).items.map((t) => t.number).filter((n) => !filed.some((f) => f.ticket.number === n));
    await a.tickets.update(open[0], { status: 'resolved' });
    await a.tickets.update(filed[1].ticket.number, { assignee: 'dave' });
    await a.tickets.settled();
    expect(await same({ status: 'new' })).toBe(newBefore + 2 - 1);
    expect(await same({ needsReview: true })).toBe(reviewBefore + 1);
    await same({ open: true, assignee: 'dave' });
    const countsAfter = await b.ticketIndex.workCounts('dave');
    expect(countsAfter.review).toBe(countsBefore.review + 1);
    expect(countsAfter.mine).toBe(countsBefore.mine + 1);
  });
});
