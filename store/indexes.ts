/**
 * Index creation that suits FerretDB 1.24: it panics (and drops the connection) when one
 * `createIndexes` call lists several indexes that already exist, so existing indexes are listed
 * first and the missing ones created one at a time.
 */
import type { Collection, Document, IndexDescription } from 'mongodb';

export async function ensureIndexes<T extends Document>(collection: Collection<T>, specs: (IndexDescription & { name: string })[]): Promise<void> {
  // A collection not made yet has no indexes; asking for them would be an error reply, which the
  // database logs as a warning (five of them at every first start).
  const made = (await collection.db.listCollections({ name: collection.collectionName }, { nameOnly: true }).toArray()).length > 0;
  const listed = made ? await collection.listIndexes().toArray().catch(() => []) : [];
  const existing = new Set(listed.map((i) => i.name as string));
  for (const spec of specs) {
    if (!existing.has(spec.name)) await collection.createIndexes([spec]);
  }
}
