/**
 * Customer profiles across channels, computed from ticket facts. Pure: no I/O.
 *
 * A person reaches the service through several channels, each with its own user id; the bot may
 * also collect a phone number or e-mail address. Tickets are linked into one customer when they
 * share a channel identity (channel + user id), a phone number (digits only) or an e-mail address
 * (lower case): the connected components of that relation (union-find).
 *
 * Spam tickets are left out entirely: they are not contacts, and contact details typed by a
 * spammer must not merge real customers.
 *
 * Channel preference follows the original system: each channel's share of a customer's contacts,
 * graded in five bands of 20 percentage points.
 */
import { customerId, emailKey, phoneKey } from '../store/customer-repository.js';

export { emailKey, phoneKey };
import type { TicketFact } from '../store/ticket-facts.js';
import { groupByLinkedKeys } from './linking.js';

export type Band = 1 | 2 | 3 | 4 | 5;

/** The five bands: a share s falls in band b when (b-1)/5 ≤ s < b/5, and 100% is band 5. */
export const BANDS: readonly { band: Band; range: string; zh: string; en: string }[] = [
  { band: 1, range: '0–20%', zh: '基本不接触', en: 'hardly ever' },
  { band: 2, range: '20–40%', zh: '偶尔接触', en: 'occasionally' },
  { band: 3, range: '40–60%', zh: '普通依赖', en: 'moderately reliant' },
  { band: 4, range: '60–80%', zh: '较依赖', en: 'fairly reliant' },
  { band: 5, range: '80–100%', zh: '依赖', en: 'reliant' },
];

/**
 * Band of `contacts` out of `total`: lower bounds inclusive (20% is band 2, 40% band 3, 60% band 4,
 * 80% band 5), 100% is band 5, no contacts (or a customer without any) is band 1. Computed from the
 * integer counts so that exact boundaries are not lost to floating-point rounding.
 */
export function bandOf(contacts: number, total: number): Band {
  if (total <= 0) return 1;
  return Math.min(5, Math.floor((5 * contacts) / total) + 1) as Band;
}

export interface Identity {
  channelId: string;
  userId: string;
}

/** One customer: linked identities and their tickets. */
export interface LinkedCustomer {
  /** The smallest `customerId` of its identities: stable while no new link merges it with another. */
  id: string;
  /** The name on the newest ticket that carries one. */
  name: string | null;
  /** Sorted by channel, then user id. */
  identities: Identity[];
  /** Normalised phone numbers (digits), sorted. */
  phones: string[];
  /** Lower-cased e-mail addresses, sorted. */
  emails: string[];
  /** Newest first. */
  tickets: TicketFact[];
}

export interface CustomerSummary {
  id: string;
  name: string | null;
  identities: Identity[];
  phones: string[];
  emails: string[];
  tickets: number;
  lastContactAt: Date;
}

export interface ChannelShare {
  channelId: string;
  contacts: number;
  /** contacts / the customer's contacts on all channels. */
  share: number;
  band: Band;
  bandLabel: { zh: string; en: string };
}

export interface CustomerProfile {
  id: string;
  name: string | null;
  identities: Identity[];
  phones: string[];
  emails: string[];
  firstContactAt: Date;
  lastContactAt: Date;
  total: number;
  /** Every channel seen in any customer's tickets (unused ones with 0 contacts, band 1), most used first. */
  channels: ChannelShare[];
  tickets: { number: string; createdAt: Date; channelId: string; topic: string | null; type: string | null; status: string; text: string }[];
}

export interface ChannelPreferences {
  bands: typeof BANDS;
  /** Customers counted: the denominator of every share. */
  totalCustomers: number;
  channels: {
    channelId: string;
    /** Customers with at least one contact on the channel. */
    customers: number;
    /** Fraction of all customers in band 1 … 5 for this channel (customers who never used it are band 1). */
    shares: number[];
  }[];
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Links non-spam tickets into customers; sorted by last contact (newest first), then id. */
export function linkCustomers(facts: readonly TicketFact[]): LinkedCustomer[] {
  const tickets = facts.filter((f) => !f.spam);
  const groups = groupByLinkedKeys(tickets, (t) => {
    const keys = [`id\u0000${customerId(t.customer)}`];
    if (t.contact.phone && phoneKey(t.contact.phone)) keys.push(`phone\u0000${phoneKey(t.contact.phone)}`);
    if (t.contact.email) keys.push(`email\u0000${emailKey(t.contact.email)}`);
    return keys;
  });

  const customers = groups.map((group): LinkedCustomer => {
    group.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || byCodeUnit(b.number, a.number));
    const identities = new Map<string, Identity>();
    const phones = new Set<string>();
    const emails = new Set<string>();
    for (const t of group) {
      identities.set(customerId(t.customer), { channelId: t.customer.channelId, userId: t.customer.userId });
      if (t.contact.phone && phoneKey(t.contact.phone)) phones.add(phoneKey(t.contact.phone));
      if (t.contact.email) emails.add(emailKey(t.contact.email));
    }
    const ids = [...identities.keys()].sort(byCodeUnit);
    return {
      id: ids[0],
      name: group.find((t) => t.customer.name)?.customer.name ?? null,
      identities: [...identities.values()].sort((a, b) => byCodeUnit(a.channelId, b.channelId) || byCodeUnit(a.userId, b.userId)),
      phones: [...phones].sort(byCodeUnit),
      emails: [...emails].sort(byCodeUnit),
      tickets: group,
    };
  });
  return customers.sort((a, b) => b.tickets[0].createdAt.getTime() - a.tickets[0].createdAt.getTime() || byCodeUnit(a.id, b.id));
}

/**
 * The customer with this id: its own id, or the `customerId` of any of its identities, so a link
 * that merged two customers does not break the id staff bookmarked for either.
 */
export function findCustomer(customers: readonly LinkedCustomer[], id: string): LinkedCustomer | null {
  return customers.find((c) => c.id === id) ?? customers.find((c) => c.identities.some((i) => customerId(i) === id)) ?? null;
}

/**
 * Customers whose name, identity (as `channel:user`, which covers the id, or the bare user id), phone or e-mail
 * contains `search` (case-insensitive; a search with digits also matches phones typed with spaces
 * or dashes).
 */
export function searchCustomers(customers: readonly LinkedCustomer[], search: string): LinkedCustomer[] {
  const needle = search.trim().toLowerCase();
  if (!needle) return [...customers];
  const digits = needle.replace(/\D/g, '');
  return customers.filter(
    (c) =>
      (c.name ?? '').toLowerCase().includes(needle) ||
      c.identities.some((i) => i.userId.toLowerCase().includes(needle) || customerId(i).toLowerCase().includes(needle)) ||
      c.emails.some((e) => e.includes(needle)) ||
      c.phones.some((p) => p.includes(needle) || (digits.length >= 3 && p.includes(digits))),
  );
}

export function customerSummary(c: LinkedCustomer): CustomerSummary {
  return { id: c.id, name: c.name, identities: c.identities, phones: c.phones, emails: c.emails, tickets: c.tickets.length, lastContactAt: c.tickets[0].createdAt };
}

/** Every channel any customer used, sorted. */
export function channelsOf(customers: readonly LinkedCustomer[]): string[] {
  const seen = new Set<string>();
  for (const c of customers) for (const t of c.tickets) seen.add(t.customer.channelId);
  return [...seen].sort(byCodeUnit);
}

function contactsPerChannel(c: LinkedCustomer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of c.tickets) counts.set(t.customer.channelId, (counts.get(t.customer.channelId) ?? 0) + 1);
  return counts;
}

/** The full profile; `channels` are all channels seen (from {@link channelsOf}). */
export function customerProfile(c: LinkedCustomer, channels: readonly string[]): CustomerProfile {
  const counts = contactsPerChannel(c);
  const total = c.tickets.length;
  const shares = [...new Set([...channels, ...counts.keys()])].map((channelId): ChannelShare => {
    const contacts = counts.get(channelId) ?? 0;
    const band = bandOf(contacts, total);
    const { zh, en } = BANDS[band - 1];
    return { channelId, contacts, share: contacts / total, band, bandLabel: { zh, en } };
  });
  shares.sort((a, b) => b.contacts - a.contacts || byCodeUnit(a.channelId, b.channelId));
  return {
    id: c.id,
    name: c.name,
    identities: c.identities,
    phones: c.phones,
    emails: c.emails,
    firstContactAt: c.tickets[total - 1].createdAt,
    lastContactAt: c.tickets[0].createdAt,
    total,
    channels: shares,
    tickets: c.tickets.map((t) => ({ number: t.number, createdAt: t.createdAt, channelId: t.customer.channelId, topic: t.topic, type: t.type, status: t.status, text: t.text })),
  };
}

/** For each channel, the fraction of all customers whose share of contacts on it falls in each band. */
export function channelPreferences(customers: readonly LinkedCustomer[]): ChannelPreferences {
  const perCustomer = customers.map((c) => ({ counts: contactsPerChannel(c), total: c.tickets.length }));
  const channels = channelsOf(customers).map((channelId) => {
    const inBand = [0, 0, 0, 0, 0];
    let users = 0;
    for (const { counts, total } of perCustomer) {
      const contacts = counts.get(channelId) ?? 0;
      if (contacts > 0) users++;
      inBand[bandOf(contacts, total) - 1]++;
    }
    return { channelId, customers: users, shares: inBand.map((n) => n / customers.length) };
  });
  return { bands: BANDS, totalCustomers: customers.length, channels };
}
