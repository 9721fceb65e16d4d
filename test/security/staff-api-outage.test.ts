/**
 * The staff API while the database is unreachable, over real HTTP against the whole app on its own
 * supervised embedded database (stopped, then restarted here): reads (the ticket list, a ticket) and
 * a change (a ticket's status) answer 503 with the machine-readable code
 * `DATABASE_UNAVAILABLE` and `Retry-After` — never the generic 500 "internal error" — and the same
 * requests work once the database is back. The console's login page (Debian's chromium) says so
 * in zh-Hans, zh-Hant and English meanwhile.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../desk/services.js';
import { hashPassword } from '../../staff/auth.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { reconnected } from '../helpers/reconnected.js';

type Json = Record<string, any>;
const PASSWORD = 'staff api outage password';
const CHROMIUM = '/usr/bin/chromium';
let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let url: string;
let token: string;

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json; retryAfter: string | null }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, retryAfter: res.headers.get('retry-after') };
}

beforeAll(async () => {
  own = await startAppOnOwnDatabase('staff-outage-', { API_RATE_PER_MINUTE: '100000' });
  ({ database, services, url } = own);
  await services.store.users.create({ username: 'alice', role: 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
  expect(login.status).toBe(200);
  token = ((await login.json()) as Json).token;
});

afterAll(async () => {
  await own?.stop();
});

describe('the staff API with the database unreachable', () => {
  it('answers 503 DATABASE_UNAVAILABLE with Retry-After for reads and changes, and works again once it is back', async () => {
    const filed = await api('POST', '/api/tickets', { channel: 'phone', text: '快递已经五天了还没有送到', customer: { name: '王女士' } });
    expect(filed.status).toBe(201);
    const number = filed.body.ticket.number as string;
    const version = filed.body.ticket.version as number;

    await database.server!.stop();
    try {
      for (const [method, path, body] of [
        ['GET', '/api/tickets', undefined],
        ['GET', `/api/tickets/${number}`, undefined],
        ['PATCH', `/api/tickets/${number}`, { status: 'in_progress', version }],
      ] as const) {
        const r = await api(method, path, body);
        expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(503);
        expect(r.body).toEqual({ error: { code: 'DATABASE_UNAVAILABLE', message: 'the database cannot be reached right now; try again shortly' } });
        expect(r.retryAfter, `${method} ${path}`).toBe('5');
      }
    } finally {
      await database.server!.restart();
    }
    await reconnected(database.db);
    const list = await api('GET', '/api/tickets');
    expect(list.status).toBe(200);
    const changed = await api('PATCH', `/api/tickets/${number}`, { status: 'in_progress', version });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.status).toBe('in_progress');
    expect(changed.retryAfter).toBeNull();
  });

  it.skipIf(!existsSync(CHROMIUM))('the console says the database cannot be reached, in zh-Hans, zh-Hant and English', async () => {
    await database.server!.stop();
    try {
      await consoleSaysUnavailable();
    } finally {
      await database.server!.restart();
    }
    await reconnected(database.db);
  });
});

/** The console's login, tried in each language while the database is down: its message says so. */
async function consoleSaysUnavailable(): Promise<void> {
  const { DICT } = (await import(pathToFileURL(join(import.meta.dirname, '../../staff/console/i18n.js')).href)) as { DICT: Record<string, Record<string, string>> };
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  try {
    for (const lang of ['zh-Hans', 'zh-Hant', 'en']) {
      const d = DICT[lang]!;
      const page = await browser.newPage();
      await page.goto(`${url}/console/?lang=${lang === 'zh-Hans' ? 'zh' : lang}#/login`);
      await page.getByLabel(d['login.username']!, { exact: true }).fill('alice');
      await page.getByLabel(d['login.password']!, { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: d['login.submit'], exact: true }).click();
      const said = d['error.databaseUnavailable']!.replace('{s}', '5');
      await expect.poll(() => page.getByTestId('login-message').textContent(), { timeout: 60_000 }).toBe(said);
      expect(said).not.toBe(d['error.server']);
      await page.close();
    }
  } finally {
    await browser.close();
  }
}
