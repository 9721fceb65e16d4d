/**
 * A local stand-in for WeCom's side of customer service (微信客服), as WeCom documents it:
 * - verifies the callback URL (`GET` with `msg_signature`, `timestamp`, `nonce` and an encrypted
 *   `echostr`, expecting the plaintext back);
 * - on each customer action, appends the message to the account's message log and posts the
 *   encrypted `kf_msg_or_event` callback (a `Token` and the `OpenKfId`, no content), signed with
 *   `msg_signature` and encrypted with the corp id as receiveid;
 * - serves `GET /cgi-bin/gettoken` (the same token while valid; `expireTokens()` makes WeCom reject
 *   it with 40014), `POST /cgi-bin/kf/sync_msg` (opaque cursors, limit, has_more/next_cursor; the
 *   callback Token is valid 10 minutes), `POST /cgi-bin/kf/send_msg` (refused after 48 hours with
 *   95002, and after 5 messages since the customer's last with 95001), `POST
 *   /cgi-bin/kf/send_msg_on_event` (a welcome_code valid once for 20 s) and `GET /cgi-bin/media/get`;
 * - keeps a clock tests can move.
 * The crypto is the product's (channels/wechat/crypto.ts), checked against WeCom's published
 * sample in test/unit/wecom-crypto.test.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { aesKeyOf, encryptMessage, wechatSignature } from '../../channels/wechat/crypto.js';
import { cdata } from '../../channels/wechat/xml.js';
import { SentLog } from './sent-log.js';

export interface WeComPeerOptions {
  corpId: string;
  secret: string;
  token: string;
  encodingAesKey: string;
  /** The customer-service account (open_kfid). */
  openKfid?: string;
}

/** What a customer does. */
export type CustomerAction =
  | { type: 'text'; content: string }
  | { type: 'image'; bytes: Buffer; contentType?: string }
  | { type: 'voice'; bytes: Buffer }
  | { type: 'location'; name: string }
  | { type: 'raw'; message: Record<string, unknown> };

export interface CallbackOptions {
  /** Break the request on purpose. */
  forge?: 'signature' | 'aes-key' | 'corp';
  /** Post this body instead (still signed as built). */
  body?: string;
  /** Encrypt this inner XML instead of the kf_msg_or_event event. */
  inner?: string;
  /** The callback's Token (default: a fresh one). */
  token?: string;
  /** Log the customer's message but post no callback (the server was down when it came). */
  silent?: boolean;
}

export interface SentText {
  touser: string;
  openKfid: string;
  content: string;
  /** `send_msg`, or `event` for send_msg_on_event. */
  via: 'send_msg' | 'event';
  at: number;
}

const WINDOW_MS = 48 * 3_600_000;
const REPLIES_PER_MESSAGE = 5;

export class WeComPeer {
  readonly openKfid: string;
  private readonly delivered = new SentLog<SentText>();
  /** Every message the account sent, in order. */
  readonly sent = this.delivered.all;
  readonly refused: { touser: string; errcode: number }[] = [];
  /** Every sync_msg request, as WeCom received it. */
  readonly syncRequests: { cursor: string; token: string | null; openKfid: string; limit: number; failed: boolean }[] = [];
  readonly mediaRequests: string[] = [];
  readonly tokenRequests = { gettoken: 0 };
  /** sync_msg calls to answer with HTTP 502 without JSON (WeCom unreachable for a moment; recorded in syncRequests as failed); counts down. */
  failSyncs = 0;
  /** Media WeCom no longer has (temporary media expire after 3 days): media/get answers 40007. */
  mediaExpired = false;
  /** Largest page sync_msg serves (WeCom: 1000). */
  pageSize = 1000;
  private server: Server | null = null;
  private target = '';
  private readonly key: Buffer;
  private offsetMs = 0;
  private accessToken: { token: string; expiresAt: number } | null = null;
  private readonly callbackTokens = new Map<string, number>();
  private readonly welcomeCodes = new Map<string, { user: string; openKfid: string; at: number; used: boolean }>();
  private readonly log = new Map<string, Record<string, unknown>[]>();
  private readonly media = new Map<string, { bytes: Buffer; type: string; filename: string }>();
  /** Per customer: when they last wrote, and how many messages the account sent since. */
  private readonly window = new Map<string, { at: number; sent: number }>();
  private readonly salt = randomBytes(4).toString('hex');
  private seq = 0;

  constructor(private readonly opts: WeComPeerOptions) {
    this.key = aesKeyOf(opts.encodingAesKey);
    this.openKfid = opts.openKfid ?? 'wkStandIn0000000000000000000001';
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the peer's clock (the 48-hour window, token expiry). */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Makes the issued access token invalid (WeCom answers 40014 until a new one is fetched). */
  expireTokens(): void {
    this.accessToken = null;
  }

  /** Starts the API server; returns its base URL (WECOM_API_BASE). */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        res.writeHead(500);
        res.end(err.message);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Where callbacks go: the server's base URL. */
  pushTo(baseUrl: string): void {
    this.target = `${baseUrl}/channels/wecom`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private cursorOf(index: number): string {
    return Buffer.from(`${this.salt}:${index}`).toString('base64url');
  }

  private indexOf(cursor: string): number | null {
    if (cursor === '') return 0;
    const m = /^([0-9a-f]{8}):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
    return m && m[1] === this.salt ? Number(m[2]) : null;
  }

  private tokenValid(url: URL): number {
    const t = url.searchParams.get('access_token');
    if (!this.accessToken || t !== this.accessToken.token) return 40014;
    if (this.accessToken.expiresAt <= this.now()) return 42001;
    return 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://peer');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (o: Record<string, unknown>) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    const body = req.method === 'POST' && chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    if (url.pathname === '/cgi-bin/gettoken' && req.method === 'GET') {
      this.tokenRequests.gettoken++;
      if (url.searchParams.get('corpid') !== this.opts.corpId) return json({ errcode: 40013, errmsg: 'invalid corpid' });
      if (url.searchParams.get('corpsecret') !== this.opts.secret) return json({ errcode: 40001, errmsg: 'invalid credential' });
      // WeCom hands every caller the same token while it is valid.
      if (!this.accessToken || this.accessToken.expiresAt <= this.now()) this.accessToken = { token: randomBytes(32).toString('base64url'), expiresAt: this.now() + 7200_000 };
      return json({ errcode: 0, errmsg: 'ok', access_token: this.accessToken.token, expires_in: Math.floor((this.accessToken.expiresAt - this.now()) / 1000) });
    }
    if (url.pathname === '/cgi-bin/media/get' && req.method === 'GET') {
      const bad = this.tokenValid(url);
      if (bad) return json({ errcode: bad, errmsg: 'invalid access_token' });
      const id = url.searchParams.get('media_id') ?? '';
      this.mediaRequests.push(id);
      const m = this.mediaExpired ? undefined : this.media.get(id);
      if (!m) return json({ errcode: 40007, errmsg: 'invalid media_id' });
      res.writeHead(200, { 'content-type': m.type, 'content-length': m.bytes.length, 'content-disposition': `attachment; filename="${m.filename}"` });
      res.end(m.bytes);
      return;
    }
    const bad = this.tokenValid(url);
    if (url.pathname.startsWith('/cgi-bin/kf/') && bad) return json({ errcode: bad, errmsg: 'invalid access_token' });
    if (url.pathname === '/cgi-bin/kf/sync_msg' && req.method === 'POST') {
      const openKfid = String(body.open_kfid ?? '');
      const cursor = String(body.cursor ?? '');
      const token = typeof body.token === 'string' && body.token !== '' ? body.token : null;
      const limit = Math.min(Number(body.limit ?? 1000) || 1000, 1000, this.pageSize);
      this.syncRequests.push({ cursor, token, openKfid, limit, failed: this.failSyncs > 0 });
      if (this.failSyncs > 0) {
        this.failSyncs--;
        res.writeHead(502);
        res.end('bad gateway');
        return;
      }
      if (openKfid !== this.openKfid) return json({ errcode: 95000, errmsg: 'invalid open_kfid' });
      if (token !== null) {
        const issued = this.callbackTokens.get(token);
        if (issued === undefined || this.now() - issued > 10 * 60_000) return json({ errcode: 95007, errmsg: 'invalid msg token' });
      }
      const start = this.indexOf(cursor);
      if (start === null) return json({ errcode: 95008, errmsg: 'invalid cursor' });
      const list = this.log.get(openKfid) ?? [];
      const page = list.slice(start, start + limit);
      return json({ errcode: 0, errmsg: 'ok', next_cursor: this.cursorOf(start + page.length), has_more: start + page.length < list.length ? 1 : 0, msg_list: page });
    }
    if (url.pathname === '/cgi-bin/kf/send_msg' && req.method === 'POST') {
      const touser = String(body.touser ?? '');
      const openKfid = String(body.open_kfid ?? '');
      const text = body.text as { content?: unknown } | undefined;
      if (openKfid !== this.openKfid) return json({ errcode: 95000, errmsg: 'invalid open_kfid' });
      if (body.msgtype !== 'text' || typeof text?.content !== 'string' || text.content === '') return json({ errcode: 40008, errmsg: 'invalid message type or empty content' });
      const w = this.window.get(`${openKfid}/${touser}`);
      const refuse = (errcode: number, errmsg: string) => {
        this.refused.push({ touser, errcode });
        json({ errcode, errmsg });
      };
      if (!w || this.now() - w.at > WINDOW_MS) return refuse(95002, 'send msg out of time limit');
      if (w.sent >= REPLIES_PER_MESSAGE) return refuse(95001, 'send msg count limit');
      w.sent++;
      this.record({ touser, openKfid, content: text.content, via: 'send_msg', at: this.now() });
      return json({ errcode: 0, errmsg: 'ok', msgid: randomUUID().replace(/-/g, '') });
    }
    if (url.pathname === '/cgi-bin/kf/send_msg_on_event' && req.method === 'POST') {
      const code = this.welcomeCodes.get(String(body.code ?? ''));
      const text = body.text as { content?: unknown } | undefined;
      if (!code || code.used || this.now() - code.at > 20_000) return json({ errcode: 95016, errmsg: 'invalid code' });
      if (body.msgtype !== 'text' || typeof text?.content !== 'string' || text.content === '') return json({ errcode: 40008, errmsg: 'invalid message type or empty content' });
      code.used = true;
      this.record({ touser: code.user, openKfid: code.openKfid, content: text.content, via: 'event', at: this.now() });
      return json({ errcode: 0, errmsg: 'ok', msgid: randomUUID().replace(/-/g, '') });
    }
    json({ errcode: 60011, errmsg: 'no privilege to access/modify contact/party/agent' });
  }

  private record(m: SentText): void {
    this.delivered.push(m);
  }

  private nextMsgid(): string {
    return `msg${this.salt}${String(++this.seq).padStart(8, '0')}`;
  }

  /** Adds a message to the account's log (what sync_msg serves). */
  private append(m: Record<string, unknown>): void {
    const list = this.log.get(this.openKfid) ?? [];
    list.push(m);
    this.log.set(this.openKfid, list);
  }

  /** The customer does something: the message is logged and the callback posted. Returns the callback's answer and the msgid. */
  async customer(user: string, a: CustomerAction, o: CallbackOptions = {}): Promise<{ status: number; body: string; msgid: string }> {
    const msgid = this.nextMsgid();
    const head = { msgid, open_kfid: this.openKfid, external_userid: user, send_time: Math.floor(this.now() / 1000), origin: 3 };
    const mediaId = () => `media-${randomUUID()}`;
    switch (a.type) {
      case 'text':
        this.append({ ...head, msgtype: 'text', text: { content: a.content } });
        break;
      case 'image': {
        const id = mediaId();
        this.media.set(id, { bytes: a.bytes, type: a.contentType ?? 'image/jpeg', filename: `${id}.jpg` });
        this.append({ ...head, msgtype: 'image', image: { media_id: id } });
        break;
      }
      case 'voice': {
        const id = mediaId();
        this.media.set(id, { bytes: a.bytes, type: 'audio/amr', filename: `${id}.amr` });
        this.append({ ...head, msgtype: 'voice', voice: { media_id: id } });
        break;
      }
      case 'location':
        this.append({ ...head, msgtype: 'location', location: { latitude: 23.13, longitude: 113.26, name: a.name, address: a.name } });
        break;
      case 'raw':
        this.append({ ...head, ...a.message });
        break;
    }
    // The customer wrote: the 48 hours start again, and 5 more messages may be sent.
    this.window.set(`${this.openKfid}/${user}`, { at: this.now(), sent: 0 });
    if (o.silent) return { status: 0, body: '', msgid };
    return { ...(await this.callback(o)), msgid };
  }

  /** The customer opens the session: an enter_session event with a welcome_code (valid 20 s). */
  async enterSession(user: string, o: { welcomeCode?: boolean } = {}): Promise<{ status: number; code: string | null }> {
    const code = o.welcomeCode === false ? null : randomBytes(12).toString('hex');
    if (code) this.welcomeCodes.set(code, { user, openKfid: this.openKfid, at: this.now(), used: false });
    this.append({ msgid: this.nextMsgid(), send_time: Math.floor(this.now() / 1000), origin: 4, msgtype: 'event', event: { event_type: 'enter_session', open_kfid: this.openKfid, external_userid: user, scene: 'standin', ...(code ? { welcome_code: code } : {}) } });
    return { status: (await this.callback()).status, code };
  }

  /** Another event (session_status_change, msg_send_fail …). */
  async event(user: string, eventType: string, extra: Record<string, unknown> = {}): Promise<number> {
    this.append({ msgid: this.nextMsgid(), send_time: Math.floor(this.now() / 1000), origin: 4, msgtype: 'event', event: { event_type: eventType, open_kfid: this.openKfid, external_userid: user, ...extra } });
    return (await this.callback()).status;
  }

  /** A servicer writes from the WeCom client (origin 5): in the log, not the customer's. */
  async servicer(user: string, content: string): Promise<number> {
    this.append({ msgid: this.nextMsgid(), open_kfid: this.openKfid, external_userid: user, send_time: Math.floor(this.now() / 1000), origin: 5, servicer_userid: 'zhangsan', msgtype: 'text', text: { content } });
    return (await this.callback()).status;
  }

  /** WeCom lists a message again (same msgid), as after a lost cursor. */
  async relist(msgid: string): Promise<number> {
    const m = (this.log.get(this.openKfid) ?? []).find((x) => x.msgid === msgid);
    if (!m) throw new Error(`no message ${msgid}`);
    this.append({ ...m });
    return (await this.callback()).status;
  }

  /** How many messages the account's log holds (the next cursor after all of them). */
  logLength(): number {
    return (this.log.get(this.openKfid) ?? []).length;
  }

  /** The cursor WeCom would hand out after `n` messages. */
  cursorAfter(n: number): string {
    return this.cursorOf(n);
  }

  /** The encrypted callback as WeCom posts it. */
  async callback(o: CallbackOptions = {}): Promise<{ status: number; body: string; token: string }> {
    const token = o.token ?? randomBytes(16).toString('base64url');
    this.callbackTokens.set(token, this.now());
    const inner = o.inner ?? `<xml><ToUserName>${cdata(this.opts.corpId)}</ToUserName><CreateTime>${Math.floor(this.now() / 1000)}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event><Token>${cdata(token)}</Token><OpenKfId>${cdata(this.openKfid)}</OpenKfId></xml>`;
    const key = o.forge === 'aes-key' ? aesKeyOf('ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg') : this.key;
    const encrypted = encryptMessage(key, o.forge === 'corp' ? 'ww00000000000000bad' : this.opts.corpId, inner);
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const signature = o.forge === 'signature' ? 'f'.repeat(40) : wechatSignature(this.opts.token, timestamp, nonce, encrypted);
    const body = o.body ?? `<xml><ToUserName>${cdata(this.opts.corpId)}</ToUserName><AgentID><![CDATA[]]></AgentID><Encrypt>${cdata(encrypted)}</Encrypt></xml>`;
    const res = await fetch(`${this.target}?${new URLSearchParams({ msg_signature: signature, timestamp, nonce })}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
    return { status: res.status, body: await res.text(), token };
  }

  /** The callback URL verification as WeCom performs it. */
  async verifyUrl(forge?: 'signature' | 'aes-key'): Promise<{ status: number; body: string; echo: string }> {
    const echo = String(Math.floor(Math.random() * 1e15));
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const key = forge === 'aes-key' ? aesKeyOf('ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg') : this.key;
    const echostr = encryptMessage(key, this.opts.corpId, echo);
    const msg_signature = forge === 'signature' ? createHash('sha1').update('forged').digest('hex') : wechatSignature(this.opts.token, timestamp, nonce, echostr);
    const res = await fetch(`${this.target}?${new URLSearchParams({ msg_signature, timestamp, nonce, echostr })}`);
    return { status: res.status, body: await res.text(), echo };
  }

  sentTo(user: string): SentText[] {
    return this.delivered.to(user);
  }

  /** Waits until a message to `user` matches (default 20 s). */
  async waitForSent(user: string, match: (content: string) => boolean = () => true, timeoutMs = 30_000): Promise<SentText> {
    const hit = await this.delivered.waitFor(user, match, timeoutMs);
    if (!hit) throw new Error(`no message to ${user} matched within ${timeoutMs} ms; sent: ${JSON.stringify(this.sentTo(user))}`);
    return hit;
  }

  /** Waits until `user` has received more than `count` messages; returns the next one. */
  async nextSentAfter(user: string, count: number, timeoutMs = 30_000): Promise<SentText> {
    const next = await this.delivered.nextAfter(user, count, timeoutMs);
    if (!next) throw new Error(`no message ${count + 1} to ${user} within ${timeoutMs} ms; sent: ${JSON.stringify(this.sentTo(user))}`);
    return next;
  }
}
