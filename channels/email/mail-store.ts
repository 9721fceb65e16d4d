/**
 * The e-mail channel's state in the database, so a restart neither re-files nor skips mail and
 * several processes can read one mailbox:
 * - `email_messages`: one document per Message-ID, received or sent. A received one is *claimed*
 *   (inserted, unique by `_id`) before it is handled and marked done after its ticket is stored or
 *   outboxed, so no two processes (nor a retry) file it twice; a sent one maps the reply's
 *   Message-ID to its ticket, so the customer's answer (In-Reply-To/References) finds its ticket.
 * - `email_threads`: per conversation (one ticket's mail thread): the customer, the subject, the
 *   last Message-ID and the References chain a reply must carry, and the ticket number.
 * - `email_cursors`: per mailbox, the UIDVALIDITY and the highest UID below which every message is
 *   handled (IMAP UIDs only grow within one UIDVALIDITY).
 */
import type { Collection, Db } from 'mongodb';
import { ensureIndexes } from '../../store/indexes.js';

/** What became of a received message. */
export type MessageOutcome = 'filed' | 'joined' | 'spam' | 'ignored' | 'empty' | 'rejected';

interface MessageDoc {
  _id: string;
  direction: 'in' | 'out';
  state: 'processing' | 'done';
  outcome: MessageOutcome | null;
  detail: string | null;
  ticketNumber: string | null;
  conversationId: string | null;
  owner: string | null;
  claimedAt: Date;
  doneAt: Date | null;
}

/** One ticket's mail thread. */
export interface MailThread {
  _id: string;
  /** The customer's address (lower-case). */
  address: string;
  subject: string;
  ticketNumber: string | null;
  /** Message-ID a reply answers (the newest message of the thread). */
  lastMessageId: string;
  /** References a reply carries (oldest first, capped). */
  references: string[];
  lang: string | null;
  updatedAt: Date;
}

interface CursorDoc {
  _id: string;
  uidValidity: string;
  lastUid: number;
  updatedAt: Date;
}

/** The result of claiming a received message. */
export type Claim =
  | { kind: 'claimed'; retry: boolean }
  | { kind: 'done'; outcome: MessageOutcome | null; ticketNumber: string | null }
  /** Another process is handling it right now. */
  | { kind: 'busy' };

/** References a reply carries at most (RFC 5322 allows trimming the middle). */
const MAX_REFERENCES = 20;

export class MailStore {
  private readonly messages: Collection<MessageDoc>;
  private readonly threads: Collection<MailThread>;
  private readonly cursors: Collection<CursorDoc>;

  constructor(
    db: Db,
    private readonly opts: { owner: string; staleMs: number; now?: () => Date },
  ) {
    this.messages = db.collection<MessageDoc>('email_messages');
    this.threads = db.collection<MailThread>('email_threads');
    this.cursors = db.collection<CursorDoc>('email_cursors');
  }

  private now(): Date {
    return (this.opts.now ?? (() => new Date()))();
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.messages, [{ key: { ticketNumber: 1 }, name: 'ticket' }]);
  }

  /**
   * Claims a received message for this process. A message already done is reported as such; one a
   * process claimed and did not finish within `staleMs` (it crashed, or the database went away
   * mid-way) is taken over with `retry: true`, so the caller checks whether its ticket exists.
   */
  async claim(key: string): Promise<Claim> {
    const at = this.now();
    try {
      await this.messages.insertOne({ _id: key, direction: 'in', state: 'processing', outcome: null, detail: null, ticketNumber: null, conversationId: null, owner: this.opts.owner, claimedAt: at, doneAt: null });
      return { kind: 'claimed', retry: false };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const doc = await this.messages.findOne({ _id: key });
    if (!doc) return { kind: 'busy' };
    if (doc.state === 'done') return { kind: 'done', outcome: doc.outcome, ticketNumber: doc.ticketNumber };
    // Our own unfinished claim (an earlier attempt failed) or a stale one: take it over.
    if (doc.owner === this.opts.owner || at.getTime() - doc.claimedAt.getTime() > this.opts.staleMs) {
      const r = await this.messages.updateOne({ _id: key, state: 'processing', claimedAt: doc.claimedAt }, { $set: { owner: this.opts.owner, claimedAt: at } });
      return r.modifiedCount === 1 ? { kind: 'claimed', retry: true } : { kind: 'busy' };
    }
    return { kind: 'busy' };
  }

  /** Records what became of a received message (it will not be handled again). */
  async finish(key: string, outcome: MessageOutcome, fields: { ticketNumber?: string | null; conversationId?: string | null; detail?: string | null } = {}): Promise<void> {
    await this.messages.updateOne(
      { _id: key },
      { $set: { state: 'done', outcome, detail: fields.detail ?? null, ticketNumber: fields.ticketNumber ?? null, conversationId: fields.conversationId ?? null, doneAt: this.now() } },
      { upsert: true },
    );
  }

  /** Records a message the desk sent, so an answer to it finds its ticket. */
  async recordSent(messageId: string, ticketNumber: string | null, conversationId: string): Promise<void> {
    const at = this.now();
    await this.messages.updateOne(
      { _id: messageId },
      { $set: { direction: 'out', state: 'done', outcome: null, detail: null, ticketNumber, conversationId, owner: this.opts.owner, claimedAt: at, doneAt: at } },
      { upsert: true },
    );
  }

  /** The ticket and conversation of the first of these Message-IDs the desk knows. */
  async threadOf(messageIds: string[]): Promise<{ ticketNumber: string; conversationId: string | null } | null> {
    if (messageIds.length === 0) return null;
    const docs = await this.messages.find({ _id: { $in: messageIds.slice(0, 50) }, ticketNumber: { $ne: null } }).toArray();
    for (const id of messageIds) {
      const d = docs.find((x) => x._id === id);
      if (d?.ticketNumber) return { ticketNumber: d.ticketNumber, conversationId: d.conversationId };
    }
    return null;
  }

  async thread(conversationId: string): Promise<MailThread | null> {
    return this.threads.findOne({ _id: conversationId });
  }

  /** The thread of a ticket (the newest when there are several). */
  async threadOfTicket(ticketNumber: string): Promise<MailThread | null> {
    return this.threads.find({ ticketNumber }).sort({ updatedAt: -1 }).limit(1).next();
  }

  /** Creates or updates a thread with the newest message in it. */
  async saveThread(t: Omit<MailThread, 'updatedAt' | 'references'> & { references?: string[] }): Promise<void> {
    const existing = await this.threads.findOne({ _id: t._id });
    const references = chain([...(existing?.references ?? []), ...(t.references ?? []), t.lastMessageId]);
    await this.threads.replaceOne(
      { _id: t._id },
      { ...t, ticketNumber: t.ticketNumber ?? existing?.ticketNumber ?? null, lang: t.lang ?? existing?.lang ?? null, references, updatedAt: this.now() },
      { upsert: true },
    );
  }

  /** Sets the ticket of a thread (once it is filed). */
  async linkThread(conversationId: string, ticketNumber: string, lang: string | null): Promise<void> {
    await this.threads.updateOne({ _id: conversationId }, { $set: { ticketNumber, lang, updatedAt: this.now() } });
  }

  /** Appends a sent message to its thread (the next reply answers it). */
  async advanceThread(conversationId: string, messageId: string): Promise<void> {
    const t = await this.threads.findOne({ _id: conversationId });
    if (!t) return;
    await this.threads.updateOne({ _id: conversationId }, { $set: { lastMessageId: messageId, references: chain([...t.references, messageId]), updatedAt: this.now() } });
  }

  /** The mailbox's cursor: handled UIDs are at most `lastUid` (0 when UIDVALIDITY changed or none yet). */
  async cursor(mailbox: string, uidValidity: string): Promise<number> {
    const c = await this.cursors.findOne({ _id: mailbox });
    return c && c.uidValidity === uidValidity ? c.lastUid : 0;
  }

  /** Moves the cursor forward (never back: another process may be further). */
  async advanceCursor(mailbox: string, uidValidity: string, lastUid: number): Promise<void> {
    const c = await this.cursors.findOne({ _id: mailbox });
    if (c && c.uidValidity === uidValidity && c.lastUid >= lastUid) return;
    await this.cursors.replaceOne({ _id: mailbox }, { uidValidity, lastUid, updatedAt: this.now() }, { upsert: true });
  }
}

/** A References chain: unique, the first (root) and the newest kept when it is too long. */
function chain(ids: string[]): string[] {
  const unique = ids.filter((x, i, a) => x && a.indexOf(x) === i);
  return unique.length <= MAX_REFERENCES ? unique : [unique[0], ...unique.slice(-(MAX_REFERENCES - 1))];
}
