/**
 * A staff reply is recorded before it is sent (desk/tickets.ts `reply`), on the real app: embedded
 * database reached through a TCP proxy that can make it unreachable at a chosen moment
 * (test/helpers/losing-proxy.ts `block`), and a real web chat customer on Direct Line receiving
 * the replies.
 * - The database goes away right after the channel took the reply: the staff member is told it
 *   was sent (not an error), the ticket shows it `sending` (outcome unknown), and neither the form
 *   sent again (same request id) nor 重新发送 without confirmation reaches the customer a second
 *   time. On the code before, the reply was sent first and recorded after: the staff member got an
 *   error, sent it again, and the customer received it twice.
 * - The database is down before anything is sent: the staff member gets the error and the customer
 *   nothing (on the code before, the customer got the reply and the staff member the error).
 * - A double submit over HTTP (two requests with the same requestId at once) sends it once; on the
 *   code before, the API refused requestId (and without it, both requests sent the reply).
 * - The audit entry of a reply sent while the database went away is kept (in the spool beside the
 *   outbox) and written once the database is back, once (on the code before, it was only logged).
 * "Received once" is checked after a later marker reply has arrived: the conversation delivers in
 * order, so a second copy would have arrived before it (no fixed wait).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DirectLineClient } from '../../scripts/directline-client.js';
import { ReplyNotSentError } from '../../desk/tickets.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { toHttpError } from '../../staff/http.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { commandBytes, LosingProxy } from '../helpers/losing-proxy.js';

const CHROMIUM = '/usr/bin/chromium';
const SECRET = 'reply-outbox-test-direct-line-secret';
const PASSWORD = 'correct horse battery';
let proxy: LosingProxy;
let running: RunningApp;
/** Set by a test: the database becomes unreachable right after the channel took the next reply. */
let blockAfterSend = false;
/** The console's texts (a plain ES module of the browser's). */
let DICT: Record<'zh-Hans' | 'zh-Hant' | 'en', Record<string, string>>;

/** A web chat customer with a filed ticket, and how many times they received each text. */
async function customerWithTicket(user: string): Promise<{ client: DirectLineClient; number: string; received: (text: string) => number }> {
  const client = await DirectLineClient.open(running.url, user, SECRET);
  await client.replyTo(await client.send('我的快递三天了还没到，物流信息一直不更新'));
  await client.replyTo(await client.send('对'));
  const done = await client.replyTo(await client.send('跳过'));
  const number = done.text?.match(/T\d{8}-\d{4}/)?.[0];
  if (!number) throw new Error(`no ticket number in "${done.text}"`);
  return { client, number, received: (text) => client.botMessages().filter((a) => a.text === text).length };
}

/** Sends a marker reply and waits until the customer has it: every earlier reply has arrived by then. */
async function settle(client: DirectLineClient, number: string, marker: string): Promise<void> {
  expect((await running.services.tickets.reply(number, marker, 'alice')).delivered).toBe(true);
  await client.waitForMessage((a) => a.text === marker, 60_000);
}

beforeAll(async () => {
  ({ DICT } = (await import(pathToFileURL(join(PROJECT_ROOT, 'staff/console/i18n.js')).href)) as { DICT: typeof DICT });
  const url = new URL(inject('mongoUri').replace(/^mongodb:/, 'http:'));
  proxy = new LosingProxy({ host: url.hostname, port: Number(url.port || 27017) });
  const port = await proxy.listen();
  // A short server selection: an unreachable database fails a write within seconds, not 30 s.
  running = await startApp(`mongodb://127.0.0.1:${port}/?directConnection=true&retryWrites=false&serverSelectionTimeoutMS=2000`, { DIRECT_LINE_SECRET: SECRET });
  await running.app.staff.auth.createUser({ username: 'alice', password: PASSWORD, role: 'agent', createdBy: 'test' });
  // The bot's own channel, which blocks the database once it has delivered when a test asks.
  running.services.useCustomerChannel({
    deliver: async (ticket, text) => {
      const error = await running.app.replies.deliver(ticket, text);
      if (blockAfterSend) {
        blockAfterSend = false;
        proxy.block();
      }
      return error;
    },
    askRating: (ticket) => running.app.replies.askRating(ticket),
  });
});

afterAll(async () => {
  proxy?.release();
  await running?.stop();
  await proxy?.close();
});

describe('a staff reply is recorded before it is sent', () => {
  it('the database lost right after the send: no error, the reply waits as of unknown outcome, and sending it again does not reach the customer twice', async () => {
    const { client, number, received } = await customerWithTicket('dl-outbox-1');
    try {
      const text = '已为您加急处理，快递明天送达。';
      const requestId = 'form-submit-0001';
      blockAfterSend = true;
      const first = await running.services.tickets.reply(number, text, 'alice', { requestId }).catch((err: Error) => err);
      proxy.release();
      // The staff member sends the form again (same request id), then the customer must have it once.
      const again = await running.services.tickets.reply(number, text, 'alice', { requestId });
      await settle(client, number, '（测试标记一）');
      expect(received(text)).toBe(1);
      expect(first).toMatchObject({ delivered: true, recorded: false, duplicate: false });
      expect(again).toMatchObject({ duplicate: true, recorded: false });
      // On the ticket: one reply, sending (its outcome unknown).
      const stored = (await running.store.tickets.get(number))!.replies.filter((r) => r.text === text);
      expect(stored).toEqual([expect.objectContaining({ sending: true, delivered: false, requestId })]);
      // 重新发送 without confirmation is refused and sends nothing; confirmed, it is sent and recorded.
      const id = stored[0]!.id;
      await expect(running.services.tickets.retryReply(number, id, 'alice')).rejects.toThrow(/may already have reached the customer/);
      await settle(client, number, '（测试标记二）');
      expect(received(text)).toBe(1);
      const confirmed = await running.services.tickets.retryReply(number, id, 'alice', { confirmed: true });
      expect(confirmed).toMatchObject({ delivered: true, recorded: true });
      await client.waitForMessage((a) => a.text === text && received(text) === 2, 60_000);
      expect((await running.store.tickets.get(number))!.replies.find((r) => r.id === id)).toMatchObject({ delivered: true, attempts: 2 });
      expect((await running.store.tickets.get(number))!.replies.find((r) => r.id === id)?.sending).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('the audit entry of a reply sent as the database went away is kept and written once the database is back', async () => {
    const { client, number } = await customerWithTicket('dl-outbox-audit-1');
    try {
      const text = '您的退款申请已提交，三个工作日内到账。';
      blockAfterSend = true;
      const sent = await running.services.tickets.reply(number, text, 'alice');
      expect(sent).toMatchObject({ delivered: true, recorded: false });
      proxy.release();
      await client.waitForMessage((a) => a.text === text, 60_000);
      expect(running.services.tickets.heldPending()).toBe(1);
      await running.services.tickets.flushOutbox();
      const entries = (await running.store.audit.list({ target: number, action: 'ticket.reply' })).items;
      expect(entries).toEqual([expect.objectContaining({ actor: 'alice', details: { length: text.length, delivered: true, recorded: false } })]);
      expect(running.services.tickets.heldPending()).toBe(0);
    } finally {
      client.close();
    }
  });

  it("an audit entry stored though its reply was lost, the database then gone: kept, and the replay stores it once", async () => {
    const { client, number } = await customerWithTicket('dl-outbox-audit-2');
    try {
      const text = '工程师明天上午九点到十一点上门。';
      // The outcome is recorded; the audit insert reaches the database, its answer does not, and the database goes away.
      proxy.arm([commandBytes('insert', 'audit')], { kind: 'lose', thenBlock: true });
      const sent = await running.services.tickets.reply(number, text, 'alice');
      proxy.release();
      expect(proxy.lost).toBeGreaterThan(0);
      expect(sent).toMatchObject({ delivered: true, recorded: true });
      expect(running.services.tickets.heldPending()).toBe(1);
      await running.services.tickets.flushOutbox();
      expect(running.services.tickets.heldPending()).toBe(0);
      const entries = (await running.store.audit.list({ target: number, action: 'ticket.reply' })).items;
      expect(entries).toEqual([expect.objectContaining({ actor: 'alice', details: { length: text.length, delivered: true } })]);
    } finally {
      client.close();
    }
  });

  it('the database down before the send: the staff member gets the error and the customer nothing', async () => {
    const { client, number, received } = await customerWithTicket('dl-outbox-2');
    try {
      const text = '您好，退款已原路退回。';
      proxy.block();
      const failed = await running.services.tickets.reply(number, text, 'alice').catch((err: Error) => err);
      proxy.release();
      await settle(client, number, '（测试标记三）');
      expect(received(text)).toBe(0);
      expect(failed).toBeInstanceOf(ReplyNotSentError);
      expect(toHttpError(failed).status).toBe(503);
      expect((await running.store.tickets.get(number))!.replies.map((r) => r.text)).toEqual(['（测试标记三）']);
    } finally {
      client.close();
    }
  });

  it('a double submit over HTTP (the same requestId twice at once) sends the reply once', async () => {
    const { client, number, received } = await customerWithTicket('dl-outbox-3');
    try {
      const login = await fetch(`${running.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
      const { token } = (await login.json()) as { token: string };
      const text = '师傅明天上午上门取件。';
      const submit = () =>
        fetch(`${running.url}/api/tickets/${number}/replies`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ text, requestId: 'double-click-42' }),
        });
      const responses = await Promise.all([submit(), submit()]);
      const bodies = (await Promise.all(responses.map((r) => r.json()))) as { replyId: string; duplicate: boolean }[];
      expect(responses.map((r) => r.status)).toEqual([201, 201]);
      expect(bodies.map((b) => b.duplicate).sort()).toEqual([false, true]);
      expect(bodies[0]!.replyId).toBe(bodies[1]!.replyId);
      await settle(client, number, '（测试标记四）');
      expect(received(text)).toBe(1);
      expect((await running.store.tickets.get(number))!.replies.filter((r) => r.text === text)).toHaveLength(1);
      // The same request id for another text is refused, not taken for the first reply.
      const other = await fetch(`${running.url}/api/tickets/${number}/replies`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ text: '另一条回复', requestId: 'double-click-42' }),
      });
      expect(other.status).toBe(400);
    } finally {
      client.close();
    }
  });

  it.skipIf(!existsSync(CHROMIUM))('the console: a reply sent from the form whose outcome is lost says so, shows 送达结果未知 in each language, and is sent again only when confirmed', async () => {
    const { client, number, received } = await customerWithTicket('dl-outbox-4');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
    try {
      const page = await browser.newPage({ locale: 'zh-CN' });
      const dialogs: string[] = [];
      let answer = false;
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void (answer ? d.accept() : d.dismiss());
      });
      await page.goto(`${running.url}/console#/tickets/${number}`);
      await page.getByLabel('用户名', { exact: true }).fill('alice');
      await page.getByLabel('密码', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: '登录', exact: true }).click();
      const text = '您的包裹已找到，今天下午送到。';
      await page.getByTestId('reply-text').fill(text);
      const send = page.getByRole('button', { name: DICT['zh-Hans']['reply.send'], exact: true });
      // The database gone right after the channel took it.
      blockAfterSend = true;
      await send.click();
      await expect.poll(() => page.getByTestId('reply-status').textContent(), { timeout: 60_000 }).toBe(DICT['zh-Hans']['reply.sentUnrecorded']);
      proxy.release();
      await client.waitForMessage((a) => a.text === text, 60_000);
      // The ticket as stored shows it in each language: the badge, the hint and a resend that asks first.
      for (const lang of ['zh-Hans', 'zh-Hant', 'en'] as const) {
        await page.goto(`${running.url}/console?lang=${lang === 'zh-Hans' ? 'zh' : lang}#/tickets/${number}`);
        await page.reload();
        const d = DICT[lang];
        await expect.poll(() => unknownReply(page), { timeout: 60_000 }).toEqual({ badge: d['reply.unknown'], hint: d['reply.unknownHint'], button: d['reply.retryUnknown'] });
      }
      // English now: dismissing the question sends nothing; confirming sends it again.
      await page.getByTestId('resend-unknown').click();
      await expect.poll(() => dialogs).toEqual([DICT.en['reply.confirmResend']]);
      await settle(client, number, '（测试标记五）');
      expect(received(text)).toBe(1);
      answer = true;
      await page.getByTestId('resend-unknown').click();
      await client.waitForMessage((a) => a.text === text && received(text) === 2, 60_000);
      await expect.poll(() => page.getByTestId('delivery').first().textContent(), { timeout: 60_000 }).toBe(DICT.en['reply.delivered']);
      expect(dialogs).toHaveLength(2);
    } finally {
      await browser.close();
      client.close();
    }
  });
});

/** The console's rendering of the one reply of unknown outcome on the page (nulls when absent). */
async function unknownReply(page: Page): Promise<{ badge: string | null; hint: string | null; button: string | null }> {
  const text = async (testId: string) => ((await page.getByTestId(testId).count()) ? page.getByTestId(testId).first().textContent() : null);
  const badges = await page.getByTestId('delivery').allTextContents();
  return { badge: badges[0] ?? null, hint: await text('delivery-unknown-hint'), button: await text('resend-unknown') };
}
