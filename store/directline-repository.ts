/**
 * The web chat channel's data on MongoDB, so any number of bot processes serve any conversation:
 * the Direct Line conversations and their activity logs, a doorbell feed that tells the other
 * processes a conversation has news, and the token-signing key all processes share.
 *
 * Built for FerretDB 1.24 on SQLite, where every query but an insert scans its collection (see
 * time-buckets.ts) and concurrent read-modify-write on one document is not atomic, but unique
 * `_id`s are enforced:
 * - conversations and logs live in 10-minute bucket collections named by the conversation id, so a
 *   lookup reads one small collection whatever the history, a conversation that does not exist
 *   (or whose bucket is gone) costs at most as much as one that does, and expiry drops whole
 *   buckets; nothing on the request path updates or deletes a document;
 * - each activity is its own document `<conversationId>|<seq as 7 digits>` (also its activity id);
 *   the unique `_id` decides between processes appending at once (the loser takes the next
 *   number), so the log stays contiguous and the watermark is the sequence number;
 * - the feed is a ring of 30 collections, one per 2-second slot, reused every minute (a capped
 *   collection read newest-first would scan: FerretDB does not push the limit down; 0.9 s per read
 *   at 12,000 entries); a poll reads the current and previous slot whole; it only rings the bell,
 *   the log is the truth;
 * - tables are created ahead of use (`prepare`), never by a customer's insert: FerretDB creating a
 *   table during concurrent writes can fail them with SQLITE_BUSY.
 *
 * The process serving a conversation keeps it in memory as a write-through cache, so the database
 * is read only for what another process may have written (on FerretDB every read is a scan, a
 * missed one a whole scan):
 * - appends of one conversation run one after another in this process, each at the number after
 *   the newest one known here: this process never collides with itself, so a duplicate `_id` means
 *   another process appended (and is then walked past);
 * - the entries appended or read here are kept (a bounded tail per conversation; an entry never
 *   changes but for `movedTo`, which this process sets itself or learns from a bell), so a stream
 *   that fell behind is brought up to date from memory;
 * - each conversation counts the activities this process learned another process appended (a
 *   collision, a walk past the newest known number, a doorbell): {@link freshness} hands that count
 *   to the conversation state's cache (bot-state-storage.ts), which trusts its copy only while the
 *   count is unchanged. Every turn starts with an append, and another process's turn appends too,
 *   so a turn taken elsewhere is noticed at the latest by this process's next append.
 */
import { randomBytes } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './claims.js';
import { InsertBatcher } from './insert-batcher.js';
import { bucketCollection, bucketOfId, dropExpiredBuckets, newBucketedId } from './time-buckets.js';

/** A Direct Line conversation as stored. */
export interface DirectLineConversation {
  _id: string;
  /**
   * The bot-facing user id, fixed when the conversation is created: `webchat:` and the customer's
   * pseudonymous reference (what tickets and staff see), never the id the client holds.
   */
  userId: string;
  /** The client-visible user id (`u-…`, in the token and the customer key). Absent on conversations stored before references. */
  clientUserId?: string;
  userName?: string;
  locale?: string;
  createdAt: Date;
  /** The conversation reads as absent from then on (its bucket is dropped a little later). */
  expiresAt: Date;
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
  proc: string;
  conv: string;
  /** The 2-second slot it was rung in (its collection is reused every minute). */
  slot: number;
}

/**
 * A message held for a customer (`kind: 'message'`, `json` the caller's record), or the conversation
 * a returning customer continues in (`kind: 'successor'`, `_id` `<userId>|successor`).
 */
interface HeldDoc {
  _id: string;
  userId: string;
  kind: 'message' | 'successor';
  json?: string;
  conversationId?: string;
  expiresAt?: Date;
  at: Date;
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

const CONVERSATIONS = 'directlineConversations';
const ACTIVITIES = 'directlineActivities';
const FEED = 'directlineFeed';
/** Messages held for customers whose conversation expired, and where each such customer went on. */
const HELD = 'directlineHeld';
const PARALLEL_READS = 16;
/** The feed is a collection per 2-second slot (a ring of 30, reused): a poll reads two small collections whole. */
const FEED_SLOT_MS = 2000;
const FEED_SLOTS = 30;

/** What this process knows of one conversation's log (an accelerator, never the authority). */
interface ConversationRecord {
  /** Newest sequence number seen here. */
  known: number;
  /** Activities this process learned another process appended (see {@link MongoDirectLineRepository.freshness}). */
  foreign: number;
  /** True when this process created the conversation (its state cannot exist elsewhere unless `foreign` > 0). */
  createdHere: boolean;
  /** When this record began (ms): a cache that evicted anything since cannot trust an absence. */
  since: number;
  /** Appends of this conversation from this process, one after another. */
  appending: Promise<unknown>;
  /** Entries seen here, by sequence number (the last `keep` at most, at most TAIL_BYTES_PER_CONVERSATION). */
  tail: Map<number, TailEntry>;
  /** Bytes of `tail` (estimated: its JSON, two bytes a character, as JavaScript holds CJK text). */
  tailBytes: number;
  /** When this process last used the conversation (ms): idle ones leave memory first under pressure. */
  usedAt: number;
}

/** A log entry kept in memory, with its estimated size in bytes. */
type TailEntry = LoggedActivity & { movedTo?: number; size: number };

/** What the conversation-state cache needs to know about a conversation (see bot-state-storage.ts). */
export interface ConversationFreshness {
  /** Changes whenever this process learns that another process appended to the conversation. */
  token: string;
  /** This process created the conversation: no state of it exists anywhere unless `token` changed. */
  createdHere: boolean;
  /** When this process began tracking it (ms). */
  since: number;
}

/** Conversations tracked in memory (their records and tails; older ones are read from the database again). */
const TRACKED_CONVERSATIONS = 20_000;
/** Conversations whose entries are kept in memory. */
const TAILED_CONVERSATIONS = 5_000;
/**
 * Bytes of entries kept per conversation and in all: a count alone let 60 KB messages hold
 * gigabytes (5,000 conversations × 500 entries). Beyond these, entries are read from the database.
 */
const TAIL_BYTES_PER_CONVERSATION = 256 * 1024;
const TAIL_BYTES = 32 * 1024 * 1024;
/** A conversation unused this long is idle: under memory pressure its copies are dropped. */
const IDLE_MS = 60_000;

/** The web chat channel's storage (see the file header). */
export class MongoDirectLineRepository {
  private readonly keys: Collection<KeyDoc>;
  /** Per conversation, least recently used first. */
  private readonly records = new Map<string, ConversationRecord>();
  private tailed = 0;
  /** Bytes of all conversations' tails. */
  private tailBytes = 0;
  /** Conversation documents seen here, least recently used first (they are immutable). */
  private readonly cached = new Map<string, DirectLineConversation>();
  private feedSeq = 0;
  private feedClearedSlot = 0;
  /** Feed entries already handled (the two newest slots are re-read every poll). */
  private seenFeed = new Set<string>();

  /** Concurrent appends share one insert (one SQLite transaction) per collection: see insert-batcher.ts. */
  private readonly batchers = new Map<string, InsertBatcher<ActivityDoc | MarkerDoc | FeedDoc>>();

  /** This process's id in the feed. */
  readonly processId = randomBytes(8).toString('hex');

  constructor(private readonly db: Db) {
    this.keys = db.collection<KeyDoc>('directlineKeys');
  }

  /**
   * Gives memory back under pressure (runtime/memory-guard.ts): both maps are accelerators over
   * the database, so dropping them costs reads, never data.
   */
  shed(level: 'pressure' | 'critical', nowMs = Date.now()): void {
    if (level === 'critical') {
      // Everything: conversations are then read from the database, and their state no longer
      // trusted from memory, until seen again.
      this.cached.clear();
      this.records.clear();
      this.tailed = 0;
      this.tailBytes = 0;
      return;
    }
    // Under pressure, idle conversations only (nothing for IDLE_MS): the busy ones' copies are what
    // keeps their turns off the database, and dropping them all makes every open conversation read
    // its log back at once.
    for (const [id, r] of this.records) {
      if (nowMs - r.usedAt < IDLE_MS) continue;
      this.dropTail(r);
      this.cached.delete(id);
    }
  }

  /** A new conversation id (it names its bucket). */
  static newId(nowMs = Date.now()): string {
    return newBucketedId(nowMs);
  }

  private conversations(id: string): Collection<DirectLineConversation> | null {
    const bucket = bucketOfId(id);
    return bucket === null ? null : this.db.collection<DirectLineConversation>(bucketCollection(CONVERSATIONS, bucket));
  }

  private log(id: string): Collection<ActivityDoc | MarkerDoc> {
    return this.db.collection<ActivityDoc | MarkerDoc>(this.logName(id));
  }

  private logName(id: string): string {
    const bucket = bucketOfId(id);
    if (bucket === null) throw new Error(`direct line: ${id} is not a conversation id of this channel`);
    return bucketCollection(ACTIVITIES, bucket);
  }

  private insert(collection: string, doc: ActivityDoc | MarkerDoc | FeedDoc, urgent = false): Promise<void> {
    let b = this.batchers.get(collection);
    if (!b) {
      b = new InsertBatcher(this.db.collection<ActivityDoc | MarkerDoc | FeedDoc>(collection), () => ({ w: 1 }));
      this.batchers.set(collection, b);
      if (this.batchers.size > 64) this.batchers.delete(this.batchers.keys().next().value as string);
    }
    return b.insert(doc, urgent);
  }

  // ---- conversations -------------------------------------------------------------------------

  async createConversation(conv: DirectLineConversation): Promise<DirectLineConversation> {
    await this.conversations(conv._id)!.insertOne(conv);
    this.track(conv._id, true);
    this.cache(conv);
    return conv;
  }

  /** The record of a conversation (made when absent), moved to the most recently used end. */
  private track(conversationId: string, createdHere = false): ConversationRecord {
    let r = this.records.get(conversationId);
    if (r) this.records.delete(conversationId);
    else r = { known: 0, foreign: 0, createdHere, since: Date.now(), appending: Promise.resolve(), tail: new Map(), tailBytes: 0, usedAt: 0 };
    r.usedAt = Date.now();
    this.records.set(conversationId, r);
    if (this.records.size > TRACKED_CONVERSATIONS) {
      const [oldest, rec] = this.records.entries().next().value as [string, ConversationRecord];
      this.dropTail(rec);
      this.records.delete(oldest);
    }
    return r;
  }

  /**
   * What the conversation-state cache may trust about a conversation: null when this process does
   * not track it (then the state is read from the database). See the file header.
   */
  freshness(conversationId: string): ConversationFreshness | null {
    const r = this.records.get(conversationId);
    return r ? { token: `${r.foreign}`, createdHere: r.createdHere, since: r.since } : null;
  }

  /**
   * The end of the log as far as this process can vouch for it without a lookup: for a
   * conversation it created and has seen no other process append to, the newest number it
   * appended; otherwise undefined (look it up). Another process's later append reaches this one as
   * a doorbell (streams.ts), which catches up from the database.
   */
  knownEnd(conversationId: string): number | undefined {
    const r = this.records.get(conversationId);
    return r && r.createdHere && r.foreign === 0 ? r.known : undefined;
  }

  /** Records that another process appended to a conversation (its cached state may be stale). */
  private foreignSeen(conversationId: string): void {
    const r = this.records.get(conversationId);
    if (!r) return;
    r.foreign++;
    // Its entries are read again too (another process may have marked one moved).
    this.dropTail(r);
  }

  /** Bytes of log entries kept in memory, all conversations together. */
  keptBytes(): number {
    return this.tailBytes;
  }

  private dropTail(r: ConversationRecord): void {
    if (r.tail.size === 0) return;
    this.tailed--;
    this.tailBytes -= r.tailBytes;
    r.tail = new Map();
    r.tailBytes = 0;
  }

  private dropEntry(r: ConversationRecord, seq: number): void {
    const e = r.tail.get(seq);
    if (!e) return;
    r.tail.delete(seq);
    r.tailBytes -= e.size;
    this.tailBytes -= e.size;
    if (r.tail.size === 0) this.tailed--;
  }

  /**
   * Keeps an entry in the conversation's tail, bounded in entries (`keep`) and in bytes per
   * conversation and in all (the oldest entries, then the least recently used conversations' tails
   * go first), checked as it is stored. An entry larger than a conversation's budget is not kept.
   */
  private keepEntry(r: ConversationRecord, entry: LoggedActivity & { movedTo?: number }, keep: number, size: number): void {
    this.dropEntry(r, entry.seq);
    if (size > TAIL_BYTES_PER_CONVERSATION) return;
    if (r.tail.size === 0) {
      if (this.tailed >= TAILED_CONVERSATIONS) this.dropOldestTail();
      this.tailed++;
    }
    r.tail.set(entry.seq, { ...entry, size });
    r.tailBytes += size;
    this.tailBytes += size;
    this.dropEntry(r, entry.seq - keep);
    while (r.tailBytes > TAIL_BYTES_PER_CONVERSATION && r.tail.size > 0) this.dropEntry(r, r.tail.keys().next().value as number);
    while (this.tailBytes > TAIL_BYTES && this.dropOldestTail());
  }

  /** Drops the least recently used conversation's tail; false when no conversation has one. */
  private dropOldestTail(): boolean {
    for (const rec of this.records.values()) {
      if (rec.tail.size === 0) continue;
      this.dropTail(rec);
      return true;
    }
    return false;
  }

  /**
   * The conversation, or null when it does not exist or has expired. A conversation document never
   * changes after it is created, so the ones seen here are kept (bounded) and served from memory.
   */
  async getConversation(id: string, now = new Date()): Promise<DirectLineConversation | null> {
    const collection = this.conversations(id);
    if (!collection) return null; // not an id of this channel: no lookup at all
    const doc = this.cached.get(id) ?? (await collection.findOne({ _id: id }));
    if (!doc || doc.expiresAt.getTime() <= now.getTime()) {
      this.cached.delete(id);
      return null;
    }
    this.cache(doc);
    return doc;
  }

  private cache(conv: DirectLineConversation): void {
    this.cached.delete(conv._id);
    this.cached.set(conv._id, conv);
    if (this.cached.size > 20_000) this.cached.delete(this.cached.keys().next().value as string);
  }

  /**
   * True for exactly one caller per conversation and `name` across all processes (a unique
   * marker document): for things that must happen once, such as announcing the members.
   */
  async once(conversationId: string, name: string): Promise<boolean> {
    try {
      await this.insert(this.logName(conversationId), { _id: `${conversationId}|${name}`, at: new Date() });
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
  async append(conv: DirectLineConversation, stamp: (seq: number) => Record<string, unknown>, keep: number, urgent = false): Promise<LoggedActivity> {
    // One append at a time per conversation in this process: each takes the number after the
    // previous one, so a duplicate key can only mean another process (see the file header).
    const r = this.track(conv._id);
    const run = r.appending.then(() => this.appendNow(conv, r, stamp, keep, urgent));
    r.appending = run.catch(() => undefined);
    return run;
  }

  private async appendNow(conv: DirectLineConversation, r: ConversationRecord, stamp: (seq: number) => Record<string, unknown>, keep: number, urgent: boolean): Promise<LoggedActivity> {
    const name = this.logName(conv._id);
    let seq = r.known + 1;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const activity = stamp(seq);
      const json = JSON.stringify(activity);
      const doc: ActivityDoc = { _id: activityId(conv._id, seq), json, at: new Date() };
      try {
        // Urgent: the head of the queue, in the next batch, not behind the documents waiting. (Its
        // own insert beside the batch being written was tried: concurrent writes of one table made
        // the load's turns fail and slow down on the embedded database.)
        await this.insert(name, doc, urgent);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Another process appended meanwhile: find the end of the log (a few parallel probes
        // rather than one insert attempt per number), then try after it.
        this.foreignSeen(conv._id);
        seq = Math.max(seq, await this.latestSeq(conv)) + 1;
        continue;
      }
      this.remember(conv._id, seq);
      this.keepEntry(r, { seq, activity }, keep, json.length * 2);
      if (seq > keep) void this.log(conv._id).deleteOne({ _id: activityId(conv._id, seq - keep) }).catch(() => undefined);
      return { seq, activity };
    }
    throw new Error(`direct line: could not append to conversation ${conv._id}`);
  }

  /**
   * The entry, among the conversation's last `within`, whose activity carries
   * `channelData.clientActivityID === clientId` (a client re-sending what it is not sure arrived),
   * or null. Looks at the entries kept in this process; with `fromDatabase`, reads the last
   * `within` from the log too (another process may have taken the first copy, or a write may have
   * landed although its answer was lost).
   */
  async findByClientId(conv: DirectLineConversation, clientId: string, within: number, fromDatabase: boolean): Promise<LoggedActivity | null> {
    const matches = (a: Record<string, unknown>): boolean => {
      const data = a.channelData;
      const from = a.from;
      const byUser = typeof from === 'object' && from !== null && (from as Record<string, unknown>).role === 'user';
      return byUser && typeof data === 'object' && data !== null && (data as Record<string, unknown>).clientActivityID === clientId;
    };
    const tail = this.records.get(conv._id)?.tail;
    if (tail) for (const e of tail.values()) if (matches(e.activity)) return { seq: e.seq, activity: e.activity };
    if (!fromDatabase) return null;
    const latest = await this.latestSeq(conv);
    const { entries } = await this.after(conv, Math.max(0, latest - within), within, latest);
    return entries.find((e) => matches(e.activity)) ?? null;
  }

  /** Marks the activity at `seq` as moved to `to` (an update replaced it further down the log). */
  async markMoved(conversationId: string, seq: number, to: number): Promise<void> {
    await this.log(conversationId).updateOne({ _id: activityId(conversationId, seq) }, { $set: { movedTo: to } });
    const kept = this.records.get(conversationId)?.tail.get(seq);
    if (kept) kept.movedTo = to;
  }

  /** The log entry at `seq` (moved ones included), or null: from this process's tail, else the database. */
  async entry(conversationId: string, seq: number): Promise<(LoggedActivity & { movedTo?: number; size: number }) | null> {
    const kept = this.records.get(conversationId)?.tail.get(seq);
    if (kept) return kept;
    const doc = (await this.log(conversationId).findOne({ _id: activityId(conversationId, seq) })) as ActivityDoc | null;
    if (!doc || typeof doc.json !== 'string') return null;
    return { seq, activity: JSON.parse(doc.json) as Record<string, unknown>, ...(doc.movedTo ? { movedTo: doc.movedTo } : {}), size: doc.json.length * 2 };
  }

  /** The newest sequence number of a conversation (0 when empty): walks forward by `_id`. */
  async latestSeq(conv: DirectLineConversation): Promise<number> {
    const log = this.log(conv._id);
    const before = this.records.get(conv._id)?.known ?? 0;
    let latest = before;
    for (;;) {
      const probes = await Promise.all(
        Array.from({ length: latest === 0 ? 1 : 3 }, (_, i) => log.findOne({ _id: activityId(conv._id, latest + 1 + i) }, { projection: { _id: 1 } })),
      );
      const found = probes.findIndex((d) => !d);
      if (found === -1) {
        latest += probes.length;
        continue;
      }
      latest += found;
      break;
    }
    // Past the newest number known here: another process appended (the state cache must re-read).
    if (latest > before) this.foreignSeen(conv._id);
    this.remember(conv._id, latest);
    return latest;
  }

  /**
   * Activities after `watermark` (moved ones left out), within the last `keep`. The end of the log
   * is looked up in the database, unless `upTo` names it (a stream catching up with what this
   * process appended); entries kept here are not read again.
   */
  async after(conv: DirectLineConversation, watermark: number, keep: number, upTo?: number): Promise<{ entries: LoggedActivity[]; latest: number }> {
    const latest = upTo ?? (await this.latestSeq(conv));
    const from = Math.max(watermark + 1, latest - keep + 1, 1);
    const entries: LoggedActivity[] = [];
    for (let start = from; start <= latest; start += PARALLEL_READS) {
      const seqs = Array.from({ length: Math.min(PARALLEL_READS, latest - start + 1) }, (_, i) => start + i);
      const got = await Promise.all(seqs.map((s) => this.entry(conv._id, s)));
      const r = this.records.get(conv._id);
      for (const e of got) {
        if (!e) continue;
        if (r && r.tail.get(e.seq) !== e) this.keepEntry(r, e, keep, e.size);
        if (!e.movedTo) entries.push({ seq: e.seq, activity: e.activity });
      }
    }
    return { entries, latest };
  }

  private remember(conversationId: string, seq: number): void {
    const r = this.track(conversationId);
    if (r.known < seq) r.known = seq;
  }

  // ---- doorbell feed -------------------------------------------------------------------------

  /**
   * Creates the feed's collections and the next buckets' collections ahead of use: FerretDB creating
   * a table while other writes run can fail those writes with SQLITE_BUSY, so tables are made at
   * start and by a timer a few minutes before their bucket begins, never on a customer's insert.
   */
  async prepare(nowMs = Date.now()): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    const bucket = bucketOfId(newBucketedId(nowMs))!;
    const wanted = [
      ...Array.from({ length: FEED_SLOTS }, (_, i) => `${FEED}_${i}`),
      HELD,
      ...[bucket, bucket + 1].flatMap((b) => [CONVERSATIONS, ACTIVITIES, 'botState'].map((base) => bucketCollection(base, b))),
    ];
    for (const name of wanted) {
      if (existing.has(name)) continue;
      await this.db.createCollection(name).catch(() => undefined); // made meanwhile by another process
    }
  }

  /** Tells the other processes that `conversationId` has news. */
  async ring(conversationId: string, nowMs = Date.now()): Promise<void> {
    const n = ++this.feedSeq;
    const slot = Math.floor(nowMs / FEED_SLOT_MS);
    await this.insert(`${FEED}_${slot % FEED_SLOTS}`, { _id: `${this.processId}:${n}`, proc: this.processId, conv: conversationId, slot });
  }

  /**
   * The conversations other processes rang for since the last call, and whether any other process
   * rang at all: reads the current and the previous slot's collection whole (a few seconds of
   * bells). The slots' collections are a fixed ring, reused: one far from the current slot is
   * emptied on every poll (a small delete, not a table created or dropped).
   */
  async readFeed(nowMs = Date.now()): Promise<{ conversations: string[]; others: boolean }> {
    const slot = Math.floor(nowMs / FEED_SLOT_MS);
    const docs = (await Promise.all([slot - 1, slot].map((s) => this.db.collection<FeedDoc>(`${FEED}_${s % FEED_SLOTS}`).find({}).toArray())))
      .flat()
      .filter((d) => d.slot === slot || d.slot === slot - 1);
    const conversations = new Set<string>();
    let others = false;
    const seen = new Set<string>();
    for (const d of docs) {
      seen.add(d._id);
      if (d.proc === this.processId) continue;
      others = true;
      if (!this.seenFeed.has(d._id)) conversations.add(d.conv);
    }
    // Another process's news: this process's copy of those conversations' state may be stale.
    for (const id of conversations) this.foreignSeen(id);
    this.seenFeed = seen;
    if (slot !== this.feedClearedSlot) {
      this.feedClearedSlot = slot;
      const stale = (slot + FEED_SLOTS / 2) % FEED_SLOTS;
      void this.db.collection(`${FEED}_${stale}`).deleteMany({}).catch(() => undefined);
    }
    return { conversations: [...conversations], others };
  }

  // ---- held for a returning customer ---------------------------------------------------------
  //
  // A conversation expires (CONVERSATION_TTL_HOURS) but the customer keeps their identity (the
  // signed customer key in the page). What staff send after it expired is held here, per bot-facing
  // user id, and posted into the conversation the customer comes back to; from then on that
  // conversation is the customer's successor of the expired one. The collection holds only those
  // few documents (a FerretDB lookup scans it), and successors leave it when they expire.

  /** Holds `record` (JSON-serialisable) for the customer `userId` until they come back. */
  async hold(userId: string, record: unknown): Promise<void> {
    await this.db.collection<HeldDoc>(HELD).insertOne({ _id: `${userId}|${randomBytes(8).toString('hex')}`, userId, kind: 'message', json: JSON.stringify(record), at: new Date() });
  }

  /** What is held for `userId`, oldest first. */
  async heldFor(userId: string): Promise<{ id: string; record: unknown }[]> {
    const docs = await this.db.collection<HeldDoc>(HELD).find({ userId, kind: 'message' }).toArray();
    return docs.sort((a, b) => a.at.getTime() - b.at.getTime()).map((d) => ({ id: d._id, record: JSON.parse(d.json ?? 'null') as unknown }));
  }

  /** Removes held messages once posted. */
  async releaseHeld(ids: string[]): Promise<void> {
    if (ids.length) await this.db.collection<HeldDoc>(HELD).deleteMany({ _id: { $in: ids } });
  }

  /** Records the conversation a returning customer continues in (replaces the previous one). */
  async setSuccessor(userId: string, conversationId: string, expiresAt: Date): Promise<void> {
    const now = new Date();
    const col = this.db.collection<HeldDoc>(HELD);
    await col.replaceOne({ _id: `${userId}|successor` }, { userId, kind: 'successor', conversationId, expiresAt, at: now }, { upsert: true });
    // Housekeeping on the same rare path: successors that have expired themselves.
    void col.deleteMany({ kind: 'successor', expiresAt: { $lte: now } }).catch(() => undefined);
  }

  /** The open conversation a customer continues in after `userId`'s earlier one expired, or null. */
  async successor(userId: string, now = new Date()): Promise<DirectLineConversation | null> {
    const doc = await this.db.collection<HeldDoc>(HELD).findOne({ _id: `${userId}|successor` });
    if (!doc?.conversationId || !doc.expiresAt || doc.expiresAt.getTime() <= now.getTime()) return null;
    return this.getConversation(doc.conversationId, now);
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

  /** Drops the buckets whose conversations have all expired (`ttlMs` after their start). */
  sweepExpired(ttlMs: number, nowMs = Date.now()): Promise<number> {
    return dropExpiredBuckets(this.db, [CONVERSATIONS, ACTIVITIES], ttlMs, nowMs);
  }
}
