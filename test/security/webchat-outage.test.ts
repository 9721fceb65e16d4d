/**
 * Issue 14 ("every customer message that arrives while the database is down is kept … and the
 * customer is told the truth"), for the web chat: the whole app over real HTTP on its own
 * supervised embedded database, which is stopped while a customer sends. The Direct Line POST must
 * answer 503 with `Retry-After` and a body saying the message was not received (never 500, never
 * 200 for something not stored); the page's re-sending queue (bot/webchat-resend.ts, the very
 * script the page inlines, run here with Node's fetch) must keep the message and send it again with
 * the same `clientActivityID` until the database is back; and the server must store it and hand it
 * to the bot once, however often it is sent again — including when it must look in the database
 * rather than its own memory (another process, or memory shed). Last, the same in Debian's chromium:
 * the page shows the note while the message waits, and sends it once the database is back.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PENDING_NOTES } from '../../bot/webchat-page.js';
import { RESEND_SCRIPT, type PostOutcome, type Resender, type ResenderOptions } from '../../bot/webchat-resend.js';
import type { OpenDatabase } from '../../store/database.js';
import type { Services } from '../../desk/services.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';

type Json = Record<string, any>;

let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let url: string;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('webchat-outage-', { RATE_LIMIT_PER_10S: '100' });
  ({ database, services, url } = own);
});

afterAll(async () => {
  await own?.stop();
});

const createResender = new Function(`${RESEND_SCRIPT}\nreturn createResender;`)() as (o: ResenderOptions) => Resender;

/** A customer on the page: a token, the started conversation, and helpers to post and read its log. */
async function customer() {
  const page = await fetch(`${url}/api/webchat/token?locale=zh-CN`);
  expect(page.status).toBe(200);
  const { conversationId, token } = (await page.json()) as { conversationId: string; token: string };
  const start = await fetch(`${url}/v3/directline/conversations`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
  expect(start.status).toBe(201);
  const activitiesUrl = `${url}/v3/directline/conversations/${conversationId}/activities`;
  /** One POST of `activity` (as the page's queue does it). */
  const post = async (activity: unknown, resend: boolean): Promise<PostOutcome & { body: Json }> => {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    if (resend) headers['X-Resend'] = '1';
    const res = await fetch(activitiesUrl, { method: 'POST', headers, body: JSON.stringify(activity) });
    const body = (await res.json()) as Json;
    return { status: res.status, retryAfter: Number(res.headers.get('Retry-After')) || 0, id: typeof body.id === 'string' ? body.id : undefined, body };
  };
  const log = async (): Promise<Json[]> => {
    const res = await fetch(activitiesUrl, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { activities: Json[] }).activities;
  };
  /** A message as Web Chat sends it (its own `clientActivityID` in `channelData`). */
  const message = (text: string) => ({ type: 'message', text, locale: 'zh-CN', channelData: { clientActivityID: `cid-${randomUUID()}` } });
  /** Sends while the database is up; returns the bot's replies to it. */
  const say = async (text: string): Promise<string[]> => {
    const r = await post(message(text), false);
    expect(r.status, text).toBe(200);
    return (await log()).filter((a) => a.replyToId === r.id && a.type === 'message').map((a) => String(a.text));
  };
  return { conversationId, post, log, message, say };
}

const withClientId = (activities: Json[], clientId: string) => activities.filter((a) => a.channelData?.clientActivityID === clientId);

describe('a web chat message sent while the database is down', () => {
  it('is answered 503 with Retry-After (not 500), kept by the page, re-sent when the database is back, and filed once', async () => {
    const c = await customer();
    const demand = '我在网上买的空气净化器收到就坏了，开机没有反应，要求退货退款';
    expect((await c.say(demand)).join('\n')).toMatch(/对吗|请帮我选/);
    expect((await c.say('对')).join('\n')).toMatch(/手机号或邮箱/);

    const skip = c.message('跳过');
    const clientId = skip.channelData.clientActivityID;
    await database.server!.stop();
    let restarted = false;
    try {
      // What the server answers: 503, Retry-After, a body that says it was not received.
      const refused = await c.post(skip, false);
      expect(refused.status).toBe(503);
      expect(refused.retryAfter).toBe(5);
      expect(refused.body.error).toMatchObject({ code: 'ServiceUnavailable' });
      expect(refused.body.error.message).toMatch(/not received; send it again/);

      // The page's queue keeps it, says so, and sends it again; the database comes back meanwhile.
      const notes: number[] = [];
      const attempts: { resend: boolean; status: number }[] = [];
      const waits: number[] = [];
      const resender = createResender({
        post: async (activity, resend) => {
          const r = await c.post(activity, resend);
          attempts.push({ resend, status: r.status });
          return r;
        },
        wait: async (ms) => {
          waits.push(ms);
          if (waits.length === 2) {
            await database.server!.restart();
            restarted = true;
          }
        },
        onPending: (n) => notes.push(n),
      });
      const id = await resender.send(skip);
      expect(attempts.map((a) => a.status)).toEqual([503, 503, 200]);
      expect(attempts.map((a) => a.resend)).toEqual([false, true, true]);
      expect(waits).toEqual([5000, 5000]); // Retry-After, as the server said
      expect(notes).toEqual([0, 1, 1, 0]); // queued; waiting (twice); sent: the note goes away
      expect(id).toMatch(new RegExp(`^${c.conversationId}\\|\\d{7}$`));

      // Sent again (an answer lost on the way, a second tab, a re-send after a timeout): same id,
      // not stored or answered twice — also when the server must look in the database for it.
      expect((await c.post(skip, true)).id).toBe(id);
      services.store.directLine.shed('critical');
      expect((await c.post(skip, true)).id).toBe(id);

      const log = await c.log();
      expect(withClientId(log, clientId)).toHaveLength(1);
      const replies = log.filter((a) => a.replyToId === id && a.type === 'message').map((a) => String(a.text));
      expect(replies).toHaveLength(1);
      const number = /T\d{8}-\d{4}/.exec(replies[0])?.[0];
      expect(number, replies[0]).toBeDefined();
      expect(replies[0]).toMatch(/已为您登记工单/);
      // Filed exactly once: one ticket holds this demand.
      expect(await database.db.collection('tickets').countDocuments({ 'text.original': demand })).toBe(1);
      expect((await services.store.tickets.get(number!))?.text.original).toBe(demand);
    } finally {
      if (!restarted) await database.server!.restart();
    }
  });

  it('is not stored twice when its answer was lost or two copies race: a re-send of a stored activity gets its id back', async () => {
    const c = await customer();
    const first = c.message('帮助');
    const sent = await c.post(first, false);
    expect(sent.status).toBe(200);
    const again = await c.post(first, true);
    expect(again).toMatchObject({ status: 200, id: sent.id });
    // Without X-Resend, memory alone is asked (no database read): still found while it is kept here.
    expect((await c.post(first, false)).id).toBe(sent.id);
    const log = await c.log();
    expect(withClientId(log, first.channelData.clientActivityID)).toHaveLength(1);
    expect(log.filter((a) => a.replyToId === sent.id && a.type === 'message')).toHaveLength(1);
    // Two copies at the same moment (a retry racing the first attempt): the second waits for the first.
    const raced = c.message('查询工单');
    const [one, two] = await Promise.all([c.post(raced, false), c.post(raced, true)]);
    expect(one.status).toBe(200);
    expect(two.id).toBe(one.id);
    expect(withClientId(await c.log(), raced.channelData.clientActivityID)).toHaveLength(1);
    // A different message with the same text is a new message (ids, not texts, decide).
    const other = await c.post(c.message('帮助'), false);
    expect(other.status).toBe(200);
    expect(other.id).not.toBe(sent.id);
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe.skipIf(!existsSync(CHROMIUM))('the chat page during a database outage, in a real browser', () => {
  it('shows that the message has not arrived, sends it when the database is back, and it is filed once', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    let restarted = false;
    try {
      const page = await (await browser.newContext({ locale: 'zh-CN' })).newPage();
      await page.goto(`${url}/`);
      const input = page.locator('[data-id="webchat-sendbox-input"]');
      await input.waitFor({ timeout: 30_000 });
      await page.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
      const say = async (text: string) => {
        await input.fill(text);
        await input.press('Enter');
      };
      const note = page.locator('#webchat-pending');
      expect(await note.isHidden()).toBe(true);

      const demand = '我买的电饭煲用了两天就坏了，按键没反应，要求换货';
      await database.server!.stop();
      try {
        await say(demand);
        await page.getByText(PENDING_NOTES['zh-Hans'].replace('{n}', '1')).waitFor({ timeout: 60_000 });
        expect(await note.getAttribute('role')).toBe('status');
      } finally {
        await database.server!.restart();
        restarted = true;
      }
      // Back: the page sends it by itself (Retry-After 5 s), the note goes, the bot answers it.
      await note.waitFor({ state: 'hidden', timeout: 30_000 });
      await page.getByText(/对吗/).last().waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: '对', exact: true }).last().click();
      await page.getByText(/手机号或邮箱/).last().waitFor({ timeout: 60_000 });
      await say('跳过');
      await page.getByText(/已为您登记工单 T\d{8}-\d{4}/).last().waitFor({ timeout: 60_000 });

      // In the log once, filed once.
      const conversationId = String(await page.evaluate("localStorage.getItem('demand-desk.webchat.conversation.zh-CN')"));
      const conv = await services.store.directLine.getConversation(conversationId);
      const { entries } = await services.store.directLine.after(conv!, 0, 1000);
      expect(entries.filter((e) => e.activity.text === demand && (e.activity.from as Json).role === 'user')).toHaveLength(1);
      expect(await database.db.collection('tickets').countDocuments({ 'text.original': demand })).toBe(1);
    } finally {
      if (!restarted) await database.server!.restart();
      await browser.close();
    }
  });

  /** Every message list the page keeps for re-sending (localStorage `demand-desk.webchat.unsent.<userId>`). */
  const keptUnsent = async (page: import('playwright-core').Page) =>
    (await page.evaluate(
      "Object.keys(localStorage).filter((k) => k.startsWith('demand-desk.webchat.unsent.')).map((key) => ({ key, list: JSON.parse(localStorage.getItem(key)) }))",
    )) as { key: string; list: { since: number; activity: { text: string; channelData: { clientActivityID: string } } }[] }[];

  it('keeps a waiting message across a reload: the reloaded page sends the same activity, and it is stored once', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    let restarted = false;
    try {
      const page = await (await browser.newContext({ locale: 'zh-CN' })).newPage();
      await page.goto(`${url}/`);
      const input = page.locator('[data-id="webchat-sendbox-input"]');
      await input.waitFor({ timeout: 30_000 });
      await page.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
      const note = page.locator('#webchat-pending');
      const demand = '我买的台灯收到时灯罩是碎的，要求换一个新的';
      let clientId = '';
      await database.server!.stop();
      try {
        await input.fill(demand);
        await input.press('Enter');
        await page.getByText(PENDING_NOTES['zh-Hans'].replace('{n}', '1')).waitFor({ timeout: 60_000 });
        // Kept in localStorage, per customer, as the very activity Web Chat gave the page.
        const kept = await keptUnsent(page);
        expect(kept).toHaveLength(1);
        expect(kept[0].list.map((e) => e.activity.text)).toEqual([demand]);
        clientId = kept[0].list[0].activity.channelData.clientActivityID;
        expect(clientId).toBeTruthy();
        // The customer reloads while the service is still down: the page says the message has not
        // arrived, and keeps trying to connect (the token answers 503 while the database is down).
        await page.reload();
        await page.getByText(PENDING_NOTES['zh-Hans'].replace('{n}', '1')).waitFor({ timeout: 60_000 });
        expect((await keptUnsent(page))[0].list.map((e) => e.activity.channelData.clientActivityID)).toEqual([clientId]);
      } finally {
        await database.server!.restart();
        restarted = true;
      }
      // Back: the page connects by itself and sends the kept activity.
      await input.waitFor({ timeout: 60_000 });
      await note.waitFor({ state: 'hidden', timeout: 30_000 });
      await page.getByText(/对吗|请帮我选/).last().waitFor({ timeout: 30_000 });
      // Accepted: nothing is kept any more.
      expect(await keptUnsent(page)).toEqual([]);
      const conversationId = String(await page.evaluate("localStorage.getItem('demand-desk.webchat.conversation.zh-CN')"));
      const conv = await services.store.directLine.getConversation(conversationId);
      const { entries } = await services.store.directLine.after(conv!, 0, 1000);
      const mine = entries.filter((e) => e.activity.text === demand && (e.activity.from as Json).role === 'user');
      expect(mine).toHaveLength(1);
      expect((mine[0].activity.channelData as Json).clientActivityID).toBe(clientId);
    } finally {
      if (!restarted) await database.server!.restart();
      await browser.close();
    }
  });

  it("folds Web Chat's own Retry after its 5-minute limit into the waiting message: one copy arrives", async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    let restarted = false;
    try {
      const page = await (await browser.newContext({ locale: 'zh-CN' })).newPage();
      // The page's clock is the test's: Web Chat's 5 minutes pass in a moment.
      await page.clock.install();
      await page.goto(`${url}/`);
      const input = page.locator('[data-id="webchat-sendbox-input"]');
      await input.waitFor({ timeout: 30_000 });
      await page.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
      const demand = '洗衣机安装师傅约好了昨天上门但是一直没有来';
      await database.server!.stop();
      try {
        await input.fill(demand);
        await input.press('Enter');
        await page.getByText(PENDING_NOTES['zh-Hans'].replace('{n}', '1')).waitFor({ timeout: 60_000 });
        const first = (await keptUnsent(page))[0].list[0].activity.channelData.clientActivityID;
        await page.clock.fastForward('05:05');
        // Web Chat gave up: "发送失败。重试。" The customer presses Retry (a new clientActivityID).
        const retry = page.getByRole('button', { name: '重试' }).or(page.getByText('重试', { exact: true }));
        await retry.first().waitFor({ timeout: 60_000 });
        await retry.first().click();
        // Still one message waiting, kept once (the retry's activity, in place of the abandoned one).
        const deadline = Date.now() + 60_000;
        let kept = await keptUnsent(page);
        while (!(kept.length === 1 && kept[0].list.length === 1 && kept[0].list[0].activity.channelData.clientActivityID !== first) && Date.now() < deadline) {
          await new Promise((ok) => setTimeout(ok, 100));
          kept = await keptUnsent(page);
        }
        expect(kept.map((k) => k.list.map((e) => e.activity.text))).toEqual([[demand]]);
        expect(kept[0].list[0].activity.channelData.clientActivityID).not.toBe(first);
      } finally {
        await database.server!.restart();
        restarted = true;
      }
      // Back: the next attempt (Retry-After 5 s of the page's clock) sends it.
      await page.clock.fastForward('00:10');
      await page.getByText(/对吗|请帮我选/).last().waitFor({ timeout: 30_000 });
      await page.clock.fastForward('00:10');
      const conversationId = String(await page.evaluate("localStorage.getItem('demand-desk.webchat.conversation.zh-CN')"));
      const conv = await services.store.directLine.getConversation(conversationId);
      const { entries } = await services.store.directLine.after(conv!, 0, 1000);
      expect(entries.filter((e) => e.activity.text === demand && (e.activity.from as Json).role === 'user')).toHaveLength(1);
      // And the bot answered it once.
      const answers = entries.filter((e) => (e.activity.from as Json).role !== 'user' && /对吗|请帮我选/.test(String(e.activity.text)));
      expect(answers).toHaveLength(1);
      expect(await keptUnsent(page)).toEqual([]);
    } finally {
      if (!restarted) await database.server!.restart();
      await browser.close();
    }
  });
});
