/**
 * Conversation management of the web chat channel: creating conversations with their (server-issued)
 * user, finding them (one `_id` lookup; expired ones read as absent), appending what the client and
 * the bot say to the shared activity log, and handing the client's activities to the bot in order.
 * Everything a later request needs is in the database, so the next request may reach any process.
 */
import { randomBytes } from 'node:crypto';
import type { Activity } from 'botbuilder';
import { activityId, MongoDirectLineRepository, seqOf, type DirectLineConversation, type LoggedActivity } from '../../store/directline-repository.js';
import type { ReceiptJournal } from '../../store/receipt-journal.js';
import { BotFailedError, NotFoundError, TooManyRequestsError } from './errors.js';
import { errorText, isRecord, type DirectLineLog } from './http.js';
import type { ResolvedLimits } from './limits.js';
import type { ClientActivity } from './schemas.js';

/** The channel id stamped on every activity of this channel (Web Chat's own id). */
export const DIRECT_LINE_CHANNEL_ID = 'webchat';
/** Prefix of the user ids the bot sees: a web client cannot pose as another channel's user. */
export const WEBCHAT_USER_PREFIX = 'webchat:';

/** How far back in a conversation's log a re-sent activity is looked for (its last N entries). */
export const RESEND_WINDOW = 50;

/** The client's own id of an activity (Web Chat sets `channelData.clientActivityID`), if it has a usable one. */
export function clientActivityIdOf(input: ClientActivity): string | undefined {
  const id = input.channelData?.clientActivityID;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** An activity in its JSON wire form (dates are ISO strings). */
export type WireActivity = Record<string, unknown> & { type: string; id?: string };

/**
 * Lines shown to a person on receipt (a live conversation's): see `DirectLineOptions.receipts`.
 */
export interface ReceiptOptions {
  /** Where a line shown on receipt is made durable first. */
  journal: ReceiptJournal;
  /** Whether this line is shown on receipt (the conversation is live here and the bot would take the line). */
  accepts(conversationId: string, text: string): boolean;
  /** Shows the line to the person (it is in the journal). */
  show(conversationId: string, text: string): void;
}

/** What {@link ConversationService} needs. */
export interface ConversationServiceOptions {
  repo: MongoDirectLineRepository;
  limits: ResolvedLimits;
  botId: string;
  /** `serviceUrl` stamped on activities the bot receives (informational: replies stay in process). */
  serviceUrl: () => string;
  deliverToBot: (activity: Activity) => Promise<void>;
  /** Conversations whose appends go to the head of the batch-insert queue (see DirectLineOptions.urgent). */
  urgent: (conversationId: string) => boolean;
  /** Live lines shown on receipt, durable in a local journal before their database write (none: shown by the bot's turn). */
  receipts?: ReceiptOptions;
  /** Called after every append (the stream pushes it to open sockets, and rings other processes). */
  onAppended: (conversationId: string, entry: LoggedActivity) => void;
  /** The pseudonymous reference the bot and staff see for a client user id (tokens.ts `customerReference`). */
  reference: (clientUserId: string) => Promise<string>;
  log: DirectLineLog;
}

/** Conversations of the web chat channel, their logs and the delivery of user activities to the bot. */
export class ConversationService {
  /** Deliveries to the bot run one after another per conversation, in this process. */
  private readonly deliveries = new Map<string, Promise<void>>();
  /** Conversations known to have been announced (saves a marker insert per activity). */
  private readonly announced = new Set<string>();
  /**
   * Bytes each conversation's client has posted through this process (bounded map). Kept here,
   * not in the database, because FerretDB updates cost a scan; with several processes each
   * enforces the budget on what it received.
   */
  private readonly clientBytes = new Map<string, number>();
  /** Journaled live lines being stored here now, by journal key. */
  private readonly storing = new Set<string>();
  /** Client activities being stored here now, by `<conversation>|<clientActivityID>`: a copy sent meanwhile waits for the first. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly o: ConversationServiceOptions) {}

  /** A new conversation for `clientUserId` (the id without the `webchat:` prefix). */
  async create(clientUserId: string, userName?: string, locale?: string): Promise<DirectLineConversation> {
    const now = Date.now();
    return this.o.repo.createConversation({
      _id: MongoDirectLineRepository.newId(now),
      userId: WEBCHAT_USER_PREFIX + (await this.o.reference(clientUserId)),
      clientUserId,
      ...(userName ? { userName } : {}),
      ...(locale ? { locale } : {}),
      createdAt: new Date(now),
      expiresAt: new Date(now + this.o.limits.idleSeconds * 1000),
    });
  }

  /** The conversation, or null when it does not exist or has expired. */
  find(id: string): Promise<DirectLineConversation | null> {
    return this.o.repo.getConversation(id);
  }

  async get(id: string): Promise<DirectLineConversation> {
    const conv = await this.o.repo.getConversation(id);
    if (!conv) throw new NotFoundError();
    return conv;
  }

  clientUserOf(conv: DirectLineConversation): string {
    return conv.clientUserId ?? conv.userId.slice(WEBCHAT_USER_PREFIX.length);
  }

  /** Activities after `watermark`; `upTo` (an entry appended here) spares looking up the end of the log. */
  after(conv: DirectLineConversation, watermark: number, upTo?: number): Promise<{ entries: LoggedActivity[]; latest: number }> {
    return this.o.repo.after(conv, watermark, this.o.limits.maxActivities, upTo);
  }

  /**
   * Marks the conversation started; true for the first start across all processes, which also
   * tells the bot that it and the user joined.
   */
  async startOnce(conv: DirectLineConversation): Promise<boolean> {
    const first = await this.o.repo.once(conv._id, 'started');
    if (first) await this.announceMembers(conv);
    return first;
  }

  /** Tells the bot, once across all processes, that it and the user joined (bots greet then). */
  async announceMembers(conv: DirectLineConversation): Promise<void> {
    if (this.announced.has(conv._id)) return;
    const first = await this.o.repo.once(conv._id, 'members');
    this.announced.add(conv._id);
    if (this.announced.size > 50_000) this.announced.delete(this.announced.values().next().value as string);
    if (!first) return;
    const user = { id: conv.userId, ...(conv.userName ? { name: conv.userName } : {}), role: 'user' };
    const update: WireActivity = {
      type: 'conversationUpdate',
      id: `${conv._id}|update-${randomBytes(6).toString('hex')}`,
      timestamp: new Date().toISOString(),
      channelId: DIRECT_LINE_CHANNEL_ID,
      serviceUrl: this.o.serviceUrl(),
      conversation: { id: conv._id },
      from: user,
      recipient: { id: this.o.botId, role: 'bot' },
      membersAdded: [{ id: this.o.botId }, { id: user.id, ...(user.name ? { name: user.name } : {}) }],
      ...(conv.locale ? { locale: conv.locale } : {}),
    };
    this.deliver(conv._id, update).catch((err: unknown) => {
      this.o.log.warn({ conversationId: conv._id, err: errorText(err) }, 'direct line: the bot did not take the conversationUpdate');
    });
  }

  /**
   * Stores what the client said (after checking the conversation's byte budget), echoes it to the
   * streams, and hands it to the bot; resolves when the bot's turn is done.
   */
  async fromClient(conv: DirectLineConversation, input: ClientActivity, bytes: number, resend = false): Promise<string> {
    const clientId = clientActivityIdOf(input);
    if (clientId === undefined) return this.storeFromClient(conv, input, bytes);
    // The same activity sent again (the page re-sends after a 503 or a lost answer) is stored and
    // handed to the bot once: a copy already in the log is answered with its id.
    const key = `${conv._id}|${clientId}`;
    const running = this.inFlight.get(key);
    if (running) return running.catch(() => this.fromClient(conv, input, bytes, true));
    const run = (async () => {
      const earlier = await this.o.repo.findByClientId(conv, clientId, RESEND_WINDOW, resend);
      if (earlier) {
        this.o.log.info({ conversationId: conv._id, activityId: earlier.activity.id }, 'direct line: activity sent again; already in the log, not stored twice');
        return String(earlier.activity.id);
      }
      return this.storeFromClient(conv, input, bytes);
    })();
    this.inFlight.set(key, run);
    try {
      return await run;
    } finally {
      this.inFlight.delete(key);
    }
  }

  private async storeFromClient(conv: DirectLineConversation, received: ClientActivity, bytes: number): Promise<string> {
    const used = this.clientBytes.get(conv._id) ?? 0;
    if (used + bytes > this.o.limits.maxConversationBytes) {
      throw new TooManyRequestsError(`this conversation has reached its size limit (${this.o.limits.maxConversationBytes} bytes); please start a new one`);
    }
    this.clientBytes.delete(conv._id);
    this.clientBytes.set(conv._id, used + bytes);
    if (this.clientBytes.size > 100_000) this.clientBytes.delete(this.clientBytes.keys().next().value as string);
    const { input, settle, key } = await this.receive(conv, received, bytes);
    if (key === null) return this.storeReceived(conv, input, bytes, null);
    // A journaled line being stored here is not replayed meanwhile, however long its write takes.
    this.storing.add(key);
    try {
      return await this.storeReceived(conv, input, bytes, settle);
    } finally {
      this.storing.delete(key);
    }
  }

  /** Whether the journaled line `key` is being stored by this process now (a replay leaves it alone). */
  isStoring(key: string): boolean {
    return this.storing.has(key);
  }

  private async storeReceived(conv: DirectLineConversation, input: ClientActivity, bytes: number, settle: (() => void) | null): Promise<string> {
    if (input.from && input.from.id !== this.clientUserOf(conv)) {
      this.o.log.warn({ conversationId: conv._id }, "direct line: activity from another user id than the conversation's; using the conversation's");
    }
    await this.announceMembers(conv);
    const { from: _from, ...fields } = input;
    const name = input.from?.name ?? conv.userName;
    const locale = fields.locale ?? conv.locale;
    let entry: LoggedActivity;
    try {
      entry = await this.append(conv, (seq) => ({
        ...fields,
        id: activityId(conv._id, seq),
        timestamp: new Date().toISOString(),
        channelId: DIRECT_LINE_CHANNEL_ID,
        conversation: { id: conv._id },
        from: { id: conv.userId, ...(name ? { name } : {}), role: 'user' },
        recipient: { id: this.o.botId, role: 'bot' },
        ...(locale ? { locale } : {}),
      }));
    } catch (err) {
      // Not stored (for example the database is down): the bytes are not spent; the client may re-send.
      const now = this.clientBytes.get(conv._id);
      if (now !== undefined) this.clientBytes.set(conv._id, Math.max(0, now - bytes));
      throw err;
    }
    const activity = entry.activity as WireActivity;
    try {
      await this.deliver(conv._id, { ...activity, serviceUrl: this.o.serviceUrl() });
    } catch (err) {
      this.o.log.warn({ conversationId: conv._id, activityId: activity.id, err: errorText(err) }, 'direct line: the bot did not take the activity');
      throw new BotFailedError();
    } finally {
      // In the log, and through the turn (or its failure, which the customer is told): a replay
      // would find it in the log and do nothing more.
      settle?.();
    }
    return String(activity.id);
  }

  /**
   * A live conversation's line, on receipt: recorded in the receipt journal (durable, local, not
   * behind the database's other writes) and then shown to the person at once, before it is written
   * to the log. The line gets a client activity id when it has none, so that handing it to the
   * channel again (a replay of the journal, the page re-sending it) is recognised in the log. A
   * line already in the journal (the client re-sent it) is not shown twice. Returns the input to
   * store and the function that settles the line once the turn has taken it (null: not journaled).
   */
  private async receive(conv: DirectLineConversation, input: ClientActivity, bytes: number): Promise<{ input: ClientActivity; settle: (() => void) | null; key: string | null }> {
    const r = this.o.receipts;
    const text = typeof input.text === 'string' ? input.text : '';
    if (!r || input.type !== 'message' || !text.trim() || !r.accepts(conv._id, text)) return { input, settle: null, key: null };
    const own = clientActivityIdOf(input);
    const clientId = own ?? `r-${randomBytes(9).toString('hex')}`;
    const stamped: ClientActivity = own ? input : { ...input, channelData: { ...(input.channelData ?? {}), clientActivityID: clientId } };
    const key = `${conv._id}|${clientId}`;
    const settle = () => r.journal.settle(key);
    if (r.journal.has(key)) return { input: stamped, settle, key };
    try {
      await r.journal.record({ key, conversationId: conv._id, activity: stamped, bytes, at: Date.now() });
    } catch (err) {
      // Not durable here: the line is shown by the bot's turn, after its database write, as before.
      this.o.log.warn({ conversationId: conv._id, err: errorText(err) }, 'direct line: a live line could not be journaled; shown after it is stored');
      return { input, settle: null, key: null };
    }
    r.show(conv._id, text);
    return { input: stamped, settle, key };
  }

  /** Stores a bot activity (JSON wire form) and pushes it to the streams; returns its id. */
  async fromBot(conversationId: string, body: WireActivity, replyTo?: string): Promise<string> {
    const conv = await this.get(conversationId);
    const entry = await this.append(conv, (seq) => this.stampFromBot(conv, body, seq, replyTo));
    return String(entry.activity.id);
  }

  /** Replaces a bot activity: same id, moved to a new watermark so clients past the old one see it. */
  async updateFromBot(conversationId: string, targetId: string, body: WireActivity): Promise<void> {
    const conv = await this.get(conversationId);
    const originalSeq = seqOf(conv._id, targetId);
    const original = originalSeq === null ? null : await this.o.repo.entry(conv._id, originalSeq);
    if (!original || originalSeq === null) throw new NotFoundError('activity not found');
    const entry = await this.append(conv, (seq) => ({ ...this.stampFromBot(conv, body, seq, undefined), id: targetId }));
    // The copy the previous update made (if any) and the original both leave the log.
    if (original.movedTo) await this.o.repo.markMoved(conv._id, original.movedTo, entry.seq);
    await this.o.repo.markMoved(conv._id, originalSeq, entry.seq);
  }

  private stampFromBot(conv: DirectLineConversation, body: WireActivity, seq: number, replyTo: string | undefined): WireActivity {
    const { serviceUrl: _serviceUrl, ...rest } = body;
    const from = isRecord(rest.from) ? rest.from : {};
    return {
      ...rest,
      id: activityId(conv._id, seq),
      timestamp: new Date().toISOString(),
      channelId: DIRECT_LINE_CHANNEL_ID,
      conversation: { ...(isRecord(rest.conversation) ? rest.conversation : {}), id: conv._id },
      from: { ...from, id: typeof from.id === 'string' && from.id ? from.id : this.o.botId, role: 'bot' },
      ...(replyTo && !rest.replyToId ? { replyToId: replyTo } : {}),
    };
  }

  private async append(conv: DirectLineConversation, stamp: (seq: number) => Record<string, unknown>): Promise<LoggedActivity> {
    const entry = await this.o.repo.append(conv, stamp, this.o.limits.maxActivities, this.o.urgent(conv._id));
    this.o.onAppended(conv._id, entry);
    return entry;
  }

  private deliver(conversationId: string, activity: WireActivity): Promise<void> {
    // The wire form is what a bot's /api/messages would receive; the cast only names it.
    const previous = this.deliveries.get(conversationId) ?? Promise.resolve();
    const run = previous.then(() => this.o.deliverToBot(activity as unknown as Activity));
    const tail = run.catch(() => undefined);
    this.deliveries.set(conversationId, tail);
    void tail.then(() => {
      if (this.deliveries.get(conversationId) === tail) this.deliveries.delete(conversationId);
    });
    return run;
  }
}
