/**
 * The archive of old closed tickets: resolved or closed tickets untouched for longer than a
 * configurable age (ARCHIVE_AFTER_DAYS) leave the working set (`tickets`, which every ticket write
 * reads — on FerretDB 1.24 by a scan of the whole collection) for one archive collection per
 * creation month (`ticketsArchive_202611`), as large help desks do.
 *
 * Archived tickets stay where staff find them: the ticket index's day documents keep their copies
 * and summaries (opened by number, listed, counted), the search index keeps their terms, the
 * statistics counters and customer documents keep counting them. Changing one (reopening it)
 * brings it back into the working set first (store/ticket-repository.ts `restore`).
 *
 * Nothing is lost: a move is copy, then a delete from the working set conditional on the version
 * copied. Interrupted between the two, the ticket is in both places and the working set's copy is
 * the one read (readers look there first, and rebuilds skip an archive copy whose ticket is in the
 * working set); the next run finishes the move. A ticket changed during its move stays in the working
 * set and its archive copy is removed.
 *
 * A restore notes itself first (`ticketRestores`, one small document per ticket), so a rebuild's
 * scan, which reads the working set and then the archive, finds a ticket restored between its two
 * passes (read by neither) among the restores noted meanwhile ({@link everyStoredTicket}).
 */
import type { Db, WriteConcernSettings } from 'mongodb';
import { isDuplicateKey } from './claims.js';
import type { Ticket } from './schemas.js';

/** Default age (days since resolved or closed) after which tickets are archived (ARCHIVE_AFTER_DAYS). */
export const DEFAULT_ARCHIVE_AFTER_DAYS = 180;

/** Restores noted for rebuilds (`{_id: number, at}`), pruned after {@link RESTORE_NOTE_MS}. */
export const RESTORES = 'ticketRestores';
/** How long a restore's note is kept: far longer than a rebuild's scan takes. */
export const RESTORE_NOTE_MS = 24 * 60 * 60_000;

/** Prefix of the archive collections (`ticketsArchive_yyyymm`). */
export const ARCHIVE_PREFIX = 'ticketsArchive_';

const ARCHIVABLE = ['resolved', 'closed'] as const;
/** Tickets moved per batch. */
const BATCH = 500;

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const list = out.get(key(t));
    if (list) list.push(t);
    else out.set(key(t), [t]);
  }
  return out;
}

/** The archive collection of a ticket number (its creation month: T20261125-0042 → ticketsArchive_202611). */
export function archiveCollectionOf(number: string): string {
  return `${ARCHIVE_PREFIX}${number.slice(1, 7)}`;
}

/** The archive collections that exist, oldest month first. */
export async function archiveCollections(db: Db): Promise<string[]> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  return names.filter((n) => /^ticketsArchive_\d{6}$/.test(n)).sort();
}

type StoredTicket = Ticket & { _id: string };

export interface ArchiveOptions {
  /** Tickets resolved or closed, and unchanged, for longer than this are archived. */
  olderThanDays: number;
  /** False (the default): count what would move, change nothing. */
  apply?: boolean;
  now?: Date;
  writeConcern?: WriteConcernSettings;
  /** Progress after each batch: tickets moved so far. */
  progress?: (moved: number) => void;
  /**
   * Test seam: runs after a ticket's archive copy is stored and before it leaves the working set.
   * Throwing here is a crash between the two writes.
   */
  afterCopy?: (number: string) => void | Promise<void>;
}

export interface ArchiveSummary {
  apply: boolean;
  olderThanDays: number;
  /** Resolved or closed before this moment (ISO). */
  cutoff: string;
  /** Tickets old enough to archive. */
  candidates: number;
  /** Tickets moved to the archive by this run. */
  archived: number;
  /** Tickets that changed during their move and stayed in the working set. */
  changed: number;
  /** Archive copies left by an interrupted run whose move this run finished. */
  resumed: number;
  /** Candidates per archive collection. */
  byCollection: Record<string, number>;
  /** Tickets left in the working set. */
  workingSet: number;
}

/** When a resolved or closed ticket was last worked on. */
function settledAt(t: Ticket): Date {
  return t.closedAt ?? t.resolvedAt ?? t.updatedAt;
}

/**
 * Moves (or, without `apply`, counts) the resolved and closed tickets settled before the cutoff.
 * Reads the working set once (maintenance, never a request). Safe to run while the service runs.
 */
export async function archiveTickets(db: Db, opts: ArchiveOptions): Promise<ArchiveSummary> {
  if (!Number.isFinite(opts.olderThanDays) || opts.olderThanDays < 0) throw new RangeError(`olderThanDays must be a non-negative number, got ${opts.olderThanDays}`);
  const now = opts.now ?? new Date();
  const cutoff = new Date(now.getTime() - opts.olderThanDays * 86_400_000);
  const wc = opts.writeConcern ?? { w: 'majority', journal: true };
  const tickets = db.collection<StoredTicket>('tickets');
  const candidates: StoredTicket[] = [];
  for await (const doc of tickets.find({ status: { $in: [...ARCHIVABLE] } }, { batchSize: 1000 })) {
    if (settledAt(doc) < cutoff) candidates.push(doc);
  }
  const byCollection: Record<string, number> = {};
  for (const t of candidates) byCollection[archiveCollectionOf(t._id)] = (byCollection[archiveCollectionOf(t._id)] ?? 0) + 1;
  const summary: ArchiveSummary = { apply: opts.apply === true, olderThanDays: opts.olderThanDays, cutoff: cutoff.toISOString(), candidates: candidates.length, archived: 0, changed: 0, resumed: 0, byCollection, workingSet: 0 };
  if (opts.apply) {
    // Tables are created before the moves: FerretDB creating one during other writes fails them (SQLITE_BUSY).
    const existing = new Set(await archiveCollections(db));
    for (const name of Object.keys(byCollection)) {
      if (!existing.has(name)) await db.createCollection(name).catch((err: { codeName?: string }) => (err.codeName === 'NamespaceExists' ? undefined : Promise.reject(err)));
    }
    // In batches: on FerretDB 1.24 every delete by `_id` scans the working set, so a few conditional
    // `deleteMany` per batch cost what one `deleteOne` would.
    for (let i = 0; i < candidates.length; i += BATCH) {
      const batch = candidates.slice(i, i + BATCH);
      for (const [name, docs] of groupBy(batch, (t) => archiveCollectionOf(t._id))) {
        const archive = db.collection<StoredTicket>(name);
        try {
          await archive.insertMany(docs, { ordered: false, writeConcern: wc });
        } catch (err) {
          // Copies left by an interrupted run: replaced by the current version, then the move finishes.
          const dup = (err as { writeErrors?: { index: number; code?: number }[] }).writeErrors;
          if (!isDuplicateKey(err) && !(dup && dup.length > 0 && dup.every((e) => e.code === 11000))) throw err;
          const stored = new Set((await archive.find({ _id: { $in: docs.map((d) => d._id) } }, { projection: { _id: 1, version: 1 } }).toArray()).map((d) => `${d._id}@${d.version}`));
          for (const t of docs) {
            if (stored.has(`${t._id}@${t.version}`)) continue;
            await archive.replaceOne({ _id: t._id }, t, { writeConcern: wc, upsert: true });
          }
          summary.resumed += dup?.length ?? 1;
        }
      }
      for (const t of batch) await opts.afterCopy?.(t._id);
      // Conditional on the version copied, as `{_id: {$in}, version}` per version present (a few per
      // batch): a 100-clause `$or` made FerretDB evaluate every clause on every stored ticket.
      for (const [version, same] of groupBy(batch, (t) => String(t.version))) {
        await tickets.deleteMany({ _id: { $in: same.map((t) => t._id) }, version: Number(version) }, { writeConcern: wc });
      }
      // What is still in the working set changed during its move: it stays, its copy goes.
      const stayed = await tickets.find({ _id: { $in: batch.map((t) => t._id) } }, { projection: { _id: 1 } }).toArray();
      const kept = new Set(stayed.map((d) => d._id));
      for (const t of batch) {
        if (!kept.has(t._id)) continue;
        await db.collection<StoredTicket>(archiveCollectionOf(t._id)).deleteOne({ _id: t._id, version: t.version }, { writeConcern: wc });
        summary.changed++;
      }
      summary.archived += batch.length - kept.size;
      opts.progress?.(summary.archived);
    }
  }
  summary.workingSet = await tickets.countDocuments({});
  return summary;
}

/**
 * Notes that an archived ticket is about to come back into the working set: written before the
 * restore's first write, so a rebuild that misses the ticket in both places finds the note (see
 * {@link everyStoredTicket}). Idempotent.
 */
export async function noteRestore(db: Db, number: string, writeConcern?: WriteConcernSettings): Promise<void> {
  await db.collection<{ _id: string; at: Date }>(RESTORES).updateOne({ _id: number }, { $set: { at: new Date() } }, { upsert: true, writeConcern });
}

/**
 * Creates the restore notes' collection at start: FerretDB creating a table on a first insert fails
 * concurrent writes with SQLITE_BUSY (see search-index.ts `prepare`), and the first restore would be one.
 */
export async function prepareRestoreNotes(db: Db): Promise<void> {
  if ((await db.listCollections({ name: RESTORES }, { nameOnly: true }).toArray()).length > 0) return;
  await db.createCollection(RESTORES).catch((err: { codeName?: string }) => (err.codeName === 'NamespaceExists' ? undefined : Promise.reject(err)));
}

/** Deletes restore notes older than {@link RESTORE_NOTE_MS} (housekeeping). */
export async function pruneRestoreNotes(db: Db, now = new Date()): Promise<number> {
  return (await db.collection<{ _id: string; at: Date }>(RESTORES).deleteMany({ at: { $lt: new Date(now.getTime() - RESTORE_NOTE_MS) } })).deletedCount;
}

/** Test seams of {@link everyStoredTicket}. */
export interface ScanHooks {
  /** Runs after the working set was read and before the archive is (a restore here is read by neither pass). */
  afterWorkingSet?: () => Promise<void>;
}

/**
 * Every stored ticket once: the working set, then each archive collection, skipping archive
 * copies of tickets still in the working set (an interrupted move), then the tickets restored
 * while the two passes ran. A full read: maintenance only.
 *
 * Why the third step: a ticket restored after the working-set pass went by it and before the
 * archive pass reached it is in neither place when read. Its restore noted it before its first
 * write (noteRestore), and its archive copy was gone before the archive pass ended, so the note is
 * there when the notes are read after that pass; the ticket is then read where it is now.
 */
export async function* everyStoredTicket(db: Db, progress: (tickets: number) => void = () => {}, hooks: ScanHooks = {}): AsyncIterable<StoredTicket> {
  let n = 0;
  const seen = new Set<string>();
  const working = db.collection<StoredTicket>('tickets');
  for await (const doc of working.find({}, { batchSize: 1000 })) {
    seen.add(doc._id);
    if (++n % 10_000 === 0) progress(n);
    yield doc;
  }
  await hooks.afterWorkingSet?.();
  for (const name of await archiveCollections(db)) {
    for await (const doc of db.collection<StoredTicket>(name).find({}, { batchSize: 1000 })) {
      if (seen.has(doc._id)) continue;
      seen.add(doc._id);
      if (++n % 10_000 === 0) progress(n);
      yield doc;
    }
  }
  // Few: the restores of the last day (pruned after that).
  const restored = await db.collection<{ _id: string }>(RESTORES).find({}, { projection: { _id: 1 } }).toArray();
  for (const { _id: number } of restored) {
    if (seen.has(number)) continue;
    const doc = (await working.findOne({ _id: number })) ?? (await db.collection<StoredTicket>(archiveCollectionOf(number)).findOne({ _id: number }));
    if (!doc) continue;
    seen.add(number);
    yield doc;
  }
}
