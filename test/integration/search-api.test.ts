/**
 * Staff search, keyset pagination and the archive CLI over real HTTP against the real (embedded)
 * database: what the console and API clients see.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TicketCreate } from '../../store/schemas.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { lastJson, runScript } from '../helpers/run.js';

type Json = Record<string, unknown>;
let A: RunningApp;
let token: string;
const PASSWORD = `pw-${randomUUID()}`;

function input(text: string, phone?: string): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `u-${randomUUID().slice(0, 6)}` },
    conversationRef: null,
    contact: phone ? { phone } : {},
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hant', topic: 'billing', type: 'complaint', spam: false, confidence: 0.8, alternatives: [], keywords: [], modelVersion: 'test', needsReview: false, reviewReason: null },
  };
}

async function get(path: string): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${A.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Json };
}

const numbers = (body: Json) => (body.items as { number: string }[]).map((t) => t.number);

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '1000' });
  await A.services.auth.createUser({ username: 'searcher', password: PASSWORD, role: 'admin', createdBy: 'test' });
  const res = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'searcher', password: PASSWORD }) });
  token = ((await res.json()) as { token: string }).token;
});

afterAll(async () => {
  await A?.stop();
});

describe('GET /api/tickets?search=… and cursor', () => {
  it('finds a phone number in another format and 漫遊 by 漫游, and pages with nextCursor', async () => {
    const roaming = (await A.services.tickets.file(input('國際漫遊費太貴了', '138-0013-8000'))).ticket;
    const others: string[] = [];
    for (let i = 0; i < 5; i++) others.push((await A.services.tickets.file(input(`账单问题 第${i}个`))).ticket.number);
    const byPhone = await get(`/api/tickets?search=${encodeURIComponent('+86 138 0013 8000')}`);
    expect(byPhone.status).toBe(200);
    expect(numbers(byPhone.body)).toEqual([roaming.number]);
    const bySimplified = await get(`/api/tickets?search=${encodeURIComponent('漫游')}`);
    expect(numbers(bySimplified.body)).toEqual([roaming.number]);

    const seen: string[] = [];
    let page = await get(`/api/tickets?search=${encodeURIComponent('账单')}&pageSize=2`);
    expect(page.body.total).toBe(5);
    seen.push(...numbers(page.body));
    while (page.body.nextCursor) {
      page = await get(`/api/tickets?search=${encodeURIComponent('账单')}&pageSize=2&cursor=${encodeURIComponent(page.body.nextCursor as string)}`);
      seen.push(...numbers(page.body));
    }
    expect(seen).toEqual([...others].reverse());

    const inbox = await get('/api/tickets?pageSize=4');
    const next = await get(`/api/tickets?pageSize=4&cursor=${encodeURIComponent(inbox.body.nextCursor as string)}`);
    expect(next.status).toBe(200);
    expect(numbers(next.body)).toEqual([others[0], roaming.number]);
    expect(next.body.nextCursor).toBeNull();

    const bad = await get('/api/tickets?pageSize=4&cursor=xyz');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/cursor/);
  });

  it('`npm run archive` dry-runs by default, moves with --apply, and the archived ticket stays readable and findable', async () => {
    const old = (await A.services.tickets.file(input('舊的發票問題 archive-me'))).ticket;
    await A.services.tickets.change(old.number, { status: 'closed' }, 'searcher');
    // Closed 400 days ago (the app's clock is the real one).
    await A.db.collection('tickets').updateOne({ _id: old.number as never }, { $set: { closedAt: new Date(Date.now() - 400 * 86_400_000) } });
    const env = { MONGODB_URI: `${inject('mongoUri').replace(/\/$/, '')}/${A.db.databaseName}`, LOG_LEVEL: 'silent' };
    const dry = await runScript('archive', ['--older-than-days', '365'], '', env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(lastJson(dry.stdout)).toMatchObject({ apply: false, candidates: 1, archived: 0 });
    const moved = await runScript('archive', ['--older-than-days', '365', '--apply'], '', env);
    expect(moved.code, moved.stderr).toBe(0);
    expect(lastJson(moved.stdout)).toMatchObject({ apply: true, candidates: 1, archived: 1, changed: 0 });
    expect(await A.db.collection('tickets').countDocuments({ _id: old.number as never })).toBe(0);

    const read = await get(`/api/tickets/${old.number}`);
    expect(read.status).toBe(200);
    expect(read.body.status).toBe('closed');
    expect(numbers((await get(`/api/tickets?search=${encodeURIComponent('发票')}`)).body)).toEqual([old.number]);
    expect(numbers((await get(`/api/tickets?search=${old.number.toLowerCase()}`)).body)).toEqual([old.number]);

    const usage = await runScript('archive', ['--older-than-days', 'soon'], '', env);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/older-than-days/);
  });
});
