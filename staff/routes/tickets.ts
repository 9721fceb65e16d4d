/**
 * Tickets for staff: the inbox and review queue, detail with the classification explanation,
 * status/priority/assignee changes with a version check, notes, corrections, review confirmations
 * and spam decisions (which become training examples) and replies that reach the customer on their
 * own channel (an undelivered one can be retried). Each route is a schema plus one call into the desk (desk/tickets.ts).
 */
import { z } from 'zod';
import { PRIORITIES, TICKET_STATUSES, TicketNumber, TicketQuerySchema } from '../../store/schemas.js';
import { notificationsFor } from '../../desk/notifications.js';
import type { StaffDeps } from '../deps.js';
import { HttpError, type ApiRouter } from '../http.js';

const NumberParams = z.object({ number: TicketNumber }).strict();
const NotificationQuery = z
  .object({ unassigned: z.enum(['true', 'false']).transform((v) => v === 'true').optional(), limit: z.coerce.number().int().min(1).max(200).default(50) })
  .strict();
const ReplyParams = z.object({ number: TicketNumber, id: z.string().uuid() }).strict();
const Person = z.string().trim().min(1).max(64);
const PatchBody = z
  .object({
    status: z.enum(TICKET_STATUSES).optional(),
    priority: z.enum(PRIORITIES).optional(),
    assignee: Person.nullable().optional(),
    /** The version the editor saw; a newer stored version means someone else changed it → 409. */
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((b) => b.status !== undefined || b.priority !== undefined || b.assignee !== undefined, 'nothing to change: send status, priority or assignee');
const NoteBody = z.object({ text: z.string().trim().min(1).max(4000) }).strict();
const CorrectionBody = z.object({ field: z.enum(['topic', 'type']), to: z.string().min(1).max(40) }).strict();
const ReplyBody = z.object({ text: z.string().trim().min(1).max(4000) }).strict();
const SpamBody = z.object({ spam: z.boolean() }).strict();

/** The version an edit is based on: the body's `version`, else an `If-Match: "<version>"` header. */
function expectedVersion(bodyVersion: number | undefined, ifMatch: string | string[] | undefined): number | undefined {
  if (bodyVersion !== undefined) return bodyVersion;
  if (typeof ifMatch !== 'string') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
  if (!m) throw new HttpError(400, 'VALIDATION_FAILED', 'If-Match must be the ticket version, e.g. "3"', [{ field: 'header.if-match', message: 'not a version' }]);
  return Number(m[1]);
}

export function registerTicketRoutes(router: ApiRouter, deps: StaffDeps): void {
  const { taxonomy } = deps;
  const tickets = deps.services.tickets;

  router.add({
    method: 'get',
    path: '/api/taxonomy',
    summary: 'Topics, demand types, statuses and priorities with their Chinese and English names',
    tag: 'tickets',
    role: 'agent',
    handler: async () => ({
      body: {
        version: taxonomy.version,
        topics: taxonomy.topics.map((t) => ({ id: t.id, name: t.name })),
        // Names come from data/taxonomy.json, the one definition of the demand types.
        types: taxonomy.types.map((t) => ({ id: t.id, name: t.name })),
        statuses: TICKET_STATUSES,
        priorities: PRIORITIES,
      },
    }),
  });

  router.add({
    method: 'get',
    path: '/api/tickets',
    summary: 'Tickets with filters, sorting (sort=review: the review queue) and pagination',
    tag: 'tickets',
    role: 'agent',
    query: TicketQuerySchema,
    handler: async ({ query }) => ({ body: await tickets.list(query) }),
  });

  router.add({
    method: 'get',
    path: '/api/tickets/{number}',
    summary: 'One ticket with the explanation of its classification',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    responses: { 200: 'the ticket', 404: 'no such ticket' },
    handler: async ({ params }) => {
      const t = await tickets.view(params.number);
      return { body: t, headers: { ETag: `"${t.version}"` } };
    },
  });

  router.add({
    method: 'patch',
    path: '/api/tickets/{number}',
    summary: 'Changes status, priority or assignee; send the version you saw (or If-Match) to be told about concurrent edits',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: PatchBody,
    responses: { 200: 'the updated ticket', 404: 'no such ticket', 409: 'someone else changed the ticket since that version' },
    handler: async ({ params, body, principal, req }) => {
      const { version, ...patch } = body;
      const t = await tickets.change(params.number, patch, principal!.username, { expectedVersion: expectedVersion(version, req.headers['if-match']) });
      return { body: t, headers: { ETag: `"${t.version}"` } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/notes',
    summary: 'Adds an internal note (not shown to the customer)',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: NoteBody,
    responses: { 201: 'the updated ticket', 404: 'no such ticket' },
    handler: async ({ params, body, principal }) => ({ status: 201, body: await tickets.annotate(params.number, body.text, principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/corrections',
    summary: "Corrects the ticket's topic or type; the correction is kept on the ticket and becomes a training example",
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: CorrectionBody,
    responses: { 201: 'the corrected ticket and the correction', 404: 'no such ticket' },
    handler: async ({ params, body, principal }) => ({ status: 201, body: await tickets.correct(params.number, body, principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/review',
    summary: 'Confirms the classification as correct: the ticket leaves the review queue and its labels become a training example',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    responses: { 200: 'the confirmed ticket (reviewedBy, reviewedAt)', 400: 'a spam ticket, or nothing to confirm', 404: 'no such ticket' },
    handler: async ({ params, principal }) => ({ body: await tickets.confirmReview(params.number, principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/spam',
    summary: 'Staff decision that the ticket is spam ({"spam": true}) or not ({"spam": false}): it becomes a training example for the spam head and the ticket leaves or enters the spam view',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: SpamBody,
    responses: { 200: 'the ticket with spamDecision', 404: 'no such ticket' },
    handler: async ({ params, body, principal }) => ({ body: await tickets.decideSpam(params.number, body.spam, principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/replies',
    summary: 'Sends a message to the customer on the channel the ticket came from and records it on the ticket',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: ReplyBody,
    responses: { 201: 'sent (delivered: true) or recorded as not delivered (delivered: false, with the error)', 404: 'no such ticket' },
    handler: async ({ params, body, principal }) => ({ status: 201, body: await tickets.reply(params.number, body.text, principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/replies/{id}/retry',
    summary: 'Sends an undelivered reply again on the ticket\'s channel and records the outcome on that reply',
    tag: 'tickets',
    role: 'agent',
    params: ReplyParams,
    responses: { 200: 'sent (delivered: true) or still not delivered (delivered: false, with the error)', 400: 'the reply was already delivered', 404: 'no such ticket or reply' },
    handler: async ({ params, principal }) => ({ body: await tickets.retryReply(params.number, params.id, principal!.username) }),
  });

  router.add({
    method: 'get',
    path: '/api/notifications',
    summary: "The signed-in user's notifications, newest first: customers writing on or rating their tickets (desk/notifications.ts)",
    tag: 'tickets',
    role: 'agent',
    query: NotificationQuery,
    responses: { 200: '{ items: [{ id, kind, ticket, at, details }] }' },
    handler: async ({ query, principal }) => ({ body: { items: await notificationsFor(deps.store.audit, principal!.username, { includeUnassigned: query.unassigned, limit: query.limit }) } }),
  });
}
