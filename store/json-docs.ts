/**
 * Small read-model documents (pre-aggregated counters, per-customer summaries) kept as one JSON
 * string per document, addressed by `_id` only, and changed by compare-and-set.
 *
 * Why this shape, measured on the embedded FerretDB 1.24 (SQLite backend):
 * - a read by `_id` is the only read that does not scan the collection;
 * - a document whose payload is one JSON string reads in ~18 ms at 300 KB, where the same data as
 *   nested objects and arrays takes several times longer (each value is converted), so the payload
 *   is opaque to the database — nothing ever queries inside it;
 * - concurrent `$inc`/`$push` on one document lose updates, so a change is a read-modify-write
 *   made safe by a claim on the next version (see claims.ts), the same on MongoDB.
 *
 * Changes to one document are batched: mutations queued while a write is in flight are applied
 * together by the next one, so a busy counter costs one compare-and-set per round trip, not one
 * per ticket. With `batchMs` a document's first queued change also waits that long for company
 * before it is written: a compare-and-set is three round trips (read, claim, write), and a new
 * ticket changes a dozen read-model documents, so under a steady stream of tickets each document is
 * written once per `batchMs` instead of once per ticket. Each `update()` resolves when its mutation
 * is stored.
 *
 * Reads in this process wait for this process's queued mutations of the documents they read (a
 * read starts a waiting batch at once), so a writer need not await its read-model updates
 * (ticket-repository.ts runs them off the request's path) and a later read here still sees them;
 * other processes see them up to `batchMs` later.
 *
 * Reads that come back often over documents that rarely change (a year of statistics months, the
 * search postings of past months) use {@link JsonDocs.getManyCached}: parsed documents are kept in
 * this process and reused while unchanged, which a probe of small claim documents by `_id` tells
 * without reading the documents (see `changedOf`).
 */
import type { Collection, Db } from 'mongodb';
import { backoff, Claims, isDuplicateKey } from './claims.js';
import { ConflictError, isUnavailable } from './errors.js';

interface JsonDoc {
  _id: string;
  version: number;
  data: string;
}

interface Pending<T> {
  mutate: (data: T) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Options of {@link JsonDocs}. */
export interface JsonDocsOptions {
  /**
   * How long a document's first queued change waits for others before it is written (ms; 0, the
   * default, writes at once). Reads in this process never wait for it.
   */
  batchMs?: number;
  /**
   * How long a change whose write failed for want of the database is kept and tried again (ms; 0,
   * the default, fails its `update()` at once). For documents that follow writes already stored
   * and that nobody awaits (the read models: see {@link OUTAGE_RETRY_MS}); a caller that awaits
   * its change, and falls back when the database is away, keeps the default.
   */
  outageRetryMs?: number;
}

/**
 * How long a version read stays probe-able: claims are pruned after an hour (store/index.ts), and a
 * change's claim must still exist when the probe runs, so a version older than this is read again.
 */
export const PROBE_MAX_AGE_MS = 30 * 60_000;

/**
 * Characters of JSON kept parsed by {@link JsonDocs.getManyCached}, over every collection (about
 * 2-3 bytes of heap per character once parsed): a year of statistics at 100,000 tickets is about
 * 2 M, one search term's postings over 13 months about 3 M.
 */
export const READ_CACHE_CHARS = 24_000_000;

interface Cached {
  version: number;
  data: unknown;
  gen: string | null;
  at: number;
  chars: number;
}

/**
 * Parsed documents by `instance\0id`, least recently used first: one budget for every JsonDocs,
 * each instance its own keys (two stores in one process may be on different databases).
 */
const readCache = new Map<string, Cached>();
let readCacheChars = 0;
let instances = 0;

function cacheDelete(key: string): void {
  const old = readCache.get(key);
  if (!old) return;
  readCacheChars -= old.chars;
  readCache.delete(key);
}

function cacheSet(key: string, entry: Cached): void {
  cacheDelete(key);
  if (entry.chars > READ_CACHE_CHARS / 4) return;
  readCache.set(key, entry);
  readCacheChars += entry.chars;
  for (const [k, e] of readCache) {
    if (readCacheChars <= READ_CACHE_CHARS) break;
    readCache.delete(k);
    readCacheChars -= e.chars;
  }
}

/**
 * How long the read models keep a change that failed for want of the database (`outageRetryMs`):
 * long enough for the supervised embedded server to come back (seconds) and for a claim the failed
 * write left behind to turn stale (30 s, see claims.ts).
 */
export const OUTAGE_RETRY_MS = 90_000;

/** A collection of JSON read-model documents of type `T`. */
export class JsonDocs<T> {
  private readonly docs: Collection<JsonDoc>;
  private readonly claims: Claims;
  private readonly queues = new Map<string, Pending<T>[]>();
  private readonly running = new Set<string>();
  /** The drain in progress per document (reads wait for it). */
  private readonly draining = new Map<string, Promise<void>>();
  /** Documents whose write failed for want of the database, paused before it is tried again. */
  /** Per document, the call that ends its pause early (a new one each time it pauses again). */
  private readonly paused = new Map<string, () => void>();
  /** Reads waiting in {@link idle}, woken when a write pauses for the database. */
  private readonly onPause = new Set<() => void>();
  /** Documents whose batch is waiting `batchMs` before its write starts. */
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private readonly batchMs: number;
  private readonly outageRetryMs: number;
  /** This instance's prefix in the read cache. */
  private readonly instance = String(++instances);

  constructor(
    db: Db,
    private readonly collectionName: string,
    private readonly empty: (id: string) => T,
    opts: JsonDocsOptions = {},
  ) {
    this.docs = db.collection<JsonDoc>(collectionName);
    this.claims = new Claims(db);
    this.batchMs = opts.batchMs ?? 0;
    this.outageRetryMs = opts.outageRetryMs ?? 0;
  }

  /** The document, or null when it was never written. */
  async get(id: string): Promise<T | null> {
    await this.idle([id]);
    const doc = await this.docs.findOne({ _id: id });
    return doc ? (JSON.parse(doc.data) as T) : null;
  }

  /**
   * Several documents by `_id` in one query. On FerretDB 1.24 a read by `_id` costs a pass over
   * every row of the collection (SQLite scans it), so one `$in` pass (filtered in FerretDB) costs
   * far less than one read per document; on MongoDB it is an index lookup either way.
   */
  async getMany(ids: readonly string[]): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    if (ids.length === 1) {
      const d = await this.get(ids[0]);
      if (d) out.set(ids[0], d);
      return out;
    }
    if (ids.length === 0) return out;
    await this.idle(ids);
    for (const doc of await this.docs.find({ _id: { $in: [...ids] } }).toArray()) out.set(doc._id, JSON.parse(doc.data) as T);
    return out;
  }

  /**
   * Like {@link getMany}, reusing the documents this process read before while they are unchanged:
   * one probe of small claim documents (see {@link changedOf}), then only the changed or new
   * documents are read. The returned objects are shared between callers, and the same object comes
   * back while its document is unchanged (callers may key what they derive on it): never change them.
   */
  async getManyCached(ids: readonly string[]): Promise<Map<string, T>> {
    const now = Date.now();
    // What the cache holds now (another request may evict it meanwhile): version and data per id.
    const held = new Map<string, Cached>();
    let gen: string | null | undefined;
    for (const id of ids) {
      const c = readCache.get(this.cacheKey(id));
      if (!c || now - c.at > PROBE_MAX_AGE_MS || (gen !== undefined && c.gen !== gen)) continue;
      gen = c.gen;
      held.set(id, c);
      // Most recently used last (the cache forgets the oldest first).
      readCache.delete(this.cacheKey(id));
      readCache.set(this.cacheKey(id), c);
    }
    const stale = held.size ? await this.changedOf(new Map([...held].map(([id, c]) => [id, c.version])), gen ?? null) : new Set<string>();
    const data = new Map<string, T>();
    for (const [id, c] of held) if (!stale.has(id)) data.set(id, c.data as T);
    const wanted = ids.filter((id) => !data.has(id));
    if (wanted.length) {
      // The mark first: a rebuild between the two reads makes the next probe read again.
      const currentGen = (await this.claims.existing([this.genId])).get(this.genId) ?? null;
      await this.idle(wanted);
      const found = new Set<string>();
      for (const doc of await this.docs.find({ _id: { $in: [...wanted] } }).toArray()) {
        const parsed = JSON.parse(doc.data) as T;
        found.add(doc._id);
        data.set(doc._id, parsed);
        cacheSet(this.cacheKey(doc._id), { version: doc.version, data: parsed, gen: currentGen, at: Date.now(), chars: doc.data.length });
      }
      for (const id of wanted) if (!found.has(id)) cacheDelete(this.cacheKey(id));
    }
    return new Map(ids.filter((id) => data.has(id)).map((id) => [id, data.get(id)!]));
  }

  /**
   * The ids among `versions` (0: absent) whose document changed since, without reading the
   * documents: every change of a stored document first takes the claim on its next version
   * (`collection:id:vN`, see {@link store}), so "changed" is "that claim exists", a read of tiny
   * documents by `_id`. Reading the versions themselves would read the documents, and FerretDB
   * decodes a whole document whatever the projection (the 16 directory shards: megabytes at
   * 100,000 tickets). A claim whose writer died reads as a change (harmless). {@link replaceAll} and
   * {@link delete} leave a generation mark instead: when it differs from `gen`, every id changed.
   * Claims are pruned after an hour (store/index.ts), hence {@link PROBE_MAX_AGE_MS}.
   */
  private async changedOf(versions: ReadonlyMap<string, number>, gen: string | null): Promise<Set<string>> {
    const ids = [...versions.keys()];
    await this.idle(ids);
    const claimOf = new Map(ids.filter((id) => versions.get(id)! > 0).map((id) => [`${this.collectionName}:${id}:v${versions.get(id)! + 1}`, id]));
    const absent = ids.filter((id) => versions.get(id) === 0);
    const [found, created] = await Promise.all([
      this.claims.existing([this.genId, ...claimOf.keys()]),
      absent.length ? this.docs.find({ _id: { $in: absent } }, { projection: { _id: 1 } }).toArray() : [],
    ]);
    if ((found.get(this.genId) ?? null) !== gen) return new Set(ids);
    const out = new Set(created.map((d) => d._id));
    for (const [claim, id] of claimOf) if (found.has(claim)) out.add(id);
    return out;
  }

  private cacheKey(id: string): string {
    return `${this.instance}\u0000${id}`;
  }

  private get genId(): string {
    return `gen:${this.collectionName}`;
  }

  /**
   * Applies `mutate` to the stored document (or to `empty(id)` when there is none) and stores the
   * result. `mutate` may run more than once (on a fresh copy each time) when another writer got in
   * first, so it must only change its argument.
   */
  update(id: string, mutate: (data: T) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let q = this.queues.get(id);
      if (!q) this.queues.set(id, (q = []));
      q.push({ mutate, resolve, reject });
      if (this.running.has(id) || this.waiting.has(id)) return;
      if (this.batchMs > 0) this.waiting.set(id, setTimeout(() => this.start(id), this.batchMs));
      else this.start(id);
    });
  }

  /** Starts writing the document's queued changes (now, if its batch was waiting). */
  private start(id: string): void {
    const timer = this.waiting.get(id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
    if (!this.running.has(id)) this.draining.set(id, this.drain(id));
  }

  /**
   * Resolves when this process has no mutation of these documents queued or being stored. A write
   * waiting to be tried again after the database went away is tried now; if that fails too (the
   * database is still away), the read goes on without it and answers, or fails, at once.
   */
  private async idle(ids: readonly string[]): Promise<void> {
    // A read does not wait out a batch's delay: the batch is written now.
    for (const id of ids) if (this.waiting.has(id)) this.start(id);
    // Writes retried for this read, and the pause each was in (a new pause means it failed again).
    const kicked = new Map<string, () => void>();
    for (const id of ids) {
      const pause = this.paused.get(id);
      if (!pause) continue;
      kicked.set(id, pause);
      pause();
    }
    for (;;) {
      for (const [id, pause] of kicked) {
        const current = this.paused.get(id);
        if (current && current !== pause) kicked.delete(id);
      }
      const busy = ids.filter((id) => (kicked.has(id) || !this.paused.has(id)) && this.draining.has(id)).map((id) => this.draining.get(id)!);
      if (busy.length === 0) return;
      // Until they are stored, or until one of them pauses for the database.
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.onPause.delete(wake);
          resolve();
        };
        this.onPause.add(wake);
        void Promise.all(busy).then(wake, wake);
      });
    }
  }

  /** Replaces a document outright (rebuilds). Concurrent updates are not merged into it. */
  async replace(id: string, data: T): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const current = await this.docs.findOne({ _id: id }, { projection: { version: 1 } });
      if (await this.store(id, current?.version ?? 0, data)) return;
      await backoff(attempt);
    }
    throw new ConflictError(`${this.collectionName} ${id} is changing too fast to replace`);
  }

  /**
   * Replaces the whole collection with `docs` (rebuilds: bulk inserts, far faster than one
   * compare-and-set per document). Concurrent updates are lost: run while the service is quiet.
   */
  async replaceAll(docs: ReadonlyMap<string, T>): Promise<void> {
    await this.docs.deleteMany({});
    // Versions restart at 1: claims on the old versions must not block the new ones, and readers
    // that keep documents by version learn from the mark that they were replaced.
    await this.claims.forget(`${this.collectionName}:`);
    await this.claims.mark(this.genId);
    let batch: JsonDoc[] = [];
    let bytes = 0;
    for (const [id, data] of docs) {
      const json = JSON.stringify(data);
      batch.push({ _id: id, version: 1, data: json });
      bytes += json.length;
      // Small batches: one huge insert can outlast the driver's socket time-out on the embedded server.
      if (batch.length === 500 || bytes > 1_000_000) {
        await this.docs.insertMany(batch, { ordered: false });
        batch = [];
        bytes = 0;
      }
    }
    if (batch.length) await this.docs.insertMany(batch, { ordered: false });
  }

  /** Every document id (a scan: for rebuilds and maintenance only). */
  async ids(): Promise<string[]> {
    return (await this.docs.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  }

  async delete(id: string): Promise<void> {
    await this.docs.deleteOne({ _id: id });
    await this.claims.mark(this.genId);
  }

  /**
   * Writes the document's queued changes until none is left. A batch that fails because the
   * database went away (or, after it, on a claim the failed write left behind, which turns stale
   * after 30 s) is kept and tried again, for up to `outageRetryMs` (read models): the ticket write it
   * follows is already stored, and a change dropped here stays missing until `stats:rebuild`.
   * A read in this process tries it again at once, and goes on without it if that fails too (see {@link idle}).
   */
  private async drain(id: string): Promise<void> {
    this.running.add(id);
    let failingSince: number | null = null;
    try {
      for (let attempt = 0; ; attempt++) {
        const batch = this.queues.get(id);
        if (!batch || batch.length === 0) break;
        this.queues.delete(id);
        try {
          await this.apply(id, batch);
          failingSince = null;
          for (const p of batch) p.resolve();
        } catch (err) {
          failingSince ??= Date.now();
          if ((isUnavailable(err) || err instanceof ConflictError) && Date.now() - failingSince < this.outageRetryMs) {
            // Ahead of changes queued since: they were made after these.
            this.queues.set(id, [...batch, ...(this.queues.get(id) ?? [])]);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
              this.paused.set(id, () => {
                clearTimeout(timer);
                resolve();
              });
              for (const wake of [...this.onPause]) wake();
            });
            continue;
          }
          for (const p of batch) p.reject(err);
        } finally {
          this.paused.delete(id);
        }
      }
    } finally {
      this.running.delete(id);
      this.queues.delete(id);
      this.draining.delete(id);
    }
  }

  private async apply(id: string, batch: Pending<T>[]): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const doc = await this.docs.findOne({ _id: id });
      const data = doc ? (JSON.parse(doc.data) as T) : this.empty(id);
      for (const p of batch) p.mutate(data);
      if (await this.store(id, doc?.version ?? 0, data)) {
        // A document this process keeps parsed is kept at the version it just wrote (no re-read).
        const cached = readCache.get(this.cacheKey(id));
        if (cached) cacheSet(this.cacheKey(id), { ...cached, version: (doc?.version ?? 0) + 1, data, at: Date.now() });
        return;
      }
      await backoff(attempt);
    }
    throw new ConflictError(`${this.collectionName} ${id} is changing too fast; try again`);
  }

  /** Moves the document from `version` to `version + 1`; false when another writer got there first. */
  private async store(id: string, version: number, data: T): Promise<boolean> {
    const json = JSON.stringify(data);
    if (version === 0) {
      try {
        await this.docs.insertOne({ _id: id, version: 1, data: json });
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    }
    if (!(await this.claims.claim(`${this.collectionName}:${id}:v${version + 1}`))) return false;
    const r = await this.docs.updateOne({ _id: id, version }, { $set: { version: version + 1, data: json } });
    return r.matchedCount === 1;
  }
}
