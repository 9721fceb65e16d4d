/**
 * A ticket logged by hand with a `requestId` (`POST /api/tickets`) is one ticket, however many
 * processes the same request reaches at the same instant: two app instances (each its own ticket
 * service, as two server processes behind a load balancer) on one database, over real HTTP, each
 * sent the same request at once. One files it, the other answers with that ticket
 * (`duplicate: true`); the database holds one ticket, one request note and one `ticket.file` entry.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Classification } from '../../classifier/demand-classifier.js';
import { hashPassword } from '../../staff/auth.js';
import { ValidationError } from '../../store/errors.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, any>;
const PASSWORD = 'one ticket per request';
let A: RunningApp;
let B: RunningApp;
const tokens = new Map<RunningApp, string>();

async function post(app: RunningApp, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${app.url}/api/tickets`, { method: 'POST', headers: { authorization: `Bearer ${tokens.get(app)}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Json };
}

beforeAll(async () => {
  const dbName = `requests_${randomUUID().slice(0, 8)}`;
  A = await startApp(inject('mongoUri'), { API_RATE_PER_MINUTE: '100000' }, { dbName });
  B = await startApp(inject('mongoUri'), { API_RATE_PER_MINUTE: '100000' }, { dbName });
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
});

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
});
