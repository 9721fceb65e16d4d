/**
 * A ticket's attachments in the staff console, in Debian's chromium driven by playwright-core,
 * against the whole real app on the embedded test database:
 * - a WeChat picture comes through the real path: the local WeChat stand-in (test/helpers/wechat-peer.ts)
 *   pushes a signed, encrypted image message to `/channels/wechat`, the channel files a ticket and
 *   fetches the bytes by MediaId into the `attachments` collection;
 * - e-mail-style files are added to the same ticket through the attachment repository (the IMAP path
 *   is too heavy for a browser test; it is tested end to end in email-channel.test.ts): an SVG
 *   carrying script, a PDF, and a video over the size cap (listed with its note, no bytes);
 * - the console lists all four with name, type, size and channel; only the picture is a thumbnail
 *   (decoded), it opens full size in a dialog; the SVG is never rendered, only downloaded; every
 *   download returns the same bytes; the not-kept file shows its note; the panel in zh-Hant and English.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WECHAT_CHANNEL_ID, type WeChatChannel } from '../../channels/wechat/index.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { WeChatPeer } from '../helpers/wechat-peer.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts');
const PASSWORD = 'attachments-test-password';
const AES_KEY = 'k7WbQx3RmN2pLs8TvYc4Hd6Jf9Ga1Ze5Ur0Io2PaS3w';
const SETTINGS = { token: 'deskTestToken42', appId: 'wx5f1d2c3b4a596877', appSecret: 'standin-app-secret-0123456789', encodingAesKey: AES_KEY };
const NUMBER = /T\d{8}-\d{4}/;
/** What the test reads of an <img> in the page (the DOM library is not in this project's types). */
type Img = { complete: boolean; naturalWidth: number };

/** A real PNG (one of the README's screenshots); its width is in the IHDR chunk. */
const PNG = readFileSync(join(PROJECT_ROOT, 'docs/screenshots/console-admin-canned.png'));
const PNG_WIDTH = PNG.readUInt32BE(16);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script><rect width="10" height="10"/></svg>');
const PDF = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 13) % 256))]);

let peer: WeChatPeer;
let A: RunningApp;

beforeAll(async () => {
  peer = new WeChatPeer(SETTINGS);
  const base = await peer.start();
  A = await startApp(inject('mongoUri'), { WECHAT_TOKEN: SETTINGS.token, WECHAT_APP_ID: SETTINGS.appId, WECHAT_APP_SECRET: SETTINGS.appSecret, WECHAT_ENCODING_AES_KEY: AES_KEY, WECHAT_API_BASE: base, RATE_LIMIT_PER_10S: '100' });
  peer.pushTo(A.url);
  await A.app.staff.auth.createUser({ username: 'fileagent', password: PASSWORD, role: 'agent', createdBy: 'test' });
});

afterAll(async () => {
  await A?.stop();
  await peer?.stop();
});

describe.skipIf(!existsSync(CHROMIUM))('attachments in the ticket view', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('lists a WeChat picture and e-mail files: thumbnail, full size, downloads with the same bytes, a note, SVG never rendered', async () => {
    // The WeChat picture, through the channel.
    peer.addMedia('media-console-1', PNG, 'image/png');
    const pushed = await peer.push('oWxAttachConsoleTest0001abcd', { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_png/standin/c1', mediaId: 'media-console-1' });
    const number = NUMBER.exec(pushed.reply ?? '')?.[0];
    expect(number, pushed.body).toBeDefined();
    await (A.app.channels.find((c) => c.id === WECHAT_CHANNEL_ID) as WeChatChannel).idle();
    const [picture] = await A.store.attachments.list(number!);
    expect(picture).toMatchObject({ channelId: 'wechat', contentType: 'image/png', size: PNG.length, stored: true });

    // E-mail files on the same ticket, through the repository.
    await A.store.attachments.add(
      [
        { ticketNumber: number!, filename: 'logo.svg', contentType: 'image/svg+xml', size: SVG.length, content: SVG, note: null, channelId: 'email', messageRef: '<a1@example.com>' },
        { ticketNumber: number!, filename: '发票 2026.pdf', contentType: 'application/pdf', size: PDF.length, content: PDF, note: null, channelId: 'email', messageRef: '<a1@example.com>' },
        { ticketNumber: number!, filename: 'unboxing.mp4', contentType: 'video/mp4', size: 52_428_800, content: null, note: 'over the 8388608-byte limit: in the customer’s e-mail <a1@example.com>', channelId: 'email', messageRef: '<a1@example.com>' },
      ],
      `test-${number}`,
    );

    const page: Page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const dialogs: string[] = [];
    const errors: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${A.url}/console#/tickets/${number}`);
    await page.getByLabel('用户名', { exact: true }).fill('fileagent');
    await page.getByLabel('密码', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    const panel = page.getByTestId('attachments');
    await panel.getByRole('heading', { name: '附件（4）' }).waitFor();

    const rows = panel.getByTestId('attachment');
    expect(await rows.getByTestId('attachment-name').allTextContents()).toEqual([picture.filename, 'logo.svg', '发票 2026.pdf', 'unboxing.mp4']);
    const metas = await rows.getByTestId('attachment-meta').allTextContents();
    expect(metas[0]).toMatch(/^image\/png · 65\.\d KB · 渠道：微信 · /);
    expect(metas[1]).toMatch(/^image\/svg\+xml · 1\d\d 字节 · 渠道：邮件 · /);
    expect(metas[2]).toMatch(/^application\/pdf · 2\.9 KB · 渠道：邮件 · /);
    expect(metas[3]).toMatch(/^video\/mp4 · 50\.0 MB · 渠道：邮件 · /);

    // Only the PNG is a picture, and it is decoded; the SVG is a download, not an image.
    const thumbs = panel.getByTestId('thumbnail');
    await thumbs.first().locator('img').waitFor();
    expect(await thumbs.count()).toBe(1);
    await expect.poll(() => thumbs.locator('img').evaluate((el) => { const img = el as unknown as Img; return img.complete && img.naturalWidth; })).toBe(PNG_WIDTH);
    expect(await rows.nth(1).locator('img').count()).toBe(0);
    expect(await page.locator('img[src^="blob:"]').count()).toBe(1);

    // Full size in a dialog of the page.
    await thumbs.click();
    const full = page.getByTestId('picture-full');
    await full.waitFor();
    await expect.poll(() => full.evaluate((el) => (el as unknown as Img).naturalWidth)).toBe(PNG_WIDTH);
    await page.screenshot({ path: join(ARTIFACTS, 'console-attachment-full.png') });
    await page.getByTestId('picture-close').click();
    await full.waitFor({ state: 'hidden' });

    // Each kept file downloads with its own bytes and name.
    const downloadOf = async (row: number) => {
      const [dl] = await Promise.all([page.waitForEvent('download'), rows.nth(row).getByTestId('attachment-download').click()]);
      return { name: dl.suggestedFilename(), bytes: readFileSync((await dl.path())!) };
    };
    const png = await downloadOf(0);
    expect(png.bytes.equals(PNG)).toBe(true);
    expect(png.name).toBe(picture.filename);
    const svg = await downloadOf(1);
    expect(svg).toMatchObject({ name: 'logo.svg' });
    expect(svg.bytes.equals(SVG)).toBe(true);
    const pdf = await downloadOf(2);
    expect(pdf.name).toBe('发票 2026.pdf');
    expect(pdf.bytes.equals(PDF)).toBe(true);

    // The file over the cap: no download, its note.
    expect(await rows.nth(3).getByTestId('attachment-download').count()).toBe(0);
    expect(await rows.nth(3).getByTestId('attachment-note').textContent()).toBe('未保存 over the 8388608-byte limit: in the customer’s e-mail <a1@example.com>');
    await panel.screenshot({ path: join(ARTIFACTS, 'console-attachments.png') });

    // The SVG's script never ran (it was never rendered as a page or an image of this origin).
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);

    // Traditional Chinese and English.
    await page.goto(`${A.url}/console?lang=zh-Hant#/tickets/${number}`);
    await panel.getByRole('heading', { name: '附件（4）' }).waitFor();
    expect(await rows.nth(3).getByTestId('attachment-note').textContent()).toMatch(/^未儲存 /);
    expect(await rows.nth(1).getByTestId('attachment-meta').textContent()).toMatch(/位元組 · 渠道：電郵 · /);
    await page.goto(`${A.url}/console?lang=en#/tickets/${number}`);
    await panel.getByRole('heading', { name: 'Attachments (4)' }).waitFor();
    expect(await rows.nth(0).getByTestId('attachment-meta').textContent()).toMatch(/^image\/png · 65\.\d KB · channel: WeChat · /);
    expect(await rows.nth(3).getByTestId('attachment-note').textContent()).toMatch(/^Not kept /);
    expect(await rows.nth(0).getByTestId('attachment-download').textContent()).toBe('Download');
    await page.close();
  });

  it('a ticket without attachments says so', async () => {
    const c = A.services.runtime.holder.classify('快递三天没动了');
    const { ticket } = await A.services.tickets.fileForCustomer({ channel: 'phone', text: '快递三天没动了', customer: { phone: '13800000009' } }, c, 'seed');
    const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    await page.goto(`${A.url}/console#/tickets/${ticket.number}`);
    await page.getByLabel('用户名', { exact: true }).fill('fileagent');
    await page.getByLabel('密码', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: '登录', exact: true }).click();
    await page.getByTestId('attachments').getByText('客户没有发送附件。').waitFor();
    expect(await page.getByTestId('attachments').getByRole('heading').textContent()).toBe('附件');
    await page.close();
  });
});
