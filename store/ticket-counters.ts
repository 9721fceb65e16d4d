/**
 * Pre-aggregated ticket statistics (MongoDB's "pre-aggregated report" pattern): one document per
 * month (`_id` = `2026-11`) holding, per creation day, the counts by topic, type, channel and
 * status, the topic × type matrix, review/spam/correction counts, and the minutes to first
 * response and to resolution (kept as lists so medians stay exact), the satisfaction ratings by
 * score × topic × assignee × channel; and one document per ISO week
 * (`_id` = its Monday) holding the texts of that week's non-spam tickets, for the emerging terms.
 *
 * Every ticket write applies the difference between the ticket's contribution before and after
 * the change (store/index.ts wires this to the repository's change hook), so a statistics request
 * reads at most 13 month documents and 6 week documents by `_id`, whatever the history size.
 * `rebuild()` recomputes everything from the tickets (the `stats:rebuild` CLI).
 */
import type { Db } from 'mongodb';
import { weekOf } from './clock.js';
import { JsonDocs, type JsonDocsOptions } from './json-docs.js';
import type { ReadModelRebuild } from './read-model-generations.js';
import type { Ticket, TicketStatus } from './schemas.js';

/** The fields of a ticket that statistics count. */
export interface CountedTicket {
  number: string;
  createdAt: Date;
  createdDay: string;
  channelId: string;
  topic: string | null;
  type: string | null;
  status: TicketStatus;
  spam: boolean;
  needsReview: boolean;
  reviewReason: string | null;
  corrections: number;
  firstResponseAt: Date | null;
  resolvedAt: Date | null;
  text: string;
  /** Who the ticket is assigned to (ratings are counted per agent). */
  assignee: string | null;
  /** The customer's satisfaction score (1–5), null until rated. */
  rating: number | null;
}

/** Counts of one creation day. Keys of the maps are `JSON.stringify(value)` so that null is a key too. */
export interface DayCounts {
  tickets: number;
  needsReview: number;
  flagged: number;
  spam: number;
  corrected: number;
  topic: Record<string, number>;
  type: Record<string, number>;
  channel: Record<string, number>;
  status: Record<string, number>;
  /** Key: `JSON.stringify([topic, type])`. */
  matrix: Record<string, number>;
  /**
   * Minutes from creation to the first staff reply (non-spam tickets), as value → how many tickets:
   * a multiset whose counts may go below zero for a moment, because the changes of one ticket can
   * reach the counters out of order (v2→v3 before v1→v2); they add up once all have arrived.
   */
  firstResponse: Record<string, number>;
  /** Minutes from creation to resolution (non-spam tickets), as for `firstResponse`. */
  resolution: Record<string, number>;
  /**
   * Satisfaction ratings of non-spam tickets, key `JSON.stringify([score, topic, assignee,
   * channel])`; absent in documents written before ratings existed.
   */
  ratings?: Record<string, number>;
}

export interface MonthCounts {
  days: Record<string, DayCounts>;
}

/** Texts of one week's non-spam tickets: `[day, number, text]`. */
export interface WeekTexts {
  items: [string, string, string][];
}

/** Characters of a text kept for term statistics; the ticket itself keeps the whole text. */
export const COUNTED_TEXT_CHARS = 1000;

const MINUTE_MS = 60_000;

/** Adapts a stored ticket. */
export function countedTicket(t: Ticket): CountedTicket {
  return {
    number: t.number,
    createdAt: t.createdAt,
    createdDay: t.createdDay,
    channelId: t.customer.channelId,
    topic: t.topic,
    type: t.type,
    status: t.status,
    spam: t.spam,
    needsReview: t.needsReview,
    reviewReason: t.reviewReason ?? null,
    corrections: t.corrections.length,
    firstResponseAt: t.firstResponseAt,
    resolvedAt: t.resolvedAt,
    text: t.text.original,
    assignee: t.assignee ?? null,
    rating: t.satisfaction?.score ?? null,
  };
}

export function emptyDay(): DayCounts {
  return { tickets: 0, needsReview: 0, flagged: 0, spam: 0, corrected: 0, topic: {}, type: {}, channel: {}, status: {}, matrix: {}, firstResponse: {}, resolution: {}, ratings: {} };
}

function bump(map: Record<string, number>, key: string, by: number): void {
  const n = (map[key] ?? 0) + by;
  if (n === 0) delete map[key];
  else map[key] = n;
}

/** Adds (`sign` 1) or removes (`sign` -1) one ticket's contribution to its day. */
export function applyTicket(day: DayCounts, t: CountedTicket, sign: 1 | -1): void {
  day.tickets += sign;
  if (t.needsReview) day.needsReview += sign;
  if (t.needsReview || t.reviewReason !== null) day.flagged += sign;
  if (t.spam) day.spam += sign;
  if (t.corrections > 0) day.corrected += sign;
  bump(day.topic, JSON.stringify(t.topic), sign);
  bump(day.type, JSON.stringify(t.type), sign);
  bump(day.channel, JSON.stringify(t.channelId), sign);
  bump(day.status, JSON.stringify(t.status), sign);
  bump(day.matrix, JSON.stringify([t.topic, t.type]), sign);
  if (t.spam) return;
  const minutes = (at: Date) => (at.getTime() - t.createdAt.getTime()) / MINUTE_MS;
  // String(number) gives back the same number through Number(): the key loses nothing.
  if (t.firstResponseAt) bump(day.firstResponse, String(minutes(t.firstResponseAt)), sign);
  if (t.resolvedAt) bump(day.resolution, String(minutes(t.resolvedAt)), sign);
  if (t.rating !== null) bump((day.ratings ??= {}), ratingKey(t), sign);
}

/** The key of a rating in {@link DayCounts.ratings}. */
export function ratingKey(t: Pick<CountedTicket, 'rating' | 'topic' | 'assignee' | 'channelId'>): string {
  return JSON.stringify([t.rating, t.topic, t.assignee, t.channelId]);
}

/** True when the change does not move any counted figure (notes, assignee, priority, messages). */
function sameCounts(a: CountedTicket, b: CountedTicket): boolean {
  return (
    a.topic === b.topic &&
    a.type === b.type &&
    a.status === b.status &&
    a.needsReview === b.needsReview &&
    a.reviewReason === b.reviewReason &&
    a.spam === b.spam &&
    (a.corrections > 0) === (b.corrections > 0) &&
    a.firstResponseAt?.getTime() === b.firstResponseAt?.getTime() &&
    a.resolvedAt?.getTime() === b.resolvedAt?.getTime() &&
    a.rating === b.rating &&
    // The assignee counts only for a rated ticket (ratings per agent).
    (a.rating === null || a.assignee === b.assignee)
  );
}

export const monthOf = (day: string) => day.slice(0, 7);

/** The months `from` … `to` touch (YYYY-MM). */
export function monthsBetween(from: string, to: string): string[] {
  const out: string[] = [];
  let [y, m] = from.split('-').map(Number);
  const [ty, tm] = to.split('-').map(Number);
  while (y < ty || (y === ty && m <= tm)) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
  return out;
}

/** The counters of a range of days, as read from the month and week documents. */
export interface CountedRange {
  /** Day → counts, for days with tickets. */
  days: Map<string, DayCounts>;
  /** Texts of non-spam tickets created in the text range. */
  texts: { createdDay: string; spam: false; text: string }[];
  /**
   * Equal for two reads whose texts are the same (the same week documents, unchanged, from the
   * read cache), so what is derived from the texts can be kept; absent when unknown.
   */
  textsKey?: string;
  /**
   * The month documents `days` come from, whole (days outside the range included): the read cache
   * returns the same object while a month is unchanged, so sums derived from one can be kept
   * (staff/stats.ts DaySumsCache). Never change them.
   */
  months?: readonly MonthCounts[];
}

/** A number per parsed document object: the read cache returns the same object while a document is unchanged. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;
function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = ++nextObjectId));
  return id;
}

/** A filter the counters can count: at most one counted field, optionally a range of days. */
export interface CountFilter {
  status?: string;
  topic?: string;
  type?: string;
  channelId?: string;
  needsReview?: boolean;
  spam?: boolean;
  from?: string;
  to?: string;
}

export class TicketCounters {
  readonly months: JsonDocs<MonthCounts>;
  readonly weeks: JsonDocs<WeekTexts>;
  /** All-time counts in one document (`_id` = `all`): totals of the ticket list without a day range. */
  readonly totals: JsonDocs<DayCounts>;

  constructor(db: Db, opts: JsonDocsOptions = {}) {
    this.months = new JsonDocs<MonthCounts>(db, 'statsMonths', () => ({ days: {} }), opts);
    this.weeks = new JsonDocs<WeekTexts>(db, 'statsWeekTexts', () => ({ items: [] }), opts);
    this.totals = new JsonDocs<DayCounts>(db, 'statsTotals', () => emptyDay(), opts);
  }

  /**
   * How many tickets match `f`, from the counters; null when the filter names more than one
   * counted field (the caller counts another way).
   */
  async count(f: CountFilter): Promise<number | null> {
    const fields = (['status', 'topic', 'type', 'channelId', 'needsReview', 'spam'] as const).filter((k) => f[k] !== undefined);
    if (fields.length > 1) return null;
    let days: DayCounts[];
    if (!f.from && !f.to) days = [(await this.totals.get('all')) ?? emptyDay()];
    else if (f.from && f.to) days = [...(await this.read({ from: f.from, to: f.to, textFrom: f.to })).days.values()];
    else return null;
    let n = 0;
    for (const d of days) {
      const field = fields[0];
      if (field === undefined) n += d.tickets;
      else if (field === 'needsReview') n += f.needsReview ? d.needsReview : d.tickets - d.needsReview;
      else if (field === 'spam') n += f.spam ? d.spam : d.tickets - d.spam;
      else n += d[field === 'channelId' ? 'channel' : field][JSON.stringify(f[field])] ?? 0;
    }
    return n;
  }

  /**
   * Applies a ticket change: `before` null for a new ticket. Resolves when the counters are stored.
   * `once`: a key that makes the change count once however often it is applied (read-model-generations.ts `TicketVersion`).
   */
  async onTicketChanged(before: Ticket | null, after: Ticket, once?: string): Promise<void> {
    const a = countedTicket(after);
    const b = before ? countedTicket(before) : null;
    const source = { number: after.number, version: after.version, once };
    const writes: Promise<void>[] = [];
    if (!b || !sameCounts(a, b)) {
      writes.push(
        this.totals.update('all', (d) => {
          if (b) applyTicket(d, b, -1);
          applyTicket(d, a, 1);
          // All-time counts only: response times are read per range, from the month documents.
          d.firstResponse = {};
          d.resolution = {};
        }, source),
      );
      writes.push(
        this.months.update(monthOf(a.createdDay), (m) => {
          const day = (m.days[a.createdDay] ??= emptyDay());
          if (b) applyTicket(day, b, -1);
          applyTicket(day, a, 1);
        }, source),
      );
    }
    // Texts and spam never change after creation: the text is recorded once.
    if (!b && !a.spam) {
      const text = a.text.slice(0, COUNTED_TEXT_CHARS);
      writes.push(
        this.weeks.update(weekOf(a.createdDay), (w) => {
          if (!w.items.some((i) => i[1] === a.number)) w.items.push([a.createdDay, a.number, text]);
        }, source),
      );
    }
    await Promise.all(writes);
  }

  /** Counters of days `from` … `to`, and texts of days `textFrom` … `to`. */
  async read(range: { from: string; to: string; textFrom: string }): Promise<CountedRange> {
    const monthIds = monthsBetween(range.from, range.to);
    const weekIds: string[] = [];
    for (let w = weekOf(range.textFrom); w <= range.to; w = addDays(w, 7)) weekIds.push(w);
    // Past months and weeks seldom change: kept parsed while unchanged (a probe of claims, json-docs.ts),
    // so a year's request reads the documents that changed since the last one, not 13 months again.
    const [months, weeks] = await Promise.all([this.months.getManyCached(monthIds), this.weeks.getManyCached(weekIds)]);
    const days = new Map<string, DayCounts>();
    for (const m of months.values()) for (const [day, c] of Object.entries(m.days)) if (day >= range.from && day <= range.to) days.set(day, c);
    const texts: CountedRange['texts'] = [];
    for (const w of weeks.values()) for (const [day, , text] of w.items) if (day >= range.textFrom && day <= range.to) texts.push({ createdDay: day, spam: false, text });
    const textsKey = `${range.textFrom}|${range.to}|${[...weeks].map(([id, w]) => `${id}:${objectId(w)}`).join(',')}`;
    return { days, texts, textsKey, months: [...months.values()] };
  }

  /**
   * A recount of every month and week document from the tickets given to `add` (all of them,
   * archived ones too), written as generation `gen` by `install` (store/read-models.ts): documents no
   * ticket contributes to read as absent. Safe beside live writers (read-model-generations.ts).
   */
  rebuilder(): ReadModelRebuild<{ tickets: number; months: number; weeks: number }> {
    const months = new Map<string, MonthCounts>();
    const weeks = new Map<string, WeekTexts>();
    const all = emptyDay();
    let n = 0;
    const add = (ticket: Ticket): void => {
      const t = countedTicket(ticket);
      n++;
      applyTicket(all, t, 1);
      const m = months.get(monthOf(t.createdDay)) ?? { days: {} };
      months.set(monthOf(t.createdDay), m);
      applyTicket((m.days[t.createdDay] ??= emptyDay()), t, 1);
      if (!t.spam) {
        const w = weeks.get(weekOf(t.createdDay)) ?? { items: [] };
        weeks.set(weekOf(t.createdDay), w);
        w.items.push([t.createdDay, t.number, t.text.slice(0, COUNTED_TEXT_CHARS)]);
      }
    };
    const install = async (gen: number) => {
      await this.months.install(months, gen);
      await this.totals.install(new Map([['all', { ...all, firstResponse: {}, resolution: {} }]]), gen);
      await this.weeks.install(weeks, gen);
      return { tickets: n, months: months.size, weeks: weeks.size };
    };
    return { add, install };
  }
}

function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}
