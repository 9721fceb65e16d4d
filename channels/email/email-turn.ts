/**
 * What the bot does with one inbound e-mail. A chat turn is one line of a conversation, so the chat
 * bot (bot/demand-bot.ts) asks questions: confirm the topic, leave a contact. A mail is the whole
 * demand at once, and its sender's address is the contact; asking questions by mail would make the
 * customer wait a round trip for nothing. So a new mail is filed straight away, classified like any
 * other message (unmistakable spam is filed flagged and not answered; a script the classifier
 * cannot read is filed for review), with the contact = the address, and answered with the ticket
 * number; a reply in a ticket's thread is added to that ticket as a customer message and
 * acknowledged. Both go through the desk's operations (`tickets.file`, `tickets.addCustomerMessage`)
 * and the chat's ticket shape (`ticketInput`): there is no second way to create a ticket.
 *
 * The turn never throws: a failure is kept in the turn state for the mail processor, which leaves
 * the mail for a later attempt (the bot's onTurnError would otherwise mail the customer an apology
 * on every retry).
 */
import type { TurnContext } from 'botbuilder';
import type { Classification } from '../../classifier/demand-classifier.js';
import { ClassifierError } from '../../classifier/errors.js';
import type { ReplyLang } from '../../bot/messages.js';
import { markNumberGiven, ticketInput } from '../../bot/intake-dialog.js';
import type { Ticket, TicketCreate } from '../../store/schemas.js';
import type { Durability } from '../../store/ticket-repository.js';
import { emailTexts } from './messages.js';

/** What the mail processor hands the turn in `activity.channelData.email`. */
export interface EmailTurnData {
  /** `new`: file a ticket; `join`: add to `ticketNumber`; `empty`: nothing to file, ask for a description. */
  kind: 'new' | 'join' | 'empty';
  ticketNumber?: string;
  /** The text kept on the ticket (the whole mail for a new ticket, the new part for a reply). */
  ticketText: string;
  /** Language of the thread so far (a reply with little text is answered in it). */
  lang?: ReplyLang | null;
  /** `join`: the number the customer knows, when their ticket was stored under `ticketNumber` instead (outbox replay). */
  formerNumber?: string;
}

/** What the turn did, read by the mail processor from the turn state. */
export interface EmailTurnResult {
  outcome: 'filed' | 'joined' | 'spam' | 'empty' | 'failed';
  ticketNumber: string | null;
  stored: Durability | null;
  lang: ReplyLang;
  error: Error | null;
  /** The acknowledgement could not be sent (the ticket is filed regardless). */
  ackError: string | null;
}

export const EMAIL_TURN_RESULT = Symbol('emailTurnResult');

export interface EmailTurnDeps {
  classifier: { classify(text: unknown): Classification };
  tickets: {
    file(input: TicketCreate): Promise<{ ticket: Ticket; stored: Durability }>;
    addCustomerMessage(number: string, text: string): Promise<Ticket>;
  };
  /** Records the ticket of a thread before the acknowledgement goes out (its subject carries the number). */
  linkThread(conversationId: string, ticketNumber: string, lang: ReplyLang): Promise<void>;
  log: { warn: (obj: object, msg: string) => void };
  now?: () => number;
}

/** The reply language of a classification: the customer's, or simplified Chinese when unknown. */
export function replyLangOf(c: Pick<Classification, 'lang'> | null, fallback: ReplyLang | null = null): ReplyLang {
  const l = c?.lang;
  return l === 'en' || l === 'zh-Hans' || l === 'zh-Hant' ? l : (fallback ?? 'zh-Hans');
}

/**
 * Automatic answers per address per hour. A forged sender could otherwise make the desk mail a
 * stranger once per forged mail (backscatter); the mails are still filed, only not answered.
 */
export const ACKS_PER_ADDRESS_PER_HOUR = 10;

export class EmailTurn {
  /** Recent acknowledgement times per address (per process: a limit, not state to keep). */
  private readonly acks = new Map<string, number[]>();

  constructor(private readonly deps: EmailTurnDeps) {}

  /** The bot logic for an e-mail activity; `context.activity.text` is the text to classify. */
  async run(context: TurnContext): Promise<void> {
    const result: EmailTurnResult = { outcome: 'failed', ticketNumber: null, stored: null, lang: 'zh-Hans', error: null, ackError: null };
    context.turnState.set(EMAIL_TURN_RESULT, result);
    try {
      await this.handle(context, result);
    } catch (err) {
      result.error = err as Error;
    }
  }

  private async handle(context: TurnContext, result: EmailTurnResult): Promise<void> {
    const data = (context.activity.channelData as { email?: EmailTurnData } | undefined)?.email;
    if (!data) throw new Error('e-mail turn without its mail data');
    const text = typeof context.activity.text === 'string' ? context.activity.text : '';
    const c = this.classify(text);
    const lang = c && c.reason !== 'empty' && c.reason !== 'no-text' && text.trim().length >= 8 ? replyLangOf(c, data.lang ?? null) : (data.lang ?? replyLangOf(c));
    result.lang = lang;
    const t = emailTexts(lang);
    if (data.kind === 'empty') {
      result.outcome = 'empty';
      await this.acknowledge(context, t.empty, result);
      return;
    }
    if (data.kind === 'join') {
      const number = data.ticketNumber!;
      await this.deps.tickets.addCustomerMessage(number, data.ticketText);
      Object.assign(result, { outcome: 'joined', ticketNumber: number, stored: 'database' });
      await this.acknowledge(context, t.joined(number, data.formerNumber ?? null), result);
      return;
    }
    let classification = c ?? this.classify('')!;
    // A script we cannot read is no reason to turn someone away: filed for staff, never as spam.
    const unsupported = classification.lang === 'other' || classification.reason === 'unsupported-language';
    if (unsupported) classification = { ...classification, spam: false, needsReview: true };
    const address = context.activity.from.id;
    const contact = /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(address) && address.length <= 254 ? { email: address } : undefined;
    const input = ticketInput(context, data.ticketText, classification, classification.topic, classification.type, contact, unsupported ? 'unsupported-language' : undefined);
    const { ticket, stored } = await this.deps.tickets.file(input);
    Object.assign(result, { ticketNumber: ticket.number, stored, outcome: classification.spam ? 'spam' : 'filed' });
    // Spam is kept for staff to audit and not answered: answering would confirm the address to a spammer.
    if (classification.spam) return;
    try {
      await this.deps.linkThread(context.activity.conversation.id, ticket.number, lang);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, ticket: ticket.number }, 'e-mail thread not linked to its ticket yet (the acknowledgement carries the number in its text)');
    }
    markNumberGiven(context);
    await this.acknowledge(context, stored === 'database' ? t.filed(ticket.number) : t.filedOffline(ticket.number), result);
  }

  private classify(text: string): Classification | null {
    try {
      return this.deps.classifier.classify(text);
    } catch (err) {
      if (err instanceof ClassifierError) return null;
      throw err;
    }
  }

  /** Sends the acknowledgement; a failure is recorded, not thrown (the ticket is filed). */
  private async acknowledge(context: TurnContext, text: string, result: EmailTurnResult): Promise<void> {
    const address = context.activity.from.id;
    const now = (this.deps.now ?? Date.now)();
    const recent = (this.acks.get(address) ?? []).filter((t) => t > now - 3_600_000);
    if (recent.length >= ACKS_PER_ADDRESS_PER_HOUR) {
      result.ackError = `not answered: ${ACKS_PER_ADDRESS_PER_HOUR} automatic answers to ${address} in the last hour`;
      this.deps.log.warn({ address, ticket: result.ticketNumber }, 'e-mail acknowledgement withheld (per-address hourly limit)');
      return;
    }
    recent.push(now);
    this.acks.set(address, recent);
    if (this.acks.size > 50_000) this.acks.clear();
    try {
      await context.sendActivity(text);
    } catch (err) {
      result.ackError = (err as Error).message.slice(0, 500);
      this.deps.log.warn({ err: result.ackError, ticket: result.ticketNumber }, 'e-mail acknowledgement not sent');
    }
  }
}

/** The turn's result (after `adapter.processActivity`). */
export function emailTurnResult(context: TurnContext): EmailTurnResult | undefined {
  return context.turnState.get(EMAIL_TURN_RESULT) as EmailTurnResult | undefined;
}
