/**
 * The bot: routes each customer message to help, cancel, ticket status, extra details for an open
 * ticket, an answer to what the customer is doing (greeting, thanks, goodbye, asking for a person),
 * or the intake dialog; replies in the customer's language (kept per conversation); limits message
 * length and rate politely.
 */
import { ActivityHandler, ActivityTypes, type ConversationState, type StatePropertyAccessor, type TurnContext } from 'botbuilder';
import { DialogSet, type DialogState } from 'botbuilder-dialogs';
import type { Classification } from '../classifier/demand-classifier.js';
import { ClassifierError } from '../classifier/errors.js';
import { countScripts, detectLanguage } from '../classifier/language.js';
import { normalize } from '../classifier/normalize.js';
import { codePointLength } from '../classifier/pipeline.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Ticket } from '../store/index.js';
import type { TicketAttachment } from '../store/schemas.js';
import { inboundAttachments } from '../channels/inbound.js';
import { StateUnavailableError } from '../store/state-fallback.js';
import { isUnavailable } from '../store/ticket-repository.js';
import { readAct } from './dialogue-acts.js';
import { INTAKE_DIALOG, IntakeDialog, looksLikeDialogAnswer, markNumberGiven, ticketInput, type IntakeDeps, type IntakeOptions } from './intake-dialog.js';
import { texts, type ReplyLang } from './messages.js';

/** Ticket lookups the bot needs (the ticket repository). */
export interface TicketLookup {
  get(number: string): Promise<Ticket | null>;
  latestOpenFor(channelId: string, userId: string): Promise<Ticket | null>;
  list(query: { customerUserId: string; channelId: string; pageSize: number; sort: '-createdAt' }): Promise<{ items: Ticket[] }>;
  addCustomerMessage(number: string, text: string, attachments?: TicketAttachment[]): Promise<Ticket>;
}

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

export interface DemandBotDeps extends Omit<IntakeDeps, 'lang'> {
  conversationState: ConversationState;
  lookup: TicketLookup;
  /** Tickets waiting in the outbox (none when omitted). */
  pending?: PendingTickets;
  taxonomy: Taxonomy;
  maxMessageLength: number;
  /** Messages allowed per conversation per `rateWindowMs`. */
  rateLimit: number;
  rateWindowMs: number;
  now?: () => number;
}

/** How a kept attachment reads in the ticket's text (staff see the link even where the console shows no attachments). */
const MEDIA_LABEL: Partial<Record<TicketAttachment['kind'], string>> = { image: '图片', video: '视频', file: '文件' };

const TICKET_NUMBER = /\bT\d{8}-(?:\d{4,}|O[0-9A-Z]{6})\b/i;
const HELP = /^\s*(help|帮助|幫助|\?|？|帮忙|怎么用|怎麼用)\s*$/i;
const CANCEL = /^\s*(cancel|取消|算了|退出|quit|stop)\s*[!！。.]?\s*$/i;
const STATUS = /(查询|查詢|查看|查下|查一下|进度|進度|状态|狀態|status|progress)/i;
const STATUS_ABOUT_TICKET = /(工单|工單|ticket|投诉|投訴|单子|單子)/i;
const DETAILS = /^\s*(补充|補充|追加|add(?:itional)?(?: details?)?)\s*[:：,，]?\s*(.+)$/is;

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
  private readonly dialogs: DialogSet;
  private readonly recent = new Map<string, number[]>();

  constructor(private readonly deps: DemandBotDeps) {
    super();
    this.dialogState = deps.conversationState.createProperty<DialogState>('dialogState');
    this.lang = deps.conversationState.createProperty<ReplyLang>('lang');
    this.dialogs = new DialogSet(this.dialogState);
    this.dialogs.add(new IntakeDialog({ ...deps, lang: this.lang }));

    this.onMembersAdded(async (context, next) => {
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
    const t = texts(clearLanguage(text) ?? 'zh-Hans');
    if (context.activity.type !== ActivityTypes.Message) {
      for (const m of context.activity.membersAdded ?? []) if (m.id !== context.activity.recipient.id) await context.sendActivity(t.greeting);
      return;
    }
    if (!this.allow(context.activity.conversation.id)) return void (await context.sendActivity(t.rateLimited));
    if (text.trim() === '' && inboundAttachments(context.activity).length > 0) return this.receiveMedia(context, t, false);
    if (codePointLength(text) > this.deps.maxMessageLength) return void (await context.sendActivity(t.tooLong(this.deps.maxMessageLength)));
    if (HELP.test(text)) return void (await context.sendActivity(t.help));
    const number = TICKET_NUMBER.exec(text)?.[0]?.toUpperCase();
    if (number || (STATUS.test(text) && STATUS_ABOUT_TICKET.test(text) && codePointLength(text) <= 40)) {
      await this.reportStatus(context, number ?? null, t);
      return;
    }
    if (DETAILS.test(text) || CANCEL.test(text) || looksLikeDialogAnswer(text, this.deps.taxonomy)) {
      await context.sendActivity(t.retryLater);
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
    // Filed as the classifier read it, for staff to check: the customer could not confirm the topic.
    const { ticket, stored } = await this.deps.tickets.file(ticketInput(context, text, c, c.topic, c.type, undefined, c.spam ? undefined : unsupported ? 'unsupported-language' : 'filed-without-dialog'));
    if (c.spam) return void (await context.sendActivity(t.spam));
    markNumberGiven(context);
    const said = (x: ReturnType<typeof texts>) => (stored === 'database' ? x.created(ticket.number) : x.createdOffline(ticket.number));
    await context.sendActivity(unsupported && t !== texts('en') ? `${said(texts('en'))}\n${said(t)}` : said(t));
  }

  /**
   * A message with media and no text (a channel's image, voice without recognition text, a video,
   * a location …). Images, videos and files are kept: added to the customer's open ticket, or filed
   * as a new ticket for staff to review (an image cannot be classified) and the customer asked to
   * describe the problem in words. Voice without text and other media get a polite request for text.
   */
  private async receiveMedia(context: TurnContext, t: ReturnType<typeof texts>, withState: boolean): Promise<void> {
    const all = inboundAttachments(context.activity);
    // Kept when staff can open it: a URL the channel gave (WeChat's PicUrl). A bare media id (WeChat
    // video, voice) expires with the channel's temporary media and cannot be shown; ask for words.
    const kept = all.filter((a) => (a.kind === 'image' || a.kind === 'video' || a.kind === 'file') && a.url);
    if (kept.length === 0) {
      await context.sendActivity(all.some((a) => a.kind === 'voice') ? t.voiceNeedsText : t.unsupportedMedia);
      return;
    }
    const label = kept.map((a) => `[${MEDIA_LABEL[a.kind] ?? a.kind}] ${a.url}`).join('\n');
    const attachments: TicketAttachment[] = kept.map((a) => ({ ...a }));
    const { channelId, from } = context.activity;
    let open: Ticket | null = null;
    try {
      if (withState) open = await this.deps.lookup.latestOpenFor(channelId, from.id);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
    }
    if (open) {
      await this.deps.lookup.addCustomerMessage(open.number, label, attachments);
      await context.sendActivity(t.mediaAdded(open.number));
      return;
    }
    const lang = withState ? await this.lang.get(context, 'zh-Hans') : 'zh-Hans';
    const c: Classification = {
      lang,
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
      normalized: label,
    };
    const input = ticketInput(context, label, c, null, null, undefined, 'media-only');
    input.attachments = attachments;
    const { ticket, stored } = await this.deps.tickets.file(input);
    markNumberGiven(context);
    await context.sendActivity(stored === 'database' ? t.mediaFiled(ticket.number) : t.createdOffline(ticket.number));
  }

  /** The language of this conversation's replies. */
  replyLang(context: TurnContext): Promise<ReplyLang> {
    return this.lang.get(context, 'zh-Hans');
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
    const number = TICKET_NUMBER.exec(text)?.[0]?.toUpperCase();
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
      // Answers to the dialog's questions (yes/no, a topic, contact details) belong to the dialog.
      await dc.continueDialog();
      return;
    }
    await this.routeByAct(context, text, async (options) => {
      await dc.beginDialog(INTAKE_DIALOG, options);
    });
  }

  /**
   * Answers what the customer is doing when it is not a demand: greet back, thank back, say
   * goodbye, explain how to reach a person, report ticket status, add a follow-up to the open
   * ticket. Everything else (and anything not recognised) is a demand for the intake dialog, so
   * a greeting is never filed as a ticket and a demand is never lost.
   */
  private async routeByAct(context: TurnContext, text: string, intake: (options: IntakeOptions) => Promise<void>): Promise<void> {
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
  private async reportStatus(context: TurnContext, number: string | null, known?: ReturnType<typeof texts>): Promise<void> {
    const t = known ?? texts(await this.lang.get(context, 'zh-Hans'));
    const { channelId, from } = context.activity;
    const waiting = (number ? this.deps.pending?.find(number, channelId, from.id) : this.deps.pending?.latestFor(channelId, from.id)) ?? null;
    let ticket: Ticket | null;
    try {
      if (number) {
        ticket = await this.deps.lookup.get(number);
        if (ticket && (ticket.customer.channelId !== channelId || ticket.customer.userId !== from.id)) ticket = null;
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
    await context.sendActivity(t.statusOf(ticket.number, t.statuses[ticket.status] ?? ticket.status, reply));
  }

  private async addDetails(context: TurnContext, details: string): Promise<void> {
    const t = texts(await this.lang.get(context, 'zh-Hans'));
    const open = await this.deps.lookup.latestOpenFor(context.activity.channelId, context.activity.from.id);
    if (!open) {
      await context.sendActivity(t.noOpenTicket);
      return;
    }
    await this.deps.lookup.addCustomerMessage(open.number, details);
    await context.sendActivity(t.addedDetails(open.number));
  }

  /**
   * Follows the customer's language: a clearly Chinese or English message sets it; short or
   * mixed messages ("ok", "好的", "我的order…") keep the current one. The first message of a
   * conversation sets it even when short, so "hi" is answered in English and "喂" in Chinese.
   */
  private async trackLanguage(context: TurnContext, text: string): Promise<void> {
    const n = normalize(text);
    const counts = countScripts(n.text, n.hanCount, n.traditionalCount);
    const lang = detectLanguage(n.text, counts);
    if (lang !== 'en' && lang !== 'zh-Hans' && lang !== 'zh-Hant') return;
    const clear = (lang === 'en' && (counts.latinWords >= 3 || counts.latin >= 12)) || (lang !== 'en' && counts.han >= 2);
    const first = (await this.lang.get(context)) === undefined;
    if (clear || (first && (counts.latin >= 2 || counts.han >= 1))) await this.lang.set(context, lang);
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
