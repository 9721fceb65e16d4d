/**
 * The live console's API: the desk's event stream (`GET /api/events`) and the live queue (list,
 * one conversation with its transcript, take, send a message, hand back, end). Each route is a
 * schema plus one call into the desk (desk/handover.ts, desk/events.ts).
 *
 * `GET /api/events`
 * - with `Accept: text/event-stream`: a Server-Sent Events stream. Each event is sent as
 *   `id: <event id>`, `event: <type>` (ticket.created, ticket.customerMessage, handover.requested,
 *   handover.taken, live.message, handover.ended) and `data: <the event as JSON>`; a comment line
 *   every 15 s keeps proxies from closing it. A client that reconnects with `Last-Event-ID` (or
 *   `?after=<id>`) first gets what it missed (events are kept nine to ten minutes). The stream closes when
 *   the session ends (checked every minute) and on server shutdown; clients reconnect.
 * - otherwise: JSON `{ events, lastEventId }` with the events after `?after=` (polling fallback).
 * Browsers' EventSource cannot send an Authorization header: the console reads the stream with
 * fetch (staff/console/events.js).
 */
import type restify from 'restify';
import { z } from 'zod';
import { REPLY_LANGS, sayServiceHours, type ReplyLang } from '../../bot/messages.js';
import { checkLiveText } from '../../desk/handover.js';
import type { ServiceHours } from '../../desk/service-hours.js';
import type { DeskEvent } from '../../desk/events.js';
import type { Handover } from '../../store/handover-repository.js';
import { ReplyRequestId } from '../../store/schemas.js';
import type { StaffDeps } from '../deps.js';
import { databaseUnreachable, type ApiRouter, type Authenticate } from '../http.js';

const IdParams = z.object({ id: z.string().uuid() }).strict();
const EventsQuery = z.object({ after: z.string().regex(/^[0-9a-z]{1,11}-[A-Za-z0-9_-]{6,32}$/, 'an event id').optional() }).strict();
/** An agent's live message; `requestId` is the form's idempotency key, as for a ticket reply: the same one twice sends it once. */
const MessageBody = z.object({ text: z.string().trim().min(1).max(4000), requestId: ReplyRequestId.optional() }).strict();

const HEARTBEAT_MS = 15_000;
const SESSION_CHECK_MS = 60_000;

/** A queue entry as the API shows it. */
function view(h: Handover, now: number) {
  return { ...h, waitedSeconds: Math.round(((h.takenAt?.getTime() ?? now) - h.requestedAt.getTime()) / 1000) };
}

/**
 * The service hours said in each console language, as the bot says them to customers in theirs
 * (`Mon-Fri 09:00-18:00` reads 周一至周五 09:00–18:00, 週一至週五 09:00–18:00, Mon–Fri 09:00–18:00);
 * null when a person can always take a conversation.
 */
function hoursSaid(hours: ServiceHours | null): Record<ReplyLang, string> | null {
  return hours ? (Object.fromEntries(REPLY_LANGS.map((l) => [l, sayServiceHours(hours, l)])) as Record<ReplyLang, string>) : null;
}

/** Open event streams, closed on shutdown. */
export interface EventStreams {
  open(): number;
  closeAll(): void;
}

/**
 * Registers the event stream and the live queue's routes; returns the open streams, which the server
 * closes on shutdown.
 */
export function registerLiveRoutes(router: ApiRouter, deps: StaffDeps & { authenticate: Authenticate }): EventStreams {
  const streams = new Set<() => void>();
  registerEventsRoute(router, deps, streams);
  registerQueueRoutes(router, deps);
  return {
    open: () => streams.size,
    closeAll: () => {
      for (const close of [...streams]) close();
    },
  };
}

/** GET /api/events: the stream (or, without text/event-stream, the events after `?after=` as JSON). */
function registerEventsRoute(router: ApiRouter, deps: StaffDeps & { authenticate: Authenticate }, streams: Set<() => void>): void {
  const { events } = deps.services;

  router.add({
    method: 'get',
    path: '/api/events',
    summary:
      'Live updates (ticket.created, ticket.customerMessage, handover.requested, handover.taken, live.message, handover.ended): a Server-Sent Events stream with Accept: text/event-stream (resumes from Last-Event-ID), else JSON {events, lastEventId} after ?after=',
    tag: 'live',
    role: 'agent',
    query: EventsQuery,
    responses: { 200: 'text/event-stream, or JSON {events: DeskEvent[], lastEventId}' },
    handler: async ({ req, query, principal }) => {
      // A stream shows customers' messages as they come: a read, which needs the database's word
      // on the session now, not this process's memory of it (the database is unreachable).
      if (principal!.remembered) throw databaseUnreachable();
      const lastHeader = req.headers['last-event-id'];
      const after = query.after ?? (typeof lastHeader === 'string' && EventsQuery.shape.after.safeParse(lastHeader).success ? lastHeader : null);
      const accept = String(req.headers.accept ?? '');
      if (!accept.includes('text/event-stream')) {
        const list = await events.since(after ?? null);
        return { body: { events: list, lastEventId: list.at(-1)?.id ?? after ?? null } };
      }
      const token = String(req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
      return { stream: (res) => streamEvents(deps, streams, req, res, after ?? null, token) };
    },
  });
}

/**
 * One Server-Sent Events stream: events after `after` first, then live ones, each once; heartbeats,
 * and closed when the session behind `token` ends. Its `close` is in `streams` while it is open.
 */
function streamEvents(deps: StaffDeps & { authenticate: Authenticate }, streams: Set<() => void>, req: restify.Request, res: restify.Response, after: string | null, token: string): void {
  const { events } = deps.services;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    'X-Content-Type-Options': 'nosniff',
  });
  res.write('retry: 2000\n\n');
  const sent = new Set<string>();
  let replaying: DeskEvent[] | null = [];
  const write = (e: DeskEvent) => {
    if (sent.has(e.id)) return;
    sent.add(e.id);
    if (sent.size > 5000) sent.clear();
    res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  // Listen first, then catch up, so nothing published in between is missed (ids deduplicate).
  const unsubscribe = events.subscribe((e) => (replaying ? replaying.push(e) : write(e)), after);
  const heartbeat = setInterval(() => res.write(`: ${Date.now()}\n\n`), HEARTBEAT_MS);
  const sessionCheck = setInterval(() => {
    deps.authenticate(token).then(
      (p) => (p ? undefined : close()),
      () => undefined,
    );
  }, SESSION_CHECK_MS);
  const close = () => {
    if (!streams.delete(close)) return;
    unsubscribe();
    clearInterval(heartbeat);
    clearInterval(sessionCheck);
    res.end();
  };
  streams.add(close);
  req.on('close', close);
  const catchUp = after ? events.since(after) : Promise.resolve([]);
  catchUp
    .then((missed) => {
      for (const e of missed) write(e);
    })
    .catch((err: Error) => deps.log.warn({ err: err.message }, 'event stream could not catch up'))
    .finally(() => {
      const queued = replaying ?? [];
      replaying = null;
      for (const e of queued) write(e);
    });
}

/** The live queue: list, one conversation, take, send a message, hand back and end. */
function registerQueueRoutes(router: ApiRouter, deps: StaffDeps): void {
  const { handovers } = deps.services;

  router.add({
    method: 'get',
    path: '/api/live',
    summary:
      'The live queue: conversations waiting for a person (oldest first) and live conversations, with who took them; whether a person can take one now (staffed), and the service hours as written (serviceHours) and said in each console language (serviceHoursSaid: zh-Hans, zh-Hant, en), or null when always staffed',
    tag: 'live',
    role: 'agent',
    handler: async () => {
      const now = Date.now();
      return { body: { items: (await handovers.list()).map((h) => view(h, now)), staffed: handovers.staffed(), serviceHours: handovers.hoursText(), serviceHoursSaid: hoursSaid(handovers.serviceHours()), waitSeconds: handovers.waitMs() / 1000 } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/live/{id}',
    summary: 'One live conversation with its transcript (customer messages and agent replies since the request, from the ticket)',
    tag: 'live',
    role: 'agent',
    params: IdParams,
    handler: async ({ params }) => {
      const { handover, transcript } = await handovers.view(params.id);
      return { body: { handover: view(handover, Date.now()), transcript } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/live/{id}/take',
    summary: 'Take a waiting conversation (409 when another agent took it first or its wait ran out); the customer is told who joined',
    tag: 'live',
    role: 'agent',
    params: IdParams,
    responses: { 200: 'taken: the queue entry', 409: 'already taken, or no longer waiting', 404: 'not in the queue (ended)', 503: 'the database cannot give the ticket: nothing changed' },
    handler: async ({ params, principal }) => ({ body: view(await handovers.take(params.id, principal!.username), Date.now()) }),
  });

  router.add({
    method: 'post',
    path: '/api/live/{id}/messages',
    summary: "Send a message to the customer on their channel (only the agent who took the conversation); it is recorded on the ticket as a reply, delivered or not. With requestId, a second request with the same id sends nothing and returns the first one's outcome (duplicate: true)",
    tag: 'live',
    role: 'agent',
    params: IdParams,
    body: MessageBody,
    responses: { 201: '{delivered, duplicate}', 400: 'empty text, or a requestId already used for another text', 409: 'not taken, or taken by someone else', 503: 'the database is down: nothing was sent' },
    handler: async ({ params, body, principal }) => ({ status: 201, body: await handovers.say(params.id, principal!.username, checkLiveText(body.text), body.requestId ? { requestId: body.requestId } : {}) }),
  });

  for (const [action, how, what] of [
    ['hand-back', 'handedBack', 'Hand the conversation back to the bot (which answers the next message); the customer is told. The agent who took it, or an admin'],
    ['end', 'ended', 'End the live conversation; the customer is told, the ticket keeps the conversation. The agent who took it, or an admin'],
  ] as const) {
    router.add({
      method: 'post',
      path: `/api/live/{id}/${action}`,
      summary: what,
      tag: 'live',
      role: 'agent',
      params: IdParams,
      responses: { 204: 'done', 409: 'not taken, or taken by someone else', 404: 'not in the queue', 503: 'the database cannot give the ticket: nothing changed' },
      handler: async ({ params, principal }) => {
        await handovers.release(params.id, principal!.username, how, { override: principal!.role === 'admin' });
        return { status: 204 };
      },
    });
  }
}
