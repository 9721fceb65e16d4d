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
 * Keys that only this process can write (`exclusivePrefixes`: the conversations of the in-process
 * web chat channel, which live in this process's Direct Line endpoint and nowhere else) are served
 * from the process's own record after the first read, saving a lookup per turn; the unique `_id`
 * of each revision still guards every write.
 */
import { randomBytes } from 'node:crypto';
import type { Storage, StoreItems } from 'botbuilder';
import type { Collection, Db } from 'mongodb';
import { backoff, isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';
import { InsertBatcher } from './insert-batcher.js';

interface RevisionDoc {
  _id: string;
  state: string;
  eTag: string;
  at: Date;
}

interface HeadDoc {
  _id: string;
  rev: number;
}

interface Known {
  rev: number;
  eTag: string;
  state: string;
}

const conflict = (key: string) => new ConflictError(`Storage: error writing "${key}" due to eTag conflict`);
const revId = (key: string, rev: number) => `${key}#${rev}`;
const TOMBSTONE = 'null';
const headId = (key: string) => `${key}#head`;
/** Write the head document every this many revisions (it only shortens other processes' walks). */
const HEAD_EVERY = 8;

export class MongoBotStorage implements Storage {
  private readonly items: Collection<RevisionDoc | HeadDoc>;
  /** Newest revision this process has seen per key (an accelerator, never the authority). */
  private readonly known = new Map<string, Known>();

  /** Concurrent turns' writes share one insert (and one journal flush): see insert-batcher.ts. */
  private readonly inserts: InsertBatcher<RevisionDoc | HeadDoc>;

  constructor(
    db: Db,
    collection = 'botState',
    private readonly exclusivePrefixes: readonly string[] = [],
  ) {
    this.items = db.collection<RevisionDoc | HeadDoc>(collection);
    this.inserts = new InsertBatcher(this.items, () => ({ w: 1 }));
  }

  async read(keys: string[]): Promise<StoreItems> {
    const out: StoreItems = {};
    await Promise.all(
      keys.map(async (key) => {
        const latest = await this.latest(key);
        if (latest && latest.state !== TOMBSTONE) out[key] = { ...(JSON.parse(latest.state) as object), eTag: latest.eTag };
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
  private async writeOne(key: string, item: { eTag?: string }, raw?: string): Promise<void> {
    const { eTag, ...rest } = item;
    const conditional = Boolean(eTag) && eTag !== '*';
    const state = raw ?? JSON.stringify(rest);
    let latest: Known | null = this.known.get(key) ?? (await this.latest(key));
    for (let attempt = 0; attempt < 100; attempt++) {
      if (conditional && latest && latest.state !== TOMBSTONE && latest.eTag !== eTag) throw conflict(key);
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
    await this.inserts.insert({ _id: revId(key, rev), state, eTag, at: new Date() });
    this.known.set(key, { rev, eTag, state });
    if (this.known.size > 100_000) this.known.clear();
    if (rev % HEAD_EVERY === 0) {
      // Housekeeping off the turn's path. Revisions from the head on stay contiguous; older ones go.
      void this.items.replaceOne({ _id: headId(key) }, { rev } as HeadDoc, { upsert: true }).catch(() => undefined);
      for (let r = Math.max(1, rev - 2 * HEAD_EVERY + 1); r <= rev - HEAD_EVERY; r++) {
        void this.items.deleteOne({ _id: revId(key, r) }).catch(() => undefined);
      }
    }
  }

  /** The newest revision of a key, or null when it was never written. `_id` lookups only. */
  private async latest(key: string): Promise<Known | null> {
    let best: Known | null = this.known.get(key) ?? null;
    if (best && this.exclusivePrefixes.some((p) => key.startsWith(p))) return best;
    if (!best) {
      // Not seen by this process: the first existing revision at or after the head (revisions
      // before the head may be deleted, the ones after it are contiguous).
      const head = (await this.items.findOne({ _id: headId(key) })) as HeadDoc | null;
      // Without a head there were fewer than HEAD_EVERY revisions and none deleted: check the first.
      const from = head ? Math.max(1, head.rev - HEAD_EVERY) : 1;
      const to = head ? from + 2 * HEAD_EVERY : 1;
      for (let r = from; r <= to && !best; r++) {
        const doc = (await this.items.findOne({ _id: revId(key, r) })) as RevisionDoc | null;
        if (doc) best = { rev: r, eTag: doc.eTag, state: doc.state };
      }
      if (!best) return null;
    }
    // Walk forward past revisions written since (by other processes).
    for (;;) {
      const next = (await this.items.findOne({ _id: revId(key, best.rev + 1) })) as RevisionDoc | null;
      if (!next) break;
      best = { rev: best.rev + 1, eTag: next.eTag, state: next.state };
    }
    this.known.set(key, best);
    return best;
  }
}
