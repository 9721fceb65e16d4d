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
 */
import type { Collection, Db } from 'mongodb';
import { backoff, Claims, isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';

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
}

/** A collection of JSON read-model documents of type `T`. */
export class JsonDocs<T> {
  private readonly docs: Collection<JsonDoc>;
  private readonly claims: Claims;
  private readonly queues = new Map<string, Pending<T>[]>();
  private readonly running = new Set<string>();
  /** The drain in progress per document (reads wait for it). */
  private readonly draining = new Map<string, Promise<void>>();
  /** Documents whose batch is waiting `batchMs` before its write starts. */
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private readonly batchMs: number;

  constructor(
    db: Db,
    private readonly collectionName: string,
    private readonly empty: (id: string) => T,
    opts: JsonDocsOptions = {},
  ) {
    this.docs = db.collection<JsonDoc>(collectionName);
    this.claims = new Claims(db);
    this.batchMs = opts.batchMs ?? 0;
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
   * The stored version of each document (absent ones left out): cheap to read and to compare, so a
   * caller can keep what it derived from the documents until one of them changes.
   */
  async versions(ids: readonly string[]): Promise<Map<string, number>> {
    await this.idle(ids);
    const out = new Map<string, number>();
    for (const doc of await this.docs.find({ _id: { $in: [...ids] } }, { projection: { version: 1 } }).toArray()) out.set(doc._id, doc.version);
    return out;
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

  /** Resolves when this process has no mutation of these documents queued or being stored. */
  private async idle(ids: readonly string[]): Promise<void> {
    // A read does not wait out a batch's delay: the batch is written now.
    for (const id of ids) if (this.waiting.has(id)) this.start(id);
    for (;;) {
      const busy = ids.map((id) => this.draining.get(id)).filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) return;
      await Promise.all(busy);
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
    // Versions restart at 1: claims on the old versions must not block the new ones.
    await this.claims.forget(`${this.collectionName}:`);
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
  }

  private async drain(id: string): Promise<void> {
    this.running.add(id);
    try {
      for (;;) {
        const batch = this.queues.get(id);
        if (!batch || batch.length === 0) break;
        this.queues.delete(id);
        try {
          await this.apply(id, batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
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
      if (await this.store(id, doc?.version ?? 0, data)) return;
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
