/**
 * A person when asked (issue 12 item 2), as business operations: a conversation enters the live
 * queue, an agent takes it (exactly one agent, even when two click at once), they chat live both
 * ways while the bot stays silent, and the agent hands it back to the bot or ends it. A conversation
 * nobody takes within the wait, or one that asks outside service hours, is told so by the bot; its
 * demand is on a ticket either way.
 *
 * Nothing is lost: every customer message of a live conversation (and of its wait) is appended to
 * the ticket before it is shown to the agent; every agent message is recorded on the ticket as a
 * staff reply (delivered or not) by the ticket service's reply operation, which sends it on the
 * customer's channel.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, isUnavailable, NotFoundError, ValidationError } from '../store/errors.js';
import type { Handover, MongoHandoverRepository } from '../store/handover-repository.js';
import type { LiveChatNote, Ticket } from '../store/schemas.js';
import type { DeskEvents, HandoverEnding, HandoverReason } from './events.js';
import type { CustomerChannel } from './ports.js';
import { isOpen, type ServiceHours } from './service-hours.js';
import type { TicketService } from './tickets.js';

/** What the customer is told when the desk (not the bot's turn) changes the conversation. */
export interface HandoverNotices {
  taken(lang: string, agent: string): string;
  handedBack(lang: string): string;
  ended(lang: string, ticketNumber: string): string;
  /** Nobody took the conversation and nobody has answered the ticket: a person will reply. */
  timedOut(lang: string, ticketNumber: string): string;
  /** Nobody took the conversation, but staff replied on the ticket meanwhile: no promise of a person. */
  timedOutAnswered(lang: string, ticketNumber: string): string;
  /** Nobody took the conversation, but staff resolved (or closed) the ticket meanwhile. */
  timedOutResolved(lang: string, ticketNumber: string): string;
}

/** Where a customer's ticket stands when their wait for a person runs out (see {@link waitEndOf}). */
export type WaitEnd = 'unanswered' | 'answered' | 'resolved';

/** The notice a customer whose wait ran out is sent, by where their ticket stands (its name in {@link HandoverNotices}). */
export const WAIT_END_NOTICE = { unanswered: 'timedOut', answered: 'timedOutAnswered', resolved: 'timedOutResolved' } as const satisfies Record<WaitEnd, keyof HandoverNotices>;

/**
 * Where the ticket stands when the wait that began at `since` runs out. Staff may answer or
 * resolve a ticket from its page while its conversation waits in the queue; the customer must then
 * not be promised a person's reply. Only a delivered reply counts as an answer: one that did not
 * reach the customer answered nothing they can see.
 */
export function waitEndOf(t: Pick<Ticket, 'status' | 'replies'> | null, since: Date): WaitEnd {
  if (!t) return 'unanswered';
  if (t.status === 'resolved' || t.status === 'closed') return 'resolved';
  return t.replies.some((r) => r.delivered && r.at >= since) ? 'answered' : 'unanswered';
}

export interface HandoverServiceDeps {
  repo: Pick<MongoHandoverRepository, 'create' | 'get' | 'list' | 'claim' | 'setLive' | 'touch' | 'remove' | 'withCounts'>;
  /** The tickets, and their audit trail: a take or an ending is audited as a change already stored (`auditAfterChange`). */
  tickets: Pick<TicketService, 'addCustomerMessage' | 'reply' | 'find' | 'annotate' | 'change' | 'filedFor' | 'auditAfterChange' | 'keepNotice'>;
  events: DeskEvents;
  /** The customer's channel for notices (null until the bot's channels are mounted). */
  channel: () => CustomerChannel | null;
  /** Localised notices (the bot's texts; the desk does not know languages). */
  notices: HandoverNotices;
  /** When a person can take a conversation (null: always). */
  hours: ServiceHours | null;
  timeZone: string;
  /** How long a conversation waits for an agent (ms). */
  waitMs: number;
  log?: { warn: (obj: object, msg: string) => void };
  now?: () => Date;
}

/** A handover request from the bot (the ticket already holds the demand). */
export interface HandoverRequest {
  ticketNumber: string;
  customer: Handover['customer'];
  conversationId: string;
  lang: string;
  reason: HandoverReason;
  text: string;
}

/** One line of a live conversation as the console shows it. */
export interface TranscriptLine {
  from: 'customer' | 'agent';
  by: string | null;
  text: string;
  at: Date;
  delivered: boolean;
  /** An agent's reply whose delivery outcome was never recorded (desk/tickets.ts `reply`): it may have arrived. */
  sending?: true;
  /**
   * An agent's reply: its id on the ticket and its attempt (1 when never sent again), what settling
   * an unknown outcome takes (`POST /api/tickets/{number}/replies/{id}/settle`).
   */
  replyId?: string;
  attempts?: number;
}

/** A conversation in the live queue as this process knows it (see {@link HandoverService.forwardEarly}). */
interface KnownLive {
  handoverId: string;
  ticketNumber: string;
  /** An agent has taken it (this process saw it live, or the `handover.taken` event); it never waits again. */
  taken: boolean;
}

/** What the channel knows of a customer's line before the turn (see {@link HandoverService.showOnReceipt}). */
export interface LineOnReceipt {
  /**
   * It reads like a 1–5 rating ("4 师傅很耐心", but also a numbered question, "1、运费什么时候退"): while the conversation only
   * waits, it may be the rating the bot asked for after staff resolved the ticket, which the turn
   * records as such (conversation state this path does not read), so the turn decides.
   */
  readsAsRating: boolean;
}

/** Conversations remembered as waiting or live in one process (a bound, not an expected size). */
const KNOWN_LIVE_MAX = 10_000;

export class HandoverService {
  private readonly now: () => Date;
  /**
   * Conversations this process put in the queue or saw a live message of, by conversation id, until
   * their entry leaves the queue (this process's own `close`, or another process's
   * `handover.ended` event). An accelerator: the queue entry in the database stays the authority.
   */
  private readonly known = new Map<string, KnownLive>();
  /** Stops following other processes' events (followed only while `known` is not empty). */
  private unfollow: (() => void) | null = null;
  /**
   * Lines the channel showed on receipt ({@link showOnReceipt}) whose turn has not begun, by
   * conversation and text, with their queue entry and how many: the turn does not show them again.
   */
  private readonly shownOnReceipt = new Map<string, { handoverId: string; count: number }>();

  constructor(private readonly deps: HandoverServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Whether this process knows the conversation as waiting for or talking to a person (no database
   * read). Used to skip work that means nothing while a person answers (the bot's typing
   * indicator) and to give the conversation's channel writes priority.
   */
  isLive(conversationId: string): boolean {
    return this.known.has(conversationId);
  }

  /**
   * The fast path of a customer's line in a live conversation: called on receipt, once the channel
   * has recorded the message (for web chat, in the conversation's log in the database) and before
   * the bot's turn loads anything, it shows the line to the agent at once (`live.message`), so the
   * agent does not wait for the turn's reads under load. Returns the queue entry's id when it
   * published (the turn then appends the line to the ticket without publishing it again: see
   * {@link customerSaid}), null when this process does not know the conversation as live, or the
   * line is left to the turn ({@link mayShowOnReceipt}; the turn publishes after reading the queue
   * entry, as before).
   *
   * When the entry ended in another process a moment ago and the event has not arrived yet, the
   * agent's console receives one line for a conversation it has closed (it ignores it); the turn
   * finds the entry gone, forgets it here, and the bot answers the message: nothing is lost.
   */
  forwardEarly(conversationId: string, text: string, line: LineOnReceipt): string | null {
    const key = `${conversationId}\n${text}`;
    const shown = this.shownOnReceipt.get(key);
    if (shown) {
      if (--shown.count === 0) this.shownOnReceipt.delete(key);
      return shown.handoverId;
    }
    const k = this.showable(conversationId, text, line);
    if (!k) return null;
    this.deps.events.publish({ type: 'live.message', handoverId: k.handoverId, ticketNumber: k.ticketNumber, from: 'customer', by: null, text, delivered: true });
    return k.handoverId;
  }

  /**
   * Shows a customer's line to the agent the moment the channel received it, before it is stored:
   * the channel has made it durable in its receipt journal (store/receipt-journal.ts), which does
   * not wait behind the database's writes. The turn that follows neither shows it again
   * ({@link forwardEarly} returns the entry) nor loses it: it is appended to the ticket as usual.
   * False when this process does not know the conversation as live.
   */
  showOnReceipt(conversationId: string, text: string, line: LineOnReceipt): boolean {
    const k = this.showable(conversationId, text, line);
    if (!k) return false;
    this.deps.events.publish({ type: 'live.message', handoverId: k.handoverId, ticketNumber: k.ticketNumber, from: 'customer', by: null, text, delivered: true });
    const key = `${conversationId}\n${text}`;
    const shown = this.shownOnReceipt.get(key);
    if (shown && shown.handoverId === k.handoverId) shown.count++;
    else this.shownOnReceipt.set(key, { handoverId: k.handoverId, count: 1 });
    if (this.shownOnReceipt.size > KNOWN_LIVE_MAX) this.shownOnReceipt.delete(this.shownOnReceipt.keys().next().value as string);
    return true;
  }

  /**
   * Whether a line may be shown to the agent before the turn: the conversation is known here as
   * waiting or live, and the line is the agent's whatever the conversation state says. Once an agent
   * has the conversation every line is theirs; while it waits, a line that reads as a rating is left
   * to the turn ({@link LineOnReceipt}). The code before held back every such line, so 1、运费什么时候退 in a
   * live chat reached the agent only after the turn's reads.
   */
  mayShowOnReceipt(conversationId: string, text: string, line: LineOnReceipt): boolean {
    return this.showable(conversationId, text, line) !== null;
  }

  private showable(conversationId: string, text: string, line: LineOnReceipt): KnownLive | null {
    const k = this.known.get(conversationId);
    if (!k || !text.trim() || (line.readsAsRating && !k.taken)) return null;
    return k;
  }

  /** Forgets a conversation whose queue entry the bot found gone (handed back, ended, timed out). */
  forgetConversation(conversationId: string): void {
    this.known.delete(conversationId);
    this.followWhileKnown();
  }

  private remember(h: Handover): void {
    const was = this.known.get(h.conversationId);
    // An entry read before its take (the turn's read) does not make a taken conversation wait again.
    const taken = h.state === 'live' || (was?.handoverId === h.id && was.taken);
    this.known.delete(h.conversationId);
    this.known.set(h.conversationId, { handoverId: h.id, ticketNumber: h.ticketNumber, taken });
    if (this.known.size > KNOWN_LIVE_MAX) this.known.delete(this.known.keys().next().value as string);
    this.followWhileKnown();
  }

  private forgetHandover(handoverId: string): void {
    for (const [conversationId, k] of this.known) if (k.handoverId === handoverId) this.known.delete(conversationId);
    this.followWhileKnown();
  }

  /** Follows the desk's events (a live chat taken or ended, here or in another process) only while something is known. */
  private followWhileKnown(): void {
    if (this.known.size > 0 && !this.unfollow) {
      this.unfollow = this.deps.events.subscribe((e) => {
        if (e.type === 'handover.ended') this.forgetHandover(e.handoverId);
        if (e.type === 'handover.taken') for (const k of this.known.values()) if (k.handoverId === e.handoverId) k.taken = true;
      });
    } else if (this.known.size === 0 && this.unfollow) {
      this.unfollow();
      this.unfollow = null;
    }
  }

  /** Whether a person can take a conversation now (service hours). */
  staffed(at = this.now()): boolean {
    return isOpen(this.deps.hours, at, this.deps.timeZone);
  }

  /** The configured service hours as written (the staff API gives them so beside their wording in each language), or null. */
  hoursText(): string | null {
    return this.deps.hours?.text ?? null;
  }

  /** The configured service hours as parsed (told to customers in their language), or null. */
  serviceHours(): ServiceHours | null {
    return this.deps.hours;
  }

  /** How long a conversation waits for an agent, in ms. */
  waitMs(): number {
    return this.deps.waitMs;
  }

  /**
   * Puts a conversation in the live queue, under its ticket as the database holds it; the caller
   * has checked {@link staffed}. Null, with nothing queued, while the ticket waits in the outbox
   * (the database unreachable): its number is provisional there, and the replay may store it under
   * another (store/ticket-repository.ts flushOutbox), so an entry keyed by it could show staff, and
   * send their replies to, the customer whose ticket takes that number meanwhile.
   */
  async request(r: HandoverRequest): Promise<Handover | null> {
    const ticket = await this.deps.tickets.filedFor(r.ticketNumber, r.customer).catch((err: unknown) => {
      if (isUnavailable(err)) return null;
      throw err;
    });
    if (!ticket) return null;
    const at = this.now();
    const h: Handover = {
      id: randomUUID(),
      state: 'waiting',
      ticketNumber: ticket.number,
      customer: r.customer,
      conversationId: r.conversationId,
      lang: r.lang,
      reason: r.reason,
      text: r.text.slice(0, 500),
      requestedAt: at,
      waitUntil: new Date(at.getTime() + this.deps.waitMs),
      takenBy: null,
      takenAt: null,
      customerMessages: 0,
      lastMessageAt: null,
    };
    await this.deps.repo.create(h);
    this.remember(h);
    this.deps.events.publish({ type: 'handover.requested', handoverId: h.id, ticketNumber: h.ticketNumber, channelId: h.customer.channelId, reason: h.reason, lang: h.lang, text: h.text });
    return h;
  }

  /** The queue entry of a conversation (null once it has ended). */
  find(id: string): Promise<Handover | null> {
    return this.deps.repo.get(id);
  }

  /** The whole queue: waiting and live conversations, oldest first. */
  list(): Promise<Handover[]> {
    return this.deps.repo.list();
  }

  /**
   * A customer message while waiting or live: shown to the agent (event) and appended to the ticket.
   * The bot says nothing.
   *
   * The event goes out before the ticket write finishes: under load a ticket write (version claim,
   * counters, customer document) is the slowest part of the turn, and the agent should not wait
   * for it. The message is already durable in the channel's log when the bot sees it, and the turn
   * resolves only once it is on the ticket; if that write fails the turn fails, and the customer is
   * told the message was not processed and asked to send it again (the bot's onTurnError).
   *
   * The turn also waits for the line's count (a failed count is logged, not the turn's failure):
   * the note the chat ends with states the count on the ticket for good, and a count left to land
   * after the turn was missing from it when the chat ended just after the line (under load).
   */
  async customerSaid(h: Handover, text: string, opts: { publishedFor?: string | null } = {}): Promise<void> {
    const kept = this.deps.tickets.addCustomerMessage(h.ticketNumber, text, { live: true });
    // Shown already on receipt ({@link forwardEarly}) when this process knew the conversation.
    if (opts.publishedFor !== h.id) this.deps.events.publish({ type: 'live.message', handoverId: h.id, ticketNumber: h.ticketNumber, from: 'customer', by: null, text, delivered: true });
    this.remember(h);
    await kept;
    await this.deps.repo.touch(h.id, this.now()).catch((err: Error) => this.deps.log?.warn({ err: err.message }, 'live queue message count not updated'));
  }

  /** A queue entry with its conversation so far (the ticket's messages and replies since the request). */
  async view(id: string): Promise<{ handover: Handover; transcript: TranscriptLine[] }> {
    const h = await this.require(id);
    const ticket = await this.deps.tickets.find(h.ticketNumber);
    // The request itself was added to the ticket just before the queue entry was made.
    return { handover: h, transcript: ticket ? transcriptOf(ticket, new Date(h.requestedAt.getTime() - 10_000)) : [] };
  }

  /**
   * An agent takes a waiting conversation; a second agent (or the wait running out) gets a conflict.
   * The ticket is read before anything changes ({@link noticeTicket}): the customer's notice and the
   * assignment use that copy, so a database lost once the entry is live no longer keeps the customer
   * from hearing who joined.
   */
  async take(id: string, by: string): Promise<Handover> {
    const first = await this.require(id);
    if (first.state !== 'waiting') throw new ConflictError(`this conversation was already taken by ${first.takenBy ?? 'someone'}`);
    const ticket = await this.noticeTicket(first);
    if (!(await this.deps.repo.claim(id, 'picked'))) throw new ConflictError('another agent took this conversation just now');
    // A claim can be taken over when stale: the state read after claiming decides as well.
    const h = await this.require(id);
    if (h.state !== 'waiting') throw new ConflictError(`this conversation was already taken by ${h.takenBy ?? 'someone'}`);
    const at = this.now();
    await this.deps.repo.setLive(id, by, at);
    const live: Handover = { ...h, state: 'live', takenBy: by, takenAt: at };
    this.deps.events.publish({ type: 'handover.taken', handoverId: id, ticketNumber: h.ticketNumber, by });
    // Taken already: an entry the database cannot take now is kept, and the customer still hears who took it.
    await this.deps.tickets.auditAfterChange(by, 'handover.take', h.ticketNumber, { handoverId: id, waitedMs: at.getTime() - h.requestedAt.getTime() });
    await this.notify(live, this.deps.notices.taken(h.lang, by), ticket);
    await this.assignTo(ticket, h.ticketNumber, by);
    return live;
  }

  /**
   * The agent's message to the customer, on their channel, recorded on the ticket
   * (desk/tickets.ts `reply`: recorded first, then sent, so the send needs no ticket read of its
   * own). The queue entry is read first: whether the agent holds the conversation is decided by
   * the database. `requestId` (the console form's idempotency key) makes a double submit send once:
   * the second request gets the first one's outcome (`duplicate: true`) and publishes nothing, so
   * the agents' transcripts show the line once too.
   */
  async say(id: string, by: string, text: string, opts: { requestId?: string } = {}): Promise<{ delivered: boolean; duplicate: boolean }> {
    const h = await this.require(id);
    this.mustHold(h, by);
    const { delivered, duplicate } = await this.deps.tickets.reply(h.ticketNumber, text, by, opts);
    if (!duplicate) this.deps.events.publish({ type: 'live.message', handoverId: id, ticketNumber: h.ticketNumber, from: 'agent', by, text, delivered });
    return { delivered, duplicate };
  }

  /**
   * Ends a live conversation: handed back to the bot, or ended; the customer is told. Only the agent
   * who took it may, or an admin (`override`: an agent who left without handing back).
   */
  async release(id: string, by: string, how: Extract<HandoverEnding, 'handedBack' | 'ended'>, opts: { override?: boolean } = {}): Promise<void> {
    const h = await this.require(id);
    if (!opts.override) this.mustHold(h, by);
    else if (h.state !== 'live') throw new ConflictError('take this conversation first');
    // Read before the entry leaves the queue, as for a take: the notice goes with this copy.
    const ticket = await this.noticeTicket(h);
    if (!(await this.deps.repo.claim(id, 'closed'))) throw new ConflictError('this conversation is being closed already');
    await this.leaveQueue(h, how, by);
    await this.deps.tickets.auditAfterChange(by, `handover.${how}`, h.ticketNumber, { handoverId: h.id });
    await this.notify(h, how === 'handedBack' ? this.deps.notices.handedBack(h.lang) : this.deps.notices.ended(h.lang, h.ticketNumber), ticket);
  }

  /**
   * Conversations that waited longer than the wait: they leave the queue, and the customer is told
   * what became of the demand, as the ticket stands now ({@link waitEndOf}): nobody is free and a
   * person will reply; or staff have replied already; or the ticket is resolved. Run by every
   * process; the claim makes sure one of them acts (and that an agent's take and the timeout never
   * both happen).
   *
   * The ticket is read before anything changes: the notice depends on it, and the channel finds the
   * customer's conversation on it. A ticket the database cannot give now leaves the entry waiting,
   * unclaimed, and the first sweep after the database is back ends it and tells the customer; ended
   * first, the wait used to end untold (the ticket read after the close failed, and the entry was gone).
   * The `handover.timedOut` audit entry, written after the notice, says which notice it was
   * (`notice`: its name in {@link HandoverNotices}, null when the ticket no longer exists), in which
   * language, and whether the channel took it.
   */
  async sweep(): Promise<number> {
    const now = this.now().getTime();
    let n = 0;
    for (const h of await this.deps.repo.list()) {
      if (h.state !== 'waiting' || h.waitUntil.getTime() > now) continue;
      let ticket: Ticket | null;
      try {
        ticket = await this.deps.tickets.find(h.ticketNumber);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        this.deps.log?.warn({ handoverId: h.id, err: (err as Error).message }, 'live queue wait ran out, its ticket unreadable: ended when the database is back');
        continue;
      }
      if (!(await this.deps.repo.claim(h.id, 'picked'))) continue;
      const fresh = await this.deps.repo.get(h.id);
      if (!fresh || fresh.state !== 'waiting') continue;
      await this.leaveQueue(fresh, 'timedOut', null);
      const notice: keyof HandoverNotices | null = ticket ? WAIT_END_NOTICE[waitEndOf(ticket, fresh.requestedAt)] : null;
      const error = await this.notify(fresh, notice ? this.deps.notices[notice](fresh.lang, fresh.ticketNumber) : '', ticket);
      await this.deps.tickets.auditAfterChange('bot', 'handover.timedOut', fresh.ticketNumber, { handoverId: fresh.id, notice, lang: fresh.lang, delivered: error === null });
      n++;
    }
    return n;
  }

  /** Runs {@link sweep} every `intervalMs`; returns the stop function. */
  startSweeper(intervalMs: number): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweep()
        .catch((err: Error) => this.deps.log?.warn({ err: err.message }, 'live queue sweep failed; will retry'))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * The ticket goes to the agent who took its conversation, through the ticket service's change
   * (audited, `ticket.assigned` event, notification rules as for any assignment: someone who takes
   * a ticket themselves is not notified of it). `ticket` is the copy read before the take (null: it
   * no longer exists). A failure does not undo the take: it is logged and the ticket can be
   * assigned by hand.
   */
  private async assignTo(ticket: Ticket | null, ticketNumber: string, agent: string): Promise<void> {
    if (!ticket || ticket.assignee === agent) return;
    try {
      await this.deps.tickets.change(ticketNumber, { assignee: agent }, agent);
    } catch (err) {
      this.deps.log?.warn({ ticketNumber, agent, err: (err as Error).message }, 'live chat taken, but its ticket was not assigned to the agent');
    }
  }

  /** Takes the entry out of the queue: event, and the note on its ticket (the caller audits it). */
  private async leaveQueue(entry: Handover, how: HandoverEnding, by: string | null): Promise<void> {
    const h = await this.deps.repo.withCounts(entry).catch(() => entry);
    await this.deps.repo.remove(h.id);
    this.forgetHandover(h.id);
    this.deps.events.publish({ type: 'handover.ended', handoverId: h.id, ticketNumber: h.ticketNumber, how, by });
    const facts = liveChatNote(h, how, by);
    await this.deps.tickets.annotate(h.ticketNumber, liveChatNoteText(facts), by ?? 'bot', { liveChat: facts }).catch((err: Error) => this.deps.log?.warn({ err: err.message }, 'live chat note not added to the ticket'));
  }

  /**
   * The ticket of a queue entry, read before a take or an ending changes anything: the customer's
   * notice needs it (the channel finds the conversation on it), and a read after the change fails
   * when the database went away in between, which left the customer untold. The database being
   * unreachable here refuses the take or the ending with nothing changed (503: try again).
   */
  private noticeTicket(h: Handover): Promise<Ticket | null> {
    return this.deps.tickets.find(h.ticketNumber);
  }

  /**
   * Tells the customer what happened to their live chat, on the channel named by `ticket` (read
   * before the change: null, a ticket that no longer exists). Never throws: it follows a change
   * already stored (taken, handed back, ended, timed out), which an error would report as failed.
   * A notice the channel did not take is kept and delivered by the outbox replay once the database
   * is back (web chat delivers through the database; desk/tickets.ts `keepNotice`); one that can
   * never be sent (no ticket, no conversation on it) is logged. Returns why it was not sent now, or
   * null when the channel took it.
   */
  private async notify(h: Handover, text: string, ticket: Ticket | null): Promise<string | null> {
    const channel = this.deps.channel();
    let error: string | null;
    try {
      error = !channel ? 'no customer channel in this process' : ticket ? await channel.deliver(ticket, text) : `ticket ${h.ticketNumber} not found`;
    } catch (err) {
      error = (err as Error).message;
    }
    if (!error) return null;
    const kept = channel !== null && ticket?.conversationRef ? await this.deps.tickets.keepNotice({ ticket: h.ticketNumber, text, handoverId: h.id }) : false;
    this.deps.log?.warn({ handoverId: h.id, error, kept }, kept ? 'live chat notice not delivered now; kept, and delivered when the database is back' : 'live chat notice not delivered');
    return error;
  }

  private mustHold(h: Handover, by: string): void {
    if (h.state !== 'live') throw new ConflictError('take this conversation first');
    if (h.takenBy !== by) throw new ConflictError(`this conversation is with ${h.takenBy}`);
  }

  private async require(id: string): Promise<Handover> {
    const h = await this.deps.repo.get(id);
    if (!h) throw new NotFoundError(`live conversation ${id} not found (it may have ended)`);
    return h;
  }
}

/** The facts of a live chat that left the queue `how` (by `by`; null: its wait ran out), for its ticket's note. */
export function liveChatNote(h: Handover, how: HandoverEnding, by: string | null): LiveChatNote {
  return { how, by, agent: h.takenBy, requestedAt: h.requestedAt.toISOString(), customerMessages: h.customerMessages };
}

/**
 * The note's plain text: the English line notes carried before they had {@link LiveChatNote}
 * facts, kept word for word for API clients and searches that read `text`; the console shows the
 * facts in its reader's language instead.
 */
export function liveChatNoteText(n: LiveChatNote): string {
  return `live chat ${n.how}${n.agent ? ` (agent ${n.agent})` : ''}: requested ${n.requestedAt}, ${n.customerMessages} customer message(s)`;
}

/** The customer messages and staff replies of a ticket since `from`, in time order. */
export function transcriptOf(t: Ticket, from: Date): TranscriptLine[] {
  const lines: TranscriptLine[] = [
    ...t.messages.filter((m) => m.at >= from).map((m) => ({ from: 'customer' as const, by: null, text: m.text, at: m.at, delivered: true })),
    ...t.replies.filter((r) => r.at >= from).map((r) => ({ from: 'agent' as const, by: r.by, text: r.text, at: r.at, delivered: r.delivered, ...(r.sending ? { sending: true as const } : {}), replyId: r.id, attempts: r.attempts ?? 1 })),
  ];
  return lines.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** Checks an agent message before it is sent. */
export function checkLiveText(text: string): string {
  const t = text.trim();
  if (!t) throw new ValidationError('invalid message: text is empty', [{ path: 'text', message: 'empty' }]);
  return t;
}
