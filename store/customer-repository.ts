/**
 * One document per customer identity (channel + user id), written on first contact. First and last
 * contact and the counts per channel, topic and type are computed from the customer's tickets when
 * read: the tickets are the source of truth, and FerretDB does not make concurrent `$inc`s on one
 * document safe.
 */
import type { Collection, Db } from 'mongodb';
import { CustomerIdentitySchema, type CustomerIdentity } from './schemas.js';
import { ensureIndexes } from './indexes.js';
import { parseInput } from './validation.js';

export interface Customer {
  id: string;
  channelId: string;
  userId: string;
  name: string | null;
  firstContactAt: Date | null;
  lastContactAt: Date | null;
  total: number;
  counts: { channel: Record<string, number>; topic: Record<string, number>; type: Record<string, number> };
}

interface CustomerDoc {
  _id: string;
  channelId: string;
  userId: string;
  name: string | null;
  createdAt: Date;
}

interface TicketFacts {
  customer: { channelId: string };
  topic: string | null;
  type: string | null;
  createdAt: Date;
}

/** Customer ids join channel and user id; user ids may contain any character, so they are encoded. */
export function customerId(identity: { channelId: string; userId: string }): string {
  return `${identity.channelId}:${encodeURIComponent(identity.userId)}`;
}

export class MongoCustomerRepository {
  private readonly customers: Collection<CustomerDoc>;
  private readonly tickets: Collection<TicketFacts>;
  /** Customers this process already knows exist (and under which name): skips a write per ticket. */
  private readonly known = new Map<string, string | null>();

  constructor(db: Db) {
    this.customers = db.collection<CustomerDoc>('customers');
    this.tickets = db.collection<TicketFacts>('tickets');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.customers, [{ key: { channelId: 1, userId: 1 }, name: 'identity' }]);
  }

  /** Makes sure the customer exists (idempotent; concurrent calls are harmless). */
  async recordContact(identity: CustomerIdentity): Promise<void> {
    const who = parseInput(CustomerIdentitySchema, identity, 'customer');
    const id = customerId(who);
    const name = who.name ?? null;
    if (this.known.has(id) && this.known.get(id) === name) return;
    // Insert-if-absent: the one write FerretDB 1.24 does fast (an upsert scans and rewrites).
    await this.customers.insertOne({ _id: id, channelId: who.channelId, userId: who.userId, name, createdAt: new Date() }).catch((err: { code?: number }) => {
      // Already known (another ticket, or another process, created it).
      if (err.code !== 11000) throw err;
    });
    if (this.known.size >= 100_000) this.known.clear();
    this.known.set(id, name);
  }

  /** The customer with contact figures computed from their tickets; null when never seen. */
  async get(identity: { channelId: string; userId: string }): Promise<Customer | null> {
    const who = parseInput(CustomerIdentitySchema, identity, 'customer');
    const [doc, tickets] = await Promise.all([
      this.customers.findOne({ _id: customerId(who) }),
      this.tickets
        .find({ 'customer.channelId': who.channelId, 'customer.userId': who.userId }, { projection: { 'customer.channelId': 1, topic: 1, type: 1, createdAt: 1 } })
        .toArray(),
    ]);
    if (!doc && tickets.length === 0) return null;
    const counts: Customer['counts'] = { channel: {}, topic: {}, type: {} };
    let first: Date | null = null;
    let last: Date | null = null;
    for (const t of tickets) {
      counts.channel[t.customer.channelId] = (counts.channel[t.customer.channelId] ?? 0) + 1;
      if (t.topic) counts.topic[t.topic] = (counts.topic[t.topic] ?? 0) + 1;
      if (t.type) counts.type[t.type] = (counts.type[t.type] ?? 0) + 1;
      if (!first || t.createdAt < first) first = t.createdAt;
      if (!last || t.createdAt > last) last = t.createdAt;
    }
    return { id: customerId(who), channelId: who.channelId, userId: who.userId, name: doc?.name ?? null, firstContactAt: first, lastContactAt: last, total: tickets.length, counts };
  }
}
