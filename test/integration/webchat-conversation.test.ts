/**
 * A ticket is a conversation, in Debian's chromium driven by playwright-core against the real app
 * (embedded database, real classifier): a follow-up after filing lands on the ticket; a staff reply
 * sent while the chat page was closed shows after the page is opened again; resolving the ticket
 * asks for a rating, the customer clicks 5, and the rating is on the ticket and in the statistics
 * (staff API over HTTP). The English page greets in English.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const PASSWORD = 'correct horse battery';
let running: RunningApp;
let browser: Browser;

async function openChat(page: Page, path = '/'): Promise<(text: string) => Promise<void>> {
  await page.goto(`${running.url}${path}`);
  const input = page.locator('[data-id="webchat-sendbox-input"]');
  await input.waitFor({ timeout: 30_000 });
  return async (text: string) => {
    await input.fill(text);
    await input.press('Enter');
  };
}

describe.skipIf(!existsSync(CHROMIUM))('a ticket is a conversation, in a real browser', () => {
  beforeAll(async () => {
    running = await startApp(inject('mongoUri'));
    await running.app.staff.auth.createUser({ username: 'alice', password: PASSWORD, role: 'agent', createdBy: 'test' });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await running?.stop();
  });

  it('a follow-up lands on the ticket, a reply sent while the page was closed shows after reopening, and a rating reaches the statistics', async () => {
    // One browser context: the page's localStorage (customer key, conversation) survives closing the tab.
    const context = await browser.newContext({ locale: 'zh-CN' });
    let page = await context.newPage();
    let say = await openChat(page);
    await page.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
    await say('买的吹风机用了一次就冒烟了，质量太差了');
    await page.getByText(/对吗/).last().waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: '对', exact: true }).last().click();
    await page.getByText(/手机号或邮箱/).last().waitFor({ timeout: 60_000 });
    await say('跳过');
    const created = page.getByText(/已为您登记工单 T\d{8}-\d{4}/).last();
    await created.waitFor({ timeout: 60_000 });
    const number = (await created.textContent())!.match(/T\d{8}-\d{4}/)![0];

    // 1. A follow-up lands on the ticket and is acknowledged.
    await say('好的，那明天我在家等');
    await page.getByText(texts('zh-Hans').followupAdded(number)).last().waitFor({ timeout: 60_000 });
    expect((await running.store.tickets.get(number))!.messages.map((m) => m.text)).toEqual(['好的，那明天我在家等']);

    // 2. The page is closed; staff reply; the customer opens the page again and sees the reply.
    await page.close();
    const reply = '您好，换货已安排，师傅明天上午上门取件。';
    const sent = await running.services.tickets.reply(number, reply, 'alice');
    expect(sent.delivered).toBe(true);
    page = await context.newPage();
    say = await openChat(page);
    await page.getByText(reply).last().waitFor({ timeout: 30_000 });
    // The earlier exchange is there too: the same conversation was resumed, not a new one.
    expect(await page.getByText('好的，那明天我在家等').count()).toBeGreaterThan(0);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'webchat-reply-after-reload.png'), fullPage: true });

    // 3. Resolving asks for a rating; the customer clicks 5; the rating is on the ticket and in the statistics.
    await running.services.tickets.change(number, { status: 'resolved' }, 'alice');
    await page.getByText(texts('zh-Hans').resolved(number)).last().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: '5', exact: true }).last().click();
    await page.getByText(texts('zh-Hans').ratingThanks(number, 5)).last().waitFor({ timeout: 60_000 });
    expect((await running.store.tickets.get(number))!.satisfaction).toMatchObject({ score: 5 });
    const login = await fetch(`${running.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const stats = (await (await fetch(`${running.url}/api/stats?granularity=week`, { headers: { authorization: `Bearer ${token}` } })).json()) as { satisfaction: { count: number; average: number; byChannel: unknown[] } };
    expect(stats.satisfaction).toMatchObject({ count: 1, average: 5, byChannel: [{ key: 'webchat', count: 1, average: 5 }] });
    await page.screenshot({ path: join(ARTIFACTS, 'webchat-rating.png'), fullPage: true });

    // 4. In the console: a reply the channel refused shows 未送达 with a retry, which delivers it;
    // the rating is on the ticket page.
    const reopened = await running.services.tickets.change(number, { status: 'reopened' }, 'alice');
    expect(reopened.status).toBe('reopened');
    running.services.useCustomerChannel({ deliver: async () => 'channel down (test)', askRating: async () => 'channel down (test)' });
    const refused = '抱歉，刚才的消息再发一次：取件时间改为明天下午。';
    expect((await running.services.tickets.reply(number, refused, 'alice')).delivered).toBe(false);
    running.services.useCustomerChannel(running.app.replies);
    const staff = await context.newPage();
    await staff.goto(`${running.url}/console#/tickets/${number}`);
    await staff.getByLabel('用户名', { exact: true }).fill('alice');
    await staff.getByLabel('密码', { exact: true }).fill(PASSWORD);
    await staff.getByRole('button', { name: '登录', exact: true }).click();
    await staff.getByTestId('retry-reply').waitFor({ timeout: 30_000 });
    expect(await staff.getByTestId('delivery').last().textContent()).toBe('未送达');
    expect(await staff.getByTestId('satisfaction').textContent()).toContain('客户满意度：5/5');
    await staff.getByTestId('retry-reply').click();
    await expect.poll(() => staff.getByTestId('delivery').last().textContent(), { timeout: 60_000 }).toBe('已送达');
    expect(await staff.getByTestId('retry-reply').count()).toBe(0);
    await page.getByText(refused).last().waitFor({ timeout: 60_000 });
    await staff.screenshot({ path: join(ARTIFACTS, 'console-reply-retry.png'), fullPage: true });
    expect((await running.store.tickets.get(number))!.replies.at(-1)).toMatchObject({ text: refused, delivered: true, attempts: 2 });
    await context.close();
  });

  it('the English page greets in English', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await openChat(page, '/?lang=en');
    // Web Chat renders the message as Markdown (quotes may be typographic): its opening is matched.
    await page.getByText(/^Hello! I[’']m the customer-service assistant\./).first().waitFor({ timeout: 30_000 });
    expect(await page.getByText(/客服小助手/).count()).toBe(0);
    await context.close();
  });
});
