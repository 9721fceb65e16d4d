import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { EmbeddedServer } from '../../store/embedded-server.js';
import { createTicketService } from '../../desk/services.js';
import { createStore } from '../../store/index.js';
import { deliveryDemand, startOutboxDatabase, type OutboxDatabase } from '../helpers/outbox-database.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

/**
 * Nothing lost: the database goes away mid-run, tickets keep being created (and numbered) into the
 * local outbox, the database comes back, and every ticket ends up stored exactly once.
 */
const silent = { info() {}, warn() {}, error() {} };
let own: OutboxDatabase | null = null;
let server: EmbeddedServer | null = null;
let client: MongoClient | null = null;

afterAll(async () => {
  await own?.stop();
});

describe('outbox', () => {
  it('keeps tickets while the database is down and stores each exactly once when it is back', async () => {
    // When MONGODB_URI points at an outside server this test still uses its own embedded one: it must stop it.
    own = await startOutboxDatabase('outbox-db-');
    ({ server, client } = own);
    const db = client.db('outbox_test');
    const store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
    const desk = createTicketService(store, { log: silent });

    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => desk.file(deliveryDemand(i))));
    expect(before.every((r) => r.stored === 'database')).toBe(true);

    let during: Awaited<ReturnType<typeof desk.file>>[] = [];
    let numbers: string[] = [];
    await whileDatabaseDown({ server, db }, async () => {
      during = await Promise.all(Array.from({ length: 20 }, (_, i) => desk.file(deliveryDemand(100 + i))));
      expect(during.every((r) => r.stored === 'outbox')).toBe(true);
      // The customers still got numbers, all distinct.
      numbers = [...before, ...during].map((r) => r.ticket.number);
      expect(new Set(numbers).size).toBe(40);
      expect(store.outbox.stats.appended).toBe(20);
      expect(store.outbox.pending()).toBe(20);
    });
    const replay = await desk.flushOutbox();
    expect(replay).toEqual({ replayed: 20, duplicates: 0, remaining: 0, held: { attached: 0, filed: 0, cancelled: 0, duplicates: 0, remaining: 0 } });
    // Replaying again stores nothing twice.
    expect(await desk.flushOutbox()).toEqual({ replayed: 0, duplicates: 0, remaining: 0, held: { attached: 0, filed: 0, cancelled: 0, duplicates: 0, remaining: 0 } });

    const stored = await db.collection('tickets').find({}, { projection: { number: 1 } }).toArray();
    expect(stored).toHaveLength(40);
    expect(new Set(stored.map((d) => d.number))).toEqual(new Set(numbers));
    // Replayed tickets keep their dates and count as customer contacts.
    const t = await store.tickets.get(during[0].ticket.number);
    expect(t!.createdAt).toBeInstanceOf(Date);
    // The read models follow the replay in the background; right after an outage a write of theirs
    // can pause for the database (a read does not wait out such a pause), so wait for it.
    await vi.waitFor(async () => expect(await store.customers.get({ channelId: 'webchat', userId: 'user100' })).toMatchObject({ total: 1 }), { timeout: 60_000, interval: 200 });
  });

  it('a record replayed after it was already stored is skipped, not duplicated', async () => {
    const db = client!.db('outbox_test_dup');
    const store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
    const desk = createTicketService(store, { log: silent });
    const { ticket } = await desk.file(deliveryDemand(1));
    const doc = await db.collection('tickets').findOne({ number: ticket.number });
    await store.outbox.append(doc!);
    expect(await desk.flushOutbox()).toEqual({ replayed: 0, duplicates: 1, remaining: 0, held: { attached: 0, filed: 0, cancelled: 0, duplicates: 0, remaining: 0 } });
    expect(await db.collection('tickets').countDocuments({ number: ticket.number })).toBe(1);
  });

  it('a record whose number another ticket took meanwhile is stored under a new number, found by the number its customer was given', async () => {
    const db = client!.db('outbox_test_taken');
    const store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
    const desk = createTicketService(store, { log: silent });
    const first = (await desk.file(deliveryDemand(1))).ticket;
    // What a lost insert leaves behind: the next number, given to a customer and kept only in the outbox.
    const waiting = (await db.collection('tickets').findOne({ number: first.number }))!;
    const taken = first.number.replace(/\d{4}$/, (d) => String(Number(d) + 1).padStart(4, '0'));
    const early = { channelId: 'webchat', userId: 'early' };
    await store.outbox.append({ ...waiting, _id: taken, number: taken, daySeq: Number(taken.slice(-4)), customer: early, text: { original: '等了很久的包裹', normalized: '等了很久的包裹' }, createdAt: new Date(first.createdAt.getTime() + 1) });
    // This process (after a restart, say) gives the same number to the next customer.
    const second = (await desk.file(deliveryDemand(2))).ticket;
    expect(second.number).toBe(taken);

    expect(await desk.flushOutbox()).toMatchObject({ replayed: 1, duplicates: 0, remaining: 0 });
    const all = await db.collection('tickets').find({}).toArray();
    expect(all).toHaveLength(3);
    const moved = all.find((d) => d.customer.userId === 'early')!;
    expect(moved.number).not.toBe(taken);
    expect(moved.formerNumber).toBe(taken);
    expect(all.find((d) => d.number === taken)!.customer.userId).toBe('user2');

    // Each customer's number finds their own ticket, a stranger's finds nothing.
    expect((await desk.forCustomer(taken, early))!.number).toBe(moved.number);
    expect((await desk.forCustomer(taken.toLowerCase(), early))!.number).toBe(moved.number);
    expect((await desk.forCustomer(taken, { channelId: 'webchat', userId: 'user2' }))!.number).toBe(taken);
    expect(await desk.forCustomer(taken, { channelId: 'webchat', userId: 'stranger' })).toBeNull();
    // A follow-up quoting the old number lands on the customer's own ticket, not on the other one.
    const followed = await desk.addCustomerMessage(taken, '还没到', { customer: early });
    expect(followed.number).toBe(moved.number);
    expect((await store.tickets.get(moved.number))!.messages.map((m) => m.text)).toEqual(['还没到']);
    expect((await store.tickets.get(taken))!.messages).toEqual([]);
    await expect(desk.addCustomerMessage(taken, '我也要', { customer: { channelId: 'webchat', userId: 'stranger' } })).rejects.toThrow(/not found/);
    // The replayed ticket counts for its customer.
    await store.tickets.settled();
    expect(await store.customers.get(early)).toMatchObject({ total: 1 });
    // Staff searching the number a customer quotes find both tickets: the one holding it, and the
    // one its customer was given it for (who would otherwise be answered on the other one); newest first.
    expect((await store.tickets.list({ search: taken.toLowerCase() })).items.map((t) => t.number)).toEqual([moved.number, taken]);
    expect((await store.tickets.list({ search: moved.number })).items.map((t) => t.number)).toEqual([moved.number]);
  });

  it("a customer's turn replays only that customer's tickets from the outbox; everybody else's wait for the background replay", async () => {
    const db = client!.db('outbox_test_turn');
    const store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
    const desk = createTicketService(store, { log: silent });
    await desk.file(deliveryDemand(0));
    let waiting: Awaited<ReturnType<typeof desk.file>>[] = [];
    await whileDatabaseDown({ server, db }, async () => {
      // Twelve customers' tickets, then a second one of the sixth customer's (user205).
      waiting = await Promise.all(Array.from({ length: 12 }, (_, i) => desk.file(deliveryDemand(200 + i))));
      waiting.push(await desk.file(deliveryDemand(205)));
    });
    expect(waiting.every((r) => r.stored === 'outbox')).toBe(true);

    const me = { channelId: 'webchat', userId: 'user205' };
    expect(await desk.filedFor(waiting[5].ticket.number, me)).toMatchObject({ number: waiting[5].ticket.number, customer: me });
    // Replayed: both of this customer's tickets, nobody else's (they still wait, in their order).
    const stored = await db.collection('tickets').find({}, { projection: { 'customer.userId': 1 } }).toArray();
    expect(stored.map((d) => d.customer.userId).sort()).toEqual(['user0', 'user205', 'user205']);
    const others = waiting.slice(0, 12).filter((_, i) => i !== 5);
    expect(store.outbox.find(() => true).map((d) => d.number)).toEqual(others.map((r) => r.ticket.number));
    // The background replay stores the rest, once each.
    expect(await desk.flushOutbox()).toMatchObject({ replayed: 11, duplicates: 0, remaining: 0 });
    expect(await db.collection('tickets').countDocuments({})).toBe(14);
  });
});
