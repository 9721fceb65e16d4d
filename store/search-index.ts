/**
 * Staff search without reading the tickets: an inverted index from search terms
 * (store/search-terms.ts) to ticket numbers, kept by every ticket write through the repository's
 * change hook, like the ticket index and the statistics counters.
 *
 * Layout, for FerretDB 1.24 on SQLite, where every read scans its whole collection: one collection
 * per creation month (`searchIdx_202611`), each holding {@link SHARDS} JSON documents (store/json-docs.ts)
 * that map the terms hashing to the shard to the month's tickets having them. A query reads, in
 * each month, only the shards of its terms (one `$in` read of a collection of {@link SHARDS} rows),
 * intersects the postings and returns the numbers; nothing reads a ticket. Postings are compact:
 * a ticket is written `25-0042` inside its month (T20261125-0042). A ticket's terms only grow
 * (text and contact are fixed; follow-up messages add text), so a change writes only the shards
 * of its new terms, and most status changes write nothing here.
 */
import type { Db } from 'mongodb';
import { JsonDocs, type JsonDocsOptions } from './json-docs.js';
import type { ReadModelRebuild } from './read-model-generations.js';
import type { Ticket } from './schemas.js';
import { ticketTerms, type SearchableTicket } from './search-terms.js';

/** Documents per month: a query reads one per distinct shard of its terms; a new ticket writes most of them. */
export const SHARDS = 16;

interface Shard {
  /** term → space-separated postings (`DD-SEQ` within the month). */
  t: Record<string, string>;
}

interface Months {
  months: string[];
}

/** `yyyymm` of a ticket number (its creation month). */
function monthOf(number: string): string {
  return number.slice(1, 7);
}

function shardOf(term: string): string {
  let h = 2166136261;
  for (let i = 0; i < term.length; i++) h = Math.imul(h ^ term.charCodeAt(i), 16777619) >>> 0;
  return `s${h % SHARDS}`;
}

/** A posting: the number without `T` and its month (T20261125-0042 → 25-0042). */
function posting(number: string): string {
  return number.slice(7);
}

function numberOf(month: string, post: string): string {
  return `T${month}${post}`;
}

/** Newest first by number: day, then sequence (numerically; offline numbers after the day's sequence). */
export function compareNumbersDesc(a: string, b: string): number {
  const da = a.slice(1, 9);
  const db = b.slice(1, 9);
  if (da !== db) return da < db ? 1 : -1;
  const sa = a.slice(10);
  const sb = b.slice(10);
  const na = /^\d+$/.test(sa) ? Number(sa) : Number.MAX_SAFE_INTEGER;
  const nb = /^\d+$/.test(sb) ? Number(sb) : Number.MAX_SAFE_INTEGER;
  if (na !== nb) return nb - na;
  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

export class SearchIndex {
  private readonly byMonth = new Map<string, JsonDocs<Shard>>();
  private readonly monthList: JsonDocs<Months>;
  /** Months this process knows are listed (the list is written once per new month). */
  private readonly listed = new Set<string>();

  /** `opts.batchMs`, `opts.outageRetryMs`: see store/json-docs.ts. */
  constructor(
    private readonly db: Db,
    private readonly opts: JsonDocsOptions = {},
  ) {
    this.monthList = new JsonDocs<Months>(db, 'searchMonths', () => ({ months: [] }), opts);
  }

  /** The collection name of a month (`yyyymm`). */
  static collectionOf(month: string): string {
    return `searchIdx_${month}`;
  }

  private shards(month: string): JsonDocs<Shard> {
    let docs = this.byMonth.get(month);
    if (!docs) this.byMonth.set(month, (docs = new JsonDocs<Shard>(this.db, SearchIndex.collectionOf(month), () => ({ t: {} }), this.opts)));
    return docs;
  }

  /**
   * Creates the month collections of `days` (YYYY-MM-DD) ahead of use: FerretDB creates a table on
   * the first insert, and doing that while other writes run makes them fail with SQLITE_BUSY.
   */
  async prepare(days: readonly string[]): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const day of days) {
      const name = SearchIndex.collectionOf(day.slice(0, 4) + day.slice(5, 7));
      if (existing.has(name)) continue;
      await this.db.createCollection(name).catch((err: { codeName?: string }) => {
        if (err.codeName !== 'NamespaceExists') throw err;
      });
    }
  }

  /**
   * Follows a ticket write (`before` null for a new ticket): adds the postings of its new terms.
   * `once`: a key that makes the change count once however often it is applied (read-model-generations.ts `TicketVersion`).
   */
  async onTicketChanged(before: Ticket | null, after: Ticket, once?: string): Promise<void> {
    const old = before ? ticketTerms(before) : new Set<string>();
    const now = ticketTerms(after);
    const added = [...now].filter((t) => !old.has(t));
    const removed = [...old].filter((t) => !now.has(t));
    if (added.length === 0 && removed.length === 0) return;
    const month = monthOf(after.number);
    const post = posting(after.number);
    const source = { number: after.number, version: after.version, once };
    const byShard = new Map<string, { add: string[]; remove: string[] }>();
    for (const [list, key] of [
      [added, 'add'],
      [removed, 'remove'],
    ] as const) {
      for (const term of list) {
        const s = shardOf(term);
        const entry = byShard.get(s) ?? { add: [], remove: [] };
        byShard.set(s, entry);
        entry[key].push(term);
      }
    }
    const writes = [...byShard].map(([id, change]) =>
      this.shards(month).update(id, (shard) => {
        for (const term of change.add) {
          const list = shard.t[term];
          if (!list) shard.t[term] = post;
          else if (!list.split(' ').includes(post)) shard.t[term] = `${list} ${post}`;
        }
        for (const term of change.remove) {
          const list = (shard.t[term] ?? '').split(' ').filter((p) => p && p !== post);
          if (list.length) shard.t[term] = list.join(' ');
          else delete shard.t[term];
        }
      }, source),
    );
    if (!this.listed.has(month)) {
      writes.push(
        this.monthList.update('months', (l) => {
          if (!l.months.includes(month)) {
            l.months.push(month);
            l.months.sort();
          }
        }, source),
      );
    }
    await Promise.all(writes);
    this.listed.add(month);
  }

  /**
   * The numbers of the tickets that have every term, newest first (by number), from the months
   * (`yyyymm`) between `fromMonth` and `toMonth` when given. An empty term list matches nothing.
   */
  async find(terms: readonly string[], range: { fromMonth?: string; toMonth?: string } = {}): Promise<string[]> {
    if (terms.length === 0) return [];
    const months = ((await this.monthList.get('months'))?.months ?? []).filter((m) => (!range.fromMonth || m >= range.fromMonth) && (!range.toMonth || m <= range.toMonth));
    const shardIds = [...new Set(terms.map(shardOf))];
    const found: string[] = [];
    // A few months at a time: each is one read of a small collection.
    for (let i = 0; i < months.length; i += 4) {
      const chunk = months.slice(i, i + 4);
      const results = await Promise.all(
        chunk.map(async (month) => {
          // Past months' postings seldom change: kept parsed while unchanged (json-docs.ts getManyCached).
          const docs = await this.shards(month).getManyCached(shardIds);
          // Shortest posting list first: the intersection never grows.
          const lists: string[][] = [];
          for (const term of terms) {
            const list = docs.get(shardOf(term))?.t[term];
            if (!list) return [];
            lists.push(list.split(' '));
          }
          lists.sort((a, b) => a.length - b.length);
          let hits = lists[0];
          for (const list of lists.slice(1)) {
            const posts = new Set(list);
            hits = hits.filter((p) => posts.has(p));
            if (hits.length === 0) return [];
          }
          return hits.map((p) => numberOf(month, p));
        }),
      );
      for (const r of results) found.push(...r);
    }
    return found.sort(compareNumbersDesc);
  }

  /**
   * A recount of the whole index from the tickets given to `add` (working set and archive), written
   * as generation `gen` by `install` (store/read-models.ts).
   */
  rebuilder(): ReadModelRebuild<{ searchMonths: number; searchTerms: number }, SearchableTicket> {
    const months = new Map<string, Map<string, Shard>>();
    let terms = 0;
    const add = (t: SearchableTicket): void => {
      const month = monthOf(t.number);
      let shards = months.get(month);
      if (!shards) months.set(month, (shards = new Map(Array.from({ length: SHARDS }, (_, i) => [`s${i}`, { t: {} }]))));
      const post = posting(t.number);
      for (const term of ticketTerms(t)) {
        const shard = shards.get(shardOf(term))!;
        const list = shard.t[term];
        if (!list) terms++;
        shard.t[term] = list ? `${list} ${post}` : post;
      }
    };
    const install = async (gen: number) => {
      // A month no ticket is in any more is emptied, not dropped: a live writer may be adding to it.
      const stale = (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).filter((n) => /^searchIdx_\d{6}$/.test(n) && !months.has(n.slice(10)));
      await this.prepare([...months.keys()].map((m) => `${m.slice(0, 4)}-${m.slice(4)}-01`));
      for (const [month, shards] of months) await this.shards(month).install(shards, gen);
      for (const name of stale) await this.shards(name.slice(10)).install(new Map(), gen);
      await this.monthList.install(new Map([['months', { months: [...months.keys()].sort() }]]), gen);
      this.listed.clear();
      return { searchMonths: months.size, searchTerms: terms };
    };
    return { add, install };
  }
}
