/**
 * The classification as the bot, the ticket and the console see it, mapped in one place and with
 * one name per field: the classifier's `Classification` becomes the ticket's stored classification
 * (`lang`, `alternatives`, `reviewReason`, …), and the console's explanation is a projection of the
 * ticket that keeps those names. Nothing is renamed between hops.
 */
import type { Classification } from '../classifier/demand-classifier.js';
import type { DemandType } from '../classifier/taxonomy.js';
import type { Ticket, TicketClassification } from '../store/schemas.js';

/** Review reason when the customer picked another topic than the classifier's. */
export const CUSTOMER_PICKED_TOPIC = 'customer-picked-topic';

/** Review reason of a ticket on which the customer asked for a person (filed for it, or flagged when it could not be queued). */
export const ASKED_FOR_PERSON = 'customer-asked-for-person';

/** Stored keyword terms are capped at this length (the schema's limit). */
const MAX_TERM = 64;

/**
 * The classification a ticket stores, from the classifier's result and the labels the
 * conversation settled on (the customer may have picked another topic, which staff should review).
 */
export function ticketClassification(c: Classification, settled: { topic: string | null; type: string | null }, reviewReason?: string): TicketClassification {
  const picked = settled.topic !== c.topic;
  return {
    lang: c.lang,
    topic: settled.topic,
    type: settled.type as DemandType | null,
    spam: c.spam,
    // Borderline spam (filed, for staff to decide); the classifier sets it.
    suspectedSpam: c.suspectedSpam === true,
    confidence: c.confidence,
    alternatives: c.alternatives,
    keywords: c.keywords.map((k) => ({ ...k, term: k.term.slice(0, MAX_TERM) })),
    modelVersion: c.modelVersion,
    // A topic the customer picked over the classifier's, or a reason the conversation gives, is for staff to look at.
    needsReview: c.needsReview || picked || reviewReason !== undefined,
    reviewReason: reviewReason ?? (picked ? CUSTOMER_PICKED_TOPIC : c.reason),
  };
}

/** Why the classifier decided what it did: the ticket's own fields, top three alternatives. */
export interface Explanation {
  modelVersion: string;
  confidence: number;
  needsReview: boolean;
  reviewReason: string | null;
  lang: Ticket['lang'];
  alternatives: Ticket['alternatives'];
  keywords: Ticket['keywords'];
  suspectedSpam: boolean;
}

export function explanationOf(t: Ticket): Explanation {
  return {
    modelVersion: t.modelVersion,
    confidence: t.confidence,
    needsReview: t.needsReview,
    reviewReason: t.reviewReason,
    lang: t.lang,
    alternatives: t.alternatives.slice(0, 3),
    keywords: t.keywords,
    suspectedSpam: t.suspectedSpam ?? false,
  };
}

/** A ticket as the staff API returns it: the ticket and its explanation. */
export type TicketView = Ticket & { explanation: Explanation };

export function ticketView(t: Ticket): TicketView {
  return { ...t, explanation: explanationOf(t) };
}
