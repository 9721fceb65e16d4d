/**
 * Data shapes of the ticket store, each defined once: the zod schema validates input at the
 * repository boundary and gives the TypeScript type. Objects are strict: unknown fields are
 * rejected, so nothing from a message or a query string can smuggle an operator into MongoDB.
 */
import { z } from 'zod';
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { LANGS } from '../classifier/language.js';
import { HANDOVER_ENDINGS } from '../desk/events.js';

export const TICKET_STATUSES = ['new', 'in_progress', 'resolved', 'closed', 'reopened'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Staff roles: trainer has every agent right, admin every trainer right. */
export const ROLES = ['agent', 'trainer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Allowed status changes: the ticket life cycle. */
export const STATUS_TRANSITIONS: Readonly<Record<TicketStatus, readonly TicketStatus[]>> = {
  new: ['in_progress', 'resolved', 'closed'],
  in_progress: ['resolved', 'closed'],
  resolved: ['closed', 'reopened'],
  closed: ['reopened'],
  reopened: ['in_progress', 'resolved', 'closed'],
};

/** The body of a ticket number: T + creation day + the day's sequence, or O + 6 characters when filed offline. */
const NUMBER_BODY = String.raw`T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})`;
/** A whole ticket number (T20261125-0042, T20261125-O7K2QX). */
export const TICKET_NUMBER = new RegExp(`^${NUMBER_BODY}$`);
/** A ticket number inside a customer's text or a mail subject, any case (upper-case what it finds). */
export const TICKET_NUMBER_IN_TEXT = new RegExp(`\\b${NUMBER_BODY}\\b`, 'i');
/** A mail subject's ticket tag, "[T20261125-0042]", and the spaces around it (for `replace`: every one). */
export const TICKET_TAGS = new RegExp(`\\s*\\[${NUMBER_BODY}\\]\\s*`, 'gi');
const TicketNumber = z.string().regex(TICKET_NUMBER, 'ticket number looks like T20261125-0042');
/** Channel ids are short identifiers (msteams, directline, webchat, emulator, slack, telegram …). */
const ChannelId = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/i, 'channel id: letters, digits, _ and -, up to 40');
const Id = z.string().min(1).max(256);
const Person = z.string().min(1).max(64);
const Topic = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/);

export const CustomerIdentitySchema = z.object({ channelId: ChannelId, userId: Id, name: z.string().max(128).optional() }).strict();
export type CustomerIdentity = z.infer<typeof CustomerIdentitySchema>;

/** A phone number as customers type it: digits, an optional leading +, spaces or dashes (the bot's check too). */
export const PHONE_PATTERN = /^\+?[0-9][0-9 -]{5,19}$/;

export const ContactSchema = z
  .object({
    phone: z.string().regex(PHONE_PATTERN, 'phone: digits, optional +, spaces or dashes').optional(),
    email: z.string().email().max(254).optional(),
  })
  .strict();

export const ClassificationSchema = z
  .object({
    lang: z.enum(LANGS),
    topic: Topic.nullable(),
    type: z.enum(DEMAND_TYPES).nullable(),
    spam: z.boolean(),
    /** Borderline spam score: not spam, but staff should decide (shown in the review queue). */
    suspectedSpam: z.boolean().default(false),
    confidence: z.number().min(0).max(1),
    alternatives: z.array(z.object({ topic: Topic, score: z.number().min(0).max(1) }).strict()).max(11),
    keywords: z.array(z.object({ term: z.string().max(64), topic: Topic, weight: z.number() }).strict()).max(20),
    modelVersion: z.string().min(1).max(100),
    needsReview: z.boolean(),
    reviewReason: z.string().max(40).nullable(),
  })
  .strict();
export type TicketClassification = z.infer<typeof ClassificationSchema>;

/**
 * A customer's attachment kept with a ticket: a reference the channel gave (WeChat's PicUrl and
 * MediaId, WeCom's media_id and file name, a stored mail part …). Where the channel fetched the
 * bytes, they are in the attachments collection (store/attachment-repository.ts), not here.
 */
export const AttachmentSchema = z
  .object({
    kind: z.enum(['image', 'voice', 'video', 'file', 'location', 'link', 'other']),
    url: z.string().url().max(2048).optional(),
    mediaId: z.string().max(256).optional(),
    name: z.string().max(256).optional(),
    contentType: z.string().max(128).optional(),
  })
  .strict();
export type TicketAttachment = z.infer<typeof AttachmentSchema>;

/**
 * A client's request id (idempotency key) for a submit that must take effect once: a reply, a
 * ticket logged by hand. The same id twice is one reply, one ticket.
 */
export const RequestId = z.string().trim().regex(/^[\w-]{8,64}$/, 'letters, digits, - or _, 8 to 64 of them');

/** What the bot hands over to create a ticket. */
export const TicketCreateSchema = z
  .object({
    customer: CustomerIdentitySchema,
    /** The Bot Framework conversation reference, kept as JSON text to message the customer later. */
    conversationRef: z.string().max(16_384).nullable(),
    contact: ContactSchema.optional(),
    text: z.object({ original: z.string().min(1).max(10_000), normalized: z.string().max(20_000) }).strict(),
    classification: ClassificationSchema,
    priority: z.enum(PRIORITIES).default('normal'),
    /** A ticket logged by hand: the staff form's request id (the same id twice is one ticket). */
    requestId: RequestId.optional(),
    /** A ticket logged by hand: who logged it (its audit entry names them, also when it is stored from the outbox). */
    filedBy: Person.optional(),
    /** What the customer sent with the first message (images …); absent on tickets filed before channels existed. */
    attachments: z.array(AttachmentSchema).max(20).optional(),
  })
  .strict();
export type TicketCreate = z.input<typeof TicketCreateSchema>;

/**
 * What the note a live chat's end adds to its ticket says, as data: staff read the console in
 * zh-Hans, zh-Hant or English, and a sentence stored in one language reads wrong in the others, so
 * the console words these facts in the reader's language (the note's `text` keeps an English line
 * for API clients and for notes stored before this existed).
 */
export interface LiveChatNote {
  /** How it left the queue: handed back to the bot, ended by staff, or its wait ran out (nobody took it). */
  how: (typeof HANDOVER_ENDINGS)[number];
  /** Who handed it back or ended it (the agent, or an admin for them); null when the wait ran out. */
  by: string | null;
  /** The agent who had taken it; null when nobody did. */
  agent: string | null;
  /** When the customer asked for a person (ISO time). */
  requestedAt: string;
  /** Customer messages during the wait and the chat (a count kept for the queue: see store/handover-repository.ts). */
  customerMessages: number;
}

/**
 * A notice about a live chat (taken, handed back, ended) that the customer's channel refused when
 * the outbox replay delivered it (desk/tickets.ts `replayNotice`): on the note that tells staff the
 * customer was not told.
 */
export interface UndeliveredNotice {
  /** The live chat it is about. */
  handoverId: string;
  /** What the customer was to be told, in their language. */
  text: string;
  /** The channel's error. */
  error: string;
  /** When the notice was first tried (ISO time). */
  triedAt: string;
}

export interface TicketNote {
  id: string;
  author: string;
  text: string;
  at: Date;
  /** The facts of a live chat, on the note its end added (absent on staff notes and on older ones). */
  liveChat?: LiveChatNote;
  /** A live chat notice the customer's channel refused, on the note the replay added for it. */
  undeliveredNotice?: UndeliveredNotice;
}

export interface TicketCorrection {
  field: 'topic' | 'type';
  from: string | null;
  to: string;
  by: string;
  at: Date;
}

export interface CustomerMessage {
  text: string;
  at: Date;
  /** Media sent with this message (absent when there was none). */
  attachments?: TicketAttachment[];
}

/** A staff member's decision that a ticket is spam or not (a training example for the spam head). */
export interface SpamDecision {
  spam: boolean;
  by: string;
  at: Date;
}

/** A staff reply sent to the customer on their channel. */
export interface StaffReply {
  id: string;
  text: string;
  by: string;
  at: Date;
  /** False when the channel refused it (kept so staff see it was not delivered), or while `sending`. */
  delivered: boolean;
  error: string | null;
  /**
   * True from the moment the reply is recorded until its delivery outcome is: recorded before it is
   * sent, so a reply still `sending` after its send ended is one whose outcome could not be recorded
   * (it may have reached the customer). Absent on replies stored before this existed.
   */
  sending?: boolean;
  /** The client's request id of the submit that made it (a double submit finds it and sends nothing). */
  requestId?: string;
  /** Delivery attempts (1 when absent: replies stored before retries existed). */
  attempts?: number;
  /** When the last retry ran. */
  retriedAt?: Date;
  /**
   * The staff member who settled an unknown outcome by hand (the customer confirmed they have it,
   * or that they do not), and when; absent when the channel's answer was recorded.
   */
  settledBy?: string;
  settledAt?: Date;
}

/** The customer's satisfaction rating (满意度) after resolution: 1–5 and an optional comment. */
export const SatisfactionInputSchema = z.object({ score: z.number().int().min(1).max(5), comment: z.string().trim().max(1000).optional() }).strict();
export type SatisfactionInput = z.infer<typeof SatisfactionInputSchema>;

/** A recorded rating (the latest one counts; the customer may rate again after a reopening). */
export interface Satisfaction {
  score: number;
  comment: string | null;
  at: Date;
}

/** A ticket as stored and returned (the `_id` stays inside the repository). */
export interface Ticket extends TicketClassification {
  number: string;
  customer: CustomerIdentity;
  conversationRef: string | null;
  contact: { phone?: string; email?: string };
  text: { original: string; normalized: string };
  status: TicketStatus;
  assignee: string | null;
  priority: Priority;
  notes: TicketNote[];
  corrections: TicketCorrection[];
  messages: CustomerMessage[];
  replies: StaffReply[];
  /** Media the customer sent with the first message (absent when there was none). */
  attachments?: TicketAttachment[];
  createdAt: Date;
  /** Calendar day of creation in the service time zone (YYYY-MM-DD), for per-day statistics. */
  createdDay: string;
  updatedAt: Date;
  /** First staff reply to the customer (for time-to-first-response statistics). */
  firstResponseAt: Date | null;
  resolvedAt: Date | null;
  closedAt: Date | null;
  /** Staff's spam / not-spam decision; null until someone decides. */
  spamDecision: SpamDecision | null;
  /** Who confirmed the classification as correct in review, and when (null until then). */
  reviewedBy: string | null;
  reviewedAt: Date | null;
  /** The customer's rating after resolution (null until they rate). */
  satisfaction: Satisfaction | null;
  /** Incremented on every change; field edits state the version they saw. */
  version: number;
  /**
   * The number the customer was given when the ticket waited in the local outbox and another
   * ticket took that number before it was stored (absent otherwise). The customer's own lookups
   * by that number still find this ticket.
   */
  formerNumber?: string;
  /** A ticket logged by hand: the staff form's request id, which makes a second submit find this ticket. */
  requestId?: string;
  /** A ticket logged by hand: who logged it. */
  filedBy?: string;
}

/** A client's request id (idempotency key) for a reply: the same id twice is one reply. */
export const ReplyRequestId = RequestId;

export const ReplyInputSchema = z
  .object({
    id: z.string().uuid().optional(),
    requestId: ReplyRequestId.optional(),
    text: z.string().trim().min(1).max(4000),
    by: Person,
    delivered: z.boolean(),
    error: z.string().max(500).nullable(),
    sending: z.boolean().optional(),
  })
  .strict();

/** A person settling a reply of unknown outcome: what the customer said, and the attempt they saw. */
export const ReplySettlementSchema = z.object({ delivered: z.boolean(), by: Person, attempts: z.number().int().min(1).max(1000) }).strict();

/** Checks {@link LiveChatNote} facts before they are stored on a note (only the desk writes them: the notes route takes text). */
export const LiveChatNoteSchema = z
  .object({
    how: z.enum(HANDOVER_ENDINGS),
    by: Person.nullable(),
    agent: Person.nullable(),
    requestedAt: z.string().datetime(),
    customerMessages: z.number().int().min(0),
  })
  .strict();
/** Checks {@link UndeliveredNotice} facts (only the desk writes them). */
export const UndeliveredNoticeSchema = z.object({ handoverId: z.string().min(1).max(100), text: z.string().max(4000), error: z.string().max(500), triedAt: z.string().datetime() }).strict();
export const NoteInputSchema = z
  .object({ author: Person, text: z.string().trim().min(1).max(4000), liveChat: LiveChatNoteSchema.optional(), undeliveredNotice: UndeliveredNoticeSchema.optional() })
  .strict();
/** A note to add: who, the text, and for a live chat's end its facts. */
export type NoteInput = z.input<typeof NoteInputSchema>;
export const SpamDecisionInputSchema = z.object({ spam: z.boolean(), by: Person }).strict();
export const CorrectionInputSchema = z
  .object({ field: z.enum(['topic', 'type']), to: z.string().min(1).max(40), by: Person })
  .strict();
export const TicketPatchSchema = z
  .object({
    status: z.enum(TICKET_STATUSES).optional(),
    assignee: Person.nullable().optional(),
    priority: z.enum(PRIORITIES).optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');
export type TicketPatch = z.infer<typeof TicketPatchSchema>;

const DayString = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'day looks like 2026-11-25');
/** A boolean, or the strings "true"/"false" of a query string (z.coerce would read "false" as true). */
const QueryBoolean = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** Staff queries: every field is typed; text search is escaped before it reaches a regex. */
export const TicketQuerySchema = z
  .object({
    status: z.enum(TICKET_STATUSES).optional(),
    topic: Topic.optional(),
    type: z.enum(DEMAND_TYPES).optional(),
    channelId: ChannelId.optional(),
    needsReview: QueryBoolean.optional(),
    spam: QueryBoolean.optional(),
    assignee: Person.optional(),
    customerUserId: Id.optional(),
    from: DayString.optional(),
    to: DayString.optional(),
    search: z.string().trim().min(1).max(100).optional(),
    /** Only open tickets (new, in progress, reopened). */
    open: QueryBoolean.optional(),
    /** Only tickets nobody is assigned to. */
    unassigned: QueryBoolean.optional(),
    /** Only open tickets waiting for the customer (a staff reply is the last word). */
    waiting: QueryBoolean.optional(),
    /** Only open tickets past their due time (store/working-day.ts). */
    overdue: QueryBoolean.optional(),
    /** `review`: the review queue — tickets that need review first, then the newest. */
    sort: z.enum(['createdAt', '-createdAt', 'priority', '-priority', 'confidence', '-confidence', 'review']).default('-createdAt'),
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    /** Keyset pagination: the `nextCursor` of the previous page (then `page` stays 1). */
    cursor: z.string().min(1).max(512).optional(),
    pageSize: z.coerce.number().int().min(1).max(200).default(20),
  })
  .strict();
export type TicketQuery = z.input<typeof TicketQuerySchema>;

export { TicketNumber, ChannelId, DayString };
