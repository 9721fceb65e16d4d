/**
 * `stats:rebuild` while servers write (store/read-model-generations.ts), on the real database: two
 * stores with their own clients (as two server processes would have, with the production 200 ms
 * batching) file and change tickets without pause while the rebuild runs twice as its own OS
 * process (the CLI). Afterwards every read model must equal a full recount of the tickets: no change
 * lost, none counted twice (the failure seen in CI was a duplicate key in statsWeekTexts and
 * doubled totals).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createTicketService } from '../../desk/services.js';
import { directorySummary, linkIdentities } from '../../staff/customer-directory.js';
import { customerSummary, linkCustomers } from '../../staff/customer-profiles.js';
import { computeStats, statsFromCounters } from '../../staff/stats.js';
import { createStore, type Store } from '../../store/index.js';
import { JsonDocs } from '../../store/json-docs.js';
import { FileOutbox } from '../../store/outbox.js';
import { ReadModelGenerations } from '../../store/read-model-generations.js';
import { rebuildReadModels } from '../../store/read-models.js';
import type { TicketQuery } from '../../store/schemas.js';
import { TicketFactsReader } from '../../store/ticket-facts.js';
import { MongoTicketRepository } from '../../store/ticket-repository.js';
import { lastJson, runSource } from '../helpers/run.js';
import { dailyStatsOptions, MIX_TOPICS, mixedTicket, silentLog } from '../helpers/ticket-mix.js';
import { createClient } from '../../store/database.js';

const clients: MongoClient[] = [];
let db: Db;
let a: Store;
let b: Store;

/** The i-th ticket of the mix this test files. */
const input = (i: number) => mixedTicket(i, { users: 9, orders: true });

async function openStore(name: string): Promise<Store> {
  const client = createClient(inject('mongoUri'));
  await client.connect();
  clients.push(client);
  const outboxPath = join(mkdtempSync(join(tmpdir(), 'rebuild-live-')), 'o.jsonl');
  return createStore({ db: client.db(name), outboxPath, timeZone: 'Asia/Shanghai', topics: MIX_TOPICS, log: silentLog, readModelBatchMs: 200 });
}

/** The CLI as its own OS process on the test database. */
const rebuildCli = () => runSource('scripts/stats-rebuild.ts', [], inject('mongoUri'), db.databaseName);

beforeAll(async () => {
  const name = `rebuild_live_${randomUUID().slice(0, 8)}`;
  a = await openStore(name);
  b = await openStore(name);
  db = clients[0].db(name);
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  for (const c of clients) await c.close();
});

describe('stats:rebuild beside live writers', () => {
  it('leaves every read model equal to a full recount while two stores keep writing', async () => {
    const numbers: string[] = [];
    let next = 0;
    const file = async (s: Store) => numbers.push((await createTicketService(s, { log: silentLog }).file(input(next++))).ticket.number);
    for (let i = 0; i < 24; i++) await file(i % 2 ? a : b);

    // Two writers, one per store, each a steady stream of every kind of ticket change.
    let stop = false;
    let rebuilding = false;
    let duringRebuild = 0;
    const writer = async (s: Store, seed: number) => {
      const svc = createTicketService(s, { log: silentLog });
      for (let k = seed; !stop; k += 2) {
        const n = numbers[(k * 7) % numbers.length];
        const op = k % 6;
        if (op === 0) await file(s);
        else if (op === 1) await s.tickets.update(n, { status: (['in_progress', 'resolved', 'closed', 'reopened'] as const)[k % 4] }).catch(() => undefined);
        else if (op === 2) await s.tickets.recordReply(n, { text: `已处理 ${k}`, by: 'alice', delivered: true, error: null });
        else if (op === 3) await svc.correct(n, { field: 'topic', to: MIX_TOPICS[k % 4] }, 'carol');
        else if (op === 4) await s.tickets.update(n, { priority: k % 4 ? 'high' : 'normal', assignee: k % 3 ? 'dave' : 'erin' });
        else await svc.rate(n, { score: 1 + (k % 5) });
        if (rebuilding) duringRebuild++;
        await new Promise((r) => setTimeout(r, 15));
      }
    };
    const writers = Promise.all([writer(a, 0), writer(b, 1)]);
    await new Promise((r) => setTimeout(r, 500));
    const results: Record<string, unknown>[] = [];
    for (let i = 0; i < 2; i++) {
      rebuilding = true;
      const r = await rebuildCli();
      rebuilding = false;
      expect(r.code, r.stderr).toBe(0);
      results.push(lastJson(r.stdout));
      // Tickets filed after this rebuild (so after its scan): two more, as the one in flight when
      // it ended may have been stored before. Waited for, not a fixed 300 ms: under load a filing
      // can take longer than that.
      const filedBy = numbers.length;
      await vi.waitFor(() => expect(numbers.length).toBeGreaterThanOrEqual(filedBy + 2), { timeout: 60_000, interval: 20 });
    }
    stop = true;
    await writers;
    await Promise.all([a.tickets.settled(), b.tickets.settled()]);

    // The rebuilds ran beside the writers: changes were made while each ran, tickets were filed after its scan.
    expect(duringRebuild).toBeGreaterThan(20);
    expect(results.map((r) => r.generation)).toEqual([1, 2]);
    expect(Number(results[1].tickets)).toBeLessThan(numbers.length);

    const now = new Date();
    const facts = await new TicketFactsReader(db, { cacheMs: 0 }).all();
    expect(facts.length).toBe(numbers.length);
    const today = facts[0].createdDay;
    const expected = computeStats(facts, dailyStatsOptions(today, today, now));
    expect(expected.totals.tickets).toBe(numbers.length);
    for (const s of [a, b]) {
      expect(statsFromCounters(await s.counters.read({ from: today, to: today, textFrom: today }), dailyStatsOptions(today, today, now))).toEqual(expected);
      expect(await s.counters.count({})).toBe(numbers.length);
    }
    // Each non-spam ticket's text is in its week exactly once.
    const week = await a.counters.weeks.getMany((await db.collection<{ _id: string }>('statsWeekTexts').find({}).toArray()).map((d) => d._id));
    const texts = [...week.values()].flatMap((w) => w.items.map((i) => i[1])).sort();
    expect(texts).toEqual(facts.filter((f) => !f.spam).map((f) => f.number).sort());

    // Customers from their documents equal customers linked from every ticket.
    expect(linkIdentities(await b.customers.identities()).map(directorySummary)).toEqual(linkCustomers(facts).map(customerSummary));
    for (const f of facts) {
      const summaries = (await a.customers.ticketsOf(f.customer)).filter((t) => t.number === f.number);
      if (f.spam) continue;
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({ status: f.status, topic: f.topic, type: f.type });
    }

    // Lists from the ticket index equal the same query over the tickets; search finds what a scan finds.
    const scan = new MongoTicketRepository(db, { timeZone: 'Asia/Shanghai', topics: MIX_TOPICS, outbox: new FileOutbox(join(mkdtempSync(join(tmpdir(), 'scan-')), 'o.jsonl'), silentLog), log: silentLog });
    const queries: TicketQuery[] = [{ pageSize: 100 }, { status: 'new', pageSize: 100 }, { status: 'closed', pageSize: 100 }, { needsReview: true, pageSize: 100 }, { topic: 'billing', pageSize: 100 }, { assignee: 'erin', pageSize: 100 }, { status: 'reopened', pageSize: 100 }];
    for (const q of queries) {
      const fromIndex = await a.tickets.list(q);
      const fromScan = await scan.list(q);
      expect({ q, total: fromIndex.total, numbers: fromIndex.items.map((t) => t.number) }).toEqual({ q, total: fromScan.total, numbers: fromScan.items.map((t) => t.number) });
    }
    for (const term of ['退款', '发票']) {
      const found = (await b.tickets.list({ search: term, pageSize: 200 })).items.map((t) => t.number);
      const scanned = (await scan.list({ search: term, pageSize: 200 })).items.map((t) => t.number);
      expect(found.length).toBeGreaterThan(0);
      expect({ term, found }).toEqual({ term, found: scanned });
    }
  });

  it('a change written while a rebuild runs is applied again after the rebuild replaced its document, once', async () => {
    const gens = new ReadModelGenerations(db);
    const docs = new JsonDocs<{ n: number }>(db, 'heldDocs', () => ({ n: 0 }), { generations: gens });
    const raw = db.collection<{ _id: string; gen?: number; data: string }>('heldDocs');
    const add = (id: string, k: number, number: string) => docs.update(id, (d) => void (d.n += k), { number, version: 1 });
    await Promise.all([add('x', 1, 'T20261201-0001'), add('y', 1, 'T20261201-0001')]);
    const rebuild = await gens.begin();
    // Written while the rebuild runs: visible at once, but not settled while the rebuild may replace it.
    let settled = 0;
    const during = [add('x', 10, 'T20261201-0002'), add('y', 10, 'T20261201-0003')].map((p) => p.then(() => settled++));
    await vi.waitFor(async () => expect((await raw.find({}).sort({ _id: 1 }).toArray()).map((d) => JSON.parse(d.data).n)).toEqual([11, 11]), { timeout: 30_000 });
    // The rebuild's scan read ticket 0003 (y's change) but not 0002 (x's), and it replaces both documents.
    await rebuild.storeCounted(new Map([['T20261201-0001', 1], ['T20261201-0003', 1]]));
    await new JsonDocs<{ n: number }>(db, 'heldDocs', () => ({ n: 0 })).install(new Map([['x', { n: 1 }], ['y', { n: 11 }]]), rebuild.gen);
    expect(settled).toBe(0);
    await rebuild.finish();
    await Promise.all(during);
    expect((await raw.find({}).sort({ _id: 1 }).toArray()).map((d) => [d._id, d.gen, JSON.parse(d.data).n])).toEqual([
      ['x', rebuild.gen, 11],
      ['y', rebuild.gen, 11],
    ]);
  });

  it('refuses a second rebuild while one holds the lease', async () => {
    const held = await new ReadModelGenerations(db).begin();
    try {
      await expect(rebuildReadModels(db)).rejects.toThrow(/another stats:rebuild/);
    } finally {
      await held.abandon();
    }
    expect((await rebuildReadModels(db)).generation).toBe(held.gen + 1);
  });
});
