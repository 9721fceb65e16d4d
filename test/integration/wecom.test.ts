/**
 * WeCom customer service end to end: the real app (createApp, real classifier, real store on the
 * test database) over real HTTP, and a local WeCom stand-in (test/helpers/wecom-peer.ts) that
 * encrypts callbacks as WeCom documents, serves gettoken, sync_msg with cursors, send_msg,
 * send_msg_on_event and media/get, and enforces the 48-hour and 5-replies limits.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { SLOW_DOWN } from '../../channels/wechat/index.js';
import { WECOM_CHANNEL_ID, type WeComChannel } from '../../channels/wecom/index.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { WeComPeer } from '../helpers/wecom-peer.js';

const SETTINGS = { corpId: 'ww5823bf96d3bd56c7', secret: 'standin-kf-secret-0123456789', token: 'kfTestToken42', encodingAesKey: 'k7WbQx3RmN2pLs8TvYc4Hd6Jf9Ga1Ze5Ur0Io2PaS3w' };
// The periodic safety-net sync is off in these apps (the tests pin which sync requests are made);
// the test of the periodic sync starts its own app with it on.
const ENV = { WECOM_CORP_ID: SETTINGS.corpId, WECOM_SECRET: SETTINGS.secret, WECOM_TOKEN: SETTINGS.token, WECOM_ENCODING_AES_KEY: SETTINGS.encodingAesKey, WECOM_SYNC_INTERVAL_SECONDS: '0' };
const PASSWORD = 'wecom-test-password-1';
const NUMBER = /T\d{8}-\d{4}/;

let peer: WeComPeer;
let base: string;
let A: RunningApp;
let staffToken: string;
let userSeq = 0;

/** A fresh external_userid (WeCom's are "wm" + 30 characters). */
function customer(): string {
  return `wmTest${String(++userSeq).padStart(4, '0')}${randomBytes(9).toString('hex')}`;
}

function channel(app: RunningApp = A): WeComChannel {
  return app.app.channels.find((c) => c.id === WECOM_CHANNEL_ID) as WeComChannel;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${A.url}${path}`, { method, headers: { authorization: `Bearer ${staffToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json() };
}

/** The customer writes; returns the bot's answer (the next message the peer received for them). */
async function say(user: string, text: string): Promise<string> {
  const before = peer.sentTo(user).length;
  const r = await peer.customer(user, { type: 'text', content: text });
  expect(r).toMatchObject({ status: 200, body: 'success' });
  return (await peer.nextSentAfter(user, before)).content;
}

/** The customer's dialog to a ticket (text → "对" → "跳过"); returns the number the bot gave. */
async function fileByText(user: string, text: string): Promise<string> {
  expect(await say(user, text)).toMatch(/对吗/);
  expect(await say(user, '对')).toMatch(/手机号或邮箱/);
  const done = await say(user, '跳过');
  const number = NUMBER.exec(done)?.[0];
  expect(number, done).toBeDefined();
  return number!;
}

async function ticketCount(): Promise<number> {
  return (await A.store.tickets.list({ channelId: 'wecom', pageSize: 1 })).total;
}

beforeAll(async () => {
  peer = new WeComPeer(SETTINGS);
  base = await peer.start();
  A = await startApp(inject('mongoUri'), { ...ENV, WECOM_API_BASE: base, RATE_LIMIT_PER_10S: '100' });
  peer.pushTo(A.url);
  await A.services.auth.createUser({ username: 'kfagent', password: PASSWORD, role: 'agent', createdBy: 'test' });
  const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'kfagent', password: PASSWORD }) });
  staffToken = ((await login.json()) as { token: string }).token;
});

afterAll(async () => {
  await A?.stop();
  await peer?.stop();
});

describe('WeCom callback configuration', () => {
  it('answers the URL verification with the decrypted echostr; refuses a forged signature (401) and a wrong key (400)', async () => {
    const ok = await peer.verifyUrl();
    expect(ok).toMatchObject({ status: 200, body: ok.echo });
    const forged = await peer.verifyUrl('signature');
    expect(forged.status).toBe(401);
    expect(forged.body).not.toBe(forged.echo);
    const badKey = await peer.verifyUrl('aes-key');
    expect(badKey.status).toBe(400);
    expect(badKey.body).not.toBe(badKey.echo);
  });

  it('shows the channel in /readyz', async () => {
    const r = (await (await fetch(`${A.url}/readyz`)).json()) as { channels: unknown[] };
    expect(r.channels).toContainEqual({ channel: 'wecom', status: 'ok' });
  });
});

describe('a WeCom customer', () => {
  it('files a classified ticket by text; a staff reply reaches send_msg; the customer joins the profile and the statistics count the messages', async () => {
    const readCount = async () => ((await api('GET', '/api/stats/channel-messages')).body as { totals: Record<string, number> }).totals.wecom ?? 0;
    await channel().idle();
    const counted = await readCount();
    const user = customer();
    // The dialog's choices are a line of text.
    expect(await say(user, '我的快递三天了还没到，物流信息一直不更新')).toMatch(/「物流配送」的投诉，对吗？\n回复：对 \/ .+ \/ 其他 \/ 重新描述/);
    expect(await say(user, '对')).toMatch(/手机号或邮箱/);
    const done = await say(user, '跳过');
    const number = NUMBER.exec(done)![0];
    expect(done).toBe(texts('zh-Hans').created(number));
    // Every bot message went to the right account and customer, through send_msg, one per customer message.
    expect(peer.sentTo(user).map((m) => [m.via, m.openKfid])).toEqual(Array(3).fill(['send_msg', peer.openKfid]));
    const ticket = await A.store.tickets.get(number);
    expect(ticket).toMatchObject({ topic: 'delivery', type: 'complaint', customer: { channelId: 'wecom', userId: user }, text: { original: '我的快递三天了还没到，物流信息一直不更新' } });

    const r = await api('POST', `/api/tickets/${number}/replies`, { text: '已为您催件，预计明天送达。' });
    expect(r.status).toBe(201);
    expect(r.body.delivered).toBe(true);
    expect(await peer.waitForSent(user, (c) => c === '已为您催件，预计明天送达。')).toMatchObject({ touser: user, openKfid: peer.openKfid, via: 'send_msg' });

    const prefs = await api('GET', '/api/customers/channel-preferences');
    expect(JSON.stringify(prefs.body)).toContain('wecom');
    const list = await api('GET', `/api/tickets?channelId=wecom&customerUserId=${user}`);
    expect(list.body.items.map((t: { number: string }) => t.number)).toEqual([number]);
    await channel().idle();
    expect(await readCount()).toBe(counted + 3);
    // Each sync passed the callback's Token, and resumed from the cursor the last one returned.
    const mine = peer.syncRequests.slice(-3);
    expect(mine.every((s) => s.token !== null && s.openKfid === peer.openKfid)).toBe(true);
  });

  it('keeps a picture’s bytes on the ticket: a new ticket for staff without an open one, added to the open one otherwise', async () => {
    const user = customer();
    const bytes = randomBytes(3000);
    const before = peer.sentTo(user).length;
    await peer.customer(user, { type: 'image', bytes, contentType: 'image/png' });
    const reply = (await peer.nextSentAfter(user, before)).content;
    const number = NUMBER.exec(reply)![0];
    expect(reply).toBe(texts('zh-Hans').mediaFiled(number));
    await channel().idle();
    const filed = await A.store.tickets.get(number);
    expect(filed).toMatchObject({ needsReview: true, reviewReason: 'media-only', customer: { channelId: 'wecom', userId: user }, attachments: [{ kind: 'image', contentType: 'image/png' }] });
    const files = await api('GET', `/api/tickets/${number}/attachments`);
    expect(files.body.items).toHaveLength(1);
    expect(files.body.items[0]).toMatchObject({ contentType: 'image/png', size: 3000, stored: true, channelId: 'wecom' });
    const got = await fetch(`${A.url}/api/tickets/${number}/attachments/${files.body.items[0].id}`, { headers: { authorization: `Bearer ${staffToken}` } });
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);

    const user2 = customer();
    const open = await fileByText(user2, '收到的衣服有破洞，质量太差了');
    const n2 = peer.sentTo(user2).length;
    const pic = randomBytes(500);
    await peer.customer(user2, { type: 'image', bytes: pic });
    expect((await peer.nextSentAfter(user2, n2)).content).toBe(texts('zh-Hans').mediaAdded(open));
    await channel().idle();
    const kept = (await api('GET', `/api/tickets/${open}/attachments`)).body.items;
    expect(kept).toMatchObject([{ contentType: 'image/jpeg', size: 500, stored: true }]);

    // A picture WeCom no longer has: still on the ticket, listed with a note saying why there are no bytes.
    peer.mediaExpired = true;
    try {
      const n3 = peer.sentTo(user2).length;
      await peer.customer(user2, { type: 'image', bytes: randomBytes(10) });
      expect((await peer.nextSentAfter(user2, n3)).content).toBe(texts('zh-Hans').mediaAdded(open));
      await channel().idle();
    } finally {
      peer.mediaExpired = false;
    }
    const both = (await api('GET', `/api/tickets/${open}/attachments`)).body.items;
    expect(both).toHaveLength(2);
    expect(both[1]).toMatchObject({ stored: false, size: 0 });
    expect(both[1].note).toMatch(/not downloaded \(WeCom refused the request \(errcode 40007.*media_id media-/);
  });

  it('keeps a voice message on the ticket and asks for text, in the customer’s language', async () => {
    for (const [lang, first] of [
      ['zh-Hans', null],
      ['zh-Hant', '我的包裹三天了還沒有到，物流資訊一直不更新'],
      ['en', 'My parcel has not arrived after three days and the tracking never updates'],
    ] as const) {
      const user = customer();
      if (first) expect(await say(user, first)).toMatch(lang === 'en' ? /is that right\?\nReply: Yes \/ / : /對嗎？\n回覆：對 \/ /);
      const n = peer.sentTo(user).length;
      const voice = randomBytes(800);
      await peer.customer(user, { type: 'voice', bytes: voice });
      const reply = (await peer.nextSentAfter(user, n)).content;
      const number = NUMBER.exec(reply)?.[0];
      expect(reply).toBe(texts(lang).voiceKept(number!));
      await channel().idle();
      const items = (await api('GET', `/api/tickets/${number}/attachments`)).body.items;
      expect(items).toMatchObject([{ contentType: 'audio/amr', size: 800, stored: true }]);
    }
    expect(new Set((['zh-Hans', 'zh-Hant', 'en'] as const).map((l) => texts(l).voiceKept('T20261206-0001'))).size).toBe(3);
  });

  it('greets a customer entering the session through send_msg_on_event; skips servicer messages; records other events; answers other kinds politely', async () => {
    const user = customer();
    const entered = await peer.enterSession(user);
    expect(entered.status).toBe(200);
    expect(await peer.waitForSent(user)).toMatchObject({ via: 'event', content: texts('zh-Hans').greeting });
    // Without a welcome_code WeCom allows no greeting: nothing is sent.
    const quiet = customer();
    await peer.enterSession(quiet, { welcomeCode: false });
    await peer.servicer(user, '您好，我是客服小张');
    await peer.event(user, 'session_status_change', { change_type: 1 });
    await channel().idle();
    expect(peer.sentTo(quiet)).toEqual([]);
    expect(peer.sentTo(user)).toHaveLength(1);
    expect(channel().stats().skipped).toBeGreaterThanOrEqual(1);

    expect(await say(user, '在吗')).not.toBe('');
    const n = peer.sentTo(user).length;
    await peer.customer(user, { type: 'location', name: '广州市天河区' });
    expect((await peer.nextSentAfter(user, n)).content).toBe(texts('zh-Hans').unsupportedMedia);
    // A message type WeCom might add later.
    await peer.customer(user, { type: 'raw', message: { msgtype: 'hologram', hologram: {} } });
    expect((await peer.nextSentAfter(user, n + 1)).content).toBe(texts('zh-Hans').unsupportedMedia);
  });
});

describe('bad input', () => {
  it('refuses forged signatures (401), undecryptable or foreign-corp bodies (400), malformed XML (400) and oversized bodies (413), filing and pulling nothing', async () => {
    const before = await ticketCount();
    const syncs = peer.syncRequests.length;
    expect((await peer.callback({ forge: 'signature' })).status).toBe(401);
    expect((await peer.callback({ forge: 'aes-key' })).status).toBe(400);
    const foreign = await peer.callback({ forge: 'corp' });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toMatch(/app id/);
    // Signed and encrypted correctly, but not WeCom's XML inside.
    for (const inner of ['<xml><MsgType>event</MsgType>', 'not xml at all', '<!DOCTYPE x [<!ENTITY a "b">]><xml/>', '<xml><OpenKfId>../../x</OpenKfId><Event>kf_msg_or_event</Event></xml>']) {
      expect((await peer.callback({ inner })).status, inner).toBe(400);
    }
    // No encrypted part at all.
    expect((await peer.callback({ body: '<xml><ToUserName>ww</ToUserName></xml>' })).status).toBe(401);
    const huge = await peer.callback({ body: `<xml><Encrypt>${'A'.repeat(40_000)}</Encrypt></xml>` });
    expect(huge.status).toBe(413);
    await channel().idle();
    expect(peer.syncRequests.length).toBe(syncs);
    expect(await ticketCount()).toBe(before);
    expect(channel().stats().refused).toBeGreaterThanOrEqual(9);
  });

  it('takes a message once when the callback is re-sent or WeCom lists it again, also in another process on the same database', async () => {
    const user = customer();
    expect(await say(user, '空调装好第二天就不制冷了，要求上门维修')).toMatch(/对吗/);
    const n = peer.sentTo(user).length;
    const msgid = (await peer.customer(user, { type: 'text', content: '对' })).msgid;
    await peer.nextSentAfter(user, n);
    const dupes = channel().stats().duplicates;
    // The same callback again (WeCom retries when the answer is slow) pulls nothing new.
    expect((await peer.callback()).status).toBe(200);
    expect(await peer.relist(msgid)).toBe(200);
    await channel().idle();
    const other = await startApp(inject('mongoUri'), { ...ENV, WECOM_API_BASE: base }, { dbName: A.db.databaseName });
    try {
      peer.pushTo(other.url);
      expect(await peer.relist(msgid)).toBe(200);
      await channel(other).idle();
      expect(channel(other).stats().duplicates).toBe(1);
    } finally {
      peer.pushTo(A.url);
      await other.app.closeChannels();
      other.app.server.close();
      await other.services.close();
    }
    expect(channel().stats().duplicates).toBe(dupes + 1);
    // Had "对" been processed again, the dialog would not be asking for a contact now.
    expect(peer.sentTo(user)).toHaveLength(n + 1);
    expect((await say(user, '跳过'))).toMatch(NUMBER);
  });

  it('retries a failed sync_msg from the same cursor without losing the message', async () => {
    const user = customer();
    const syncs = peer.syncRequests.length;
    // More failures than the API client's own 3 attempts: the channel retries the sync too.
    peer.failSyncs = 4;
    const reply = await say(user, '宽带晚上一直断网，根本没法用');
    expect(reply).toMatch(/对吗/);
    expect(peer.failSyncs).toBe(0);
    // The failed calls were made from the same cursor as the one that succeeded.
    const tried = peer.syncRequests.slice(syncs, syncs + 5);
    expect(tried.map((s) => s.failed)).toEqual([true, true, true, true, false]);
    expect(new Set(tried.map((s) => s.cursor)).size).toBe(1);
    expect(channel().stats().syncFailures).toBe(1);
    await channel().idle();
    const r = (await (await fetch(`${A.url}/readyz`)).json()) as { channels: unknown[] };
    expect(r.channels).toContainEqual({ channel: 'wecom', status: 'ok' });
  });

  it('keeps the cursor across a restart: a new server process pulls from where the last one stopped, including what came while no server ran', async () => {
    const user = customer();
    expect(await say(user, '这个月话费多扣了三十块，怎么回事')).toMatch(/对吗/);
    await channel().idle();
    const after = peer.cursorAfter(peer.logLength());
    const stored = await A.db.collection('wecomCursors').findOne({ _id: peer.openKfid as never });
    expect(stored?.cursor).toBe(after);
    // The customer answers while no server is taking callbacks: WeCom logs the message, no callback arrives.
    const n = peer.sentTo(user).length;
    await peer.customer(user, { type: 'text', content: '对' }, { silent: true });
    const syncs = peer.syncRequests.length;
    const other = await startApp(inject('mongoUri'), { ...ENV, WECOM_API_BASE: base, RATE_LIMIT_PER_10S: '100' }, { dbName: A.db.databaseName });
    try {
      peer.pushTo(other.url);
      // Pulled at start, from the stored cursor, without a callback Token.
      expect((await peer.nextSentAfter(user, n)).content).toMatch(/手机号或邮箱/);
      await channel(other).idle();
      expect(peer.syncRequests[syncs]).toMatchObject({ cursor: after, token: null });
      expect(channel(other).stats()).toMatchObject({ messages: 1, duplicates: 0 });
    } finally {
      peer.pushTo(A.url);
      await other.app.closeChannels();
      other.app.server.close();
      await other.services.close();
    }
  });

  it('pulls each known account periodically: a message listed without any callback arrives, and nothing is taken twice', async () => {
    // A message through a callback, so the account has a stored cursor.
    const user = customer();
    expect(await say(user, '快递显示已签收但是我没收到')).toMatch(/对吗/);
    await channel().idle();
    const [takenByA, tickets] = [channel().stats().messages, await ticketCount()];
    const other = await startApp(inject('mongoUri'), { ...ENV, WECOM_SYNC_INTERVAL_SECONDS: '1', WECOM_API_BASE: base, RATE_LIMIT_PER_10S: '100' }, { dbName: A.db.databaseName });
    try {
      await channel(other).idle();
      // WeCom lists the customer's answer but its callback never arrives (given up on): no server is told.
      const n = peer.sentTo(user).length;
      const syncs = peer.syncRequests.length;
      await peer.customer(user, { type: 'text', content: '对' }, { silent: true });
      expect((await peer.nextSentAfter(user, n, 30_000)).content).toMatch(/手机号或邮箱/);
      // Pulled without a callback Token, by the periodic sync of the other server (A's is off).
      expect(peer.syncRequests.slice(syncs).every((r) => r.token === null)).toBe(true);
      // Several more rounds, and a callback to A racing them on the same cursor: one answer each.
      const rounds = peer.syncRequests.length;
      await expect.poll(() => peer.syncRequests.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(rounds + 2);
      expect(await say(user, '跳过')).toMatch(NUMBER);
      await expect.poll(() => peer.syncRequests.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(peer.syncRequests.length + 2);
      await Promise.all([channel().idle(), channel(other).idle()]);
      expect(peer.sentTo(user)).toHaveLength(n + 2);
      expect(channel().stats().messages - takenByA + channel(other).stats().messages).toBe(2);
      expect(await ticketCount()).toBe(tickets + 1);
    } finally {
      await other.app.closeChannels();
      other.app.server.close();
      await other.services.close();
    }
    // Closed: no more rounds from the other server.
    const after = peer.syncRequests.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(peer.syncRequests.length).toBe(after);
  });

  it('follows has_more/next_cursor through several pages of one sync', async () => {
    const users = [customer(), customer(), customer(), customer(), customer()];
    for (const u of users) await peer.customer(u, { type: 'text', content: '你好' }, { silent: true });
    const syncs = peer.syncRequests.length;
    peer.pageSize = 2;
    try {
      expect((await peer.callback()).status).toBe(200);
      await channel().idle();
    } finally {
      peer.pageSize = 1000;
    }
    for (const u of users) expect(peer.sentTo(u)).toHaveLength(1);
    // Three pages (2 + 2 + 1), each from the cursor the previous one returned.
    const pages = peer.syncRequests.slice(syncs);
    expect(pages).toHaveLength(3);
    const end = peer.logLength();
    expect(pages.map((p) => p.cursor)).toEqual([peer.cursorAfter(end - 5), peer.cursorAfter(end - 3), peer.cursorAfter(end - 1)]);
  });

  it('limits how fast one customer may write, politely', async () => {
    const other = await startApp(inject('mongoUri'), { ...ENV, WECOM_API_BASE: base, WECOM_RATE_PER_MINUTE: '3', RATE_LIMIT_PER_10S: '100' });
    try {
      peer.pushTo(other.url);
      for (const [text, lang] of [['你好', 'zh-Hans'], ['你們好，請問這個怎麼處理', 'zh-Hant'], ['hello there, anyone around?', 'en']] as const) {
        const user = customer();
        const replies: string[] = [];
        for (let i = 0; i < 4; i++) {
          const n = peer.sentTo(user).length;
          await peer.customer(user, { type: 'text', content: text });
          replies.push((await peer.nextSentAfter(user, n)).content);
        }
        expect(replies.slice(0, 3).some((r) => Object.values(SLOW_DOWN).includes(r as never))).toBe(false);
        expect(replies[3]).toBe(SLOW_DOWN[lang]);
      }
    } finally {
      peer.pushTo(A.url);
      await other.stop();
    }
  });
});

describe('WeCom’s limits and the access token', () => {
  it('records a reply after 48 hours, or past 5 per customer message, as undelivered with WeCom’s reason; delivers again once the customer writes', async () => {
    const user = customer();
    const number = await fileByText(user, '退款申请了两周还没到账');
    // The bot's answer to "跳过" was 1 of 5; four staff replies fit, the fifth does not.
    for (let i = 1; i <= 4; i++) expect((await api('POST', `/api/tickets/${number}/replies`, { text: `第${i}条回复` })).body.delivered).toBe(true);
    const fifth = await api('POST', `/api/tickets/${number}/replies`, { text: '第5条回复' });
    expect(fifth.body.delivered).toBe(false);
    expect(fifth.body.ticket.replies.at(-1).error).toMatch(/95001.*at most 5/);
    expect(peer.refused).toContainEqual({ touser: user, errcode: 95001 });

    await say(user, '好的');
    peer.advance(49 * 3_600_000);
    try {
      const late = await api('POST', `/api/tickets/${number}/replies`, { text: '已核实，将退还费用。' });
      expect(late.status).toBe(201);
      expect(late.body.delivered).toBe(false);
      expect(late.body.ticket.replies.at(-1)).toMatchObject({ delivered: false, text: '已核实，将退还费用。' });
      expect(late.body.ticket.replies.at(-1).error).toMatch(/95002.*48 hours/);
      expect(peer.refused).toContainEqual({ touser: user, errcode: 95002 });
      await say(user, '谢谢');
      const again = await api('POST', `/api/tickets/${number}/replies`, { text: '费用已退还，请查收。' });
      expect(again.body.delivered).toBe(true);
      await peer.waitForSent(user, (c) => c === '费用已退还，请查收。');
    } finally {
      peer.advance(-49 * 3_600_000);
    }
  });

  it('fetches a new access token once when WeCom rejects the cached one', async () => {
    const user = customer();
    const number = await fileByText(user, '我的快递三天了还没到，物流信息一直不更新');
    const before = peer.tokenRequests.gettoken;
    peer.expireTokens();
    const r = await api('POST', `/api/tickets/${number}/replies`, { text: '已安排换货。' });
    expect(r.body.delivered).toBe(true);
    await peer.waitForSent(user, (c) => c === '已安排换货。');
    expect(peer.tokenRequests.gettoken).toBe(before + 1);
  });
});
