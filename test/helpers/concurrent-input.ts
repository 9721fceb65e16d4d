/** A ticket to file in concurrency tests (one per customer id). */
import type { TicketCreate } from '../../store/schemas.js';

export function concurrentTicketInput(userId: string): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId },
    conversationRef: null,
    text: { original: '快递三天没到', normalized: '快递三天没到' },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [{ topic: 'delivery', score: 0.9 }], keywords: [], modelVersion: 'test', needsReview: true, reviewReason: 'low-confidence' },
  };
}
