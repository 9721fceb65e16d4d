/**
 * The capacity warning over real HTTP: with a ceiling of 5 tickets, the server reports `ok`, then
 * `near` (from 80%), then `over`, in /readyz and in GET /api/capacity (admins only), with what to
 * do in Simplified Chinese, Traditional Chinese and English. The console's banner texts exist in
 * both console languages.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuthService } from '../../staff/auth.js';
import { capacityStatus, DEFAULT_EMBEDDED_TICKET_CEILING, effectiveCeiling, idLookupsIndexed, STOCK_FERRETDB_TICKET_CEILING } from '../../store/capacity.js';
import type { TicketCreate } from '../../store/schemas.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

const PASSWORD = 'capacity-Test-pw-1';
let A: RunningApp;
let admin: string;
let agent: string;

function ticket(i: number): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `cap-${i}` },
    conversationRef: null,
    text: { original: '快递三天没到', normalized: '快递三天没到' },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
  };
}

async function login(username: string): Promise<string> {
  const res = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function capacity(token: string) {
  const res = await fetch(`${A.url}/api/capacity`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { level: string; tickets: number; ceiling: number; message: Record<string, string> | null } };
}

async function readyz() {
  const res = await fetch(`${A.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { capacity: { level: string; tickets: number } } };
}

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { EMBEDDED_TICKET_CEILING: '5' });
  const auth = new AuthService(A.store.users, { sessionTtlMs: 3_600_000 });
  await auth.createUser({ username: 'boss', password: PASSWORD, role: 'admin', createdBy: 'test' });
  await auth.createUser({ username: 'ann', password: PASSWORD, role: 'agent', createdBy: 'test' });
  admin = await login('boss');
  agent = await login('ann');
});

afterAll(async () => {
  await A?.stop();
});

describe('capacity warning', () => {
  it('reports ok, near and over the ceiling in /readyz and to admins, in three languages', async () => {
    const ok = await capacity(admin);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ engine: 'embedded', tickets: 0, ceiling: 5, level: 'ok', message: null });
    expect((await readyz()).body.capacity).toMatchObject({ level: 'ok', tickets: 0 });

    for (let i = 0; i < 4; i++) await A.services.tickets.file(ticket(i));
    // The status is reused for a minute; a fresh monitor reads the counters now.
    (A.store.capacity as unknown as { cached: null }).cached = null;
    const near = await capacity(admin);
    expect(near.body).toMatchObject({ tickets: 4, level: 'near' });
    expect(near.body.message!['zh-Hans']).toContain('接近其容量上限');
    expect(near.body.message!['zh-Hant']).toContain('接近其容量上限');
    expect(near.body.message!['zh-Hant']).toContain('請盡快設定 MONGODB_URI');
    expect(near.body.message!.en).toContain('close to its capacity');

    await A.services.tickets.file(ticket(5));
    (A.store.capacity as unknown as { cached: null }).cached = null;
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.capacity).toMatchObject({ level: 'over', tickets: 5 });
    const over = await capacity(admin);
    expect(over.body.message!['zh-Hans']).toContain('超过其容量上限');
    expect(over.body.message!['zh-Hant']).toContain('超過其容量上限');
    expect(over.body.message!.en).toContain('beyond its capacity');

    expect((await capacity(agent)).status).toBe(403);
  });

  it('never warns with MongoDB (MONGODB_URI)', () => {
    expect(capacityStatus('mongodb', 10_000_000, 5)).toEqual({ engine: 'mongodb', tickets: 10_000_000, ceiling: null, level: 'ok', message: null });
  });

  it('has the console banner texts in Chinese and English', async () => {
    const { DICT } = (await import(pathToFileURL(join(import.meta.dirname, '../../staff/console/i18n.js')).href)) as { DICT: Record<string, Record<string, string>> };
    expect(DICT['zh-Hans']['capacity.over']).toContain('MONGODB_URI');
    expect(DICT['zh-Hans']['capacity.near']).toContain('{tickets}');
    expect(DICT.en['capacity.over']).toContain('{ceiling}');
    expect(DICT.en['capacity.near']).toContain('MONGODB_URI');
  });

  it('knows the engine answers _id lookups from the index (as built here), and lowers the ceiling on a stock FerretDB', async () => {
    expect(A.store.idLookupsIndexed).toBe(true);
    // A filter holding more than `_id`, on a collection with rows: the plan is an index search.
    await A.db.collection('capacityProbe').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: `p${i}`, version: 1 })) as never);
    expect(await idLookupsIndexed(A.db, 'capacityProbe')).toBe(true);
    expect(effectiveCeiling(DEFAULT_EMBEDDED_TICKET_CEILING, true)).toBe(DEFAULT_EMBEDDED_TICKET_CEILING);
    expect(effectiveCeiling(DEFAULT_EMBEDDED_TICKET_CEILING, false)).toBe(STOCK_FERRETDB_TICKET_CEILING);
    expect(effectiveCeiling(5, false)).toBe(5);
  });
});
