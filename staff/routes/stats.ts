/**
 * GET /api/stats: the dashboard's counts, review rate, response medians and emerging terms over a
 * range of days in the service time zone. The arithmetic lives in staff/stats.ts (pure); this
 * module validates the query, resolves default days and reads the pre-aggregated counters.
 */
import { z } from 'zod';
import { dayOf } from '../../store/clock.js';
import type { ChannelMessageCounts } from '../../store/channel-messages.js';
import type { TicketCounters } from '../../store/ticket-counters.js';
import type { Config } from '../../runtime/config.js';
import type { TermExtractor } from '../deps.js';
import { HttpError, type ApiRouter } from '../http.js';
import { addDays, daySpan, emergingWindow, statsFromCounters, type DaySumsCache, type EmergingCache } from '../stats.js';

/** Longest range one request may ask for (a leap year), so one request cannot scan years of tickets. */
export const MAX_RANGE_DAYS = 366;
/** Days covered when the query names no `from`. */
export const DEFAULT_RANGE_DAYS = 30;
/** Distinct message texts whose terms are remembered (the same tickets are re-read on every refresh). */
const TERM_MEMO_SIZE = 50_000;

export interface StatsRouteDeps {
  config: Pick<Config, 'TIME_ZONE'>;
  terms: TermExtractor;
  /** Pre-aggregated counters: a request reads a few documents by id, whatever the history size. */
  counters: Pick<TicketCounters, 'read'>;
  /** Inbound messages per channel per day (without it, `/api/stats/channel-messages` is not served). */
  channelMessages?: Pick<ChannelMessageCounts, 'read'>;
  now?: () => Date;
}

/** A real calendar day (2026-02-30 is refused), as the ticket store writes `createdDay`. */
export const CalendarDay = z.iso.date({ error: 'a calendar day written YYYY-MM-DD, e.g. 2026-11-25' });

export const StatsQuerySchema = z
  .object({
    from: CalendarDay.optional(),
    to: CalendarDay.optional(),
    granularity: z.enum(['day', 'week']).default('day'),
  })
  .strict();

/**
 * The days a query covers: `to` defaults to today (service time zone), `from` to the
 * {@link DEFAULT_RANGE_DAYS} days ending on `to`. A reversed or too long range is a 400 naming `from`.
 */
export function resolveRange(query: { from?: string; to?: string }, today: string): { from: string; to: string } {
  const to = query.to ?? today;
  const from = query.from ?? addDays(to, -(DEFAULT_RANGE_DAYS - 1));
  const invalid = (message: string) => new HttpError(400, 'VALIDATION_FAILED', `invalid query: query.from: ${message}`, [{ field: 'query.from', message }]);
  if (from > to) throw invalid(`must not be after to (${to})`);
  if (daySpan(from, to) > MAX_RANGE_DAYS) throw invalid(`the range may cover at most ${MAX_RANGE_DAYS} days; it covers ${daySpan(from, to)}`);
  return { from, to };
}

/** Remembers the terms of recent texts: segmentation is the costly part of a refresh, and texts do not change. */
function memoizeTerms(terms: TermExtractor): TermExtractor {
  const memo = new Map<string, string[]>();
  return (text) => {
    let t = memo.get(text);
    if (!t) {
      if (memo.size >= TERM_MEMO_SIZE) memo.clear();
      memo.set(text, (t = terms(text)));
    }
    return t;
  };
}

export function registerStatsRoutes(router: ApiRouter, deps: StatsRouteDeps): void {
  const now = deps.now ?? (() => new Date());
  const terms = memoizeTerms(deps.terms);
  const emergingCache: EmergingCache = new Map();
  // Per unchanged month document: its days added up once per range, not on every request.
  const sumsCache: DaySumsCache = new WeakMap();
  router.add({
    method: 'get',
    path: '/api/stats',
    summary: 'Ticket counts per day or week by topic, type, channel and status; review rate; response medians; emerging terms',
    tag: 'stats',
    role: 'agent',
    query: StatsQuerySchema,
    responses: { 200: 'statistics of the tickets created in the range (days in the service time zone)' },
    handler: async ({ query }) => {
      const at = now();
      const timeZone = deps.config.TIME_ZONE;
      const range = resolveRange(query, dayOf(at, timeZone));
      // Texts only for the emerging-terms windows (the five weeks before `to`), whatever the range:
      // a year's texts were 53 week documents read and parsed for terms that ignore all but those weeks.
      const counted = await deps.counters.read({ ...range, textFrom: emergingWindow(range.to, dayOf(at, timeZone)).before.from });
      return { body: statsFromCounters(counted, { ...range, granularity: query.granularity, timeZone, now: at, terms }, emergingCache, sumsCache) };
    },
  });
  const channelMessages = deps.channelMessages;
  if (!channelMessages) return;
  router.add({
    method: 'get',
    path: '/api/stats/channel-messages',
    summary: 'Inbound customer messages per day and channel (every message a channel took once: texts, voice, pictures; not events)',
    tag: 'stats',
    role: 'agent',
    query: StatsQuerySchema.pick({ from: true, to: true }),
    responses: { 200: '{ from, to, days: [{ day, channels: { wechat: n … } }], totals: { wechat: n … } }' },
    handler: async ({ query }) => {
      const range = resolveRange(query, dayOf(now(), deps.config.TIME_ZONE));
      const days = await channelMessages.read(range.from, range.to);
      const totals: Record<string, number> = {};
      for (const d of days) for (const [c, n] of Object.entries(d.channels)) totals[c] = (totals[c] ?? 0) + n;
      return { body: { ...range, days, totals } };
    },
  });
}
