/**
 * Tickets for staff: the inbox and review queue, detail with the classification explanation,
 * status/priority/assignee changes with a version check, notes, corrections (which become training
 * examples) and replies that reach the customer on their own channel.
 */
import { z } from 'zod';
import { DEMAND_TYPES } from '../../classifier/taxonomy.js';
import { PRIORITIES, TICKET_STATUSES, TicketNumber, TicketQuerySchema, type Ticket } from '../../store/schemas.js';
import type { StaffDeps } from '../deps.js';
import { HttpError, type ApiRouter } from '../http.js';

const NumberParams = z.object({ number: TicketNumber }).strict();
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

/** Demand-type names for the console (the taxonomy file names topics only). */
const TYPE_NAMES: Record<(typeof DEMAND_TYPES)[number], { zh: string; en: string }> = {
  complaint: { zh: '投诉', en: 'Complaint' },
  suggestion: { zh: '建议', en: 'Suggestion' },
  inquiry: { zh: '咨询', en: 'Inquiry' },
  praise: { zh: '表扬', en: 'Praise' },
};

/** The ticket with why the classifier decided what it did, in the shape the console shows. */
function withExplanation(t: Ticket) {
  const explanation = {
    modelVersion: t.modelVersion,
    confidence: t.confidence,
    needsReview: t.needsReview,
    reviewReason: t.reviewReason,
    language: t.lang,
    top3: t.alternatives.slice(0, 3),
    keywords: t.keywords,
  };
  return { ...t, explanation };
}

/** The version an edit is based on: the body's `version`, else an `If-Match: "<version>"` header. */
function expectedVersion(bodyVersion: number | undefined, ifMatch: string | string[] | undefined): number | undefined {
  if (bodyVersion !== undefined) return bodyVersion;
  if (typeof ifMatch !== 'string') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
  if (!m) throw new HttpError(400, 'VALIDATION_FAILED', 'If-Match must be the ticket version, e.g. "3"', [{ field: 'header.if-match', message: 'not a version' }]);
  return Number(m[1]);
}

export function registerTicketRoutes(router: ApiRouter, deps: StaffDeps): void {
  const { store, taxonomy } = deps;
  const audit = (actor: string, action: string, target: string, details: Record<string, unknown>) => store.audit.record({ actor, action, target, details });
  const ticketOr404 = async (number: string) => {
    const t = await store.tickets.get(number);
    if (!t) throw new HttpError(404, 'NOT_FOUND', `ticket ${number} not found`);
    return t;
  };

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
        types: DEMAND_TYPES.map((id) => ({ id, name: TYPE_NAMES[id] })),
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
    handler: async ({ query }) => ({ body: await store.tickets.list(query) }),
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
      const t = await ticketOr404(params.number);
      return { body: withExplanation(t), headers: { ETag: `"${t.version}"` } };
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
      const before = await ticketOr404(params.number);
      const t = await store.tickets.update(params.number, patch, { expectedVersion: expectedVersion(version, req.headers['if-match']), by: principal!.username });
      const changes = Object.fromEntries(Object.keys(patch).map((k) => [k, { from: before[k as keyof typeof patch] ?? null, to: t[k as keyof typeof patch] ?? null }]));
      await audit(principal!.username, 'ticket.update', t.number, changes);
      return { body: withExplanation(t), headers: { ETag: `"${t.version}"` } };
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
    handler: async ({ params, body, principal }) => {
      const t = await store.tickets.addNote(params.number, { author: principal!.username, text: body.text });
      await audit(principal!.username, 'ticket.note', t.number, { length: body.text.length });
      return { status: 201, body: withExplanation(t) };
    },
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
    handler: async ({ params, body, principal }) => {
      const r = await store.correctTicket(params.number, { ...body, by: principal!.username });
      await audit(principal!.username, 'ticket.correct', r.ticket.number, { field: body.field, from: r.correction.from, to: r.correction.to });
      return { status: 201, body: { ticket: withExplanation(r.ticket), correction: r.correction } };
    },
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
    handler: async ({ params, body, principal }) => {
      const r = await deps.replies.send(params.number, body.text, principal!.username);
      await audit(principal!.username, 'ticket.reply', r.ticket.number, { delivered: r.delivered, length: body.text.length });
      return { status: 201, body: { ticket: withExplanation(r.ticket), delivered: r.delivered } };
    },
  });
}
