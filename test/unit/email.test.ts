/**
 * The e-mail channel's pure parts: quoted history and signatures removed (tables of the ways mail
 * clients quote, in English and Chinese), automatic mail recognised, the configuration's checks
 * naming the variable, the reply subject, and the customer texts in each language.
 */
import { randomUUID } from 'node:crypto';
import { TestAdapter, TurnContext } from 'botbuilder';
import { describe, expect, it } from 'vitest';
import { ACKS_PER_ADDRESS_PER_HOUR, EmailTurn, emailTurnResult } from '../../channels/email/email-turn.js';
import { replySubject } from '../../channels/email/email-adapter.js';
import { parseInbound, threadSubject } from '../../channels/email/inbound.js';
import { emailTexts, formatBytes, staffNotes } from '../../channels/email/messages.js';
import { emailSettings } from '../../channels/email/settings.js';
import { baseSubject, stripReply } from '../../channels/email/strip.js';
import { REPLY_LANGS } from '../../bot/messages.js';
import { ConfigError, loadConfig } from '../../runtime/config.js';

const ASK = '我的订单三天了还没发货，请帮忙催一下。';

describe('stripReply', () => {
  const cases: [string, string, { quoted?: boolean; signature?: boolean }][] = [
    ['Gmail English', `${ASK}\n\nOn Mon, Dec 1, 2026 at 10:00 AM Desk <service@desk.example> wrote:\n> 您的退款已处理\n> 谢谢`, { quoted: true }],
    ['Gmail wrapped over two lines', `${ASK}\n\nOn Mon, Dec 1, 2026 at 10:00 AM Customer Service Center <service@desk.example>\nwrote:\n> 退款`, { quoted: true }],
    ['Gmail Chinese', `${ASK}\n\n在 2026年12月1日周一 10:00，客服中心 <service@desk.example> 写道：\n> 退款已处理`, { quoted: true }],
    ['Gmail traditional Chinese', `${ASK}\n\n在 2026年12月1日 週一 10:00，客服中心 <service@desk.example> 寫道：\n> 退款已處理`, { quoted: true }],
    ['Foxmail/QQ', `${ASK}\n\n------------------ 原始邮件 ------------------\n发件人: "客服中心"<service@desk.example>;\n发送时间: 2026年12月1日(星期一) 上午10:00\n收件人: "张三"<z@example.com>;\n主题: 退款`, { quoted: true }],
    ['Outlook English', `${ASK}\n\n-----Original Message-----\nFrom: Desk <service@desk.example>\nSent: Monday, December 1, 2026 10:00 AM\nSubject: refund`, { quoted: true }],
    ['Outlook header block without separator', `${ASK}\n\nFrom: Desk <service@desk.example>\nSent: Monday, December 1, 2026 10:00 AM\nTo: z@example.com\nSubject: refund`, { quoted: true }],
    ['Outlook Chinese header block', `${ASK}\n\n发件人: 客服中心 <service@desk.example>\n发送时间: 2026年12月1日 10:00\n收件人: 张三\n主题: 退款`, { quoted: true }],
    ['Outlook traditional header block', `${ASK}\n\n寄件者: 客服中心 <service@desk.example>\n寄件日期: 2026年12月1日 10:00\n收件者: 張三\n主旨: 退款`, { quoted: true }],
    ['網易 traditional 發件人', `${ASK}\n\n發件人: 客服中心 <service@desk.example>\n時間: 2026年12月1日 10:00\n收件人: 張三`, { quoted: true }],
    ['interleaved > lines', `> 请问您的订单号是？\n${ASK}\n> 还有别的问题吗？`, { quoted: true }],
    ['standard signature', `${ASK}\n\n-- \n张三\n某某公司 采购部\n电话 010-12345678`, { signature: true }],
    ['iPhone', `${ASK}\n\n发自我的iPhone`, { signature: true }],
    ['Sent from my iPhone', `${ASK}\n\nSent from my iPhone`, { signature: true }],
    ['此致 sign-off', `${ASK}\n\n此致\n敬礼\n张三`, { signature: true }],
    ['Best regards sign-off', `${ASK}\n\nBest regards,\nZhang San\nBuyer, Example Ltd.`, { signature: true }],
    ['谢谢 sign-off then quote', `${ASK}\n谢谢！\n张三\n\n在 2026年12月1日 10:00，客服中心 写道：\n> 退款`, { quoted: true, signature: true }],
  ];
  it.each(cases)('%s', (_name, body, found) => {
    const r = stripReply(body);
    expect(r.text).toBe(ASK);
    expect(r.quoted).toBe(found.quoted ?? false);
    expect(r.signature).toBe(found.signature ?? false);
  });

  it('keeps a message that only mentions thanks or regards inside its text', () => {
    const body = '谢谢你们上次的帮助。\n这次我的快递又丢了，订单号 88231。\n麻烦尽快处理，谢谢你们';
    expect(stripReply(body)).toEqual({ text: body, quoted: false, signature: false });
  });

  it('keeps a long text after a sign-off-like line (it is not a signature)', () => {
    const rest = Array.from({ length: 8 }, (_, i) => `第${i + 1}点：包装破损，里面的杯子碎了，需要退货退款并补偿运费。`).join('\n');
    const body = `问题如下\n谢谢\n${rest}`;
    expect(stripReply(body).text).toBe(body);
  });

  it('keeps forwarded messages (the customer wants us to read them)', () => {
    const body = '请看下面这封邮件，我没有收到退款。\n\n---------- Forwarded message ---------\nFrom: Shop <shop@example.com>\nDate: Mon, Dec 1, 2026\nSubject: 退款通知\n\n您的退款已原路退回。';
    expect(stripReply(body).text).toContain('Forwarded message');
  });

  it('returns an empty text for a reply that is only quoted history', () => {
    expect(stripReply('On Mon, Dec 1, 2026 at 10:00 AM Desk <d@x.example> wrote:\n> hello').text).toBe('');
  });
});

describe('subjects', () => {
  it.each([
    ['Re: RE: 回复：Fwd: 快递', '快递'],
    ['答复: 转发: Order', 'Order'],
    ['AW: Bestellung', 'Bestellung'],
    ['没有前缀', '没有前缀'],
  ])('baseSubject(%s)', (s, expected) => expect(baseSubject(s)).toBe(expected));

  it('threads a subject without prefixes and ticket tags; a reply names the ticket once', () => {
    expect(threadSubject('Re: 快递没到 [T20261206-0001]')).toBe('快递没到');
    expect(replySubject('快递没到', 'T20261206-0001')).toBe('Re: 快递没到 [T20261206-0001]');
    expect(replySubject('快递没到 [T20261206-0001]', 'T20261206-0001')).toBe('Re: 快递没到 [T20261206-0001]');
    expect(replySubject('快递没到', null)).toBe('Re: 快递没到');
  });
});

describe('parseInbound', () => {
  const own = 'service@desk.example';
  const mail = (headers: string[], body = '你好，我的快递还没到。') => Buffer.from([...headers, 'Content-Type: text/plain; charset=utf-8', '', body, ''].join('\r\n'));

  it('reads the sender (lower-case), the thread ids and the text', async () => {
    const m = await parseInbound(mail(['From: "Zhang" <Zhang@Example.COM>', 'Subject: Re: 快递', 'Message-ID: <a@x.example>', 'In-Reply-To: <b@desk.example>', 'References: <r1@x.example> <b@desk.example>']), own);
    expect(m).toMatchObject({ from: 'zhang@example.com', fromName: 'Zhang', messageId: '<a@x.example>', key: '<a@x.example>', replyTo: ['<b@desk.example>', '<r1@x.example>'], own: '你好，我的快递还没到。', automatic: null, problems: [] });
  });

  it.each([
    ['Auto-Submitted: auto-replied', 'auto-submitted'],
    ['Auto-Submitted: auto-generated', 'auto-submitted'],
    ['X-Autoreply: yes', 'auto-reply-header'],
    ['Precedence: bulk', 'bulk'],
    ['Return-Path: <>', 'bounce'],
  ])('recognises automatic mail by "%s"', async (header, reason) => {
    const m = await parseInbound(mail(['From: a@example.com', 'Message-ID: <x@example.com>', header]), own);
    expect(m.automatic).toBe(reason);
  });

  it('recognises bounces by sender and mail from the desk itself; Auto-Submitted: no is a person', async () => {
    expect((await parseInbound(mail(['From: MAILER-DAEMON@mx.example.com', 'Message-ID: <y@example.com>']), own)).automatic).toBe('bounce');
    expect((await parseInbound(mail(['From: postmaster@example.com', 'Message-ID: <z@example.com>']), own)).automatic).toBe('bounce');
    expect((await parseInbound(mail(['From: Service@Desk.example', 'Message-ID: <w@example.com>']), own)).automatic).toBe('own-address');
    expect((await parseInbound(mail(['From: a@example.com', 'Message-ID: <v@example.com>', 'Auto-Submitted: no']), own)).automatic).toBeNull();
  });

  it('keys a mail without Message-ID by its content, so a retry finds the same key', async () => {
    const raw = mail(['From: a@example.com', 'Subject: 无编号']);
    const [a, b] = await Promise.all([parseInbound(raw, own), parseInbound(Buffer.from(raw), own)]);
    expect(a.messageId).toBeNull();
    expect(a.key).toMatch(/^<sha256\.[0-9a-f]{64}@no-message-id>$/);
    expect(b.key).toBe(a.key);
  });

  it('reads bytes with no headers as text, with the original attached and a note', async () => {
    const m = await parseInbound(Buffer.from('\u0001 not a mail\r\n\r\n--x\r\n'), own);
    expect(m.from).toBeNull();
    expect(m.attachments.map((a) => a.filename)).toContain('original.eml');
    expect(m.problems.join(' ')).toMatch(/malformed MIME|could not be read as MIME/);
  });
});

describe('configuration', () => {
  const full = { EMAIL_IMAP_URL: 'imaps://desk%40example.com:p%3Ass@imap.example.com', EMAIL_SMTP_URL: 'smtps://desk%40example.com:pw@smtp.example.com', EMAIL_FROM: '客服中心 <Service@Example.com>' };

  it('is off when nothing is set', () => {
    expect(emailSettings(loadConfig({}))).toBeNull();
  });

  it('reads the URLs (encoded user and password, default ports) and the sender', () => {
    const s = emailSettings(loadConfig({ ...full, EMAIL_POLL_SECONDS: '15' }))!;
    expect(s.imap).toEqual({ host: 'imap.example.com', port: 993, secure: true, auth: { user: 'desk@example.com', pass: 'p:ss' } });
    expect(s.smtp).toEqual({ host: 'smtp.example.com', port: 465, secure: true, auth: { user: 'desk@example.com', pass: 'pw' } });
    expect(s.from).toEqual({ address: 'service@example.com', name: '客服中心' });
    expect(s.mailbox).toBe('INBOX');
    expect(s.pollMs).toBe(15_000);
    const plain = emailSettings(loadConfig({ ...full, EMAIL_IMAP_URL: 'imap://u:p@localhost', EMAIL_SMTP_URL: 'smtp://localhost', EMAIL_IMAP_PASSWORD: 'secret' }))!;
    expect(plain.imap).toMatchObject({ port: 143, secure: false, auth: { user: 'u', pass: 'secret' } });
    expect(plain.smtp).toEqual({ host: 'localhost', port: 587, secure: false });
  });

  it.each([
    [{ EMAIL_IMAP_URL: full.EMAIL_IMAP_URL }, ['EMAIL_SMTP_URL', 'EMAIL_FROM']],
    [{ EMAIL_SMTP_URL: full.EMAIL_SMTP_URL, EMAIL_FROM: full.EMAIL_FROM }, ['EMAIL_IMAP_URL']],
    [{ EMAIL_SMTP_PASSWORD: 'x' }, ['EMAIL_IMAP_URL', 'EMAIL_SMTP_URL', 'EMAIL_FROM']],
  ])('a partial e-mail configuration fails at start naming what is missing (%o)', (env, names) => {
    let message = '';
    try {
      loadConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    for (const n of names) expect(message).toContain(`${n}: required for the e-mail channel`);
  });

  it.each([
    ['EMAIL_IMAP_URL', 'https://imap.example.com'],
    ['EMAIL_IMAP_URL', 'imaps://imap.example.com'],
    ['EMAIL_SMTP_URL', 'mailto:x@example.com'],
    ['EMAIL_FROM', 'not an address'],
    ['EMAIL_POLL_SECONDS', '0'],
    ['EMAIL_ATTACHMENT_MAX_BYTES', String(64 * 1024 * 1024)],
  ])('an invalid %s fails at start naming it', (name, value) => {
    expect(() => loadConfig({ ...full, [name]: value })).toThrow(new RegExp(`${name}:`));
  });
});

describe('texts', () => {
  it.each(REPLY_LANGS)('the customer texts in %s name the ticket and are in that language', (lang) => {
    const t = emailTexts(lang);
    for (const s of [t.filed('T20261206-0001'), t.filedOffline('T20261206-0001'), t.joined('T20261206-0001')]) expect(s).toContain('T20261206-0001');
    const all = [t.filed('T1'), t.filedOffline('T1'), t.joined('T1'), t.empty, t.defaultSubject].join('\n');
    if (lang === 'en') expect(all).not.toMatch(/\p{Script=Han}/u);
    if (lang === 'zh-Hans') {
      expect(all).toMatch(/邮件/);
      expect(all).not.toMatch(/郵件|覆|諮/);
    }
    if (lang === 'zh-Hant') {
      expect(all).toMatch(/郵件/);
      expect(all).not.toMatch(/邮件|复|询/);
    }
  });

  it.each(REPLY_LANGS)('in %s, a reply that joined a ticket renumbered at outbox replay names both numbers, in that language', (lang) => {
    const t = emailTexts(lang);
    const moved = t.joined('T20261206-0007', 'T20261206-0002');
    expect(moved).toContain('T20261206-0007');
    expect(moved).toContain('T20261206-0002');
    expect(moved.indexOf('T20261206-0002')).toBeLessThan(moved.lastIndexOf('T20261206-0007'));
    // Without a former number the answer is the plain one, naming one number.
    expect(t.joined('T20261206-0007', null)).toBe(t.joined('T20261206-0007'));
    expect(t.joined('T20261206-0007')).not.toContain('T20261206-0002');
    const note = moved.replace(t.joined('T20261206-0007').replace(/\n\n[^\n]*$/, ''), '');
    if (lang === 'en') expect(note).toMatch(/^\nPlease note: your ticket number has changed from T20261206-0002 to T20261206-0007/);
    if (lang === 'zh-Hans') expect(note).toMatch(/^\n请注意：您的工单编号已由 T20261206-0002 更改为 T20261206-0007，用原编号查询仍可找到。/);
    if (lang === 'zh-Hant') expect(note).toMatch(/^\n請注意：您的工單編號已由 T20261206-0002 更改為 T20261206-0007，用原編號查詢仍可找到。/);
  });

  it('the three languages differ, and staff notes say sizes for people', () => {
    expect(new Set(REPLY_LANGS.map((l) => emailTexts(l).filed('T1'))).size).toBe(3);
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(8 * 1024 * 1024)).toBe('8 MB');
    expect(staffNotes.attachmentOverCap(9_000_000, 8 * 1024 * 1024, 'INBOX, UID 3')).toContain('8 MB');
    expect(staffNotes.bodyCapped(9000, 30000, 'message.txt')).toContain('30000');
  });
});

describe('EmailTurn', () => {
  type Filed = { text: string; contact?: unknown; customer: { userId: string } };
  function setup() {
    const filed: Filed[] = [];
    const sent: string[] = [];
    const classification = { normalized: 'x', lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, suspectedSpam: false, act: 'demand', actConfidence: 0, spamScore: 0, confidence: 0.9, typeConfidence: 0.9, alternatives: [{ topic: 'delivery', score: 0.9 }], keywords: [], needsReview: false, reason: null, modelVersion: 'test' };
    let n = 0;
    const turn = new EmailTurn({
      classifier: { classify: () => classification as never },
      tickets: {
        file: async (input) => {
          filed.push({ text: input.text.original, contact: input.contact, customer: input.customer });
          return { ticket: { number: `T20261206-${String(++n).padStart(4, '0')}` } as never, stored: 'database' };
        },
        addCustomerMessage: async () => ({}) as never,
      },
      linkThread: async () => undefined,
      log: { warn: () => undefined },
      now: () => 1_000_000,
    });
    const adapter = new TestAdapter(async () => undefined);
    const run = async (from: string, text: string) => {
      const context = new TurnContext(adapter, { type: 'message', channelId: 'email', from: { id: from, name: from }, recipient: { id: 'desk', name: 'desk' }, conversation: { id: `email:${randomUUID()}`, isGroup: false, conversationType: 'email', name: '' }, text, channelData: { email: { kind: 'new', ticketText: `subject\n\n${text}` } } });
      context.onSendActivities(async (_c, activities, next) => {
        for (const a of activities) if (a.type === 'message') sent.push(a.text ?? '');
        return next();
      });
      await turn.run(context);
      return emailTurnResult(context)!;
    };
    return { filed, sent, run };
  }

  it('files a mail with the sender as contact and answers with the number', async () => {
    const { filed, sent, run } = setup();
    const r = await run('li@example.com', '快递没到');
    expect(r).toMatchObject({ outcome: 'filed', ticketNumber: 'T20261206-0001', error: null, ackError: null });
    expect(filed[0]).toMatchObject({ text: 'subject\n\n快递没到', contact: { email: 'li@example.com' }, customer: { userId: 'li@example.com' } });
    expect(sent).toEqual([emailTexts('zh-Hans').filed('T20261206-0001')]);
  });

  it(`files every mail but answers one address at most ${ACKS_PER_ADDRESS_PER_HOUR} times an hour`, async () => {
    const { filed, sent, run } = setup();
    const results = [];
    for (let i = 0; i < ACKS_PER_ADDRESS_PER_HOUR + 3; i++) results.push(await run('victim@example.com', `第${i}封`));
    await run('other@example.com', '另一个人');
    expect(filed).toHaveLength(ACKS_PER_ADDRESS_PER_HOUR + 4);
    expect(sent).toHaveLength(ACKS_PER_ADDRESS_PER_HOUR + 1);
    expect(results.at(-1)!.ackError).toMatch(/automatic answers/);
  });
});
