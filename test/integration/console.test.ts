/**
 * The staff web console against the whole real app (real classifier, store on the embedded test
 * database, staff API, web chat channel):
 *
 * 1. Static serving (plain HTTP): the page, scripts and CSS with their content types and caching
 *    headers (ETag → 304), ECharts from the package, nothing outside the allow-list (no path
 *    traversal); every text key the pages use exists in Chinese and English; no innerHTML.
 * 2. In Debian's chromium driven by playwright-core — the end-to-end flow: a customer files
 *    a ticket in the web chat (picking another topic than the classifier's, so it goes to review);
 *    an agent logs in, opens the review queue, opens the ticket, corrects its topic, moves it on
 *    (status, assignee), meets a conflict when someone else changed the ticket meanwhile, replies,
 *    and the reply appears in the customer's open web chat; the customer profile and the
 *    dashboard's ECharts charts render; the language switch and an expired session behave.
 * 3. A trainer retrains (progress bar), compares the new version with the live one (confusion
 *    heatmaps), activates it and rolls back; the keyword editor saves an edit.
 * 4. An admin manages users and API tokens.
 * 5. Repeated failed logins lock the login, and the page says so.
 * Screenshots go to test-artifacts/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadDemandClassifier } from '../../runtime/classifier-factory.js';
import { loadConfig } from '../../runtime/config.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { loadTaxonomy } from '../../runtime/project-data.js';
import { CONSOLE_DIR, CONSOLE_FILES } from '../../staff/console.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const PASSWORD = 'console-test-password';
const taxonomy = loadTaxonomy(join(PROJECT_ROOT, 'data'));
const zhTopic = (id: string) => taxonomy.topics.find((t) => t.id === id)!.name.zh;

let running: RunningApp;
let url: string;

beforeAll(async () => {
  running = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '100' });
  url = running.url;
  for (const [username, role] of [['agent1', 'agent'], ['trainer1', 'trainer'], ['admin1', 'admin']] as const) {
    await running.app.staff.auth.createUser({ username, password: PASSWORD, role, createdBy: 'console-test' });
  }
});

afterAll(async () => {
  await running?.stop();
});

/** GET with a raw path (node:http does not normalise `..` the way fetch does). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console files', () => {
  it('serves the page, scripts, styles and ECharts with content types and caching headers', async () => {
    const page = await fetch(`${url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<script type="module" src="/console/app.js"></script>');
    expect((await fetch(`${url}/console/`)).status).toBe(200);

    for (const file of CONSOLE_FILES) {
      const res = await fetch(`${url}/console/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers.get('content-type'), file).toBe(file.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8');
      expect(await res.text(), file).toBe(readFileSync(join(CONSOLE_DIR, file), 'utf8'));
    }

    const app = await fetch(`${url}/console/app.js`);
    const etag = app.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(app.headers.get('cache-control')).toBe('no-cache');
    const again = await fetch(`${url}/console/app.js`, { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);

    const echarts = await fetch(`${url}/console/vendor/echarts.min.js`);
    expect(echarts.status).toBe(200);
    expect(echarts.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(echarts.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(Number(echarts.headers.get('content-length'))).toBeGreaterThan(500_000);
  });

  it('serves nothing outside its allow-list', async () => {
    for (const path of [
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/..%2fpackage.json',
      '/console/pages/../../package.json',
      '/console/pages/%2e%2e/%2e%2e/staff/console.ts',
      '/console/vendor/../app.js.map',
      '/console/index.html.bak',
      '/console/nope.js',
      '/console/pages/',
      '/console/vendor/echarts.js',
      '/console//etc/passwd',
    ]) {
      const res = await rawGet(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"dependencies"');
    }
  });

  it('has every text the pages use in Simplified Chinese, Traditional Chinese and English, and never writes HTML from strings', async () => {
    const { DICT } = (await import(pathToFileURL(join(CONSOLE_DIR, 'i18n.js')).href)) as { DICT: Record<string, Record<string, string>> };
    const files = [...readdirSync(CONSOLE_DIR).filter((f) => f.endsWith('.js')), ...readdirSync(join(CONSOLE_DIR, 'pages')).map((f) => `pages/${f}`)];
    expect(files.sort()).toEqual([...CONSOLE_FILES].filter((f) => f.endsWith('.js')).sort());
    const used = new Set<string>();
    for (const f of files) {
      const src = readFileSync(join(CONSOLE_DIR, f), 'utf8');
      expect(src, f).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/);
      for (const m of src.matchAll(/\bt(?:Or|Parts)?\('([\w.-]+)'/g)) used.add(m[1]);
    }
    expect(used.size).toBeGreaterThan(200);
    for (const lang of ['zh-Hans', 'zh-Hant', 'en']) {
      const missing = [...used].filter((k) => !(k in DICT[lang]));
      expect(missing, lang).toEqual([]);
    }
    expect(Object.keys(DICT.en).sort()).toEqual(Object.keys(DICT['zh-Hans']).sort());
    expect(Object.keys(DICT['zh-Hant']).sort()).toEqual(Object.keys(DICT['zh-Hans']).sort());
    // Traditional texts are Traditional: no Simplified-only character from the source survives conversion.
    expect(DICT['zh-Hant']['nav.review']).toBe('待複核');
    expect(DICT['zh-Hant']['ticket.customer']).toBe('客戶');
    for (const [k, v] of Object.entries(DICT['zh-Hant'])) expect(v.match(/\{\w+\}/g) ?? [], k).toEqual(DICT['zh-Hans'][k].match(/\{\w+\}/g) ?? []);
  });

  it('keyword editor: lays the edits over the model keywords and turns re-weight, pin, remove and add back into edits', async () => {
    type Row = { term: string; modelWeight: number | null; override: number | null; pinned: boolean; removed: boolean; added: boolean };
    const { rowsFromView, editsFromRows } = (await import(pathToFileURL(join(CONSOLE_DIR, 'pages', 'keywords.js')).href)) as {
      rowsFromView: (view: unknown) => Row[];
      editsFromRows: (rows: Row[]) => { set: Record<string, number>; pin: string[]; remove: string[] };
    };
    const view = {
      keywords: [
        { term: '快递', weight: 5.1, source: 'auto' },
        { term: '物流', weight: 4.2, source: 'auto' },
        { term: '包裹', weight: 3.3, source: 'auto' },
      ],
      edits: { set: { 物流: 6, 催件: 2.5 }, pin: ['快递'], remove: ['顺丰'] },
      revision: 3,
    };
    const rows = rowsFromView(view);
    const by = (term: string) => rows.find((r) => r.term === term)!;
    expect(by('快递')).toMatchObject({ modelWeight: 5.1, override: null, pinned: true, removed: false, added: false });
    expect(by('物流')).toMatchObject({ modelWeight: 4.2, override: 6 });
    expect(by('催件')).toMatchObject({ modelWeight: null, override: 2.5, added: true });
    expect(by('顺丰')).toMatchObject({ removed: true });
    // Unchanged rows give back exactly the stored edits.
    expect(editsFromRows(rows)).toEqual({ set: { 物流: 6, 催件: 2.5 }, pin: ['快递'], remove: ['顺丰'] });
    // Re-weight, unpin, remove, restore.
    by('包裹').override = 1.5;
    by('快递').pinned = false;
    Object.assign(by('物流'), { removed: true, override: null });
    by('顺丰').removed = false;
    expect(editsFromRows(rows)).toEqual({ set: { 催件: 2.5, 包裹: 1.5 }, pin: [], remove: ['物流'] });
  });
});

describe.skipIf(!existsSync(CHROMIUM))('console in a real browser', () => {
  let browser: Browser;
  let ticketNumber: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** A page that fails the test on any script error. */
  async function newPage(width = 1280): Promise<Page> {
    const page = await browser.newPage({ locale: 'zh-CN', viewport: { width, height: 900 } });
    page.on('pageerror', (err) => {
      throw new Error(`page error: ${err.message}`);
    });
    page.on('dialog', (d) => void d.accept());
    return page;
  }

  async function login(page: Page, username: string, password = PASSWORD): Promise<void> {
    await page.getByLabel('用户名', { exact: true }).fill(username);
    await page.getByLabel('密码', { exact: true }).fill(password);
    await page.getByRole('button', { name: '登录', exact: true }).click();
  }

  /** A full-page screenshot in test-artifacts/ (scrolled to the top first, so the sticky header sits right). */
  async function snap(page: Page, name: string): Promise<void> {
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ARTIFACTS, name), fullPage: true });
  }

  /** Every ECharts chart in `page` has drawn a canvas of non-zero size. */
  async function expectCharts(page: Page, keys: string[]): Promise<void> {
    for (const key of keys) {
      const canvas = page.locator(`[data-chart="${key}"] canvas`).first();
      await canvas.waitFor({ timeout: 60_000 });
      const box = await canvas.boundingBox();
      expect(box, key).not.toBeNull();
      expect(box!.width, key).toBeGreaterThan(100);
      expect(box!.height, key).toBeGreaterThan(100);
    }
  }

  it('agent: review queue → correct the topic → follow up → conflict → reply that reaches the web chat; profile and dashboard', async () => {
    // Tickets filed earlier on another channel: two sent to review, one not (it shares words with
    // the web chat complaint below, so the dashboard has an emerging keyword).
    const classifier = await loadDemandClassifier(loadConfig({}));
    for (const [i, [text, review]] of ([['会员积分怎么突然清零了', true], ['你们的东西怎么样', true], ['吹风机插上电就冒烟，什么质量', false]] as const).entries()) {
      const c = classifier.classify(text);
      await running.services.tickets.file({
        customer: { channelId: 'msteams', userId: `teams-user-${i}` },
        conversationRef: null,
        text: { original: text, normalized: c.normalized },
        classification: { lang: c.lang, topic: c.topic, type: c.type, spam: false, confidence: c.confidence, alternatives: c.alternatives, keywords: c.keywords, modelVersion: c.modelVersion, needsReview: review, reviewReason: review ? 'low-confidence' : null },
      });
    }

    // The customer, in the web chat: complains, picks another topic than the suggested one.
    const chat = await newPage(900);
    await chat.goto(`${url}/`);
    const input = chat.locator('[data-id="webchat-sendbox-input"]');
    await input.waitFor({ timeout: 30_000 });
    await chat.getByText(/客服小助手/).first().waitFor({ timeout: 60_000 });
    const say = async (text: string) => {
      await input.fill(text);
      await input.press('Enter');
    };
    await say('买的吹风机用了一次就冒烟了，质量太差了');
    await chat.getByText(/对吗/).last().waitFor({ timeout: 60_000 });
    const offered = await chat.getByRole('button').allTextContents();
    const other = offered.map((s) => s.trim()).find((s) => taxonomy.topics.some((t) => t.name.zh === s) && s !== zhTopic('quality'));
    expect(other, `a topic among the suggested actions: ${offered.join(', ')}`).toBeDefined();
    await chat.getByRole('button', { name: other, exact: true }).last().click();
    await chat.getByText(/手机号或邮箱/).last().waitFor({ timeout: 60_000 });
    await say('跳过');
    const created = chat.getByText(/已为您登记工单 T\d{8}-\d{4}/).last();
    await created.waitFor({ timeout: 60_000 });
    ticketNumber = (await created.textContent())!.match(/T\d{8}-\d{4}/)![0];
    const filed = await running.store.tickets.get(ticketNumber);
    expect(filed).toMatchObject({ needsReview: true, reviewReason: 'customer-picked-topic', customer: { channelId: 'webchat' } });
    expect(filed!.topic).not.toBe('quality');

    // The agent logs in (Chinese by default) and opens the review queue.
    const page = await newPage();
    await page.goto(`${url}/console`);
    await expect.poll(() => page.evaluate('document.documentElement.lang')).toBe('zh-CN');
    await login(page, 'agent1', 'wrong password!');
    await expect.poll(() => page.getByTestId('login-message').textContent()).toContain('用户名或密码错误');
    await login(page, 'agent1');
    await page.locator('nav.nav').waitFor();
    // An agent sees no trainer or admin pages.
    expect(await page.locator('nav.nav a').evaluateAll((as) => as.map((a) => a.firstChild?.textContent))).toEqual(['工单', '待复核', '在线客服', '登记工单', '数据看板', '客户']);
    await page.getByRole('link', { name: '待复核' }).click();
    // The review page with its list loaded (until the route changes, the inbox's rows are still on
    // the page; then the review page shows an empty list while it loads its own).
    const reviewPage = page.locator('section.page').filter({ has: page.getByRole('heading', { level: 1, name: '待复核', exact: true }) });
    await reviewPage.locator('.results[aria-busy="false"]').waitFor();
    const rows = reviewPage.locator('table.tickets tbody tr');
    const flags = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-number'), tr.classList.contains('needs-review')] as const));
    // Only the tickets waiting for review (three), the newest (the web chat one) at the top; the count beside the navigation agrees.
    expect(flags.length).toBe(3);
    expect(flags.every(([, review]) => review)).toBe(true);
    expect(flags[0][0]).toBe(ticketNumber);
    await expect.poll(() => page.getByTestId('review-count').textContent()).toBe('3');
    await snap(page, 'console-review-queue.png');

    // Ticket detail with the explanation.
    await page.getByRole('link', { name: ticketNumber }).click();
    await page.getByTestId('ticket-number').waitFor();
    expect(await page.getByTestId('ticket-number').textContent()).toBe(ticketNumber);
    await expect.poll(() => page.getByTestId('timeline').textContent()).toContain('买的吹风机用了一次就冒烟了，质量太差了');
    expect(await page.getByTestId('alternatives').locator('li').count()).toBe(3);
    expect(await page.getByTestId('explanation').textContent()).toContain('客户自选了主题');

    // Correct the topic back to 产品质量: stored as a correction and a training example.
    await page.getByTestId('correct-topic').selectOption('quality');
    await page.getByTestId('correct-topic-submit').click();
    await expect.poll(() => page.getByTestId('ticket-topic').textContent()).toBe(zhTopic('quality'));
    await expect.poll(() => page.getByTestId('corrections').textContent()).toContain(`将主题由「${zhTopic(filed!.topic!)}」改为「${zhTopic('quality')}」`);
    const corrected = await running.store.tickets.get(ticketNumber);
    expect(corrected).toMatchObject({ topic: 'quality', needsReview: false });
    expect(corrected!.corrections).toMatchObject([{ field: 'topic', from: filed!.topic, to: 'quality', by: 'agent1' }]);
    expect((await running.store.training.all()).map((e) => e.ticketNumber)).toContain(ticketNumber);

    // Confirm the classification, then mark spam and take it back: each a staff decision the model learns from.
    await page.getByTestId('confirm-review').click();
    await expect.poll(() => page.getByTestId('reviewed-by').textContent()).toContain('agent1');
    expect(await running.store.training.get(ticketNumber)).toMatchObject({ source: 'review', topic: 'quality', spam: false });
    await page.getByTestId('mark-spam').click();
    await page.getByTestId('not-spam').waitFor();
    expect(await page.getByTestId('spam-decision').textContent()).toContain('判定为垃圾信息');
    expect(await running.store.training.get(ticketNumber)).toMatchObject({ source: 'spam-decision', spam: true, topic: null });
    await page.getByTestId('not-spam').click();
    await page.getByTestId('mark-spam').waitFor();
    expect(await page.getByTestId('spam-decision').textContent()).toContain('判定为不是垃圾信息');
    expect(await running.store.tickets.get(ticketNumber)).toMatchObject({ spam: false, spamDecision: { spam: false, by: 'agent1' }, reviewedBy: 'agent1' });
    expect(await running.store.training.get(ticketNumber)).toMatchObject({ source: 'spam-decision', spam: false, topic: 'quality' });

    // Follow-up: only the life cycle's next statuses are offered; status and assignee saved.
    const statusSelect = page.locator('select[name="status"]');
    expect(await statusSelect.locator('option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toEqual(['new', 'in_progress', 'resolved', 'closed']);
    await statusSelect.selectOption('in_progress');
    await page.getByRole('button', { name: '分配给我' }).click();
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await expect.poll(() => page.getByTestId('ticket-status').textContent()).toBe('处理中');
    expect(await running.store.tickets.get(ticketNumber)).toMatchObject({ status: 'in_progress', assignee: 'agent1' });
    expect(await statusSelect.locator('option').evaluateAll((os) => os.map((o) => o.getAttribute('value')))).toEqual(['in_progress', 'resolved', 'closed']);

    // Someone else changes the ticket meanwhile: the console's edit is refused, not overwritten.
    await running.store.tickets.update(ticketNumber, { priority: 'high' }, { by: 'colleague' });
    await page.locator('select[name="priority"]').selectOption('urgent');
    await page.getByRole('button', { name: '保存', exact: true }).click();
    await page.getByTestId('conflict').waitFor();
    expect(await page.getByTestId('conflict').textContent()).toContain('其他同事刚刚修改了这张工单');
    expect((await running.store.tickets.get(ticketNumber))!.priority).toBe('high');
    await page.getByTestId('conflict').getByRole('button', { name: '重新加载' }).click();
    await page.getByTestId('conflict').waitFor({ state: 'detached' });
    expect(await page.locator('select[name="priority"]').inputValue()).toBe('high');

    // A note, then the reply: delivered, and it arrives in the customer's web chat.
    await page.getByLabel('添加备注（客户不可见）').fill('已联系仓库换新');
    await page.getByRole('button', { name: '添加备注' }).click();
    await page.locator('ul.notes').getByText('已联系仓库换新').waitFor();
    const reply = '您好，已为您安排换新，新机明天送达，给您带来不便非常抱歉。';
    await page.getByTestId('reply-text').fill(reply);
    await page.getByRole('button', { name: '发送回复' }).click();
    await expect.poll(() => page.getByTestId('reply-status').textContent()).toBe('回复已送达客户。');
    expect(await page.getByTestId('timeline').getByTestId('delivery').last().textContent()).toBe('已送达');
    await chat.getByText(reply).last().waitFor({ timeout: 60_000 });
    await snap(chat, 'console-webchat-reply.png');
    const replied = await running.store.tickets.get(ticketNumber);
    expect(replied!.replies).toMatchObject([{ text: reply, by: 'agent1', delivered: true }]);
    expect(replied!.firstResponseAt).not.toBeNull();
    await snap(page, 'console-ticket.png');

    // The customer's profile: the web chat is all of their contact (band 5, 依赖).
    await page.getByTestId('customer-profile-link').click();
    await page.getByTestId('channel-preferences').waitFor();
    const prefs = await page.getByTestId('channel-preferences').textContent();
    expect(prefs).toContain('网页聊天');
    expect(prefs).toContain('依赖');
    expect(await page.locator('main').textContent()).toContain(ticketNumber);
    await page.getByRole('link', { name: '客户', exact: true }).first().click();
    await expectCharts(page, ['bands']);

    // The customer rates the ticket (as the web chat's rating turn does), for the dashboard below.
    const ratedTicket = await running.services.tickets.rate(ticketNumber, { score: 4, comment: '换新很快' });

    // The dashboard: every chart draws; the week switch redraws them.
    await page.getByRole('link', { name: '数据看板' }).click();
    await expectCharts(page, ['topic', 'matrix', 'channel', 'status', 'emerging']);
    expect(await page.locator('[data-kpi="tickets"] .kpi-value').textContent()).toBe('4');
    // Satisfaction, which the README promised on the dashboard and only the API had: the average,
    // and by topic, agent, channel and week.
    expect(await page.locator('[data-kpi="satisfaction"] .kpi-value').textContent()).toBe('4.0 / 5');
    const rated = await page.getByTestId('satisfaction').locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)));
    expect(rated.map((r) => r.slice(0, 3))).toEqual([
      ['主题', zhTopic(ratedTicket.topic!), '1'],
      ['处理人', ratedTicket.assignee ?? '未分配', '1'],
      ['渠道', '网页聊天', '1'],
      ['周', expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), '1'],
    ]);
    expect(await page.locator('.chart-emerging table').textContent()).toContain('吹风机');
    await snap(page, 'console-dashboard.png');
    await page.getByText('按周', { exact: true }).click();
    await page.waitForURL(/granularity=week/);
    await expectCharts(page, ['topic', 'matrix', 'channel', 'status', 'emerging']);
    expect(await page.locator('#chart-topic-title').textContent()).toBe('每周工单量（按主题）');

    // English, remembered across a reload; ?lang= works too.
    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => page.locator('nav.nav').textContent()).toContain('Review queue');
    await page.reload();
    await expect.poll(() => page.locator('nav.nav').textContent()).toContain('Dashboard');
    expect(await page.evaluate('document.documentElement.lang')).toBe('en');
    await page.goto(`${url}/console?lang=zh#/inbox`);
    await expect.poll(() => page.locator('nav.nav').textContent()).toContain('待复核');

    // A phone-sized screen.
    const phone = await newPage(390);
    await phone.goto(`${url}/console#/dashboard`);
    await login(phone, 'agent1');
    await expectCharts(phone, ['topic', 'matrix', 'channel', 'status', 'emerging']);
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await snap(phone, 'console-dashboard-390.png');
    await phone.goto(`${url}/console#/tickets/${ticketNumber}`);
    await phone.getByTestId('ticket-number').waitFor();
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await snap(phone, 'console-ticket-390.png');

    // An expired session sends the user to the login page with a message, then back.
    await page.evaluate("sessionStorage.setItem('demand-desk.console.token', 'expired-token-expired-token-expired')");
    await page.goto(`${url}/console#/review`);
    await expect.poll(() => page.getByTestId('login-message').textContent()).toContain('登录已过期');
    await login(page, 'agent1');
    await page.waitForURL(/#\/review$/);
    await page.locator('table.tickets').waitFor();
    await Promise.all([page.close(), phone.close(), chat.close()]);
  });

  it('trainer: retrain with progress, compare with the live version, activate, roll back; keyword edit', async () => {
    // A correction to learn from (also when this test runs alone).
    const classifier = await loadDemandClassifier(loadConfig({}));
    const text = '电视机屏幕出现一条竖线，开机就有';
    const c = classifier.classify(text);
    const { ticket } = await running.services.tickets.file({
      customer: { channelId: 'msteams', userId: 'teams-trainer-case' },
      conversationRef: null,
      text: { original: text, normalized: c.normalized },
      classification: { lang: c.lang, topic: c.topic, type: c.type, spam: false, confidence: c.confidence, alternatives: c.alternatives, keywords: c.keywords, modelVersion: c.modelVersion, needsReview: c.needsReview, reviewReason: c.reason },
    });
    await running.services.tickets.correct(ticket.number, { field: 'topic', to: c.topic === 'aftersales' ? 'quality' : 'aftersales' }, 'trainer1');

    const page = await newPage();
    await page.goto(`${url}/console#/models`);
    await login(page, 'trainer1');
    await page.locator('nav.nav a[data-nav="models"]').waitFor();
    expect(await page.locator('nav.nav a[data-nav="admin"]').count()).toBe(0);
    const models = page.getByTestId('models');
    await models.waitFor({ timeout: 60_000 });
    const liveBefore = (await running.store.models.activeVersion()) ?? (await page.locator('tr.active-row').getAttribute('data-version'));
    expect(liveBefore).toBeTruthy();
    const versionsBefore = await models.locator('tbody tr').count();

    // Retrain: the progress bar moves until the run succeeds.
    await page.locator('[data-action="retrain"]').click();
    await expect.poll(() => page.getByTestId('training-state').textContent(), { timeout: 60_000 }).toBe('训练中');
    const bar = page.getByTestId('training').getByRole('progressbar');
    const seen = new Set<number>();
    let shot = false;
    // Until the run ends, by the clock: this whole test took 168 s at load 18-21 (session 6), most
    // of it the retraining, so a fixed number of polls (600 × 500 ms, 5 min and more) is too close
    // a bound under CI's load; the test's own limit is raised to match.
    const trainingDeadline = Date.now() + 900_000;
    while (Date.now() < trainingDeadline) {
      const state = await page.getByTestId('training-state').textContent().catch(() => null);
      const now = Number(await bar.getAttribute('aria-valuenow').catch(() => null));
      if (Number.isFinite(now)) seen.add(now);
      if (!shot && now >= 20 && state === '训练中') {
        await snap(page, 'console-training-progress.png');
        shot = true;
      }
      if (state === '已完成' || state === '失败') break;
      await page.waitForTimeout(500);
    }
    expect(await page.getByTestId('training-state').textContent()).toBe('已完成');
    expect(await bar.getAttribute('aria-valuenow')).toBe('100');
    expect(seen.size).toBeGreaterThanOrEqual(3); // it moved, not just 0 → 100
    await expect.poll(() => models.locator('tbody tr').count(), { timeout: 60_000 }).toBe(versionsBefore + 1);
    const newVersion = (await models.locator('tbody tr').first().getAttribute('data-version'))!;
    expect(newVersion).not.toBe(liveBefore);

    // Compare the new version with the live one: metrics side by side, two confusion heatmaps.
    await models.locator(`tr[data-version="${newVersion}"] [data-action="compare-active"]`).click();
    await page.getByTestId('metrics').waitFor({ timeout: 60_000 });
    await expectCharts(page, ['confusion-a', 'confusion-b']);
    const metrics = await page.getByTestId('metrics').textContent();
    expect(metrics).toContain('主题 · 准确率');
    expect(metrics).toContain(newVersion);
    expect(await page.locator('[data-side="a"] h2').textContent()).toContain(liveBefore!);
    await snap(page, 'console-compare.png');
    await page.getByRole('link', { name: '类型' }).click();
    await expectCharts(page, ['confusion-a', 'confusion-b']);

    // Activate it (every bot process follows the registry), then roll back.
    await page.getByRole('link', { name: '← 模型' }).click();
    await models.waitFor();
    await models.locator(`tr[data-version="${newVersion}"] [data-action="activate"]`).click();
    await expect.poll(() => models.locator('tr.active-row').getAttribute('data-version'), { timeout: 30_000 }).toBe(newVersion);
    expect(await running.store.models.activeVersion()).toBe(newVersion);
    await snap(page, 'console-activated.png');
    await models.locator(`tr[data-version="${liveBefore}"] [data-action="rollback"]`).click();
    await expect.poll(() => models.locator('tr.active-row').getAttribute('data-version'), { timeout: 30_000 }).toBe(liveBefore);
    expect(await running.store.models.activeVersion()).toBe(liveBefore);

    // Keyword editor: add a pinned keyword with a weight, save, and the edit is stored.
    await page.getByRole('link', { name: '关键词' }).click();
    await page.waitForURL(/#\/keywords\/\w+/);
    await page.locator('#kw-topic').selectOption('delivery');
    await page.getByTestId('keywords').waitFor();
    await page.getByLabel('关键词', { exact: true }).fill('催件');
    await page.getByLabel('权重', { exact: true }).fill('3.5');
    await page.locator('[data-action="add"]').click();
    await page.locator('tr[data-term="催件"]').waitFor();
    await page.locator('[data-action="save"]').click();
    await expect.poll(async () => (await running.store.keywordEdits.latest('delivery'))?.edits.set['催件']).toBe(3.5);
    expect((await running.store.keywordEdits.latest('delivery'))!.edits.pin).toContain('催件');
    await page.getByText(`「${zhTopic('delivery')}」的关键词已保存。`).waitFor();
    await page.locator('tr[data-term="催件"].added').waitFor(); // reloaded from the server: an added, pinned keyword
    expect(await page.locator('tr[data-term="催件"] input[type="checkbox"]').isChecked()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, 'console-keywords.png') });
    await page.close();
  }, 1_200_000);

  it('admin: adds a user, changes the role, disables; creates an API token that works, revokes it', async () => {
    const page = await newPage();
    await page.goto(`${url}/console#/admin`);
    await login(page, 'admin1');
    const users = page.getByTestId('users');
    await users.locator('tr[data-user="agent1"]').waitFor();
    expect(await page.locator('nav.nav a').allTextContents()).toContain('系统管理');

    await page.getByLabel('用户名', { exact: true }).fill('new.agent');
    await page.getByLabel('初始密码', { exact: true }).fill('short');
    await page.getByRole('button', { name: '添加用户' }).click(); // the form refuses a short password
    expect(await running.store.users.get('new.agent')).toBeNull();
    await page.getByLabel('初始密码', { exact: true }).fill('a-long-enough-password');
    await page.getByRole('button', { name: '添加用户' }).click();
    await users.locator('tr[data-user="new.agent"]').waitFor();
    expect(await running.store.users.get('new.agent')).toMatchObject({ role: 'agent', disabled: false, createdBy: 'admin1' });

    await page.getByLabel('new.agent 的角色').selectOption('trainer');
    await expect.poll(async () => (await running.store.users.get('new.agent'))?.role).toBe('trainer');
    await users.locator('tr[data-user="new.agent"]').getByRole('button', { name: '停用' }).click();
    await expect.poll(async () => (await running.store.users.get('new.agent'))?.disabled).toBe(true);
    await users.locator('tr[data-user="new.agent"]').getByText('已停用').waitFor();
    // One's own account cannot be demoted or disabled from here.
    expect(await users.locator('tr[data-user="admin1"] select').isDisabled()).toBe(true);

    // An API token, shown once, that authenticates an integration; revoked, it no longer does.
    await page.locator('select[name="username"]').selectOption('agent1');
    await page.getByLabel('名称', { exact: true }).fill('crm-sync');
    await page.getByRole('button', { name: '创建令牌' }).click();
    const secret = await page.getByLabel('新令牌').inputValue();
    expect(secret.length).toBeGreaterThan(30);
    const withToken = () => fetch(`${url}/api/tickets?pageSize=1`, { headers: { Authorization: `Bearer ${secret}` } }).then((r) => r.status);
    expect(await withToken()).toBe(200);
    await page.getByTestId('tokens').getByText('crm-sync').waitFor();
    await snap(page, 'console-admin.png');
    await page.getByTestId('tokens').getByRole('button', { name: '吊销' }).click();
    await page.getByText('还没有 API 令牌。').waitFor();
    expect(await withToken()).toBe(401);
    await expect.poll(() => page.getByTestId('audit').textContent()).toContain('token.revoke');
    await page.close();
  });

  it('says when the login is locked after repeated failures', async () => {
    // Last in this file: the lock also covers this client address for a while.
    const page = await newPage();
    await page.goto(`${url}/console`);
    let message = '';
    for (let i = 0; i < 8 && !message.includes('锁定'); i++) {
      await login(page, 'admin1', `wrong password ${i}`);
      await expect.poll(() => page.getByTestId('login-message').textContent()).not.toBe('正在登录…');
      message = (await page.getByTestId('login-message').textContent()) ?? '';
    }
    expect(message).toMatch(/登录失败次数过多，账号已暂时锁定，请 \d+ 秒/);
    await page.close();
  });
});
