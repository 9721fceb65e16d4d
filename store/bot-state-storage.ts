/**
 * botbuilder's `Storage` on MongoDB, so several bot processes share conversation and user state,
 * with eTag optimistic concurrency: a write carrying an eTag succeeds only if the stored item still
 * has it; `*` or no eTag writes unconditionally (botbuilder's contract).
 *
 * Built for FerretDB 1.24, where only inserts and `_id` lookups are fast (a filter on any other
 * field, or `$in`, scans the collection; updates are slow and not atomic): every write inserts a
 * new immutable revision `<key>#<n>`, so the unique `_id` decides between racing writers (the eTag
 * is the revision number plus a random tag). Reading a key looks up the revision after the newest
 * one this process knows; a per-key head document, rewritten every few revisions, lets other
 * processes find the newest quickly. Old revisions are deleted by `_id` after a newer one lands.
 *
 * Items are stored as JSON text: dialog state may contain keys MongoDB would read as operators.
 *
 * Every read checks the database (one `_id` lookup for the revision after the newest one known
 * here), so any process may serve the next turn of any conversation. A key that was never written
 * costs two lookups (head, first revision), like one that was.
 *
 * Expiry (`ttlMs`): an item whose newest revision is older than that reads as absent (the
 * conversation starts afresh; its tickets keep what staff need), and `sweepExpired` deletes such
 * keys in the background.
 *
 * Web chat conversations (keys `webchat/conversations/<id>/…` with ids that name a time bucket,
 * see time-buckets.ts) are kept in the bucket collection `<collection>_<bucket>`: on FerretDB every
 * lookup scans its collection, so a turn then reads only the state of conversations started in the
 * same ten minutes, however many came before; they expire by dropping the bucket.
 */
import { randomBytes } from 'node:crypto';
import type { Storage, StoreItems } from 'botbuilder';
import type { Collection, Db } from 'mongodb';
import { backoff, isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';
import { InsertBatcher } from './insert-batcher.js';
import { bucketCollection, bucketOfId, dropExpiredBuckets } from './time-buckets.js';

interface RevisionDoc {
  _id: string;
  state: string;
  eTag: string;
  at: Date;
}

interface HeadDoc {
  _id: string;
  rev: number;
  at?: Date;
}

interface Known {
  rev: number;
  eTag: string;
  state: string;
  at: Date;
}

/** Options of {@link MongoBotStorage}. */
export interface BotStorageOptions {
  /** Items not written for this long read as absent and are swept. Default: kept forever. */
  ttlMs?: number;
}

const conflict = (key: string) => new ConflictError(`Storage: error writing "${key}" due to eTag conflict`);
const revId = (key: string, rev: number) => `${key}#${rev}`;
const TOMBSTONE = 'null';
const headId = (key: string) => `${key}#head`;
/** Write the head document every this many revisions (it only shortens other processes' walks). */
const HEAD_EVERY = 8;

const WEBCHAT_KEY = /^webchat\/conversations\/([^/]+)\//;

interface Partition {
  items: Collection<RevisionDoc | HeadDoc>;
  /** Concurrent turns' writes share one insert (and one journal flush): see insert-batcher.ts. */
  inserts: InsertBatcher<RevisionDoc | HeadDoc>;
}

export class MongoBotStorage implements Storage {
  private readonly main: Partition;
  private readonly buckets = new Map<string, Partition>();
  /** Newest revision this process has seen per key (an accelerator, never the authority). */
  private readonly known = new Map<string, Known>();

  private readonly ttlMs: number;

  constructor(
    private readonly db: Db,
    private readonly collection = 'botState',
    opts: BotStorageOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? Number.POSITIVE_INFINITY;
    this.main = this.partitionNamed(collection);
  }

  private partitionNamed(name: string): Partition {
    const items = this.db.collection<RevisionDoc | HeadDoc>(name);
    return { items, inserts: new InsertBatcher(items, () => ({ w: 1 })) };
  }

  /** Where a key lives: its web chat conversation's bucket, or the main collection. */
  private partition(key: string): Partition {
    const id = WEBCHAT_KEY.exec(key)?.[1];
    const bucket = id === undefined ? null : bucketOfId(id);
    if (bucket === null) return this.main;
    const name = bucketCollection(this.collection, bucket);
    let p = this.buckets.get(name);
    if (!p) {
      p = this.partitionNamed(name);
      this.buckets.set(name, p);
      // Buckets come and go every ten minutes; forget the oldest handles.
      if (this.buckets.size > 500) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    return p;
  }

  async read(keys: string[]): Promise<StoreItems> {
    const out: StoreItems = {};
    await Promise.all(
      keys.map(async (key) => {
        const latest = await this.latest(key);
        if (latest && latest.state !== TOMBSTONE && !this.expired(latest.at)) out[key] = { ...(JSON.parse(latest.state) as object), eTag: latest.eTag };
      }),
    );
    return out;
  }

  async write(changes: StoreItems): Promise<void> {
    await Promise.all(Object.entries(changes).map(([key, item]) => this.writeOne(key, (item ?? {}) as { eTag?: string })));
  }

  async delete(keys: string[]): Promise<void> {
    // A tombstone revision: later reads see no item, and revision numbers (hence eTags) never repeat.
    await Promise.all(keys.map((key) => this.writeOne(key, {}, TOMBSTONE)));
  }

  /**
   * Inserts the next revision. The common case costs one insert: the revision after the newest one
   * this process knows. If another writer took that number, a conditional write is a conflict and
   * an unconditional one re-reads and tries the next number.
   */
  /**
   * Gives memory back under pressure (runtime/memory-guard.ts): the known revisions are an
   * accelerator over the database (a write after this reads the newest revision back).
   */
  shed(level: 'pressure' | 'critical'): void {
    if (level === 'critical') {
      this.known.clear();
      return;
    }
    const idle = Date.now() - 60_000;
    for (const [key, k] of this.known) if (k.at.getTime() < idle) this.known.delete(key);
  }

  private async writeOne(key: string, item: { eTag?: string }, raw?: string): Promise<void> {
    const { eTag, ...rest } = item;
    const conditional = Boolean(eTag) && eTag !== '*';
    const state = raw ?? JSON.stringify(rest);
    let latest: Known | null = this.known.get(key) ?? (await this.latest(key));
    for (let attempt = 0; attempt < 100; attempt++) {
      if (conditional && latest && latest.state !== TOMBSTONE && !this.expired(latest.at) && latest.eTag !== eTag) throw conflict(key);
      const rev = (latest?.rev ?? 0) + 1;
      try {
        await this.insertRevision(key, rev, state);
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        if (conditional) throw conflict(key);
        await backoff(attempt);
        latest = await this.latest(key);
      }
    }
    throw conflict(key);
  }

  private async insertRevision(key: string, rev: number, state: string): Promise<void> {
    const eTag = `${rev}.${randomBytes(6).toString('hex')}`;
    const at = new Date();
    const { items, inserts } = this.partition(key);
    await inserts.insert({ _id: revId(key, rev), state, eTag, at });
    this.known.set(key, { rev, eTag, state, at });
    if (this.known.size > 100_000) this.known.clear();
    if (rev % HEAD_EVERY === 0) {
      // Housekeeping off the turn's path. Revisions from the head on stay contiguous; older ones go.
      void items.replaceOne({ _id: headId(key) }, { rev, at } as HeadDoc, { upsert: true }).catch(() => undefined);
      for (let r = Math.max(1, rev - 2 * HEAD_EVERY + 1); r <= rev - HEAD_EVERY; r++) {
        void items.deleteOne({ _id: revId(key, r) }).catch(() => undefined);
      }
    }
  }

  /** The newest revision of a key, or null when it was never written. `_id` lookups only. */
  private async latest(key: string): Promise<Known | null> {
    const { items } = this.partition(key);
    let best: Known | null = this.known.get(key) ?? null;
    if (!best) {
      // Not seen by this process: the first existing revision at or after the head (revisions
      // before the head may be deleted, the ones after it are contiguous).
      const head = (await items.findOne({ _id: headId(key) })) as HeadDoc | null;
      // Without a head there were fewer than HEAD_EVERY revisions and none deleted: check the first.
      const from = head ? Math.max(1, head.rev - HEAD_EVERY) : 1;
      const to = head ? from + 2 * HEAD_EVERY : 1;
      for (let r = from; r <= to && !best; r++) {
        const doc = (await items.findOne({ _id: revId(key, r) })) as RevisionDoc | null;
        if (doc) best = { rev: r, eTag: doc.eTag, state: doc.state, at: doc.at };
      }
      if (!best) return null;
    }
    // Walk forward past revisions written since (by other processes), a few lookups at a time: a
    // conversation's next turn often reaches another process than its last.
    for (let width = 1; ; width = 4) {
      const from = best.rev;
      const next = (await Promise.all(Array.from({ length: width }, (_, i) => items.findOne({ _id: revId(key, from + 1 + i) })))) as (RevisionDoc | null)[];
      const gap = next.findIndex((d) => !d);
      for (const d of gap === -1 ? next : next.slice(0, gap)) best = { rev: best.rev + 1, eTag: d!.eTag, state: d!.state, at: d!.at };
      if (gap !== -1) break;
    }
    this.known.set(key, best);
    return best;
  }

  private expired(at: Date, now = Date.now()): boolean {
    return now - at.getTime() > this.ttlMs;
  }

  /**
   * Deletes the keys whose newest revision has expired: a background scan in batches, never on a
   * turn's path (an expired item already reads as absent). Returns the number of keys removed.
   */
  async sweepExpired(now = Date.now()): Promise<number> {
    if (!Number.isFinite(this.ttlMs)) return 0;
    // Web chat buckets go whole; their conversations lasted the TTL from their start.
    let removed = await dropExpiredBuckets(this.db, [this.collection], this.ttlMs, now);
    const seen = new Set<string>();
    const items = this.main.items;
    const cursor = items.find({}, { projection: { _id: 1, at: 1 }, batchSize: 500 });
    for await (const doc of cursor) {
      const hash = doc._id.lastIndexOf('#');
      if (hash < 0 || !doc.at || !this.expired(doc.at, now)) continue;
      const key = doc._id.slice(0, hash);
      if (seen.has(key)) continue;
      seen.add(key);
      this.known.delete(key);
      const newest = await this.latest(key);
      if (newest && !this.expired(newest.at, now)) continue; // written since: alive
      const top = newest?.rev ?? 0;
      for (let r = top; r >= Math.max(1, top - 3 * HEAD_EVERY); r--) await items.deleteOne({ _id: revId(key, r) });
      await items.deleteOne({ _id: headId(key) });
      this.known.delete(key);
      removed++;
    }
    return removed;
  }
}
