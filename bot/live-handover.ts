/**
 * The bot's side of a person when asked: before the bot routes a message, this decides whether the
 * turn belongs to a live conversation (the message goes to the agent; the bot stays silent), asks
 * for a person (转人工, talk to a person, or two frustrated messages in a row), or is the bot's.
 *
 * Per-turn cost: a conversation that never asked for a person costs nothing beyond a few bytes of
 * its conversation state (the frustration count and a key of the last message); one that asked
 * reads its queue entry by id from the tiny `handovers` collection (store/handover-repository.ts)
 * until the entry is gone (handed back, ended, timed out), then stops.
 *
 * The demand is always on a ticket: the customer's open ticket when there is one and nothing else
 * is pending, else a new ticket filed with what the customer said (the demand the intake dialog was
 * confirming, the frustrated messages, the request), flagged for review.
 */
import type { ConversationState, StatePropertyAccessor, TurnContext } from 'botbuilder';
import type { DialogContext, DialogInstance } from 'botbuilder-dialogs';
import type { Classification, DemandClassifier } from '../classifier/demand-classifier.js';
import type { HandoverReason } from '../desk/events.js';
import { ASKED_FOR_PERSON } from '../desk/classification.js';
import type { HandoverService } from '../desk/handover.js';
import type { Handover } from '../store/handover-repository.js';
import type { Ticket } from '../store/index.js';
import type { Durability } from '../store/ticket-repository.js';
import { isUnavailable } from '../store/errors.js';
import { OPEN_STATUSES } from '../store/working-day.js';
import { lexiconAct } from './dialogue-acts.js';
import { isFrustrated, repeatKey } from './frustration.js';
import { markNumberGiven, ticketInput, type TicketSink } from './intake-dialog.js';
import { texts, type ReplyLang } from './messages.js';
import { parseRating, type PendingTickets } from './demand-bot.js';

/** Frustrated messages in a row that put a conversation in the live queue. */
export const FRUSTRATED_IN_A_ROW = 2;

export interface LiveHandoverDeps {
  handovers: Pick<HandoverService, 'find' | 'request' | 'customerSaid' | 'staffed' | 'serviceHours' | 'forwardEarly' | 'forgetConversation'>;
  tickets: TicketSink;
  lookup: {
    latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
    addCustomerMessage(number: string, text: string): Promise<Ticket>;
    /** The customer's ticket as stored, their waiting outbox tickets replayed first (desk/tickets.ts filedFor). */
    filedFor(number: string, customer: { channelId: string; userId: string }): Promise<Ticket | null>;
    /**
     * Flags the customer's open ticket for staff when their request for a person on it could not be
     * queued: now, or kept and applied when the database is back (desk/tickets.ts flagAskedForPerson).
     */
    flagAskedForPerson(number: string): Promise<void>;
  };
  /** Tickets waiting in the outbox (none when omitted). */
  pending?: Pick<PendingTickets, 'latestFor'>;
  classifier: Pick<DemandClassifier, 'classify'>;
}

/** Kept in conversation state. */
interface LiveState {
  /** The queue entry while waiting or live. */
  handoverId?: string;
  /** Frustrated messages in a row (their texts, for the ticket). */
  frustrated?: string[];
  /** Key of the previous message (to notice a repeat). */
  lastKey?: string | null;
}

/** Turn state key: the queue entry this turn's message was shown to the agent for on receipt. */
const PUBLISHED_FOR = Symbol('live.publishedFor');

export class LiveHandover {
  private readonly state: StatePropertyAccessor<LiveState>;

  constructor(conversationState: ConversationState, private readonly deps: LiveHandoverDeps) {
    this.state = conversationState.createProperty<LiveState>('live');
  }

  /**
   * Runs first in a message turn. True when the turn is handled here (the bot does nothing more):
   * the message went to a live conversation, or the customer was put in the queue (or told staff
   * are away).
   *
   * `rating`: the message is a rating the conversation was asked for (staff resolved its ticket, the
   * bot asked for 1–5). While the conversation only waits for a person (nobody took it), it is left
   * to the bot, which records it as a rating as it does outside the wait; the wait goes on. Once an
   * agent has the conversation, every message is theirs (they may have asked for a number).
   */
  async intercept(context: TurnContext, text: string, lang: ReplyLang, dc: DialogContext, opts: { rating?: boolean } = {}): Promise<boolean> {
    const s = await this.state.get(context, {});
    if (s.handoverId) {
      const h = await this.deps.handovers.find(s.handoverId);
      if (h && h.state === 'waiting' && opts.rating) return false;
      if (h) {
        await this.deps.handovers.customerSaid(h, text, { publishedFor: (context.turnState.get(PUBLISHED_FOR) as string | undefined) ?? null });
        return true;
      }
      // Handed back, ended or timed out: the bot answers again.
      delete s.handoverId;
      this.deps.handovers.forgetConversation(context.activity.conversation.id);
    }
    const frustrated = isFrustrated(text, s.lastKey ?? null);
    s.lastKey = repeatKey(text);
    s.frustrated = frustrated ? [...(s.frustrated ?? []), text].slice(-FRUSTRATED_IN_A_ROW) : [];
    if (s.frustrated.length === 0) delete s.frustrated;
    await this.state.set(context, s);
    const asked = lexiconAct(text) === 'human';
    if (!asked && (s.frustrated?.length ?? 0) < FRUSTRATED_IN_A_ROW) return false;
    await this.request(context, text, lang, dc, asked ? 'asked' : 'frustration');
    return true;
  }

  /**
   * Called at the start of a message turn, before the conversation's state is read: when this
   * process knows the conversation as live, the message is shown to the agent now (the channel
   * recorded it before the turn began) rather than after the turn's reads, which queue behind
   * every other conversation's under load. `accepted` is false for what the bot refuses anyway (too
   * long, rate limited, no text): that is never shown early.
   */
  forwardEarly(context: TurnContext, accepted: boolean): void {
    const text = typeof context.activity.text === 'string' ? context.activity.text : '';
    if (!accepted || !text.trim()) return;
    const published = this.deps.handovers.forwardEarly(context.activity.conversation.id, text, { readsAsRating: parseRating(text) !== null });
    if (published) context.turnState.set(PUBLISHED_FOR, published);
  }

  /**
   * Puts the conversation in the live queue (or tells the customer staff are away), with the demand
   * on a ticket. Also called by the bot when the model reads a request for a person.
   */
  async request(context: TurnContext, text: string, lang: ReplyLang, dc: DialogContext, reason: HandoverReason): Promise<void> {
    const s = await this.state.get(context, {});
    const t = texts(lang);
    const pending = dc.activeDialog ? pendingDemand(dc.activeDialog) : null;
    if (dc.activeDialog) await dc.cancelAllDialogs();
    const { channelId, from, conversation } = context.activity;
    let number: string;
    let outboxed = false;
    const open = pending ? null : await this.openTicket(channelId, from.id);
    if (open) {
      // The request is part of the conversation with staff: kept on the ticket like what follows.
      await this.deps.lookup.addCustomerMessage(open.number, text);
      number = open.number;
    } else {
      const said = unique([pending, ...(reason === 'frustration' ? (s.frustrated ?? []) : []), text]);
      const filed = await this.file(context, said.join('\n'));
      number = filed.ticket.number;
      outboxed = filed.stored === 'outbox';
    }
    delete s.frustrated;
    if (!this.deps.handovers.staffed()) {
      await this.state.set(context, s);
      markNumberGiven(context);
      // A ticket just filed into the outbox is named by the number it is stored under once replayed;
      // while it still waits, the customer is told it is received, not that it is a ticket.
      const stored = outboxed ? await this.storedNumber(number, { channelId, userId: from.id }) : number;
      await context.sendActivity(stored ? t.handoverClosed(stored, this.deps.handovers.serviceHours()) : t.handoverOffline(number));
      return;
    }
    const customer = { channelId, userId: from.id, ...(from.name ? { name: from.name.slice(0, 128) } : {}) };
    const { entry: h, waiting } = await this.queue({ ticketNumber: number, customer, conversationId: conversation.id, lang, reason, text });
    if (!h) {
      // The database is unreachable: nobody can take the chat. The request is on the ticket (one
      // filed for it is flagged for review) for staff. A ticket stored in the database is named as a
      // ticket; one still in the outbox by its reference only, as it may be stored under another
      // number (looked up when the desk had found it stored before the entry failed). A request
      // added to the open ticket flags that ticket for staff, as a filed one is (kept for the
      // database when it cannot be written now).
      if (open) await this.deps.lookup.flagAskedForPerson(open.number);
      await this.state.set(context, s);
      markNumberGiven(context);
      const stored = !outboxed ? number : waiting ? null : await this.storedNumber(number, customer);
      await context.sendActivity(stored ? t.handoverUnqueued(stored) : t.handoverOffline(number));
      return;
    }
    s.handoverId = h.id;
    await this.state.set(context, s);
    // From here a failure must not be answered with "not processed": the number was given.
    markNumberGiven(context);
    // The entry names the ticket as stored (a ticket just filed into the outbox is replayed first,
    // and may be stored under another number): that is the number the customer is given.
    await context.sendActivity(t.handoverQueued(h.ticketNumber));
  }

  /**
   * The customer's open ticket for the request, or null. A ticket of theirs still in the outbox (filed
   * during an outage, not replayed yet) is their newest, which the database cannot name: it is
   * replayed first and taken when open. With the database unreachable the open ticket is not known:
   * the request is then filed as a ticket of its own (into the outbox), kept rather than refused.
   */
  private async openTicket(channelId: string, userId: string): Promise<Ticket | null> {
    try {
      const waiting = this.deps.pending?.latestFor(channelId, userId);
      const filed = waiting ? await this.deps.lookup.filedFor(waiting.number, { channelId, userId }) : null;
      if (filed && !filed.spam && (OPEN_STATUSES as readonly string[]).includes(filed.status)) return filed;
      return await this.deps.lookup.latestOpenFor(channelId, userId);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      return null;
    }
  }

  /**
   * The live queue entry for the request, or null when the database is unreachable: the ticket
   * still waits in the outbox, or cannot be read (`waiting`: the desk queues nobody under a number
   * it may lose), or the database went away after the ticket took the request, before the entry was
   * written. The request is on the ticket either way, so the customer is told that, not the apology
   * for a turn that failed.
   */
  private async queue(r: Parameters<LiveHandoverDeps['handovers']['request']>[0]): Promise<{ entry: Handover | null; waiting: boolean }> {
    try {
      const entry = await this.deps.handovers.request(r);
      return { entry, waiting: entry === null };
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      return { entry: null, waiting: false };
    }
  }

  /** Files what the customer said as a ticket for staff (flagged: a request is not a classified demand). */
  private file(context: TurnContext, text: string): Promise<{ ticket: Ticket; stored: Durability }> {
    const c: Classification = this.deps.classifier.classify(text);
    // Someone asking for a person is never turned away as spam; staff check the labels.
    const flagged: Classification = { ...c, spam: false, needsReview: true };
    return this.deps.tickets.file(ticketInput(context, text, flagged, c.spam ? null : c.topic, c.spam ? null : c.type, undefined, ASKED_FOR_PERSON));
  }

  /** The number a ticket filed into the outbox is stored under (replayed first), or null while it waits. */
  private async storedNumber(number: string, customer: { channelId: string; userId: string }): Promise<string | null> {
    try {
      return (await this.deps.lookup.filedFor(number, customer))?.number ?? null;
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      return null;
    }
  }
}

function unique(parts: (string | null)[]): string[] {
  const out: string[] = [];
  for (const p of parts) if (p && p.trim() && !out.includes(p)) out.push(p);
  return out;
}

/**
 * The demand the intake dialog holds but has not filed yet (the waterfall's draft text), found in
 * the component dialog's inner stack; null when there is none.
 */
export function pendingDemand(instance: DialogInstance): string | null {
  const seen = new Set<unknown>();
  const walk = (state: unknown): string | null => {
    if (!state || typeof state !== 'object' || seen.has(state)) return null;
    seen.add(state);
    const o = state as { values?: { text?: unknown }; options?: { text?: unknown }; dialogs?: { dialogStack?: { state?: unknown }[] } };
    if (typeof o.values?.text === 'string') return o.values.text;
    for (const inner of o.dialogs?.dialogStack ?? []) {
      const found = walk(inner.state);
      if (found) return found;
    }
    return typeof o.options?.text === 'string' ? o.options.text : null;
  };
  return walk(instance.state);
}
