/**
 * Staff search from the inverted index, keyset pagination and the archive, against the real
 * (embedded) database through the store.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, CommandStartedEvent, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createTicketService } from '../../desk/services.js';
import type { TicketService } from '../../desk/tickets.js';
import { archiveCollectionOf, archiveTickets } from '../../store/archive.js';
import { ValidationError } from '../../store/errors.js';
import { createStore, type Store } from '../../store/index.js';
import { everyTicket, rebuildReadModels } from '../../store/read-models.js';
import type { Ticket, TicketCreate } from '../../store/schemas.js';
import { createClient } from '../../store/database.js';

const TOPICS = ['delivery', 'quality', 'returns', 'billing', 'account', 'aftersales', 'service', 'technical', 'marketing', 'privacy', 'product'];
const silent = { info() {}, warn() {}, error() {} };

let client: MongoClient;
let db: Db;
let store: Store;
let desk: TicketService;
let clock = new Date('2026-11-25T02:00:00Z');
const commands: CommandStartedEvent[] = [];

function input(text: string, over: { phone?: string; email?: string; name?: string; userId?: string; topic?: string } = {}): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: over.userId ?? `u-${randomUUID().slice(0, 6)}`, ...(over.name ? { name: over.name } : {}) },
    conversationRef: null,
    contact: { ...(over.phone ? { phone: over.phone } : {}), ...(over.email ? { email: over.email } : {}) },
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: over.topic ?? 'billing', type: 'complaint', spam: false, confidence: 0.8, alternatives: [], keywords: [], modelVersion: 'test', needsReview: false, reviewReason: null },
  };
}

async function search(q: string, extra: Record<string, unknown> = {}): Promise<string[]> {
  return (await store.tickets.list({ search: q, pageSize: 200, ...extra })).items.map((t) => t.number);
}

const made: Record<string, Ticket> = {};

beforeAll(async () => {
  client = createClient(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (e) => commands.push(e));
  await client.connect();
  db = client.db(`t_${randomUUID().slice(0, 8)}`);
  store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent, now: () => clock, archiveAfterDays: 30 });
  desk = createTicketService(store, { log: silent, now: () => clock });
  made.roamingT = (await desk.file(input('國際漫遊費用太高，請幫我查一下', { phone: '+86 138 0013 8000' }))).ticket;
  made.roamingS = (await desk.file(input('国际漫游费扣了两次'))).ticket;
  made.phoneText = (await desk.file(input('请打我电话 139-1234-5678 处理退款'))).ticket;
  made.english = (await desk.file(input('My refund for the broken charger never arrived', { email: 'Li.Ming@Example.com', name: 'Li Ming' }))).ticket;
  made.other = (await desk.file(input('快递三天没到', { topic: 'delivery' }))).ticket;
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

describe('search: finds what staff type, from the inverted index', () => {
  it('finds a phone number written in any format', async () => {
    for (const q of ['138-0013-8000', '+86 138 0013 8000', '13800138000']) expect(await search(q), q).toEqual([made.roamingT.number]);
    for (const q of ['13912345678', '+86 139 1234 5678']) expect(await search(q), q).toEqual([made.phoneText.number]);
  });

  it('漫游 finds 漫遊 and 漫遊 finds 漫游', async () => {
    const both = [made.roamingS.number, made.roamingT.number];
    expect(await search('漫游')).toEqual(both);
    expect(await search('漫遊')).toEqual(both);
    expect(await search('漫遊費')).toEqual(both);
  });

  it('finds English words, e-mail addresses and customer names', async () => {
    expect(await search('refunds')).toEqual([made.english.number]);
    expect(await search('li.ming@example.com')).toEqual([made.english.number]);
    expect(await search('charger MING')).toEqual([made.english.number]);
    expect(await search('refund delivery')).toEqual([]);
  });

  it('finds a ticket by its number, in any case', async () => {
    expect(await search(made.other.number.toLowerCase())).toEqual([made.other.number]);
    expect(await search('T20261125-9999')).toEqual([]);
  });

  it('finds a ticket by text added after it was indexed, and combines search with filters', async () => {
    expect(await search('发票')).toEqual([]);
    await desk.addCustomerMessage(made.other.number, '另外发票也没收到');
    expect(await search('发票')).toEqual([made.other.number]);
    expect(await search('快递 发票')).toEqual([made.other.number]);
    await store.tickets.update(made.roamingS.number, { status: 'in_progress' });
    expect(await search('漫游', { status: 'in_progress' })).toEqual([made.roamingS.number]);
    expect(await search('漫游', { status: 'new' })).toEqual([made.roamingT.number]);
  });

  it('scans no ticket collection to answer a search (the small index documents, then the page by _id)', async () => {
    // The read-model updates of the change above run after it answered: let them finish first, so
    // only the search's own commands are counted, however the machine schedules them.
    await store.tickets.settled();
    commands.length = 0;
    expect(await search('漫游')).toHaveLength(2);
    const reads = commands.filter((c) => c.commandName === 'find' || c.commandName === 'aggregate' || c.commandName === 'count');
    const read = reads.map((c) => String(c.command[c.commandName]));
    expect(read.length).toBeGreaterThan(0);
    // readModelGens and readModelCounted: tiny documents by _id that a change of the read models reads (read-model-generations.ts).
    expect(read.every((name) => /^(searchIdx_\d{6}|searchMonths|ticketDays|tickets|claims|readModelGens|readModelCounted)$/.test(name))).toBe(true);
    // The page's tickets: one read, by _id only (an index lookup; a filter on any other field would scan).
    const ticketReads = reads.filter((c) => c.command.find === 'tickets');
    expect(ticketReads).toHaveLength(1);
    expect(Object.keys(ticketReads[0].command.filter as object)).toEqual(['_id']);
    expect((ticketReads[0].command.filter as { _id: { $in: string[] } })._id.$in).toHaveLength(2);
  });
});

describe('keyset pagination', () => {
  it('walks every ticket once with nextCursor, and a ticket filed meanwhile shifts nothing', async () => {
    const more: string[] = [];
    for (let i = 0; i < 12; i++) more.push((await desk.file(input(`分页测试 ${i}`))).ticket.number);
    for (const query of [{}, { status: 'new' as const }, { search: '分页测试' }, { sort: 'priority' as const }]) {
      const seen: string[] = [];
      const all = (await store.tickets.list({ ...query, pageSize: 200 })).items.map((t) => t.number);
      let page = await store.tickets.list({ ...query, pageSize: 5 });
      expect(page.total).toBe(all.length);
      let added = '';
      seen.push(...page.items.map((t) => t.number));
      let inserted = false;
      while (page.nextCursor) {
        if (!inserted) {
          // Filed between two pages: it goes to the top, the next page continues where this one ended.
          added = (await desk.file(input('分页测试 新的'))).ticket.number;
          inserted = true;
        }
        page = await store.tickets.list({ ...query, pageSize: 5, cursor: page.nextCursor });
        seen.push(...page.items.map((t) => t.number));
      }
      expect(new Set(seen).size, JSON.stringify(query)).toBe(seen.length);
      // Every ticket that was there is seen once; the new one only where it sorts after the page read.
      expect(seen.filter((n) => n !== added), JSON.stringify(query)).toEqual(all);
      if (!('sort' in query)) expect(seen).not.toContain(added);
    }
  });

  it('refuses a cursor of another sort, a forged one, and a cursor with a page', async () => {
    const first = await store.tickets.list({ pageSize: 2 });
    expect(first.nextCursor).toEqual(expect.any(String));
    await expect(store.tickets.list({ pageSize: 2, sort: 'createdAt', cursor: first.nextCursor! })).rejects.toThrow(ValidationError);
    await expect(store.tickets.list({ pageSize: 2, cursor: 'bm90IGEgY3Vyc29y' })).rejects.toThrow(/invalid cursor/);
    await expect(store.tickets.list({ pageSize: 2, page: 2, cursor: first.nextCursor! })).rejects.toThrow(/either cursor or page/);
  });

  it('keeps page and total for clients that use them', async () => {
    const p1 = await store.tickets.list({ pageSize: 3, page: 1 });
    const p2 = await store.tickets.list({ pageSize: 3, page: 2 });
    expect(p2.total).toBe(p1.total);
    expect(p2.items[0].number).not.toBe(p1.items[2].number);
  });
});

describe('archive of old closed tickets', () => {
  it('dry-run counts, --apply moves; archived tickets stay findable by number, search, list and statistics', async () => {
    const a = (await desk.file(input('旧工单 归档测试甲'))).ticket;
    const b = (await desk.file(input('旧工单 归档测试乙'))).ticket;
    await store.tickets.update(a.number, { status: 'closed' });
    await store.tickets.update(b.number, { status: 'resolved' });
    const before = await store.counters.count({});
    clock = new Date(clock.getTime() + 40 * 86_400_000);
    const dry = await store.archive();
    expect(dry).toMatchObject({ apply: false, candidates: 2, archived: 0 });
    expect(await db.collection('tickets').countDocuments({ _id: a.number as never })).toBe(1);
    const done = await store.archive({ apply: true });
    expect(done).toMatchObject({ apply: true, candidates: 2, archived: 2, changed: 0 });
    expect(await db.collection('tickets').countDocuments({ _id: { $in: [a.number, b.number] } as never })).toBe(0);
    expect(await db.collection(archiveCollectionOf(a.number)).countDocuments({})).toBe(2);
    expect((await store.tickets.get(a.number))?.status).toBe('closed');
    expect(await search('归档测试')).toEqual([b.number, a.number]);
    expect((await store.tickets.list({ status: 'closed', pageSize: 200 })).items.map((t) => t.number)).toContain(a.number);
    expect(await store.counters.count({})).toBe(before);
    // Reopening an archived ticket brings it back into the working set.
    // With the version the editor saw, as the console sends it: archiving is not someone else's change.
    const seen = (await store.tickets.get(a.number))!.version;
    const reopened = await desk.change(a.number, { status: 'reopened' }, 'alice', { expectedVersion: seen });
    expect(reopened.version).toBe(seen + 1);
    expect(reopened.status).toBe('reopened');
    expect(await db.collection('tickets').countDocuments({ _id: a.number as never })).toBe(1);
    expect(await db.collection(archiveCollectionOf(a.number)).countDocuments({ _id: a.number as never })).toBe(0);
  });

  it('a ticket changed during its move stays in the working set, and its archive copy goes', async () => {
    const d = (await desk.file(input('移动中被修改'))).ticket;
    await store.tickets.update(d.number, { status: 'closed' });
    clock = new Date(clock.getTime() + 40 * 86_400_000);
    const r = await archiveTickets(db, {
      olderThanDays: 30,
      apply: true,
      now: clock,
      afterCopy: async (n) => {
        if (n === d.number) await store.tickets.update(d.number, { status: 'reopened' });
      },
    });
    expect(r.changed).toBe(1);
    expect(await db.collection('tickets').countDocuments({ _id: d.number as never })).toBe(1);
    expect(await db.collection(archiveCollectionOf(d.number)).countDocuments({ _id: d.number as never })).toBe(0);
    expect((await store.tickets.get(d.number))?.status).toBe('reopened');
  });

  it('a crash between the copy and the delete leaves each ticket in exactly one readable place; the next run finishes', async () => {
    const c = (await desk.file(input('崩溃测试'))).ticket;
    await store.tickets.update(c.number, { status: 'closed' });
    clock = new Date(clock.getTime() + 40 * 86_400_000);
    await expect(
      archiveTickets(db, {
        olderThanDays: 30,
        apply: true,
        now: clock,
        afterCopy: () => {
          throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    // Both copies exist; readers see one ticket.
    expect(await db.collection('tickets').countDocuments({ _id: c.number as never })).toBe(1);
    expect(await db.collection(archiveCollectionOf(c.number)).countDocuments({ _id: c.number as never })).toBe(1);
    const all: string[] = [];
    for await (const t of everyTicket(db)) all.push(t.number);
    expect(all.filter((n) => n === c.number)).toHaveLength(1);
    expect(new Set(all).size).toBe(all.length);
    const totalBefore = await store.counters.count({});
    await store.tickets.settled(); // the rebuild runs while quiet: store the batched read-model writes first
    await rebuildReadModels(db);
    expect(await store.counters.count({})).toBe(totalBefore);
    expect(await search('崩溃测试')).toEqual([c.number]);
    // A change in between wins over the copy.
    const changed = await store.tickets.update(c.number, { priority: 'high' });
    expect((await store.tickets.get(c.number))?.priority).toBe('high');
    const resumed = await store.archive({ apply: true });
    expect(resumed.resumed).toBe(1);
    expect(resumed.archived).toBeGreaterThanOrEqual(1);
    expect(await db.collection('tickets').countDocuments({ _id: c.number as never })).toBe(0);
    const archived = await db.collection(archiveCollectionOf(c.number)).findOne({ _id: c.number as never });
    expect(archived?.version).toBe(changed.version);
    expect((await store.tickets.get(c.number))?.priority).toBe('high');
  });

  it('a ticket reopened from the archive between the rebuild scan\'s two passes is counted once', async () => {
    const e = (await desk.file(input('重建之间重开的工单'))).ticket;
    const f = (await desk.file(input('重建之间留在归档'))).ticket;
    await store.tickets.update(e.number, { status: 'closed' });
    await store.tickets.update(f.number, { status: 'closed' });
    clock = new Date(clock.getTime() + 40 * 86_400_000);
    await store.archive({ apply: true });
    expect(await db.collection(archiveCollectionOf(e.number)).countDocuments({ _id: { $in: [e.number, f.number] } as never })).toBe(2);
    await store.tickets.settled();
    const stored: string[] = [];
    for await (const t of everyTicket(db)) stored.push(t.number);
    /** What the read models say: totals, by status, the customer's document, the list and search. */
    const readModels = async () => ({
      total: await store.counters.count({}),
      reopened: await store.counters.count({ status: 'reopened' }),
      closed: await store.counters.count({ status: 'closed' }),
      billing: await store.counters.count({ topic: 'billing' }),
      customer: (await store.customers.ticketsOf(e.customer)).map((t) => [t.number, t.status]),
      reopenedList: (await store.tickets.list({ status: 'reopened', pageSize: 200 })).items.map((t) => t.number),
      found: await search('重建之间'),
    });
    // Reopened by staff after the working set was read and before the archive is: read by neither pass.
    let reopenedBetween = false;
    await rebuildReadModels(db, undefined, {
      afterWorkingSet: async () => {
        await store.tickets.update(e.number, { status: 'reopened' });
        reopenedBetween = true;
      },
    });
    expect(reopenedBetween).toBe(true);
    expect(await db.collection('tickets').countDocuments({ _id: e.number as never })).toBe(1);
    await store.tickets.settled();
    const afterLive = await readModels();
    expect(afterLive.total).toBe(stored.length);
    expect(afterLive.customer).toEqual([[e.number, 'reopened']]);
    expect(afterLive.reopenedList).toContain(e.number);
    expect(afterLive.found).toEqual([f.number, e.number]);
    // Exactly what a quiet recount gives.
    await rebuildReadModels(db);
    expect(afterLive).toEqual(await readModels());
  });
});
