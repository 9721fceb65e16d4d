/**
 * Time-bucketed collections: data that expires is written to a collection per 10-minute bucket
 * (`<base>_<bucket>`), named by an id that carries its bucket, and expires by dropping whole
 * collections.
 *
 * Why: FerretDB 1.24 on SQLite does not use its `_id` index for queries (its unique index is on
 * `_ferretdb_sjson->"_id"` while the pushed-down filter reads `->'$._id'`, so SQLite scans; measured:
 * a `findOne({_id})` miss costs 4 ms at 1,000 documents and 115–160 ms at 20,000, `updateOne` and
 * `deleteOne` by `_id` 160–340 ms), while inserts and dropping a collection stay cheap. A lookup
 * therefore costs what its collection holds; in a bucket that is only what was created in the same
 * ten minutes, however long the history. On MongoDB the layout is harmless (each collection is
 * indexed), and expiry stays a cheap drop.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';

/** Length of a bucket. */
export const BUCKET_MS = 10 * 60_000;
const PREFIX_LENGTH = 6;

/** The bucket a moment (ms since the epoch) falls in. */
export function bucketOf(ms: number): number {
  return Math.floor(ms / BUCKET_MS);
}

/** A new id whose first 6 characters name the bucket of `nowMs` (base 36), then 128 random bits. */
export function newBucketedId(nowMs = Date.now()): string {
  return bucketOf(nowMs).toString(36).padStart(PREFIX_LENGTH, '0') + randomBytes(16).toString('base64url');
}

/** The bucket an id was made in, or null for an id this module did not make. */
export function bucketOfId(id: string): number | null {
  if (!/^[0-9a-z]{6}[A-Za-z0-9_-]{22}$/.test(id)) return null;
  return parseInt(id.slice(0, PREFIX_LENGTH), 36);
}

/** When the bucket started, in ms. */
export function bucketStart(bucket: number): number {
  return bucket * BUCKET_MS;
}

/** The collection of `base` for one bucket. */
export function bucketCollection(base: string, bucket: number): string {
  return `${base}_${bucket}`;
}

/**
 * Drops the bucket collections of `bases` whose whole bucket (of `bucketMs`) is older than
 * `keepMs`. Reads only the list of collections (metadata), never documents.
 */
export async function dropExpiredBuckets(db: Db, bases: readonly string[], keepMs: number, nowMs = Date.now(), bucketMs = BUCKET_MS): Promise<number> {
  let dropped = 0;
  const names = await db.listCollections({}, { nameOnly: true }).toArray();
  for (const { name } of names) {
    const match = /^(.+)_(\d+)$/.exec(name);
    if (!match || !bases.includes(match[1])) continue;
    if ((Number(match[2]) + 1) * bucketMs + keepMs < nowMs) {
      await db.dropCollection(name).catch(() => false);
      dropped++;
    }
  }
  return dropped;
}
