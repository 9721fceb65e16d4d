/**
 * Issue 13, e-mail: the whole app (real classifier, real embedded database, real HTTP) with its
 * e-mail channel reading a real IMAP server (Debian's dovecot, started here from a temporary
 * configuration) and sending to a real SMTP server (smtp-server). Mail is delivered the way a mail
 * server does it: APPENDed to the inbox.
 *
 * An e-mail → classified ticket (quoted history and signature not classified, kept for staff) →
 * acknowledgement in the same thread → staff reply in the same thread → the customer's answer joins
 * the ticket; attachments kept and downloadable (one over the cap listed with a note); HTML-only
 * mail; GBK and unknown charsets; a huge body; malformed MIME; bounces and auto-replies ignored;
 * an SMTP refusal recorded as undelivered; a restart does not re-file; a ticket stored under a new
 * number at outbox replay is still found by the number its customer was given, and only by them.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EmailChannel } from '../../channels/email/index.js';
import { HANDLED_KEYWORD } from '../../channels/email/mailbox-reader.js';
import { createTicketService } from '../../desk/services.js';
import { hashPassword } from '../../staff/auth.js';
import { createStore } from '../../store/index.js';
import type { Ticket, TicketCreate } from '../../store/schemas.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { dovecotMissing, startDovecot, startSmtpPeer, type Dovecot, type ReceivedMail, type SmtpPeer } from '../helpers/mail-peers.js';

const missing = dovecotMissing();
if (missing) console.warn(`[email-channel.test] skipped: ${missing}`);

const DESK = 'service@desk.example';
const PASSWORD = 'correct horse battery';
const DB_NAME = `email_${randomUUID().slice(0, 8)}`;
let imap: Dovecot;
let smtp: SmtpPeer;
let A: RunningApp;
let token = '';

function env(): Record<string, string> {
  return {
    EMAIL_IMAP_URL: imap.url,
    EMAIL_SMTP_URL: smtp.url,
    EMAIL_FROM: `客服中心 <${DESK}>`,
    EMAIL_POLL_SECONDS: '0.3',
    EMAIL_ATTACHMENT_MAX_BYTES: '4096',
    EMAIL_MAX_MESSAGE_BYTES: '400000',
  };
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; raw: Buffer; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const raw = Buffer.from(await res.arrayBuffer());
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, raw, headers: res.headers };
}

function channel(): EmailChannel {
  return A.app.channels.find((c) => c.id === 'email') as EmailChannel;
}

async function emailTickets(): Promise<Ticket[]> {
  return (await A.services.tickets.list({ channelId: 'email', pageSize: 200, sort: 'createdAt' })).items;
}

/** Waits for a ticket of this customer whose text contains `marker`. */
async function ticketWith(marker: string): Promise<Ticket> {
  let found: Ticket | undefined;
  await expect.poll(async () => (found = (await emailTickets()).find((t) => t.text.original.includes(marker))), { timeout: 30_000 }).toBeDefined();
  return found!;
}

async function mailTo(address: string, count = 1): Promise<ReceivedMail[]> {
  await expect.poll(() => smtp.received.filter((m) => m.envelopeTo.includes(address)).length, { timeout: 30_000 }).toBeGreaterThanOrEqual(count);
  return smtp.received.filter((m) => m.envelopeTo.includes(address));
}

/** Waits until the reader has finished `n` more rounds (so "nothing happened" is a fact, not a race). */
async function rounds(n: number): Promise<void> {
  const start = channel().reader()!.rounds;
  await expect.poll(() => channel().reader()!.rounds, { timeout: 30_000 }).toBeGreaterThanOrEqual(start + n);
}

function b64(s: string | Buffer): string {
  return (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64').replace(/.{76}/g, '$&\r\n');
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');
const BIG = Buffer.alloc(5000, 7);

describe.skipIf(missing !== null)('e-mail channel against dovecot and smtp-server', () => {
  let first: Ticket;
  let ackId = '';
  let staffReplyId = '';

  beforeAll(async () => {
    [imap, smtp] = await Promise.all([startDovecot(), startSmtpPeer()]);
    A = await startApp(inject('mongoUri'), env(), { dbName: DB_NAME });
    await A.store.users.create({ username: 'alice', role: 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
    const r = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
    token = ((await r.json()) as { token: string }).token;
  });

  afterAll(async () => {
    await A?.stop();
    await A?.db.dropDatabase().catch(() => undefined);
    await imap?.stop();
    await smtp?.stop();
  });

  it('files a Chinese e-mail as a classified ticket, without its quoted history and signature, and acknowledges it in the thread', async () => {
    const body = [
      '你们好，我上周买的手机，快递到现在还没有送到，物流信息五天没有更新了，请帮忙查一下。',
      '',
      '此致',
      '张三',
      '138 0000 0000',
      '',
      '在 2026年12月1日 10:00，客服中心 <service@desk.example> 写道：',
      '> 您的退款已经处理完成，余额到账请查收。',
      '> 发票已经开具',
    ].join('\r\n');
    const raw = [
      'From: =?UTF-8?B?' + Buffer.from('张三').toString('base64') + '?= <Zhang.San@Example.COM>',
      `To: ${DESK}`,
      'Subject: =?UTF-8?B?' + Buffer.from('快递一直没有送到').toString('base64') + '?=',
      'Message-ID: <m1.zhang@customer.example>',
      'Date: Sun, 06 Dec 2026 10:00:00 +0800',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      b64(body),
      '--b1',
      'Content-Type: image/png; name="waybill.png"',
      'Content-Disposition: attachment; filename="waybill.png"',
      'Content-Transfer-Encoding: base64',
      '',
      b64(PNG),
      '--b1',
      'Content-Type: application/pdf; name="=?UTF-8?B?' + Buffer.from('发票.pdf').toString('base64') + '?="',
      'Content-Disposition: attachment; filename*=UTF-8\'\'%E5%8F%91%E7%A5%A8.pdf',
      'Content-Transfer-Encoding: base64',
      '',
      b64(BIG),
      '--b1--',
      '',
    ].join('\r\n');
    const uid = await imap.append(raw);
    first = await ticketWith('物流信息五天没有更新');

    expect(first.customer).toMatchObject({ channelId: 'email', userId: 'zhang.san@example.com', name: '张三' });
    expect(first.contact).toEqual({ email: 'zhang.san@example.com' });
    // Kept whole for staff (the subject, the quote and the signature) …
    expect(first.text.original).toContain('快递一直没有送到');
    expect(first.text.original).toContain('您的退款已经处理完成');
    expect(first.text.original).toContain('138 0000 0000');
    // … but the classifier read only the customer's own words.
    expect(first.text.normalized).not.toContain('退款');
    expect(first.text.normalized).not.toContain('发票');
    const own = A.services.runtime.holder.classify('快递一直没有送到\n你们好，我上周买的手机，快递到现在还没有送到，物流信息五天没有更新了，请帮忙查一下。');
    expect(first.topic).toBe(own.topic);
    expect(first.topic).toBe('delivery');
    expect(first.text.original).toMatch(/waybill\.png .*发票\.pdf/s);

    const [ack] = await mailTo('zhang.san@example.com');
    expect(ack.parsed.subject).toBe(`Re: 快递一直没有送到 [${first.number}]`);
    expect(ack.parsed.inReplyTo).toBe('<m1.zhang@customer.example>');
    expect(ack.parsed.text).toContain(first.number);
    expect(ack.parsed.text).toContain('我们已收到您的邮件');
    expect(ack.parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(ack.parsed.from?.value[0].address).toBe(DESK);
    ackId = ack.parsed.messageId!;

    await expect.poll(async () => (await imap.flags()).get(uid!)?.has(HANDLED_KEYWORD)).toBe(true);
    expect((await imap.flags()).get(uid!)?.has('\\Seen')).toBe(true);
  });

  it('keeps the attachments with the ticket: listed and downloadable by staff, the one over the cap listed with a note', async () => {
    await expect.poll(async () => (await api('GET', `/api/tickets/${first.number}/attachments`)).body.items.length).toBe(2);
    const list = await api('GET', `/api/tickets/${first.number}/attachments`);
    expect(list.status).toBe(200);
    const items = list.body.items as { id: string; filename: string; size: number; stored: boolean; note: string | null; contentType: string }[];
    expect(items.map((i) => i.filename)).toEqual(['waybill.png', '发票.pdf']);
    const png = items[0];
    expect(png).toMatchObject({ contentType: 'image/png', size: PNG.length, stored: true, note: null });
    const file = await api('GET', `/api/tickets/${first.number}/attachments/${png.id}`);
    expect(file.status).toBe(200);
    expect(file.raw.equals(PNG)).toBe(true);
    expect(file.headers.get('content-disposition')).toContain("filename*=UTF-8''waybill.png");
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    const pdf = items[1];
    expect(pdf).toMatchObject({ size: BIG.length, stored: false });
    expect(pdf.note).toContain('4 KB');
    expect(pdf.note).toContain('UID');
    const gone = await api('GET', `/api/tickets/${first.number}/attachments/${pdf.id}`);
    expect(gone.status).toBe(410);
    expect(gone.body.error.message).toContain('not stored');
    // Another ticket does not reach this one's files.
    expect((await api('GET', `/api/tickets/T20000101-0001/attachments/${png.id}`)).status).toBe(404);
  });

  it('sends a staff reply by SMTP in the same thread, recorded as delivered', async () => {
    const r = await api('POST', `/api/tickets/${first.number}/replies`, { text: '您好，已为您联系快递公司加急派送，预计明天送达。' });
    expect(r.status).toBe(201);
    expect(r.body.delivered).toBe(true);
    const mails = await mailTo('zhang.san@example.com', 2);
    const reply = mails[1];
    expect(reply.parsed.text).toContain('加急派送');
    expect(reply.parsed.subject).toBe(`Re: 快递一直没有送到 [${first.number}]`);
    expect(reply.parsed.inReplyTo).toBe(ackId);
    const refs = ([] as string[]).concat(reply.parsed.references ?? []);
    expect(refs).toEqual(['<m1.zhang@customer.example>', ackId]);
    // A person's reply is not marked automatic.
    expect(reply.parsed.headers.get('auto-submitted')).toBeUndefined();
    staffReplyId = reply.parsed.messageId!;
  });

  it("adds the customer's answer (In-Reply-To) to the ticket, without the quoted history", async () => {
    await imap.append(
      [
        'From: Zhang San <zhang.san@example.com>',
        `To: ${DESK}`,
        `Subject: Re: =?UTF-8?B?${Buffer.from(`快递一直没有送到 [${first.number}]`).toString('base64')}?=`,
        'Message-ID: <m2.zhang@customer.example>',
        `In-Reply-To: ${staffReplyId}`,
        `References: <m1.zhang@customer.example> ${ackId} ${staffReplyId}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        '好的，我明天全天在家，麻烦让快递员直接送上门。',
        '',
        'On Sun, Dec 6, 2026 at 10:05 AM 客服中心 <service@desk.example>',
        'wrote:',
        '> 您好，已为您联系快递公司加急派送，预计明天送达。',
        '',
      ].join('\r\n'),
    );
    await expect.poll(async () => (await A.services.tickets.get(first.number)).messages.length, { timeout: 30_000 }).toBe(1);
    const t = await A.services.tickets.get(first.number);
    expect(t.messages[0].text).toBe('好的，我明天全天在家，麻烦让快递员直接送上门。');
    expect((await emailTickets()).filter((x) => x.customer.userId === 'zhang.san@example.com')).toHaveLength(1);
    const mails = await mailTo('zhang.san@example.com', 3);
    expect(mails[2].parsed.text).toContain(`已添加到工单 ${first.number}`);
    expect(mails[2].parsed.inReplyTo).toBe('<m2.zhang@customer.example>');
  });

  it('files an HTML-only English e-mail, answers in English, and joins a reply that only names the ticket in its subject', async () => {
    await imap.append(
      [
        'From: Amy Lee <amy@example.org>',
        `To: ${DESK}`,
        'Subject: Charged twice for my order',
        'Message-ID: <amy1@example.org>',
        'Content-Type: text/html; charset=utf-8',
        '',
        '<html><body><p>Hello, my credit card was <b>charged twice</b> for the same order last week. Please refund the duplicate payment.</p>',
        '<p>Best regards,<br>Amy</p><blockquote>Your parcel has been delivered to the locker.</blockquote></body></html>',
        '',
      ].join('\r\n'),
    );
    const t = await ticketWith('charged twice');
    expect(t.text.original).not.toContain('<p>');
    expect(t.text.normalized).not.toContain('locker');
    expect(t.lang).toBe('en');
    expect(t.topic).toBe('billing');
    const [ack] = await mailTo('amy@example.org');
    expect(ack.parsed.text).toContain(`We have received your e-mail and filed it as ticket ${t.number}`);
    expect(ack.parsed.subject).toBe(`Re: Charged twice for my order [${t.number}]`);

    // No thread headers (a new message from a webmail), but the ticket number in the subject, from the same sender.
    await imap.append(['From: amy@example.org', `To: ${DESK}`, `Subject: about ${t.number}`, 'Message-ID: <amy2@example.org>', 'Content-Type: text/plain; charset=utf-8', '', 'The duplicate charge is 299 yuan, order 88231.', ''].join('\r\n'));
    await expect.poll(async () => (await A.services.tickets.get(t.number)).messages.map((m) => m.text), { timeout: 30_000 }).toEqual(['The duplicate charge is 299 yuan, order 88231.']);
    // The same number from someone else is a new demand of theirs, not a message on Amy's ticket.
    await imap.append(['From: mallory@example.net', `To: ${DESK}`, `Subject: ${t.number} cancel it`, 'Message-ID: <m@example.net>', 'Content-Type: text/plain; charset=utf-8', '', 'Please cancel my membership and delete my account.', ''].join('\r\n'));
    const other = await ticketWith('cancel my membership');
    expect(other.customer.userId).toBe('mallory@example.net');
    expect((await A.services.tickets.get(t.number)).messages).toHaveLength(1);
  });

  it('a mail quoting the number its ticket lost at outbox replay joins that ticket under its new number, never the ticket now holding the number', async () => {
    const LI = 'li.si@example.com';
    const WANG = 'wang.wu@example.com';
    await imap.append(['From: Li Si <Li.Si@Example.com>', `To: ${DESK}`, `Subject: =?UTF-8?B?${Buffer.from('发票抬头开错了').toString('base64')}?=`, 'Message-ID: <li1@customer.example>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', '上个月订单的发票抬头开错了，公司名称少了“有限”两个字，请重新开具。', ''].join('\r\n'));
    const given = (await ticketWith('公司名称少了')).number;
    const [ack] = await mailTo(LI);
    expect(ack.parsed.subject).toBe(`Re: 发票抬头开错了 [${given}]`);

    // What a lost insert leaves behind (see outbox.test.ts): the database lost Li's ticket, which
    // this process kept in its outbox; another process found the number free and gave it to Wang;
    // then the outbox is replayed and Li's ticket is stored under the next free number.
    const tickets = A.db.collection<{ _id: string; number: string; formerNumber?: string }>('tickets');
    const lost = (await tickets.findOne({ _id: given }))!;
    await tickets.deleteOne({ _id: given });
    const dir = mkdtempSync(join(tmpdir(), 'email-renumber-'));
    try {
      const silent = { info() {}, warn() {}, error() {} };
      const otherProcess = createTicketService(await createStore({ db: A.db, outboxPath: join(dir, 'o.jsonl'), timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent }), { log: silent });
      const input: TicketCreate = {
        customer: { channelId: 'email', userId: WANG },
        conversationRef: null,
        text: { original: '订单还没有发货', normalized: '订单还没有发货' },
        classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
      };
      const wang = await otherProcess.file(input);
      expect(wang.ticket.number).toBe(given);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await A.store.outbox.append(lost);
    expect(await A.services.tickets.flushOutbox()).toMatchObject({ replayed: 1, remaining: 0 });
    const moved = (await tickets.findOne({ formerNumber: given }))!.number;
    expect(moved).not.toBe(given);
    const messagesOf = async (n: string) => (await A.services.tickets.get(n)).messages.map((m) => m.text);

    // Wang quotes the number he holds: his own ticket, answered in his own thread (not in Li's,
    // which still names that number).
    await imap.append(['From: wang.wu@example.com', `To: ${DESK}`, `Subject: =?UTF-8?B?${Buffer.from(`关于 ${given}`).toString('base64')}?=`, 'Message-ID: <wang1@customer.example>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', '我的订单还没发货，请尽快安排。', ''].join('\r\n'));
    await expect.poll(() => messagesOf(given), { timeout: 30_000 }).toEqual(['我的订单还没发货，请尽快安排。']);
    const [toWang] = await mailTo(WANG);
    expect(toWang.parsed.text).toContain(`已添加到工单 ${given}`);
    expect(toWang.parsed.text).not.toContain(moved);
    expect(smtp.received.filter((m) => m.envelopeTo.includes(LI))).toHaveLength(1);

    // A staff reply on Li's ticket goes out in her thread, under the ticket's new number.
    const staff = await api('POST', `/api/tickets/${moved}/replies`, { text: '您好，新发票将在两个工作日内开具。' });
    expect(staff.body.delivered).toBe(true);
    const [, staffMail] = await mailTo(LI, 2);
    expect(staffMail.parsed.subject).toBe(`Re: 发票抬头开错了 [${moved}]`);
    expect(staffMail.parsed.inReplyTo).toBe(ack.parsed.messageId);

    // Li answers the acknowledgement that named the old number (In-Reply-To): her ticket, and the
    // answer (zh-Hans) says the number changed; the thread names the new number.
    await imap.append(
      [
        'From: Li Si <li.si@example.com>',
        `To: ${DESK}`,
        `Subject: =?UTF-8?B?${Buffer.from(`Re: 发票抬头开错了 [${given}]`).toString('base64')}?=`,
        'Message-ID: <li2@customer.example>',
        `In-Reply-To: ${ack.parsed.messageId}`,
        `References: <li1@customer.example> ${ack.parsed.messageId}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        '正确的抬头是“深圳示例科技有限公司”，税号不变。',
        '',
      ].join('\r\n'),
    );
    await expect.poll(() => messagesOf(moved), { timeout: 30_000 }).toEqual(['正确的抬头是“深圳示例科技有限公司”，税号不变。']);
    const joined = (await mailTo(LI, 3))[2];
    expect(joined.parsed.text).toContain(`已添加到工单 ${moved}`);
    expect(joined.parsed.text).toContain(`请注意：您的工单编号已由 ${given} 更改为 ${moved}，用原编号查询仍可找到。`);
    expect(joined.parsed.subject).toBe(`Re: 发票抬头开错了 [${moved}]`);
    expect(joined.parsed.inReplyTo).toBe('<li2@customer.example>');

    // A new mail naming only the old number in its subject, from Li, in English, then in traditional Chinese.
    await imap.append(['From: li.si@example.com', `To: ${DESK}`, `Subject: invoice ${given.toLowerCase()}`, 'Message-ID: <li3@customer.example>', 'Content-Type: text/plain; charset=utf-8', '', 'Please also send the corrected invoice as a PDF to this address.', ''].join('\r\n'));
    await expect.poll(async () => (await messagesOf(moved)).length, { timeout: 30_000 }).toBe(2);
    expect((await mailTo(LI, 4))[3].parsed.text).toContain(`Please note: your ticket number has changed from ${given} to ${moved}; the old number still finds it.`);
    await imap.append(['From: li.si@example.com', `To: ${DESK}`, `Subject: =?UTF-8?B?${Buffer.from(`工單 ${given}`).toString('base64')}?=`, 'Message-ID: <li4@customer.example>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', '請問新的發票什麼時候可以開好？麻煩儘快處理，謝謝。', ''].join('\r\n'));
    await expect.poll(async () => (await messagesOf(moved)).length, { timeout: 30_000 }).toBe(3);
    expect((await mailTo(LI, 5))[4].parsed.text).toContain(`請注意：您的工單編號已由 ${given} 更改為 ${moved}，用原編號查詢仍可找到。`);

    // Nothing of Li's reached Wang's ticket, and no second ticket was filed for her.
    expect(await messagesOf(given)).toEqual(['我的订单还没发货，请尽快安排。']);
    expect(await tickets.countDocuments({ 'customer.userId': LI })).toBe(1);
    expect(smtp.received.filter((m) => m.envelopeTo.includes(WANG))).toHaveLength(1);
  });

  it('reads GBK mail, and mail in a charset it does not know, without losing it', async () => {
    await imap.append(
      Buffer.concat([
        Buffer.from(['From: li@example.cn', `To: ${DESK}`, 'Subject: =?GBK?B?' + iconv.encode('质量问题', 'gbk').toString('base64') + '?=', 'Message-ID: <gbk1@example.cn>', 'Content-Type: text/plain; charset=GBK', 'Content-Transfer-Encoding: 8bit', '', ''].join('\r\n')),
        iconv.encode('收到的衣服有破洞，质量太差了，要求退货。', 'gbk'),
        Buffer.from('\r\n'),
      ]),
    );
    const gbk = await ticketWith('衣服有破洞');
    expect(gbk.text.original).toContain('质量问题');
    await imap.append(['From: wu@example.cn', `To: ${DESK}`, 'Subject: hello', 'Message-ID: <unk1@example.cn>', 'Content-Type: text/plain; charset=x-unheard-of-9', 'Content-Transfer-Encoding: 8bit', '', '账户登录不了，密码重置邮件一直收不到。', ''].join('\r\n'));
    const unk = await ticketWith('密码重置邮件');
    expect(unk.text.original).toContain('unknown charset "x-unheard-of-9"');
  });

  it('keeps a huge body whole: the ticket shows the start with a note, the full text is attached', async () => {
    const line = '我的订单一直显示待发货，已经等了两个星期，客服电话也打不通。';
    const body = Array.from({ length: 1000 }, (_, i) => `${i + 1}. ${line}`).join('\n');
    await imap.append(['From: big@example.com', `To: ${DESK}`, 'Subject: long', 'Message-ID: <big1@example.com>', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', b64(body), ''].join('\r\n'));
    const t = await ticketWith('1. 我的订单一直显示待发货');
    const chars = Array.from(body).length;
    expect(t.text.original.length).toBeLessThanOrEqual(10_000);
    expect(t.text.original).toContain(`邮件正文共 ${chars} 字`);
    // 4 KB attachment cap in this test: the whole text is over it, so the note sends staff to the mailbox.
    expect(t.text.original).toContain('请在邮箱中查看原邮件');
    type Item = { id: string; filename: string; stored: boolean; size: number };
    // The files are stored right after the ticket is filed.
    let list: Item[] = [];
    await expect.poll(async () => (list = (await api('GET', `/api/tickets/${t.number}/attachments`)).body.items as Item[]).map((f) => f.filename)).toEqual(['message.txt']);
    const full = list[0];
    // Listed, not stored, with where it is.
    expect(full.size).toBe(Buffer.byteLength(body));
    expect(full.stored).toBe(false);
  });

  it('files a message over the download limit from its headers, with a note saying where it is', async () => {
    const raw = ['From: Huge <huge@example.com>', `To: ${DESK}`, 'Subject: =?UTF-8?B?' + Buffer.from('扫描件太大了').toString('base64') + '?=', 'Message-ID: <huge1@example.com>', 'Content-Type: multipart/mixed; boundary="h"', '', '--h', 'Content-Type: text/plain; charset=utf-8', '', '附件是合同扫描件，请查收。', '--h', 'Content-Type: application/pdf; name="scan.pdf"', 'Content-Transfer-Encoding: base64', '', b64(Buffer.alloc(450_000, 1)), '--h--', ''].join('\r\n');
    const uid = await imap.append(raw);
    const t = await ticketWith('扫描件太大了');
    expect(t.customer.userId).toBe('huge@example.com');
    expect(t.text.original).toContain('未下载正文和附件');
    expect(t.text.original).toContain(`UID ${uid}`);
    expect(t.text.original).toContain('390.6 KB');
  });

  it('files malformed MIME with a note and the original attached; mail with no sender is kept in the mailbox, not filed', async () => {
    const broken = [
      'From: broken@example.com',
      `To: ${DESK}`,
      'Subject: broken',
      'Message-ID: <broken1@example.com>',
      'Content-Type: multipart/mixed; boundary="never-closed"',
      '',
      '--never-closed',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      '5oiR55qE6YCA5qy+6L+Y5rKh5Yiw6LSm@@@!!!',
      '--never-closed',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      '%%%%',
    ].join('\r\n');
    await imap.append(broken);
    await expect.poll(async () => (await emailTickets()).find((t) => t.customer.userId === 'broken@example.com'), { timeout: 30_000 }).toBeDefined();
    const uid = await imap.append('\u0001\u0002 this is not a mail at all\r\n\r\n--\r\n');
    await expect.poll(async () => (await imap.flags()).get(uid!)?.has(HANDLED_KEYWORD), { timeout: 30_000 }).toBe(true);
    const outcome = await A.db.collection('email_messages').findOne({ outcome: 'rejected' });
    expect(outcome?.detail).toBe('no sender address');
  });

  it('neither files nor answers bounces and auto-replies (no mail loops)', async () => {
    const before = { tickets: (await emailTickets()).length, sent: smtp.received.length };
    const bounce = await imap.append(
      [
        'From: Mail Delivery System <MAILER-DAEMON@mx.example.com>',
        `To: ${DESK}`,
        'Subject: Undelivered Mail Returned to Sender',
        'Message-ID: <bounce1@mx.example.com>',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        '',
        '--r',
        'Content-Type: text/plain',
        '',
        'I am sorry to have to inform you that your message could not be delivered. 快递 退款',
        '--r--',
        '',
      ].join('\r\n'),
    );
    const auto = await imap.append(['From: zhang.san@example.com', `To: ${DESK}`, 'Subject: Out of office: 快递', 'Message-ID: <ooo1@customer.example>', 'Auto-Submitted: auto-replied', 'Content-Type: text/plain; charset=utf-8', '', '我正在休假，12月10日回来。', ''].join('\r\n'));
    await expect.poll(async () => { const f = await imap.flags(); return f.get(bounce!)?.has(HANDLED_KEYWORD) && f.get(auto!)?.has(HANDLED_KEYWORD); }, { timeout: 30_000 }).toBe(true);
    await rounds(2);
    expect((await emailTickets()).length).toBe(before.tickets);
    expect(smtp.received.length).toBe(before.sent);
    expect((await A.services.tickets.get(first.number)).messages).toHaveLength(1);
  });

  it('files spam flagged for staff without answering it, and asks for a description when a mail is empty', async () => {
    const sent = smtp.received.length;
    await imap.append(['From: promo@spam.example', `To: ${DESK}`, 'Subject: 合作', 'Message-ID: <spam1@spam.example>', 'Content-Type: text/plain; charset=utf-8', '', '兼职刷单日赚500元，加微信 abc123 代开发票 低价出售', ''].join('\r\n'));
    const spam = await ticketWith('兼职刷单日赚500元');
    expect(spam.spam).toBe(true);
    await imap.append(['From: blank@example.com', `To: ${DESK}`, 'Subject: ', 'Message-ID: <blank1@example.com>', 'Content-Type: text/plain; charset=utf-8', '', '', ''].join('\r\n'));
    const [asked] = await mailTo('blank@example.com');
    expect(asked.parsed.text).toContain('没有文字内容或附件');
    expect(asked.parsed.subject).toBe('Re: 您的咨询');
    expect(asked.parsed.inReplyTo).toBe('<blank1@example.com>');
    await rounds(2);
    expect((await emailTickets()).some((t) => t.customer.userId === 'blank@example.com')).toBe(false);
    expect(smtp.received.filter((m) => m.envelopeTo.includes('promo@spam.example'))).toHaveLength(0);
    expect(smtp.received.length).toBe(sent + 1);
  });

  it('records a staff reply the SMTP server refuses as undelivered, with the reason', async () => {
    smtp.refuse = 'mailbox unavailable';
    try {
      const r = await api('POST', `/api/tickets/${first.number}/replies`, { text: '请问快递收到了吗？' });
      expect(r.status).toBe(201);
      expect(r.body.delivered).toBe(false);
      const t = await A.services.tickets.get(first.number);
      const last = t.replies.at(-1)!;
      expect(last.delivered).toBe(false);
      expect(last.error).toMatch(/550|mailbox unavailable/);
    } finally {
      smtp.refuse = null;
    }
  });

  it('does not re-file or re-answer anything after a restart, and files what arrives after it', async () => {
    const before = { tickets: (await emailTickets()).map((t) => t.number), sent: smtp.received.length };
    await A.app.closeChannels();
    A.app.server.close();
    await A.services.close();
    A = await startApp(inject('mongoUri'), env(), { dbName: DB_NAME });
    await rounds(2);
    expect((await emailTickets()).map((t) => t.number)).toEqual(before.tickets);
    expect(smtp.received.length).toBe(before.sent);
    await imap.append(['From: after@example.com', `To: ${DESK}`, 'Subject: 退款', 'Message-ID: <after1@example.com>', 'Content-Type: text/plain; charset=utf-8', '', '退货已经寄回一周了，退款还没有到账。', ''].join('\r\n'));
    await ticketWith('退款还没有到账');
    await rounds(2);
    expect((await emailTickets()).length).toBe(before.tickets.length + 1);
    const health = (await (await fetch(`${A.url}/readyz`)).json()) as { channels: unknown[] };
    expect(health.channels).toContainEqual(expect.objectContaining({ channel: 'email', status: 'ok' }));
  });
});
