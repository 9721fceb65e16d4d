/**
 * The WeChat Official Account (公众号) channel on `/channels/wechat`:
 * - `GET` answers WeChat's server URL verification (signature over token, timestamp, nonce → echostr);
 * - `POST` takes message pushes, in plaintext or safe mode (`encrypt_type=aes`), turns them into
 *   activities for the bot (text; voice with WeChat's recognition text; image, voice without
 *   recognition text and video as attachments, their bytes fetched by MediaId
 *   (`GET /cgi-bin/media/get`, a video through the `video_url` it answers) into the ticket's
 *   attachments; other media for a polite answer; subscribe as a new member), and answers within WeChat's
 *   5-second wait: the bot's reply as a passive reply, or "success" and the reply later through the
 *   customer-service API (channels/wechat/adapter.ts).
 *
 * Bad input gets a clear outcome and files nothing: a forged signature 401, an undecryptable or
 * foreign-app body 400, malformed XML 400, an oversized body 413; a retried push (same MsgId, or
 * same sender and CreateTime for events) is answered "success" and not processed again.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from 'botbuilder';
import type { Logger } from 'pino';
import type { Config } from '../../runtime/config.js';
import type { Channel, ChannelHealth, ChannelHost } from '../channel.js';
import { CallbackRefused as PushRefused, readBody, send } from '../http.js';
import { extensionOf, keepOnTicket, storedTicketNumber, type ChannelMedia } from '../media.js';
import { DeliveryLog, MEDIA_TICKET, joinActivity, messageActivity, UserRateLimit, type InboundAttachment } from '../inbound.js';
import { textLang, WeChatAdapter } from './adapter.js';
import { WeChatApi } from './api.js';
import { aesKeyOf, decryptMessage, encryptMessage, signatureMatches, wechatSignature, WeChatDecryptError } from './crypto.js';
import { cdata, field, parseWeChatXml, WeChatXmlError, type XmlFields } from './xml.js';

/** The Bot Framework channelId of WeChat Official Account activities and tickets. */
export const WECHAT_CHANNEL_ID = 'wechat';
/** The endpoint WeChat's server configuration points at. */
export const WECHAT_PATH = '/channels/wechat';
/** Largest push accepted (WeChat's are a few KiB; a safe-mode push is about 4/3 of its plaintext). */
export const MAX_PUSH_BYTES = 64 * 1024;
/** Largest picture kept in the database (WeChat's own limit for images is 10 MB). */
export const MAX_MEDIA_BYTES = 10 * 1024 * 1024;

/** The WeChat settings of the configuration, when the channel is on. */
export interface WeChatSettings {
  token: string;
  appId: string;
  appSecret: string;
  encodingAesKey?: string;
  apiBase: string;
  ratePerMinute: number;
  passiveReplyMs: number;
  apiTimeoutMs: number;
}

/** The channel's settings from the configuration, or null when WECHAT_TOKEN is unset (channel off). */
export function wechatSettings(config: Config): WeChatSettings | null {
  if (!config.WECHAT_TOKEN || !config.WECHAT_APP_ID || !config.WECHAT_APP_SECRET) return null;
  return {
    token: config.WECHAT_TOKEN,
    appId: config.WECHAT_APP_ID,
    appSecret: config.WECHAT_APP_SECRET,
    encodingAesKey: config.WECHAT_ENCODING_AES_KEY,
    apiBase: config.WECHAT_API_BASE,
    ratePerMinute: config.WECHAT_RATE_PER_MINUTE,
    passiveReplyMs: config.WECHAT_PASSIVE_REPLY_MS,
    apiTimeoutMs: config.CHANNEL_TIMEOUT_MS,
  };
}

/** The push, decoded: what the channel acts on. */
interface Push {
  fields: XmlFields;
  openid: string;
  account: string;
  createTime: number;
  msgType: string;
  encrypted: boolean;
}

export class WeChatChannel implements Channel {
  readonly id = WECHAT_CHANNEL_ID;
  readonly adapter: WeChatAdapter;
  private readonly api: WeChatApi;
  private readonly key: Buffer | null;
  private readonly rate: UserRateLimit;
  private deliveries: DeliveryLog | null = null;
  private stopMaintenance: (() => void) | null = null;
  private host: ChannelHost | null = null;
  private log: Logger | null = null;
  private readonly pending = new Set<Promise<void>>();
  private counts = { pushes: 0, refused: 0, duplicates: 0, late: 0, mediaKept: 0 };

  constructor(private readonly settings: WeChatSettings) {
    this.api = new WeChatApi({ base: settings.apiBase, appId: settings.appId, appSecret: settings.appSecret, timeoutMs: settings.apiTimeoutMs });
    this.key = settings.encodingAesKey ? aesKeyOf(settings.encodingAesKey) : null;
    this.rate = new UserRateLimit(settings.ratePerMinute, 60_000);
    this.adapter = new WeChatAdapter(this.api, (err, openid) => this.log?.warn({ err: err.message, openid }, 'wechat: a later reply was not delivered'));
  }

  mount(host: ChannelHost): void {
    this.host = host;
    this.log = host.log;
    this.deliveries = new DeliveryLog(host.services.db, { onUnavailable: (err) => host.log.warn({ err: err.message }, 'wechat: delivery log unreachable; de-duplicating in this process only') });
    this.stopMaintenance = this.deliveries.startMaintenance((err) => host.log.warn({ err: err.message }, 'wechat: dropping old delivery buckets failed'));
    host.server.get(WECHAT_PATH, async (req, res) => {
      this.verifyUrl(req, res);
    });
    host.server.post(WECHAT_PATH, async (req, res) => {
      await this.receive(req, res);
    });
  }

  health(): ChannelHealth {
    const problem = this.api.problem;
    return { channel: this.id, status: problem ? 'degraded' : 'ok', ...(problem ? { detail: problem } : {}) };
  }

  /** Counters since start (pushes taken, refused, de-duplicated, answered later), for logs and tests. */
  stats(): Readonly<typeof this.counts> {
    return { ...this.counts };
  }

  /** Keeps background work of a push (later replies, counting) until it settles, for `idle()`. */
  private track(work: Promise<void>): void {
    const p = work.finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits for replies still being sent after their passive window, and messages still being counted. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    this.stopMaintenance?.();
    await this.idle();
  }

  private query(req: IncomingMessage): URLSearchParams {
    return new URL(req.url ?? '/', 'http://localhost').searchParams;
  }

  /** WeChat's server URL check: echo `echostr` when the signature is WeChat's. */
  private verifyUrl(req: IncomingMessage, res: ServerResponse): void {
    const q = this.query(req);
    const expected = wechatSignature(this.settings.token, q.get('timestamp') ?? '', q.get('nonce') ?? '');
    if (!q.get('timestamp') || !q.get('nonce') || !signatureMatches(q.get('signature'), expected)) {
      this.log?.warn({ peer: req.socket.remoteAddress }, 'wechat: URL verification with a bad signature refused');
      return send(res, 401, 'text/plain', 'bad signature');
    }
    send(res, 200, 'text/plain', q.get('echostr') ?? '');
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // WeChat's 5 seconds run from its request: every wait below comes out of the same budget.
    const arrived = Date.now();
    const left = () => this.settings.passiveReplyMs - (Date.now() - arrived);
    const q = this.query(req);
    let push: Push;
    try {
      const body = await readBody(req, MAX_PUSH_BYTES);
      push = this.decode(q, body);
    } catch (err) {
      this.counts.refused++;
      const status = err instanceof PushRefused ? err.status : err instanceof WeChatXmlError || err instanceof WeChatDecryptError ? 400 : 500;
      this.log?.warn({ peer: req.socket.remoteAddress, status, err: (err as Error).message }, 'wechat: push refused');
      if (status === 413) res.setHeader('Connection', 'close');
      return send(res, status, 'text/plain', status >= 500 ? 'internal error' : (err as Error).message);
    }
    this.counts.pushes++;
    const { fields, openid, msgType } = push;
    const msgId = field(fields, 'MsgId') ?? field(fields, 'MsgID');
    const event = (field(fields, 'Event') ?? '').toLowerCase();
    const key = msgId ? `wechat:${push.account}:msg:${msgId}` : `wechat:${push.account}:event:${openid}:${push.createTime}:${event}`;
    if (!(await this.deliveries!.firstDelivery(key, push.createTime * 1000, left() / 2))) {
      this.counts.duplicates++;
      this.log?.info({ openid, msgId, event: event || undefined }, 'wechat: retried push ignored (already taken)');
      return send(res, 200, 'text/plain', 'success');
    }
    // Messages (not events) are counted once taken (retries are not); a statistic is not worth delaying the answer or failing it.
    if (msgType !== 'event') this.track(this.host!.services.store.channelMessages.count(WECHAT_CHANNEL_ID).catch((err: Error) => this.log?.warn({ err: err.message }, 'wechat: counting the message failed')));
    const activity = this.toActivity(push, msgId);
    if (!activity) {
      // Unsubscribe, menu clicks, location reports … need no answer; they are logged for operators.
      this.log?.info({ openid, msgType, event }, 'wechat: push needs no answer');
      return send(res, 200, 'text/plain', 'success');
    }
    if (activity.type === 'message' && !this.rate.allow(openid)) {
      this.log?.warn({ openid }, 'wechat: user over the rate limit; asked to slow down, message not processed');
      return this.answer(res, push, q, slowDown(activity.text));
    }
    const host = this.host!;
    // A picture's, a voice message's (without recognition text) or a video's bytes are fetched by
    // MediaId while the bot runs (the PicUrl expires; WeChat keeps the media 3 days) and kept on the
    // ticket the bot names once the turn is done.
    const mediaId = keptMediaId(push);
    const media = mediaId ? this.fetchMedia(mediaId) : null;
    const outcome = await this.adapter.processPush(activity, host.bot, Math.max(0, left()));
    if (outcome.late) this.counts.late++;
    this.track(outcome.done);
    const customer = { channelId: activity.channelId, userId: activity.from.id };
    if (media) this.track(outcome.done.then(() => this.keepMedia(outcome.context.turnState.get(MEDIA_TICKET) as string | undefined, customer, media, mediaId!, msgId, push.msgType)));
    if (outcome.passive === null) return send(res, 200, 'text/plain', 'success');
    this.answer(res, push, q, outcome.passive);
  }

  /** The media's bytes, or a note for staff saying why there are none (expired, too large, WeChat unreachable). */
  private fetchMedia(mediaId: string): Promise<{ media: ChannelMedia | null; note: string | null }> {
    return this.api.getMedia(mediaId, MAX_MEDIA_BYTES).then(
      (media) => ({ media, note: null }),
      (err: Error) => {
        this.log?.warn({ mediaId, err: err.message }, 'wechat: media not fetched');
        return { media: null, note: `not downloaded (${err.message.slice(0, 200)}); WeChat keeps temporary media for 3 days: MediaId ${mediaId}` };
      },
    );
  }

  /** Stores fetched media on the ticket the turn filed it on or added it to (none: nothing to keep it with). */
  private async keepMedia(ticketNumber: string | undefined, customer: { channelId: string; userId: string }, fetching: Promise<{ media: ChannelMedia | null; note: string | null }>, mediaId: string, msgId: string | undefined, msgType: string): Promise<void> {
    const { media, note } = await fetching;
    if (!ticketNumber) return;
    const item = {
      ticketNumber,
      filename: media?.filename ?? `${msgType}-${(msgId ?? mediaId).slice(-24)}${extensionOf(media?.contentType ?? '')}`,
      contentType: media?.contentType ?? 'application/octet-stream',
      size: media?.content.length ?? 0,
      content: media?.content ?? null,
      note,
      channelId: WECHAT_CHANNEL_ID,
      messageRef: msgId ?? mediaId,
    };
    try {
      // A short retry only: the picture's URL and MediaId are on the ticket already.
      await keepOnTicket(this.host!.services.store.attachments, item, `wechat:media:${mediaId}`, (ms) => new Promise((r) => setTimeout(r, ms)), 3, storedTicketNumber(this.host!.services.tickets, customer));
      this.counts.mediaKept++;
    } catch (err) {
      this.log?.warn({ ticketNumber, mediaId, err: (err as Error).message }, 'wechat: media not stored on the ticket');
    }
  }

  /** Checks the signature, decrypts in safe mode, parses the XML and reads the fields every push has. */
  private decode(q: URLSearchParams, body: string): Push {
    const timestamp = q.get('timestamp') ?? '';
    const nonce = q.get('nonce') ?? '';
    if (!timestamp || !nonce) throw new PushRefused(401, 'missing timestamp or nonce');
    const aes = q.get('encrypt_type') === 'aes';
    let xml = body;
    if (aes) {
      if (!this.key) throw new PushRefused(400, 'safe mode push, but WECHAT_ENCODING_AES_KEY is not configured');
      // The signature is checked before the body is parsed beyond finding the ciphertext.
      const encrypted = /<Encrypt>\s*<!\[CDATA\[([A-Za-z0-9+/=\s]+)\]\]>\s*<\/Encrypt>/.exec(body)?.[1] ?? /<Encrypt>([A-Za-z0-9+/=\s]+)<\/Encrypt>/.exec(body)?.[1];
      if (!signatureMatches(q.get('msg_signature'), wechatSignature(this.settings.token, timestamp, nonce, encrypted ?? ''))) {
        throw new PushRefused(401, 'bad msg_signature');
      }
      if (!encrypted) throw new WeChatXmlError('safe mode push without an <Encrypt> field');
      parseWeChatXml(body);
      xml = decryptMessage(this.key, this.settings.appId, encrypted.replace(/\s+/g, ''));
    } else if (!signatureMatches(q.get('signature'), wechatSignature(this.settings.token, timestamp, nonce))) {
      throw new PushRefused(401, 'bad signature');
    }
    const fields = parseWeChatXml(xml);
    const openid = field(fields, 'FromUserName');
    const account = field(fields, 'ToUserName');
    const msgType = field(fields, 'MsgType');
    const createTime = Number(field(fields, 'CreateTime'));
    if (!openid || !account || !msgType || !Number.isInteger(createTime)) {
      throw new WeChatXmlError('push lacks FromUserName, ToUserName, MsgType or CreateTime');
    }
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(openid)) throw new WeChatXmlError('FromUserName is not an openid');
    return { fields, openid, account, createTime, msgType: msgType.toLowerCase(), encrypted: aes };
  }

  /** The bot's activity for a push; null for pushes that need no answer. */
  private toActivity(push: Push, msgId: string | undefined): Activity | null {
    const { fields, openid } = push;
    const base = {
      channelId: WECHAT_CHANNEL_ID,
      userId: openid,
      conversationId: `wechat:${openid}`,
      botId: push.account,
      id: msgId,
      timestamp: new Date(push.createTime * 1000),
      channelData: { msgType: push.msgType, ...(msgId ? { msgId } : {}) },
    };
    const media = (kind: InboundAttachment['kind'], extra: Partial<InboundAttachment> = {}): InboundAttachment => ({ kind, ...(field(fields, 'MediaId') ? { mediaId: field(fields, 'MediaId') } : {}), ...extra });
    switch (push.msgType) {
      case 'text':
        return messageActivity({ ...base, text: field(fields, 'Content') ?? '' });
      case 'voice': {
        // WeChat's speech recognition, when the account has it on; without it the voice is kept on
        // the ticket (its bytes fetched by MediaId) and the bot asks for text.
        const recognition = (field(fields, 'Recognition') ?? '').trim();
        return messageActivity({ ...base, text: recognition, attachments: [media('voice', { contentType: field(fields, 'Format') ? `audio/${field(fields, 'Format')!.toLowerCase()}` : undefined, ...(keptMediaId(push) ? { held: true } : {}) })] });
      }
      case 'image': {
        const url = field(fields, 'PicUrl');
        return messageActivity({ ...base, attachments: [media('image', url && /^https?:\/\//.test(url) ? { url } : {})] });
      }
      case 'video':
      case 'shortvideo':
        // Kept on the ticket: its bytes are fetched by MediaId (WeChat answers with a video_url).
        return messageActivity({ ...base, attachments: [media('video', keptMediaId(push) ? { held: true } : {})] });
      case 'location':
        return messageActivity({ ...base, attachments: [{ kind: 'location', name: (field(fields, 'Label') ?? '').slice(0, 200) || undefined }] });
      case 'link': {
        const url = field(fields, 'Url');
        return messageActivity({ ...base, attachments: [{ kind: 'link', ...(url && /^https?:\/\//.test(url) ? { url } : {}), name: (field(fields, 'Title') ?? '').slice(0, 200) || undefined }] });
      }
      case 'event': {
        const event = (field(fields, 'Event') ?? '').toLowerCase();
        if (event === 'subscribe') return joinActivity(base);
        return null;
      }
      default:
        // A type WeChat adds later: the bot answers that it cannot read it yet.
        return messageActivity({ ...base, attachments: [{ kind: 'other', name: push.msgType.slice(0, 40) }] });
    }
  }

  /** Sends a passive text reply, encrypted and signed in safe mode. */
  private answer(res: ServerResponse, push: Push, q: URLSearchParams, text: string): void {
    const now = Math.floor(Date.now() / 1000);
    const reply = `<xml><ToUserName>${cdata(push.openid)}</ToUserName><FromUserName>${cdata(push.account)}</FromUserName><CreateTime>${now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>${cdata(text)}</Content></xml>`;
    if (!push.encrypted || !this.key) return send(res, 200, 'application/xml', reply);
    const nonce = q.get('nonce') || randomBytes(8).toString('hex');
    const timestamp = String(now);
    const encrypted = encryptMessage(this.key, this.settings.appId, reply);
    const signature = wechatSignature(this.settings.token, timestamp, nonce, encrypted);
    send(res, 200, 'application/xml', `<xml><Encrypt>${cdata(encrypted)}</Encrypt><MsgSignature>${cdata(signature)}</MsgSignature><TimeStamp>${timestamp}</TimeStamp><Nonce>${cdata(nonce)}</Nonce></xml>`);
  }
}

/** "Slow down", in the language the message looks like (the bot's own texts are per conversation). */
export const SLOW_DOWN = {
  'zh-Hans': '您发送得太快了，请稍等一分钟再发。',
  'zh-Hant': '您發送得太快了，請稍等一分鐘再發。',
  en: 'You are sending messages too quickly; please wait a minute and send again.',
} as const;

function slowDown(text: string | undefined): string {
  return SLOW_DOWN[textLang(text)];
}

/**
 * The MediaId whose bytes the channel fetches and keeps for this push: a picture, a voice message
 * without recognition text (with it, the text is the message) or a video; null otherwise or when
 * the id is not one WeChat gives.
 */
function keptMediaId(push: Push): string | null {
  const recognised = push.msgType === 'voice' && (field(push.fields, 'Recognition') ?? '').trim() !== '';
  if (!['image', 'voice', 'video', 'shortvideo'].includes(push.msgType) || recognised) return null;
  const id = field(push.fields, 'MediaId');
  return id && /^[A-Za-z0-9_-]{1,256}$/.test(id) ? id : null;
}
