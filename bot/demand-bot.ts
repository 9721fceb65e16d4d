/**
 * The bot: routes each customer message to help, cancel, ticket status, extra details for an open
 * ticket, an answer to what the customer is doing (greeting, thanks, goodbye, asking for a person),
 * or the intake dialog; replies in the customer's language (kept per conversation); limits message
 * length and rate politely.
 *
 * A ticket is a conversation: once a ticket is filed here (or staff replied or resolved it here),
 * its number is kept in the conversation state, and the customer's next messages are added to it
 * as follow-ups (no ticket query on the turn) until one clearly starts a new demand (the classifier
 * reads a demand of another topic at good confidence, or the customer says 新问题 / new issue).
 * After a resolution the bot asks for a 1–5 rating and records it on the ticket.
 */
import { randomUUID } from 'node:crypto';
import { ActivityHandler, ActivityTypes, MessageFactory, type ConversationState, type StatePropertyAccessor, type TurnContext } from 'botbuilder';
import { DialogSet, type DialogContext, type DialogState } from 'botbuilder-dialogs';
import type { Classification } from '../classifier/demand-classifier.js';
import { ClassifierError } from '../classifier/errors.js';
import { countScripts, detectLanguage } from '../classifier/language.js';
import { normalize, toSimplifiedChinese } from '../classifier/normalize.js';
import { codePointLength } from '../classifier/pipeline.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Ticket } from '../store/index.js';
import { TICKET_NUMBER_IN_TEXT, type TicketAttachment } from '../store/schemas.js';
import { inboundAttachments, MEDIA_TICKET } from '../channels/inbound.js';
import { StateUnavailableError } from '../store/state-fallback.js';
import { HELD_REVIEW_REASON, type HeldMessage } from '../store/held-messages.js';
import { isUnavailable } from '../store/ticket-repository.js';
import { ASKED_FOR_PERSON } from '../desk/classification.js';
import { readAct } from './dialogue-acts.js';
import type { LiveHandover } from './live-handover.js';
import { INTAKE_DIALOG, IntakeDialog, looksLikeDialogAnswer, markNumberGiven, ticketInput, type IntakeDeps, type IntakeOptions, type TicketContext } from './intake-dialog.js';
import { texts, toTraditionalChinese, type ReplyLang } from './messages.js';

export type { TicketContext };

/** Ticket lookups the bot needs (the ticket repository). */
export interface TicketLookup {
  /** The customer's ticket by the number they were given (never another customer's). */
  forCustomer(number: string, customer: CustomerRef): Promise<Ticket | null>;
  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
  list(query: { customerUserId: string; channelId: string; pageSize: number; sort: '-createdAt' }): Promise<{ items: Ticket[] }>;
  /**
   * Appends to the ticket; with `customer`, to that customer's ticket quoted as `number` (the
   * returned ticket's number differs when it was renumbered after waiting in the outbox).
   */
  addCustomerMessage(number: string, text: string, opts?: { attachments?: TicketAttachment[]; customer?: CustomerRef }): Promise<Ticket>;
  /** Records the customer's satisfaction rating on their ticket quoted as `number`. */
  rate(number: string, rating: { score: number; comment?: string }, customer: CustomerRef): Promise<Ticket>;
}

/** Who is writing: the channel and the customer's id on it. */
export interface CustomerRef {
  channelId: string;
  userId: string;
}


/** What a proactive message to the customer is: a staff reply, or the resolution with a rating request. */
export type ProactiveMessage = { kind: 'reply'; text: string } | { kind: 'resolved' };

/**
 * Tickets filed into the local outbox while the database was down, which the database does not
 * have yet: what a status lookup answers for them.
 */
export interface PendingTickets {
  /** A waiting ticket by number, if it is this customer's. */
  find(number: string, channelId: string, userId: string): { number: string } | null;
  /** The newest waiting ticket of a customer. */
  latestFor(channelId: string, userId: string): { number: string } | null;
}

export interface DemandBotDeps extends Omit<IntakeDeps, 'lang' | 'ticket'> {
  conversationState: ConversationState;
  lookup: TicketLookup;
  /** Tickets waiting in the outbox (none when omitted). */
  pending?: PendingTickets;
  /**
   * Keeps, durably, a message the bot cannot interpret without the conversation's state while the
   * database is down (store/held-messages.ts). Without it such a message is answered "send it again".
   */
  hold?: (message: HeldMessage) => Promise<void>;
  taxonomy: Taxonomy;
  maxMessageLength: number;
  /** Messages allowed per conversation per `rateWindowMs`. */
  rateLimit: number;
  rateWindowMs: number;
  /** A person when asked (the live queue); without it the bot only explains how to reach staff. */
  live?: (conversationState: ConversationState) => LiveHandover;
  now?: () => number;
}

/** How a kept attachment reads in the ticket's text (staff see the link even where the console shows no attachments). */
const MEDIA_LABEL: Partial<Record<TicketAttachment['kind'], string>> = { image: '图片', video: '视频', file: '文件', voice: '语音' };

const HELP = /^\s*(help|帮助|幫助|\?|？|帮忙|怎么用|怎麼用)\s*$/i;
const CANCEL = /^\s*(cancel|取消|算了|退出|quit|stop)\s*[!！。.]?\s*$/i;
const STATUS = /(查询|查詢|查看|查下|查一下|进度|進度|状态|狀態|status|progress)/i;
const STATUS_ABOUT_TICKET = /(工单|工單|ticket|投诉|投訴|单子|單子)/i;
const DETAILS = /^\s*(补充|補充|追加|add(?:itional)?(?: details?)?)\s*[:：,，]?\s*(.+)$/is;
/** The customer says the next message is another matter. */
const NEW_ISSUE = /^\s*(?:新问题|新問題|另一个问题|另一個問題|另外一个问题|另外一個問題|new (?:issue|problem|question|request)|another (?:issue|problem|question))\s*[:：,，.。!！]?\s*/i;
/** A demand of another topic starts a new ticket only at this topic confidence or above. */
export const NEW_DEMAND_MIN_CONFIDENCE = 0.75;
const RATING_NUMERALS: Record<string, number> = { '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, 一: 1, 二: 2, 两: 2, 兩: 2, 三: 3, 四: 4, 五: 5 };
/** A score's first word: one digit 1–5 alone, or a Chinese numeral (which needs a unit: 五星, 三分). */
const RATING_DIGIT = /^\s*([1-5])(?![0-9])/;
const RATING_HAN = /^\s*([一二两兩三四五])(?=\s*(?:分(?![钟鐘])|颗星|顆星|星(?!期)))/;
/** The unit after a score: 分 but not 分钟 (minutes), 星 but not 星期 (week), stars, points, "/5". */
const RATING_UNIT = /^\s*(?:分(?![钟鐘])|颗星|顆星|星(?!期)|stars?(?![a-z])|points?(?![a-z])|\/\s*5(?![0-9]))/i;
/**
 * What makes a bare number a quantity, not a score: a word straight after it (5点, 3天, 5G, 5折),
 * or, after a space, a unit of time, count or money (5 days, 2 个, 3 pm), or a decimal, time or
 * amount (3.5, 5:30, 5%).
 */
const NOT_A_SCORE = /^(?:[\p{L}]|\s*(?:[天日号號点點个個件元块塊次岁歲年月周週台臺楼樓层層位名箱盒瓶条條]|小时|小時|分钟|分鐘|星期|(?:days?|hours?|hrs?|minutes?|mins?|weeks?|months?|years?|times?|items?|pm|am|o'?clock)(?![a-z]))|[.,，:：]\s*[0-9]|\s*[%％$¥￥])/iu;

/**
 * A 1–5 rating at the start of a message ("5", "4分 师傅很耐心", "5 stars, thanks"), with the rest
 * as comment. A number that reads as a quantity is not a rating ("5点前能到吗", "3天了还没退款",
 * "5 days and still no refund"): asked for a rating, such a message is a follow-up, not a score.
 */
export function parseRating(text: string): { score: number; comment?: string } | null {
  const m = RATING_DIGIT.exec(text) ?? RATING_HAN.exec(text);
  if (!m) return null;
  let rest = text.slice(m[0].length);
  const unit = RATING_UNIT.exec(rest);
  if (unit) rest = rest.slice(unit[0].length);
  else if (NOT_A_SCORE.test(rest)) return null;
  const comment = rest.replace(/^[\s,，.。:：;；!！、~-]+/, '').trim();
  const score = RATING_NUMERALS[m[1]];
  return comment ? { score, comment: comment.slice(0, 1000) } : { score };
}

/** The language a message is clearly written in, or null when it is short or mixed. */
function clearLanguage(text: string): ReplyLang | null {
  const n = normalize(text);
  const counts = countScripts(n.text, n.hanCount, n.traditionalCount);
  const lang = detectLanguage(n.text, counts);
  const clear = (lang === 'en' && (counts.latinWords >= 3 || counts.latin >= 12)) || ((lang === 'zh-Hans' || lang === 'zh-Hant') && counts.han >= 2);
  return clear ? (lang as ReplyLang) : null;
}

export class DemandBot extends ActivityHandler {
  private readonly dialogState: StatePropertyAccessor<DialogState>;
  private readonly lang: StatePropertyAccessor<ReplyLang>;
  private readonly ticket: StatePropertyAccessor<TicketContext | undefined>;
  private readonly dialogs: DialogSet;
  private readonly recent = new Map<string, number[]>();
  private readonly live: LiveHandover | null;

  constructor(private readonly deps: DemandBotDeps) {
    super();
    this.dialogState = deps.conversationState.createProperty<DialogState>('dialogState');
    this.lang = deps.conversationState.createProperty<ReplyLang>('lang');
    this.ticket = deps.conversationState.createProperty<TicketContext | undefined>('ticket');
    this.dialogs = new DialogSet(this.dialogState);
    this.dialogs.add(new IntakeDialog({ ...deps, lang: this.lang, ticket: this.ticket }));
    this.live = deps.live?.(deps.conversationState) ?? null;

    this.onMembersAdded(async (context, next) => {
      // The page's locale (Web Chat sends it when the conversation starts) sets the language of the greeting.
      const fromLocale = localeLang(context.activity.locale);
      if (fromLocale && (await this.lang.get(context)) === undefined) await this.lang.set(context, fromLocale);
      for (const m of context.activity.membersAdded ?? []) {
        if (m.id !== context.activity.recipient.id) await context.sendActivity(texts(await this.lang.get(context, 'zh-Hans')).greeting);
      }
      await next();
    });
    this.onMessage(async (context, next) => {
      await this.handleMessage(context);
      await next();
    });
  }

  /**
   * Saves conversation state after every turn, including turns that ended in an error reply. When
   * the state cannot be read (the database is down), the turn is answered without it.
   */
  override async run(context: TurnContext): Promise<void> {
    // Only messages and membership changes mean something here; other activity types are ignored.
    if (context.activity.type !== ActivityTypes.Message && context.activity.type !== ActivityTypes.ConversationUpdate) return;
    // A live conversation's line reaches the agent before the turn's reads (see LiveHandover.forwardEarly).
    if (this.live && context.activity.type === ActivityTypes.Message) this.live.forwardEarly(context, this.acceptable(context));
    try {
      await this.deps.conversationState.load(context);
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      await this.handleWithoutState(context);
      return;
    }
    await super.run(context);
    await this.deps.conversationState.saveChanges(context, false);
  }

  /**
   * A turn while the database is down and this conversation's state is unknown. Nothing is guessed
   * and nothing is claimed that is not so: a demand is filed (into the durable outbox, with a
   * number) and the customer told it is received and will be filed; a status lookup answers from the
   * outbox; a message that only makes sense inside the dialog (yes, skip, a phone number …) cannot
   * be processed without the dialog, and the customer is told so and asked to send it again.
   */
  private async handleWithoutState(context: TurnContext): Promise<void> {
    const text = typeof context.activity.text === 'string' ? context.activity.text : '';
    // Without state the conversation's language is unknown: the message's, else the page's locale.
    const t = texts(clearLanguage(text) ?? localeLang(context.activity.locale) ?? 'zh-Hans');
    if (context.activity.type !== ActivityTypes.Message) {
      for (const m of context.activity.membersAdded ?? []) if (m.id !== context.activity.recipient.id) await context.sendActivity(t.greeting);
      return;
    }
    if (!this.allow(context.activity.conversation.id)) return void (await context.sendActivity(t.rateLimited));
    if (text.trim() === '' && inboundAttachments(context.activity).length > 0) return this.receiveMedia(context, t, false);
    if (codePointLength(text) > this.deps.maxMessageLength) return void (await context.sendActivity(t.tooLong(this.deps.maxMessageLength)));
    if (HELP.test(text)) return void (await context.sendActivity(t.help));
    const number = TICKET_NUMBER_IN_TEXT.exec(text)?.[0]?.toUpperCase();
    if (number || (STATUS.test(text) && STATUS_ABOUT_TICKET.test(text) && codePointLength(text) <= 40)) {
      await this.reportStatus(context, number ?? null, t);
      return;
    }
    if (DETAILS.test(text) || CANCEL.test(text) || looksLikeDialogAnswer(text, this.deps.taxonomy)) {
      // Only the dialog could read it ("对", "跳过", a phone number, "补充：…"): kept for staff, not guessed at.
      if (!this.deps.hold) return void (await context.sendActivity(t.retryLater));
      const held = this.heldMessage(context, DETAILS.exec(text)?.[2]?.trim() || text.trim());
      await this.deps.hold(held);
      await context.sendActivity(held.cancel ? t.cancelHeld : t.heldForLater);
      return;
    }
    let c: Classification;
    try {
      c = this.deps.classifier.classify(text);
    } catch (err) {
      if (err instanceof ClassifierError) return void (await context.sendActivity(t.empty));
      throw err;
    }
    if (c.reason === 'empty' || c.reason === 'no-text') return void (await context.sendActivity(t.empty));
    // A script we cannot read is never spam (as in the dialog); it is filed and answered in English too.
    const unsupported = c.lang === 'other' || c.reason === 'unsupported-language';
    if (unsupported) c = { ...c, spam: false, needsReview: true };
    // Asking for a person: nobody can take the chat now (the live queue needs the database); the
    // request is filed for staff as the live queue files one, and the customer told so.
    if (!unsupported && readAct(c, text).act === 'human') return this.askedWithoutState(context, text, c, t);
    // Filed as the classifier read it, for staff to check: the customer could not confirm the topic.
    const { ticket, stored } = await this.deps.tickets.file(ticketInput(context, text, c, c.topic, c.type, undefined, c.spam ? undefined : unsupported ? 'unsupported-language' : 'filed-without-dialog'));
    if (c.spam) return void (await context.sendActivity(t.spam));
    markNumberGiven(context);
    const said = (x: ReturnType<typeof texts>) => (stored === 'database' ? x.created(ticket.number) : x.createdOffline(ticket.number));
    await context.sendActivity(unsupported && t !== texts('en') ? `${said(texts('en'))}\n${said(t)}` : said(t));
  }

  /** A request for a person while the database is down and the conversation's state unknown (see handleWithoutState). */
  private async askedWithoutState(context: TurnContext, text: string, c: Classification, t: ReturnType<typeof texts>): Promise<void> {
    const flagged: Classification = { ...c, spam: false, needsReview: true };
    const { ticket, stored } = await this.deps.tickets.file(ticketInput(context, text, flagged, c.spam ? null : c.topic, c.spam ? null : c.type, undefined, ASKED_FOR_PERSON));
    markNumberGiven(context);
    await context.sendActivity(stored === 'database' ? t.humanFiled(ticket.number, this.deps.supportHours ?? null) : t.handoverOffline(ticket.number));
  }

  /**
   * A message kept during the outage: the ticket it becomes if the customer has no open ticket to
   * add it to when the database is back (for review: nobody confirmed what it is about).
   */
  private heldMessage(context: TurnContext, text: string): HeldMessage {
    let c: Classification;
    try {
      c = this.deps.classifier.classify(text);
    } catch (err) {
      if (!(err instanceof ClassifierError)) throw err;
      c = { ...this.neutral(text), lang: clearLanguage(text) ?? 'zh-Hans' };
    }
    const input = ticketInput(context, text, { ...c, spam: false, needsReview: true }, null, null, undefined, HELD_REVIEW_REASON);
    return {
      kind: 'held-message',
      id: randomUUID(),
      receivedAt: new Date((this.deps.now ?? Date.now)()),
      conversationId: context.activity.conversation.id,
      ...(CANCEL.test(text) ? { cancel: true } : {}),
      ticket: input,
    };
  }

  /** A classification that says nothing (media, or text the classifier refused): for staff to review. */
  private neutral(text: string): Classification {
    return {
      lang: 'zh-Hans',
      topic: null,
      type: null,
      spam: false,
      suspectedSpam: false,
      act: 'demand',
      actConfidence: 0,
      spamScore: 0,
      confidence: 0,
      typeConfidence: 0,
      alternatives: [],
      keywords: [],
      modelVersion: this.deps.classifier.version,
      needsReview: true,
      reason: null,
      normalized: text,
    };
  }

  /**
   * A message with media and no text (a channel's image, voice without recognition text, a video,
   * a location …). Images, videos and files are kept: added to the customer's open ticket, or filed
   * as a new ticket for staff to review (an image cannot be classified) and the customer asked to
   * describe the problem in words. Voice without text and other media get a polite request for text.
   */
  private async receiveMedia(context: TurnContext, t: ReturnType<typeof texts>, withState: boolean): Promise<void> {
    const all = inboundAttachments(context.activity);
    // Kept when staff can open it: a URL the channel gave (WeChat's PicUrl), or bytes the channel
    // fetched and keeps in the attachments collection (WeCom; voice too, as there is no recognition
    // text to read instead). A bare media id (WeChat video, voice) expires with the channel's
    // temporary media and cannot be shown; ask for words.
    const kept = all.filter((a) => ((a.kind === 'image' || a.kind === 'video' || a.kind === 'file') && (a.url || a.held)) || (a.kind === 'voice' && a.held));
    if (kept.length === 0) {
      await context.sendActivity(all.some((a) => a.kind === 'voice') ? t.voiceNeedsText : t.unsupportedMedia);
      return;
    }
    const voiceOnly = kept.every((a) => a.kind === 'voice');
    const label = kept.map((a) => `[${MEDIA_LABEL[a.kind] ?? a.kind}] ${a.url ?? a.name ?? a.mediaId ?? ''}`.trimEnd()).join('\n');
    const attachments: TicketAttachment[] = kept.map(({ held: _held, ...a }) => ({ ...a }));
    const { channelId, from } = context.activity;
    let open: Ticket | null = null;
    try {
      if (withState) open = await this.deps.lookup.latestOpenFor(channelId, from.id);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
    }
    if (open) {
      await this.deps.lookup.addCustomerMessage(open.number, label, { attachments });
      context.turnState.set(MEDIA_TICKET, open.number);
      await context.sendActivity(voiceOnly ? t.voiceKept(open.number) : t.mediaAdded(open.number));
      return;
    }
    const lang = withState ? await this.lang.get(context, 'zh-Hans') : 'zh-Hans';
    const c: Classification = { ...this.neutral(label), lang };
    const input = ticketInput(context, label, c, null, null, undefined, 'media-only');
    input.attachments = attachments;
    const { ticket, stored } = await this.deps.tickets.file(input);
    markNumberGiven(context);
    context.turnState.set(MEDIA_TICKET, ticket.number);
    await context.sendActivity(stored !== 'database' ? t.createdOffline(ticket.number) : voiceOnly ? t.voiceKept(ticket.number) : t.mediaFiled(ticket.number));
  }

  /** The language of this conversation's replies. */
  replyLang(context: TurnContext): Promise<ReplyLang> {
    return this.lang.get(context, 'zh-Hans');
  }

  /**
   * Sends a staff reply or the resolution notice into the customer's conversation (a proactive
   * turn) and makes the conversation about that ticket, so the answer to it lands on the ticket;
   * after a resolution the next message may be the rating. The conversation's language words the
   * resolution notice (the ticket's language when the state is gone).
   */
  async proactive(context: TurnContext, ticket: Ticket, message: ProactiveMessage): Promise<void> {
    let state = true;
    try {
      await this.deps.conversationState.load(context);
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err;
      state = false;
    }
    const fallback: ReplyLang = ticket.lang === 'en' || ticket.lang === 'zh-Hant' ? ticket.lang : 'zh-Hans';
    const t = texts(state ? await this.lang.get(context, fallback) : fallback);
    if (state) {
      // Saved before sending: a send that fails is reported undelivered with nothing else wrong;
      // a save that fails sends nothing, and is reported the same way.
      const current = await this.ticket.get(context);
      const awaitingRating = message.kind === 'resolved' || (current?.number === ticket.number && current.awaitingRating === true);
      await this.ticket.set(context, { number: ticket.number, topic: ticket.topic, ...(awaitingRating ? { awaitingRating } : {}) });
      await this.deps.conversationState.saveChanges(context, false);
    }
    if (message.kind === 'reply') await context.sendActivity(message.text);
    else await context.sendActivity(MessageFactory.suggestedActions(['1', '2', '3', '4', '5'], t.resolved(ticket.number)));
  }

  private async handleMessage(context: TurnContext): Promise<void> {
    const text = typeof context.activity.text === 'string' ? context.activity.text : '';
    await this.trackLanguage(context, text);
    const t = texts(await this.lang.get(context, 'zh-Hans'));
    if (!this.allow(context.activity.conversation.id)) {
      await context.sendActivity(t.rateLimited);
      return;
    }
    if (text.trim() === '' && inboundAttachments(context.activity).length > 0) {
      await this.receiveMedia(context, t, true);
      return;
    }
    if (codePointLength(text) > this.deps.maxMessageLength) {
      await context.sendActivity(t.tooLong(this.deps.maxMessageLength));
      return;
    }
    const dc = await this.dialogs.createContext(context);
    // A live conversation's messages go to the agent; a request for a person joins the queue. A
    // rating the resolution notice asked for is one while the conversation waits, too (see intercept).
    if (this.live) {
      const asked = (await this.ticket.get(context))?.awaitingRating === true;
      if (await this.live.intercept(context, text, await this.lang.get(context, 'zh-Hans'), dc, { rating: asked && parseRating(text) !== null })) return;
    }
    if (HELP.test(text)) {
      await context.sendActivity(t.help);
      return;
    }
    if (CANCEL.test(text)) {
      const active = dc.activeDialog !== undefined;
      await dc.cancelAllDialogs();
      await context.sendActivity(active ? t.cancelled : t.nothingToCancel);
      return;
    }
    const number = TICKET_NUMBER_IN_TEXT.exec(text)?.[0]?.toUpperCase();
    if (number || (STATUS.test(text) && STATUS_ABOUT_TICKET.test(text) && codePointLength(text) <= 40)) {
      await dc.cancelAllDialogs();
      await this.reportStatus(context, number ?? null);
      return;
    }
    const details = DETAILS.exec(text);
    if (details && !dc.activeDialog) {
      await this.addDetails(context, details[2].trim());
      return;
    }
    if (dc.activeDialog) {
      // A person asked for in words only the model reads as such ("可以找个真人聊聊吗"; the lexicon's
      // 转人工 was taken by the live queue above): the queue, with the demand the dialog holds.
      if (this.live && !looksLikeDialogAnswer(text, this.deps.taxonomy) && this.modelAsksForPerson(text)) {
        return this.live.request(context, text, await this.lang.get(context, 'zh-Hans'), dc, 'asked');
      }
      // Answers to the dialog's questions (yes/no, a topic, contact details) belong to the dialog.
      await dc.continueDialog();
      return;
    }
    const intake = async (options: IntakeOptions) => {
      await dc.beginDialog(INTAKE_DIALOG, options);
    };
    const current = await this.ticket.get(context);
    if (current) return this.onTicket(context, text, current, t, dc, intake);
    await this.routeByAct(context, text, dc, intake);
  }

  /**
   * A message in a conversation about a ticket: a rating when one was asked for, a new demand
   * when it clearly is one, otherwise a follow-up added to the ticket (acknowledged briefly).
   */
  private async onTicket(context: TurnContext, text: string, current: TicketContext, t: ReturnType<typeof texts>, dc: DialogContext, intake: (options: IntakeOptions) => Promise<void>): Promise<void> {
    const customer = { channelId: context.activity.channelId, userId: context.activity.from.id };
    const rating = current.awaitingRating ? parseRating(text) : null;
    if (rating) {
      const rated = await this.deps.lookup.rate(current.number, rating, customer);
      // Rated: the ticket's conversation is over; what comes next is answered afresh.
      await this.ticket.delete(context);
      await context.sendActivity(withNumberChange(t, t.ratingThanks(rated.number, rating.score), current.number, rated.number));
      return;
    }
    const marker = NEW_ISSUE.exec(text);
    if (marker) {
      await this.ticket.delete(context);
      const rest = text.slice(marker[0].length).trim();
      if (!rest) return void (await context.sendActivity(t.newIssue));
      return this.routeByAct(context, rest, dc, intake);
    }
    let c: Classification | undefined;
    try {
      c = this.deps.classifier.classify(text);
    } catch (err) {
      if (!(err instanceof ClassifierError)) throw err;
    }
    const act = c ? readAct(c, text).act : 'followup';
    if (c && act === 'demand' && isNewDemand(c, current)) {
      await this.ticket.delete(context);
      return intake({ text, classification: c });
    }
    // Asking for a person joins the live queue (the request is kept on the ticket there).
    if (act === 'human' && this.live) return this.live.request(context, text, await this.lang.get(context, 'zh-Hans'), dc, 'asked');
    // Everything else is on the ticket, a question about its progress too (staff see the customer waiting).
    const { number } = await this.deps.lookup.addCustomerMessage(current.number, text, { customer });
    // Stored under a new number after waiting in the outbox: the conversation follows it.
    if (number !== current.number) await this.ticket.set(context, { ...current, number });
    if (act === 'status') return this.reportStatus(context, number, undefined, current.number);
    if (act === 'human') return void (await context.sendActivity(withNumberChange(t, t.human(number, this.deps.supportHours ?? null), current.number, number)));
    await context.sendActivity(withNumberChange(t, act === 'thanks' ? t.followupThanks(number) : t.followupAdded(number), current.number, number));
  }

  /**
   * Answers what the customer is doing when it is not a demand: greet back, thank back, say
   * goodbye, explain how to reach a person, report ticket status, add a follow-up to the open
   * ticket. Everything else (and anything not recognised) is a demand for the intake dialog, so
   * a greeting is never filed as a ticket and a demand is never lost.
   */
  private async routeByAct(context: TurnContext, text: string, dc: DialogContext, intake: (options: IntakeOptions) => Promise<void>): Promise<void> {
    let c: Classification | undefined;
    try {
      c = this.deps.classifier.classify(text);
    } catch (err) {
      // Bad input: the intake dialog gives the polite answer.
      if (!(err instanceof ClassifierError)) throw err;
    }
    if (!c || c.reason === 'empty' || c.reason === 'no-text') return intake({ text, ...(c ? { classification: c } : {}) });
    const t = texts(await this.lang.get(context, 'zh-Hans'));
    switch (readAct(c, text).act) {
      case 'greeting':
        await context.sendActivity(t.greetBack);
        return;
      case 'thanks':
        await context.sendActivity(t.thanksBack);
        return;
      case 'goodbye':
        await context.sendActivity(t.goodbye);
        return;
      case 'yes':
      case 'no':
        await context.sendActivity(t.anythingElse);
        return;
      case 'human': {
        if (this.live) return this.live.request(context, text, await this.lang.get(context, 'zh-Hans'), dc, 'asked');
        const open = await this.deps.lookup.latestOpenFor(context.activity.channelId, context.activity.from.id);
        await context.sendActivity(t.human(open?.number ?? null, this.deps.supportHours ?? null));
        return;
      }
      case 'status':
        await this.reportStatus(context, null);
        return;
      case 'followup': {
        // "好的那明天我在家等" after a ticket belongs to that ticket; with none open it is a demand.
        const open = await this.deps.lookup.latestOpenFor(context.activity.channelId, context.activity.from.id);
        if (open) {
          await this.deps.lookup.addCustomerMessage(open.number, text);
          await context.sendActivity(t.addedDetails(open.number));
          return;
        }
        return intake({ text, classification: c });
      }
      default:
        return intake({ text, classification: c });
    }
  }

  /**
   * Status of a ticket, only for the customer identity that created it. A ticket still waiting in
   * the outbox is reported as received and waiting to be filed, also while the database is down.
   */
  private async reportStatus(context: TurnContext, number: string | null, known?: ReturnType<typeof texts>, former: string | null = number): Promise<void> {
    const t = known ?? texts(await this.lang.get(context, 'zh-Hans'));
    const { channelId, from } = context.activity;
    const waiting = (number ? this.deps.pending?.find(number, channelId, from.id) : this.deps.pending?.latestFor(channelId, from.id)) ?? null;
    let ticket: Ticket | null;
    try {
      if (number) {
        ticket = await this.deps.lookup.forCustomer(number, { channelId, userId: from.id });
      } else {
        ticket = (await this.deps.lookup.list({ customerUserId: from.id, channelId, pageSize: 1, sort: '-createdAt' })).items[0] ?? null;
      }
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      await context.sendActivity(waiting ? t.statusPending(waiting.number) : t.statusUnavailable);
      return;
    }
    // Asked without a number: a ticket still in the outbox is newer than any the database has.
    if (waiting && (!ticket || !number)) {
      await context.sendActivity(t.statusPending(waiting.number));
      return;
    }
    if (!ticket) {
      await context.sendActivity(number ? t.statusNotFound(number) : t.askTicketNumber);
      return;
    }
    const reply = ticket.replies.filter((r) => r.delivered).at(-1)?.text ?? null;
    await context.sendActivity(withNumberChange(t, t.statusOf(ticket.number, t.statuses[ticket.status] ?? ticket.status, reply), former, ticket.number));
  }

  private async addDetails(context: TurnContext, details: string): Promise<void> {
    const t = texts(await this.lang.get(context, 'zh-Hans'));
    // The conversation's ticket when there is one (no query); else the customer's latest open one.
    const kept = await this.ticket.get(context);
    const open = kept ?? (await this.deps.lookup.latestOpenFor(context.activity.channelId, context.activity.from.id));
    if (!open) {
      await context.sendActivity(t.noOpenTicket);
      return;
    }
    // The conversation keeps the number the customer was given, which their ticket may have lost at
    // outbox replay (another ticket holds it now): resolved for this customer, never another's ticket.
    const customer = { channelId: context.activity.channelId, userId: context.activity.from.id };
    const { number } = await this.deps.lookup.addCustomerMessage(open.number, details, { customer });
    if (kept && number !== kept.number) await this.ticket.set(context, { ...kept, number });
    await context.sendActivity(withNumberChange(t, t.addedDetails(number), open.number, number));
  }

  /**
   * Follows the customer's language: a clearly Chinese or English message sets it; short or
   * mixed messages ("ok", "好的", "我的order…") keep the current one. The first message of a
   * conversation sets it even when short, so "hi" is answered in English and "喂" in Chinese.
   */
  private async trackLanguage(context: TurnContext, text: string): Promise<void> {
    // Addresses, numbers and codes say nothing about the language: a mistyped e-mail address
    // ("zhang.san@qq,com") once switched a Chinese conversation to English.
    const words = withoutCodes(text);
    const n = normalize(words);
    const counts = countScripts(n.text, n.hanCount, n.traditionalCount);
    let lang = detectLanguage(n.text, counts);
    if (lang !== 'en' && lang !== 'zh-Hans' && lang !== 'zh-Hant') return;
    const current = await this.lang.get(context);
    // Characters written the same in both scripts (取消, 好的) keep a traditional conversation traditional.
    if (lang === 'zh-Hans' && current === 'zh-Hant' && sameInBothScripts(n.text)) lang = 'zh-Hant';
    const clear = (lang === 'en' && (counts.latinWords >= 3 || counts.latin >= 12)) || (lang !== 'en' && counts.han >= 2);
    const first = current === undefined;
    if (first) {
      const fromLocale = localeLang(context.activity.locale);
      // A short or script-neutral first message follows the page's locale (an English page, "ok").
      if (fromLocale && !clear) return void (await this.lang.set(context, fromLocale));
    }
    if (clear || (first && (counts.latin >= 2 || counts.han >= 1))) await this.lang.set(context, lang);
  }

  /** True when the classifier's dialogue act says the message asks for a person. */
  private modelAsksForPerson(text: string): boolean {
    try {
      return readAct(this.deps.classifier.classify(text), text).act === 'human';
    } catch (err) {
      if (err instanceof ClassifierError) return false;
      throw err;
    }
  }

  /** What the turn will not refuse before the live queue sees it: text within the length and rate limits. */
  private acceptable(context: TurnContext): boolean {
    return this.acceptsLine(context.activity.conversation.id, typeof context.activity.text === 'string' ? context.activity.text : '');
  }

  /**
   * Whether the bot would take this line of the conversation now (not too long, within the rate
   * limit), without counting it: what may be shown to a person before the turn. Whether it is the
   * person's line (a line that reads as a rating, while the conversation waits, is left to the turn)
   * is the desk's to say (desk/handover.ts `mayShowOnReceipt`).
   */
  acceptsLine(conversationId: string, text: string): boolean {
    if (codePointLength(text) > this.deps.maxMessageLength) return false;
    const since = (this.deps.now ?? Date.now)() - this.deps.rateWindowMs;
    return (this.recent.get(conversationId) ?? []).filter((x) => x > since).length < this.deps.rateLimit;
  }

  /** Sliding-window rate limit per conversation (per process: a limit, not state to keep). */
  private allow(conversationId: string): boolean {
    const now = (this.deps.now ?? Date.now)();
    const since = now - this.deps.rateWindowMs;
    const times = (this.recent.get(conversationId) ?? []).filter((x) => x > since);
    if (times.length >= this.deps.rateLimit) {
      this.recent.set(conversationId, times);
      return false;
    }
    times.push(now);
    this.recent.set(conversationId, times);
    if (this.recent.size > 50_000) this.recent.clear();
    return true;
  }
}

/** A clearly new demand: another topic than the ticket's, read with good confidence and not in doubt. */
function isNewDemand(c: Classification, current: TicketContext): boolean {
  return !c.spam && c.topic !== null && c.topic !== current.topic && !c.needsReview && c.confidence >= NEW_DEMAND_MIN_CONFIDENCE;
}

/** True when the Chinese in a text reads the same in simplified and traditional script. */
function sameInBothScripts(text: string): boolean {
  return toTraditionalChinese(text) === text && toSimplifiedChinese(text) === text;
}

/** The reply language a Web Chat locale asks for (en-US → en, zh-TW / zh-HK / zh-Hant → zh-Hant). */
export function localeLang(locale: string | undefined): ReplyLang | null {
  if (!locale) return null;
  const l = locale.toLowerCase();
  if (l === 'en' || l.startsWith('en-')) return 'en';
  if (/^zh-(?:tw|hk|mo|hant)/.test(l)) return 'zh-Hant';
  if (l === 'zh' || l.startsWith('zh-')) return 'zh-Hans';
  return null;
}

/**
 * `text` with every whitespace-separated word that holds a digit or an `@` (addresses, numbers,
 * codes) replaced by a space, for language detection. Linear in the text's length: the regular
 * expression this replaces (`\S*[@\d]\S*`) backtracked from every position of a long word without
 * digits, so a 60 KB message without spaces cost the server about 0.8 s (quadratic).
 */
export function withoutCodes(text: string): string {
  return text.replace(/\S+/g, (word) => (/[@\d]/.test(word) ? ' ' : word));
}

/**
 * An answer about a ticket the customer knows as `former`, stored under `number` instead (the number
 * was taken while it waited in the outbox): the answer, then a line saying the number changed.
 */
function withNumberChange(t: ReturnType<typeof texts>, answer: string, former: string | null, number: string): string {
  return former && former.toUpperCase() !== number ? `${answer}\n${t.numberChanged(former.toUpperCase(), number)}` : answer;
}
