import { mkdirSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { DirectLineClient } from '../../scripts/directline-client.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

/**
 * The web chat channel end to end: the real app with its Direct Line endpoint, first with a
 * protocol client (HTTP + WebSocket), then in Debian's chromium driven by playwright-core: open the
 * page, complain in Chinese, confirm, get a ticket number, find the ticket in the database.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const SECRET = 'webchat-test-direct-line-secret';
let running: RunningApp;

beforeAll(async () => {
  running = await startApp(inject('mongoUri'), { DIRECT_LINE_SECRET: SECRET });
});

afterAll(async () => {
  await running?.stop();
});

describe('Direct Line channel of the real app', () => {
  it('takes a complaint over Direct Line and stores the ticket', async () => {
    // As an embedding site's server: the secret's holder names its user.
    const c = await DirectLineClient.open(running.url, 'dl-user-1', SECRET);
    try {
      const confirm = await c.replyTo(await c.send('我的快递三天了还没到，物流信息一直不更新'));
      expect(confirm.text).toMatch(/「物流配送」的投诉，对吗/);
      expect(confirm.suggestedActions?.actions.map((a) => a.title)).toContain('对');
      await c.replyTo(await c.send('对'));
      const done = await c.replyTo(await c.send('跳过'));
      const number = done.text?.match(/T\d{8}-\d{4}/)?.[0];
      expect(number).toBeDefined();
      const ticket = await running.store.tickets.get(number!);
      // Staff see the customer's pseudonymous reference, never the id the site gave its user.
      expect(ticket).toMatchObject({ topic: 'delivery', customer: { channelId: 'webchat', userId: expect.stringMatching(/^webchat:c-[\w-]{22}$/) } });
      expect(ticket?.customer.userId).not.toContain('dl-user-1');
      // A staff reply reaches the customer on this channel.
      const sent = await running.services.tickets.reply(number!, '已为您催件，明天送达。', 'alice');
      expect(sent.delivered).toBe(true);
    } finally {
      c.close();
    }
  });
});

describe.skipIf(!existsSync(CHROMIUM))('web chat page in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('complains in Chinese, confirms, receives a ticket number that is in the database', async () => {
    const page = await browser.newPage({ locale: 'zh-CN' });
    await page.goto(`${running.url}/`);
    const input = page.locator('[data-id="webchat-sendbox-input"]');
    await input.waitFor({ timeout: 30_000 });
    await page.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
    const say = async (text: string) => {
      await input.fill(text);
      await input.press('Enter');
    };
    await say('买的吹风机用了一次就冒烟了，质量太差了');
    await page.getByText(/对吗/).last().waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: '对', exact: true }).last().click();
    await page.getByText(/手机号或邮箱/).last().waitFor({ timeout: 60_000 });
    await say('跳过');
    const created = page.getByText(/已为您登记工单 T\d{8}-\d{4}/).last();
    await created.waitFor({ timeout: 60_000 });
    const number = (await created.textContent())!.match(/T\d{8}-\d{4}/)![0];
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'webchat-ticket.png'), fullPage: true });
    const ticket = await running.store.tickets.get(number);
    expect(ticket).toMatchObject({ status: 'new', customer: { channelId: 'webchat' } });
    expect(ticket!.text.original).toBe('买的吹风机用了一次就冒烟了，质量太差了');
  });
});
