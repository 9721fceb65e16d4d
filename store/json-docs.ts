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
 * Three concerns live beside this file: changes are queued, batched and retried through an outage
 * by write-behind.ts; repeated reads are served by read-cache.ts; and documents rebuilt by
 * `stats:rebuild` carry a generation (read-model-generations.ts) that every change honours, so a
 * rebuild running beside live writers loses no change and counts none twice.
 *
 * A write can be applied by the server and its reply lost (the connection dropped after the server
 * answered): the driver reports a network error and write-behind.ts tries the batch again. So each
 * document records, per writer (this instance, a random id), the sequence number of the last change
 * it wrote (`writers`), and a batch is first checked against it: changes the document already holds
 * are settled as stored, not applied a second time. A write that failed in a way that may have
 * stored it (a lost reply, a write-concern error) is looked for by that mark at once, so that a
 * document without the outage retry (notifications, canned replies, channel counts) tells its
 * caller the change is stored rather than failing it.
 *
 * A writer's marks die with its process. A change that another process may apply again after a
 * crash (a renumbered outbox record, replayed once more because the crash came before the outbox
 * file was rewritten) carries a key of its own instead (`TicketVersion.once`): the document keeps
 * the last {@link ONCE_KEYS_KEPT} such keys (`once`), and a change whose key it holds is settled
 * as stored. A rebuild clears them with the marks (its recount decides, as for any change).
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { backoff, Claims, isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';
import { ReadCache, type StoredJsonDoc, type WriterMark } from './read-cache.js';
import { DEFAULT_RETRY, mayHaveApplied, retryTransient, type RetryPolicy } from './transient-errors.js';
import type { ReadModelGenerations, TicketVersion } from './read-model-generations.js';
import { RetryLater, WriteBehind, type QueuedChange, type WriteBehindOptions } from './write-behind.js';

interface Pending<T> extends QueuedChange {
  mutate: (data: T) => void;
  /** This writer's sequence number of the change: a document whose mark for the writer is at least this holds it. */
  seq: number;
  /** The ticket change this is a delta of (skipped where a rebuild already counted it). */
  source?: TicketVersion;
  /** The generation the change was last written into: skipped where the document is still of it. */
  notGen?: number;
}

/** Options of {@link JsonDocs}. */
export interface JsonDocsOptions extends WriteBehindOptions {
  /**
   * The generations of the rebuilt read models (read-model-generations.ts). Without it (documents
   * no rebuild writes) every document is of generation 0 and changes are applied as they come.
   */
  generations?: ReadModelGenerations;
  /** How a statement's transient error is retried (transient-errors.ts; default DEFAULT_RETRY, silent). */
  retry?: RetryPolicy;
}

/**
 * Writers marked in a document (the most recent first). A writer's mark must outlive its retries
 * (`outageRetryMs`, 90 s); marks of writers long gone (processes restarted) are dropped beyond this
 * many, so a document does not grow with every restart.
 */
export const WRITER_MARKS_KEPT = 32;

/**
 * Keys of changes applied once by key (`TicketVersion.once`) kept per document, most recent first.
 * Such a change is rare (a renumbered outbox replay) and its key is needed only until the replay
 * that may apply it again has ended (store/ticket-repository.ts deletes its renumber note then).
 */
export const ONCE_KEYS_KEPT = 64;

/** A collection of JSON read-model documents of type `T`. */
export class JsonDocs<T> {
  private readonly docs: Collection<StoredJsonDoc>;
  private readonly claims: Claims;
  private readonly queue: WriteBehind<Pending<T>>;
  private readonly cache: ReadCache<T>;
  private readonly generations: ReadModelGenerations | undefined;
  private readonly retry: RetryPolicy;
  /** This writer's id in the documents' marks: one per instance, whose queue orders its changes of a document. */
  private readonly writer = randomUUID();
  private lastSeq = 0;

  constructor(
    db: Db,
    private readonly collectionName: string,
    private readonly empty: (id: string) => T,
    opts: JsonDocsOptions = {},
  ) {
    this.docs = db.collection<StoredJsonDoc>(collectionName);
    this.claims = new Claims(db);
    this.generations = opts.generations;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.queue = new WriteBehind((id, batch) => this.apply(id, batch), opts);
    this.cache = new ReadCache<T>(db, this.docs, collectionName, (ids) => this.queue.idle(ids));
  }

  /** The document, or null when it was never written. */
  async get(id: string): Promise<T | null> {
    return (await this.getMany([id])).get(id) ?? null;
  }

  /**
   * Several documents by `_id` in one query. On FerretDB 1.24 a read by `_id` costs a pass over
   * every row of the collection (SQLite scans it), so one `$in` pass (filtered in FerretDB) costs
   * far less than one read per document; on MongoDB it is an index lookup either way.
   */
  async getMany(ids: readonly string[]): Promise<Map<string, T>> {
    const out = new Map<string, T>();
    if (ids.length === 0) return out;
    await this.queue.idle(ids);
    const filter = ids.length === 1 ? { _id: ids[0] } : { _id: { $in: [...ids] } };
    for (const doc of await this.docs.find(filter).toArray()) if (doc.data !== null) out.set(doc._id, JSON.parse(doc.data) as T);
    return out;
  }

  /** {@link getMany} through this process's read cache (read-cache.ts): never change what it returns. */
  getManyCached(ids: readonly string[]): Promise<Map<string, T>> {
    return this.cache.getMany(ids);
  }

  /**
   * Applies `mutate` to the stored document (or to `empty(id)` when there is none) and stores the
   * result; resolves when stored. `mutate` may run more than once (on a fresh copy each time) when
   * another writer got in first, so it must only change its argument. `source` names the ticket
   * change it is a delta of: a document rebuilt from a scan that already counted that change skips it.
   */
  update(id: string, mutate: (data: T) => void, source?: TicketVersion): Promise<void> {
    const seq = ++this.lastSeq;
    return new Promise<void>((resolve, reject) => this.queue.enqueue(id, { mutate, seq, source, resolve, reject }));
  }

  /**
   * Writes the whole collection as generation `gen` of a rebuild (read-model-generations.ts):
   * `docs`, and a tombstone for every stored document not among them (it reads as absent, and keeps
   * the generation a late change must be filtered by). Bulk writes conditional on the version read;
   * a document a live writer changed meanwhile is written again by compare-and-set.
   */
  async install(docs: ReadonlyMap<string, T>, gen: number): Promise<void> {
    const stored = new Map((await this.docs.find({}, { projection: { _id: 1, version: 1 } }).toArray()).map((d) => [d._id, d.version]));
    const all = new Map<string, string | null>([...docs].map(([id, d]) => [id, JSON.stringify(d)]));
    for (const id of stored.keys()) if (!all.has(id)) all.set(id, null);
    const ids = [...all.keys()];
    const retry: string[] = [];
    for (let i = 0; i < ids.length; ) {
      // Small batches: one huge write can outlast the driver's socket time-out on the embedded server.
      const batch: string[] = [];
      for (let bytes = 0; i < ids.length && batch.length < 500 && bytes < 1_000_000; i++) {
        batch.push(ids[i]);
        bytes += all.get(ids[i])?.length ?? 0;
      }
      const fresh = batch.filter((id) => !stored.has(id)).map((id) => ({ _id: id, version: 1, gen, data: all.get(id)! }));
      const old = batch.filter((id) => stored.has(id));
      if (fresh.length) {
        await this.docs.insertMany(fresh, { ordered: false }).catch((err: unknown) => {
          if (!isDuplicateKey(err) && !(err as { writeErrors?: unknown[] }).writeErrors) throw err;
        });
      }
      // No claims: where a live writer's compare-and-set races this one (FerretDB's conditional update
      // is not atomic) and lands last, the check below writes again; where this lands last, that
      // writer sees the rebuild's generation after its write and applies its change again (rule 3).
      if (old.length) {
        await this.docs.bulkWrite(
          old.map((id) => ({ updateOne: { filter: { _id: id, version: stored.get(id)! }, update: { $set: { version: stored.get(id)! + 1, gen, data: all.get(id)!, writers: [], once: [] } } } })),
          { ordered: false },
        );
      }
      // Whatever a live writer got to first is written again below, by compare-and-set.
      for (const d of await this.docs.find({ _id: { $in: batch } }, { projection: { _id: 1, gen: 1 } }).toArray()) if (d.gen === gen) all.delete(d._id);
      retry.push(...batch.filter((id) => all.has(id)));
    }
    for (const id of retry) {
      // Longer than a dead writer's claim takes to turn stale (claims.ts).
      for (let attempt = 0, started = Date.now(); ; attempt++) {
        const current = await this.docs.findOne({ _id: id }, { projection: { version: 1 } });
        if (await this.store(id, current?.version ?? 0, all.get(id)!, gen, [], [])) break;
        if (Date.now() - started > 60_000) throw new ConflictError(`${this.collectionName} ${id} is changing too fast to rebuild`);
        await backoff(attempt);
      }
    }
    await this.cache.replaced();
  }

  /**
   * Applies a batch by compare-and-set, skipping the changes the document's generation already
   * holds; resolves when the batch is settled. A change written into generation g while a rebuild of
   * another generation runs may be wiped when that rebuild replaces the document
   * (read-model-generations.ts, rule 3): it is tried again ({@link RetryLater}) until no rebuild
   * runs, then applied again only where the document is no longer of generation g.
   */
  private async apply(id: string, batch: Pending<T>[]): Promise<void> {
    // Only changes already written, waiting for a rebuild: ask the lease before reading the document.
    if (batch.every((p) => p.notGen !== undefined) && (await this.generations!.state()).running) throw new RetryLater();
    for (let attempt = 0, ended = false; attempt < 200; attempt++) {
      const doc = await this.docs.findOne({ _id: id });
      // A new document is of the last generation that finished (read-model-generations.ts).
      const gen = doc ? (doc.gen ?? 0) : ((await this.generations?.state())?.finished ?? 0);
      // Changes this document already holds: an earlier attempt was applied though its reply was
      // lost. They count as written into `gen` (a rebuild that replaced the document since cleared
      // the marks, so then they are applied again as rule 3 says, filtered by what it counted).
      const marked = doc?.writers?.find((m) => m.w === this.writer)?.n ?? 0;
      // Likewise a change applied once by key that any writer, a crashed process included, stored.
      const heldOnce = new Set(doc?.once ?? []);
      for (const p of batch) if (p.seq <= marked || (p.source?.once !== undefined && heldOnce.has(p.source.once))) p.notGen = gen;
      const sources = batch.flatMap((p) => (p.source ? [p.source.number] : []));
      const counted = this.generations && sources.length ? await this.generations.counted(gen, sources) : new Map<string, number>();
      const data = doc?.data ? (JSON.parse(doc.data) as T) : this.empty(id);
      // Skipped changes are settled: the document's generation holds them, and so will any later
      // rebuild's (its scan comes after theirs).
      const applied = onceEach(batch.filter((p) => p.notGen !== gen && !(p.source && (counted.get(p.source.number) ?? 0) >= p.source.version)));
      if (applied.length) {
        for (const p of applied) p.mutate(data);
        // Every change of the batch is settled by this write (applied, or held already), the last one included.
        const mark = { w: this.writer, n: Math.max(...batch.map((p) => p.seq)) };
        const writers = [mark, ...(doc?.writers ?? []).filter((m) => m.w !== this.writer)].slice(0, WRITER_MARKS_KEPT);
        const keys = applied.flatMap((p) => (p.source?.once !== undefined ? [p.source.once] : []));
        const once = keys.length ? [...keys, ...(doc?.once ?? [])].slice(0, ONCE_KEYS_KEPT) : undefined;
        if (!(await this.storeOrFind(id, doc?.version ?? 0, JSON.stringify(data), gen, writers, once))) {
          await backoff(attempt);
          continue;
        }
        this.cache.wrote(id, (doc?.version ?? 0) + 1, data);
        for (const p of batch) if (applied.includes(p) || (p.source?.once !== undefined && keys.includes(p.source.once))) p.notGen = gen;
      } else if (ended) return;
      if (!this.generations || !batch.some((p) => p.notGen === gen)) return;
      // Written into `gen`: settled unless a rebuild of another generation began (and may replace it).
      const state = await this.generations.state();
      if (state.latest === gen) return;
      if (state.running) throw new RetryLater();
      ended = true;
    }
    throw new ConflictError(`${this.collectionName} ${id} is changing too fast; try again`);
  }

  /**
   * {@link store} for a batch whose last change is `writers[0]`: a write that failed in a way that
   * may have stored it (its reply lost, a write-concern error: transient-errors.ts `mayHaveApplied`)
   * is looked for in the document at once, by this writer's mark, and counts as stored when there.
   * So a caller whose document has no outage retry (notifications, canned replies, channel counts)
   * hears that its change is stored instead of an error, and a batch kept for the outage retry is
   * settled now. Not there, the error is thrown as it came (the write-behind decides).
   */
  private async storeOrFind(id: string, version: number, json: string, gen: number, writers: WriterMark[], once?: string[]): Promise<boolean> {
    try {
      return await this.store(id, version, json, gen, writers, once);
    } catch (err) {
      if (!mayHaveApplied(err)) throw err;
      const doc = await this.docs.findOne({ _id: id }, { projection: { writers: 1 } }).catch(() => null);
      const marked = doc?.writers?.find((m) => m.w === this.writer)?.n ?? 0;
      if (marked < writers[0].n) throw err;
      return true;
    }
  }

  /**
   * Moves the document from `version` to `version + 1` (0: creates it) with `json` (null: a
   * tombstone) as generation `gen`, the writers' marks `writers` (a rebuild: none) and, when given,
   * the keys of changes applied once `once` (a rebuild: none; absent: the stored keys stay); false
   * when another writer got there first.
   */
  private async store(id: string, version: number, json: string | null, gen: number, writers: WriterMark[], once?: string[]): Promise<boolean> {
    // Each write is repeated as is after a transient error that did not apply it (transient-errors.ts):
    // the claim this writer holds stays usable, instead of blocking the document until it turns stale.
    const notApplied = { idempotent: false, policy: this.retry };
    if (version === 0) {
      try {
        await retryTransient(() => this.docs.insertOne({ _id: id, version: 1, gen, data: json, writers, ...(once ? { once } : {}) }), notApplied);
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    }
    const claim = `${this.collectionName}:${id}:v${version + 1}`;
    // This attempt's own: the claim is never granted again to a later attempt (it may write other
    // changes while this one's write is still on its way), but this attempt may release it.
    const owner = randomUUID();
    try {
      if (!(await retryTransient(() => this.claims.claim(claim, owner), notApplied))) return false;
    } catch (err) {
      // The claim's reply lost: the write it guards was never sent, so the claim (if it was taken) is
      // released; else every change of the document would wait for it to turn stale (30 s), and a
      // caller without the outage retry would hear "changing too fast" until then.
      if (mayHaveApplied(err)) await this.claims.release(claim, owner).catch(() => undefined);
      throw err;
    }
    const r = await retryTransient(() => this.docs.updateOne({ _id: id, version }, { $set: { version: version + 1, gen, data: json, writers, ...(once ? { once } : {}) } }), notApplied);
    return r.matchedCount === 1;
  }
}

/**
 * The changes of a batch to apply, each change applied once by key (`TicketVersion.once`) only the
 * first time its key comes: a resumed replay's change can meet the crashed attempt's twin in one
 * batch (both queued by this process when a replay resumes before the first attempt's write ended).
 */
function onceEach<P extends { source?: TicketVersion }>(changes: P[]): P[] {
  const seen = new Set<string>();
  return changes.filter((p) => {
    const key = p.source?.once;
    if (key === undefined) return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
