/**
 * The WeCom customer-service (微信客服, "kf") APIs the channel calls, as WeCom documents them:
 * - `GET /cgi-bin/gettoken?corpid=…&corpsecret=…`: the access token (7200 s). WeCom returns the
 *   same token to every caller while it is valid, so several server processes do not invalidate
 *   each other's; a token WeCom calls invalid (40014) or expired (42001) is fetched again once.
 * - `POST /cgi-bin/kf/sync_msg`: the messages after a cursor (the callback carries none).
 * - `POST /cgi-bin/kf/send_msg`: a text to a customer (touser = external_userid, open_kfid).
 * - `POST /cgi-bin/kf/send_msg_on_event`: the greeting with an enter_session event's welcome_code.
 * - `GET /cgi-bin/media/get`: the bytes of a customer's picture, voice, video or file.
 */
import { AppError } from '../../core/app-error.js';
import { AccessToken } from '../access-token.js';
import { MediaTooLarge, readMedia, type ChannelMedia } from '../media.js';

/** WeCom answered with an error code (or not at all); `errcode` is WeCom's, -1 for transport failures. */
export class WeComApiError extends AppError {
  readonly code = 'WECOM_API_ERROR';
  constructor(
    readonly errcode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** errcode: more than 5 messages since the customer's last message (发送客服消息次数限制). */
export const OVER_REPLY_COUNT = 95001;
/** errcode: more than 48 hours since the customer's last message (发送客服消息时间限制). */
export const OUTSIDE_SERVICE_WINDOW = 95002;
/** errcode: the session is not in a state the API may send in (a person took it over in WeCom). */
export const SESSION_STATE_INVALID = 95018;
/** errcodes meaning the access token is invalid or expired. */
const TOKEN_INVALID = new Set([40014, 42001]);
/** Refusals about one customer: they say nothing about the channel's health. */
const PER_CUSTOMER = new Set([OVER_REPLY_COUNT, OUTSIDE_SERVICE_WINDOW, SESSION_STATE_INVALID, 95013, 40007]);
/** Attempts at a call when WeCom cannot be reached or is busy (errcode -1). */
const ATTEMPTS = 3;

/** Why a message was refused, for staff (English, as other delivery errors). */
export function describeRefusal(errcode: number, errmsg: string): string {
  if (errcode === OUTSIDE_SERVICE_WINDOW) {
    return `WeCom refused the message (errcode 95002): the customer has not written to the customer-service account in the last 48 hours, and WeCom delivers messages only within 48 hours of the customer's last message. It can be delivered after the customer writes again.`;
  }
  if (errcode === OVER_REPLY_COUNT) {
    return `WeCom refused the message (errcode 95001): 5 messages have already been sent since the customer's last message, and WeCom allows at most 5. It can be delivered after the customer writes again.`;
  }
  if (errcode === SESSION_STATE_INVALID) {
    return `WeCom refused the message (errcode 95018): the session is being handled by a person in WeCom or has ended, and the API may only send while the session is new or with the assistant.`;
  }
  return `WeCom refused the request (errcode ${errcode}: ${errmsg.slice(0, 200)})`;
}

export interface WeComApiOptions {
  base: string;
  corpId: string;
  secret: string;
  /** Per-call timeout in ms. */
  timeoutMs: number;
  now?: () => number;
  /** Refresh this long before WeCom's stated expiry. */
  refreshMarginMs?: number;
  /** Wait before the n-th retry (default 300 ms × 2^(n-1)); tests shorten it. */
  retryDelayMs?: (attempt: number) => number;
}

/** One message as sync_msg lists it (the fields the channel reads; others are kept as given). */
export interface KfMessage {
  msgid: string;
  open_kfid?: string;
  external_userid?: string;
  send_time?: number;
  /** 3: the customer; 4: a system event; 5: a servicer in the WeCom client. */
  origin?: number;
  msgtype: string;
  text?: { content?: string };
  image?: { media_id?: string };
  voice?: { media_id?: string };
  video?: { media_id?: string };
  file?: { media_id?: string };
  event?: { event_type?: string; open_kfid?: string; external_userid?: string; welcome_code?: string; scene?: string; fail_msgid?: string; fail_type?: number; [k: string]: unknown };
  [k: string]: unknown;
}

/** A page of sync_msg. */
export interface SyncPage {
  nextCursor: string;
  hasMore: boolean;
  messages: KfMessage[];
}

export class WeComApi {
  private readonly token: AccessToken;
  private lastError: string | null = null;
  private readonly base: string;

  constructor(private readonly opts: WeComApiOptions) {
    this.base = opts.base.replace(/\/$/, '');
    this.token = new AccessToken(
      async () => {
        const q = new URLSearchParams({ corpid: opts.corpId, corpsecret: opts.secret });
        const body = await this.json('/cgi-bin/gettoken', `?${q}`, { method: 'GET' });
        const token = body.access_token;
        const expiresIn = Number(body.expires_in);
        if (typeof token !== 'string' || !token || !Number.isFinite(expiresIn) || expiresIn <= 0) throw new WeComApiError(-1, 'WeCom returned no access token');
        return { token, expiresIn };
      },
      opts.now,
      opts.refreshMarginMs,
    );
  }

  /** The last token or API failure, for health (null after a success). */
  get problem(): string | null {
    return this.lastError;
  }

  /**
   * One page of messages after `cursor` (empty: from the start WeCom keeps). `token` is the
   * callback's (10 minutes; without it WeCom limits the call more strictly).
   */
  async syncMsg(openKfid: string, cursor: string, token: string | null, limit = 1000): Promise<SyncPage> {
    const body = await this.post('/cgi-bin/kf/sync_msg', { cursor, ...(token ? { token } : {}), limit, voice_format: 0, open_kfid: openKfid });
    const list = Array.isArray(body.msg_list) ? (body.msg_list as unknown[]) : [];
    const messages = list.filter((m): m is KfMessage => typeof m === 'object' && m !== null && typeof (m as KfMessage).msgid === 'string' && typeof (m as KfMessage).msgtype === 'string');
    return { nextCursor: typeof body.next_cursor === 'string' ? body.next_cursor : cursor, hasMore: body.has_more === 1 || body.has_more === true, messages };
  }

  /** Sends a text to a customer; throws WeComApiError with WeCom's reason when refused. */
  async sendText(openKfid: string, externalUserId: string, text: string): Promise<void> {
    await this.post('/cgi-bin/kf/send_msg', { touser: externalUserId, open_kfid: openKfid, msgtype: 'text', text: { content: text } });
  }

  /** Sends a text with an event's one-time code (the enter_session welcome_code, valid 20 s). */
  async sendOnEvent(code: string, text: string): Promise<void> {
    await this.post('/cgi-bin/kf/send_msg_on_event', { code, msgtype: 'text', text: { content: text } });
  }

  /**
   * The bytes of a temporary media (kept by WeCom for 3 days), up to `maxBytes`: larger media
   * throw with errcode -2 without being read whole.
   */
  async getMedia(mediaId: string, maxBytes: number): Promise<ChannelMedia> {
    return this.withRetries(() =>
      this.withToken(async (token) => {
        const res = await this.fetch('/cgi-bin/media/get', `?${new URLSearchParams({ access_token: token, media_id: mediaId })}`, { method: 'GET' });
        let media: Awaited<ReturnType<typeof readMedia>>;
        try {
          media = await readMedia(res, maxBytes);
        } catch (err) {
          if (err instanceof MediaTooLarge) throw new WeComApiError(-2, err.message);
          this.lastError = `WeCom API /cgi-bin/media/get: ${(err as Error).message}`;
          throw new WeComApiError(-1, this.lastError, { cause: err });
        }
        // Errors come as JSON; media as the file's own type.
        if ('json' in media) {
          this.check('/cgi-bin/media/get', media.json);
          throw new WeComApiError(-1, 'WeCom answered media/get without the media');
        }
        this.lastError = null;
        return media;
      }),
    );
  }

  /** A JSON call with the token, retried when WeCom is unreachable or busy. */
  private post(path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.withRetries(() => this.withToken((token) => this.json(path, `?access_token=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })));
  }

  /**
   * WeCom unreachable, too slow or busy (errcode -1) is retried: a message is not dropped on one
   * timeout. WeCom's own refusals are final. (A retry after a timeout can deliver a text twice if
   * WeCom had taken the first; a duplicate beats a lost answer.)
   */
  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof WeComApiError) || err.errcode !== -1 || attempt >= ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, this.opts.retryDelayMs?.(attempt) ?? 300 * 2 ** (attempt - 1)));
      }
    }
  }

  /** Runs an authenticated call, fetching a new token once when WeCom says it is invalid or expired. */
  private async withToken<T>(fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.token.get();
    try {
      return await fn(token);
    } catch (err) {
      if (!(err instanceof WeComApiError) || !TOKEN_INVALID.has(err.errcode)) throw err;
      this.token.drop(token);
      return fn(await this.token.fetch(false));
    }
  }

  private async fetch(path: string, query: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}${query}`, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs) });
    } catch (err) {
      this.lastError = `WeCom API ${path} unreachable: ${(err as Error).message}`;
      throw new WeComApiError(-1, this.lastError, { cause: err });
    }
  }

  private async parse(path: string, res: Response): Promise<Record<string, unknown>> {
    try {
      return (await res.json()) as Record<string, unknown>;
    } catch (err) {
      this.lastError = `WeCom API ${path} answered HTTP ${res.status} without JSON`;
      throw new WeComApiError(-1, this.lastError, { cause: err });
    }
  }

  private check(path: string, json: Record<string, unknown>): Record<string, unknown> {
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
    if (errcode !== 0) {
      const errmsg = typeof json.errmsg === 'string' ? json.errmsg : '';
      if (!TOKEN_INVALID.has(errcode) && !PER_CUSTOMER.has(errcode)) this.lastError = `WeCom API ${path}: errcode ${errcode} ${errmsg}`;
      throw new WeComApiError(errcode, describeRefusal(errcode, errmsg));
    }
    this.lastError = null;
    return json;
  }

  private async json(path: string, query: string, init: RequestInit): Promise<Record<string, unknown>> {
    return this.check(path, await this.parse(path, await this.fetch(path, query, init)));
  }
}
