/**
 * WeCom customer service (企业微信 · 微信客服, the "kf" API) on `/channels/wecom`:
 * - `GET` answers WeCom's callback URL verification: `msg_signature` over the token, timestamp,
 *   nonce and the encrypted `echostr`; the answer is the decrypted echostr.
 * - `POST` takes WeCom's encrypted callback. A customer-service callback is the event
 *   `kf_msg_or_event` with a `Token` and an `OpenKfId` and no message: it is answered at once, and
 *   the messages are pulled with `sync_msg` from the cursor kept per account in the database
 *   (`wecomCursors`), so a restart or a second process neither files a message again nor skips
 *   one. Each message is taken once by its msgid (the shared delivery log, channels/inbound.ts).
 *   Known accounts are also pulled at start and every `WECOM_SYNC_INTERVAL_SECONDS` (a safety net
 *   for a callback WeCom gave up on).
 * - Customer messages (origin 3) become activities for the bot: text; image, voice, video and file
 *   with their bytes fetched by `media/get` and kept in the attachments collection on the ticket
 *   the bot names; other kinds for a polite answer. `enter_session` with a welcome_code is greeted
 *   through `send_msg_on_event`; other events are logged with what was done. Messages a servicer
 *   sent from the WeCom client (origin 5) are not the customer's and are skipped.
 *
 * Bad input gets a clear outcome and files nothing: a forged signature 401, an undecryptable or
 * foreign-corp body 400, malformed XML 400, an oversized body 413. A failed sync (WeCom or the
 * database unreachable) is retried with backoff from the same cursor; nothing is lost.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activity } from 'botbuilder';
import type { Collection } from 'mongodb';
import type { Logger } from 'pino';
import type { Config } from '../../runtime/config.js';
import type { Channel, ChannelHealth, ChannelHost } from '../channel.js';
import { CallbackRefused, readBody, send } from '../http.js';
import { DeliveryLog, joinActivity, MEDIA_TICKET, messageActivity, UserRateLimit, type AttachmentKind, type InboundAttachment } from '../inbound.js';
import { aesKeyOf, decryptMessage, signatureMatches, wechatSignature, WeChatDecryptError } from '../wechat/crypto.js';
import { textLang } from '../wechat/adapter.js';
import { SLOW_DOWN } from '../wechat/index.js';
import { field, parseWeChatXml, WeChatXmlError } from '../wechat/xml.js';
import { WeComAdapter } from './adapter.js';
import { extensionOf, keepOnTicket, storedTicketNumber, type ChannelMedia } from '../media.js';
import { WeComApi, WeComApiError, type KfMessage } from './api.js';

/** The Bot Framework channelId of WeCom customer-service activities and tickets. */
export const WECOM_CHANNEL_ID = 'wecom';
/** The callback URL's path. */
export const WECOM_PATH = '/channels/wecom';
/** Largest callback accepted (WeCom's are well under 1 KiB). */
export const MAX_CALLBACK_BYTES = 16 * 1024;
/** Largest media kept in the database (WeCom's own limits: image 10 MB, voice 2 MB, video 10 MB, file 20 MB). */
export const MAX_MEDIA_BYTES = 10 * 1024 * 1024;
/** How long a callback's Token is worth passing to sync_msg (WeCom: 10 minutes). */
const CALLBACK_TOKEN_MS = 9 * 60_000;
/** Message types whose media the channel fetches and keeps. */
const MEDIA_KINDS: Record<string, AttachmentKind> = { image: 'image', voice: 'voice', video: 'video', file: 'file' };
const ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The WeCom settings of the configuration, when the channel is on. */
export interface WeComSettings {
  corpId: string;
  secret: string;
  token: string;
  encodingAesKey: string;
  apiBase: string;
  ratePerMinute: number;
  apiTimeoutMs: number;
  /** First wait before retrying a failed sync, in ms (doubles up to 30 s). */
  retryMs?: number;
  /** Time between the safety-net syncs of every known account, in ms (0: none). */
  syncIntervalMs: number;
}

/** The channel's settings from the configuration, or null when WECOM_CORP_ID is unset (channel off). */
export function wecomSettings(config: Config): WeComSettings | null {
  if (!config.WECOM_CORP_ID || !config.WECOM_SECRET || !config.WECOM_TOKEN || !config.WECOM_ENCODING_AES_KEY) return null;
  return {
    corpId: config.WECOM_CORP_ID,
    secret: config.WECOM_SECRET,
    token: config.WECOM_TOKEN,
    encodingAesKey: config.WECOM_ENCODING_AES_KEY,
    apiBase: config.WECOM_API_BASE,
    ratePerMinute: config.WECOM_RATE_PER_MINUTE,
    apiTimeoutMs: config.CHANNEL_TIMEOUT_MS,
    syncIntervalMs: config.WECOM_SYNC_INTERVAL_SECONDS * 1000,
  };
}

/** A customer-service account's sync: one loop at a time per open_kfid in a process. */
interface SyncState {
  running: Promise<void> | null;
  again: boolean;
  token: string | null;
  tokenAt: number;
  failures: number;
}

/** The cursor of an account: `persisted` false while the database has not taken the latest. */
interface CursorState {
  cursor: string;
  persisted: boolean;
}

type CursorDoc = { _id: string; cursor: string; updatedAt: Date };

export class WeComChannel implements Channel {
  readonly id = WECOM_CHANNEL_ID;
  readonly adapter: WeComAdapter;
  private readonly api: WeComApi;
  private readonly key: Buffer;
  private readonly rate: UserRateLimit;
  private deliveries: DeliveryLog | null = null;
  private cursorsColl: Collection<CursorDoc> | null = null;
  private stopMaintenance: (() => void) | null = null;
  private periodic: NodeJS.Timeout | null = null;
  private host: ChannelHost | null = null;
  private log: Logger | null = null;
  private closed = false;
  private readonly syncs = new Map<string, SyncState>();
  private readonly cursors = new Map<string, CursorState>();
  private readonly pending = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private syncProblem: string | null = null;
  private counts = { callbacks: 0, refused: 0, syncs: 0, syncFailures: 0, messages: 0, duplicates: 0, skipped: 0, events: 0, sendFailures: 0, mediaKept: 0 };

  constructor(private readonly settings: WeComSettings) {
    this.api = new WeComApi({ base: settings.apiBase, corpId: settings.corpId, secret: settings.secret, timeoutMs: settings.apiTimeoutMs });
    this.key = aesKeyOf(settings.encodingAesKey);
    this.rate = new UserRateLimit(settings.ratePerMinute, 60_000);
    this.adapter = new WeComAdapter(this.api);
  }

  mount(host: ChannelHost): void {
    this.host = host;
    this.log = host.log;
    this.cursorsColl = host.services.db.collection<CursorDoc>('wecomCursors');
    this.deliveries = new DeliveryLog(host.services.db, { onUnavailable: (err) => host.log.warn({ err: err.message }, 'wecom: delivery log unreachable; de-duplicating in this process only') });
    this.stopMaintenance = this.deliveries.startMaintenance((err) => host.log.warn({ err: err.message }, 'wecom: dropping old delivery buckets failed'));
    host.server.get(WECOM_PATH, async (req, res) => {
      this.verifyUrl(req, res);
    });
    host.server.post(WECOM_PATH, async (req, res) => {
      await this.receive(req, res);
    });
    // Messages that arrived while no server was running have no callback of their own coming: each
    // account this desk has synced before is pulled once at start (without a callback Token, which
    // WeCom allows at a stricter rate).
    this.track(
      this.cursorsColl
        .find({}, { projection: { _id: 1 } })
        .limit(100)
        .toArray()
        .then(
          (docs) => docs.forEach((d) => this.schedule(d._id, null)),
          (err: Error) => host.log.warn({ err: err.message }, 'wecom: accounts to sync at start not read; they sync with their next callback'),
        ),
    );
    // A callback WeCom gave up on (this server unreachable, five seconds passed) is not sent again:
    // without a safety net its messages would wait for the account's next callback. Each known
    // account is pulled every interval; the cursor and the delivery log take every message once.
    if (this.settings.syncIntervalMs > 0) {
      this.periodic = setInterval(() => this.syncKnownAccounts(), this.settings.syncIntervalMs);
      this.periodic.unref();
    }
  }

  /**
   * One round of the safety net: every account with a stored cursor, and every account this process
   * has synced, is pulled unless its sync is already running (a running sync pulls to the end).
   */
  private syncKnownAccounts(): void {
    if (this.closed) return;
    const kick = (ids: Iterable<string>) => {
      for (const id of ids) if (!this.syncs.get(id)?.running) this.schedule(id, null);
    };
    this.track(
      this.cursorsColl!.find({}, { projection: { _id: 1 } })
        .limit(100)
        .toArray()
        .then(
          (docs) => kick(new Set([...this.syncs.keys(), ...docs.map((d) => d._id)])),
          (err: Error) => {
            // The database is down: the accounts this process knows are still pulled (the cursor
            // kept in this process covers them, see loadCursor).
            this.log?.warn({ err: err.message }, 'wecom: accounts for the periodic sync not read; syncing the ones this process knows');
            kick([...this.syncs.keys()]);
          },
        ),
    );
  }

  health(): ChannelHealth {
    const problem = this.syncProblem ?? this.api.problem;
    return { channel: this.id, status: problem ? 'degraded' : 'ok', ...(problem ? { detail: problem } : {}) };
  }

  /** Counters since start, for logs and tests. */
  stats(): Readonly<typeof this.counts> {
    return { ...this.counts };
  }

  /** Waits until every scheduled sync, and what its messages started, has settled. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.periodic) clearInterval(this.periodic);
    this.stopMaintenance?.();
    for (const wake of this.sleepers) wake();
    await this.idle();
  }

  private track(work: Promise<void>): void {
    const p = work.finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Waits `ms`, or less when the channel closes. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private query(req: IncomingMessage): URLSearchParams {
    return new URL(req.url ?? '/', 'http://localhost').searchParams;
  }

  /** Checks `msg_signature` over the token, timestamp, nonce and the encrypted part; decrypts it for this corp. */
  private open(q: URLSearchParams, encrypted: string | undefined): string {
    const timestamp = q.get('timestamp') ?? '';
    const nonce = q.get('nonce') ?? '';
    if (!timestamp || !nonce) throw new CallbackRefused(401, 'missing timestamp or nonce');
    if (!signatureMatches(q.get('msg_signature'), wechatSignature(this.settings.token, timestamp, nonce, encrypted ?? ''))) throw new CallbackRefused(401, 'bad msg_signature');
    if (!encrypted) throw new WeChatXmlError('callback without an encrypted part');
    return decryptMessage(this.key, this.settings.corpId, encrypted.replace(/\s+/g, ''));
  }

  /** WeCom's callback URL check: answer the decrypted echostr when the signature is WeCom's. */
  private verifyUrl(req: IncomingMessage, res: ServerResponse): void {
    const q = this.query(req);
    try {
      send(res, 200, 'text/plain', this.open(q, q.get('echostr') ?? undefined));
    } catch (err) {
      const status = statusOf(err);
      this.log?.warn({ peer: req.socket.remoteAddress, status, err: (err as Error).message }, 'wecom: URL verification refused');
      send(res, status, 'text/plain', status >= 500 ? 'internal error' : (err as Error).message);
    }
  }

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const q = this.query(req);
    let event: { kind: string; token: string | null; openKfid: string | null };
    try {
      const body = await readBody(req, MAX_CALLBACK_BYTES);
      // The signature is checked before the body is parsed beyond finding the ciphertext.
      const encrypted = /<Encrypt>\s*<!\[CDATA\[([A-Za-z0-9+/=\s]+)\]\]>\s*<\/Encrypt>/.exec(body)?.[1] ?? /<Encrypt>([A-Za-z0-9+/=\s]+)<\/Encrypt>/.exec(body)?.[1];
      const xml = this.open(q, encrypted);
      parseWeChatXml(body);
      const fields = parseWeChatXml(xml);
      const kind = (field(fields, 'Event') ?? field(fields, 'MsgType') ?? '').trim();
      if (!kind) throw new WeChatXmlError('callback without MsgType or Event');
      const openKfid = field(fields, 'OpenKfId') ?? null;
      if (openKfid !== null && !ID.test(openKfid)) throw new WeChatXmlError('OpenKfId is not an account id');
      const token = field(fields, 'Token') ?? null;
      if (token !== null && !/^[A-Za-z0-9_=+/-]{1,128}$/.test(token)) throw new WeChatXmlError('Token is not a sync token');
      event = { kind, token, openKfid };
    } catch (err) {
      this.counts.refused++;
      const status = statusOf(err);
      this.log?.warn({ peer: req.socket.remoteAddress, status, err: (err as Error).message }, 'wecom: callback refused');
      if (status === 413) res.setHeader('Connection', 'close');
      return send(res, status, 'text/plain', status >= 500 ? 'internal error' : (err as Error).message);
    }
    this.counts.callbacks++;
    if (event.kind !== 'kf_msg_or_event' || !event.openKfid) {
      // Other WeCom callbacks to the same URL (contacts, apps …) are not this channel's.
      this.log?.info({ event: event.kind }, 'wecom: callback is not a customer-service event; ignored');
      return send(res, 200, 'text/plain', 'success');
    }
    // The messages are pulled after the answer: WeCom waits 5 seconds for it and retries otherwise.
    send(res, 200, 'text/plain', 'success');
    this.schedule(event.openKfid, event.token);
  }

  /** Starts (or re-arms) the sync of an account. */
  private schedule(openKfid: string, token: string | null): void {
    if (this.closed) return;
    let s = this.syncs.get(openKfid);
    if (!s) this.syncs.set(openKfid, (s = { running: null, again: false, token: null, tokenAt: 0, failures: 0 }));
    if (token) Object.assign(s, { token, tokenAt: Date.now() });
    s.again = true;
    if (s.running) return;
    const state = s;
    state.running = this.runSync(openKfid, state).finally(() => {
      state.running = null;
      // A callback that came as the loop was ending is not left waiting for the next one.
      if (state.again && !this.closed) this.schedule(openKfid, null);
    });
    this.track(state.running);
  }

  private async runSync(openKfid: string, s: SyncState): Promise<void> {
    while (s.again && !this.closed) {
      s.again = false;
      try {
        this.counts.syncs++;
        await this.syncOnce(openKfid, s);
        s.failures = 0;
        this.syncProblem = null;
      } catch (err) {
        // WeCom or the database unreachable: nothing was skipped (the cursor moves only after its
        // messages are taken); try again from the same cursor.
        s.failures++;
        this.counts.syncFailures++;
        this.syncProblem = `sync of ${openKfid} failed ${s.failures} time(s): ${(err as Error).message.slice(0, 200)}`;
        this.log?.warn({ openKfid, failures: s.failures, err: (err as Error).message }, 'wecom: sync failed; retrying');
        if (this.closed) return;
        await this.sleep(Math.min((this.settings.retryMs ?? 500) * 2 ** (s.failures - 1), 30_000));
        s.again = true;
      }
    }
  }

  private async syncOnce(openKfid: string, s: SyncState): Promise<void> {
    let cursor = await this.loadCursor(openKfid);
    for (;;) {
      const token = s.token && Date.now() - s.tokenAt < CALLBACK_TOKEN_MS ? s.token : null;
      const page = await this.api.syncMsg(openKfid, cursor, token);
      for (const m of page.messages) await this.take(m, openKfid);
      cursor = page.nextCursor;
      await this.saveCursor(openKfid, cursor);
      if (!page.hasMore || this.closed) return;
    }
  }

  /**
   * The account's cursor: the database's, unless this process advanced it while the database was
   * unreachable; during an outage this process's own. Without either it cannot know where it is
   * and waits (starting from the beginning would file old messages again).
   */
  private async loadCursor(openKfid: string): Promise<string> {
    const mine = this.cursors.get(openKfid);
    if (mine && !mine.persisted) {
      await this.persist(openKfid, mine);
      return mine.cursor;
    }
    try {
      const doc = await this.cursorsColl!.findOne({ _id: openKfid });
      return doc?.cursor ?? '';
    } catch (err) {
      if (mine) return mine.cursor;
      throw err;
    }
  }

  private async saveCursor(openKfid: string, cursor: string): Promise<void> {
    const state: CursorState = { cursor, persisted: false };
    this.cursors.set(openKfid, state);
    await this.persist(openKfid, state);
  }

  private async persist(openKfid: string, state: CursorState): Promise<void> {
    try {
      await this.cursorsColl!.updateOne({ _id: openKfid }, { $set: { cursor: state.cursor, updatedAt: new Date() } }, { upsert: true });
      state.persisted = true;
    } catch (err) {
      // Kept in this process and written with the next sync; another process may read an older
      // cursor meanwhile and pull messages again, which the delivery log takes once.
      this.log?.warn({ openKfid, err: (err as Error).message }, 'wecom: cursor not saved; kept in this process');
    }
  }

  /** One message from sync_msg: taken once, then handed to the bot or logged. */
  private async take(m: KfMessage, openKfid: string): Promise<void> {
    const isEvent = m.msgtype === 'event';
    if (!isEvent && m.origin !== 3) {
      // A servicer's message from the WeCom client (origin 5) or anything not from the customer.
      this.counts.skipped++;
      this.log?.debug({ msgid: m.msgid, origin: m.origin }, 'wecom: message not from the customer; skipped');
      return;
    }
    const key = `wecom:${this.settings.corpId}:msg:${m.msgid}`;
    const at = typeof m.send_time === 'number' ? m.send_time * 1000 : Date.now();
    if (!(await this.deliveries!.firstDelivery(key, at))) {
      this.counts.duplicates++;
      this.log?.info({ msgid: m.msgid }, 'wecom: message already taken; ignored');
      return;
    }
    try {
      if (isEvent) await this.event(m, openKfid);
      else await this.message(m, openKfid);
    } catch (err) {
      // The bot's onTurnError has answered the customer; the message is not retried (it was taken).
      this.log?.error({ msgid: m.msgid, err: (err as Error).message }, 'wecom: message failed');
    }
  }

  private base(m: KfMessage, openKfid: string, user: string) {
    return {
      channelId: WECOM_CHANNEL_ID,
      userId: user,
      conversationId: `wecom:${openKfid}:${user}`,
      botId: openKfid,
      id: m.msgid,
      timestamp: typeof m.send_time === 'number' ? new Date(m.send_time * 1000) : new Date(),
      channelData: { msgType: m.msgtype, msgId: m.msgid, openKfid },
    };
  }

  private async event(m: KfMessage, openKfid: string): Promise<void> {
    this.counts.events++;
    const e = m.event ?? {};
    const type = String(e.event_type ?? '');
    const user = String(e.external_userid ?? '');
    if (type === 'enter_session' && ID.test(user)) {
      if (!e.welcome_code) {
        // WeCom gives a code only when the customer may be greeted (no message from the account in the session yet).
        this.log?.info({ openKfid, user }, 'wecom: enter_session without a welcome_code; no greeting sent');
        return;
      }
      const account = typeof e.open_kfid === 'string' && ID.test(e.open_kfid) ? e.open_kfid : openKfid;
      const { outcome } = await this.adapter.processMessage(joinActivity(this.base(m, account, user)), this.host!.bot, String(e.welcome_code));
      this.report(outcome.failed, m.msgid, user);
      return;
    }
    if (type === 'msg_send_fail') {
      this.log?.warn({ openKfid, user, failMsgid: e.fail_msgid, failType: e.fail_type }, 'wecom: WeCom reports a message to the customer failed');
      return;
    }
    this.log?.info({ openKfid, type }, 'wecom: event needs no answer; recorded');
  }

  private async message(m: KfMessage, openKfid: string): Promise<void> {
    const user = m.external_userid ?? '';
    if (!ID.test(user)) {
      this.counts.skipped++;
      this.log?.warn({ msgid: m.msgid }, 'wecom: message without a valid external_userid; skipped');
      return;
    }
    this.counts.messages++;
    // A statistic is not worth delaying the answer or failing it.
    this.track(this.host!.services.store.channelMessages.count(WECOM_CHANNEL_ID).catch((err: Error) => this.log?.warn({ err: err.message }, 'wecom: counting the message failed')));
    const base = this.base(m, openKfid, user);
    if (!this.rate.allow(user)) {
      this.log?.warn({ user }, 'wecom: customer over the rate limit; asked to slow down, message not processed');
      await this.api.sendText(openKfid, user, SLOW_DOWN[textLang(m.text?.content)]).catch((err: Error) => this.report([err.message], m.msgid, user));
      return;
    }
    let activity: Activity;
    let media: { kind: AttachmentKind; mediaId: string; fetched: ChannelMedia | null; note: string | null } | null = null;
    const kind = MEDIA_KINDS[m.msgtype];
    if (m.msgtype === 'text') {
      activity = messageActivity({ ...base, text: m.text?.content ?? '' });
    } else if (kind) {
      const mediaId = (m[m.msgtype] as { media_id?: unknown } | undefined)?.media_id;
      const id = typeof mediaId === 'string' && mediaId.length <= 256 ? mediaId : '';
      media = { kind, mediaId: id, ...(await this.fetchMedia(id)) };
      const contentType = media.fetched?.contentType;
      const name = media.fetched?.filename ?? `${m.msgtype}-${m.msgid.slice(-24)}${extensionOf(contentType ?? '')}`;
      const attachment: InboundAttachment = { kind, ...(id ? { mediaId: id } : {}), name, ...(contentType ? { contentType } : {}), held: true };
      activity = messageActivity({ ...base, attachments: [attachment] });
    } else {
      // A location, link, mini program, menu choice … or a type WeCom adds later: a polite answer.
      const other: AttachmentKind = m.msgtype === 'location' ? 'location' : m.msgtype === 'link' ? 'link' : 'other';
      activity = messageActivity({ ...base, attachments: [{ kind: other, name: m.msgtype.slice(0, 40) }] });
    }
    const { context, outcome } = await this.adapter.processMessage(activity, this.host!.bot);
    this.report(outcome.failed, m.msgid, user);
    const ticket = context.turnState.get(MEDIA_TICKET) as string | undefined;
    if (media && ticket) this.track(this.keepMedia(ticket, { channelId: activity.channelId, userId: activity.from.id }, m, media));
  }

  /** The media's bytes, or null with a note for staff (too large, expired, WeCom unreachable). */
  private async fetchMedia(mediaId: string): Promise<{ fetched: ChannelMedia | null; note: string | null }> {
    if (!mediaId) return { fetched: null, note: 'WeCom gave no media_id for this file' };
    try {
      return { fetched: await this.api.getMedia(mediaId, MAX_MEDIA_BYTES), note: null };
    } catch (err) {
      const reason = err instanceof WeComApiError && err.errcode === -2 ? `over the ${MAX_MEDIA_BYTES}-byte limit` : (err as Error).message.slice(0, 200);
      this.log?.warn({ mediaId, err: (err as Error).message }, 'wecom: media not fetched');
      return { fetched: null, note: `not downloaded (${reason}); WeCom keeps temporary media for 3 days: media_id ${mediaId}` };
    }
  }

  /** Stores the media on the ticket, idempotently by msgid; retried while the database is unreachable. */
  private async keepMedia(ticketNumber: string, customer: { channelId: string; userId: string }, m: KfMessage, media: { kind: AttachmentKind; mediaId: string; fetched: ChannelMedia | null; note: string | null }): Promise<void> {
    const f = media.fetched;
    const item = {
      ticketNumber,
      filename: f?.filename ?? `${m.msgtype}-${m.msgid.slice(-24)}${extensionOf(f?.contentType ?? '')}`,
      contentType: f?.contentType ?? 'application/octet-stream',
      size: f?.content.length ?? 0,
      content: f?.content ?? null,
      note: media.note,
      channelId: WECOM_CHANNEL_ID,
      messageRef: m.msgid,
    };
    try {
      await keepOnTicket(this.host!.services.store.attachments, item, `wecom:${m.msgid}`, (ms) => this.sleep(ms), this.closed ? 1 : 8, storedTicketNumber(this.host!.services.tickets, customer));
      this.counts.mediaKept++;
    } catch (err) {
      this.log?.error({ ticketNumber, msgid: m.msgid, err: (err as Error).message }, 'wecom: media not stored on the ticket');
    }
  }

  private report(failed: string[], msgid: string, user: string): void {
    for (const reason of failed) {
      this.counts.sendFailures++;
      this.log?.warn({ msgid, user, reason }, 'wecom: a reply was not delivered');
    }
  }
}

/** The HTTP status of a refused callback or verification. */
function statusOf(err: unknown): number {
  if (err instanceof CallbackRefused) return err.status;
  if (err instanceof WeChatXmlError || err instanceof WeChatDecryptError) return 400;
  return 500;
}
