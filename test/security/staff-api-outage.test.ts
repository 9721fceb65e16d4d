/**
 * The staff API while the database is unreachable, over real HTTP against the whole app on its own
 * supervised embedded database (stopped, then restarted here): reads (the ticket list, a ticket) and
 * a change (a ticket's status) answer 503 with the machine-readable code
 * `DATABASE_UNAVAILABLE` and `Retry-After` — never the generic 500 "internal error" — and the same
 * requests work once the database is back. The console's login page (Debian's chromium) says so
 * in zh-Hans, zh-Hant and English meanwhile.
 *
 * Staff stay signed in meanwhile: a session the database vouched for recently is authenticated from
 * the server's memory (never one it did not; never one logged out or disabled), so its role is
 * checked and a ticket logged by hand is queued in the outbox (202, its provisional number, the
 * console saying so in each language), stored once when the database is back, however often it was
 * sent.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Services } from '../../desk/services.js';
import { hashPassword, tokenHash } from '../../staff/auth.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { hasChromium, launchChromium } from '../helpers/console-browser.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

type Json = Record<string, any>;
const PASSWORD = 'staff api outage password';
let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let url: string;
let token: string;
/** The number a queued request was given and the one it was stored under at replay (another ticket took the first). */
let renumbered: { provisional: string; moved: string } | null = null;

async function api(method: string, path: string, body?: unknown, as = token): Promise<{ status: number; body: Json; retryAfter: string | null }> {
  const headers: Record<string, string> = { authorization: `Bearer ${as}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, retryAfter: res.headers.get('retry-after') };
}

beforeAll(async () => {
  own = await startAppOnOwnDatabase('staff-outage-', { API_RATE_PER_MINUTE: '100000' });
  ({ database, services, url } = own);
  const hash = await hashPassword(PASSWORD);
  for (const [username, role] of [['alice', 'agent'], ['root', 'admin'], ['carol', 'agent'], ['dave', 'agent']] as const) {
    await services.store.users.create({ username, role, createdBy: 'test', passwordHash: hash });
  }
  token = await login('alice');
});

/** A session token of `username` (logged in through the API: the database vouches for it). */
async function login(username: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as Json).token as string;
}

const whileDown = (work: () => Promise<void>) => whileDatabaseDown(database, work);

/** Replays the outbox until it is empty (the database is back). */
async function replayed(): Promise<void> {
  await vi.waitFor(async () => expect((await services.tickets.flushOutbox()).remaining).toBe(0), { timeout: 60_000, interval: 500 });
}

/**
 * The numbers of a customer's stored tickets, read from the tickets themselves: the ticket list's
 * read model is written behind, and an outage right after a filing can hold that write back.
 */
async function storedFor(userId: string): Promise<string[]> {
  return (await database.db.collection<{ number: string }>('tickets').find({ 'customer.userId': userId }).toArray()).map((t) => t.number);
}

const UNREACHABLE = { error: { code: 'DATABASE_UNAVAILABLE', message: 'the database cannot be reached right now; try again shortly' } };

afterAll(async () => {
  await own?.stop();
});

describe('the staff API with the database unreachable', () => {
  it('answers 503 DATABASE_UNAVAILABLE with Retry-After for reads and changes, and works again once it is back', async () => {
    const filed = await api('POST', '/api/tickets', { channel: 'phone', text: '快递已经五天了还没有送到', customer: { name: '王女士' } });
    expect(filed.status).toBe(201);
    const number = filed.body.ticket.number as string;
    const version = filed.body.ticket.version as number;

    await whileDown(async () => {
      for (const [method, path, body] of [
        ['GET', '/api/tickets', undefined],
        ['GET', `/api/tickets/${number}`, undefined],
        ['PATCH', `/api/tickets/${number}`, { status: 'in_progress', version }],
      ] as const) {
        const r = await api(method, path, body);
        expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(503);
        expect(r.body).toEqual(UNREACHABLE);
        expect(r.retryAfter, `${method} ${path}`).toBe('5');
      }
    });
    const list = await api('GET', '/api/tickets');
    expect(list.status).toBe(200);
    const changed = await api('PATCH', `/api/tickets/${number}`, { status: 'in_progress', version });
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(changed.body.status).toBe('in_progress');
    expect(changed.retryAfter).toBeNull();
  });

  it('authenticates sessions it verified, never others: the role is checked, reads get 503 after it, a ticket logged by hand is queued (202) and stored once', async () => {
    const admin = await login('root');
    const carol = await login('carol');
    const dave = await login('dave');
    // A session another process issued, which this one never verified against the database.
    const stranger = 'stranger-session-token-0123456789abcdef';
    await services.store.users.addToken(tokenHash(stranger), { id: '4b0f6a1e-0d8e-4c43-9a52-0a7c3c1b2d11', kind: 'session', username: 'alice', name: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000) });
    expect((await api('GET', '/api/auth/me', undefined, stranger)).status).toBe(200);
    await services.store.users.addToken(tokenHash('unseen-session-token-0123456789abcdef'), { id: '5c1f6a1e-0d8e-4c43-9a52-0a7c3c1b2d12', kind: 'session', username: 'alice', name: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000) });
    // Two API tokens for an integration, each used once; one is then revoked through this server.
    const integration = (await api('POST', '/api/tokens', { username: 'alice', name: 'crm-sync' }, admin)).body as Json;
    const revoked = (await api('POST', '/api/tokens', { username: 'alice', name: 'old-sync' }, admin)).body as Json;
    for (const t of [integration.token, revoked.token]) expect((await api('GET', '/api/auth/me', undefined, t)).body.via).toBe('token');
    expect((await api('DELETE', `/api/tokens/${revoked.id}`, undefined, admin)).status).toBe(204);
    // dave is disabled through this server: his session must not outlive it, database or not.
    expect((await api('PATCH', '/api/users/dave', { disabled: true }, admin)).status).toBe(200);
    const demand = { channel: 'phone', text: '停电期间登记：电话投诉快递丢件，要求赔偿', customer: { name: '李先生', phone: '13900001234' }, requestId: 'form-offline-0001' };
    let number = '';

    await whileDown(async () => {
      expect((await api('GET', '/api/auth/me')).body).toEqual({ username: 'alice', role: 'agent', via: 'session' });
      // Authenticated, so the role decides before anything needs the database.
      const forbidden = await api('GET', '/api/users');
      expect(forbidden.status, JSON.stringify(forbidden.body)).toBe(403);
      for (const [method, path, as] of [['GET', '/api/tickets', token], ['GET', '/api/users', admin], ['GET', '/api/tickets/counts', token]] as const) {
        const r = await api(method, path, undefined, as);
        expect(r.status, `${method} ${path}`).toBe(503);
        expect(r.body).toEqual(UNREACHABLE);
        expect(r.retryAfter).toBe('5');
      }
      // A live stream is a read: refused while the session could not be checked by the database.
      const stream = await fetch(`${url}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      expect(stream.status).toBe(503);
      await stream.body?.cancel();
      // Never verified here (valid in the database, unknown to this process), disabled, or a made-up token: not authenticated.
      for (const as of ['unseen-session-token-0123456789abcdef', dave, revoked.token, 'made-up-session-token-0123456789abcdef']) {
        const r = await api('GET', '/api/auth/me', undefined, as);
        expect(r.status, as).toBe(503);
        expect(r.body).toEqual(UNREACHABLE);
      }
      // A logout the database cannot take is refused (503) but takes effect here at once.
      expect((await api('POST', '/api/auth/logout', undefined, carol)).status).toBe(503);
      expect((await api('GET', '/api/auth/me', undefined, carol)).status).toBe(401);

      const first = await api('POST', '/api/tickets', demand);
      expect(first.status, JSON.stringify(first.body)).toBe(202);
      expect(first.body).toMatchObject({ stored: 'outbox', duplicate: false, ticket: { status: 'new', customer: { channelId: 'phone', userId: 'tel:13900001234' } } });
      number = first.body.ticket.number;
      expect(number).toMatch(/^T\d{8}-/);
      // The same request again (a double submit, a retry after a lost answer): the same queued ticket.
      const again = await api('POST', '/api/tickets', demand);
      expect(again.status).toBe(202);
      expect(again.body).toMatchObject({ stored: 'outbox', duplicate: true, ticket: { number } });
      // The integration's token files too (it was verified, and not revoked).
      const viaToken = await api('POST', '/api/tickets', { channel: 'other', text: '集成同步：客户来电要求修改收货地址', customer: { name: '赵女士' } }, integration.token);
      expect(viaToken.status).toBe(202);
      expect(services.store.outbox.pending()).toBe(2);
    });

    await replayed();
    const stored = await services.store.tickets.get(number);
    expect(stored).toMatchObject({ number, requestId: 'form-offline-0001', filedBy: 'alice', text: { original: demand.text } });
    // Sent once more after the replay: found in the database, not filed again.
    const late = await api('POST', '/api/tickets', demand);
    expect(late.status).toBe(201);
    expect(late.body).toMatchObject({ stored: 'database', duplicate: true, ticket: { number } });
    expect(await storedFor('tel:13900001234')).toEqual([number]);
    // Its audit entry, written by the replay, names who logged it.
    const audit = await api('GET', `/api/audit?action=ticket.file&target=${number}`, undefined, admin);
    expect(audit.body.items).toEqual([expect.objectContaining({ actor: 'alice', action: 'ticket.file', target: number, details: { channel: 'phone', stored: 'outbox' } })]);
    // carol's logout reached the database with the next request; dave stays out.
    await api('GET', '/api/auth/me');
    expect(await services.store.users.tokenByHash(tokenHash(carol))).toBeNull();
    expect((await api('GET', '/api/auth/me', undefined, carol)).status).toBe(401);
    expect((await api('GET', '/api/auth/me', undefined, dave)).status).toBe(401);
  });

  it('stores a request once when it was stored before the outage and sent again during it (the first answer lost); the provisional number finds the stored ticket', async () => {
    const demand = { channel: 'letter', text: '来信：发票抬头开错了，请重新开具', customer: { email: 'letter-once@example.com' }, requestId: 'form-lost-answer-01' };
    const first = await api('POST', '/api/tickets', demand);
    expect(first.status).toBe(201);
    const number = first.body.ticket.number as string;
    let provisional = '';
    await whileDown(async () => {
      // The database cannot say it has it, so it is queued: the replay must find the first one.
      const again = await api('POST', '/api/tickets', demand);
      expect(again.status).toBe(202);
      expect(again.body.stored).toBe('outbox');
      provisional = again.body.ticket.number;
    });
    expect(provisional).not.toBe(number);
    await replayed();
    expect(await storedFor('letter-once@example.com')).toEqual([number]);
    // The staff member was told the provisional number: searching it finds the ticket kept, as the
    // number typed in the search box (any case, with or without the T).
    for (const typed of [provisional, provisional.toLowerCase(), provisional.slice(1)]) {
      const found = await api('GET', `/api/tickets?search=${encodeURIComponent(typed)}`);
      expect(found.status).toBe(200);
      expect(found.body.items.map((t: Json) => t.number), typed).toEqual([number]);
    }
    // Opened directly (GET /api/tickets/{provisional}): a redirect to the stored ticket, which a client
    // that follows redirects (fetch, the console) reads as the answer; it is not cached.
    const direct = await fetch(`${url}/api/tickets/${provisional}`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
    expect(direct.status).toBe(308);
    expect(direct.headers.get('location')).toBe(`/api/tickets/${number}`);
    expect(direct.headers.get('cache-control')).toBe('no-store');
    expect(await direct.json()).toEqual({ number, provisional });
    const followed = await api('GET', `/api/tickets/${provisional}`);
    expect(followed.status).toBe(200);
    expect(followed.body).toMatchObject({ number, requestId: 'form-lost-answer-01' });
    // A number nothing was ever queued or stored under is still 404.
    expect((await api('GET', `/api/tickets/${provisional.slice(0, -1)}9`)).status).toBe(404);
  });

  it('finds a queued request under its new number when another ticket took its provisional number before the replay', async () => {
    const demand = { channel: 'walk-in', text: '到店登记：会员积分被清零了', customer: { phone: '13700005678' }, requestId: 'form-renumbered-01' };
    // Another customer's ticket, whose copy below takes the provisional number.
    const other = await api('POST', '/api/tickets', { channel: 'phone', text: '来电登记：发票抬头开错了', customer: { name: '李先生' } });
    expect(other.status).toBe(201);
    let provisional = '';
    await whileDown(async () => {
      const queued = await api('POST', '/api/tickets', demand);
      expect(queued.status).toBe(202);
      provisional = queued.body.ticket.number;
    });
    // Another process took the provisional number meanwhile: possible for a number the database handed
    // out just before it went away; forced here by storing another customer's ticket under it.
    const tickets = database.db.collection<Record<string, unknown>>('tickets');
    const some = (await tickets.findOne({ _id: other.body.ticket.number }))!;
    await tickets.insertOne({ ...some, _id: provisional as never, number: provisional, customer: { channelId: 'webchat', userId: 'someone-else' }, text: { original: '另一位客户', normalized: '另一位客户' } });
    await replayed();
    const again = await api('POST', '/api/tickets', demand);
    expect(again.status).toBe(201);
    expect(again.body, JSON.stringify(again.body)).toMatchObject({ stored: 'database', duplicate: true, ticket: { formerNumber: provisional, requestId: 'form-renumbered-01' } });
    expect(again.body.ticket.number).not.toBe(provisional);
    expect(await storedFor('tel:13700005678')).toEqual([again.body.ticket.number]);
    const moved = again.body.ticket.number as string;
    renumbered = { provisional, moved };
    // Opened by the number the staff member was given: the other customer's ticket, which says that a
    // ticket queued under its number was stored as another (one read by _id: ticketNumbersGiven).
    const opened = await api('GET', `/api/tickets/${provisional}`);
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ number: provisional, customer: { userId: 'someone-else' }, alsoQuotedFor: [{ number: moved }] });
    expect(opened.body.alsoQuotedFor).toHaveLength(1);
    // A ticket no other was queued under says nothing of the kind.
    expect((await api('GET', `/api/tickets/${moved}`)).body.alsoQuotedFor).toEqual([]);
    // Searched by that number: both tickets.
    const found = await api('GET', `/api/tickets?search=${provisional}`);
    expect(found.body.items.map((t: Json) => t.number).sort()).toEqual([provisional, moved].sort());
  });

  it.skipIf(!hasChromium)('the console shows on the ticket holding a quoted number that a ticket queued under it was stored as another, a link to it, in zh-Hans, zh-Hant and English', async () => {
    expect(renumbered, 'needs the test before (a queued request renumbered at replay)').not.toBeNull();
    const { provisional, moved } = renumbered!;
    const DICT = await consoleTexts();
    const browser = await launchChromium();
    try {
      for (const lang of ['zh-Hans', 'zh-Hant', 'en'] as const) {
        const d = DICT[lang]!;
        const page = await signedIn(browser, lang, d);
        await page.evaluate(`location.hash = "#/tickets/${provisional}"`);
        const notice = page.getByTestId('ticket-also-quoted');
        await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toBe(d['ticket.alsoQuotedFor']!.replace('{number}', moved));
        expect(await page.getByTestId('ticket-number').textContent()).toBe(provisional);
        const link = notice.getByRole('link', { name: moved, exact: true });
        expect(await link.getAttribute('href')).toBe(`#/tickets/${moved}`);
        await link.click();
        await expect.poll(() => page.getByTestId('ticket-number').textContent(), { timeout: 60_000 }).toBe(moved);
        expect(await notice.count()).toBe(0);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });

  it.skipIf(!hasChromium)('the console says the database cannot be reached, in zh-Hans, zh-Hant and English', async () => {
    await whileDown(consoleSaysUnavailable);
  });

  it.skipIf(!hasChromium)('the console keeps a ticket logged during the outage and says it is queued under its provisional number, in zh-Hans, zh-Hant and English', async () => {
    const DICT = await consoleTexts();
    const browser = await launchChromium();
    try {
      const langs = ['zh-Hans', 'zh-Hant', 'en'] as const;
      // Signed in while the database is up (each page its own session).
      const pages: Page[] = [];
      for (const lang of langs) pages.push(await signedIn(browser, lang, DICT[lang]!));
      const numbers: string[] = [];
      await whileDown(async () => {
        for (const [i, lang] of langs.entries()) {
          const d = DICT[lang]!;
          const page = pages[i]!;
          await page.evaluate('location.hash = "#/new"');
          await page.getByTestId('new-text').fill(`停电时来电登记（${lang}）：退款一直没有到账`);
          const { text, number } = await submittedQueued(page, d);
          expect(text).toBe(d['newTicket.filedOffline']!.replace('{number}', number));
          numbers.push(number);
          // Sent again from the same form (a second click after a lost answer): the same ticket.
          await page.getByRole('button', { name: d['newTicket.submit'], exact: true }).click();
          await expect.poll(() => page.getByTestId('new-status').textContent(), { timeout: 60_000 }).toBe(text);
        }
        expect(services.store.outbox.pending()).toBe(3);
      });
      await replayed();
      for (const n of numbers) expect((await services.store.tickets.get(n))?.filedBy).toBe('alice');
    } finally {
      await browser.close();
    }
  });

  it.skipIf(!hasChromium)('the console sent again during the outage a form whose earlier answer was lost says it may be stored already and that its provisional number, a link, opens it, in zh-Hans, zh-Hant and English; the form outlives a visit to that link; the stored ticket says which provisional number it was opened by until the staff member leaves it', async () => {
    const DICT = await consoleTexts();
    const browser = await launchChromium();
    try {
      const langs = ['zh-Hans', 'zh-Hant', 'en'] as const;
      const pages: Page[] = [];
      const stored: string[] = [];
      for (const lang of langs) {
        const d = DICT[lang]!;
        const page = await signedIn(browser, lang, d);
        await page.evaluate('location.hash = "#/new"');
        await page.getByTestId('new-text').fill(`来电登记（${lang}）：答复丢失后重新提交的诉求`);
        // The request reaches the server and is stored, but its answer never reaches the browser.
        await page.route('**/api/tickets', async (route) => {
          const res = await route.fetch();
          stored.push(((await res.json()) as Json).ticket.number as string);
          await route.abort('connectionreset');
        });
        await page.getByRole('button', { name: d['newTicket.submit'], exact: true }).click();
        await expect.poll(() => stored.length, { timeout: 60_000 }).toBe(pages.length + 1);
        await expect.poll(() => page.getByTestId('new-status').textContent(), { timeout: 60_000 }).not.toBe(d['newTicket.filing']);
        await page.unroute('**/api/tickets');
        pages.push(page);
      }
      const provisional: string[] = [];
      await whileDown(async () => {
        for (const [i, lang] of langs.entries()) {
          const d = DICT[lang]!;
          const page = pages[i]!;
          // Sent again from the same form: the database cannot say it has it, so it is queued.
          const { text, number } = await submittedQueued(page, d);
          expect(text).toBe(d['newTicket.filedOfflineResent']!.replace('{number}', number));
          expect(number).not.toBe(stored[i]);
          provisional.push(number);
          // It says the provisional number opens the stored ticket, and the number is a link to it.
          expect(text).toContain(OPENED_DIRECTLY[lang]);
          const link = page.getByTestId('new-provisional');
          expect(await link.textContent()).toBe(number);
          expect(await link.getAttribute('href')).toBe(`#/tickets/${number}`);
          // Followed while the database is still down (the page says so), then back: the same form,
          // its answer and its request id (sent again, it files nothing new: still three queued).
          await link.click();
          await expect.poll(() => page.locator('main [role=alert]').first().textContent(), { timeout: 60_000 }).toBe(d['error.databaseUnavailable']!.replace('{s}', '5'));
          await page.goBack();
          await expect.poll(() => page.getByTestId('new-status').textContent(), { timeout: 60_000 }).toBe(text);
          expect(await page.getByTestId('new-text').inputValue()).toBe(`来电登记（${lang}）：答复丢失后重新提交的诉求`);
          await page.getByRole('button', { name: d['newTicket.submit'], exact: true }).click();
          await expect.poll(() => page.getByTestId('new-status').textContent(), { timeout: 60_000 }).toBe(d['newTicket.filedOffline']!.replace('{number}', number));
        }
        expect(services.store.outbox.pending()).toBe(3);
      });
      await replayed();
      for (const [i, number] of provisional.entries()) {
        const found = await api('GET', `/api/tickets?search=${number}`);
        expect(found.body.items.map((t: Json) => t.number), number).toEqual([stored[i]]);
      }
      // Opened directly (the form's link), the provisional number shows the stored ticket, and the page
      // says which it is, until the staff member leaves the ticket.
      for (const [i, lang] of langs.entries()) {
        const d = DICT[lang]!;
        const page = pages[i]!;
        await page.getByTestId('new-provisional').click();
        const said = d['ticket.openedProvisional']!.replace('{provisional}', provisional[i]!).replace('{number}', stored[i]!);
        const notice = page.getByTestId('ticket-provisional');
        await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toBe(said);
        await expect.poll(() => page.evaluate('location.hash')).toBe(`#/tickets/${stored[i]}`);
        await expect.poll(() => page.locator('.ticket-head').textContent()).toContain(stored[i]!);
        // Someone else changes the ticket; the staff member's change is refused and they reload it.
        await services.store.tickets.update(stored[i]!, { priority: 'high' }, { by: 'colleague' });
        await page.locator('select[name="priority"]').selectOption('urgent');
        await page.getByRole('button', { name: d['common.save'], exact: true }).click();
        await page.getByTestId('conflict').waitFor({ timeout: 60_000 });
        expect(await notice.textContent()).toBe(said);
        await page.getByTestId('conflict').getByRole('button', { name: d['ticket.reload'], exact: true }).click();
        await page.getByTestId('conflict').waitFor({ state: 'detached', timeout: 60_000 });
        expect(await page.locator('select[name="priority"]').inputValue()).toBe('high');
        expect(await notice.textContent()).toBe(said);
        // A change that goes through, and the browser's reload, keep it too.
        await page.locator('select[name="priority"]').selectOption('urgent');
        await page.getByRole('button', { name: d['common.save'], exact: true }).click();
        await expect.poll(() => services.store.tickets.get(stored[i]!).then((t) => t?.priority), { timeout: 60_000 }).toBe('urgent');
        await expect.poll(() => page.locator('select[name="priority"]').inputValue()).toBe('urgent');
        expect(await notice.textContent()).toBe(said);
        await page.reload();
        await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toBe(said);
        // Another language and back: the notice in that language.
        const other = langs[(i + 1) % langs.length]!;
        await page.locator(`[data-lang="${other}"]`).click();
        await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toBe(DICT[other]!['ticket.openedProvisional']!.replace('{provisional}', provisional[i]!).replace('{number}', stored[i]!));
        await page.locator(`[data-lang="${lang}"]`).click();
        await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toBe(said);
        // Left, and opened again by its number: the ticket without the notice.
        await page.evaluate('location.hash = "#/inbox"');
        await page.waitForURL((u) => u.hash === '#/inbox');
        await page.evaluate(`location.hash = "#/tickets/${stored[i]}"`);
        await expect.poll(() => page.getByTestId('ticket-number').textContent(), { timeout: 60_000 }).toBe(stored[i]);
        expect(await notice.count()).toBe(0);
        // A provisional number not stored (yet): still queued, the page says so and offers to open it again.
        const queued = `${provisional[i]!.slice(0, -1)}${provisional[i]!.endsWith('Z') ? 'Y' : 'Z'}`;
        await page.evaluate(`location.hash = "#/tickets/${queued}"`);
        await expect.poll(() => page.getByTestId('provisional-queued').textContent(), { timeout: 60_000 }).toBe(d['ticket.provisionalQueued']!.replace('{number}', queued));
        expect(await page.getByTestId('open-again').textContent()).toBe(d['ticket.openAgain']);
      }
      const texts = langs.map((lang) => `来电登记（${lang}）：答复丢失后重新提交的诉求`);
      const all = await database.db.collection<{ number: string; text: { original: string } }>('tickets').find({ 'text.original': { $in: texts } }).toArray();
      expect(all.map((t) => t.number).sort()).toEqual([...stored].sort());
    } finally {
      await browser.close();
    }
  });
});

/** What the console says about opening a provisional number, in each language (newTicket.filedOfflineResent). */
const OPENED_DIRECTLY: Record<string, string> = { 'zh-Hans': '直接打开临时编号', 'zh-Hant': '直接開啟臨時編號', en: 'opening the provisional number' };

/** The console's login, tried in each language while the database is down: its message says so. */
async function consoleSaysUnavailable(): Promise<void> {
  const DICT = await consoleTexts();
  const browser = await launchChromium();
  try {
    for (const lang of ['zh-Hans', 'zh-Hant', 'en']) {
      const d = DICT[lang]!;
      const page = await browser.newPage();
      await consoleLogin(page, lang, d);
      const said = d['error.databaseUnavailable']!.replace('{s}', '5');
      await expect.poll(() => page.getByTestId('login-message').textContent(), { timeout: 60_000 }).toBe(said);
      expect(said).not.toBe(d['error.server']);
      await page.close();
    }
  } finally {
    await browser.close();
  }
}

/** The console's texts per language (its own dictionary, so the test follows a changed wording). */
async function consoleTexts(): Promise<Record<string, Record<string, string>>> {
  const { DICT } = (await import(pathToFileURL(join(import.meta.dirname, '../../staff/console/i18n.js')).href)) as { DICT: Record<string, Record<string, string>> };
  return DICT;
}

/** A page of the console signed in as alice in `lang` (`d`: its texts), past the login page. */
async function signedIn(browser: Browser, lang: string, d: Record<string, string>): Promise<Page> {
  const page = await browser.newPage();
  await consoleLogin(page, lang, d);
  await page.waitForURL((u) => u.hash !== '#/login', { timeout: 60_000 });
  return page;
}

/** Sends the new-ticket form on `page` and waits for its answer to name a ticket: what it says, and that number. */
async function submittedQueued(page: Page, d: Record<string, string>): Promise<{ text: string; number: string }> {
  await page.getByRole('button', { name: d['newTicket.submit'], exact: true }).click();
  const said = page.getByTestId('new-status');
  await expect.poll(() => said.textContent(), { timeout: 60_000 }).toMatch(/T\d{8}-/);
  const text = (await said.textContent())!;
  return { text, number: /T\d{8}-\S+?(?=[，。,. ]|$)/.exec(text)![0] };
}

/** Signs alice in on the console's login page in `lang` (`d`: its texts). */
async function consoleLogin(page: Page, lang: string, d: Record<string, string>): Promise<void> {
  await page.goto(`${url}/console/?lang=${lang === 'zh-Hans' ? 'zh' : lang}#/login`);
  await page.getByLabel(d['login.username']!, { exact: true }).fill('alice');
  await page.getByLabel(d['login.password']!, { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: d['login.submit'], exact: true }).click();
}
