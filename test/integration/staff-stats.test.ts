/**
 * GET /api/stats and the customer routes over real HTTP, against tickets stored in the embedded
 * database through the real store: creation times, replies, resolutions and corrections are made
 * by the repository with a controlled clock, so every figure below is worked out by hand.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, CommandStartedEvent, Db } from 'mongodb';
import restify from 'restify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../runtime/config.js';
import { NodeRsJiebaTokenizer } from '../../runtime/jieba-tokenizer.js';
import { loadStopwords, loadUserDict } from '../../runtime/project-data.js';
import { ApiRouter, type Principal } from '../../staff/http.js';
import { registerCustomerRoutes } from '../../staff/routes/customers.js';
import { registerStatsRoutes } from '../../staff/routes/stats.js';
import { createTermExtractor } from '../../staff/terms.js';
import { createTicketService } from '../../desk/services.js';
import type { TicketService } from '../../desk/tickets.js';
import { createStore, type Store } from '../../store/index.js';
import type { TicketCreate } from '../../store/schemas.js';
import { TicketFactsReader } from '../../store/ticket-facts.js';
import { createClient } from '../../store/database.js';

const TOPICS = ['delivery', 'quality', 'returns', 'billing', 'account', 'aftersales', 'service', 'technical', 'marketing', 'privacy', 'product'];
const TOKEN = 'agent-token-0123456789';
const AGENT: Principal = { username: 'alice', role: 'agent', via: 'token', tokenId: 'tok1' };
/** "Now" for the API: 12:00 on 2026-11-25 in Shanghai. */
const NOW = new Date('2026-11-25T04:00:00Z');
const silent = { info() {}, warn() {}, error() {} };

let client: MongoClient;
let db: Db;
let store: Store;
let desk: TicketService;
let server: restify.Server;
let base: string;
let clock = new Date(0);
const numbers: Record<string, string> = {};
const commands: CommandStartedEvent[] = [];

interface Seed {
  at: string;
  channelId: string;
  userId: string;
  text: string;
  topic?: string | null;
  type?: 'complaint' | 'suggestion' | 'inquiry' | 'praise' | null;
  phone?: string;
  email?: string;
  spam?: boolean;
  review?: boolean;
}

function input(s: Seed): TicketCreate {
  return {
    customer: { channelId: s.channelId, userId: s.userId },
    conversationRef: null,
    contact: { ...(s.phone ? { phone: s.phone } : {}), ...(s.email ? { email: s.email } : {}) },
    text: { original: s.text, normalized: s.text },
    classification: {
      lang: 'zh-Hans',
      topic: s.topic === undefined ? 'delivery' : s.topic,
      type: s.type === undefined ? 'complaint' : s.type,
      spam: s.spam ?? false,
      confidence: 0.9,
      alternatives: [],
      keywords: [],
      modelVersion: 'test',
      needsReview: s.review ?? false,
      reviewReason: s.review ? 'low-confidence' : null,
    },
  };
}

async function create(label: string, s: Seed): Promise<string> {
  clock = new Date(s.at);
  const { ticket, stored } = await desk.file(input(s));
  expect(stored).toBe('database');
  numbers[label] = ticket.number;
  return ticket.number;
}

/** Staff actions at `minutes` after the ticket's creation time `at`. */
async function replyAt(label: string, at: string, minutes: number) {
  clock = new Date(Date.parse(at) + minutes * 60_000);
  await store.tickets.recordReply(numbers[label], { text: '您好，我们在处理', by: 'alice', delivered: true, error: null });
}
async function resolveAt(label: string, at: string, minutes: number) {
  clock = new Date(Date.parse(at) + minutes * 60_000);
  await store.tickets.update(numbers[label], { status: 'resolved' });
}

async function get(path: string, token: string | null = TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  client = createClient(inject('mongoUri'), { monitorCommands: true });
  client.on('commandStarted', (e) => commands.push(e));
  await client.connect();
  db = client.db(`stats_${randomUUID().slice(0, 8)}`);
  store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'stats-outbox-')), 't.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent, now: () => clock });
  desk = createTicketService(store, { log: silent, now: () => clock });

  // The 28 days before the emerging-terms week (10-22 … 11-18): 快递 8 times, 退款 4 times, all
  // from one long-standing webchat customer; 发票 once on 10-21, just outside the window.
  const old = { channelId: 'webchat', userId: 'old', topic: 'delivery' as const };
  for (let i = 0; i < 4; i++) await create(`old-lost-${i}`, { ...old, at: `2026-10-2${2 + i}T03:00:00Z`, text: '快递丢件了' });
  for (let i = 0; i < 4; i++) await create(`old-slow-${i}`, { ...old, at: `2026-11-0${5 + i}T03:00:00Z`, text: '快递太慢' });
  for (let i = 0; i < 4; i++) await create(`old-refund-${i}`, { ...old, at: `2026-11-0${1 + i}T03:00:00Z`, text: '退款流程太复杂', topic: 'billing' });
  await create('old-invoice', { ...old, at: '2026-10-21T03:00:00Z', text: '发票丢了', topic: 'billing' });

  // The range queried below, 11-16 … 11-25 (Shanghai days).
  await create('T6', { at: '2026-11-16T03:00:00Z', channelId: 'msteams', userId: 'm2', text: '屏幕碎了要求换货', topic: 'quality', email: 'Zhang@Example.com' });
  await create('T7', { at: '2026-11-17T03:00:00Z', channelId: 'webchat', userId: 'u4', text: '换货要多久', topic: 'quality', type: 'inquiry', email: 'zhang@example.com' });
  await create('T10', { at: '2026-11-21T03:00:00Z', channelId: 'webchat', userId: 'u5', text: '退款被拒绝', topic: 'billing' });
  // 00:30 on Monday 11-23 in Shanghai, still Sunday in UTC: it belongs to 11-23.
  await create('T5', { at: '2026-11-22T16:30:00Z', channelId: 'telegram', userId: 't1', text: '加微信领红包', topic: null, type: null, spam: true });
  await create('T1', { at: '2026-11-23T01:00:00Z', channelId: 'webchat', userId: 'u1', text: '快递三天没到', phone: '13800138000' });
  await replyAt('T1', '2026-11-23T01:00:00Z', 30);
  await resolveAt('T1', '2026-11-23T01:00:00Z', 120);
  // A Teams-style user id: ':' and '/' are encoded in the customer id, which is encoded again in the URL.
  await create('T2', { at: '2026-11-23T02:00:00Z', channelId: 'msteams', userId: '29:m1/x', text: '快递什么时候到', type: 'inquiry', phone: '+86 138 0013 8000' });
  await replyAt('T2', '2026-11-23T02:00:00Z', 10);
  await create('T3', { at: '2026-11-24T03:00:00Z', channelId: 'webchat', userId: 'u2', text: '发票开错了', topic: 'billing', review: true });
  await replyAt('T3', '2026-11-24T03:00:00Z', 60);
  await resolveAt('T3', '2026-11-24T03:00:00Z', 300);
  await create('T4', { at: '2026-11-24T03:30:00Z', channelId: 'webchat', userId: 'u3', text: '退款太慢 建议加快退款', topic: 'returns', type: 'suggestion', review: true });
  await replyAt('T4', '2026-11-24T03:30:00Z', 20);
  clock = new Date('2026-11-24T05:00:00Z');
  await desk.correct(numbers.T4, { field: 'topic', to: 'billing' }, 'alice');
  await create('T8', { at: '2026-11-25T01:00:00Z', channelId: 'directline', userId: 'd1', text: '发票抬头错了', topic: 'billing', type: 'inquiry' });
  await create('T9', { at: '2026-11-25T02:00:00Z', channelId: 'webchat', userId: 'u1', text: '退款没到账', topic: 'billing' });

  const config = loadConfig({});
  server = restify.createServer();
  server.use(restify.plugins.queryParser());
  const router = new ApiRouter(server, { authenticate: async (token) => (token === TOKEN ? AGENT : null) });
  const facts = new TicketFactsReader(db);
  const deps = {
    config,
    counters: store.counters,
    customers: store.customers,
    terms: createTermExtractor(new NodeRsJiebaTokenizer(loadUserDict(config.DATA_DIR)), loadStopwords(config.DATA_DIR)),
    facts,
    now: () => NOW,
  };
  registerStatsRoutes(router, deps);
  registerCustomerRoutes(router, deps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.close();
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

describe('GET /api/stats', () => {
  it('counts a range per week: totals, review rate, series, matrix and medians', async () => {
    const { status, body } = await get('/api/stats?from=2026-11-16&to=2026-11-25&granularity=week');
    expect(status).toBe(200);
    expect(body).toMatchObject({ from: '2026-11-16', to: '2026-11-25', granularity: 'week', periods: ['2026-11-16', '2026-11-23'] });
    // 10 tickets; T3 still waits for review, T4 was flagged and corrected: 2 of 10 flagged.
    expect(body.totals).toEqual({ tickets: 10, needsReview: 1, flaggedForReview: 2, reviewRate: 0.2, spam: 1, corrected: 1 });
    expect(body.series.topic).toEqual([
      { period: '2026-11-16', key: 'billing', count: 1 },
      { period: '2026-11-16', key: 'quality', count: 2 },
      { period: '2026-11-23', key: 'billing', count: 4 },
      { period: '2026-11-23', key: 'delivery', count: 2 },
      { period: '2026-11-23', key: null, count: 1 },
    ]);
    expect(body.series.type).toEqual([
      { period: '2026-11-16', key: 'complaint', count: 2 },
      { period: '2026-11-16', key: 'inquiry', count: 1 },
      { period: '2026-11-23', key: 'complaint', count: 3 },
      { period: '2026-11-23', key: 'inquiry', count: 2 },
      { period: '2026-11-23', key: 'suggestion', count: 1 },
      { period: '2026-11-23', key: null, count: 1 },
    ]);
    expect(body.series.channel).toEqual([
      { period: '2026-11-16', key: 'msteams', count: 1 },
      { period: '2026-11-16', key: 'webchat', count: 2 },
      { period: '2026-11-23', key: 'directline', count: 1 },
      { period: '2026-11-23', key: 'msteams', count: 1 },
      { period: '2026-11-23', key: 'telegram', count: 1 },
      { period: '2026-11-23', key: 'webchat', count: 4 },
    ]);
    expect(body.series.status).toEqual([
      { period: '2026-11-16', key: 'new', count: 3 },
      { period: '2026-11-23', key: 'new', count: 5 },
      { period: '2026-11-23', key: 'resolved', count: 2 },
    ]);
    expect(body.matrix).toEqual([
      { topic: 'billing', type: 'complaint', count: 3 },
      { topic: 'billing', type: 'inquiry', count: 1 },
      { topic: 'billing', type: 'suggestion', count: 1 },
      { topic: 'delivery', type: 'complaint', count: 1 },
      { topic: 'delivery', type: 'inquiry', count: 1 },
      { topic: 'quality', type: 'complaint', count: 1 },
      { topic: 'quality', type: 'inquiry', count: 1 },
      { topic: null, type: null, count: 1 },
    ]);
    // First responses 30, 10, 60, 20 min → (20 + 30) / 2; resolutions 120, 300 min → 210.
    expect(body.medians).toEqual({ firstResponseMinutes: 25, resolutionMinutes: 210, firstResponseCount: 4, resolutionCount: 2 });
  });

  it('finds the terms rising this week against the four weeks before', async () => {
    const { body } = await get('/api/stats?from=2026-11-16&to=2026-11-25&granularity=week');
    expect(body.emergingWindow).toEqual({ thisWeek: { from: '2026-11-19', to: '2026-11-25' }, before: { from: '2026-10-22', to: '2026-11-18' } });
    // 发票: 2 this week, none in the window before (10-21 is outside) → 3.
    // 退款: 3 tickets this week (T4 says it twice), 4 before → (3 + 1) / (1 + 1) = 2.
    // 快递: 2 this week, 8 before → 3 / 3 = 1, steady: not listed.
    expect(body.emerging).toEqual([
      { term: '发票', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: '退款', thisWeek: 3, weeklyAverageBefore: 1, growth: 2 },
    ]);
  });

  it("a year's statistics read only the weeks of texts the emerging terms need", async () => {
    await store.tickets.settled(); // count only this read's commands, not a late read-model update's
    commands.length = 0;
    const { body } = await get('/api/stats?from=2025-11-26&to=2026-11-25&granularity=week');
    expect(body.emerging).toEqual([
      { term: '发票', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: '退款', thisWeek: 3, weeklyAverageBefore: 1, growth: 2 },
    ]);
    // The five weeks of the windows (10-22 … 11-25: six week documents at most), not the year's 53.
    const weekIds = commands
      .filter((e) => e.commandName === 'find' && e.command.find === 'statsWeekTexts')
      .flatMap((e) => {
        const id = e.command.filter?._id;
        return typeof id === 'string' ? [id] : ((id?.$in as string[]) ?? ['(scan)']);
      });
    expect(weekIds.length).toBeGreaterThan(0);
    expect(weekIds.length).toBeLessThanOrEqual(6);
    expect(weekIds.every((w) => w >= '2026-10-15')).toBe(true);
  });

  it('counts per day in the service time zone and defaults to the 30 days ending today', async () => {
    const day = await get('/api/stats?from=2026-11-23&to=2026-11-23');
    expect(day.body.granularity).toBe('day');
    // The spam ticket created at 16:30 UTC on 11-22 is an 11-23 ticket in Shanghai.
    expect(day.body.series.channel).toEqual([
      { period: '2026-11-23', key: 'msteams', count: 1 },
      { period: '2026-11-23', key: 'telegram', count: 1 },
      { period: '2026-11-23', key: 'webchat', count: 1 },
    ]);
    const defaults = await get('/api/stats');
    expect(defaults.status).toBe(200);
    expect(defaults.body).toMatchObject({ from: '2026-10-27', to: '2026-11-25', granularity: 'day' });
    expect(defaults.body.periods).toHaveLength(30);
    // The old customer's 8 tickets of 11-01 … 11-08 (those of 10-21 … 10-25 are before the range), and the 10 above.
    expect(defaults.body.totals.tickets).toBe(18);
  });

  it('rejects bad ranges and unknown parameters with a 400 naming the field, and callers without a token', async () => {
    const reversed = await get('/api/stats?from=2026-11-25&to=2026-11-01');
    expect(reversed.status).toBe(400);
    expect(reversed.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ field: 'query.from' }] });
    const tooLong = await get('/api/stats?from=2025-11-24&to=2026-11-25');
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details[0]).toMatchObject({ field: 'query.from', message: expect.stringContaining('366') });
    // 366 days (2025-11-25 … 2026-11-25) is allowed.
    expect((await get('/api/stats?from=2025-11-25&to=2026-11-25')).status).toBe(200);
    const notADay = await get('/api/stats?to=2026-02-29');
    expect(notADay.status).toBe(400);
    expect(notADay.body.error.details[0].field).toBe('query.to');
    const unknown = await get('/api/stats?granularity=month&limit=5');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual(['query', 'query.granularity']);
    expect((await get('/api/stats', null)).status).toBe(401);
  });
});

describe('customers', () => {
  /** The linked customer of webchat u1 and Teams user 29:m1/x: the smaller of the two identities' ids. */
  const M1 = 'msteams:29%3Am1%2Fx';

  it('lists customers linked across channels, most recent contact first, and searches them', async () => {
    const { status, body } = await get('/api/customers?pageSize=3');
    expect(status).toBe(200);
    // u1 (webchat) and 29:m1/x (msteams) share a phone; m2 and u4 share an e-mail; the spam sender is no customer.
    expect(body).toMatchObject({ total: 7, page: 1, pageSize: 3 });
    expect(body.items.map((c: { id: string }) => c.id)).toEqual([M1, 'directline:d1', 'webchat:u3']);
    expect(body.items[0]).toEqual({
      id: M1,
      name: null,
      identities: [
        { channelId: 'msteams', userId: '29:m1/x' },
        { channelId: 'webchat', userId: 'u1' },
      ],
      phones: ['13800138000'],
      emails: [],
      tickets: 3,
      lastContactAt: '2026-11-25T02:00:00.000Z',
    });
    const page3 = await get('/api/customers?pageSize=3&page=3');
    expect(page3.body.items.map((c: { id: string }) => c.id)).toEqual(['webchat:old']);
    const search = await get(`/api/customers?search=${encodeURIComponent('ZHANG@')}`);
    expect(search.body.items.map((c: { id: string; emails: string[] }) => [c.id, c.emails])).toEqual([['msteams:m2', ['zhang@example.com']]]);
    expect((await get('/api/customers?sort=name')).status).toBe(400);
  });

  it("returns a profile by any of the customer's identities, with channel shares, bands and tickets", async () => {
    const { status, body } = await get(`/api/customers/${encodeURIComponent('webchat:u1')}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: M1, total: 3, firstContactAt: '2026-11-23T01:00:00.000Z', lastContactAt: '2026-11-25T02:00:00.000Z' });
    expect(body.channels).toEqual([
      { channelId: 'webchat', contacts: 2, share: 2 / 3, band: 4, bandLabel: { zh: '较依赖', en: 'fairly reliant' } },
      { channelId: 'msteams', contacts: 1, share: 1 / 3, band: 2, bandLabel: { zh: '偶尔接触', en: 'occasionally' } },
      { channelId: 'directline', contacts: 0, share: 0, band: 1, bandLabel: { zh: '基本不接触', en: 'hardly ever' } },
    ]);
    expect(body.tickets).toEqual([
      { number: numbers.T9, createdAt: '2026-11-25T02:00:00.000Z', channelId: 'webchat', topic: 'billing', type: 'complaint', status: 'new', text: '退款没到账' },
      { number: numbers.T2, createdAt: '2026-11-23T02:00:00.000Z', channelId: 'msteams', topic: 'delivery', type: 'inquiry', status: 'new', text: '快递什么时候到' },
      { number: numbers.T1, createdAt: '2026-11-23T01:00:00.000Z', channelId: 'webchat', topic: 'delivery', type: 'complaint', status: 'resolved', text: '快递三天没到' },
    ]);
    // The customer's own id, with its encoded characters, finds the same profile.
    const byId = await get(`/api/customers/${encodeURIComponent(M1)}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(body);
    const missing = await get(`/api/customers/${encodeURIComponent('telegram:t1')}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
  });

  it('gives the share of customers in each band per channel', async () => {
    const { status, body } = await get('/api/customers/channel-preferences');
    expect(status).toBe(200);
    expect(body.bands.map((b: { zh: string }) => b.zh)).toEqual(['基本不接触', '偶尔接触', '普通依赖', '较依赖', '依赖']);
    expect(body.totalCustomers).toBe(7);
    // 29:m1/x+u1: webchat 2/3 (4), msteams 1/3 (2). m2+u4: msteams 1/2, webchat 1/2 (3). d1: directline 1 (5).
    // u2, u3, u5, old: webchat 1 (5). Everyone else is band 1 on a channel they never used.
    expect(body.channels).toEqual([
      { channelId: 'directline', customers: 1, shares: [6 / 7, 0, 0, 0, 1 / 7] },
      { channelId: 'msteams', customers: 2, shares: [5 / 7, 1 / 7, 1 / 7, 0, 0] },
      { channelId: 'webchat', customers: 6, shares: [1 / 7, 0, 1 / 7, 1 / 7, 4 / 7] },
    ]);
  });

  it('reuses the linked directory while no customer changes, and sees a new customer at once', async () => {
    const first = await get('/api/customers?pageSize=50');
    await store.tickets.settled(); // count only this read's commands, not a late read-model update's
    commands.length = 0;
    const again = await get('/api/customers?pageSize=50');
    expect(again.body).toEqual(first.body);
    // No stored shard was read (FerretDB decodes a whole shard even for its version): the claims a
    // change of a shard would have taken were probed by _id, and the shards that did not exist
    // were looked up by _id alone (a test directory leaves some of the 16 empty).
    const directoryReads = commands.filter((e) => e.commandName === 'find' && e.command.find === 'customerDirectory');
    const stored = new Set((await db.collection('customerDirectory').find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id)));
    for (const e of directoryReads) for (const id of (e.command.filter as { _id: { $in: string[] } })._id.$in) expect(stored.has(id)).toBe(false);
    const probes = commands.filter((e) => e.commandName === 'find' && e.command.find === 'claims');
    expect(probes.length).toBeGreaterThan(0);
    for (const e of probes) expect(Object.keys(e.command.filter as object)).toEqual(['_id']);
    await create('NEW', { at: '2026-11-25T03:00:00Z', channelId: 'webchat', userId: 'newcomer', text: '第一次来问一下发票' });
    await store.tickets.settled();
    const after = await get('/api/customers?pageSize=50');
    expect(after.body.total).toBe(first.body.total + 1);
    expect(after.body.items.map((c: { id: string }) => c.id)).toContain('webchat:newcomer');
  });
});
