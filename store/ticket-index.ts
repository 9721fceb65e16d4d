/**
 * The ticket list without scanning tickets on the embedded default: one small document per
 * creation day (`_id` = the day) holding a summary of each of that day's tickets (number, time,
 * status, topic, type, channel, user, review flag, spam, assignee, priority rank, confidence), and
 * one document listing the days that have tickets. Kept by every ticket write through the
 * repository's change hook, like the statistics counters.
 *
 * A page newest first reads the days from the newest back, a few documents at a time, filtering
 * the summaries in memory, and stops when the page is full; then the repository reads the page's
 * tickets from `tickets` by `_id` (the embedded FerretDB as the install builds it answers `_id`
 * equality and `$in` from the `_id` index), so the default inbox reads one or two day documents
 * and the page's tickets whatever the history. Sparse filters walk further back (every day in the range,
 * at worst); totals come from the statistics counters where one field is filtered, else from the
 * walk. On MongoDB the indexes serve the same queries (store/ticket-repository.ts).
 */
import type { Db } from 'mongodb';
import { JsonDocs, type JsonDocsOptions } from './json-docs.js';
import type { ReadModelRebuild } from './read-model-generations.js';
import type { Priority, Ticket, TicketQuery, TicketStatus } from './schemas.js';
import { DEFAULT_DUE_HOURS, isOverdue, isWaiting, type DueHours } from './working-day.js';

/** One ticket in its day's document (short keys: the documents are read on every inbox page). */
export interface TicketSummary {
  n: string;
  /** createdAt, ms since the epoch. */
  c: number;
  s: TicketStatus;
  t: string | null;
  y: string | null;
  ch: string;
  u: string;
  r: boolean;
  sp: boolean;
  a: string | null;
  f: number;
  v: number;
  /** Priority (absent in summaries written before due times: normal). */
  p?: Priority;
  /** Waiting for the customer (store/working-day.ts). */
  w?: boolean;
}

interface DayTickets {
  items: TicketSummary[];
}

interface Days {
  days: string[];
}

/** The creation day a ticket number carries (T20261125-0042 → 2026-11-25). */
export function dayOfNumber(number: string): string {
  return `${number.slice(1, 5)}-${number.slice(5, 7)}-${number.slice(7, 9)}`;
}

/** Day documents read at once while walking back. */
const WALK_CHUNK = 16;

/** Shards of the hot set (open tickets and tickets waiting for review). */
const HOT_SHARDS = 8;
/** How long a ticket that left the hot set is remembered, so a late, older change cannot bring it back. */
const TOMBSTONE_MS = 10 * 60_000;
const OPEN: readonly string[] = ['new', 'in_progress', 'reopened'];

/** Open or waiting for review: the tickets the inbox's status filters and the review queue list. */
export function isHot(s: TicketSummary): boolean {
  return OPEN.includes(s.s) || s.r;
}

interface HotShard {
  /** By number; `x` marks one that left the set (ms since the epoch). */
  items: Record<string, TicketSummary & { x?: number }>;
}

function hotShardOf(number: string): string {
  let h = 0;
  for (const ch of number) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hot-${h % HOT_SHARDS}`;
}

export function summarize(t: Ticket): TicketSummary {
  return { n: t.number, c: t.createdAt.getTime(), s: t.status, t: t.topic, y: t.type, ch: t.customer.channelId, u: t.customer.userId, r: t.needsReview, sp: t.spam, a: t.assignee, f: t.confidence, v: t.version, p: t.priority, w: isWaiting(t) };
}

function sameSummary(a: TicketSummary, b: TicketSummary): boolean {
  // Spam is compared too: a staff spam decision changes it after filing (desk/tickets.ts decideSpam).
  // Priority and waiting feed the working-day views (due times, "waiting for the customer").
  return a.s === b.s && a.t === b.t && a.y === b.y && a.r === b.r && a.a === b.a && a.sp === b.sp && a.p === b.p && a.w === b.w;
}

/** The query fields the index answers (everything but text search and sorts other than time). */
export type IndexedQuery = Pick<TicketQuery, 'status' | 'topic' | 'type' | 'channelId' | 'needsReview' | 'spam' | 'assignee' | 'customerUserId' | 'from' | 'to' | 'open' | 'unassigned' | 'waiting' | 'overdue'> & {
  sort: '-createdAt' | 'createdAt';
  page: number;
  pageSize: number;
  /**
   * Keyset position: the page starts after this ticket (creation time in ms and number) in the
   * sort order, and `page` is ignored. Stable under inserts: new tickets never shift a page.
   */
  after?: { c: number; n: string };
};

/** Whether summary `s` comes after the keyset position `after` in the sort order. */
function isAfter(s: TicketSummary, after: { c: number; n: string }, desc: boolean): boolean {
  const cmp = s.c - after.c || (s.n < after.n ? -1 : s.n > after.n ? 1 : 0);
  return desc ? cmp < 0 : cmp > 0;
}

/** Due times and the clock, for the overdue filter. */
export interface DueClock {
  hours: DueHours;
  nowMs: number;
}

const overdue = (s: TicketSummary, due: DueClock) => isOverdue({ status: s.s, createdAtMs: s.c, priority: s.p ?? 'normal', waiting: s.w === true }, due.hours, due.nowMs);

export function matches(s: TicketSummary, q: IndexedQuery, due: DueClock = { hours: DEFAULT_DUE_HOURS, nowMs: Date.now() }): boolean {
  return (
    (q.open === undefined || OPEN.includes(s.s) === q.open) &&
    (q.unassigned === undefined || (s.a === null) === q.unassigned) &&
    (q.waiting === undefined || (s.w === true) === q.waiting) &&
    (q.overdue === undefined || overdue(s, due) === q.overdue) &&
    (q.status === undefined || s.s === q.status) &&
    (q.topic === undefined || s.t === q.topic) &&
    (q.type === undefined || s.y === q.type) &&
    (q.channelId === undefined || s.ch === q.channelId) &&
    (q.needsReview === undefined || s.r === q.needsReview) &&
    (q.spam === undefined || s.sp === q.spam) &&
    (q.assignee === undefined || s.a === q.assignee) &&
    (q.customerUserId === undefined || s.u === q.customerUserId)
  );
}

export class TicketIndex {
  readonly days: JsonDocs<DayTickets>;
  private readonly dayList: JsonDocs<Days>;
  /**
   * Summaries of the open tickets and of those waiting for review, in {@link HOT_SHARDS} documents:
   * a few percent of the history, so the inbox by open status and the review queue read these
   * instead of walking every day back to the oldest open ticket.
   */
  readonly hot: JsonDocs<HotShard>;
  /** Days this process knows are listed: the list is written once per new day, not per ticket. */
  private readonly listed = new Set<string>();

  private readonly dueHours: DueHours;
  private readonly nowMs: () => number;

  constructor(
    private readonly db: Db,
    opts: { dueHours?: DueHours; now?: () => Date } & JsonDocsOptions = {},
  ) {
    this.dueHours = opts.dueHours ?? DEFAULT_DUE_HOURS;
    const now = opts.now;
    this.nowMs = now ? () => now().getTime() : () => Date.now();
    const batch = { batchMs: opts.batchMs, outageRetryMs: opts.outageRetryMs, generations: opts.generations, retry: opts.retry };
    this.days = new JsonDocs<DayTickets>(db, 'ticketDays', () => ({ items: [] }), batch);
    this.dayList = new JsonDocs<Days>(db, 'ticketDayList', () => ({ days: [] }), batch);
    this.hot = new JsonDocs<HotShard>(db, 'ticketHot', () => ({ items: {} }), batch);
  }

  /**
   * Follows a ticket write (`before` null for a new ticket). `once`: a key that makes the change
   * count once however often it is applied (read-model-generations.ts `TicketVersion`).
   */
  async onTicketChanged(before: Ticket | null, after: Ticket, once?: string): Promise<void> {
    const s = summarize(after);
    const day = after.createdDay;
    // A change the summaries do not show (a reply, a note, a message) writes nothing here.
    if (before && sameSummary(summarize(before), s)) return;
    const source = { number: after.number, version: after.version, once };
    const writes: Promise<void>[] = [];
    if (isHot(s) || (before && isHot(summarize(before)))) {
      writes.push(
        this.hot.update(hotShardOf(s.n), (h) => {
          const stored = h.items[s.n];
          if (!stored || stored.v < s.v) h.items[s.n] = isHot(s) ? s : { ...s, x: Date.now() };
          const now = Date.now();
          for (const [n, item] of Object.entries(h.items)) if (item.x !== undefined && now - item.x > TOMBSTONE_MS) delete h.items[n];
        }, source),
      );
    }
    writes.push(
      this.days.update(day, (d) => {
        const i = d.items.findIndex((x) => x.n === s.n);
        if (i < 0) d.items.push(s);
        // Changes of one ticket may arrive out of order: the higher version wins.
        else if (d.items[i].v < s.v) d.items[i] = s;
      }, source),
    );
    if (!this.listed.has(day)) {
      writes.push(
        this.dayList.update('days', (l) => {
          if (!l.days.includes(day)) {
            l.days.push(day);
            l.days.sort();
          }
        }, source),
      );
    }
    await Promise.all(writes);
    this.listed.add(day);
  }

  /**
   * The numbers on a page of the query, the total when the walk saw every day of the range (and
   * started at the first one), and whether more tickets follow the page (`more`, for a next cursor).
   */
  async page(q: IndexedQuery): Promise<{ numbers: string[]; total: number | null; more: boolean; last: { c: number; n: string } | null }> {
    // Open tickets, waiting or overdue ones (open by definition) and the review queue are all in the hot set.
    if ((q.status !== undefined && OPEN.includes(q.status)) || q.needsReview === true || q.open === true || q.waiting === true || q.overdue === true) return this.hotPage(q);
    const desc = q.sort === '-createdAt';
    const listed = (await this.dayList.get('days'))?.days ?? [];
    const afterDay = q.after ? dayOfNumber(q.after.n) : undefined;
    const days = listed.filter((d) => (!q.from || d >= q.from) && (!q.to || d <= q.to) && (!afterDay || (desc ? d <= afterDay : d >= afterDay)));
    if (desc) days.reverse();
    const first = q.after ? 0 : (q.page - 1) * q.pageSize;
    // One more than the page: whether a next page exists.
    const want = first + q.pageSize + 1;
    const found: TicketSummary[] = [];
    const due = { hours: this.dueHours, nowMs: this.nowMs() };
    let i = 0;
    // The first page of a dense list is in the newest day or two: start small, then read more at once.
    for (let size = 2; i < days.length && found.length < want; i += size, size = Math.min(size * 2, WALK_CHUNK)) {
      const chunk = days.slice(i, i + size);
      const docs = await this.days.getMany(chunk);
      for (const day of chunk) {
        const items = (docs.get(day)?.items ?? []).filter((s) => matches(s, q, due) && (!q.after || isAfter(s, q.after, desc)));
        items.sort((a, b) => a.c - b.c || (a.n < b.n ? -1 : 1));
        if (desc) items.reverse();
        found.push(...items);
      }
    }
    const complete = i >= days.length && !q.after;
    const slice = found.slice(first, first + q.pageSize);
    const last = slice.at(-1);
    return { numbers: slice.map((s) => s.n), total: complete ? found.length : null, more: found.length > first + q.pageSize, last: last ? { c: last.c, n: last.n } : null };
  }

  /** The summaries of tickets by number, from their days' documents (one read for all). */
  async summaries(numbers: readonly string[]): Promise<Map<string, TicketSummary>> {
    const wanted = new Set(numbers);
    const docs = await this.days.getMany([...new Set(numbers.map(dayOfNumber))]);
    const out = new Map<string, TicketSummary>();
    for (const d of docs.values()) for (const s of d.items) if (wanted.has(s.n)) out.set(s.n, s);
    return out;
  }

  /** The due times and the clock the overdue filter uses now (for filters applied outside the index, e.g. search). */
  dueClock(): DueClock {
    return { hours: this.dueHours, nowMs: this.nowMs() };
  }

  /** A page of a query that only hot tickets can match: every one of them is read, so the total is exact. */
  private async hotPage(q: IndexedQuery): Promise<{ numbers: string[]; total: number; more: boolean; last: { c: number; n: string } | null }> {
    const found: TicketSummary[] = [];
    const due = { hours: this.dueHours, nowMs: this.nowMs() };
    for (const item of await this.hotItems()) {
      if (!matches(item, q, due)) continue;
      const day = dayOfNumber(item.n);
      if ((q.from && day < q.from) || (q.to && day > q.to)) continue;
      found.push(item);
    }
    found.sort((a, b) => a.c - b.c || (a.n < b.n ? -1 : 1));
    const desc = q.sort === '-createdAt';
    if (desc) found.reverse();
    const after = q.after;
    const rest = after ? found.filter((s) => isAfter(s, after, desc)) : found;
    const first = after ? 0 : (q.page - 1) * q.pageSize;
    const slice = rest.slice(first, first + q.pageSize);
    const last = slice.at(-1);
    return { numbers: slice.map((x) => x.n), total: found.length, more: rest.length > first + q.pageSize, last: last ? { c: last.c, n: last.n } : null };
  }

  /**
   * Every summary in the hot set (open tickets and those waiting for review); left ones are skipped.
   * Through the read cache: the shards are read by every inbox filter, view, review page and the
   * navigation counts (446 KiB for 8 shards at 100,000 tickets, 16–98 ms of database time per
   * request at load 20), while a ticket change rewrites one shard of {@link HOT_SHARDS}.
   */
  private async hotItems(): Promise<TicketSummary[]> {
    const shards = await this.hot.getManyCached(Array.from({ length: HOT_SHARDS }, (_, i) => `hot-${i}`));
    return [...shards.values()].flatMap((h) => Object.values(h.items).filter((item) => item.x === undefined));
  }

  /**
   * The console's navigation counts from one read of the hot set (a few percent of the history,
   * never the tickets): the review queue (what `needsReview=true` lists), and the open tickets assigned to `username`,
   * unassigned, waiting for the customer and overdue.
   */
  async workCounts(username: string): Promise<{ review: number; mine: number; unassigned: number; waiting: number; overdue: number }> {
    const due = { hours: this.dueHours, nowMs: this.nowMs() };
    const out = { review: 0, mine: 0, unassigned: 0, waiting: 0, overdue: 0 };
    for (const s of await this.hotItems()) {
      if (s.r) out.review += 1;
      if (!OPEN.includes(s.s) || s.sp) continue;
      if (s.a === username) out.mine += 1;
      if (s.a === null) out.unassigned += 1;
      if (s.w === true) out.waiting += 1;
      if (overdue(s, due)) out.overdue += 1;
    }
    return out;
  }

  /**
   * A recount of the index from the tickets given to `add` (working set and archive), written as
   * generation `gen` by `install` (store/read-models.ts).
   */
  rebuilder(): ReadModelRebuild<{ days: number }> {
    const days = new Map<string, DayTickets>();
    const hot = new Map<string, HotShard>(Array.from({ length: HOT_SHARDS }, (_, i) => [`hot-${i}`, { items: {} }]));
    const add = (doc: Ticket & { _id?: unknown; daySeq?: unknown; priorityRank?: unknown }): void => {
      const { _id, daySeq, priorityRank, ...t } = doc;
      const d = days.get(t.createdDay) ?? { items: [] };
      days.set(t.createdDay, d);
      const s = summarize(t);
      d.items.push(s);
      if (isHot(s)) hot.get(hotShardOf(s.n))!.items[s.n] = s;
    };
    return { add, install: (gen) => this.install(days, hot, gen) };
  }

  private async install(days: Map<string, DayTickets>, hot: Map<string, HotShard>, gen: number): Promise<{ days: number }> {
    await this.days.install(days, gen);
    // Earlier versions kept a copy of every ticket per creation day (`ticketDocs_<yyyymm>`); tickets
    // are now read from `tickets` by `_id`, so those copies are dropped.
    for (const c of await this.db.listCollections({}, { nameOnly: true }).toArray()) {
      if (/^ticketDocs_\d{6}$/.test(c.name)) await this.db.dropCollection(c.name).catch(() => false);
    }
    await this.hot.install(hot, gen);
    await this.dayList.install(new Map([['days', { days: [...days.keys()].sort() }]]), gen);
    this.listed.clear();
    return { days: days.size };
  }
}
