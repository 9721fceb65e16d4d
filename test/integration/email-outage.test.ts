/**
 * Issue 13, e-mail, nothing lost and nothing twice: the app reads a real mailbox (dovecot) on its own
 * supervised embedded database. While the database is stopped, mail that arrives is neither marked
 * processed nor answered; once it is back, each mail is filed once and acknowledged once. Two
 * processes reading one mailbox file each mail once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../bot/app.js';
import type { EmailChannel } from '../../channels/email/index.js';
import { HANDLED_KEYWORD } from '../../channels/email/mailbox-reader.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { dovecotMissing, startDovecot, startSmtpPeer, type Dovecot, type SmtpPeer } from '../helpers/mail-peers.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

const missing = dovecotMissing();
if (missing) console.warn(`[email-outage.test] skipped: ${missing}`);

const DESK = 'service@desk.example';
let imap: Dovecot;
let smtp: SmtpPeer;
let own: AppOnOwnDatabase;
let database: OpenDatabase;

function reader(app: App) {
  return (app.channels.find((c) => c.id === 'email') as EmailChannel).reader()!;
}

async function rounds(app: App, n: number): Promise<void> {
  const start = reader(app).rounds;
  await expect.poll(() => reader(app).rounds, { timeout: 30_000 }).toBeGreaterThanOrEqual(start + n);
}

function mail(i: number, from: string, text: string): string {
  return [`From: ${from}`, `To: ${DESK}`, `Subject: 问题 ${i}`, `Message-ID: <outage-${i}-${from}>`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text, ''].join('\r\n');
}

describe.skipIf(missing !== null)('e-mail while the database is down, and with two processes', () => {
  beforeAll(async () => {
    [imap, smtp] = await Promise.all([startDovecot(), startSmtpPeer()]);
    own = await startAppOnOwnDatabase('email-outage-', {
      EMAIL_IMAP_URL: imap.url,
      EMAIL_SMTP_URL: smtp.url,
      EMAIL_FROM: DESK,
      EMAIL_POLL_SECONDS: '0.3',
    });
    database = own.database;
  });

  afterAll(async () => {
    await own?.stop();
    await imap?.stop();
    await smtp?.stop();
  });

  it('leaves mail unprocessed while the database is down, then files and answers each once', async () => {
    const { services, app } = own;
    const uid1 = await imap.append(mail(1, 'chen@example.com', '我的快递三天没有更新物流了，请帮我查一下。'));
    await expect.poll(async () => (await imap.flags()).get(uid1!)?.has(HANDLED_KEYWORD), { timeout: 30_000 }).toBe(true);
    expect(smtp.received).toHaveLength(1);

    let uid2: number | undefined;
    let uid3: number | undefined;
    await whileDatabaseDown(database, async () => {
      uid2 = await imap.append(mail(2, 'zhou@example.com', '收到的耳机左边没有声音，要求换货。'));
      uid3 = await imap.append(mail(3, 'chen@example.com', '我的账户被锁定了，无法登录。'));
      await rounds(app, 4);
      const flags = await imap.flags();
      expect(flags.get(uid2!)?.has(HANDLED_KEYWORD)).toBe(false);
      expect(flags.get(uid3!)?.has(HANDLED_KEYWORD)).toBe(false);
      expect(smtp.received).toHaveLength(1);
      expect((app.channels[0].health() as { status: string }).status).not.toBe('ok');
    });
    await expect.poll(async () => { const f = await imap.flags(); return f.get(uid2!)?.has(HANDLED_KEYWORD) && f.get(uid3!)?.has(HANDLED_KEYWORD); }, { timeout: 60_000 }).toBe(true);
    await rounds(app, 2);
    const tickets = (await services.tickets.list({ channelId: 'email', pageSize: 50, sort: 'createdAt' })).items;
    expect(tickets.map((t) => t.text.original.split('\n\n')[1])).toEqual(['我的快递三天没有更新物流了，请帮我查一下。', '收到的耳机左边没有声音，要求换货。', '我的账户被锁定了，无法登录。']);
    expect(smtp.received).toHaveLength(3);
    expect(smtp.received.map((m) => m.envelopeTo[0])).toEqual(['chen@example.com', 'zhou@example.com', 'chen@example.com']);
    for (const [i, t] of tickets.entries()) expect(smtp.received[i].parsed.text).toContain(t.number);
  });

  it('two processes reading one mailbox file each mail once and answer it once', async () => {
    const before = { sent: smtp.received.length };
    const a = own;
    // A second server process on the same database and mailbox.
    const b = await own.anotherProcess();
    const uids: number[] = [];
    for (let i = 10; i < 16; i++) uids.push((await imap.append(mail(i, `p${i}@example.com`, `第 ${i} 号订单的发票开错了抬头，请重新开具。`)))!);
    await expect.poll(async () => { const f = await imap.flags(); return uids.every((u) => f.get(u)?.has(HANDLED_KEYWORD)); }, { timeout: 60_000 }).toBe(true);
    await Promise.all([rounds(a.app, 2), rounds(b.app, 2)]);
    const tickets = (await a.services.tickets.list({ channelId: 'email', pageSize: 50, sort: 'createdAt' })).items.filter((t) => /^p\d+@/.test(t.customer.userId));
    expect(tickets.map((t) => t.customer.userId).sort()).toEqual(['p10', 'p11', 'p12', 'p13', 'p14', 'p15'].map((p) => `${p}@example.com`));
    expect(smtp.received.length - before.sent).toBe(6);
    // Both processes took part (each read the mailbox), and neither filed what the other did.
    expect(reader(a.app).rounds).toBeGreaterThan(0);
    expect(reader(b.app).rounds).toBeGreaterThan(0);
  });
});
