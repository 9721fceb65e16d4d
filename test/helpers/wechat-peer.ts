/**
 * A local stand-in for WeChat's side of an Official Account, as WeChat documents it:
 * - pushes messages to the server's `/channels/wechat` with `signature`, `timestamp`, `nonce`
 *   (and `openid`), in plaintext or safe mode (`encrypt_type=aes`, `msg_signature`, the body's
 *   `Encrypt` AES-256-CBC as the docs describe), and reads the passive reply (checking its
 *   signature and decrypting it in safe mode);
 * - serves `GET /cgi-bin/token` and `POST /cgi-bin/stable_token` (tokens expire; `expireTokens()`
 *   makes WeChat reject the current one with 40001);
 * - serves `GET /cgi-bin/media/get` for media registered with `addMedia` (a video as JSON with its
 *   `video_url`, served by the peer too);
 * - serves `POST /cgi-bin/message/custom/send`, enforcing the 48-hour customer-service window
 *   (errcode 45015) from the last message each user pushed, on a clock tests can move.
 * The crypto is the product's (channels/wechat/crypto.ts), itself checked against Tencent's sample
 * values in test/unit/wechat-crypto.test.ts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { aesKeyOf, decryptMessage, encryptMessage, wechatSignature } from '../../channels/wechat/crypto.js';
import { cdata, field, parseWeChatXml, type XmlFields } from '../../channels/wechat/xml.js';
import { SentLog } from './sent-log.js';

export interface WeChatPeerOptions {
  token: string;
  appId: string;
  appSecret: string;
  encodingAesKey?: string;
  /** The Official Account's original id (gh_…), the ToUserName of pushes. */
  account?: string;
  /** Token lifetime in seconds (WeChat: 7200). */
  tokenSeconds?: number;
}

/** What a push carries. */
export type PushMessage =
  | { type: 'text'; content: string }
  | { type: 'voice'; recognition?: string; mediaId?: string }
  | { type: 'image'; picUrl: string; mediaId: string }
  | { type: 'video'; mediaId?: string }
  | { type: 'location'; label: string }
  | { type: 'event'; event: 'subscribe' | 'unsubscribe' | 'CLICK' }
  | { type: 'raw'; xml: string };

export interface PushOptions {
  /** Safe mode (default: when the peer has an EncodingAESKey). */
  encrypt?: boolean;
  msgId?: string;
  createTime?: number;
  /** Break the request on purpose. */
  forge?: 'signature' | 'aes-key' | 'appid';
  /** Send this body instead of the built one (still signed as built). */
  body?: string;
}

export interface PushResult {
  status: number;
  body: string;
  /** The passive reply's text (null when the answer was "success", empty or an error). */
  reply: string | null;
  /** The passive reply's fields. */
  fields: XmlFields | null;
  ms: number;
  msgId: string;
}

export interface SentMessage {
  touser: string;
  content: string;
  at: number;
}

const WINDOW_MS = 48 * 3_600_000;

export class WeChatPeer {
  private readonly log = new SentLog<SentMessage>();
  /** Every customer-service message delivered, in order. */
  readonly sent = this.log.all;
  readonly refused: { touser: string; errcode: number }[] = [];
  /** Customer-service calls to answer with an HTTP 502 without JSON (WeChat unreachable for a moment); counts down. */
  failSends = 0;
  /** Token requests served (per endpoint). */
  readonly tokenRequests = { token: 0, stable: 0, forced: 0 };
  private server: Server | null = null;
  private target = '';
  private readonly key: Buffer | null;
  private readonly account: string;
  private offsetMs = 0;
  private tokens = new Map<string, number>();
  private stable: { token: string; expiresAt: number } | null = null;
  private lastPush = new Map<string, number>();
  private msgSeq = BigInt(Date.now()) * 1000n;
  private readonly media = new Map<string, { bytes: Buffer; contentType: string }>();
  /** MediaIds requested from media/get. */
  readonly mediaRequests: string[] = [];

  constructor(private readonly opts: WeChatPeerOptions) {
    this.key = opts.encodingAesKey ? aesKeyOf(opts.encodingAesKey) : null;
    this.account = opts.account ?? 'gh_standin000001';
  }

  /** The peer's clock (ms). */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves the peer's clock forward (the 48-hour window, token expiry). */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Makes every issued token invalid (WeChat answers 40001 until a new one is fetched). */
  expireTokens(): void {
    this.tokens.clear();
    this.stable = null;
  }

  /** Starts the API server; returns its base URL (WECHAT_API_BASE). */
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url?.startsWith('/cgi-bin/media/get')) return this.serveMedia(req, res);
      if (req.url?.startsWith('/standin-video/')) return this.serveVideo(req, res);
      if (req.url?.startsWith('/cgi-bin/message/custom/send') && this.failSends > 0) {
        this.failSends--;
        req.resume();
        res.writeHead(502);
        res.end('bad gateway');
        return;
      }
      this.handle(req).then(
        (json) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(json));
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Where pushes go: the server's base URL. */
  pushTo(baseUrl: string): void {
    this.target = `${baseUrl}/channels/wechat`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Registers a picture's bytes under its MediaId (what `GET /cgi-bin/media/get` serves). */
  addMedia(mediaId: string, bytes: Buffer, contentType = 'image/jpeg'): void {
    this.media.set(mediaId, { bytes, contentType });
  }

  /** `GET /cgi-bin/media/get`: the bytes under their content type, or WeChat's JSON error. */
  private serveMedia(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = new URL(req.url ?? '/', 'http://peer');
    const json = (o: Record<string, unknown>) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(o));
    };
    const expires = this.tokens.get(url.searchParams.get('access_token') ?? '');
    if (expires === undefined || expires <= this.now()) return json({ errcode: 40001, errmsg: 'invalid credential' });
    const id = url.searchParams.get('media_id') ?? '';
    this.mediaRequests.push(id);
    const m = this.media.get(id);
    if (!m) return json({ errcode: 40007, errmsg: 'invalid media_id' });
    // WeChat answers a video's media/get with JSON naming its download URL.
    if (m.contentType.startsWith('video/')) return json({ video_url: `http://${req.headers.host}/standin-video/${encodeURIComponent(id)}` });
    res.writeHead(200, { 'content-type': m.contentType, 'content-length': m.bytes.length, 'content-disposition': `attachment; filename="${id}.jpg"` });
    res.end(m.bytes);
  }

  /** A video's download URL (no token: WeChat's is a plain http link). */
  private serveVideo(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const m = this.media.get(decodeURIComponent((req.url ?? '').slice('/standin-video/'.length)));
    if (!m) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': m.contentType, 'content-length': m.bytes.length });
    res.end(m.bytes);
  }

  private issue(): { access_token: string; expires_in: number } {
    const seconds = this.opts.tokenSeconds ?? 7200;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, this.now() + seconds * 1000);
    return { access_token: token, expires_in: seconds };
  }

  private async handle(req: IncomingMessage): Promise<Record<string, unknown>> {
    const url = new URL(req.url ?? '/', 'http://peer');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    if (url.pathname === '/cgi-bin/token' && req.method === 'GET') {
      this.tokenRequests.token++;
      if (url.searchParams.get('appid') !== this.opts.appId || url.searchParams.get('secret') !== this.opts.appSecret) return { errcode: 40013, errmsg: 'invalid appid' };
      return this.issue();
    }
    if (url.pathname === '/cgi-bin/stable_token' && req.method === 'POST') {
      this.tokenRequests.stable++;
      if (body.grant_type !== 'client_credential') return { errcode: 40002, errmsg: 'invalid grant_type' };
      if (body.appid !== this.opts.appId || body.secret !== this.opts.appSecret) return { errcode: 40125, errmsg: 'invalid appsecret' };
      if (body.force_refresh === true) this.tokenRequests.forced++;
      // The stable token is the same for every caller until it expires or is forced.
      if (body.force_refresh === true || !this.stable || this.stable.expiresAt <= this.now() || !this.tokens.has(this.stable.token)) {
        const t = this.issue();
        this.stable = { token: t.access_token, expiresAt: this.now() + t.expires_in * 1000 };
      }
      return { access_token: this.stable.token, expires_in: Math.floor((this.stable.expiresAt - this.now()) / 1000) };
    }
    if (url.pathname === '/cgi-bin/message/custom/send' && req.method === 'POST') {
      const token = url.searchParams.get('access_token') ?? '';
      const expires = this.tokens.get(token);
      if (expires === undefined) return { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
      if (expires <= this.now()) return { errcode: 42001, errmsg: 'access_token expired' };
      const touser = String(body.touser ?? '');
      const text = body.text as { content?: unknown } | undefined;
      if (body.msgtype !== 'text' || typeof text?.content !== 'string' || text.content === '') return { errcode: 44003, errmsg: 'empty news data' };
      const last = this.lastPush.get(touser);
      if (last === undefined || this.now() - last > WINDOW_MS) {
        this.refused.push({ touser, errcode: 45015 });
        return { errcode: 45015, errmsg: 'response out of time limit or subscription is canceled' };
      }
      this.log.push({ touser, content: text.content, at: this.now() });
      return { errcode: 0, errmsg: 'ok' };
    }
    return { errcode: 40066, errmsg: 'invalid url' };
  }

  /** Waits until a customer-service message to `openid` matches (default 20 s). */
  async waitForSent(openid: string, match: (content: string) => boolean = () => true, timeoutMs = 30_000): Promise<SentMessage> {
    const hit = await this.log.waitFor(openid, match, timeoutMs);
    if (!hit) throw new Error(`no customer-service message to ${openid} matched within ${timeoutMs} ms; sent: ${JSON.stringify(this.sentTo(openid))}`);
    return hit;
  }

  /** Customer-service messages sent to `openid` so far. */
  sentTo(openid: string): SentMessage[] {
    return this.log.to(openid);
  }

  /** Waits until `openid` has received more than `count` customer-service messages; returns the next one (null on timeout). */
  nextSentAfter(openid: string, count: number, timeoutMs = 30_000): Promise<SentMessage | null> {
    return this.log.nextAfter(openid, count, timeoutMs);
  }

  /** Signs a URL verification as WeChat does; returns the server's answer. */
  async verifyUrl(forge = false): Promise<{ status: number; body: string; echostr: string }> {
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const echostr = randomUUID().replace(/-/g, '');
    const signature = forge ? '0'.repeat(40) : wechatSignature(this.opts.token, timestamp, nonce);
    const res = await fetch(`${this.target}?${new URLSearchParams({ signature, timestamp, nonce, echostr })}`);
    return { status: res.status, body: await res.text(), echostr };
  }

  /** The push XML WeChat would send. */
  messageXml(openid: string, m: PushMessage, msgId: string, createTime: number): string {
    const head = `<ToUserName>${cdata(this.account)}</ToUserName><FromUserName>${cdata(openid)}</FromUserName><CreateTime>${createTime}</CreateTime>`;
    switch (m.type) {
      case 'text':
        return `<xml>${head}<MsgType><![CDATA[text]]></MsgType><Content>${cdata(m.content)}</Content><MsgId>${msgId}</MsgId></xml>`;
      case 'voice':
        return `<xml>${head}<MsgType><![CDATA[voice]]></MsgType><MediaId>${cdata(m.mediaId ?? `voice-${msgId}`)}</MediaId><Format><![CDATA[amr]]></Format>${m.recognition !== undefined ? `<Recognition>${cdata(m.recognition)}</Recognition>` : ''}<MsgId>${msgId}</MsgId></xml>`;
      case 'image':
        return `<xml>${head}<MsgType><![CDATA[image]]></MsgType><PicUrl>${cdata(m.picUrl)}</PicUrl><MediaId>${cdata(m.mediaId)}</MediaId><MsgId>${msgId}</MsgId></xml>`;
      case 'video':
        return `<xml>${head}<MsgType><![CDATA[video]]></MsgType><MediaId>${cdata(m.mediaId ?? `video-${msgId}`)}</MediaId><ThumbMediaId><![CDATA[thumb]]></ThumbMediaId><MsgId>${msgId}</MsgId></xml>`;
      case 'location':
        return `<xml>${head}<MsgType><![CDATA[location]]></MsgType><Location_X>23.13</Location_X><Location_Y>113.26</Location_Y><Scale>20</Scale><Label>${cdata(m.label)}</Label><MsgId>${msgId}</MsgId></xml>`;
      case 'event':
        return `<xml>${head}<MsgType><![CDATA[event]]></MsgType><Event>${cdata(m.event)}</Event></xml>`;
      case 'raw':
        return m.xml;
    }
  }

  /** Pushes a message from `openid` as WeChat does and reads the passive reply. */
  async push(openid: string, m: PushMessage, o: PushOptions = {}): Promise<PushResult> {
    const encrypt = o.encrypt ?? this.key !== null;
    const msgId = o.msgId ?? String(++this.msgSeq);
    const createTime = o.createTime ?? Math.floor(this.now() / 1000);
    const xml = this.messageXml(openid, m, msgId, createTime);
    const timestamp = String(Math.floor(this.now() / 1000));
    const nonce = String(Math.floor(Math.random() * 1e9));
    const q = new URLSearchParams({ signature: wechatSignature(this.opts.token, timestamp, nonce), timestamp, nonce, openid });
    let body = xml;
    if (encrypt) {
      if (!this.key) throw new Error('the peer has no EncodingAESKey');
      const key = o.forge === 'aes-key' ? aesKeyOf('ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg') : this.key;
      const encrypted = encryptMessage(key, o.forge === 'appid' ? 'wx0000000000000bad' : this.opts.appId, xml);
      body = `<xml><ToUserName>${cdata(this.account)}</ToUserName><Encrypt>${cdata(encrypted)}</Encrypt></xml>`;
      q.set('encrypt_type', 'aes');
      q.set('msg_signature', wechatSignature(this.opts.token, timestamp, nonce, encrypted));
    }
    if (o.forge === 'signature') {
      q.set('signature', 'f'.repeat(40));
      if (encrypt) q.set('msg_signature', 'f'.repeat(40));
    }
    if (m.type !== 'event' || m.event === 'subscribe') this.lastPush.set(openid, this.now());
    const started = performance.now();
    const res = await fetch(`${this.target}?${q}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: o.body ?? body });
    const text = await res.text();
    const ms = performance.now() - started;
    let fields: XmlFields | null = null;
    if (res.status === 200 && text.startsWith('<xml>')) {
      fields = parseWeChatXml(text);
      if (encrypt) {
        const enc = field(fields, 'Encrypt') ?? '';
        const sig = wechatSignature(this.opts.token, field(fields, 'TimeStamp') ?? '', field(fields, 'Nonce') ?? '', enc);
        if (sig !== field(fields, 'MsgSignature')) throw new Error('the passive reply is not signed correctly');
        fields = parseWeChatXml(decryptMessage(this.key!, this.opts.appId, enc));
      }
      if (field(fields, 'ToUserName') !== openid || field(fields, 'FromUserName') !== this.account) throw new Error(`the passive reply is addressed wrongly: ${text}`);
    }
    return { status: res.status, body: text, reply: fields ? (field(fields, 'Content') ?? null) : null, fields, ms, msgId };
  }
}
