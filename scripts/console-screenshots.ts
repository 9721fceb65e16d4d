/**
 * npm run -s screenshots -- [--out docs/screenshots] [--chromium /usr/bin/chromium]
 *
 * Screenshots of the staff console for the README, taken by Debian's chromium (playwright-core,
 * headless) against the real app: the server on a fresh embedded database in a temporary folder
 * (or a new database on MONGODB_URI), the shipped model, demo tickets filed through the desk as
 * staff and the bot file them (texts from the team's corpus style, no customer data), demo users
 * and a canned reply. Writes PNG files into --out and prints {"files": [...]} last. The database is
 * removed afterwards.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { chromium, type Page } from 'playwright-core';
import { createApp } from '../bot/app.js';
import { ticketClassification } from '../desk/classification.js';
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { PROJECT_ROOT } from '../runtime/datasets.js';
import { flags, printJson, runCli, shownPath } from './cli.js';
import { benchTempDir } from './temp-dir.js';

const PASSWORD = 'screenshots-password';

/** Demo demands: [text, channel, customer name, phone, priority, in review]. */
const DEMANDS: [string, string, string, string, 'low' | 'normal' | 'high' | 'urgent', boolean][] = [
  ['快递寄出五天了还没送到，物流信息一直没有更新', 'phone', '王女士', '139 1234 5678', 'high', false],
  ['充电器插上就冒烟，差点着火，太危险了', 'walk-in', '陈先生', '138 0011 2233', 'urgent', false],
  ['申请退货一周了，退款还没到账', 'letter', '刘女士', '137 2222 3333', 'normal', false],
  ['会员积分怎么突然清零了', 'webchat', '', '', 'normal', true],
  ['你们的东西怎么样', 'webchat', '', '', 'low', true],
  ['包裹显示已签收但我没有收到', 'phone', '赵先生', '136 4444 5555', 'normal', false],
  ['客服电话一直打不通，等了半个小时', 'email', '孙女士', '', 'normal', false],
];

async function main(): Promise<void> {
  const { values } = flags({ out: { type: 'string', default: resolve(PROJECT_ROOT, 'docs/screenshots') }, chromium: { type: 'string', default: '/usr/bin/chromium' } });
  const out = resolve(values.out);
  mkdirSync(out, { recursive: true });
  const tmp = benchTempDir('screenshots-');
  const dir = tmp.path;
  // Urgent tickets are due in a few seconds here, so the overdue view has something to show.
  const config = loadConfig({ ...(process.env as Record<string, string>), PORT: '0', HOST: '127.0.0.1', DB_DIR: join(dir, 'db'), DB_NAME: `screenshots_${Date.now().toString(36)}`, OUTBOX_PATH: join(dir, 'outbox.jsonl'), DUE_HOURS: 'urgent=0.001', LOG_LEVEL: 'warn' });
  const log = pino({ level: 'warn' }, pino.destination(2));
  const services = await createServices(config, { log });
  const app = createApp({ config, services, log });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: values.chromium, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  const files: string[] = [];
  try {
    for (const [username, role] of [['zhang', 'agent'], ['li', 'agent'], ['admin', 'admin']] as const) await services.auth.createUser({ username, password: PASSWORD, role, createdBy: 'screenshots' });
    await services.store.cannedReplies.create({ lang: 'zh-Hans', title: '已受理', text: '{customerName}您好，您的工单 {ticketNumber} 已受理，{agentName} 会尽快跟进处理。' }, 'admin');
    await services.store.cannedReplies.create({ lang: 'zh-Hans', title: '请补充信息', text: '您好，为尽快处理工单 {ticketNumber}，请提供订单号和收货地址。' }, 'admin');
    const numbers: string[] = [];
    for (const [i, [text, channel, name, phone, priority, review]] of DEMANDS.entries()) {
      const c = services.runtime.holder.classify(text);
      if (channel === 'webchat') {
        const { ticket } = await services.tickets.file({ customer: { channelId: 'webchat', userId: `demo-${i}` }, conversationRef: null, text: { original: text, normalized: c.normalized }, classification: ticketClassification(review ? { ...c, needsReview: true, reason: 'low-confidence' } : c, { topic: c.topic, type: c.type }), priority });
        numbers.push(ticket.number);
      } else {
        const customer = { ...(name ? { name } : {}), ...(phone ? { phone } : {}), ...(channel === 'email' ? { email: 'sun@example.com' } : {}) };
        const { ticket } = await services.tickets.fileForCustomer({ channel: channel as 'phone', text, customer, priority }, c, 'zhang');
        numbers.push(ticket.number);
      }
    }
    await services.tickets.change(numbers[0], { assignee: 'zhang', status: 'in_progress' }, 'li');
    await services.tickets.change(numbers[2], { assignee: 'zhang' }, 'li');
    await services.tickets.reply(numbers[5], '已联系快递公司核实签收情况，请您稍候。', 'li');
    await services.tickets.addCustomerMessage(numbers[0], '请问明天能送到吗？');
    // Files the customer sent (as the e-mail channel keeps them): a picture, a PDF, one over the cap.
    const picture = readFileSync(join(PROJECT_ROOT, 'docs/screenshots/console-admin-canned.png'));
    await services.store.attachments.add([
      { ticketNumber: numbers[0], filename: '快递面单.png', contentType: 'image/png', size: picture.length, content: picture, note: null, channelId: 'email', messageRef: '<demo-1@example.com>' },
      { ticketNumber: numbers[0], filename: '订单截图.pdf', contentType: 'application/pdf', size: 48_213, content: Buffer.alloc(48_213, 32), note: null, channelId: 'email', messageRef: '<demo-1@example.com>' },
      { ticketNumber: numbers[0], filename: '开箱视频.mp4', contentType: 'video/mp4', size: 31_457_280, content: null, note: 'over the 8388608-byte limit: in the customer’s e-mail <demo-1@example.com>', channelId: 'email', messageRef: '<demo-1@example.com>' },
    ], 'screenshots-demo');
    await new Promise((r) => setTimeout(r, 4000));

    const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 860 } });
    const shot = async (p: Page, name: string) => {
      await p.evaluate('window.scrollTo(0, 0)');
      await p.waitForTimeout(300);
      const file = join(out, name);
      await p.screenshot({ path: file, fullPage: true });
      files.push(shownPath(file, PROJECT_ROOT));
    };
    const login = async (p: Page, username: string, hash: string) => {
      await p.goto(`${base}/console${hash}`);
      await p.getByLabel('用户名', { exact: true }).fill(username);
      await p.getByLabel('密码', { exact: true }).fill(PASSWORD);
      await p.getByRole('button', { name: '登录', exact: true }).click();
      await p.locator('nav.nav').waitFor();
    };
    await login(page, 'zhang', '#/inbox');
    await page.locator('table.tickets').waitFor();
    await page.locator('[data-count="overdue"]:not(:empty)').waitFor();
    await shot(page, 'console-inbox.png');
    await page.goto(`${base}/console#/inbox?view=overdue`);
    await page.locator('tr.overdue').first().waitFor();
    await shot(page, 'console-view-overdue.png');
    await page.goto(`${base}/console#/review`);
    await page.locator('table.tickets').waitFor();
    await shot(page, 'console-review.png');
    await page.goto(`${base}/console#/tickets/${numbers[0]}`);
    await page.getByTestId('canned-replies').selectOption({ label: '已受理' });
    await shot(page, 'console-ticket.png');
    await page.getByTestId('thumbnail').locator('img').waitFor();
    const filesShot = join(out, 'console-attachments.png');
    await page.getByTestId('attachments').screenshot({ path: filesShot });
    files.push(shownPath(filesShot, PROJECT_ROOT));
    await page.goto(`${base}/console#/new`);
    await page.getByTestId('new-text').fill('上周买的热水壶漏水，要求换货');
    await page.getByLabel('客户姓名', { exact: true }).fill('周先生');
    await page.getByLabel('电话', { exact: true }).fill('135 6666 7777');
    await shot(page, 'console-new-ticket.png');
    await page.goto(`${base}/console#/inbox`);
    await page.locator('[data-action="notifications"]').click();
    await page.getByTestId('notifications').waitFor();
    await shot(page, 'console-notifications.png');
    await page.getByRole('button', { name: '繁體' }).click();
    await page.goto(`${base}/console#/inbox?view=mine`);
    await page.locator('table.tickets').waitFor();
    await shot(page, 'console-zh-hant.png');
    await page.getByRole('button', { name: 'English' }).click();
    await page.goto(`${base}/console#/inbox?view=unassigned`);
    await page.locator('table.tickets').waitFor();
    await shot(page, 'console-en.png');
    const admin = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 860 } });
    await login(admin, 'admin', '#/admin');
    await admin.getByTestId('canned-list').waitFor();
    await admin.getByTestId('canned-list').scrollIntoViewIfNeeded();
    const file = join(out, 'console-admin-canned.png');
    await admin.getByTestId('canned-list').locator('xpath=ancestor::section[1]').screenshot({ path: file });
    files.push(shownPath(file, PROJECT_ROOT));
  } finally {
    await browser.close();
    await app.closeChannels();
    app.server.close();
    await services.db.dropDatabase().catch(() => undefined);
    await services.close();
    tmp.remove();
  }
  printJson({ files });
}

runCli(main);
