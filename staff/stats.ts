/**
 * Ticket statistics for the staff dashboard, computed in TypeScript over ticket facts (FerretDB
 * 1.24 has no `$dateToString`, no medians and only `$sum`/`$count` in `$group`). Pure: no I/O and
 * no clock of its own, so every figure can be checked against a hand-computed data set.
 *
 * Days are calendar days in the service time zone: a ticket belongs to its `createdDay`, which the
 * store fixed at creation, so a day or week never depends on the time zone of the server or viewer.
 */
import { dayOf, weekOf } from '../store/clock.js';
import type { TicketFact } from '../store/ticket-facts.js';
import type { CountedRange, DayCounts } from '../store/ticket-counters.js';

export type Granularity = 'day' | 'week';

/** The dimensions counted per period. */
export const SERIES_FIELDS = ['topic', 'type', 'channel', 'status'] as const;
export type SeriesField = (typeof SERIES_FIELDS)[number];

export interface StatsOptions {
  /** First day counted (YYYY-MM-DD, inclusive). */
  from: string;
  /** Last day counted (YYYY-MM-DD, inclusive). */
  to: string;
  granularity: Granularity;
  /** Service time zone (IANA), to know which day "today" is. */
  timeZone: string;
  now: Date;
  /** Content terms of a text (see staff/terms.ts). */
  terms: (text: string) => readonly string[];
}

export interface SeriesPoint {
  /** The day, or the Monday that starts the ISO week (YYYY-MM-DD). */
  period: string;
  /** The topic, type, channel or status; null when the ticket has none (unclassified, spam). */
  key: string | null;
  count: number;
}

export interface EmergingTerm {
  term: string;
  /** Tickets mentioning the term in the 7 days of the recent window. */
  thisWeek: number;
  /** Tickets mentioning it per week, averaged over the 4 weeks before. */
  weeklyAverageBefore: number;
  /** (thisWeek + 1) / (weeklyAverageBefore + 1). */
  growth: number;
}

/** Ratings of one group (a topic, an agent, a channel or a week). */
export interface RatingGroup {
  /** The topic, assignee, channel or week (its Monday); null for no topic / unassigned. */
  key: string | null;
  count: number;
  /** Mean score, rounded to 2 decimals. */
  average: number;
}

/**
 * Satisfaction (满意度) of the range's non-spam tickets that the customer rated (the latest rating
 * of each), grouped like the rest of the report by the ticket's creation day: `byWeek` is the ISO
 * week the ticket was created in.
 */
export interface SatisfactionReport {
  count: number;
  /** Mean score, rounded to 2 decimals; null without ratings. */
  average: number | null;
  /** How many ratings gave each score, "1" … "5". */
  distribution: Record<'1' | '2' | '3' | '4' | '5', number>;
  byTopic: RatingGroup[];
  byAgent: RatingGroup[];
  byChannel: RatingGroup[];
  byWeek: RatingGroup[];
}

/** One rated ticket as the satisfaction report counts it (`n` tickets with the same values). */
export interface RatingRow {
  score: number;
  topic: string | null;
  assignee: string | null;
  channel: string;
  day: string;
  n: number;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** The satisfaction report of rating rows (shared by the facts and the counters versions). */
export function satisfactionOf(rows: Iterable<RatingRow>): SatisfactionReport {
  const distribution = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
  const groups = { byTopic: new Map<string | null, [number, number]>(), byAgent: new Map<string | null, [number, number]>(), byChannel: new Map<string | null, [number, number]>(), byWeek: new Map<string | null, [number, number]>() };
  let count = 0;
  let sum = 0;
  const add = (m: Map<string | null, [number, number]>, key: string | null, r: RatingRow) => {
    const g = m.get(key) ?? [0, 0];
    g[0] += r.n;
    g[1] += r.score * r.n;
    m.set(key, g);
  };
  for (const r of rows) {
    if (r.n === 0) continue;
    count += r.n;
    sum += r.score * r.n;
    distribution[String(r.score) as keyof typeof distribution] += r.n;
    add(groups.byTopic, r.topic, r);
    add(groups.byAgent, r.assignee, r);
    add(groups.byChannel, r.channel, r);
    add(groups.byWeek, weekOf(r.day), r);
  }
  const list = (m: Map<string | null, [number, number]>): RatingGroup[] =>
    [...m]
      .filter(([, [n]]) => n !== 0)
      .map(([key, [n, s]]) => ({ key, count: n, average: round2(s / n) }))
      .sort((a, b) => compareKeys(a.key, b.key));
  return {
    count,
    average: count ? round2(sum / count) : null,
    distribution,
    byTopic: list(groups.byTopic),
    byAgent: list(groups.byAgent),
    byChannel: list(groups.byChannel),
    byWeek: list(groups.byWeek),
  };
}

export interface DayRange {
  from: string;
  to: string;
}

export interface StatsReport {
  from: string;
  to: string;
  granularity: Granularity;
  /** Every period of the range in order, so charts can lay out periods without tickets. */
  periods: string[];
  totals: {
    tickets: number;
    /** Tickets still waiting for review now (the ticket list's `needsReview=true`). */
    needsReview: number;
    /** Tickets the classifier sent to review at intake, reviewed since or not. */
    flaggedForReview: number;
    /** flaggedForReview / tickets (0 without tickets). */
    reviewRate: number;
    spam: number;
    /** Tickets with at least one topic or type correction. */
    corrected: number;
  };
  series: Record<SeriesField, SeriesPoint[]>;
  matrix: { topic: string | null; type: string | null; count: number }[];
  medians: { firstResponseMinutes: number | null; resolutionMinutes: number | null; firstResponseCount: number; resolutionCount: number };
  satisfaction: SatisfactionReport;
  /** The windows the emerging terms compare. */
  emergingWindow: { thisWeek: DayRange; before: DayRange };
  emerging: EmergingTerm[];
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** Emerging terms listed. */
export const EMERGING_LIMIT = 10;
/** A term needs this many tickets in the recent week to be listed: one mention is not a trend. */
export const EMERGING_MIN_THIS_WEEK = 2;

/** The day `n` days after `day` (negative: before). Calendar arithmetic, no time zone involved. */
export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, both counted (2026-11-01 … 2026-11-01 is 1). */
export function daySpan(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
}

/**
 * The periods of a range: each day, or each ISO week (named by its Monday) that overlaps the
 * range. Weeks at the edges may be partial: only the range's days are counted in them.
 */
export function periodsOf(from: string, to: string, granularity: Granularity): string[] {
  const out: string[] = [];
  const step = granularity === 'day' ? 1 : 7;
  for (let p = granularity === 'day' ? from : weekOf(from); p <= to; p = addDays(p, step)) out.push(p);
  return out;
}

/** The middle value; the mean of the two middle values for an even count; null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The {@link median} of multisets of values (value → how many; see store/ticket-counters.ts
 * DayCounts), without writing each value out: a year at 100,000 tickets is ~100,000 minutes but far
 * fewer distinct ones. Each multiset counts only its positive entries, as if its values were listed.
 */
export class MultisetMedian {
  private readonly counts = new Map<string, number>();
  /** How many values were added. */
  count = 0;

  add(multiset: Readonly<Record<string, number>>): void {
    for (const key in multiset) {
      const n = multiset[key];
      if (n <= 0) continue;
      this.counts.set(key, (this.counts.get(key) ?? 0) + n);
      this.count += n;
    }
  }

  /** Adds summed multisets (value → count, entries at or below zero skipped as in {@link add}). */
  addCounts(multiset: ReadonlyMap<string, number>): void {
    for (const [key, n] of multiset) {
      if (n <= 0) continue;
      this.counts.set(key, (this.counts.get(key) ?? 0) + n);
      this.count += n;
    }
  }

  median(): number | null {
    if (this.count === 0) return null;
    const values = [...this.counts].map(([k, n]) => [Number(k), n] as const).sort((a, b) => a[0] - b[0]);
    // The values at sorted positions mid - 1 and mid (0-based) of the written-out list.
    const mid = this.count >> 1;
    let seen = 0;
    let below: number | null = null;
    for (const [value, n] of values) {
      if (below === null && seen + n > mid - 1) below = value;
      if (seen + n > mid) return this.count % 2 ? value : (below! + value) / 2;
      seen += n;
    }
    return null;
  }
}

/** Emerging terms already computed, by {@link CountedRange.textsKey} and window (the route keeps one per process). */
export type EmergingCache = Map<string, EmergingTerm[]>;
const EMERGING_CACHE_SIZE = 32;

/**
 * The two windows emerging terms compare: the 7 days ending on `to`, or on today when `to` is
 * later (days that have not happened would dilute the week), and the 28 days just before them.
 */
export function emergingWindow(to: string, today: string): { thisWeek: DayRange; before: DayRange } {
  const end = to < today ? to : today;
  return { thisWeek: { from: addDays(end, -6), to: end }, before: { from: addDays(end, -34), to: addDays(end, -7) } };
}

/** The days whose tickets {@link computeStats} needs: the range and the emerging windows. */
export function factDays(opts: Pick<StatsOptions, 'from' | 'to' | 'timeZone' | 'now'>): DayRange {
  const w = emergingWindow(opts.to, dayOf(opts.now, opts.timeZone));
  return { from: w.before.from < opts.from ? w.before.from : opts.from, to: opts.to };
}

/** Orders keys for output: by code unit (locale-independent, so stable), null last. */
function compareKeys(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function keyOf(f: TicketFact, field: SeriesField): string | null {
  switch (field) {
    case 'topic':
      return f.topic;
    case 'type':
      return f.type;
    case 'channel':
      return f.customer.channelId;
    case 'status':
      return f.status;
  }
}

/**
 * Statistics of the tickets created on days `from` … `to` (inclusive; facts outside are ignored,
 * except by the emerging terms, which look at their own windows).
 *
 * - Totals, series and the topic × type matrix count every ticket of the range, spam included
 *   (its topic and type are usually null), so each series adds up to `totals.tickets`.
 * - Medians cover non-spam tickets of the range with the timestamp: minutes from creation to the
 *   first staff reply, and to the (latest) resolution; closed-without-resolving is not a resolution.
 * - Emerging terms: among non-spam tickets, each term counted once per ticket, in the 7 days
 *   ending on `to` (or today) against the 28 days before. Growth = (thisWeek + 1) / (weekly
 *   average before + 1), so a new term needs several mentions to beat an established one; only
 *   terms with at least {@link EMERGING_MIN_THIS_WEEK} tickets this week and growth above 1 are
 *   listed, the top {@link EMERGING_LIMIT} by growth, then this week's count, then the term.
 */
export function computeStats(facts: readonly TicketFact[], opts: StatsOptions): StatsReport {
  const inRange = facts.filter((f) => f.createdDay >= opts.from && f.createdDay <= opts.to);
  const periodOf = opts.granularity === 'day' ? (day: string) => day : weekOf;

  const counts = Object.fromEntries(SERIES_FIELDS.map((field) => [field, new Map<string, Map<string | null, number>>()])) as Record<SeriesField, Map<string, Map<string | null, number>>>;
  const matrix = new Map<string, { topic: string | null; type: string | null; count: number }>();
  const firstResponse: number[] = [];
  const resolution: number[] = [];
  let needsReview = 0;
  let flagged = 0;
  let spam = 0;
  let corrected = 0;
  const ratings: RatingRow[] = [];

  for (const f of inRange) {
    const period = periodOf(f.createdDay);
    for (const field of SERIES_FIELDS) {
      const byPeriod = counts[field];
      let byKey = byPeriod.get(period);
      if (!byKey) byPeriod.set(period, (byKey = new Map()));
      increment(byKey, keyOf(f, field));
    }
    const cell = JSON.stringify([f.topic, f.type]);
    const m = matrix.get(cell);
    if (m) m.count++;
    else matrix.set(cell, { topic: f.topic, type: f.type, count: 1 });

    if (f.needsReview) needsReview++;
    if (f.needsReview || f.reviewReason !== null) flagged++;
    if (f.corrections > 0) corrected++;
    if (f.spam) {
      spam++;
      continue;
    }
    if (f.firstResponseAt) firstResponse.push((f.firstResponseAt.getTime() - f.createdAt.getTime()) / MINUTE_MS);
    if (f.resolvedAt) resolution.push((f.resolvedAt.getTime() - f.createdAt.getTime()) / MINUTE_MS);
    if (typeof f.rating === 'number') ratings.push({ score: f.rating, topic: f.topic, assignee: f.assignee ?? null, channel: f.customer.channelId, day: f.createdDay, n: 1 });
  }

  const series = Object.fromEntries(
    SERIES_FIELDS.map((field) => {
      const points: SeriesPoint[] = [];
      for (const [period, byKey] of counts[field]) for (const [key, count] of byKey) points.push({ period, key, count });
      points.sort((a, b) => (a.period === b.period ? compareKeys(a.key, b.key) : a.period < b.period ? -1 : 1));
      return [field, points];
    }),
  ) as Record<SeriesField, SeriesPoint[]>;

  const window = emergingWindow(opts.to, dayOf(opts.now, opts.timeZone));
  return {
    from: opts.from,
    to: opts.to,
    granularity: opts.granularity,
    periods: periodsOf(opts.from, opts.to, opts.granularity),
    totals: { tickets: inRange.length, needsReview, flaggedForReview: flagged, reviewRate: inRange.length ? flagged / inRange.length : 0, spam, corrected },
    series,
    matrix: [...matrix.values()].sort((a, b) => b.count - a.count || compareKeys(a.topic, b.topic) || compareKeys(a.type, b.type)),
    medians: { firstResponseMinutes: median(firstResponse), resolutionMinutes: median(resolution), firstResponseCount: firstResponse.length, resolutionCount: resolution.length },
    satisfaction: satisfactionOf(ratings),
    emergingWindow: window,
    emerging: emergingTerms(facts, window, opts.terms),
  };
}

/**
 * The same report as {@link computeStats}, from pre-aggregated day counters (store/ticket-counters.ts)
 * instead of the tickets: what the API serves, so its cost does not grow with history.
 */
/**
 * Sums of a set of days (a month's, or the whole range's), as {@link statsFromCounters} adds them
 * up; several are merged into one. Multisets are value → count, as in the day documents.
 */
interface DaySums {
  totals: { tickets: number; needsReview: number; flaggedForReview: number; spam: number; corrected: number };
  perPeriod: Record<SeriesField, Map<string, Map<string, number>>>;
  matrix: Map<string, number>;
  firstResponse: Map<string, number>;
  resolution: Map<string, number>;
  ratings: RatingRow[];
}

/**
 * Sums already made, per month document (the read cache returns the same object while a month is
 * unchanged, store/json-docs.ts) and per range and granularity: a year's request adds up 13 sums
 * instead of 365 days, and only the months that changed since are added up again (the route keeps
 * one per process).
 */
export type DaySumsCache = WeakMap<object, Map<string, DaySums>>;
/** Ranges remembered per month document (the dashboard asks for a few). */
const SUMS_PER_MONTH = 8;

function emptySums(): DaySums {
  return {
    totals: { tickets: 0, needsReview: 0, flaggedForReview: 0, spam: 0, corrected: 0 },
    perPeriod: Object.fromEntries(SERIES_FIELDS.map((field) => [field, new Map<string, Map<string, number>>()])) as Record<SeriesField, Map<string, Map<string, number>>>,
    matrix: new Map(),
    firstResponse: new Map(),
    resolution: new Map(),
    ratings: [],
  };
}

function addTo(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Adds the days of `days` within `from` … `to` to `into`. */
function sumDays(into: DaySums, days: Iterable<[string, DayCounts]>, opts: Pick<StatsOptions, 'from' | 'to' | 'granularity'>): void {
  const periodOf = opts.granularity === 'day' ? (day: string) => day : weekOf;
  for (const [day, c] of days) {
    if (day < opts.from || day > opts.to) continue;
    for (const [key, n] of Object.entries(c.ratings ?? {})) {
      const [score, topic, assignee, channel] = JSON.parse(key) as [number, string | null, string | null, string];
      into.ratings.push({ score, topic, assignee, channel, day, n });
    }
    into.totals.tickets += c.tickets;
    into.totals.needsReview += c.needsReview;
    into.totals.flaggedForReview += c.flagged;
    into.totals.spam += c.spam;
    into.totals.corrected += c.corrected;
    const period = periodOf(day);
    for (const field of SERIES_FIELDS) {
      let byKey = into.perPeriod[field].get(period);
      if (!byKey) into.perPeriod[field].set(period, (byKey = new Map()));
      for (const key in c[field]) addTo(byKey, key, c[field][key]);
    }
    for (const key in c.matrix) addTo(into.matrix, key, c.matrix[key]);
    // As MultisetMedian.add: a day's entry at or below zero (changes arriving out of order) counts as none.
    for (const key in c.firstResponse) if (c.firstResponse[key] > 0) addTo(into.firstResponse, key, c.firstResponse[key]);
    for (const key in c.resolution) if (c.resolution[key] > 0) addTo(into.resolution, key, c.resolution[key]);
  }
}

function mergeSums(into: DaySums, from: DaySums): void {
  for (const k of Object.keys(into.totals) as (keyof DaySums['totals'])[]) into.totals[k] += from.totals[k];
  for (const field of SERIES_FIELDS) {
    for (const [period, byKey] of from.perPeriod[field]) {
      let mine = into.perPeriod[field].get(period);
      if (!mine) into.perPeriod[field].set(period, (mine = new Map()));
      for (const [key, n] of byKey) addTo(mine, key, n);
    }
  }
  for (const [key, n] of from.matrix) addTo(into.matrix, key, n);
  for (const [key, n] of from.firstResponse) addTo(into.firstResponse, key, n);
  for (const [key, n] of from.resolution) addTo(into.resolution, key, n);
  for (const r of from.ratings) into.ratings.push(r);
}

export function statsFromCounters(counted: CountedRange, opts: StatsOptions, cache?: EmergingCache, sumsCache?: DaySumsCache): StatsReport {
  const sums = emptySums();
  if (counted.months && sumsCache) {
    const rangeKey = `${opts.from}|${opts.to}|${opts.granularity}`;
    for (const month of counted.months) {
      let byRange = sumsCache.get(month);
      if (!byRange) sumsCache.set(month, (byRange = new Map()));
      let part = byRange.get(rangeKey);
      if (!part) {
        sumDays((part = emptySums()), Object.entries(month.days), opts);
        if (byRange.size >= SUMS_PER_MONTH) byRange.delete(byRange.keys().next().value as string);
        byRange.set(rangeKey, part);
      }
      mergeSums(sums, part);
    }
  } else {
    sumDays(sums, counted.days, opts);
  }
  const { totals, perPeriod, matrix, ratings } = sums;
  const firstResponse = new MultisetMedian();
  firstResponse.addCounts(sums.firstResponse);
  const resolution = new MultisetMedian();
  resolution.addCounts(sums.resolution);
  const series = Object.fromEntries(
    SERIES_FIELDS.map((field) => {
      const points: SeriesPoint[] = [];
      for (const [period, byKey] of perPeriod[field]) for (const [key, count] of byKey) if (count !== 0) points.push({ period, key: JSON.parse(key) as string | null, count });
      points.sort((a, b) => (a.period === b.period ? compareKeys(a.key, b.key) : a.period < b.period ? -1 : 1));
      return [field, points];
    }),
  ) as Record<SeriesField, SeriesPoint[]>;
  const cells = [...matrix]
    .filter(([, count]) => count !== 0)
    .map(([key, count]) => {
      const [topic, type] = JSON.parse(key) as [string | null, string | null];
      return { topic, type, count };
    });
  const window = emergingWindow(opts.to, dayOf(opts.now, opts.timeZone));
  // The same texts give the same terms: kept while the week documents are unchanged (counted.textsKey).
  const key = counted.textsKey === undefined ? null : `${counted.textsKey}|${JSON.stringify(window)}`;
  let emerging = key === null ? undefined : cache?.get(key);
  if (!emerging) {
    emerging = emergingTerms(counted.texts, window, opts.terms);
    if (key !== null && cache) {
      if (cache.size >= EMERGING_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      cache.set(key, emerging);
    }
  }
  return {
    from: opts.from,
    to: opts.to,
    granularity: opts.granularity,
    periods: periodsOf(opts.from, opts.to, opts.granularity),
    totals: { ...totals, reviewRate: totals.tickets ? totals.flaggedForReview / totals.tickets : 0 },
    series,
    matrix: cells.sort((a, b) => b.count - a.count || compareKeys(a.topic, b.topic) || compareKeys(a.type, b.type)),
    medians: { firstResponseMinutes: firstResponse.median(), resolutionMinutes: resolution.median(), firstResponseCount: firstResponse.count, resolutionCount: resolution.count },
    satisfaction: satisfactionOf(ratings),
    emergingWindow: window,
    emerging,
  };
}

/** See {@link computeStats} for the rules. */
export function emergingTerms(facts: readonly Pick<TicketFact, 'createdDay' | 'spam' | 'text'>[], window: { thisWeek: DayRange; before: DayRange }, terms: (text: string) => readonly string[]): EmergingTerm[] {
  const recent = new Map<string, number>();
  const before = new Map<string, number>();
  for (const f of facts) {
    if (f.spam) continue;
    const target =
      f.createdDay >= window.thisWeek.from && f.createdDay <= window.thisWeek.to ? recent : f.createdDay >= window.before.from && f.createdDay <= window.before.to ? before : null;
    if (!target) continue;
    for (const term of new Set(terms(f.text))) increment(target, term);
  }
  const weeksBefore = daySpan(window.before.from, window.before.to) / 7;
  const out: EmergingTerm[] = [];
  for (const [term, thisWeek] of recent) {
    if (thisWeek < EMERGING_MIN_THIS_WEEK) continue;
    const weeklyAverageBefore = (before.get(term) ?? 0) / weeksBefore;
    const growth = (thisWeek + 1) / (weeklyAverageBefore + 1);
    if (growth > 1) out.push({ term, thisWeek, weeklyAverageBefore, growth });
  }
  out.sort((a, b) => b.growth - a.growth || b.thisWeek - a.thisWeek || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  return out.slice(0, EMERGING_LIMIT);
}
