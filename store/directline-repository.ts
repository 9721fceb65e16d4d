/**
 * The web chat channel's data on MongoDB, so any number of bot processes serve any conversation:
 * the Direct Line conversations, their activity logs, a per-process "doorbell" feed that tells the
 * other processes a conversation has news, and the token-signing key all processes share.
 *
 * Built for FerretDB 1.24 on SQLite, where only `_id` equality is pushed down (any other filter
 * scans the collection) and concurrent read-modify-write on one document is not atomic, but unique
 * `_id`s are enforced:
 * - every request-path read is a `findOne({_id})`; a conversation that does not exist costs one
 *   lookup, like one that does;
 * - each activity is its own document `<conversationId>|<seq as 7 digits>` (also its activity id);
 *   the unique `_id` decides between processes appending at once (the loser takes the next
 *   number), so the log stays contiguous and the watermark is the sequence number;
 * - the feed is append-only per process (`<processId>:<n>`, one writer each, no contention), read
 *   by the others with `_id` lookups; it only rings the bell, the log is the truth.
 * Scans happen only in the background sweep (expired conversations) and over the handful of live
 * process records.
 */
import { randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './claims.js';

/** A Direct Line conversation as stored. */
export interface DirectLineConversation {
  _id: string;
  /** The bot-facing user id (`webchat:<id>`), fixed when the conversation is created. */
  userId: string;
  userName?: string;
  locale?: string;
  createdAt: Date;
  touchedAt: Date;
  expiresAt: Date;
  /** A lower bound of the newest sequence number (kept roughly up to date; the log is the truth). */
  seqHint: number;
  /** Bytes the client has posted into this conversation (checked against its budget). */
  clientBytes: number;
}

interface ActivityDoc {
  _id: string;
  /** The activity's JSON (stored as text: card and channel data may hold `$`-keys). */
  json: string;
  at: Date;
  /** Set when an update moved this activity to a later sequence number. */
  movedTo?: number;
}

interface MarkerDoc {
  _id: string;
  at: Date;
}

interface FeedDoc {
  _id: string;
  conv: string;
  at: Date;
}

interface PeerDoc {
  _id: string;
  at: Date;
  /** Newest feed number of this process at its last heartbeat. */
  feed: number;
}

interface KeyDoc {
  _id: string;
  key: string;
}

/** One entry of a conversation's log. */
export interface LoggedActivity {
  seq: number;
  activity: Record<string, unknown>;
}

/** `<conversationId>|<seq as 7 digits>`: both the log document's `_id` and the activity's id. */
export function activityId(conversationId: string, seq: number): string {
  return `${conversationId}|${String(seq).padStart(7, '0')}`;
}

/** The sequence number inside an id this channel issued, or null. */
export function seqOf(conversationId: string, id: string): number | null {
  const prefix = `${conversationId}|`;
  if (!id.startsWith(prefix)) return null;
  const tail = id.slice(prefix.length);
  return /^\d{7,15}$/.test(tail) ? Number(tail) : null;
}

const FEED_KEEP = 2000;
const PARALLEL_READS = 16;

export class MongoDirectLineRepository {
  private readonly conversations: Collection<DirectLineConversation>;
  private readonly log: Collection<ActivityDoc | MarkerDoc>;
  private readonly feed: Collection<FeedDoc>;
  private readonly peers: Collection<PeerDoc>;
  private readonly keys: Collection<KeyDoc>;
  /** Newest sequence number seen per conversation (an accelerator, never the authority). */
  private readonly known = new Map<string, number>();
  private feedSeq = 0;

  /** This process's id in the feed. */
  readonly processId = randomBytes(8).toString('hex');

  constructor(db: Db) {
    this.conversations = db.collection<DirectLineConversation>('directlineConversations');
    this.log = db.collection<ActivityDoc | MarkerDoc>('directlineActivities');
    this.feed = db.collection<FeedDoc>('directlineFeed');
    this.peers = db.collection<PeerDoc>('directlinePeers');
    this.keys = db.collection<KeyDoc>('directlineKeys');
  }

  // ---- conversations -------------------------------------------------------------------------

  async createConversation(conv: Omit<DirectLineConversation, 'seqHint' | 'clientBytes'>): Promise<DirectLineConversation> {
    const doc: DirectLineConversation = { ...conv, seqHint: 0, clientBytes: 0 };
    await this.conversations.insertOne(doc);
    this.known.set(doc._id, 0);
    return doc;
  }

  /** The conversation, or null when it does not exist or has expired. One `_id` lookup. */
  async getConversation(id: string, now = new Date()): Promise<DirectLineConversation | null> {
    const doc = await this.conversations.findOne({ _id: id });
    if (!doc || doc.expiresAt.getTime() <= now.getTime()) return null;
    return doc;
  }

  /** Records client bytes and use (extends the expiry). */
  async touch(id: string, addBytes: number, expiresAt: Date, locale?: string): Promise<void> {
    await this.conversations.updateOne(
      { _id: id },
      { $inc: { clientBytes: addBytes }, $set: { touchedAt: new Date(), expiresAt, ...(locale ? { locale } : {}) } },
    );
  }

  /**
   * True for exactly one caller per conversation and `name` across all processes (a unique
   * marker document): for things that must happen once, such as announcing the members.
   */
  async once(conversationId: string, name: string): Promise<boolean> {
    try {
      await this.log.insertOne({ _id: `${conversationId}|${name}`, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  // ---- activity log --------------------------------------------------------------------------

  /**
   * Appends an activity at the next free sequence number; `stamp(seq)` builds it (its id names the
   * number). Keeps the last `keep` activities: the one `keep` places back is deleted.
   */
  async append(conv: DirectLineConversation, stamp: (seq: number) => Record<string, unknown>, keep: number): Promise<LoggedActivity> {
    let seq = Math.max(this.known.get(conv._id) ?? 0, conv.seqHint) + 1;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const activity = stamp(seq);
      try {
        await this.log.insertOne({ _id: activityId(conv._id, seq), json: JSON.stringify(activity), at: new Date() });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        seq += 1; // another process took it: the log is contiguous, so the next one is free or taken too
        continue;
      }
      this.remember(conv._id, seq);
      if (seq % 8 === 0) {
        // Off the request's path: the hint only shortens other processes' walks.
        void this.conversations.updateOne({ _id: conv._id, seqHint: { $lt: seq } }, { $set: { seqHint: seq } }).catch(() => undefined);
      }
      if (seq > keep) void this.log.deleteOne({ _id: activityId(conv._id, seq - keep) }).catch(() => undefined);
      return { seq, activity };
    }
    throw new Error(`direct line: could not append to conversation ${conv._id}`);
  }

  /** Marks the activity at `seq` as moved to `to` (an update replaced it further down the log). */
  async markMoved(conversationId: string, seq: number, to: number): Promise<void> {
    await this.log.updateOne({ _id: activityId(conversationId, seq) }, { $set: { movedTo: to } });
  }

  /** The log entry at `seq` (moved ones included), or null. */
  async entry(conversationId: string, seq: number): Promise<(LoggedActivity & { movedTo?: number }) | null> {
    const doc = (await this.log.findOne({ _id: activityId(conversationId, seq) })) as ActivityDoc | null;
    if (!doc || typeof doc.json !== 'string') return null;
    return { seq, activity: JSON.parse(doc.json) as Record<string, unknown>, ...(doc.movedTo ? { movedTo: doc.movedTo } : {}) };
  }

  /** The newest sequence number of a conversation (0 when empty): walks forward by `_id`. */
  async latestSeq(conv: DirectLineConversation): Promise<number> {
    let latest = Math.max(this.known.get(conv._id) ?? 0, conv.seqHint);
    for (;;) {
      const probes = await Promise.all(
        Array.from({ length: latest === 0 ? 1 : 4 }, (_, i) => this.log.findOne({ _id: activityId(conv._id, latest + 1 + i) }, { projection: { _id: 1 } })),
      );
      const found = probes.findIndex((d) => !d);
      if (found === -1) {
        latest += probes.length;
        continue;
      }
      latest += found;
      break;
    }
    this.remember(conv._id, latest);
    return latest;
  }

  /** Activities after `watermark` (moved ones left out), within the last `keep`. */
  async after(conv: DirectLineConversation, watermark: number, keep: number): Promise<{ entries: LoggedActivity[]; latest: number }> {
    const latest = await this.latestSeq(conv);
    const from = Math.max(watermark + 1, latest - keep + 1, 1);
    const entries: LoggedActivity[] = [];
    for (let start = from; start <= latest; start += PARALLEL_READS) {
      const seqs = Array.from({ length: Math.min(PARALLEL_READS, latest - start + 1) }, (_, i) => start + i);
      const got = await Promise.all(seqs.map((s) => this.entry(conv._id, s)));
      for (const e of got) if (e && !e.movedTo) entries.push({ seq: e.seq, activity: e.activity });
    }
    return { entries, latest };
  }

  private remember(conversationId: string, seq: number): void {
    if ((this.known.get(conversationId) ?? 0) >= seq) return;
    this.known.delete(conversationId);
    this.known.set(conversationId, seq);
    if (this.known.size > 50_000) this.known.delete(this.known.keys().next().value as string);
  }

  // ---- doorbell feed -------------------------------------------------------------------------

  /** Tells the other processes that `conversationId` has news. */
  async ring(conversationId: string): Promise<void> {
    const n = ++this.feedSeq;
    await this.feed.insertOne({ _id: feedId(this.processId, n), conv: conversationId, at: new Date() });
    if (n > FEED_KEEP) void this.feed.deleteOne({ _id: feedId(this.processId, n - FEED_KEEP) }).catch(() => undefined);
  }

  /** Records this process as alive (with its feed position); other processes find it here. */
  async heartbeat(): Promise<void> {
    await this.peers.replaceOne({ _id: this.processId }, { at: new Date(), feed: this.feedSeq }, { upsert: true });
  }

  /** The other live processes and their feed positions; forgets ones silent for `staleMs`. */
  async livePeers(staleMs: number): Promise<{ id: string; feed: number }[]> {
    const now = Date.now();
    const out: { id: string; feed: number }[] = [];
    // A scan, but of one small document per running process.
    for (const p of await this.peers.find({}).toArray()) {
      if (p._id === this.processId) continue;
      if (now - p.at.getTime() > staleMs) {
        void this.peers.deleteOne({ _id: p._id }).catch(() => undefined);
        continue;
      }
      out.push({ id: p._id, feed: p.feed });
    }
    return out;
  }

  /** The conversations another process rang for after feed number `cursor`, and the new cursor. */
  async readFeed(peer: string, cursor: number): Promise<{ conversations: string[]; cursor: number }> {
    const conversations: string[] = [];
    for (;;) {
      const doc = await this.feed.findOne({ _id: feedId(peer, cursor + 1) });
      if (!doc) break;
      conversations.push(doc.conv);
      cursor += 1;
    }
    return { conversations, cursor };
  }

  /** Removes this process's record (at shutdown). */
  async leave(): Promise<void> {
    await this.peers.deleteOne({ _id: this.processId });
  }

  // ---- keys and housekeeping ----------------------------------------------------------------

  /** The token-signing key shared by every process on this database (created by the first). */
  async sharedKey(name: string): Promise<Buffer> {
    const existing = await this.keys.findOne({ _id: name });
    if (existing) return Buffer.from(existing.key, 'base64');
    try {
      await this.keys.insertOne({ _id: name, key: randomBytes(32).toString('base64') });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err; // another process made it first: use theirs
    }
    const doc = await this.keys.findOne({ _id: name });
    if (!doc) throw new Error(`direct line: key ${name} could not be stored`);
    return Buffer.from(doc.key, 'base64');
  }

  /**
   * Deletes expired conversations with their logs. A background scan in batches (the only one):
   * request-path reads never depend on it, since an expired conversation reads as absent.
   */
  async sweepExpired(keep: number, now = new Date(), batch = 500): Promise<number> {
    let removed = 0;
    const cursor = this.conversations.find({}, { projection: { _id: 1, expiresAt: 1, seqHint: 1 }, batchSize: batch });
    for await (const c of cursor) {
      if (c.expiresAt.getTime() > now.getTime()) continue;
      const latest = await this.latestSeq(c as DirectLineConversation);
      await this.conversations.deleteOne({ _id: c._id });
      // Entries more than `keep` back were deleted when they fell off the log.
      for (let s = latest; s >= Math.max(1, latest - keep - 8); s--) await this.log.deleteOne({ _id: activityId(c._id, s) });
      for (const marker of ['members', 'started']) await this.log.deleteOne({ _id: `${c._id}|${marker}` });
      this.known.delete(c._id);
      removed++;
    }
    return removed;
  }
}

function feedId(processId: string, n: number): string {
  return `${processId}:${String(n).padStart(9, '0')}`;
}
