/**
 * The live queue: one document per conversation waiting for a person or in a live chat with one,
 * in the `handovers` collection, deleted when the chat ends (its messages are on the ticket).
 *
 * Why so small: the bot asks "is this conversation live?" on every turn of a conversation that asked
 * for a person, and FerretDB scans the whole collection on every query (store/time-buckets.ts);
 * here that is only the conversations in the queue now. A conversation that never asked costs
 * nothing: the bot keeps the handover id in its conversation state and reads only then.
 *
 * State changes that two people could make at once (two agents take the same conversation; an agent
 * takes it as its wait runs out; two hand-backs) are decided by claims (store/claims.ts), because
 * FerretDB does not make a conditional update atomic; the update itself is then plain.
 *
 * FerretDB applies an update by writing the whole document back, so two updates of one document at
 * once can lose one of them. The message count a customer's every line updates is therefore kept
 * in its own document (`handoverCounts`): counting a line sent while an agent takes the
 * conversation once overwrote the take (the entry read `waiting` again, and the agent was told to
 * take it first).
 */
import type { Collection, Db } from 'mongodb';
import type { HandoverReason } from '../desk/events.js';
import { Claims } from './claims.js';

export const HANDOVER_STATES = ['waiting', 'live'] as const;
export type HandoverState = (typeof HANDOVER_STATES)[number];

/** A conversation in the live queue. */
export interface Handover {
  id: string;
  state: HandoverState;
  /** The ticket that keeps the demand and every message of the live chat. */
  ticketNumber: string;
  customer: { channelId: string; userId: string; name?: string };
  conversationId: string;
  /** The conversation's reply language (zh-Hans, zh-Hant, en). */
  lang: string;
  reason: HandoverReason;
  /** What the customer said when asking (for the queue). */
  text: string;
  requestedAt: Date;
  /** When the bot tells the customer nobody is free, if still waiting. */
  waitUntil: Date;
  takenBy: string | null;
  takenAt: Date | null;
  /** Customer messages during the wait and the chat (kept on the ticket; counted here for the queue). */
  customerMessages: number;
  lastMessageAt: Date | null;
}

interface HandoverDoc extends Omit<Handover, 'id'> {
  _id: string;
}

/** The customer messages of one queue entry (its own document: see the file header). */
interface CountDoc {
  _id: string;
  customerMessages: number;
  lastMessageAt: Date;
}

const toHandover = ({ _id, ...rest }: HandoverDoc): Handover => ({ id: _id, ...rest });

/** The transition a claim guards: leaving the waiting state (taken or timed out), or closing. */
export type HandoverStep = 'picked' | 'closed';

export class MongoHandoverRepository {
  private readonly docs: Collection<HandoverDoc>;
  private readonly counts: Collection<CountDoc>;
  private readonly claims: Claims;

  constructor(private readonly db: Db) {
    this.docs = db.collection<HandoverDoc>('handovers');
    this.counts = db.collection<CountDoc>('handoverCounts');
    this.claims = new Claims(db);
  }

  /**
   * Creates the queue's collections at start: FerretDB creating a table on a first insert while
   * other writes run fails those writes with SQLITE_BUSY (see ticket-index.ts).
   */
  async prepare(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of ['handovers', 'handoverCounts', 'claims']) {
      if (existing.has(name)) continue;
      await this.db.createCollection(name).catch((err: { codeName?: string }) => {
        if (err.codeName !== 'NamespaceExists') throw err;
      });
    }
  }

  async create(h: Handover): Promise<void> {
    const { id, ...rest } = h;
    await this.docs.insertOne({ _id: id, ...rest });
  }

  /**
   * One entry, with the message count as of its creation (the bot asks this on every live turn and
   * needs only the state; {@link list} and {@link withCounts} add the counts).
   */
  async get(id: string): Promise<Handover | null> {
    const d = await this.docs.findOne({ _id: id });
    return d ? toHandover(d) : null;
  }

  /** An entry with its customer-message count and last message time. */
  async withCounts(h: Handover): Promise<Handover> {
    const c = await this.counts.findOne({ _id: h.id });
    return c ? { ...h, customerMessages: c.customerMessages, lastMessageAt: c.lastMessageAt } : h;
  }

  /** The whole queue (waiting and live) with message counts, oldest request first. */
  async list(): Promise<Handover[]> {
    const [docs, counts] = await Promise.all([this.docs.find({}).toArray(), this.counts.find({}).toArray()]);
    const byId = new Map(counts.map((c) => [c._id, c]));
    return docs
      .map((d) => {
        const h = toHandover(d);
        const c = byId.get(h.id);
        return c ? { ...h, customerMessages: c.customerMessages, lastMessageAt: c.lastMessageAt } : h;
      })
      .sort((a, b) => a.requestedAt.getTime() - b.requestedAt.getTime());
  }

  /**
   * Takes the right to make a step; exactly one of concurrent callers gets it. The caller must then
   * re-read the handover: a claim can be taken over once stale, so the state decides as well.
   */
  claim(id: string, step: HandoverStep): Promise<boolean> {
    return this.claims.claim(`handover:${id}:${step}`);
  }

  async setLive(id: string, by: string, at: Date): Promise<void> {
    await this.docs.updateOne({ _id: id }, { $set: { state: 'live', takenBy: by, takenAt: at } });
  }

  /**
   * Counts a customer message for the queue view and the note the chat ends with (its turn waits
   * for this: desk/handover.ts `customerSaid`). Not atomic on FerretDB (two concurrent increments
   * may count once): the count is a hint; the messages themselves are on the ticket.
   */
  async touch(id: string, at: Date): Promise<void> {
    await this.counts.updateOne({ _id: id }, { $inc: { customerMessages: 1 }, $set: { lastMessageAt: at } }, { upsert: true });
  }

  async remove(id: string): Promise<void> {
    await this.docs.deleteOne({ _id: id });
    await this.counts.deleteOne({ _id: id });
  }
}
