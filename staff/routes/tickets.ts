/**
 * Tickets for staff: the inbox and review queue, detail with the classification explanation,
 * status/priority/assignee changes with a version check, notes, corrections, review confirmations
 * and spam decisions (which become training examples) and replies that reach the customer on their
 * own channel (an undelivered one can be retried). Each route is a schema plus one call into the desk (desk/tickets.ts).
 */
import { z } from 'zod';
import { names, REPLY_LANGS } from '../../bot/messages.js';
import { STAFF_CHANNELS, type BulkAction } from '../../desk/tickets.js';
import { ContactSchema, PRIORITIES, ReplyRequestId, TICKET_STATUSES, TicketNumber, TicketQuerySchema, type TicketQuery } from '../../store/schemas.js';
import { EXPORT_FORMATS, EXPORT_MAX_ROWS, exportRows, toCsv, toXlsx } from '../ticket-export.js';
import type { StaffDeps } from '../deps.js';
import { HttpError, type ApiResult, type ApiRouter } from '../http.js';

const NumberParams = z.object({ number: TicketNumber }).strict();
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
/** A reply; `requestId` is the form's idempotency key: the same one twice sends the reply once. */
const ReplyBody = z.object({ text: z.string().trim().min(1).max(4000), requestId: ReplyRequestId.optional() }).strict();
/** `confirm=true`: send again a reply whose delivery outcome is unknown (it may have reached the customer). */
const RetryQuery = z.object({ confirm: z.enum(['true', 'false']).optional() }).strict();
const SpamBody = z.object({ spam: z.boolean() }).strict();
/**
 * Settling a reply of unknown outcome: `delivered` (the customer confirmed they have it) or not, and
 * the reply's `attempts` as the staff member saw it (1 for a reply never sent again), so a resend
 * since is not settled by mistake.
 */
const SettleBody = z.object({ delivered: z.boolean(), attempts: z.number().int().min(1).max(1000) }).strict();

/** The console's named views; each is a filter over open tickets (the review queue: tickets in review). */
export const VIEWS = ['mine', 'unassigned', 'waiting', 'overdue', 'review'] as const;
const ListQuery = TicketQuerySchema.extend({ view: z.enum(VIEWS).optional() });
const ExportQuery = ListQuery.omit({ page: true, pageSize: true }).extend({ format: z.enum(EXPORT_FORMATS), lang: z.enum(REPLY_LANGS).default('zh-Hans') });

/** The filter a view stands for, for `username` (spam is never work to do). */
function viewFilter(view: (typeof VIEWS)[number] | undefined, username: string): Partial<TicketQuery> {
  switch (view) {
    case 'mine':
      return { assignee: username, open: true, spam: false };
    case 'unassigned':
      return { unassigned: true, open: true, spam: false };
    case 'waiting':
      return { waiting: true, spam: false };
    case 'overdue':
      return { overdue: true, spam: false };
    case 'review':
      return { needsReview: true };
    default:
      return {};
  }
}

const NewTicketBody = z
  .object({
    channel: z.enum(STAFF_CHANNELS),
    text: z.string().trim().min(1).max(4000),
    customer: z.object({ name: z.string().trim().min(1).max(128).optional() }).strict().extend(ContactSchema.shape).strict(),
    priority: z.enum(PRIORITIES).optional(),
    /** The form's idempotency key: the same one twice is one ticket (a double submit, a retry after a lost answer). */
    requestId: ReplyRequestId.optional(),
  })
  .strict();

const BulkBody = z
  .object({
    numbers: z.array(TicketNumber).min(1).max(200),
    action: z.enum(['assign', 'status', 'spam']),
    assignee: Person.nullable().optional(),
    status: z.enum(TICKET_STATUSES).optional(),
    spam: z.boolean().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const needed = b.action === 'assign' ? 'assignee' : b.action;
    if (b[needed] === undefined) ctx.addIssue({ code: 'custom', path: [needed], message: `required for action "${b.action}"` });
  });

/** The version an edit is based on: the body's `version`, else an `If-Match: "<version>"` header. */
function expectedVersion(bodyVersion: number | undefined, ifMatch: string | string[] | undefined): number | undefined {
  if (bodyVersion !== undefined) return bodyVersion;
  if (typeof ifMatch !== 'string') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(ifMatch.trim());
  if (!m) throw new HttpError(400, 'VALIDATION_FAILED', 'If-Match must be the ticket version, e.g. "3"', [{ field: 'header.if-match', message: 'not a version' }]);
  return Number(m[1]);
}

/**
 * Registers the staff ticket routes: the taxonomy, the inbox (list, counts, filing, bulk actions,
 * export), one ticket's detail and edits, and replies to the customer. The order is the order of the
 * OpenAPI document.
 */
export function registerTicketRoutes(router: ApiRouter, deps: StaffDeps): void {
  registerTaxonomyRoute(router, deps);
  registerInboxRoutes(router, deps);
  registerTicketEditRoutes(router, deps);
  registerReplyRoutes(router, deps);
}

/** GET /api/taxonomy: the names the console shows, in each language. */
function registerTaxonomyRoute(router: ApiRouter, deps: StaffDeps): void {
  const { taxonomy } = deps;
  const hant = names(taxonomy, 'zh-Hant');

  router.add({
    method: 'get',
    path: '/api/taxonomy',
    summary: 'Topics, demand types, statuses and priorities with their Chinese and English names',
    tag: 'tickets',
    role: 'agent',
    handler: async () => ({
      body: {
        version: taxonomy.version,
        // Names come from data/taxonomy.json (the one definition); zh-Hant converted as the bot shows them.
        topics: taxonomy.topics.map((t) => ({ id: t.id, name: { ...t.name, 'zh-Hant': hant.topic(t.id) } })),
        types: taxonomy.types.map((t) => ({ id: t.id, name: { ...t.name, 'zh-Hant': hant.type(t.id) } })),
        statuses: TICKET_STATUSES,
        priorities: PRIORITIES,
      },
    }),
  });
}

/** The inbox: list (with views), navigation counts, a ticket filed by staff, bulk actions, export. */
function registerInboxRoutes(router: ApiRouter, deps: StaffDeps): void {
  const tickets = deps.services.tickets;

  router.add({
    method: 'get',
    path: '/api/tickets',
    summary: 'Tickets with filters, views (view=mine, unassigned, waiting, overdue, review), sorting and pagination; each ticket with dueAt, waiting and overdue',
    tag: 'tickets',
    role: 'agent',
    query: ListQuery,
    handler: async ({ query, principal }) => {
      const { view, ...q } = query;
      return { body: await tickets.listForStaff({ ...q, ...viewFilter(view, principal!.username) }) };
    },
  });

  router.add({
    method: 'get',
    path: '/api/tickets/counts',
    summary: "The navigation's counts: tickets in review, and open tickets assigned to you, unassigned, waiting for the customer and overdue (from the read model of open tickets, no scan)",
    tag: 'tickets',
    role: 'agent',
    handler: async ({ principal }) => ({ body: await deps.store.ticketIndex.workCounts(principal!.username) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets',
    summary:
      "Files a ticket for a customer who called, came in or wrote (channel phone, walk-in, letter, email, other): classified like any other ticket, counted in the customer's profile. While the database is unreachable it is queued in the outbox under a provisional number (202) and stored when the database is back. With requestId, a second request with the same id files nothing and returns the first one's ticket (duplicate: true)",
    tag: 'tickets',
    role: 'agent',
    body: NewTicketBody,
    responses: {
      201: '{ticket, stored: "database", duplicate}: the ticket is stored',
      202: '{ticket, stored: "outbox", duplicate}: the database is unreachable; the ticket is queued under a provisional number (ticket.number, which may change when it is stored if another ticket took it meanwhile: the former number then finds it). With requestId and duplicate: false, the database could not be asked whether an earlier submit stored it: if one did, that ticket is kept at replay and this provisional number finds it in search',
    },
    handler: async ({ body, principal }) => {
      const c = deps.classifier.classify(body.text);
      const { ticket, stored, duplicate } = await tickets.fileForCustomer(body, c, principal!.username);
      return { status: stored === 'outbox' ? 202 : 201, body: { ticket: tickets.staffView(ticket), stored, duplicate } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/tickets/bulk',
    summary: 'One action on several tickets (assign, status, spam): an outcome per ticket, each change audited',
    tag: 'tickets',
    role: 'agent',
    body: BulkBody,
    responses: { 200: '{results: [{number, ok, version} | {number, ok: false, code, message}]}' },
    handler: async ({ body, principal }) => {
      const action: BulkAction = body.action === 'assign' ? { action: 'assign', assignee: body.assignee ?? null } : body.action === 'status' ? { action: 'status', status: body.status! } : { action: 'spam', spam: body.spam! };
      const results = await tickets.bulk(body.numbers, action, principal!.username);
      return { body: { results, ok: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length } };
    },
  });

  router.add({
    method: 'get',
    path: '/api/tickets/export',
    summary: `The tickets of a filter or view as CSV (UTF-8 with BOM) or Excel (xlsx); at most ${EXPORT_MAX_ROWS} rows, a larger filter is refused`,
    tag: 'tickets',
    role: 'agent',
    query: ExportQuery,
    responses: { 200: 'the file (text/csv or application/vnd.openxmlformats-officedocument.spreadsheetml.sheet)', 400: 'invalid filter, or more rows than one export holds' },
    handler: ({ query, principal }) => exportTickets(deps, query, principal!.username),
  });
}

/** One ticket: detail, status/priority/assignee with a version check, notes, corrections, review and spam decisions. */
function registerTicketEditRoutes(router: ApiRouter, deps: StaffDeps): void {
  const tickets = deps.services.tickets;

  router.add({
    method: 'get',
    path: '/api/tickets/{number}',
    summary:
      'One ticket with the explanation of its classification, and `alsoQuotedFor`: the tickets queued under this number during a database outage and stored under other numbers at replay because this ticket had taken it (whoever was given this number means one of those). A provisional number that stands for a stored ticket (a form sent again during a database outage, queued under it, whose copy the replay dropped because the first submit had stored the ticket) redirects to that ticket (308)',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    responses: {
      200: 'the ticket, with `alsoQuotedFor: [{number}]` (empty for nearly every ticket): each ticket queued under this number during an outage and stored as `number` because this one had taken it',
      308: '{number, provisional}: the provisional number stands for the stored ticket `number`; Location: /api/tickets/{number} (not cached). Clients that follow redirects get that ticket; change it under its own number',
      404: 'no such ticket',
    },
    handler: async ({ params }) => {
      const found = await tickets.open(params.number);
      if ('storedAs' in found) {
        const headers = { Location: `/api/tickets/${encodeURIComponent(found.storedAs)}`, 'Cache-Control': 'no-store' };
        return { status: 308, headers, body: { number: found.storedAs, provisional: params.number } };
      }
      return { body: found.ticket, headers: { ETag: `"${found.ticket.version}"` } };
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
}

/** Replies to the customer on the ticket's channel, and the retry of one not delivered. */
function registerReplyRoutes(router: ApiRouter, deps: StaffDeps): void {
  const tickets = deps.services.tickets;

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/replies',
    summary:
      'Sends a message to the customer on the channel the ticket came from: recorded on the ticket first (sending), then sent, then its outcome recorded. With requestId, a second request with the same id sends nothing and returns the first one\'s reply (duplicate: true)',
    tag: 'tickets',
    role: 'agent',
    params: NumberParams,
    body: ReplyBody,
    responses: {
      201: 'sent (delivered: true) or recorded as not delivered (delivered: false, with the error); recorded: false when it was sent but its outcome could not be recorded (the reply stays "sending": do not send it again)',
      400: 'empty text, or a requestId already used for another text',
      404: 'no such ticket',
      503: 'the database is unavailable: nothing was sent',
    },
    handler: async ({ params, body, principal }) => ({ status: 201, body: await tickets.reply(params.number, body.text, principal!.username, body.requestId ? { requestId: body.requestId } : {}) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/replies/{id}/retry',
    summary:
      'Sends an undelivered reply again on the ticket\'s channel and records the outcome on that reply; a reply whose outcome is unknown (still "sending": it may have reached the customer) only with confirm=true',
    tag: 'tickets',
    role: 'agent',
    params: ReplyParams,
    query: RetryQuery,
    responses: {
      200: 'sent (delivered: true) or still not delivered (delivered: false, with the error)',
      400: 'the reply\'s outcome is unknown and confirm=true was not given',
      404: 'no such ticket or reply',
      409: 'the reply was already delivered (e.g. sent again or settled by someone else): nothing is sent',
    },
    handler: async ({ params, query, principal }) => ({ body: await tickets.retryReply(params.number, params.id, principal!.username, { confirmed: query.confirm === 'true' }) }),
  });

  router.add({
    method: 'post',
    path: '/api/tickets/{number}/replies/{id}/settle',
    summary:
      'Settles a reply whose delivery outcome is unknown (still "sending") without sending it: delivered: true when the customer confirmed they have it; delivered: false marks it not delivered, so it can be sent again without confirm=true. Kept on the reply (settledBy, settledAt) and audited (ticket.reply-settle)',
    tag: 'tickets',
    role: 'agent',
    params: ReplyParams,
    body: SettleBody,
    responses: {
      200: 'the ticket, the reply settled',
      404: 'no such ticket or reply',
      409: 'the reply\'s outcome is not unknown (delivered or not delivered already, e.g. settled by someone else), or it was sent again since (attempts differs)',
    },
    handler: async ({ params, body, principal }) => ({ body: await tickets.settleReply(params.number, params.id, principal!.username, body) }),
  });
}

/** The export of a filter or view as a file; a filter over EXPORT_MAX_ROWS tickets is refused, not cut short. */
async function exportTickets(deps: StaffDeps, query: z.infer<typeof ExportQuery>, username: string): Promise<ApiResult> {
  const tickets = deps.services.tickets;
  const { view, format, lang, ...q } = query;
  const filter = { ...q, ...viewFilter(view, username) };
  const first = await tickets.listForStaff({ ...filter, page: 1, pageSize: 200 });
  if (first.total > EXPORT_MAX_ROWS) {
    throw new HttpError(400, 'EXPORT_TOO_LARGE', `the filter matches ${first.total} tickets; one export holds at most ${EXPORT_MAX_ROWS}: narrow it (e.g. a date range)`, [{ field: 'query', message: 'too many rows' }]);
  }
  const items = [...first.items];
  for (let page = 2; items.length < first.total; page++) {
    const next = await tickets.listForStaff({ ...filter, page, pageSize: 200 });
    if (next.items.length === 0) break;
    items.push(...next.items);
  }
  const rows = exportRows(items, deps.taxonomy, lang, deps.config.TIME_ZONE);
  const stamp = new Date().toISOString().slice(0, 10);
  const file = `tickets-${stamp}.${format}`;
  const headers = { 'Content-Disposition': `attachment; filename="${file}"`, 'X-Export-Rows': String(items.length) };
  if (format === 'csv') return { headers, raw: { contentType: 'text/csv; charset=utf-8', data: toCsv(rows) } };
  return { headers, raw: { contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', data: await toXlsx(rows, 'tickets') } };
}
