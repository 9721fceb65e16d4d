/**
 * The intake conversation: understand the demand, confirm it with the customer (or let them pick
 * the topic when the classifier is unsure), take optional contact details, create the ticket and
 * give its number.
 */
import { MessageFactory, TurnContext, type StatePropertyAccessor } from 'botbuilder';
import { ComponentDialog, TextPrompt, WaterfallDialog, type PromptValidatorContext, type WaterfallStepContext } from 'botbuilder-dialogs';
import type { Classification, DemandClassifier } from '../classifier/demand-classifier.js';
import { ClassifierError } from '../classifier/errors.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Ticket, TicketCreate } from '../store/index.js';
import { parseContact } from '../core/contact.js';
import type { Durability } from '../store/ticket-repository.js';
import { ASKED_FOR_PERSON, ticketClassification } from '../desk/classification.js';
import { readAct } from './dialogue-acts.js';
import { names, REPLY_LANGS, texts, type HoursToTell, type ReplyLang } from './messages.js';

export const INTAKE_DIALOG = 'intake';
const WATERFALL = 'intake.waterfall';
const CONFIRM_PROMPT = 'intake.confirm';
const TOPIC_PROMPT = 'intake.topic';
const CONTACT_PROMPT = 'intake.contact';

/** Where tickets go (the desk's ticket service: files the ticket and counts the customer's contact). */
export interface TicketSink {
  file(input: TicketCreate): Promise<{ ticket: Ticket; stored: Durability }>;
}

/** The ticket a conversation is about (kept in conversation state; see bot/demand-bot.ts). */
export interface TicketContext {
  number: string;
  /** Its topic when filed, to tell a new demand from a follow-up. */
  topic: string | null;
  /** A rating was asked for (the ticket was resolved) and not given yet. */
  awaitingRating?: boolean;
}

export interface IntakeDeps {
  classifier: Pick<DemandClassifier, 'classify' | 'version'>;
  tickets: TicketSink;
  taxonomy: Taxonomy;
  lang: StatePropertyAccessor<ReplyLang>;
  /**
   * Hours told to a customer who asks for a person (null: not configured): SUPPORT_HOURS as the team
   * wrote them, else the parsed SERVICE_HOURS, said in the customer's language.
   */
  supportHours?: HoursToTell | null;
  /** Where the filed ticket is remembered, so the customer's next messages land on it. */
  ticket?: StatePropertyAccessor<TicketContext | undefined>;
}

/** How the intake dialog is started: the customer's text, and its classification when the router already has it. */
export interface IntakeOptions {
  text: string;
  classification?: Classification;
}

/** What the waterfall carries between steps. */
interface Draft {
  text: string;
  classification: Classification;
  topic: string | null;
  type: string | null;
  contact?: { phone?: string; email?: string };
}

const NUMBER_GIVEN = Symbol('ticketNumberGiven');

/** Records that this turn told the customer a ticket number (an apology must not follow it). */
export function markNumberGiven(context: TurnContext): void {
  context.turnState.set(NUMBER_GIVEN, true);
}

/** Whether this turn already told the customer a ticket number. */
export function numberGiven(context: TurnContext): boolean {
  return context.turnState.get(NUMBER_GIVEN) === true;
}

export class IntakeDialog extends ComponentDialog {
  constructor(private readonly deps: IntakeDeps) {
    super(INTAKE_DIALOG);
    this.addDialog(new TextPrompt(CONFIRM_PROMPT));
    this.addDialog(new TextPrompt(TOPIC_PROMPT));
    this.addDialog(new TextPrompt(CONTACT_PROMPT, (p) => this.validateContact(p)));
    this.addDialog(
      new WaterfallDialog(WATERFALL, [
        this.classifyStep.bind(this),
        this.confirmStep.bind(this),
        this.topicStep.bind(this),
        this.contactStep.bind(this),
        this.createStep.bind(this),
      ]),
    );
    this.initialDialogId = WATERFALL;
  }

  /** Classifies the demand and asks the customer to confirm it. Options: {@link IntakeOptions}. */
  private async classifyStep(step: WaterfallStepContext) {
    const lang = await this.deps.lang.get(step.context, 'zh-Hans');
    const t = texts(lang);
    const options = (step.options ?? {}) as Partial<IntakeOptions>;
    const text = String(options.text ?? '');
    let c: Classification;
    try {
      c = options.classification ?? this.deps.classifier.classify(text);
    } catch (err) {
      if (err instanceof ClassifierError) {
        await step.context.sendActivity(t.empty);
        return step.endDialog();
      }
      throw err;
    }
    if (c.reason === 'empty' || c.reason === 'no-text') {
      await step.context.sendActivity(t.empty);
      return step.endDialog();
    }
    // Models that predate `suspectedSpam` mark the same borderline band as "possible spam".
    if (c.suspectedSpam === undefined) c = { ...c, suspectedSpam: !c.spam && c.reason === 'possible-spam' };
    if (c.lang === 'other' || c.reason === 'unsupported-language') {
      // A script we cannot read is no reason to turn someone away: file it for staff (never as
      // spam), and answer in English beside the conversation's language.
      const flagged = { ...c, spam: false, suspectedSpam: c.spam || c.suspectedSpam === true, needsReview: true, reason: 'unsupported-language' as const };
      const { ticket } = await this.deps.tickets.file(this.ticketInput(step.context, text, flagged, c.spam ? null : c.topic, c.spam ? null : c.type, undefined));
      const reply = lang === 'en' ? t.unsupportedLanguage(ticket.number) : `${texts('en').unsupportedLanguage(ticket.number)}\n${t.unsupportedLanguage(ticket.number)}`;
      markNumberGiven(step.context);
      await this.remember(step.context, ticket);
      await step.context.sendActivity(reply);
      return step.endDialog(ticket.number);
    }
    if (c.spam) {
      // Only unmistakable spam is refused. It is kept for staff to audit (flagged spam); the
      // customer gets no ticket number. Borderline messages (suspectedSpam) go on as demands.
      await this.deps.tickets.file(this.ticketInput(step.context, text, c, c.topic, c.type, undefined));
      await step.context.sendActivity(t.spam);
      return step.endDialog();
    }
    const d: Draft = { text, classification: c, topic: c.topic, type: c.type };
    Object.assign(step.values, d);
    const n = names(this.deps.taxonomy, lang);
    if (c.needsReview || !c.topic) {
      const choices = [...c.alternatives.map((a) => n.topic(a.topic)), t.other, t.rephrase];
      return step.prompt(CONFIRM_PROMPT, MessageFactory.suggestedActions(choices, t.unsure));
    }
    const alternatives = c.alternatives.slice(1, 3).map((a) => n.topic(a.topic));
    return step.prompt(CONFIRM_PROMPT, MessageFactory.suggestedActions([t.yes, ...alternatives, t.other, t.rephrase], t.confirm(n.topic(c.topic), n.type(c.type ?? 'inquiry'))));
  }

  /** Handles the confirmation: yes, another topic, other, rephrase, or more description. */
  private async confirmStep(step: WaterfallStepContext) {
    const lang = await this.deps.lang.get(step.context, 'zh-Hans');
    const t = texts(lang);
    const answer = String(step.result ?? '').trim();
    const picked = this.topicByName(answer, lang);
    if (isYes(answer, t.yes) && draft(step).topic) return step.next(draft(step).topic);
    if (picked) return step.next(picked);
    if (this.asksForPerson(answer)) {
      // No live handover yet: file the demand as understood so far, flagged for staff, and say
      // honestly that a person will answer in this conversation.
      const d = draft(step);
      const c = { ...d.classification, needsReview: true, reason: null };
      const input = this.ticketInput(step.context, d.text, c, d.topic ?? c.alternatives[0]?.topic ?? null, d.type, undefined);
      input.classification.reviewReason = ASKED_FOR_PERSON;
      const { ticket } = await this.deps.tickets.file(input);
      await this.remember(step.context, ticket);
      await step.context.sendActivity(t.humanFiled(ticket.number, this.deps.supportHours ?? null));
      return step.endDialog(ticket.number);
    }
    if (sameChoice(answer, t.rephrase)) {
      await step.context.sendActivity(t.askRephrase);
      return step.endDialog();
    }
    // "不对" / "No": the reading is wrong, so offer every topic. Read as more description it was
    // classified again with the same result, and the customer got the same question back.
    if (sameChoice(answer, t.other) || isNo(answer)) {
      const n = names(this.deps.taxonomy, lang);
      return step.prompt(TOPIC_PROMPT, MessageFactory.suggestedActions(this.deps.taxonomy.topics.map((x) => n.topic(x.id)), t.askOtherTopic));
    }
    // Anything else is more description: classify the whole demand again.
    return step.replaceDialog(INTAKE_DIALOG, { text: `${draft(step).text}\n${answer}` });
  }

  private async topicStep(step: WaterfallStepContext) {
    const lang = await this.deps.lang.get(step.context, 'zh-Hans');
    const t = texts(lang);
    const topic = typeof step.result === 'string' && this.deps.taxonomy.topics.some((x) => x.id === step.result) ? step.result : this.topicByName(String(step.result ?? ''), lang);
    if (!topic) {
      // Not one of the offered topics: treat it as more description and start over.
      return step.replaceDialog(INTAKE_DIALOG, { text: `${draft(step).text}\n${String(step.result ?? '')}` });
    }
    draft(step).topic = topic;
    return step.prompt(CONTACT_PROMPT, { prompt: MessageFactory.suggestedActions([t.skip], t.askContact), retryPrompt: MessageFactory.suggestedActions([t.skip], t.badContact) });
  }

  private async contactStep(step: WaterfallStepContext) {
    const answer = String(step.result ?? '').trim();
    const contact = parseContact(answer);
    if (contact) draft(step).contact = 'phone' in contact ? { phone: contact.phone } : { email: contact.email };
    return step.next();
  }

  private async createStep(step: WaterfallStepContext) {
    const lang = await this.deps.lang.get(step.context, 'zh-Hans');
    const t = texts(lang);
    const d = draft(step);
    const { ticket, stored } = await this.deps.tickets.file(this.ticketInput(step.context, d.text, d.classification, d.topic, d.type, d.contact));
    markNumberGiven(step.context);
    await this.remember(step.context, ticket);
    await step.context.sendActivity(stored === 'database' ? t.created(ticket.number) : t.createdOffline(ticket.number));
    return step.endDialog(ticket.number);
  }

  /** The conversation is now about this ticket (follow-ups land on it). */
  private async remember(context: TurnContext, ticket: Ticket): Promise<void> {
    await this.deps.ticket?.set(context, { number: ticket.number, topic: ticket.topic });
  }

  private async validateContact(p: PromptValidatorContext<string>): Promise<boolean> {
    const lang = await this.deps.lang.get(p.context, 'zh-Hans');
    const v = String(p.recognized.value ?? '').trim();
    if (sameChoice(v, texts(lang).skip) || /^(skip|跳过|跳過|不用|no)$/i.test(v)) return true;
    if (parseContact(v)) return true;
    // After two tries, go on without contact details rather than trap the customer.
    return p.attemptCount >= 3;
  }

  /** True when an answer to the confirmation asks for a person ("转人工", "agent please"). */
  private asksForPerson(answer: string): boolean {
    let c: Partial<Pick<Classification, 'act' | 'actConfidence'>> = {};
    try {
      c = this.deps.classifier.classify(answer);
    } catch (err) {
      if (!(err instanceof ClassifierError)) throw err;
    }
    return readAct(c, answer).act === 'human';
  }

  private topicByName(answer: string, lang: ReplyLang): string | null {
    const n = names(this.deps.taxonomy, lang);
    const a = answer.trim().toLowerCase();
    const hit = this.deps.taxonomy.topics.find((x) => n.topic(x.id).toLowerCase() === a || x.id === a || x.name.zh === answer.trim() || x.name.en.toLowerCase() === a);
    return hit?.id ?? null;
  }

  private ticketInput(context: TurnContext, text: string, c: Classification, topic: string | null, type: string | null, contact: Draft['contact']): TicketCreate {
    return ticketInput(context, text, c, topic, type, contact);
  }
}

/** The waterfall's values (botbuilder types them as a plain object). */
function draft(step: WaterfallStepContext): Draft {
  return step.values as Draft;
}

function sameChoice(answer: string, choice: string): boolean {
  return answer.trim().toLowerCase() === choice.toLowerCase();
}

function isYes(answer: string, yes: string): boolean {
  return sameChoice(answer, yes) || /^(是|是的|对|對|对的|對的|没错|沒錯|yes|y|ok|好|好的|嗯|correct|right)[!！。.]*$/i.test(answer.trim());
}

/** A bare "no" to the confirmation (不对, 不是, 錯了, no, wrong): anything longer is more description. */
function isNo(answer: string): boolean {
  return /^(不|不是|不对|不對|不对的|不對的|都不是|错了|錯了|不正确|不正確|no|n|nope|wrong|not right|incorrect)[!！。.]*$/i.test(answer.trim());
}

/** The ticket a turn files: the customer's channel identity, conversation reference, text and classification. */
export function ticketInput(context: TurnContext, text: string, c: Classification, topic: string | null, type: string | null, contact?: { phone?: string; email?: string }, reviewReason?: string): TicketCreate {
  const activity = context.activity;
  return {
    customer: { channelId: activity.channelId, userId: activity.from.id, ...(activity.from.name ? { name: activity.from.name.slice(0, 128) } : {}) },
    conversationRef: JSON.stringify(TurnContext.getConversationReference(activity)),
    ...(contact ? { contact } : {}),
    text: { original: text, normalized: c.normalized },
    classification: ticketClassification(c, { topic, type }, reviewReason),
  };
}

/**
 * Whether a message reads as an answer to one of the intake dialog's questions (yes, skip, other,
 * rephrase, cancel, a topic name, a phone number or e-mail address) rather than a demand of its own.
 */
export function looksLikeDialogAnswer(text: string, taxonomy: Taxonomy): boolean {
  const a = text.trim();
  if (isYes(a, '') || parseContact(a)) return true;
  if (/^(skip|跳过|跳過|不用|no|cancel|取消|算了|other|其他|rephrase|重新描述)[!！。.]*$/i.test(a)) return true;
  return REPLY_LANGS.some((lang) => {
    const n = names(taxonomy, lang);
    const t = texts(lang);
    return [t.yes, t.other, t.rephrase, t.skip, ...taxonomy.topics.map((x) => n.topic(x.id))].some((choice) => sameChoice(a, choice));
  });
}
