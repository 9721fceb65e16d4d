/**
 * What every channel does with an inbound message, whatever the wire: build the Bot Framework
 * activity for the channel's user (the customer's channel identity becomes `from.id`, which tickets
 * carry as `customer.userId`), drop the channel's retried deliveries (once per key, across restarts
 * and processes), and limit how fast one user may push.
 */
import type { Activity, Attachment, ChannelAccount } from 'botbuilder';
import type { Db, Collection } from 'mongodb';
import { isDuplicateKey } from '../store/claims.js';
import { bucketCollection, bucketOf, dropExpiredBuckets } from '../store/time-buckets.js';

/** Kinds of media a customer may send on a channel, as kept on the ticket. */
export const ATTACHMENT_KINDS = ['image', 'voice', 'video', 'file', 'location', 'link', 'other'] as const;
export type AttachmentKind = (typeof ATTACHMENT_KINDS)[number];

/** A customer's attachment as a channel hands it to the bot (a reference; the channel keeps the bytes). */
export interface InboundAttachment {
  kind: AttachmentKind;
  /** Where staff can open it (WeChat's PicUrl, a mail part's stored URL …). */
  url?: string;
  /** The channel's media id (WeChat MediaId), to fetch it through the channel's API. */
  mediaId?: string;
  name?: string;
  contentType?: string;
  /**
   * The channel fetched the bytes itself and keeps them in the attachments collection under the
   * ticket the turn names ({@link MEDIA_TICKET}), so staff can open the file without a URL
   * (WeCom's media, which only its API serves).
   */
  held?: boolean;
}

/**
 * Turn-state key under which the bot leaves the number of the ticket a message's media were kept
 * on (filed or added), for a channel that stores the bytes after the turn.
 */
export const MEDIA_TICKET = Symbol('mediaTicket');

/**
 * Turn-state key of a proactive turn (a staff reply, a resolution notice): the number of the ticket
 * it is about, for a channel whose thread names the ticket (e-mail subjects).
 */
export const PROACTIVE_TICKET = Symbol('proactiveTicket');

/** What a channel knows about one inbound message. */
export interface InboundMessage {
  /** The Bot Framework channelId (`wechat`, `email` …). */
  channelId: string;
  /** The customer's identity on the channel (openid, e-mail address …). */
  userId: string;
  userName?: string;
  /** The conversation (one per customer on channels without threads). */
  conversationId: string;
  /** The account the customer wrote to (the bot's side). */
  botId: string;
  /** The channel's id of this message, when it has one. */
  id?: string;
  text?: string;
  attachments?: InboundAttachment[];
  timestamp?: Date;
  locale?: string;
  /** Channel-specific data kept on the activity (channelData). */
  channelData?: Record<string, unknown>;
}

/** The Bot Framework content type for an attachment kind without a known MIME type. */
const FALLBACK_TYPE: Record<AttachmentKind, string> = {
  image: 'image/*',
  voice: 'audio/*',
  video: 'video/*',
  file: 'application/octet-stream',
  location: 'application/vnd.location',
  link: 'text/uri-list',
  other: 'application/octet-stream',
};

/** The attachment as a Bot Framework attachment; `content` keeps the reference fields. */
export function toBotAttachment(a: InboundAttachment): Attachment {
  return {
    contentType: a.contentType ?? FALLBACK_TYPE[a.kind],
    ...(a.url ? { contentUrl: a.url } : {}),
    ...(a.name ? { name: a.name } : {}),
    content: { kind: a.kind, ...(a.mediaId ? { mediaId: a.mediaId } : {}), ...(a.url ? { url: a.url } : {}), ...(a.held ? { held: true } : {}) },
  };
}

/** Reads back the attachments of an activity a channel built (others are ignored). */
export function inboundAttachments(activity: Partial<Activity>): InboundAttachment[] {
  const out: InboundAttachment[] = [];
  for (const a of activity.attachments ?? []) {
    const c = a.content as { kind?: unknown; mediaId?: unknown; url?: unknown; held?: unknown } | undefined;
    const kind = ATTACHMENT_KINDS.find((k) => k === c?.kind);
    if (!kind) continue;
    out.push({
      kind,
      ...(typeof c?.url === 'string' ? { url: c.url } : a.contentUrl ? { url: a.contentUrl } : {}),
      ...(typeof c?.mediaId === 'string' ? { mediaId: c.mediaId } : {}),
      ...(a.name ? { name: a.name } : {}),
      ...(a.contentType && !a.contentType.endsWith('/*') ? { contentType: a.contentType } : {}),
      ...(c?.held === true ? { held: true } : {}),
    });
  }
  return out;
}

/** The message activity for the bot. */
export function messageActivity(m: InboundMessage): Activity {
  const user = { id: m.userId, role: 'user', ...(m.userName ? { name: m.userName } : {}) } as ChannelAccount;
  return {
    type: 'message',
    id: m.id,
    channelId: m.channelId,
    serviceUrl: `channel://${m.channelId}`,
    timestamp: m.timestamp ?? new Date(),
    from: user,
    recipient: { id: m.botId, role: 'bot' },
    conversation: { id: m.conversationId, isGroup: false, conversationType: 'personal', name: '' },
    text: m.text ?? '',
    attachments: (m.attachments ?? []).map(toBotAttachment),
    ...(m.locale ? { locale: m.locale } : {}),
    ...(m.channelData ? { channelData: m.channelData } : {}),
  } as Activity;
}

/** A new follower / subscriber: the bot greets members added to the conversation. */
export function joinActivity(m: Omit<InboundMessage, 'text' | 'attachments'>): Activity {
  const a = messageActivity(m);
  return { ...a, type: 'conversationUpdate', text: undefined, attachments: undefined, membersAdded: [a.from] } as unknown as Activity;
}

/** How long a delivery key is remembered (channels retry within seconds; WeChat within 15 s). */
const KEEP_MS = 24 * 3_600_000;
const BASE = 'channelDeliveries';

/**
 * Remembers which deliveries a channel has already taken, so a retried push is processed once.
 *
 * Each key is inserted with `_id` = the key into a time-bucketed collection (store/time-buckets.ts)
 * chosen by the message's own creation time, which a retry repeats: the unique `_id` decides
 * between the first delivery and any retry, in any process, after any restart; an insert reads
 * nothing, so the cost does not grow with history, and old buckets expire by dropping them.
 *
 * When the database is unreachable the key is remembered in this process only and the delivery is
 * processed: a possible duplicate is better than a lost message.
 */
export class DeliveryLog {
  private readonly recent = new Map<string, number>();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: { onUnavailable?: (err: Error) => void; now?: () => number } = {},
  ) {}

  /**
   * True the first time `key` is offered, false for a repeat. `atMs` is the message's creation
   * time as the channel states it (the same on every retry). After `waitMs` without an answer from
   * the database the delivery counts as first.
   */
  async firstDelivery(key: string, atMs: number, waitMs = Infinity): Promise<boolean> {
    const now = (this.opts.now ?? Date.now)();
    if (this.recent.has(key)) return false;
    this.remember(key, now);
    // A creation time far from now (a wrong clock, a forged field) files the key under now.
    const at = Math.abs(atMs - now) < KEEP_MS / 2 ? atMs : now;
    const coll: Collection<{ _id: string; at: Date }> = this.db.collection(bucketCollection(BASE, bucketOf(at)));
    const insert = coll.insertOne({ _id: key, at: new Date(now) }).then(
      () => true,
      (err: unknown) => {
        if (isDuplicateKey(err)) return false;
        this.opts.onUnavailable?.(err as Error);
        return true;
      },
    );
    if (!Number.isFinite(waitMs)) return insert;
    // A channel that must answer within seconds does not wait for a slow database: the delivery is
    // taken (remembered in this process) and the insert finishes in the background.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<true>((r) => (timer = setTimeout(() => r(true), Math.max(0, waitMs))));
    try {
      return await Promise.race([insert, gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  private remember(key: string, now: number): void {
    this.recent.set(key, now);
    // Retries come within seconds; the in-process memory is a fast path and the outage fallback.
    if (this.recent.size > 20_000) {
      for (const [k, t] of this.recent) {
        if (now - t < 60_000) break;
        this.recent.delete(k);
      }
    }
  }

  /** Drops expired buckets hourly; returns a stop function. */
  startMaintenance(onError: (err: Error) => void): () => void {
    this.sweeper = setInterval(() => {
      dropExpiredBuckets(this.db, [BASE], KEEP_MS).catch(onError);
    }, 60 * 60_000);
    this.sweeper.unref();
    return () => {
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = null;
    };
  }
}

/**
 * A sliding-window limit per channel user (per process: a limit, not state to keep, as the bot's
 * own per-conversation limit).
 */
export class UserRateLimit {
  private readonly seen = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one message of `userId`; false when it is over the limit. */
  allow(userId: string): boolean {
    const now = this.now();
    const times = (this.seen.get(userId) ?? []).filter((t) => t > now - this.windowMs);
    const ok = times.length < this.limit;
    if (ok) times.push(now);
    this.seen.set(userId, times);
    if (this.seen.size > 50_000) this.seen.clear();
    return ok;
  }
}
