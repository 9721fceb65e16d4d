/**
 * The WeChat Official Account channel end to end: the real app (createApp, real classifier, real
 * store on the test database) over real HTTP, and a local WeChat stand-in (test/helpers/wechat-peer.ts)
 * that signs and encrypts pushes as WeChat documents, serves the token and customer-service APIs and
 * enforces the 48-hour window.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { SLOW_DOWN, WECHAT_CHANNEL_ID, type WeChatChannel } from '../../channels/wechat/index.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { WeChatPeer } from '../helpers/wechat-peer.js';

const AES_KEY = 'k7WbQx3RmN2pLs8TvYc4Hd6Jf9Ga1Ze5Ur0Io2PaS3w';
const SETTINGS = { token: 'deskTestToken42', appId: 'wx5f1d2c3b4a596877', appSecret: 'standin-app-secret-0123456789', encodingAesKey: AES_KEY };
const PASSWORD = 'wechat-test-password-1';
const NUMBER = /T\d{8}-\d{4}/;

let peer: WeChatPeer;
let A: RunningApp;
let staffToken: string;
let userSeq = 0;

/** A fresh openid (WeChat's are 28 characters of base64url). */
function openid(): string {
  return `oWx${String(++userSeq).padStart(4, '0')}${Math.random().toString(36).slice(2, 10)}Test`;
}

function channel(app: RunningApp = A): WeChatChannel {
  return app.app.channels.find((c) => c.id === WECHAT_CHANNEL_ID) as WeChatChannel;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${A.url}${path}`, { method, headers: { authorization: `Bearer ${staffToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json() };
}

/** The customer's dialog to a ticket (text → "对" → "跳过"); returns the number the bot gave. */
async function fileByText(user: string, text: string): Promise<string> {
  const first = await peer.push(user, { type: 'text', content: text });
  expect(first.reply).toMatch(/对吗/);
  expect((await peer.push(user, { type: 'text', content: '对' })).reply).toMatch(/手机号或邮箱/);
  const done = await peer.push(user, { type: 'text', content: '跳过' });
  const number = NUMBER.exec(done.reply ?? '')?.[0];
  expect(number, done.body).toBeDefined();
  return number!;
}

/**
 * The tests read the bot's answers from the passive reply, which the server gives only when the
 * turn ends within WECHAT_PASSIVE_REPLY_MS (3 s by default, a margin under WeChat's 5 s for the
 * network). On loopback the margin is not needed, and a loaded machine needs the time: the most
 * the configuration allows.
 */
const PASSIVE_REPLY_MS = '4800';

beforeAll(async () => {
  peer = new WeChatPeer(SETTINGS);
  const base = await peer.start();
  A = await startApp(inject('mongoUri'), {
    WECHAT_TOKEN: SETTINGS.token,
    WECHAT_APP_ID: SETTINGS.appId,
    WECHAT_APP_SECRET: SETTINGS.appSecret,
    WECHAT_ENCODING_AES_KEY: AES_KEY,
    WECHAT_API_BASE: base,
    RATE_LIMIT_PER_10S: '100',
    WECHAT_PASSIVE_REPLY_MS: PASSIVE_REPLY_MS,
  });
  peer.pushTo(A.url);
  await A.services.auth.createUser({ username: 'wxagent', password: PASSWORD, role: 'agent', createdBy: 'test' });
  const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'wxagent', password: PASSWORD }) });
  staffToken = ((await login.json()) as { token: string }).token;
});

afterAll(async () => {
  await A?.stop();
  await peer?.stop();
});

describe('WeChat server configuration', () => {
  it('answers the URL verification with echostr, and refuses a forged signature', async () => {
    const ok = await peer.verifyUrl();
    expect(ok).toMatchObject({ status: 200, body: ok.echostr });
    const forged = await peer.verifyUrl(true);
    expect(forged.status).toBe(401);
    expect(forged.body).not.toBe(forged.echostr);
  });

  it('shows the channel in /readyz', async () => {
    const r = (await (await fetch(`${A.url}/readyz`)).json()) as { channels: unknown[] };
    expect(r.channels).toContainEqual({ channel: 'wechat', status: 'ok' });
  });
});

describe('a WeChat customer', () => {
  it('files a classified ticket by text in safe mode; a staff reply reaches the customer-service API', async () => {
    const user = openid();
    const first = await peer.push(user, { type: 'text', content: '我的快递三天了还没到，物流信息一直不更新' });
    expect(first.status).toBe(200);
    // The dialog's choices are a line of text on WeChat.
    expect(first.reply).toMatch(/「物流配送」的投诉，对吗？\n回复：对 \/ .+ \/ 其他 \/ 重新描述/);
    expect((await peer.push(user, { type: 'text', content: '对' })).reply).toMatch(/手机号或邮箱/);
    const done = await peer.push(user, { type: 'text', content: '跳过' });
    const number = NUMBER.exec(done.reply ?? '')![0];
    expect(done.reply).toBe(texts('zh-Hans').created(number));
    const ticket = await A.store.tickets.get(number);
    expect(ticket).toMatchObject({ topic: 'delivery', type: 'complaint', customer: { channelId: 'wechat', userId: user }, text: { original: '我的快递三天了还没到，物流信息一直不更新' } });

    const r = await api('POST', `/api/tickets/${number}/replies`, { text: '已为您催件，预计明天送达。' });
    expect(r.status).toBe(201);
    expect(r.body.delivered).toBe(true);
    expect((await peer.waitForSent(user)).content).toBe('已为您催件，预计明天送达。');
    // The openid is the customer's identity in the directory and its channel preference.
    const prefs = await api('GET', '/api/customers/channel-preferences');
    expect(JSON.stringify(prefs.body)).toContain('wechat');
    const list = await api('GET', `/api/tickets?channelId=wechat&customerUserId=${user}`);
    expect(list.body.items.map((t: { number: string }) => t.number)).toEqual([number]);
  });

  it('counts every message WeChat delivers, once, in the per-channel statistics (events are not messages)', async () => {
    const read = async () => ((await api('GET', '/api/stats/channel-messages')).body as { totals: Record<string, number> }).totals.wechat ?? 0;
    // Earlier tests' messages are counted in the background: let them land first.
    await channel().idle();
    const before = await read();
    const user = openid();
    await peer.push(user, { type: 'text', content: '你好' }, { msgId: '5500000001' });
    await peer.push(user, { type: 'text', content: '你好' }, { msgId: '5500000001' });
    await peer.push(user, { type: 'event', event: 'subscribe' });
    await peer.push(user, { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/9', mediaId: 'media-img-9' });
    await channel().idle();
    expect(await read()).toBe(before + 2);
  });

  it('reads a voice message through WeChat’s recognition text, and asks for text without it', async () => {
    const user = openid();
    const voiced = await peer.push(user, { type: 'voice', recognition: '退款申请了两周还没到账' });
    expect(voiced.reply).toMatch(/对吗/);
    expect((await peer.push(user, { type: 'text', content: '对' })).reply).toMatch(/手机号或邮箱/);
    const number = NUMBER.exec((await peer.push(user, { type: 'text', content: '跳过' })).reply ?? '')![0];
    expect((await A.store.tickets.get(number))?.text.original).toBe('退款申请了两周还没到账');

    // A voice WeChat gave no usable MediaId for: nothing to keep, the bot asks for text.
    expect((await peer.push(openid(), { type: 'voice', mediaId: '' })).reply).toBe(texts('zh-Hans').voiceNeedsText);
  });

  it('keeps a voice message without recognition text and a video on the ticket, their bytes fetched by MediaId', async () => {
    const user = openid();
    const amr = Buffer.concat([Buffer.from('#!AMR\n'), Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 11) % 256))]);
    peer.addMedia('media-voice-1', amr, 'audio/amr');
    const voice = await peer.push(user, { type: 'voice', mediaId: 'media-voice-1' });
    const number = NUMBER.exec(voice.reply ?? '')?.[0];
    expect(voice.reply).toBe(texts('zh-Hans').voiceKept(number!));
    // A video (WeChat answers media/get with a video_url; the bytes come from there), added to that ticket.
    const mp4 = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 5 + 3) % 256));
    peer.addMedia('media-video-1', mp4, 'video/mp4');
    const video = await peer.push(user, { type: 'video', mediaId: 'media-video-1' });
    expect(video.reply).toBe(texts('zh-Hans').mediaAdded(number!));
    await channel().idle();
    expect(peer.mediaRequests).toEqual(expect.arrayContaining(['media-voice-1', 'media-video-1']));
    const files = (await api('GET', `/api/tickets/${number}/attachments`)).body.items;
    expect(files).toMatchObject([
      { contentType: 'audio/amr', size: amr.length, stored: true, channelId: 'wechat' },
      { contentType: 'video/mp4', size: mp4.length, stored: true, channelId: 'wechat' },
    ]);
    for (const [i, bytes] of [amr, mp4].entries()) {
      const got = await fetch(`${A.url}/api/tickets/${number}/attachments/${files[i].id}`, { headers: { authorization: `Bearer ${staffToken}` } });
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    }
    // A video WeChat no longer has: listed with a note, no bytes; the customer is not turned away.
    const gone = await peer.push(user, { type: 'video', mediaId: 'media-video-gone' });
    expect(gone.reply).toBe(texts('zh-Hans').mediaAdded(number!));
    await channel().idle();
    const listed = (await api('GET', `/api/tickets/${number}/attachments`)).body.items;
    expect(listed).toHaveLength(3);
    expect(listed[2]).toMatchObject({ stored: false, size: 0 });
    expect(listed[2].note).toMatch(/errcode 40007.*MediaId media-video-gone/);
  });

  it('keeps an image on the ticket: a new ticket for staff without an open one, a follow-up with one', async () => {
    const user = openid();
    const picUrl = 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/0';
    const bytes = Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7) % 256));
    peer.addMedia('media-img-1', bytes, 'image/jpeg');
    const alone = await peer.push(user, { type: 'image', picUrl, mediaId: 'media-img-1' });
    const number = NUMBER.exec(alone.reply ?? '')![0];
    expect(alone.reply).toBe(texts('zh-Hans').mediaFiled(number));
    const filed = await A.store.tickets.get(number);
    expect(filed).toMatchObject({ needsReview: true, reviewReason: 'media-only', customer: { channelId: 'wechat', userId: user }, attachments: [{ kind: 'image', url: picUrl, mediaId: 'media-img-1' }] });
    expect(filed?.text.original).toContain(picUrl);
    // The picture's bytes, fetched by MediaId, are kept with the ticket (the PicUrl expires).
    await channel().idle();
    expect(peer.mediaRequests).toContain('media-img-1');
    const files = (await api('GET', `/api/tickets/${number}/attachments`)).body.items;
    expect(files).toMatchObject([{ contentType: 'image/jpeg', size: 2048, stored: true, channelId: 'wechat' }]);
    const got = await fetch(`${A.url}/api/tickets/${number}/attachments/${files[0].id}`, { headers: { authorization: `Bearer ${staffToken}` } });
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);

    const user2 = openid();
    const open = await fileByText(user2, '收到的衣服有破洞，质量太差了');
    const pic = await peer.push(user2, { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/1', mediaId: 'media-img-2' });
    expect(pic.reply).toBe(texts('zh-Hans').mediaAdded(open));
    const t = await A.store.tickets.get(open);
    expect(t?.messages.at(-1)).toMatchObject({ attachments: [{ kind: 'image', url: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/1', mediaId: 'media-img-2' }] });
    // Staff see it through the API.
    const view = await api('GET', `/api/tickets/${open}`);
    expect(JSON.stringify(view.body)).toContain('media-img-2');
    // A picture WeChat no longer has (media-img-2 was never registered): listed with a note, no bytes.
    await channel().idle();
    const listed = (await api('GET', `/api/tickets/${open}/attachments`)).body.items;
    expect(listed).toMatchObject([{ stored: false, size: 0 }]);
    expect(listed[0].note).toMatch(/errcode 40007.*MediaId media-img-2/);
  });

  it('greets a new follower; unsubscribe and unknown events get "success"; other media a polite text', async () => {
    const user = openid();
    expect((await peer.push(user, { type: 'event', event: 'subscribe' })).reply).toBe(texts('zh-Hans').greeting);
    expect(await peer.push(user, { type: 'event', event: 'unsubscribe' })).toMatchObject({ status: 200, body: 'success' });
    expect(await peer.push(user, { type: 'event', event: 'CLICK' })).toMatchObject({ status: 200, body: 'success' });
    expect((await peer.push(user, { type: 'location', label: '广州市天河区' })).reply).toBe(texts('zh-Hans').unsupportedMedia);
    expect((await peer.push(user, { type: 'video', mediaId: '' })).reply).toBe(texts('zh-Hans').unsupportedMedia);
    // A message type WeChat might add later.
    const xml = `<xml><ToUserName><![CDATA[gh_standin000001]]></ToUserName><FromUserName><![CDATA[${user}]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[hologram]]></MsgType><MsgId>99887766</MsgId></xml>`;
    expect((await peer.push(user, { type: 'raw', xml })).reply).toBe(texts('zh-Hans').unsupportedMedia);
  });

  it('answers in traditional Chinese and in English as the customer writes', async () => {
    const hant = openid();
    const asked = await peer.push(hant, { type: 'text', content: '我的包裹三天了還沒有到，物流資訊一直不更新' });
    expect(asked.reply).toMatch(/對嗎？\n回覆：對 \/ /);
    expect((await peer.push(hant, { type: 'voice', mediaId: '' })).reply).toBe(texts('zh-Hant').voiceNeedsText);
    expect((await peer.push(hant, { type: 'location', label: '臺北' })).reply).toBe(texts('zh-Hant').unsupportedMedia);
    const img = await peer.push(hant, { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/2', mediaId: 'media-img-3' });
    expect(img.reply).toBe(texts('zh-Hant').mediaFiled(NUMBER.exec(img.reply ?? '')![0]));
    expect(texts('zh-Hant').voiceNeedsText).not.toBe(texts('zh-Hans').voiceNeedsText);

    const en = openid();
    const q = await peer.push(en, { type: 'text', content: 'My parcel has not arrived after three days and the tracking never updates' });
    expect(q.reply).toMatch(/is that right\?\nReply: Yes \/ /);
    expect((await peer.push(en, { type: 'voice', mediaId: '' })).reply).toBe(texts('en').voiceNeedsText);
    expect((await peer.push(en, { type: 'video', mediaId: '' })).reply).toBe(texts('en').unsupportedMedia);
    const pic = await peer.push(en, { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/3', mediaId: 'media-img-4' });
    expect(pic.reply).toBe(texts('en').mediaFiled(NUMBER.exec(pic.reply ?? '')![0]));
    const open = NUMBER.exec(pic.reply ?? '')![0];
    const more = await peer.push(en, { type: 'image', picUrl: 'http://mmbiz.qpic.cn/mmbiz_jpg/standin/4', mediaId: 'media-img-5' });
    expect(more.reply).toBe(texts('en').mediaAdded(open));
  });
});

describe('bad input', () => {
  async function ticketCount(): Promise<number> {
    return (await A.store.tickets.list({ channelId: 'wechat', pageSize: 1 })).total;
  }

  it('refuses forged signatures (401), undecryptable or foreign bodies (400), malformed XML (400) and oversized bodies (413), filing nothing', async () => {
    const before = await ticketCount();
    const user = openid();
    const text = { type: 'text', content: '我的快递三天了还没到，物流信息一直不更新' } as const;
    expect((await peer.push(user, text, { forge: 'signature' })).status).toBe(401);
    expect((await peer.push(user, text, { forge: 'signature', encrypt: false })).status).toBe(401);
    expect((await peer.push(user, text, { forge: 'aes-key' })).status).toBe(400);
    const foreign = await peer.push(user, text, { forge: 'appid' });
    expect(foreign.status).toBe(400);
    expect(foreign.body).toMatch(/app id/);
    // Signed correctly (plaintext mode signs the query only), but not WeChat's XML.
    for (const body of ['<xml><ToUserName>gh</ToUserName>', 'not xml at all', '<!DOCTYPE x [<!ENTITY a "b">]><xml/>', '<xml><MsgType>text</MsgType></xml>']) {
      const r = await peer.push(user, text, { encrypt: false, body });
      expect(r.status, body).toBe(400);
    }
    const huge = await peer.push(user, { type: 'text', content: '长'.repeat(40_000) }, { encrypt: false });
    expect(huge.status).toBe(413);
    expect(await ticketCount()).toBe(before);
    expect(channel().stats().refused).toBeGreaterThanOrEqual(9);
  });

  it('processes a retried push once, also in another server process on the same database', async () => {
    const user = openid();
    const first = await peer.push(user, { type: 'text', content: '空调装好第二天就不制冷了，要求上门维修' }, { msgId: '7001001001' });
    expect(first.reply).toMatch(/对吗/);
    const again = await peer.push(user, { type: 'text', content: '空调装好第二天就不制冷了，要求上门维修' }, { msgId: '7001001001' });
    expect(again).toMatchObject({ status: 200, body: 'success', reply: null });

    const other = await startApp(inject('mongoUri'), { WECHAT_TOKEN: SETTINGS.token, WECHAT_APP_ID: SETTINGS.appId, WECHAT_APP_SECRET: SETTINGS.appSecret, WECHAT_ENCODING_AES_KEY: AES_KEY, WECHAT_API_BASE: 'http://127.0.0.1:9', WECHAT_PASSIVE_REPLY_MS: PASSIVE_REPLY_MS }, { dbName: A.db.databaseName });
    try {
      peer.pushTo(other.url);
      expect(await peer.push(user, { type: 'text', content: '空调装好第二天就不制冷了，要求上门维修' }, { msgId: '7001001001' })).toMatchObject({ status: 200, body: 'success' });
      // An event retried with the same sender and CreateTime, too.
      const createTime = Math.floor(Date.now() / 1000) - 3;
      const greet = await peer.push(user, { type: 'event', event: 'subscribe' }, { createTime });
      expect(greet.reply).toBe(texts('zh-Hans').greeting);
      expect((await peer.push(user, { type: 'event', event: 'subscribe' }, { createTime })).body).toBe('success');
    } finally {
      peer.pushTo(A.url);
      await other.app.closeChannels();
      other.app.server.close();
      await other.services.close();
    }
    // Had the retry been processed, the dialog would have taken it as more description and asked again.
    expect((await peer.push(user, { type: 'text', content: '对' })).reply).toMatch(/手机号或邮箱/);
    expect(channel().stats().duplicates).toBeGreaterThanOrEqual(1);
  });

  it('limits how fast one openid may push, politely', async () => {
    const other = await startApp(inject('mongoUri'), { WECHAT_TOKEN: SETTINGS.token, WECHAT_APP_ID: SETTINGS.appId, WECHAT_APP_SECRET: SETTINGS.appSecret, WECHAT_API_BASE: 'http://127.0.0.1:9', WECHAT_RATE_PER_MINUTE: '3', RATE_LIMIT_PER_10S: '100' });
    try {
      peer.pushTo(other.url);
      for (const [text, lang] of [['你好', 'zh-Hans'], ['你們好，請問這個怎麼處理', 'zh-Hant'], ['hello there, anyone around?', 'en']] as const) {
        const user = openid();
        const replies: string[] = [];
        for (let i = 0; i < 4; i++) replies.push((await peer.push(user, { type: 'text', content: text }, { encrypt: false })).reply ?? '');
        expect(replies.slice(0, 3).some((r) => Object.values(SLOW_DOWN).includes(r as never))).toBe(false);
        expect(replies[3]).toBe(SLOW_DOWN[lang]);
      }
      // Another customer is not affected.
      expect((await peer.push(openid(), { type: 'text', content: '你好' }, { encrypt: false })).reply).not.toMatch(/太快/);
    } finally {
      peer.pushTo(A.url);
      await other.stop();
    }
  });
});

describe('the customer-service window and the access token', () => {
  it('records a reply after 48 hours as undelivered with WeChat’s reason, and delivers again once the customer writes', async () => {
    const user = openid();
    const number = await fileByText(user, '这个月话费多扣了三十块，怎么回事');
    peer.advance(49 * 3_600_000);
    try {
      const r = await api('POST', `/api/tickets/${number}/replies`, { text: '已核实，将退还多扣的费用。' });
      expect(r.status).toBe(201);
      expect(r.body.delivered).toBe(false);
      const reply = r.body.ticket.replies.at(-1);
      expect(reply).toMatchObject({ delivered: false, text: '已核实，将退还多扣的费用。' });
      expect(reply.error).toMatch(/45015.*48 hours/);
      expect(peer.refused).toContainEqual({ touser: user, errcode: 45015 });
      // The customer writes again: the window opens and the next reply is delivered.
      await peer.push(user, { type: 'text', content: '谢谢' });
      const again = await api('POST', `/api/tickets/${number}/replies`, { text: '费用已退还，请查收。' });
      expect(again.body.delivered).toBe(true);
      expect((await peer.waitForSent(user, (c) => c === '费用已退还，请查收。')).content).toBe('费用已退还，请查收。');
    } finally {
      peer.advance(-49 * 3_600_000);
    }
  });

  it('fetches a new access token when WeChat rejects the cached one', async () => {
    const user = openid();
    const number = await fileByText(user, '宽带晚上一直断网，根本没法用');
    await api('POST', `/api/tickets/${number}/replies`, { text: '第一条回复' });
    await peer.waitForSent(user, (c) => c === '第一条回复');
    const before = peer.tokenRequests.stable;
    peer.expireTokens();
    const r = await api('POST', `/api/tickets/${number}/replies`, { text: '第二条回复' });
    expect(r.body.delivered).toBe(true);
    await peer.waitForSent(user, (c) => c === '第二条回复');
    expect(peer.tokenRequests.stable).toBe(before + 1);
    // WeChat unreachable for a moment: the message is sent again, not dropped.
    peer.failSends = 2;
    const third = await api('POST', `/api/tickets/${number}/replies`, { text: '第三条回复' });
    expect(third.body.delivered).toBe(true);
    expect(peer.failSends).toBe(0);
    await peer.waitForSent(user, (c) => c === '第三条回复');
  });
});
