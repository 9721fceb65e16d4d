/**
 * Claims: the concurrency primitive of the store. FerretDB 1.24 does not make a single-document
 * read-modify-write atomic (two `findOneAndUpdate({version: 1})` calls can both succeed, and
 * concurrent `$push`/`$inc` can lose updates: see the integration tests), but it does enforce unique
 * `_id`s. So a writer first inserts a claim document whose `_id` names the state it moves to (for
 * example `ticket:T20261125-0042:v7`); exactly one concurrent writer can insert it, the others get a
 * duplicate-key error and retry or report a conflict. This works the same on MongoDB.
 *
 * MongoDB applies a single-document update atomically, so there a conditional update is enough and
 * no claim is taken (see `updatesAreAtomic`).
 *
 * A writer that dies between claiming and writing leaves a claim behind; claims older than
 * `staleMs` whose target state was never reached are taken over. A writer that claimed from a stale
 * read finds its conditional update matching nothing and retries from a fresh read.
 */
import type { Collection, Db } from 'mongodb';

/**
 * Whether the server applies a single-document update atomically: MongoDB does; FerretDB (which
 * names itself in `buildInfo.ferretdbVersion`) does not, so writes there go through claims.
 */
export async function updatesAreAtomic(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  return !('ferretdbVersion' in info);
}

interface ClaimDoc {
  _id: string;
  at: Date;
  /** Who took it, when the taker may ask again for the same state (see {@link Claims.claim}). */
  owner?: string;
}

export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}

/**
 * Old claims deleted per statement by {@link Claims.prune}: well under SQLite's 32,766 variables, and
 * within the 1,000 `_id`s of an `$in` that the embedded FerretDB looks up by its index (patch
 * `id-prefilter-in`, scripts/install-ferretdb.mjs).
 */
const PRUNE_BATCH = 1000;

export class Claims {
  private readonly claims: Collection<ClaimDoc>;

  constructor(db: Db, private readonly staleMs = 30_000) {
    this.claims = db.collection<ClaimDoc>('claims');
  }

  /**
   * Tries to take a claim; false when someone else holds it. With `owner`, a claim that owner
   * already holds is granted again: a writer whose write may or may not have been applied (its
   * reply lost) reads the document, and when its change is not there writes it again under the
   * claim it took, instead of waiting for that claim to turn stale. An owner names one change
   * (a ticket change's id), never a writer that could make two different changes to the same state:
   * the read models' writer claims under an owner of each attempt, only to release a claim whose
   * reply it lost ({@link release}).
   */
  async claim(id: string, owner?: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.claims.insertOne({ _id: id, at: new Date(), ...(owner ? { owner } : {}) });
        return true;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await this.claims.findOne({ _id: id });
        if (!existing) continue; // released meanwhile: try again
        if (owner && existing.owner === owner) return true;
        if (Date.now() - existing.at.getTime() < this.staleMs) return false;
        // Stale: its writer died before finishing. Remove exactly that claim and retry once.
        await this.claims.deleteOne({ _id: id, at: existing.at });
      }
    }
    return false;
  }

  /**
   * Releases a claim taken for a state that will never be written (the ticket was archived
   * meanwhile), or, with `owner`, only if that owner holds it (a claim whose reply was lost, which
   * may or may not have been taken: another writer's is left alone).
   */
  async release(id: string, owner?: string): Promise<void> {
    await this.claims.deleteOne({ _id: id, ...(owner ? { owner } : {}) });
  }

  /**
   * Deletes claims older than `ageMs`. Claims are never released right after the write they
   * guarded: a writer holding a stale read could otherwise take the same claim again. Old ones are
   * pruned instead, long after any read of that state can still be in flight.
   */
  async prune(ageMs = 60 * 60_000): Promise<number> {
    const before = new Date(Date.now() - ageMs);
    let deleted = 0;
    // A batch at a time: FerretDB's SQLite backend deletes what one deleteMany matched in a
    // statement with a variable per document, and SQLite refuses more than 32,766, so one
    // deleteMany over every old claim failed each hour once that many had piled up.
    for (;;) {
      const ids = (await this.claims.find({ at: { $lt: before } }, { projection: { _id: 1 }, limit: PRUNE_BATCH }).toArray()).map((d) => d._id);
      if (ids.length === 0) return deleted;
      const r = await this.claims.deleteMany({ _id: { $in: ids }, at: { $lt: before } });
      deleted += r.deletedCount;
      if (ids.length < PRUNE_BATCH || r.deletedCount === 0) return deleted;
    }
  }
}

/** A short random pause between retries, so racing writers spread out. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.min(50, 2 + attempt * 2) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
}
