/**
 * The agent's working day in Debian's chromium driven by playwright-core, against the whole real
 * app on the embedded test database (issue 12, items 6–8):
 * - an admin adds a canned reply (快捷回复) in the admin page;
 * - an agent logs a phone call as a ticket (classified, counted in the customer's profile), assigns
 *   it to a colleague from the active accounts, answers with the canned reply filled for the ticket;
 * - the views (assigned to me, unassigned, waiting for the customer, overdue) list what they say,
 *   with counts, and overdue rows are highlighted;
 * - a bulk assignment from the list; the export of the current filter as CSV and Excel, both files
 *   parsed back;
 * - the review queue lists only pending tickets with its count in the navigation, a confirmation
 *   takes a ticket out; a spam ticket's correction controls are not prefilled with a topic;
 * - the colleague sees the notification; the console in Traditional Chinese.
 * Screenshots go to test-artifacts/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const PASSWORD = 'console-test-password';

let A: RunningApp;

/** Files a ticket the way staff do (classified by the live model); `patch` adjusts the reading. */
async function seed(text: string, opts: { priority?: 'low' | 'normal' | 'high' | 'urgent'; review?: boolean; spam?: boolean; phone?: string } = {}) {
  const c = A.services.runtime.holder.classify(text);
  const reading = { ...c, ...(opts.review ? { needsReview: true, reason: 'low-confidence' as const } : {}) };
  const { ticket } = await A.services.tickets.fileForCustomer({ channel: 'phone', text, customer: { phone: opts.phone ?? '13800000000' }, priority: opts.priority }, reading, 'seed');
  if (opts.spam) await A.services.tickets.decideSpam(ticket.number, true, 'seed');
  return ticket.number;
}

/** RFC 4180 rows (quoted fields with commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r' && text[i + 1] === '\n') row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    else cell += ch;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows;
}

beforeAll(async () => {
  // Urgent tickets are due after about a second, so "overdue" shows within the test.
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '100', DUE_HOURS: 'urgent=0.0003' });
  for (const [username, role] of [['agent1', 'agent'], ['agent2', 'agent'], ['admin1', 'admin']] as const) {
    await A.app.staff.auth.createUser({ username, password: PASSWORD, role, createdBy: 'test' });
  }
});

afterAll(async () => {
  await A?.stop();
});

describe.skipIf(!existsSync(CHROMIUM))('the working day in a real browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function open(username: string, hash = '#/inbox'): Promise<Page> {
    const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (err) => {
      throw new Error(`page error: ${err.message}`);
    });
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${A.url}/console${hash}`);
    await page.getByLabel('用户名', { exact: true }).fill(username);
    await page.getByLabel('密码', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.locator('nav.nav').waitFor();
    return page;
  }

  const snap = async (page: Page, name: string) => {
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  };
  const rowNumbers = (page: Page) => page.locator('table.tickets tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-number')));

  it('canned reply, phone ticket, assignment, views, bulk, export, review, notifications, zh-Hant', async () => {
    // Tickets already there: one in review, one spam, one urgent (overdue soon), one the agent's, one waiting for the customer.
    const inReview = await seed('东西一直没收到', { review: true, phone: '13811110001' });
    const spam = await seed('加微信领取免费礼品，点击链接', { spam: true, phone: '13811110002' });
    const urgent = await seed('充电器插上就冒烟，差点着火', { priority: 'urgent', phone: '13811110003' });
    const mine = await seed('退款一周了还没到账', { phone: '13811110004' });
    await A.services.tickets.change(mine, { assignee: 'agent1' }, 'seed');
    const waiting = await seed('包裹显示签收但我没收到', { phone: '13811110005' });
    await A.services.tickets.reply(waiting, '已联系快递核实，请稍候。', 'seed');

    // The admin adds a canned reply.
    const admin = await open('admin1', '#/admin');
    await admin.getByTestId('canned-title').fill('已收到');
    await admin.getByTestId('canned-text').fill('{customerName}您好，您的工单 {ticketNumber} 已收到，我们会尽快处理。');
    await admin.locator('[data-action="canned-save"]').click();
    await admin.getByTestId('canned-list').getByText('已收到', { exact: true }).waitFor();
    await snap(admin, 'console-admin-canned.png');
    await admin.close();

    // A phone call, logged by the agent.
    const page = await open('agent1');
    await page.getByRole('link', { name: '登记工单' }).click();
    await page.getByTestId('new-channel').selectOption('phone');
    await page.getByLabel('客户姓名', { exact: true }).fill('王女士');
    await page.getByLabel('电话', { exact: true }).fill('139 1234 5678');
    await page.getByTestId('new-text').fill('快递寄出五天了还没送到，物流信息一直没有更新');
    await snap(page, 'console-new-ticket.png');
    await page.locator('[data-action="file-ticket"]').click();
    await page.getByTestId('ticket-number').waitFor();
    const phoneTicket = (await page.getByTestId('ticket-number').textContent())!;
    const stored = (await A.store.tickets.get(phoneTicket))!;
    expect(stored).toMatchObject({ customer: { channelId: 'phone', name: '王女士' }, contact: { phone: '139 1234 5678' }, topic: 'delivery' });
    expect(await page.getByTestId('ticket-topic').textContent()).toBe('物流配送');

    // Assigned to a colleague chosen from the active accounts.
    const assignee = page.getByTestId('assignee');
    expect(await assignee.locator('option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toEqual(['', 'admin1', 'agent1', 'agent2']);
    await assignee.selectOption('agent2');
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await expect.poll(async () => (await A.store.tickets.get(phoneTicket))!.assignee).toBe('agent2');

    // The canned reply, filled for this ticket, into the reply box and sent.
    await page.getByTestId('canned-replies').selectOption({ label: '已收到' });
    const filled = `王女士您好，您的工单 ${phoneTicket} 已收到，我们会尽快处理。`;
    expect(await page.getByTestId('reply-text').inputValue()).toBe(filled);
    await page.getByRole('button', { name: '发送回复' }).click();
    await expect.poll(() => page.getByTestId('timeline').textContent()).toContain(filled);
    expect((await A.store.tickets.get(phoneTicket))!.replies.at(-1)).toMatchObject({ text: filled, by: 'agent1' });
    // A phone call has no channel to send on: the reply is a record, not an undelivered message to send again.
    await expect.poll(() => page.getByTestId('timeline').getByTestId('delivery').last().textContent()).toBe('已记录，未发送');
    expect(await page.getByTestId('timeline').getByTestId('retry-reply').count()).toBe(0);
    expect(await page.getByTestId('timeline').textContent()).not.toContain('no conversation reference');
    await snap(page, 'console-ticket-canned.png');

    // The views.
    await new Promise((r) => setTimeout(r, 1200));
    await page.goto(`${A.url}/console#/inbox?view=mine`);
    await expect.poll(() => rowNumbers(page)).toEqual([mine]);
    await page.getByRole('link', { name: /等待客户回复/ }).click();
    await expect.poll(() => rowNumbers(page)).toEqual([phoneTicket, waiting]);
    await page.getByRole('link', { name: /已超时/ }).click();
    await expect.poll(() => rowNumbers(page)).toEqual([urgent]);
    expect(await page.locator(`tr[data-number="${urgent}"]`).getAttribute('class')).toContain('overdue');
    await expect.poll(() => page.locator('[data-count="overdue"]').textContent()).toBe('1');
    await snap(page, 'console-view-overdue.png');
    await page.getByRole('link', { name: /未分配/ }).click();
    await expect.poll(async () => (await rowNumbers(page)).sort()).toEqual([inReview, urgent, waiting].sort());
    await expect.poll(() => page.locator('[data-count="unassigned"]').textContent()).toBe('3');

    // Bulk: assign two of the unassigned to me in one request.
    await page.locator(`[data-select="${urgent}"]`).check();
    await page.locator(`[data-select="${waiting}"]`).check();
    await page.getByTestId('bulk-action').selectOption('assign:agent1');
    await snap(page, 'console-bulk.png');
    await page.locator('[data-action="bulk-apply"]').click();
    await expect.poll(() => rowNumbers(page)).toEqual([inReview]);
    expect((await A.store.tickets.get(urgent))!.assignee).toBe('agent1');
    expect((await A.store.tickets.get(waiting))!.assignee).toBe('agent1');
    expect((await A.store.audit.list({ action: 'ticket.bulk' })).items[0]).toMatchObject({ actor: 'agent1', details: { action: 'assign', ok: 2, failed: 0 } });
    await page.getByRole('link', { name: /分配给我/ }).click();
    await expect.poll(async () => (await rowNumbers(page)).sort()).toEqual([mine, urgent, waiting].sort());

    // Export of the current filter (assigned to me): CSV with BOM and Excel, both parsed.
    const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action="export-csv"]').click()]);
    expect(csv.suggestedFilename()).toMatch(/^tickets-\d{4}-\d{2}-\d{2}\.csv$/);
    const csvBytes = readFileSync((await csv.path())!);
    expect([...csvBytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(csvBytes.toString('utf8').slice(1));
    expect(rows[0][0]).toBe('工单号');
    expect(rows.slice(1).map((r) => r[0]).sort()).toEqual([mine, urgent, waiting].sort());
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.locator('[data-action="export-xlsx"]').click()]);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile((await xlsx.path())!);
    const sheet = wb.worksheets[0];
    expect(sheet.getRow(1).getCell(1).value).toBe('工单号');
    expect(sheet.getColumn(1).values.slice(2).map(String).sort()).toEqual([mine, urgent, waiting].sort());
    await expect.poll(() => page.getByTestId('export-status').textContent()).toContain('3');

    // Review: only pending tickets, the count in the navigation; a confirmation takes one out.
    await expect.poll(() => page.getByTestId('review-count').textContent()).toBe('1');
    await page.getByRole('link', { name: /待复核/ }).first().click();
    await expect.poll(() => rowNumbers(page)).toEqual([inReview]);
    await snap(page, 'console-review-queue.png');
    await page.getByRole('link', { name: inReview }).click();
    await page.getByTestId('confirm-review').click();
    await expect.poll(() => page.getByTestId('reviewed-by').textContent()).toContain('agent1');
    expect(await A.store.training.get(inReview)).toMatchObject({ source: 'review', spam: false });
    await expect.poll(() => page.getByTestId('review-count').count()).toBe(0);
    await page.getByRole('link', { name: /待复核/ }).first().click();
    await page.locator('p.empty').waitFor();
    expect(await rowNumbers(page)).toEqual([]);

    // A spam ticket: its correction controls say "choose", never a topic it does not have.
    await page.goto(`${A.url}/console#/tickets/${spam}`);
    await page.getByTestId('ticket-number').waitFor();
    expect(await page.getByTestId('correct-topic').inputValue()).toBe('');
    expect(await page.getByTestId('correct-topic').locator('option:checked').textContent()).toBe('— 请选择 —');
    expect(await page.getByTestId('correct-topic').isDisabled()).toBe(true);
    await page.getByTestId('not-spam').click();
    await page.getByTestId('mark-spam').waitFor();
    expect(await page.getByTestId('correct-topic').isDisabled()).toBe(false);

    // The colleague is told about the assignment.
    const other = await open('agent2');
    await expect.poll(() => other.getByTestId('unread-count').textContent()).toBe('1');
    await other.locator('[data-action="notifications"]').click();
    expect(await other.getByTestId('notifications').textContent()).toContain(`agent1 把工单 ${phoneTicket} 分配给了您`);
    await snap(other, 'console-notifications.png');
    await other.locator('[data-action="read-all"]').click();
    await expect.poll(() => other.getByTestId('unread-count').count()).toBe(0);

    // Live, without reloading: a ticket filed elsewhere appears in the list, and an assignment
    // reaches the bell. The regular refresh (every 30 s) runs only while the page is visible; with
    // the page reading as hidden, only the live stream can bring these, however long a loaded
    // machine takes (a 20 s bound on filing plus both updates was close there).
    await other.goto(`${A.url}/console#/inbox`);
    await other.locator('table.tickets').waitFor();
    await other.evaluate("Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })");
    const fresh = await seed('快递员把包裹放在门口就走了，现在找不到了', { phone: '13811110009' });
    await expect.poll(() => rowNumbers(other), { timeout: 60_000 }).toContain(fresh);
    await A.services.tickets.change(fresh, { assignee: 'agent2' }, 'agent1');
    await expect.poll(() => other.getByTestId('unread-count').textContent(), { timeout: 60_000 }).toBe('1');
    await other.evaluate('delete document.visibilityState');

    // Traditional Chinese, every page text from the zh-Hant dictionary.
    await other.getByRole('button', { name: '繁體' }).click();
    await expect.poll(() => other.locator('nav.nav').textContent()).toContain('待複核');
    expect(await other.evaluate('document.documentElement.lang')).toBe('zh-Hant');
    await other.goto(`${A.url}/console#/inbox?view=mine`);
    await expect.poll(() => other.locator('.view-tabs').textContent()).toContain('等待客戶回覆');
    expect(await other.locator('table.tickets thead').textContent()).toContain('應完成時間');
    // Taxonomy names in Traditional too (the type 投诉 → 投訴).
    expect(await other.locator('table.tickets tbody').textContent()).toContain('投訴');
    await snap(other, 'console-zh-hant.png');
    await Promise.all([page.close(), other.close()]);
  });
});
