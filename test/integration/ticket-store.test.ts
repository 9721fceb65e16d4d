import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoBotStorage } from '../../store/bot-state-storage.js';
import { ConflictError, NotFoundError, ValidationError } from '../../store/errors.js';
import { createTicketService } from '../../desk/services.js';
import type { TicketService } from '../../desk/tickets.js';
import { createStore, type Store } from '../../store/index.js';
import type { TicketCreate } from '../../store/schemas.js';
import { createClient } from '../../store/database.js';

const TOPICS = ['delivery', 'quality', 'returns', 'billing', 'account', 'aftersales', 'service', 'technical', 'marketing', 'privacy', 'product'];
const silent = { info() {}, warn() {}, error() {} };

let client: MongoClient;
let db: Db;
let store: Store;
let desk: TicketService;
let clock = new Date('2026-11-25T02:00:00Z');

function ticketInput(over: Partial<{ topic: string | null; type: string | null; channelId: string; userId: string; text: string; needsReview: boolean; spam: boolean }> = {}): TicketCreate {
  return {
    customer: { channelId: over.channelId ?? 'webchat', userId: over.userId ?? 'u1' },
    conversationRef: JSON.stringify({ channelId: over.channelId ?? 'webchat', serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'c1' } }),
    text: { original: over.text ?? '快递三天没到', normalized: over.text ?? '快递三天没到' },
    classification: {
      lang: 'zh-Hans',
      topic: over.topic === undefined ? 'delivery' : over.topic,
      type: (over.type === undefined ? 'complaint' : over.type) as 'complaint',
      spam: over.spam ?? false,
      confidence: 0.9,
      alternatives: [{ topic: 'delivery', score: 0.9 }],
      keywords: [{ term: '快递', topic: 'delivery', weight: 2 }],
      modelVersion: 'test',
      needsReview: over.needsReview ?? false,
      reviewReason: null,
    },
  };
}

beforeAll(async () => {
  client = createClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`t_${randomUUID().slice(0, 8)}`);
  store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent, now: () => clock });
  desk = createTicketService(store, { log: silent, now: () => clock });
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

describe('tickets: create, read, update', () => {
  it('creates a ticket with a customer-friendly number, acknowledged by the database', async () => {
    const { ticket, stored } = await desk.file(ticketInput());
    expect(stored).toBe('database');
    expect(ticket.number).toMatch(/^T20261125-\d{4}$/);
    const read = await store.tickets.get(ticket.number);
    expect(read).toMatchObject({ number: ticket.number, status: 'new', topic: 'delivery', version: 1, createdDay: '2026-11-25' });
    expect(read).not.toHaveProperty('_id');
  });

  it('changes status along the life cycle and refuses invalid transitions', async () => {
    const { ticket } = await desk.file(ticketInput());
    const t1 = await store.tickets.update(ticket.number, { status: 'in_progress', assignee: 'alice' });
    expect(t1).toMatchObject({ status: 'in_progress', assignee: 'alice', version: 2 });
    const t2 = await store.tickets.update(ticket.number, { status: 'resolved' });
    expect(t2.resolvedAt).toBeInstanceOf(Date);
    await expect(store.tickets.update(ticket.number, { status: 'new' })).rejects.toThrow(ValidationError);
    const t3 = await store.tickets.update(ticket.number, { status: 'reopened' });
    expect(t3.status).toBe('reopened');
  });

  it('unknown tickets are NotFound', async () => {
    await expect(store.tickets.update('T20261125-9999', { priority: 'high' })).rejects.toThrow(NotFoundError);
    expect(await store.tickets.get('T20261125-9998')).toBeNull();
  });

  it('keeps notes append-only and customer messages, and never loses concurrent notes', async () => {
    const { ticket } = await desk.file(ticketInput());
    // FerretDB loses concurrent $push updates on its own; the store's claims must keep all 30.
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.tickets.addNote(ticket.number, { author: `agent${i}`, text: `note ${i}` })));
    await store.tickets.addCustomerMessage(ticket.number, '补充：单号是 SF****1234');
    const t = await store.tickets.get(ticket.number);
    expect(t!.notes).toHaveLength(30);
    expect(new Set(t!.notes.map((n) => n.text)).size).toBe(30);
    expect(t!.messages[0].text).toContain('补充');
    expect(t!.version).toBe(32);
  });

  it('two staff editing at once: the stale edit gets a conflict, nothing is overwritten silently', async () => {
    const { ticket } = await desk.file(ticketInput());
    const results = await Promise.allSettled([
      store.tickets.update(ticket.number, { priority: 'high' }, { expectedVersion: 1 }),
      store.tickets.update(ticket.number, { assignee: 'bob' }, { expectedVersion: 1 }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    // Without a version both changes land, each applied on top of the other.
    const { ticket: t2 } = await desk.file(ticketInput());
    await Promise.all([store.tickets.update(t2.number, { priority: 'urgent' }), store.tickets.update(t2.number, { assignee: 'carol' })]);
    expect(await store.tickets.get(t2.number)).toMatchObject({ priority: 'urgent', assignee: 'carol', version: 3 });
  });

  it('a correction is recorded on the ticket and becomes a training example', async () => {
    const { ticket } = await desk.file(ticketInput({ text: '东西刚到就坏了', needsReview: true }));
    const r = await desk.correct(ticket.number, { field: 'topic', to: 'quality' }, 'alice');
    expect(r.ticket).toMatchObject({ topic: 'quality', needsReview: false });
    expect(r.ticket.corrections).toEqual([expect.objectContaining({ field: 'topic', from: 'delivery', to: 'quality', by: 'alice' })]);
    const examples = await store.training.all();
    expect(examples.find((e) => e.ticketNumber === ticket.number)).toMatchObject({ text: '东西刚到就坏了', topic: 'quality', type: 'complaint' });
    await expect(desk.correct(ticket.number, { field: 'topic', to: 'weather' }, 'alice')).rejects.toThrow(ValidationError);
  });
});

describe('validation and injection', () => {
  it.each([
    ['an unknown field', { ...ticketInput(), extra: 1 }],
    ['a $-prefixed key', { ...ticketInput(), customer: { channelId: 'webchat', userId: 'u', $where: '1' } }],
    ['a dotted key', { ...ticketInput(), contact: { 'phone.x': '1' } }],
    ['a wrong type', { ...ticketInput(), priority: 5 }],
    ['an unknown topic', ticketInput({ topic: 'weather' })],
    ['oversized text', ticketInput({ text: '长'.repeat(10_001) })],
    ['a channel id with an operator', { ...ticketInput(), customer: { channelId: '$gt', userId: 'u' } }],
  ])('rejects %s with a clear error', async (_, input) => {
    await expect(desk.file(input as TicketCreate)).rejects.toThrow(ValidationError);
  });

  it('rejects operators in query parameters and escapes search text', async () => {
    await expect(store.tickets.list({ status: { $ne: null } } as never)).rejects.toThrow(ValidationError);
    await expect(store.tickets.list({ assignee: { $gt: '' } } as never)).rejects.toThrow(ValidationError);
    await desk.file(ticketInput({ text: '价格写着 9.9 实际扣了 99 (.*)' }));
    const literal = await store.tickets.list({ search: '(.*)' });
    expect(literal.items.length).toBeGreaterThanOrEqual(1);
    expect(literal.items.every((t) => t.text.original.includes('(.*)'))).toBe(true);
  });
});

describe('filters, pagination and statistics', () => {
  let s2: Store;
  let db2: Db;
  beforeAll(async () => {
    db2 = client.db(`t_${randomUUID().slice(0, 8)}`);
    let day = new Date('2026-11-20T03:00:00Z');
    s2 = await createStore({ db: db2, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 't.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent, now: () => day });
    // 3 days × 10 tickets: topics cycle over 3, channels over 2, every 5th needs review.
    for (let d = 0; d < 3; d++) {
      day = new Date(Date.UTC(2026, 10, 20 + d, 3));
      for (let i = 0; i < 10; i++) {
        await createTicketService(s2, { log: silent }).file(ticketInput({ topic: TOPICS[i % 3], type: i % 2 ? 'inquiry' : 'complaint', channelId: i % 2 ? 'msteams' : 'webchat', userId: `u${i}`, needsReview: i % 5 === 0 }));
      }
    }
  });
  afterAll(async () => {
    await db2.dropDatabase().catch(() => undefined);
  });

  it('filters by topic, channel, review flag and date range', async () => {
    expect((await s2.tickets.list({ topic: 'quality' })).total).toBe(9);
    expect((await s2.tickets.list({ channelId: 'msteams' })).total).toBe(15);
    expect((await s2.tickets.list({ needsReview: 'true' as never })).total).toBe(6);
    expect((await s2.tickets.list({ needsReview: false })).total).toBe(24);
    expect((await s2.tickets.list({ from: '2026-11-21', to: '2026-11-21' })).total).toBe(10);
    expect((await s2.tickets.list({ customerUserId: 'u3', topic: 'delivery' })).total).toBe(3);
  });

  it('paginates in a stable order', async () => {
    const p1 = await s2.tickets.list({ pageSize: 12, page: 1, sort: 'createdAt' });
    const p3 = await s2.tickets.list({ pageSize: 12, page: 3, sort: 'createdAt' });
    expect(p1.items).toHaveLength(12);
    expect(p3.items).toHaveLength(6);
    expect(p1.total).toBe(30);
    expect(p1.items[0].number).toBe('T20261120-0001');
    expect(p3.items[5].number).toBe('T20261122-0010');
    const all = [...p1.items, ...(await s2.tickets.list({ pageSize: 12, page: 2, sort: 'createdAt' })).items, ...p3.items].map((t) => t.number);
    expect(new Set(all).size).toBe(30);
  });

  it('counts per day by topic, type, channel and status', async () => {
    const range = { from: '2026-11-20', to: '2026-11-22' };
    const byTopic = await s2.tickets.countsPerDay('topic', range);
    expect(byTopic.filter((r) => r.day === '2026-11-20')).toEqual([
      { day: '2026-11-20', key: 'delivery', count: 4 },
      { day: '2026-11-20', key: 'quality', count: 3 },
      { day: '2026-11-20', key: 'returns', count: 3 },
    ]);
    const byType = await s2.tickets.countsPerDay('type', range);
    expect(byType.filter((r) => r.key === 'inquiry').map((r) => r.count)).toEqual([5, 5, 5]);
    const byChannel = await s2.tickets.countsPerDay('channel', { from: '2026-11-22', to: '2026-11-22' });
    expect(byChannel).toEqual([
      { day: '2026-11-22', key: 'msteams', count: 5 },
      { day: '2026-11-22', key: 'webchat', count: 5 },
    ]);
    const byStatus = await s2.tickets.countsPerDay('status', range);
    expect(byStatus.reduce((n, r) => n + r.count, 0)).toBe(30);
  });

  it('counts each customer per channel, topic and type', async () => {
    const c = await s2.customers.get({ channelId: 'msteams', userId: 'u3' });
    expect(c).toMatchObject({ total: 3, counts: { channel: { msteams: 3 }, topic: { delivery: 3 }, type: { inquiry: 3 } } });
    expect(c!.firstContactAt!.toISOString()).toBe('2026-11-20T03:00:00.000Z');
    expect(c!.lastContactAt!.toISOString()).toBe('2026-11-22T03:00:00.000Z');
  });
});

describe('ticket numbers', () => {
  it('stay unique under 200 concurrent creations', async () => {
    clock = new Date('2026-11-26T01:00:00Z');
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => desk.file(ticketInput({ userId: `c${i}` }))));
    const numbers = results.map((r) => r.ticket.number);
    expect(new Set(numbers).size).toBe(200);
    expect(results.every((r) => r.stored === 'database')).toBe(true);
    expect((await store.tickets.list({ from: '2026-11-26', to: '2026-11-26', pageSize: 1 })).total).toBe(200);
    expect(numbers.sort().at(-1)).toBe('T20261126-0200');
  });
});

describe('ticket numbers across processes', () => {
  it('two stores on one database (two bot processes) never hand out the same number', async () => {
    clock = new Date('2026-11-27T01:00:00Z');
    const other = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'o.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent, now: () => clock });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? desk : createTicketService(other, { log: silent })).file(ticketInput({ userId: `p${i}` }))));
    expect(new Set(results.map((r) => r.ticket.number)).size).toBe(200);
    // The other store's read-model updates run off its writers' path: counted once stored.
    await other.tickets.settled();
    expect((await store.tickets.list({ from: '2026-11-27', to: '2026-11-27', pageSize: 1 })).total).toBe(200);
  });
});

describe('bot state storage (botbuilder Storage with eTags)', () => {
  it('reads what was written, with an eTag', async () => {
    await store.botState.write({ 'webchat/conversations/c1': { dialogStack: [{ id: 'main', state: { $weird: 1, 'a.b': 2 } }] } });
    const items = await store.botState.read(['webchat/conversations/c1', 'missing']);
    expect(items['webchat/conversations/c1'].dialogStack[0].state).toEqual({ $weird: 1, 'a.b': 2 });
    expect(typeof items['webchat/conversations/c1'].eTag).toBe('string');
    expect(items.missing).toBeUndefined();
  });

  it('lets exactly one of two concurrent writers with the same eTag win', async () => {
    await store.botState.write({ k: { n: 0 } });
    const { k } = await store.botState.read(['k']);
    const results = await Promise.allSettled([store.botState.write({ k: { n: 1, eTag: k.eTag } }), store.botState.write({ k: { n: 2, eTag: k.eTag } })]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.message).toMatch(/eTag conflict/);
    // '*' always writes.
    await store.botState.write({ k: { n: 3, eTag: '*' } });
    expect((await store.botState.read(['k'])).k.n).toBe(3);
  });

  it('unconditional concurrent writes all succeed, one after another', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.botState.write({ many: { n: i } })));
    const { many } = await store.botState.read(['many']);
    expect(many.n).toBeGreaterThanOrEqual(0);
    expect(many.n).toBeLessThan(10);
  });

  it('deletes', async () => {
    await store.botState.write({ gone: { x: 1 } });
    await store.botState.delete(['gone']);
    expect(await store.botState.read(['gone'])).toEqual({});
  });

  it('sees another process\'s writes on every read, and refuses a stale conditional write', async () => {
    const mine = new MongoBotStorage(db, 'botStateShared');
    const other = new MongoBotStorage(db, 'botStateShared');
    await mine.write({ 'webchat/conversations/a/': { n: 1 } });
    const first = await mine.read(['webchat/conversations/a/']);
    await other.write({ 'webchat/conversations/a/': { n: 2, eTag: '*' } });
    const seen = await mine.read(['webchat/conversations/a/']);
    expect(seen['webchat/conversations/a/'].n).toBe(2);
    // The unique revision id guards the write: a conditional write from the stale read is refused.
    await expect(mine.write({ 'webchat/conversations/a/': { n: 3, eTag: first['webchat/conversations/a/'].eTag } })).rejects.toThrow(/eTag conflict/);
  });

  it('expires state unused for the TTL: it reads as absent, can be written afresh, and is swept', async () => {
    // The waits go past the TTL by the clock, so load only lengthens them. What must stay inside
    // the TTL is a write and the read or sweep right after it (a few database round trips): 3 s
    // leaves a loaded machine far more room for that than the 1 s it was.
    const ttl = new MongoBotStorage(db, 'botStateTtl', { ttlMs: 3000 });
    await ttl.write({ old: { n: 1 }, fresh: { n: 1 } });
    await new Promise((r) => setTimeout(r, 3300));
    await ttl.write({ fresh: { n: 2, eTag: '*' } });
    expect(await ttl.read(['old', 'fresh'])).toEqual({ fresh: expect.objectContaining({ n: 2 }) });
    // A conditional write carrying an eTag read before expiry does not resurrect a conflict loop.
    await ttl.write({ old: { n: 5 } });
    expect((await ttl.read(['old'])).old.n).toBe(5);
    await new Promise((r) => setTimeout(r, 3300));
    await ttl.write({ fresh: { n: 3, eTag: '*' } });
    expect(await ttl.sweepExpired()).toBe(1); // "old" (its newest revision expired); "fresh" stays
    const left = await db.collection('botStateTtl').find({}).toArray();
    expect(left.map((d) => String(d._id)).filter((id) => id.startsWith('old#'))).toEqual([]);
    // The sweep left "fresh" in place (read without a TTL: the check must not depend on timing).
    expect((await new MongoBotStorage(db, 'botStateTtl').read(['fresh'])).fresh.n).toBe(3);
  });
});

describe('model registry', () => {
  it('stores versions with artifacts, activates one, refuses duplicates', async () => {
    const base = { createdAt: new Date(), trainedBy: 'trainer', metrics: { accuracy: 0.9 }, trainingDataHash: 'h', taxonomyVersion: '1.0.0', seed: 1 };
    await store.models.add({ ...base, version: 'v1' }, { formatVersion: 1, heads: {} });
    await store.models.add({ ...base, version: 'v2' }, { formatVersion: 1, heads: { topic: 1 } });
    await expect(store.models.add({ ...base, version: 'v1' }, {})).rejects.toThrow(ConflictError);
    expect(await store.models.activeVersion()).toBeNull();
    await store.models.activate('v1', 'alice');
    await store.models.activate('v2', 'bob');
    expect(await store.models.activeVersion()).toBe('v2');
    const list = await store.models.list();
    expect(list.filter((m) => m.active).map((m) => m.version)).toEqual(['v2']);
    expect(await store.models.artifact('v2')).toEqual({ formatVersion: 1, heads: { topic: 1 } });
    await expect(store.models.activate('v9', 'x')).rejects.toThrow(NotFoundError);
  });
});
