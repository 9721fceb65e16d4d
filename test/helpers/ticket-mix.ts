/**
 * A deterministic mix of tickets for the read-model tests (ticket-counters, rebuild-live): the i-th
 * ticket's channel, customer, topic, type, spam and review flag follow from i, so a recount knows
 * what to expect, and the statistics options those tests compare with.
 */
import type { StatsOptions } from '../../staff/stats.js';
import type { TicketCreate } from '../../store/schemas.js';

export const MIX_TOPICS = ['delivery', 'quality', 'returns', 'billing'];
export const MIX_TYPES = ['complaint', 'suggestion', 'inquiry', 'praise'] as const;
export const MIX_CHANNELS = ['webchat', 'msteams', 'directline'];
/** A store's log that says nothing. */
export const silentLog = { info() {}, warn() {}, error() {} };

/**
 * The i-th ticket of the mix: channel i % 3, customer `u${i % users}`, topic and type i % 4 (none on
 * spam, every 11th), review every 3rd; `orders`: its text names one of 13 order numbers too.
 */
export function mixedTicket(i: number, opts: { users: number; orders?: boolean }): TicketCreate {
  const spam = i % 11 === 0;
  return {
    customer: { channelId: MIX_CHANNELS[i % 3], userId: `u${i % opts.users}` },
    conversationRef: null,
    text: { original: `快递${i % 5 === 0 ? '退款' : '发票'}问题 ${i}${opts.orders ? ` order${i % 13}` : ''}`, normalized: `快递问题 ${i}` },
    classification: {
      lang: 'zh-Hans',
      topic: spam ? null : MIX_TOPICS[i % 4],
      type: spam ? null : MIX_TYPES[i % 4],
      spam,
      confidence: 0.8,
      alternatives: [],
      keywords: [],
      modelVersion: 'test',
      needsReview: i % 3 === 0,
      reviewReason: i % 3 === 0 ? 'low-confidence' : null,
    },
  };
}

/** Daily statistics from `from` to `to` in Asia/Shanghai, terms split on spaces. */
export function dailyStatsOptions(from: string, to: string, now: Date): StatsOptions {
  return { from, to, granularity: 'day', timeZone: 'Asia/Shanghai', now, terms: (t) => t.split(/\s+/) };
}
