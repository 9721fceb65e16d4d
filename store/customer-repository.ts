/**
 * Customers as documents that follow the tickets (store/index.ts wires `onTicketChanged` to every
 * ticket write), so no customer read scans the tickets:
 *
 * - `customerTickets`, one document per customer identity (`_id` = channel + user id): a short
 *   summary of each of its non-spam tickets (number, time, topic, type, status, the first
 *   {@link PROFILE_TEXT_CHARS} characters). Serves profiles, "my latest / open ticket" for the
 *   bot, and ticket queries for one customer.
 * - `customerDirectory`, {@link DIRECTORY_SHARDS} documents (`shard-00` …) each holding a summary
 *   of the identities that hash to it: name, phones, e-mails, ticket count, first and last contact.
 *   Reading the few shards gives every identity, which the customer list, search and channel
 *   preferences need to link identities across channels (staff/customer-directory.ts).
 *
 * Both are JSON read models changed by compare-and-set (store/json-docs.ts), correct under
 * concurrent writers on FerretDB and MongoDB alike; `rebuild()` recomputes them from the tickets.
 */
import { createHash } from 'node:crypto';
import type { Db } from 'mongodb';
import { JsonDocs, type JsonDocsOptions } from './json-docs.js';
import type { ReadModelRebuild } from './read-model-generations.js';
import { CustomerIdentitySchema, type CustomerIdentity, type Ticket, type TicketStatus } from './schemas.js';
import { parseInput } from './validation.js';
import { OPEN_STATUSES } from './working-day.js';

/** Directory shards: few enough to read them all in one request, enough to keep each small. */
export const DIRECTORY_SHARDS = 16;
const SHARD_IDS = Array.from({ length: DIRECTORY_SHARDS }, (_, i) => `shard-${String(i).padStart(2, '0')}`);
/** Characters of a ticket's text kept in the customer's summary (the ticket keeps all of it). */
export const PROFILE_TEXT_CHARS = 200;

/** One ticket as a customer's profile lists it. */
export interface CustomerTicket {
  number: string;
  /** ISO time. */
  createdAt: string;
  channelId: string;
  topic: string | null;
  type: string | null;
  status: TicketStatus;
  text: string;
  /** The ticket version summarised: changes may arrive out of order, the higher version wins. */
  v: number;
  /** Spam is kept here (the customer may ask about it) but is no contact: profiles leave it out. */
  spam?: boolean;
}

export interface IdentityTickets {
  tickets: CustomerTicket[];
}

/** What the directory knows about one identity. */
export interface IdentitySummary {
  channelId: string;
  userId: string;
  name: string | null;
  /** ISO time of the newest ticket carrying `name`. */
  nameAt: string | null;
  /** Normalised phone numbers (see phoneKey). */
  phones: string[];
  /** Lower-cased e-mail addresses. */
  emails: string[];
  tickets: number;
  firstContactAt: string;
  lastContactAt: string;
}

export interface DirectoryShard {
  identities: Record<string, IdentitySummary>;
}

/** One identity with contact figures (counts per channel, topic and type). */
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

/** Customer ids join channel and user id; user ids may contain any character, so they are encoded. */
export function customerId(identity: { channelId: string; userId: string }): string {
  return `${identity.channelId}:${encodeURIComponent(identity.userId)}`;
}

/**
 * The key a phone number links by: its digits, without the +86 / 0086 country code in front of a
 * mainland mobile number (the same phone is typed both ways).
 */
export function phoneKey(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return /^(?:00)?86(1\d{10})$/.exec(digits)?.[1] ?? digits;
}

export function emailKey(email: string): string {
  return email.trim().toLowerCase();
}

export function shardOf(id: string): string {
  const n = createHash('sha1').update(id).digest().readUInt32BE(0) % DIRECTORY_SHARDS;
  return `shard-${String(n).padStart(2, '0')}`;
}

function summaryOf(t: Ticket): CustomerTicket {
  return { number: t.number, createdAt: t.createdAt.toISOString(), channelId: t.customer.channelId, topic: t.topic, type: t.type, status: t.status, text: t.text.original.slice(0, PROFILE_TEXT_CHARS), v: t.version, ...(t.spam ? { spam: true } : {}) };
}

function addSorted(list: string[], value: string): void {
  if (value && !list.includes(value)) {
    list.push(value);
    list.sort();
  }
}

/** Adds a new ticket to its identity's directory entry. */
function addToDirectory(entries: Record<string, IdentitySummary>, t: Ticket): void {
  const id = customerId(t.customer);
  const at = t.createdAt.toISOString();
  const e = (entries[id] ??= { channelId: t.customer.channelId, userId: t.customer.userId, name: null, nameAt: null, phones: [], emails: [], tickets: 0, firstContactAt: at, lastContactAt: at });
  e.tickets++;
  if (at < e.firstContactAt) e.firstContactAt = at;
  if (at > e.lastContactAt) e.lastContactAt = at;
  if (t.customer.name && (!e.nameAt || at >= e.nameAt)) {
    e.name = t.customer.name;
    e.nameAt = at;
  }
  if (t.contact.phone) addSorted(e.phones, phoneKey(t.contact.phone));
  if (t.contact.email) addSorted(e.emails, emailKey(t.contact.email));
}

export class MongoCustomerRepository {
  readonly tickets: JsonDocs<IdentityTickets>;
  readonly directory: JsonDocs<DirectoryShard>;
  /** The shards {@link identities} last read and the identities built from them. */
  private lastDirectory: { shards: DirectoryShard[]; identities: Map<string, IdentitySummary> } | null = null;

  /** `opts.batchMs`, `opts.outageRetryMs`: see store/json-docs.ts. */
  constructor(db: Db, opts: JsonDocsOptions = {}) {
    this.tickets = new JsonDocs<IdentityTickets>(db, 'customerTickets', () => ({ tickets: [] }), opts);
    this.directory = new JsonDocs<DirectoryShard>(db, 'customerDirectory', () => ({ identities: {} }), opts);
  }

  /** Nothing to index: every read is by `_id`. */
  async ensureIndexes(): Promise<void> {}

  /**
   * Follows a ticket write (`before` null for a new ticket). Spam tickets are no customer contact.
   * `once`: a key that makes the change count once however often it is applied (read-model-generations.ts `TicketVersion`).
   */
  async onTicketChanged(before: Ticket | null, after: Ticket, once?: string): Promise<void> {
    const id = customerId(after.customer);
    const summary = summaryOf(after);
    const old = before ? summaryOf(before) : null;
    const source = { number: after.number, version: after.version, once };
    const writes: Promise<void>[] = [];
    if (!old || old.topic !== summary.topic || old.type !== summary.type || old.status !== summary.status) {
      writes.push(
        this.tickets.update(id, (d) => {
          const i = d.tickets.findIndex((t) => t.number === summary.number);
          if (i < 0) d.tickets.push(summary);
          else if (d.tickets[i].v < summary.v) d.tickets[i] = summary;
        }, source),
      );
    }
    if (!before && !after.spam) {
      writes.push(
        // Runs once per stored creation: an outbox record already stored is skipped before the hook,
        // except a renumbered one whose replay resumed after a crash, which comes with `once`.
        this.directory.update(shardOf(id), (s) => addToDirectory(s.identities, after), source),
      );
    }
    await Promise.all(writes);
  }

  /** The identity's non-spam tickets (its contacts), newest first (empty when never seen). */
  async ticketsOf(identity: { channelId: string; userId: string }): Promise<CustomerTicket[]> {
    return (await this.allTicketsOf(identity)).filter((t) => !t.spam);
  }

  /** The identity's tickets, spam included, newest first. */
  async allTicketsOf(identity: { channelId: string; userId: string }): Promise<CustomerTicket[]> {
    const d = await this.tickets.get(customerId(identity));
    return (d?.tickets ?? []).slice().sort((a, b) => (a.createdAt === b.createdAt ? (a.number < b.number ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1));
  }

  /** Numbers of the identity's open non-spam tickets, newest first. */
  async openTicketsOf(identity: { channelId: string; userId: string }): Promise<string[]> {
    return (await this.ticketsOf(identity)).filter((t) => OPEN_STATUSES.includes(t.status)).map((t) => t.number);
  }

  /**
   * The directory shards by id. The same shard object comes back while its document is unchanged
   * (read cache, store/read-cache.ts), so the linked customer list re-links only what changed.
   */
  directoryShards(): Promise<Map<string, DirectoryShard>> {
    return this.directory.getManyCached(SHARD_IDS);
  }

  /**
   * Every identity in the directory (the {@link DIRECTORY_SHARDS} shards). The same Map comes back
   * while no shard changed (read cache, store/json-docs.ts getManyCached), so what is derived from
   * it (the linked customer list) can be kept by identity; a change re-reads only its shard.
   */
  async identities(): Promise<Map<string, IdentitySummary>> {
    const shards = [...(await this.directoryShards()).values()];
    const last = this.lastDirectory;
    if (last && last.shards.length === shards.length && last.shards.every((s, i) => s === shards[i])) return last.identities;
    const identities = new Map<string, IdentitySummary>();
    for (const s of shards) for (const [id, e] of Object.entries(s.identities)) identities.set(id, e);
    this.lastDirectory = { shards, identities };
    return identities;
  }

  /** One identity with its contact counts; null when never seen. */
  async get(identity: { channelId: string; userId: string }): Promise<Customer | null> {
    const who = parseInput(CustomerIdentitySchema, identity, 'customer');
    const id = customerId(who);
    const [shard, tickets] = await Promise.all([this.directory.get(shardOf(id)), this.ticketsOf(who)]);
    const entry = shard?.identities[id];
    if (!entry) return null;
    const counts: Customer['counts'] = { channel: {}, topic: {}, type: {} };
    for (const t of tickets) {
      counts.channel[t.channelId] = (counts.channel[t.channelId] ?? 0) + 1;
      if (t.topic) counts.topic[t.topic] = (counts.topic[t.topic] ?? 0) + 1;
      if (t.type) counts.type[t.type] = (counts.type[t.type] ?? 0) + 1;
    }
    return { id, channelId: who.channelId, userId: who.userId, name: entry.name, firstContactAt: new Date(entry.firstContactAt), lastContactAt: new Date(entry.lastContactAt), total: entry.tickets, counts };
  }

  /**
   * A recount of every customer document from the tickets given to `add` (all of them, archive
   * included), written as generation `gen` by `install` (store/read-models.ts).
   */
  rebuilder(): ReadModelRebuild<{ identities: number }> {
    const perIdentity = new Map<string, IdentityTickets>();
    const shards = new Map<string, DirectoryShard>();
    const add = (t: Ticket): void => {
      const id = customerId(t.customer);
      const d = perIdentity.get(id) ?? { tickets: [] };
      perIdentity.set(id, d);
      d.tickets.push(summaryOf(t));
      if (t.spam) return;
      const s = shards.get(shardOf(id)) ?? { identities: {} };
      shards.set(shardOf(id), s);
      addToDirectory(s.identities, t);
    };
    const install = async (gen: number) => {
      await this.tickets.install(perIdentity, gen);
      await this.directory.install(shards, gen);
      return { identities: perIdentity.size };
    };
    return { add, install };
  }
}
