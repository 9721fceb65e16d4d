/**
 * Tickets, as business operations: each one owns its writes, the training example it produces,
 * its audit entry and its typed errors, so every caller (bot, staff API, CLI, tests) gets the same
 * behaviour. Ticket writes go through the repository's write methods only (they keep the version
 * and whatever the repository maintains beside the ticket).
 *
 * Two writes, one failure between them. A staff decision that teaches the classifier (correction,
 * review confirmation, spam decision) writes the training example FIRST, then the ticket. The
 * example is an idempotent upsert keyed by the ticket number holding the person's decision, which
 * is true of the text whether or not the ticket write then succeeds; if the ticket write fails the
 * caller gets the error and retrying repeats both writes harmlessly. The other order could leave a
 * corrected ticket whose example is missing for good, silently (the bug this replaces).
 */
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { NotFoundError, ValidationError } from '../store/errors.js';
import type { Ticket, TicketAttachment, TicketCorrection, TicketCreate, TicketPatch, TicketQuery } from '../store/schemas.js';
import type { Durability, PageOf } from '../store/ticket-repository.js';
import type { ExampleLabels, ExampleSource } from '../store/training-repository.js';
import { ticketView, type TicketView } from './classification.js';
import type { AuditTrail, CustomerChannel, TicketStore, TrainingExamples } from './ports.js';

export interface TicketServiceDeps {
  tickets: TicketStore;
  /** Valid topic ids (the taxonomy's). */
  topics: readonly string[];
  training: TrainingExamples;
  audit: AuditTrail;
  /** The customer's channel for staff replies; null until the bot's channels are mounted. */
  channel: () => CustomerChannel | null;
  now?: () => Date;
}

/** The version an edit was based on, for optimistic concurrency (409 when someone changed it since). */
export interface EditOptions {
  expectedVersion?: number;
}

export class TicketService {
  private readonly now: () => Date;

  constructor(private readonly deps: TicketServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Files a ticket. The number is durable when this resolves (database, or the local outbox when
   * the database is unreachable). The customer's document and the statistics counters follow
   * through the repository's change hook (also when the outbox is replayed).
   */
  file(input: TicketCreate): Promise<{ ticket: Ticket; stored: Durability }> {
    return this.deps.tickets.create(input);
  }

  /** Replays the outbox into the database, idempotently by ticket number. */
  flushOutbox(): Promise<{ replayed: number; duplicates: number; remaining: number }> {
    return this.deps.tickets.flushOutbox();
  }

  /** A ticket, or NotFoundError. */
  async get(number: string): Promise<Ticket> {
    const t = await this.deps.tickets.get(number);
    if (!t) throw new NotFoundError(`ticket ${number} not found`);
    return t;
  }

  /** A ticket with the explanation of its classification (what the console shows). */
  async view(number: string): Promise<TicketView> {
    return ticketView(await this.get(number));
  }

  /** Ticket lookups for the bot (null when absent; a customer asking is not an error). */
  find(number: string): Promise<Ticket | null> {
    return this.deps.tickets.get(number);
  }

  list(query?: TicketQuery): Promise<PageOf<Ticket>> {
    return this.deps.tickets.list(query);
  }

  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null> {
    return this.deps.tickets.latestOpenFor(channelId, userId);
  }

  /** The customer adds details to their ticket (from the bot). */
  addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket> {
    return this.deps.tickets.addCustomerMessage(number, text, attachments);
  }

  /** Changes status, assignee or priority; audited with each field's before and after. */
  async change(number: string, patch: TicketPatch, by: string, opts: EditOptions = {}): Promise<TicketView> {
    const before = await this.get(number);
    const t = await this.deps.tickets.update(number, patch, { expectedVersion: opts.expectedVersion, by });
    const keys = Object.keys(patch) as (keyof TicketPatch)[];
    const changes = Object.fromEntries(keys.map((k) => [k, { from: before[k] ?? null, to: t[k] ?? null }]));
    await this.audit(by, 'ticket.update', t.number, changes);
    return ticketView(t);
  }

  /** Adds an internal note (not shown to the customer). */
  async annotate(number: string, text: string, by: string): Promise<TicketView> {
    const t = await this.deps.tickets.addNote(number, { author: by, text });
    await this.audit(by, 'ticket.note', t.number, { length: text.length });
    return ticketView(t);
  }

  /**
   * Corrects the topic or type: kept on the ticket (with who, when, from what) and recorded as a
   * training example. To say the classifier was right, use {@link confirmReview}.
   */
  async correct(number: string, correction: { field: 'topic' | 'type'; to: string }, by: string): Promise<{ ticket: TicketView; correction: TicketCorrection }> {
    const allowed: readonly string[] = correction.field === 'topic' ? this.deps.topics : DEMAND_TYPES;
    // Checked before the example is written: an invalid label must not reach the training data.
    if (!allowed.includes(correction.to)) {
      throw new ValidationError(`invalid correction: "${correction.to}" is not a ${correction.field}`, [{ path: 'to', message: `unknown ${correction.field}` }]);
    }
    const current = await this.get(number);
    await this.example(current, 'correction', by, { [correction.field]: correction.to, spam: false });
    const r = await this.deps.tickets.correct(number, { ...correction, by });
    await this.audit(by, 'ticket.correct', number, { field: correction.field, from: r.correction.from, to: r.correction.to });
    return { ticket: ticketView(r.ticket), correction: r.correction };
  }

  /** Confirms the classification as correct: a training signal, and the ticket leaves review. */
  async confirmReview(number: string, by: string): Promise<TicketView> {
    const current = await this.get(number);
    if (current.spam) {
      throw new ValidationError(`ticket ${number} is marked as spam: decide "not spam" first, then confirm its topic`, [{ path: 'spam', message: 'spam ticket' }]);
    }
    if (current.topic === null && current.type === null) {
      throw new ValidationError(`ticket ${number} has no topic or type to confirm; correct it instead`, [{ path: 'topic', message: 'nothing to confirm' }]);
    }
    await this.example(current, 'review', by, { topic: current.topic, type: current.type, spam: false });
    const t = await this.deps.tickets.confirmReview(number, by);
    await this.audit(by, 'ticket.confirm', number, { topic: t.topic, type: t.type, wasInReview: current.needsReview });
    return ticketView(t);
  }

  /**
   * A staff spam / not-spam decision: a training example for the spam head, and the ticket's
   * `spam` follows it (it leaves or enters the spam view).
   */
  async decideSpam(number: string, spam: boolean, by: string): Promise<TicketView> {
    const current = await this.get(number);
    // Spam has no topic or type; "not spam" keeps the ticket's labels (a spam-flagged ticket has none yet).
    await this.example(current, 'spam-decision', by, spam ? { topic: null, type: null, spam: true } : { topic: current.topic, type: current.type, spam: false });
    const t = await this.deps.tickets.decideSpam(number, { spam, by });
    await this.audit(by, 'ticket.spam', number, { from: current.spam, to: spam });
    return ticketView(t);
  }

  /**
   * Sends a message to the customer on the ticket's channel and records it on the ticket, delivered
   * or not (a channel's refusal is shown to staff, not thrown).
   */
  async reply(number: string, text: string, by: string): Promise<{ ticket: TicketView; delivered: boolean }> {
    const ticket = await this.get(number);
    if (!text.trim()) throw new ValidationError('invalid reply: text is empty', [{ path: 'text', message: 'empty' }]);
    const channel = this.deps.channel();
    const error = channel ? await channel.deliver(ticket, text) : 'no customer channel in this process';
    const t = await this.deps.tickets.recordReply(number, { text, by, delivered: error === null, error });
    await this.audit(by, 'ticket.reply', number, { delivered: error === null, length: text.length });
    return { ticket: ticketView(t), delivered: error === null };
  }

  private async example(t: Ticket, source: ExampleSource, by: string, decided: Partial<ExampleLabels>): Promise<void> {
    const current: ExampleLabels = { topic: t.topic, type: t.type, spam: t.spam };
    await this.deps.training.record({ ticketNumber: t.number, text: t.text.original, source, by, at: this.now() }, decided, current);
  }

  private audit(actor: string, action: string, target: string, details: Record<string, unknown>): Promise<void> {
    return this.deps.audit.record({ actor, action, target, details });
  }
}
