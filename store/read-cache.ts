/**
 * The read cache of read-model documents (json-docs.ts): reads that come back often over documents
 * that rarely change (a year of statistics months, the search postings of past months, the customer
 * directory) keep the parsed documents in this process and reuse them while unchanged. This is a
 * speed concern, not concurrency machinery: it only reads what the compare-and-set wrote.
 *
 * Whether a document changed is asked without reading it: every change of a stored document first
 * takes the claim on its next version (`collection:id:vN`, json-docs.ts `store`), so "changed since
 * version N" is "claim N+1 exists", one read of tiny claim documents by `_id`. Reading the versions
 * themselves would read the documents, and FerretDB decodes a whole document whatever the
 * projection (the 16 directory shards: megabytes at 100,000 tickets). A rebuild leaves a generation
 * mark instead (its bulk writes take no claims): when the mark differs, every id changed.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';

/**
 * How long a version read stays probe-able: claims are pruned after an hour (store/index.ts), and a
 * change's claim must still exist when the probe runs, so a version older than this is read again.
 */
export const PROBE_MAX_AGE_MS = 30 * 60_000;

/**
 * Characters of JSON kept parsed, over every collection (about 2-3 bytes of heap per character once
 * parsed): a year of statistics at 100,000 tickets is about 2 M, one search term's postings over 13
 * months about 3 M.
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
 * Parsed documents by `instance\0id`, least recently used first: one budget for every cache, each
 * instance its own keys (two stores in one process may be on different databases).
 */
const entries = new Map<string, Cached>();
let chars = 0;
let instances = 0;

function forget(key: string): void {
  const old = entries.get(key);
  if (!old) return;
  chars -= old.chars;
  entries.delete(key);
}

function keep(key: string, entry: Cached): void {
  forget(key);
  if (entry.chars > READ_CACHE_CHARS / 4) return;
  entries.set(key, entry);
  chars += entry.chars;
  for (const [k, e] of entries) {
    if (chars <= READ_CACHE_CHARS) break;
    entries.delete(k);
    chars -= e.chars;
  }
}

/** The stored shape of a read-model document (json-docs.ts); `data: null` is a rebuild's tombstone. */
export interface StoredJsonDoc {
  _id: string;
  version: number;
  data: string | null;
  gen?: number;
  /**
   * Per writer (a JsonDocs instance), the last of its changes this document holds, most recent
   * writer first (json-docs.ts `apply`); absent in documents written before it and after a rebuild.
   */
  writers?: WriterMark[];
  /**
   * The keys of the last changes applied once by key (`TicketVersion.once`), most recent first;
   * absent in documents no such change reached, cleared by a rebuild (json-docs.ts `apply`).
   */
  once?: string[];
}

/** A writer's mark in a read-model document: its id and the sequence number of its last change written. */
export interface WriterMark {
  w: string;
  n: number;
}

/** A claim (claims.ts) or a generation mark, which has no `at` and so is never pruned. */
interface ClaimOrMark {
  _id: string;
  gen?: string;
}

/** The cached reads of one collection of read-model documents. */
export class ReadCache<T> {
  private readonly instance = String(++instances);
  private readonly claims: Collection<ClaimOrMark>;

  constructor(
    db: Db,
    private readonly docs: Collection<StoredJsonDoc>,
    private readonly collectionName: string,
    /** Waits for this process's queued writes of these documents. */
    private readonly idle: (ids: readonly string[]) => Promise<void>,
  ) {
    this.claims = db.collection<ClaimOrMark>('claims');
  }

  /**
   * Like a read by `_id`, reusing the documents this process read before while they are unchanged:
   * one probe of small claim documents (see {@link changedOf}), then only the changed or new
   * documents are read. The returned objects are shared between callers, and the same object comes
   * back while its document is unchanged (callers may key what they derive on it): never change them.
   */
  async getMany(ids: readonly string[]): Promise<Map<string, T>> {
    const now = Date.now();
    // What the cache holds now (another request may evict it meanwhile): version and data per id.
    const held = new Map<string, Cached>();
    let gen: string | null | undefined;
    for (const id of ids) {
      const c = entries.get(this.key(id));
      if (!c || now - c.at > PROBE_MAX_AGE_MS || (gen !== undefined && c.gen !== gen)) continue;
      gen = c.gen;
      held.set(id, c);
      // Most recently used last (the cache forgets the oldest first).
      entries.delete(this.key(id));
      entries.set(this.key(id), c);
    }
    const stale = held.size ? await this.changedOf(new Map([...held].map(([id, c]) => [id, c.version])), gen ?? null) : new Set<string>();
    const data = new Map<string, T>();
    for (const [id, c] of held) if (!stale.has(id)) data.set(id, c.data as T);
    const wanted = ids.filter((id) => !data.has(id));
    if (wanted.length) {
      // The mark first: a rebuild between the two reads makes the next probe read again.
      const currentGen = (await this.existing([this.genId])).get(this.genId) ?? null;
      await this.idle(wanted);
      const found = new Set<string>();
      for (const doc of await this.docs.find({ _id: { $in: [...wanted] } }).toArray()) {
        if (doc.data === null) continue;
        const parsed = JSON.parse(doc.data) as T;
        found.add(doc._id);
        data.set(doc._id, parsed);
        keep(this.key(doc._id), { version: doc.version, data: parsed, gen: currentGen, at: Date.now(), chars: doc.data.length });
      }
      for (const id of wanted) if (!found.has(id)) forget(this.key(id));
    }
    return new Map(ids.filter((id) => data.has(id)).map((id) => [id, data.get(id)!]));
  }

  /** This process stored `data` as `version`: a document kept parsed is kept at it (no re-read). */
  wrote(id: string, version: number, data: T): void {
    const cached = entries.get(this.key(id));
    if (cached) keep(this.key(id), { ...cached, version, data, at: Date.now() });
  }

  /** Marks the whole collection changed (a rebuild wrote it without claims): a new random mark. */
  async replaced(): Promise<void> {
    await this.claims.updateOne({ _id: this.genId }, { $set: { gen: randomUUID() } }, { upsert: true });
  }

  /** Which of these claims exist, with the marks' values: one read by `_id` of tiny documents. */
  private async existing(ids: readonly string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (const d of await this.claims.find({ _id: { $in: [...ids] } }).toArray()) out.set(d._id, d.gen ?? null);
    return out;
  }

  /**
   * The ids among `versions` (0: absent) whose document changed since: the claims on their next
   * versions exist (a claim whose writer died reads as a change, harmlessly), or the generation mark
   * is not `gen`, or an absent one now exists.
   */
  private async changedOf(versions: ReadonlyMap<string, number>, gen: string | null): Promise<Set<string>> {
    const ids = [...versions.keys()];
    await this.idle(ids);
    const claimOf = new Map(ids.filter((id) => versions.get(id)! > 0).map((id) => [`${this.collectionName}:${id}:v${versions.get(id)! + 1}`, id]));
    const absent = ids.filter((id) => versions.get(id) === 0);
    const [found, created] = await Promise.all([
      this.existing([this.genId, ...claimOf.keys()]),
      absent.length ? this.docs.find({ _id: { $in: absent }, data: { $ne: null } }, { projection: { _id: 1 } }).toArray() : [],
    ]);
    if ((found.get(this.genId) ?? null) !== gen) return new Set(ids);
    const out = new Set(created.map((d) => d._id));
    for (const [claim, id] of claimOf) if (found.has(claim)) out.add(id);
    return out;
  }

  private key(id: string): string {
    return `${this.instance}\u0000${id}`;
  }

  private get genId(): string {
    return `gen:${this.collectionName}`;
  }
}
