/**
 * Domain events of the desk: what the staff console follows live (a ticket filed, a customer wrote,
 * a person was requested, taken, a live message, a live chat ended). Each event is one typed
 * object; `GET /api/events` streams them to the console as Server-Sent Events (staff/routes/events.ts).
 *
 * Several bot processes may share one database, and a customer's message may be handled by another
 * process than the one holding the agent's stream, so an in-process bus alone would miss events.
 * Events are therefore written to a small time-bucketed collection (store/event-log.ts) that every
 * process with a listener polls; the publishing process also hands them to its own listeners at once.
 *
 * Using it (console and other server code):
 * ```ts
 * const stop = services.events.subscribe((e) => { if (e.type === 'handover.requested') … });
 * services.events.publish({ type: 'ticket.created', ticketNumber: 'T20261206-0001', channelId: 'webchat' });
 * ```
 * In the browser: `staff/console/events.js` (`onDeskEvent(listener)`).
 */

/** Why a conversation asked for a person. */
export const HANDOVER_REASONS = ['asked', 'frustration'] as const;
export type HandoverReason = (typeof HANDOVER_REASONS)[number];

/** How a live conversation ended. */
export const HANDOVER_ENDINGS = ['handedBack', 'ended', 'timedOut', 'cancelled'] as const;
export type HandoverEnding = (typeof HANDOVER_ENDINGS)[number];

/** The payload of each event type (`type` is the discriminant). */
export interface DeskEventPayloads {
  /** A ticket was filed (by the bot, a channel or staff). */
  'ticket.created': { ticketNumber: string; channelId: string };
  /** A ticket got a new assignee (the console refreshes its views, counts and the assignee's notifications). */
  'ticket.assigned': { ticketNumber: string; assignee: string | null; by: string };
  /** A customer added a message to a ticket outside a live chat (a follow-up, "补充 …"). */
  'ticket.customerMessage': { ticketNumber: string; text: string };
  /** A conversation entered the live queue. */
  'handover.requested': { handoverId: string; ticketNumber: string; channelId: string; reason: HandoverReason; lang: string; text: string };
  /** An agent took a waiting conversation. */
  'handover.taken': { handoverId: string; ticketNumber: string; by: string };
  /** A message in a live (or waiting) conversation, from the customer or the agent. */
  'live.message': { handoverId: string; ticketNumber: string; from: 'customer' | 'agent'; by: string | null; text: string; delivered: boolean };
  /** A live conversation left the queue: handed back to the bot, ended, timed out or cancelled. */
  'handover.ended': { handoverId: string; ticketNumber: string; how: HandoverEnding; by: string | null };
}

export type DeskEventType = keyof DeskEventPayloads;

/** Every event type, for validation and the API document. */
export const DESK_EVENT_TYPES = ['ticket.created', 'ticket.assigned', 'ticket.customerMessage', 'handover.requested', 'handover.taken', 'live.message', 'handover.ended'] as const satisfies readonly DeskEventType[];

/** An event to publish: its type and payload. */
export type DeskEventInput = { [K in DeskEventType]: { type: K } & DeskEventPayloads[K] }[DeskEventType];

/**
 * A published event: `id` orders events (milliseconds since the epoch in base 36, then a random
 * part) and is the SSE `id:` a reconnecting client sends back as `Last-Event-ID`; `at` is ISO 8601.
 */
export type DeskEvent = DeskEventInput & { id: string; at: string };

export type DeskEventListener = (event: DeskEvent) => void;

/** Publishing and following desk events (store/event-log.ts implements it over the database). */
export interface DeskEvents {
  /**
   * Publishes an event: this process's listeners get it at once, other processes within their poll
   * interval. Never throws: a lost event must not fail the operation that caused it (it is logged).
   */
  publish(event: DeskEventInput): DeskEvent;
  /**
   * Follows every event published from now on (after `afterId`, when given: a stream that resumes);
   * returns the function that stops following.
   */
  subscribe(listener: DeskEventListener, afterId?: string | null): () => void;
  /** Events after `afterId` (exclusive) still kept (the last minutes), oldest first, at most `limit`. */
  since(afterId: string | null, limit?: number): Promise<DeskEvent[]>;
}

/** Compares event ids (their order is the order of publication, to the millisecond). */
export function compareEventIds(a: string, b: string): number {
  // Split at the first '-' only: ids written before the random part became hex may hold '-' in it.
  const [ta, ra] = splitEventId(a);
  const [tb, rb] = splitEventId(b);
  const na = parseInt(ta, 36);
  const nb = parseInt(tb, 36);
  if (na !== nb) return na < nb ? -1 : 1;
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

function splitEventId(id: string): [string, string] {
  const i = id.indexOf('-');
  return i < 0 ? [id, ''] : [id.slice(0, i), id.slice(i + 1)];
}

/** The publication time (ms) an event id carries, or null for something that is not an event id. */
export function eventIdTime(id: string): number | null {
  const m = /^([0-9a-z]{1,11})-[A-Za-z0-9_-]{6,32}$/.exec(id);
  if (!m) return null;
  const t = parseInt(m[1], 36);
  return Number.isSafeInteger(t) ? t : null;
}
