/**
 * Handles one mail from the mailbox, exactly once across retries, restarts and processes:
 * claim its Message-ID in the database → ignore automatic mail (bounces, auto-replies, bulk) →
 * find its ticket (In-Reply-To/References of a message the desk sent or received, else the ticket
 * number in the subject from the same sender; either way only the thread's customer's own ticket,
 * which may have been stored under a new number at outbox replay, see desk `forCustomer`) → run
 * the bot's e-mail turn (file or join, and acknowledge) through the channel's adapter → keep the
 * attachments → mark the claim done. Only then may the reader flag the mail as processed and move
 * its cursor past it: a mail whose ticket is not yet stored (or outboxed) stays unprocessed and is
 * tried again.
 *
 * An attempt that stopped half-way (the database went away after the ticket was outboxed, the
 * process died) is retried with `retry: true`: before filing again, the customer's recent tickets
 * and the outbox are searched for one whose conversation reference names this mail, so the retry
 * completes the work instead of filing a second ticket.
 */
import type { Activity } from 'botbuilder';
import type { ReplyLang } from '../../bot/messages.js';
import type { AttachmentCreate } from '../../store/attachment-repository.js';
import { TICKET_NUMBER_IN_TEXT, type Ticket } from '../../store/schemas.js';
import { isUnavailable } from '../../store/ticket-repository.js';
import type { EmailAdapter } from './email-adapter.js';
import { emailTurnResult, type EmailTurn, type EmailTurnData } from './email-turn.js';
import { normalizeAddress, threadSubject, type InboundMail } from './inbound.js';
import type { MailStore, MessageOutcome } from './mail-store.js';
import { staffNotes } from './messages.js';
import { EMAIL_CHANNEL_ID } from './channel-id.js';
import { storedTicketNumber } from '../media.js';

/** Longest ticket text (the ticket schema's `text.original` limit). */
export const MAX_TICKET_TEXT = 10_000;

/** What became of a mail: `done` (flag it, move past it), `retry` (leave it for later), `busy` (another process has it). */
export type ProcessResult = { status: 'done'; outcome: MessageOutcome; ticketNumber: string | null } | { status: 'retry'; reason: string } | { status: 'busy' };

export interface ProcessorDeps {
  store: MailStore;
  attachments: { add(items: AttachmentCreate[], key?: string): Promise<unknown> };
  tickets: {
    find(number: string): Promise<Ticket | null>;
    /** The customer's own ticket by a number they were given (theirs renumbered at outbox replay too; never another customer's). */
    forCustomer(number: string, customer: { channelId: string; userId: string }): Promise<Ticket | null>;
    list(query: { customerUserId: string; channelId: string; pageSize: number; sort: '-createdAt' }): Promise<{ items: Ticket[] }>;
    /** As forCustomer, replaying the customer's waiting outbox tickets first when the ticket is not stored yet (desk/tickets.ts). */
    filedFor(number: string, customer: { channelId: string; userId: string }): Promise<Ticket | null>;
  };
  /** Tickets waiting in the local outbox (filed while the database was unreachable). */
  outbox: { find(predicate: (doc: object) => boolean, text?: string): object[] };
  adapter: EmailAdapter;
  turn: EmailTurn;
  /** The desk's own address (the bot's identity in activities). */
  deskAddress: string;
  attachmentMaxBytes: number;
  maxClassifiedLength: number;
  log: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

/** Where a mail is, for notes that send staff to the original. */
export interface MailLocation {
  mailbox: string;
  uid: number;
}

export class MailProcessor {
  /** Failed attempts per mail in this process (a mail that fails for a reason other than an outage is given up after a few). */
  private readonly failures = new Map<string, number>();

  constructor(private readonly deps: ProcessorDeps) {}

  async process(mail: InboundMail, where: MailLocation, extraNotes: string[] = []): Promise<ProcessResult> {
    const { store, log } = this.deps;
    const claim = await store.claim(mail.key);
    if (claim.kind === 'busy') return { status: 'busy' };
    if (claim.kind === 'done') return { status: 'done', outcome: claim.outcome ?? 'ignored', ticketNumber: claim.ticketNumber };
    const place = `${where.mailbox}, UID ${where.uid}, Message-ID ${mail.messageId ?? '(none)'}`;
    if (mail.automatic) {
      log.info({ key: mail.key, from: mail.from, reason: mail.automatic }, 'automatic e-mail (bounce, auto-reply or bulk) neither filed nor answered');
      await store.finish(mail.key, 'ignored', { detail: mail.automatic });
      return { status: 'done', outcome: 'ignored', ticketNumber: null };
    }
    if (!mail.from) {
      log.warn({ key: mail.key, where: place }, 'e-mail without a usable sender address: not filed (it stays in the mailbox)');
      await store.finish(mail.key, 'rejected', { detail: 'no sender address' });
      return { status: 'done', outcome: 'rejected', ticketNumber: null };
    }
    try {
      return await this.handle(mail, place, claim.retry, extraNotes);
    } catch (err) {
      if (isUnavailable(err)) return { status: 'retry', reason: (err as Error).message };
      const n = (this.failures.get(mail.key) ?? 0) + 1;
      this.failures.set(mail.key, n);
      log.warn({ err: (err as Error).message, key: mail.key, attempt: n }, 'e-mail could not be handled');
      if (n < 3) return { status: 'retry', reason: (err as Error).message };
      this.failures.delete(mail.key);
      await store.finish(mail.key, 'rejected', { detail: (err as Error).message.slice(0, 300) });
      return { status: 'done', outcome: 'rejected', ticketNumber: null };
    }
  }

  private async handle(mail: InboundMail, place: string, retry: boolean, extraNotes: string[]): Promise<ProcessResult> {
    const { store } = this.deps;
    const from = mail.from!;
    const target = await this.threadTarget(mail, from);
    const conversationId = target?.conversationId ?? `email:${mail.key}`;
    const existing = target ? await store.thread(conversationId) : null;

    // The files first: a ticket text names them, and the bytes are stored once the number is known.
    const files = this.files(mail, place);
    const fileNotes = files.map((f) => `${f.filename} (${f.contentType}, ${f.size} B${f.note ? `; ${f.note}` : ''})`);

    let turnData: EmailTurnData;
    let classified: string;
    if (target) {
      const own = mail.own || (mail.quoted ? '' : mail.body);
      const from0 = existing && existing.address !== from ? `[${from}] ` : '';
      const notes = [...(fileNotes.length ? [staffNotes.attachments(fileNotes)] : []), ...this.problemNotes(mail, extraNotes)];
      const text = this.ticketText(from0, own || staffNotes.noText, notes, files, place);
      if (!own && files.length === 0) {
        // A reply with nothing new (only the quoted history): nothing to add, nothing to answer.
        await store.finish(mail.key, 'empty', { ticketNumber: target.ticketNumber, conversationId, detail: 'reply without new text' });
        return { status: 'done', outcome: 'empty', ticketNumber: target.ticketNumber };
      }
      if (retry) {
        const t = await this.deps.tickets.find(target.ticketNumber);
        if (t?.messages.some((m) => m.text === text)) return this.complete(mail, 'joined', t.number, conversationId, files);
      }
      turnData = { kind: 'join', ticketNumber: target.ticketNumber, ticketText: text, lang: (existing?.lang as ReplyLang | null) ?? null, ...(target.former ? { formerNumber: target.former } : {}) };
      classified = own;
    } else {
      if (retry) {
        const already = await this.ticketOfMail(mail, from);
        if (already) return this.complete(mail, 'filed', already, conversationId, files);
      }
      const own = mail.own || mail.body;
      const empty = !own.trim() && !mail.subject.trim() && files.length === 0 && extraNotes.length === 0;
      const head = mail.subject ? `${mail.subject}\n\n` : '';
      const notes = [...(fileNotes.length ? [staffNotes.attachments(fileNotes)] : []), ...this.problemNotes(mail, extraNotes)];
      const text = this.ticketText(head, mail.body || staffNotes.noText, notes, files, place);
      turnData = { kind: empty ? 'empty' : 'new', ticketText: text };
      classified = `${mail.subject}\n${own}`.trim();
      await store.saveThread({ _id: conversationId, address: from, subject: threadSubject(mail.subject), ticketNumber: null, lastMessageId: mail.messageId ?? '', references: [...mail.replyTo].reverse(), lang: null });
    }
    // The thread still names the number its ticket lost at outbox replay: what the desk sends from
    // now on (subject, the sent-message records a reply threads by) names the ticket's own number.
    if (target && existing && existing.ticketNumber !== target.ticketNumber) await store.linkThread(conversationId, target.ticketNumber, existing.lang);
    if (target && mail.messageId) {
      if (existing) await store.advanceThread(conversationId, mail.messageId);
      else await store.saveThread({ _id: conversationId, address: from, subject: threadSubject(mail.subject), ticketNumber: target.ticketNumber, lastMessageId: mail.messageId, references: [...mail.replyTo].reverse(), lang: null });
    }

    const activity: Partial<Activity> = {
      type: 'message',
      id: mail.key,
      channelId: EMAIL_CHANNEL_ID,
      serviceUrl: 'urn:email',
      timestamp: new Date(),
      from: { id: from, name: mail.fromName ?? from },
      recipient: { id: this.deps.deskAddress, name: this.deps.deskAddress },
      conversation: { id: conversationId, isGroup: false, conversationType: 'email', name: mail.subject.slice(0, 100) },
      // The classifier reads the subject and the customer's own words, up to the chat's limit.
      text: Array.from(classified).slice(0, this.deps.maxClassifiedLength).join(''),
      textFormat: 'plain',
      channelData: { email: turnData },
    };
    const context = await this.deps.adapter.processActivity(activity, (ctx) => this.deps.turn.run(ctx));
    const result = emailTurnResult(context);
    if (!result || result.error) throw result?.error ?? new Error('the e-mail turn did not run');
    if (result.ackError) this.deps.log.warn({ key: mail.key, ticket: result.ticketNumber, err: result.ackError }, 'ticket handled; its acknowledgement was not sent');
    return this.complete(mail, result.outcome === 'failed' ? 'rejected' : result.outcome, result.ticketNumber, conversationId, files);
  }

  private async complete(mail: InboundMail, outcome: MessageOutcome, ticketNumber: string | null, conversationId: string, files: PendingFile[]): Promise<ProcessResult> {
    if (ticketNumber && files.length > 0) {
      // A ticket this mail filed (now or in an earlier attempt) may wait in the outbox, under a number
      // the replay may give another customer's ticket: the files go on it as stored (replayed first),
      // or the mail waits. A joined ticket is stored already (found for the thread's customer).
      const stored = outcome !== 'joined' ? await storedTicketNumber(this.deps.tickets, { channelId: EMAIL_CHANNEL_ID, userId: normalizeAddress(mail.from!) })(ticketNumber) : ticketNumber;
      ticketNumber = stored;
      await this.deps.attachments.add(
        files.map((f) => ({ ticketNumber: stored, filename: f.filename, contentType: f.contentType, size: f.size, content: f.content, note: f.note, channelId: EMAIL_CHANNEL_ID, messageRef: mail.messageId, inline: f.inline })),
        mail.key,
      );
    }
    await this.deps.store.finish(mail.key, outcome, { ticketNumber, conversationId });
    this.failures.delete(mail.key);
    return { status: 'done', outcome, ticketNumber };
  }

  /**
   * The ticket a mail answers: by the thread's Message-IDs, else by the number in its subject when
   * the sender is the ticket's customer. A number is resolved for the thread's customer (the
   * sender, or the address the thread was opened by when a colleague in copy answers): their own
   * ticket, or theirs stored under a new number at outbox replay (`former` is then the number
   * they know); another customer's ticket holding that number is never joined.
   */
  private async threadTarget(mail: InboundMail, from: string): Promise<{ ticketNumber: string; conversationId: string; former: string | null } | null> {
    const byIds = await this.deps.store.threadOf(mail.replyTo);
    if (byIds) {
      const thread = byIds.conversationId ? await this.deps.store.thread(byIds.conversationId) : null;
      const t = await this.customersTicket(byIds.ticketNumber, thread?.address ?? from);
      if (t) return { ticketNumber: t.number, conversationId: byIds.conversationId ?? (await this.conversationOf(t)), former: t.number === byIds.ticketNumber.toUpperCase() ? null : byIds.ticketNumber.toUpperCase() };
    }
    const n = TICKET_NUMBER_IN_TEXT.exec(mail.subject)?.[0]?.toUpperCase();
    if (n) {
      const t = await this.customersTicket(n, from);
      if (t) return { ticketNumber: t.number, conversationId: await this.conversationOf(t), former: t.number === n ? null : n };
    }
    return null;
  }

  private customersTicket(number: string, address: string): Promise<Ticket | null> {
    return this.deps.tickets.forCustomer(number, { channelId: EMAIL_CHANNEL_ID, userId: normalizeAddress(address) });
  }

  private async conversationOf(t: Ticket): Promise<string> {
    const thread = await this.deps.store.threadOfTicket(t.number);
    // A thread names the number its ticket was given; when that ticket was stored under a new
    // number at outbox replay, the thread is its customer's, not this ticket's (whose customer
    // would be answered in someone else's thread, at their address).
    if (thread && thread.address === normalizeAddress(t.customer.userId)) return thread._id;
    try {
      const id = (JSON.parse(t.conversationRef ?? '{}') as { conversation?: { id?: string } }).conversation?.id;
      if (id) return id;
    } catch {
      // A reference we cannot read: a new thread id below.
    }
    return `email:ticket:${t.number}`;
  }

  /** A ticket already filed for this mail by an earlier, interrupted attempt (database or outbox). */
  private async ticketOfMail(mail: InboundMail, from: string): Promise<string | null> {
    const names = (ref: unknown) => {
      try {
        return typeof ref === 'string' && (JSON.parse(ref) as { activityId?: string }).activityId === mail.key;
      } catch {
        return false;
      }
    };
    const waiting = this.deps.outbox.find((d) => names((d as { conversationRef?: unknown }).conversationRef), /^[\w.:@<>-]+$/.test(mail.key) ? mail.key : undefined)[0] as { number?: string } | undefined;
    if (waiting?.number) return waiting.number;
    const recent = await this.deps.tickets.list({ customerUserId: from, channelId: EMAIL_CHANNEL_ID, pageSize: 20, sort: '-createdAt' });
    return recent.items.find((t) => names(t.conversationRef))?.number ?? null;
  }

  /**
   * The text kept on the ticket: `head` + `body` + notes, within the ticket's limit. A longer body
   * is shortened with a note saying how long it is and where the whole of it is (attached as
   * message.txt when it fits the attachment cap): never cut silently.
   */
  private ticketText(head: string, body: string, notes: string[], files: PendingFile[], place: string): string {
    const tail = notes.length ? `\n\n${notes.join('\n')}` : '';
    if (head.length + body.length + tail.length <= MAX_TICKET_TEXT) return `${head}${body}${tail}`;
    const full = Buffer.from(body, 'utf8');
    const kept = full.length <= this.deps.attachmentMaxBytes;
    files.push({ filename: 'message.txt', contentType: 'text/plain; charset=utf-8', size: full.length, content: kept ? full : null, note: kept ? null : staffNotes.attachmentOverCap(full.length, this.deps.attachmentMaxBytes, place), inline: false });
    const total = Array.from(body).length;
    const note = (shown: number) => staffNotes.bodyCapped(shown, total, kept ? 'message.txt' : null);
    const room = MAX_TICKET_TEXT - head.length - tail.length - note(total).length - 2;
    let shownPart = body.slice(0, Math.max(0, room));
    // Never split a surrogate pair (an emoji or a rare CJK character).
    if (/[\uD800-\uDBFF]$/.test(shownPart)) shownPart = shownPart.slice(0, -1);
    return `${head}${shownPart}\n\n${note(Array.from(shownPart).length)}${tail}`;
  }

  private files(mail: InboundMail, place: string): PendingFile[] {
    const max = this.deps.attachmentMaxBytes;
    return mail.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      content: a.content.length <= max ? a.content : null,
      note: a.content.length <= max ? null : staffNotes.attachmentOverCap(a.size, max, place),
      inline: a.inline,
    }));
  }

  private problemNotes(mail: InboundMail, extra: string[]): string[] {
    const all = [...extra, ...mail.problems];
    return all.length ? [staffNotes.problems(all)] : [];
  }
}

interface PendingFile {
  filename: string;
  contentType: string;
  size: number;
  content: Buffer | null;
  note: string | null;
  inline: boolean;
}

