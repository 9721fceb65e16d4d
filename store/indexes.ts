/**
 * Index creation that suits FerretDB 1.24: it panics (and drops the connection) when one
 * `createIndexes` call lists several indexes that already exist, so existing indexes are listed
 * first and the missing ones created one at a time.
 */
import type { Collection, Document, IndexDescription } from 'mongodb';

export async function ensureIndexes<T extends Document>(collection: Collection<T>, specs: (IndexDescription & { name: string })[]): Promise<void> {
  const existing = new Set((await collection.listIndexes().toArray().catch(() => [])).map((i) => i.name as string));
  for (const spec of specs) {
    if (!existing.has(spec.name)) await collection.createIndexes([spec]);
  }
}
