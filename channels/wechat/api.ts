/**
 * The Official Account APIs the channel calls: the access token (`POST /cgi-bin/stable_token`) and
 * the customer-service message (`POST /cgi-bin/message/custom/send`).
 *
 * Why the stable token: `GET /cgi-bin/token` hands out a new token on every call and retires the
 * previous one five minutes later, so several server processes fetching their own would keep
 * invalidating each other's. The stable token is the same for every caller until it expires; a
 * forced refresh is used only when WeChat says the token we hold is invalid and a normal fetch
 * returns that same token.
 */
import { AppError } from '../../core/app-error.js';
import { AccessToken } from '../access-token.js';
import { MediaTooLarge, readMedia, type ChannelMedia } from '../media.js';

/** WeChat answered with an error code (or not at all); `errcode` is WeChat's, -1 for transport failures. */
export class WeChatApiError extends AppError {
  readonly code = 'WECHAT_API_ERROR';
  constructor(
    readonly errcode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** errcode of a message sent outside the 48-hour customer-service window. */
export const OUTSIDE_SERVICE_WINDOW = 45015;
/** Attempts at a customer-service message when WeChat cannot be reached. */
const SEND_ATTEMPTS = 3;
/** errcodes meaning the access token is invalid or expired. */
const TOKEN_INVALID = new Set([40001, 40014, 42001]);

/** Why a customer-service message was refused, for staff (English, as other delivery errors). */
export function describeRefusal(errcode: number, errmsg: string): string {
  if (errcode === OUTSIDE_SERVICE_WINDOW) {
    return `WeChat refused the message (errcode 45015): the customer has not written to the Official Account in the last 48 hours, and WeChat delivers customer-service messages only within 48 hours of the customer's last message. It can be delivered after the customer writes again.`;
  }
  if (errcode === 43004) return `WeChat refused the message (errcode 43004): the customer no longer follows the Official Account.`;
  if (errcode === 45047) return `WeChat refused the message (errcode 45047): too many messages to this customer since their last message (WeChat allows 20 per 48 hours).`;
  return `WeChat refused the message (errcode ${errcode}: ${errmsg.slice(0, 200)})`;
}

export interface WeChatApiOptions {
  base: string;
  appId: string;
  appSecret: string;
  /** Per-call timeout in ms. */
  timeoutMs: number;
  now?: () => number;
  /** Refresh this long before WeChat's stated expiry. */
  refreshMarginMs?: number;
}

export class WeChatApi {
  private readonly token: AccessToken;
  private lastError: string | null = null;

  constructor(private readonly opts: WeChatApiOptions) {
    this.token = new AccessToken(
      async (force) => {
        const body = await this.call('/cgi-bin/stable_token', undefined, { grant_type: 'client_credential', appid: opts.appId, secret: opts.appSecret, force_refresh: force });
        const token = body.access_token;
        const expiresIn = Number(body.expires_in);
        if (typeof token !== 'string' || !token || !Number.isFinite(expiresIn) || expiresIn <= 0) throw new WeChatApiError(-1, 'WeChat returned no access token');
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

  /** Sends a text as a customer-service message; throws WeChatApiError with WeChat's reason when refused. */
  async sendText(openid: string, text: string): Promise<void> {
    // WeChat unreachable or too slow (errcode -1) is retried: an answer the customer is waiting for
    // is not dropped on one timeout. WeChat's own refusals are final. (A retry after a timeout can
    // deliver twice if WeChat had taken the first; a duplicate beats a lost answer.)
    for (let attempt = 1; ; attempt++) {
      try {
        await this.withToken((token) => this.call('/cgi-bin/message/custom/send', token, { touser: openid, msgtype: 'text', text: { content: text } }));
        return;
      } catch (err) {
        if (!(err instanceof WeChatApiError) || err.errcode !== -1 || attempt >= SEND_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
      }
    }
  }

  /**
   * The bytes of a temporary media (`GET /cgi-bin/media/get`; WeChat keeps a push's media for 3
   * days), up to `maxBytes` (larger: errcode -2, not read whole). Retried like a message when
   * WeChat cannot be reached.
   */
  async getMedia(mediaId: string, maxBytes: number): Promise<ChannelMedia> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withToken(async (token) => {
          const path = '/cgi-bin/media/get';
          let media: Awaited<ReturnType<typeof readMedia>>;
          try {
            const res = await fetch(`${this.opts.base.replace(/\/$/, '')}${path}?${new URLSearchParams({ access_token: token, media_id: mediaId })}`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
            media = await readMedia(res, maxBytes);
          } catch (err) {
            if (err instanceof MediaTooLarge) throw new WeChatApiError(-2, err.message);
            this.lastError = `WeChat API ${path} unreachable: ${(err as Error).message}`;
            throw new WeChatApiError(-1, this.lastError, { cause: err });
          }
          // A video's answer is JSON with its download URL (WeChat documents it so for media/get).
          const videoUrl = 'json' in media ? media.json.video_url : undefined;
          if (typeof videoUrl === 'string' && /^https?:\/\//.test(videoUrl)) {
            try {
              media = await readMedia(await fetch(videoUrl, { signal: AbortSignal.timeout(this.opts.timeoutMs) }), maxBytes);
            } catch (err) {
              if (err instanceof MediaTooLarge) throw new WeChatApiError(-2, err.message);
              throw new WeChatApiError(-3, `the video's download URL was unreachable: ${(err as Error).message}`, { cause: err });
            }
            if ('json' in media) throw new WeChatApiError(-3, "the video's download URL answered without the file");
          }
          if ('json' in media) {
            const errcode = typeof media.json.errcode === 'number' ? media.json.errcode : -1;
            throw new WeChatApiError(errcode, `WeChat refused the media (errcode ${errcode}: ${String(media.json.errmsg ?? '').slice(0, 200)})`);
          }
          this.lastError = null;
          return media;
        });
      } catch (err) {
        if (!(err instanceof WeChatApiError) || err.errcode !== -1 || attempt >= SEND_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
      }
    }
  }

  /** Runs an authenticated call, refreshing the token once when WeChat says it is invalid or expired. */
  private async withToken<T>(fn: (token: string) => Promise<T>): Promise<T> {
    const token = await this.token.get();
    try {
      return await fn(token);
    } catch (err) {
      if (!(err instanceof WeChatApiError) || !TOKEN_INVALID.has(err.errcode)) throw err;
      this.token.drop(token);
      let fresh = await this.token.fetch(false);
      // The shared stable token itself is the bad one: ask WeChat for a new one.
      if (fresh === token) fresh = await this.token.fetch(true);
      return fn(fresh);
    }
  }

  private async call(path: string, token: string | undefined, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const url = `${this.opts.base.replace(/\/$/, '')}${path}${token ? `?access_token=${encodeURIComponent(token)}` : ''}`;
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.opts.timeoutMs) });
    } catch (err) {
      this.lastError = `WeChat API ${path} unreachable: ${(err as Error).message}`;
      throw new WeChatApiError(-1, this.lastError, { cause: err });
    }
    let json: Record<string, unknown>;
    try {
      json = (await res.json()) as Record<string, unknown>;
    } catch (err) {
      this.lastError = `WeChat API ${path} answered HTTP ${res.status} without JSON`;
      throw new WeChatApiError(-1, this.lastError, { cause: err });
    }
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0;
    if (errcode !== 0) {
      const errmsg = typeof json.errmsg === 'string' ? json.errmsg : '';
      // A refusal about one customer (the 48-hour window) says nothing about the channel's health.
      if (!TOKEN_INVALID.has(errcode) && errcode !== OUTSIDE_SERVICE_WINDOW && errcode !== 43004 && errcode !== 45047) this.lastError = `WeChat API ${path}: errcode ${errcode} ${errmsg}`;
      throw new WeChatApiError(errcode, describeRefusal(errcode, errmsg));
    }
    this.lastError = null;
    return json;
  }
}
