import { describe, expect, it } from 'vitest';
import type { TicketFact } from '../../store/ticket-facts.js';
import { addDays, computeStats, daySpan, emergingTerms, emergingWindow, factDays, median, MultisetMedian, periodsOf, statsFromCounters, type DaySumsCache, type StatsOptions } from '../../staff/stats.js';
import type { CountedRange, DayCounts, MonthCounts } from '../../store/ticket-counters.js';

let seq = 0;
/** A ticket fact created at `at` (UTC) on local day `day`; everything else overridable. */
function fact(day: string, over: Partial<TicketFact> = {}): TicketFact {
  seq++;
  return {
    number: `T${day.replaceAll('-', '')}-${String(seq).padStart(4, '0')}`,
    createdAt: new Date(`${day}T02:00:00Z`),
    createdDay: day,
    customer: { channelId: 'webchat', userId: `u${seq}` },
    contact: {},
    topic: 'delivery',
    type: 'complaint',
    status: 'new',
    spam: false,
    needsReview: false,
    reviewReason: null,
    corrections: 0,
    firstResponseAt: null,
    resolvedAt: null,
    text: '',
    ...over,
  };
}

/** Terms are space-separated words in these tests, so counts can be worked out by hand. */
const words = (text: string) => text.split(' ').filter(Boolean);
const minutesAfter = (f: { createdAt: Date }, m: number) => new Date(f.createdAt.getTime() + m * 60_000);

function options(over: Partial<StatsOptions> = {}): StatsOptions {
  // 12:00 in Shanghai on 2026-11-25.
  return { from: '2026-11-23', to: '2026-11-25', granularity: 'day', timeZone: 'Asia/Shanghai', now: new Date('2026-11-25T04:00:00Z'), terms: words, ...over };
}

describe('calendar helpers', () => {
  it('does day arithmetic across months and years', () => {
    expect(addDays('2026-11-25', -29)).toBe('2026-10-27');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(daySpan('2026-11-25', '2026-11-25')).toBe(1);
    expect(daySpan('2026-01-01', '2026-12-31')).toBe(365);
  });

  it('lists ISO weeks (Monday start) overlapping a range that crosses a month boundary', () => {
    expect(periodsOf('2026-10-29', '2026-11-09', 'week')).toEqual(['2026-10-26', '2026-11-02', '2026-11-09']);
    expect(periodsOf('2026-10-30', '2026-11-02', 'day')).toEqual(['2026-10-30', '2026-10-31', '2026-11-01', '2026-11-02']);
  });

  it('takes the median of odd and even counts, and null of none', () => {
    expect(median([])).toBeNull();
    expect(median([30, 10, 20])).toBe(20);
    expect(median([50, 10, 30, 20])).toBe(25);
  });

  it('takes the same median from multisets as from the values written out (negative counts ignored per multiset)', () => {
    let state = 7;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round++) {
      const m = new MultisetMedian();
      const written: number[] = [];
      for (let d = Math.floor(random() * 6); d > 0; d--) {
        const multiset: Record<string, number> = {};
        for (let k = Math.floor(random() * 8); k > 0; k--) multiset[String(Math.round(random() * 50) / (random() < 0.5 ? 1 : 3))] = Math.floor(random() * 5) - 1;
        m.add(multiset);
        for (const [value, n] of Object.entries(multiset)) for (let i = 0; i < n; i++) written.push(Number(value));
      }
      expect(m.median()).toBe(median(written));
      expect(m.count).toBe(written.length);
    }
    expect(new MultisetMedian().median()).toBeNull();
  });
});

describe('computeStats', () => {
  it('counts totals, per-day series and the topic × type matrix of the range only', () => {
    const facts = [
      fact('2026-11-22', { topic: 'billing' }), // before the range
      fact('2026-11-23', { topic: 'delivery', type: 'complaint', customer: { channelId: 'webchat', userId: 'a' } }),
      fact('2026-11-23', { topic: 'delivery', type: 'inquiry', customer: { channelId: 'msteams', userId: 'b' }, needsReview: true, reviewReason: 'low-confidence' }),
      fact('2026-11-24', { topic: 'billing', type: 'complaint', status: 'resolved', reviewReason: 'low-confidence', corrections: 1 }),
      fact('2026-11-25', { topic: null, type: null, spam: true, customer: { channelId: 'telegram', userId: 's' } }),
      fact('2026-11-25', { topic: 'delivery', type: 'complaint', corrections: 2 }),
      fact('2026-11-26', { topic: 'billing' }), // after the range
    ];
    const s = computeStats(facts, options());
    expect(s.periods).toEqual(['2026-11-23', '2026-11-24', '2026-11-25']);
    // Flagged: the one still waiting and the one reviewed (flag cleared, reason kept) → 2 of 5.
    expect(s.totals).toEqual({ tickets: 5, needsReview: 1, flaggedForReview: 2, reviewRate: 0.4, spam: 1, corrected: 2 });
    expect(s.series.topic).toEqual([
      { period: '2026-11-23', key: 'delivery', count: 2 },
      { period: '2026-11-24', key: 'billing', count: 1 },
      { period: '2026-11-25', key: 'delivery', count: 1 },
      { period: '2026-11-25', key: null, count: 1 },
    ]);
    expect(s.series.channel).toEqual([
      { period: '2026-11-23', key: 'msteams', count: 1 },
      { period: '2026-11-23', key: 'webchat', count: 1 },
      { period: '2026-11-24', key: 'webchat', count: 1 },
      { period: '2026-11-25', key: 'telegram', count: 1 },
      { period: '2026-11-25', key: 'webchat', count: 1 },
    ]);
    expect(s.series.status.filter((p) => p.key === 'resolved')).toEqual([{ period: '2026-11-24', key: 'resolved', count: 1 }]);
    for (const field of ['topic', 'type', 'channel', 'status'] as const) {
      expect(s.series[field].reduce((n, p) => n + p.count, 0)).toBe(5);
    }
    expect(s.matrix).toEqual([
      { topic: 'delivery', type: 'complaint', count: 2 },
      { topic: 'billing', type: 'complaint', count: 1 },
      { topic: 'delivery', type: 'inquiry', count: 1 },
      { topic: null, type: null, count: 1 },
    ]);
  });

  it('groups weeks by their Monday across a month boundary, in the service-time-zone day', () => {
    const facts = [
      fact('2026-10-29', { topic: 'billing' }), // Thursday of the week of Monday 10-26
      fact('2026-11-01', { topic: 'billing' }), // Sunday, same week, next month
      fact('2026-11-02', { topic: 'billing' }), // Monday: a new week
      fact('2026-11-02', { topic: 'delivery' }),
      fact('2026-11-08', { topic: 'billing' }), // Sunday
      fact('2026-11-09', { topic: 'billing' }), // Monday, the range's last day
    ];
    const s = computeStats(facts, options({ from: '2026-10-29', to: '2026-11-09', granularity: 'week' }));
    expect(s.periods).toEqual(['2026-10-26', '2026-11-02', '2026-11-09']);
    expect(s.series.topic).toEqual([
      { period: '2026-10-26', key: 'billing', count: 2 },
      { period: '2026-11-02', key: 'billing', count: 2 },
      { period: '2026-11-02', key: 'delivery', count: 1 },
      { period: '2026-11-09', key: 'billing', count: 1 },
    ]);
  });

  it('takes median minutes to first response and to resolution over non-spam tickets', () => {
    const base = [fact('2026-11-23'), fact('2026-11-23'), fact('2026-11-24'), fact('2026-11-25')];
    const responded = base.map((f, i) => ({ ...f, firstResponseAt: minutesAfter(f, [50, 10, 30, 20][i]) }));
    responded[0].resolvedAt = minutesAfter(responded[0], 600);
    responded[1].resolvedAt = minutesAfter(responded[1], 60);
    responded[2].resolvedAt = minutesAfter(responded[2], 120);
    const spam = fact('2026-11-24', { spam: true });
    spam.firstResponseAt = minutesAfter(spam, 1);
    const outside = fact('2026-11-20');
    outside.firstResponseAt = minutesAfter(outside, 1);
    const s = computeStats([...responded, spam, outside, fact('2026-11-25')], options());
    // Even count (10, 20, 30, 50): mean of 20 and 30. Odd count (60, 120, 600): 120.
    expect(s.medians).toEqual({ firstResponseMinutes: 25, resolutionMinutes: 120, firstResponseCount: 4, resolutionCount: 3 });
  });

  it('reports no medians, zero rates and no terms without tickets', () => {
    const s = computeStats([], options());
    expect(s.totals).toEqual({ tickets: 0, needsReview: 0, flaggedForReview: 0, reviewRate: 0, spam: 0, corrected: 0 });
    expect(s.medians).toEqual({ firstResponseMinutes: null, resolutionMinutes: null, firstResponseCount: 0, resolutionCount: 0 });
    expect(s.series.topic).toEqual([]);
    expect(s.emerging).toEqual([]);
  });
});

describe('emerging terms', () => {
  it('compares the 7 days ending on `to` (or today) with the 28 days before, boundaries included', () => {
    expect(emergingWindow('2026-11-25', '2026-11-25')).toEqual({ thisWeek: { from: '2026-11-19', to: '2026-11-25' }, before: { from: '2026-10-22', to: '2026-11-18' } });
    // A range ending in the future ends the window today: days to come would dilute the week.
    expect(emergingWindow('2026-11-30', '2026-11-25').thisWeek).toEqual({ from: '2026-11-19', to: '2026-11-25' });
    expect(emergingWindow('2026-11-10', '2026-11-25').thisWeek).toEqual({ from: '2026-11-04', to: '2026-11-10' });
    // The facts needed reach back to the window's start, or to `from` when it is earlier.
    expect(factDays({ from: '2026-11-23', to: '2026-11-25', timeZone: 'Asia/Shanghai', now: new Date('2026-11-25T04:00:00Z') })).toEqual({ from: '2026-10-22', to: '2026-11-25' });
    expect(factDays({ from: '2026-01-01', to: '2026-11-25', timeZone: 'Asia/Shanghai', now: new Date('2026-11-25T04:00:00Z') })).toEqual({ from: '2026-01-01', to: '2026-11-25' });
  });

  it('ranks rising terms by smoothed growth, counting each term once per non-spam ticket', () => {
    const thisWeek = (text: string, over: Partial<TicketFact> = {}) => fact('2026-11-22', { text, ...over });
    const before = (text: string, day = '2026-11-01') => fact(day, { text });
    const facts = [
      // 退款: 6 tickets this week (one says it twice), 4 in the 28 days before → (6+1)/(1+1) = 3.5
      ...['退款 退款', '退款', '退款', '退款', '退款', '退款'].map((t) => thisWeek(t)),
      ...[0, 1, 2, 3].map(() => before('退款')),
      // 发票, aa, bb: 2 this week, none before → 3; equal growth and count, so by term (code units).
      thisWeek('发票 aa bb', { customer: { channelId: 'webchat', userId: 'x' } }),
      thisWeek('发票 aa bb'),
      // 快递: 3 this week, 8 before (2 a week) → 4/3.
      ...[0, 1, 2].map(() => thisWeek('快递')),
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => before('快递', i % 2 ? '2026-10-22' : '2026-11-18')),
      // 积分: 5 this week, 20 before (5 a week) → growth 1: steady, not rising.
      ...[0, 1, 2, 3, 4].map(() => thisWeek('积分')),
      ...Array.from({ length: 20 }, () => before('积分')),
      // 会员: a single mention is not a trend.
      thisWeek('会员'),
      // 优惠: only spam mentions it.
      thisWeek('优惠', { spam: true }),
      thisWeek('优惠', { spam: true }),
      // 物流: twice this week; outside both windows (10-21 and 11-26) it does not count.
      thisWeek('物流'),
      thisWeek('物流'),
      fact('2026-10-21', { text: '物流' }),
      fact('2026-11-26', { text: '物流' }),
    ];
    const window = emergingWindow('2026-11-25', '2026-11-25');
    expect(emergingTerms(facts, window, words)).toEqual([
      { term: '退款', thisWeek: 6, weeklyAverageBefore: 1, growth: 3.5 },
      { term: 'aa', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: 'bb', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: '发票', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: '物流', thisWeek: 2, weeklyAverageBefore: 0, growth: 3 },
      { term: '快递', thisWeek: 3, weeklyAverageBefore: 2, growth: 4 / 3 },
    ]);
  });

  it('lists at most ten terms', () => {
    const facts = Array.from({ length: 12 }, (_, i) => [fact('2026-11-24', { text: `t${String(i).padStart(2, '0')}` }), fact('2026-11-25', { text: `t${String(i).padStart(2, '0')}` })]).flat();
    const s = computeStats(facts, options());
    expect(s.emerging.map((e) => e.term)).toEqual(['t00', 't01', 't02', 't03', 't04', 't05', 't06', 't07', 't08', 't09']);
  });
});

describe('statistics from counters, with the sums of unchanged months kept', () => {
  /** A day's counters: `n` tickets of `topic`, first responses after the given minutes (one entry may be negative, as while changes arrive out of order). */
  function day(n: number, topic: string, firstResponse: Record<string, number>, rating?: string): DayCounts {
    return {
      tickets: n,
      needsReview: n % 2,
      flagged: 1,
      spam: 0,
      corrected: n % 3 === 0 ? 1 : 0,
      topic: { [JSON.stringify(topic)]: n },
      type: { [JSON.stringify('complaint')]: n },
      channel: { [JSON.stringify('webchat')]: n },
      status: { [JSON.stringify('new')]: n - 1, [JSON.stringify('closed')]: 1 },
      matrix: { [JSON.stringify([topic, 'complaint'])]: n },
      firstResponse,
      resolution: { '120': n },
      ...(rating ? { ratings: { [rating]: 1 } } : {}),
    };
  }
  const october: MonthCounts = { days: { '2026-10-20': day(3, 'delivery', { '5': 2, '30': 1 }), '2026-10-30': day(2, 'refund', { '5': 1, '7': -1 }, JSON.stringify([4, 'refund', 'alice', 'webchat'])) } };
  const november: MonthCounts = { days: { '2026-11-02': day(4, 'delivery', { '10': 4 }), '2026-11-23': day(5, 'invoice', { '30': 3, '7': 2 }), '2026-11-25': day(1, 'refund', { '9': 1 }) } };
  /** What TicketCounters.read returns for a range: the days within it, and the month documents. */
  function counted(from: string, to: string, months: MonthCounts[]): CountedRange {
    const days = new Map<string, DayCounts>();
    for (const m of months) for (const [d, c] of Object.entries(m.days)) if (d >= from && d <= to) days.set(d, c);
    return { days, texts: [], textsKey: 'none', months };
  }

  it('equals the day-by-day sums for ranges that cut months, by day and by week, and again from the kept sums', () => {
    const sums: DaySumsCache = new WeakMap();
    for (const [from, to, granularity] of [
      ['2026-10-25', '2026-11-25', 'week'],
      ['2026-10-01', '2026-11-30', 'day'],
      ['2026-11-03', '2026-11-24', 'day'],
    ] as const) {
      const o = options({ from, to, granularity });
      const plain = statsFromCounters({ ...counted(from, to, [october, november]), months: undefined }, o);
      expect(plain.totals.tickets).toBeGreaterThan(0);
      expect(statsFromCounters(counted(from, to, [october, november]), o, undefined, sums)).toEqual(plain);
      // The second request adds up the kept sums of both months: the same report.
      expect(sums.get(november)?.has(`${from}|${to}|${granularity}`)).toBe(true);
      expect(statsFromCounters(counted(from, to, [october, november]), o, undefined, sums)).toEqual(plain);
    }
    // The first range: October's negative entry counts as none, as MultisetMedian.add does per day.
    const first = statsFromCounters(counted('2026-10-25', '2026-11-25', [october, november]), options({ from: '2026-10-25', to: '2026-11-25', granularity: 'week' }), undefined, sums);
    expect(first.totals.tickets).toBe(12);
    expect(first.medians.firstResponseCount).toBe(11);
    expect(first.satisfaction.count).toBe(1);
  });

  it('adds up a changed month again (a changed document is a new object from the read cache)', () => {
    const sums: DaySumsCache = new WeakMap();
    const o = options({ from: '2026-10-01', to: '2026-11-30', granularity: 'week' });
    const before = statsFromCounters(counted(o.from, o.to, [october, november]), o, undefined, sums);
    const changed: MonthCounts = { days: { ...november.days, '2026-11-26': day(6, 'delivery', { '60': 6 }) } };
    const after = statsFromCounters(counted(o.from, o.to, [october, changed]), o, undefined, sums);
    expect(after.totals.tickets).toBe(before.totals.tickets + 6);
    expect(after).toEqual(statsFromCounters({ ...counted(o.from, o.to, [october, changed]), months: undefined }, o));
  });
});
