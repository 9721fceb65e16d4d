/**
 * Customer profiles from the customer documents (store/customer-repository.ts) instead of the
 * tickets. Pure: no I/O.
 *
 * The rules are those of staff/customer-profiles.ts, applied to identities rather than tickets:
 * identities (channel + user id) are linked into one customer when they share a phone number or an
 * e-mail address (union-find); spam tickets never reach the directory, so spammers neither count as
 * customers nor merge real ones. An identity's tickets are all on its own channel, so a customer's
 * contacts per channel are the ticket counts of its identities.
 */
import type { CustomerTicket, DirectoryShard, IdentitySummary } from '../store/customer-repository.js';
import { groupByLinkedKeys } from './linking.js';
import { BANDS, bandOf, type ChannelPreferences, type ChannelShare, type CustomerSummary, type Identity } from './customer-profiles.js';

/** One customer: linked identities with their directory figures. */
export interface DirectoryCustomer {
  /** The smallest id of its identities. */
  id: string;
  /** Every identity id. */
  ids: string[];
  name: string | null;
  identities: Identity[];
  phones: string[];
  emails: string[];
  tickets: number;
  /** Tickets per channel. */
  perChannel: Map<string, number>;
  firstContactAt: string;
  lastContactAt: string;
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The keys an identity links by: its phones and e-mails. */
function linkKeys(e: IdentitySummary): string[] {
  return [...e.phones.filter((p) => p).map((p) => `phone\u0000${p}`), ...e.emails.map((m) => `email\u0000${m}`)];
}

/** The customer list's order: last contact (newest first), then id. */
function byRecency(a: DirectoryCustomer, b: DirectoryCustomer): number {
  return byCodeUnit(b.lastContactAt, a.lastContactAt) || byCodeUnit(a.id, b.id);
}

/** Links identities into customers; sorted by last contact (newest first), then id. */
export function linkIdentities(identities: ReadonlyMap<string, IdentitySummary>): DirectoryCustomer[] {
  const groups = groupByLinkedKeys([...identities.keys()], (id) => linkKeys(identities.get(id)!));
  const customers = groups.map((group): DirectoryCustomer => {
    group.sort(byCodeUnit);
    const entries = group.map((id) => identities.get(id)!);
    const perChannel = new Map<string, number>();
    const phones = new Set<string>();
    const emails = new Set<string>();
    let name: string | null = null;
    let nameAt = '';
    let first = entries[0].firstContactAt;
    let last = entries[0].lastContactAt;
    for (const e of entries) {
      perChannel.set(e.channelId, (perChannel.get(e.channelId) ?? 0) + e.tickets);
      e.phones.forEach((p) => phones.add(p));
      e.emails.forEach((m) => emails.add(m));
      if (e.name && e.nameAt && e.nameAt > nameAt) {
        name = e.name;
        nameAt = e.nameAt;
      }
      if (e.firstContactAt < first) first = e.firstContactAt;
      if (e.lastContactAt > last) last = e.lastContactAt;
    }
    return {
      id: group[0],
      ids: group,
      name,
      identities: entries.map((e) => ({ channelId: e.channelId, userId: e.userId })).sort((a, b) => byCodeUnit(a.channelId, b.channelId) || byCodeUnit(a.userId, b.userId)),
      phones: [...phones].sort(byCodeUnit),
      emails: [...emails].sort(byCodeUnit),
      tickets: entries.reduce((n, e) => n + e.tickets, 0),
      perChannel,
      firstContactAt: first,
      lastContactAt: last,
    };
  });
  return customers.sort(byRecency);
}

/**
 * The linked customer list kept up to date from the directory shards: a changed shard costs a
 * comparison of its entries and a re-link of the customers its changed identities touch (with
 * every identity sharing a phone or e-mail with them), not a re-link of every customer ever seen.
 * The result equals {@link linkIdentities} over all identities: linked groups are closed under
 * shared keys, so regrouping the touched customers' identities with the changed ones is exact.
 */
export class LinkedDirectory {
  /** Sorted as {@link linkIdentities}. Replaced (not changed in place) on every change. */
  customers: DirectoryCustomer[] = [];
  /** Every channel any customer used, sorted ({@link directoryChannels}). */
  channels: string[] = [];
  private shards = new Map<string, DirectoryShard>();
  private readonly identities = new Map<string, IdentitySummary>();
  private readonly idsByKey = new Map<string, Set<string>>();
  private readonly customerOf = new Map<string, DirectoryCustomer>();
  /** Customers per channel. */
  private readonly channelUse = new Map<string, number>();

  /**
   * Brings the list up to date with these shards (by shard id). A shard object seen before is
   * taken as unchanged (the read cache returns the same object while its document is unchanged).
   */
  sync(shards: ReadonlyMap<string, DirectoryShard>): void {
    const changed = new Map<string, IdentitySummary | undefined>();
    for (const id of new Set([...this.shards.keys(), ...shards.keys()])) {
      const before = this.shards.get(id)?.identities ?? {};
      const after = shards.get(id)?.identities ?? {};
      if (before === after) continue;
      for (const [key, e] of Object.entries(after)) if (JSON.stringify(before[key]) !== JSON.stringify(e)) changed.set(key, e);
      for (const key of Object.keys(before)) if (!(key in after)) changed.set(key, undefined);
    }
    this.shards = new Map(shards);
    if (changed.size) this.update(changed);
  }

  /** The customer with this identity id among its identities, or null. */
  customerOfIdentity(id: string): DirectoryCustomer | null {
    return this.customerOf.get(id) ?? null;
  }

  private update(changed: ReadonlyMap<string, IdentitySummary | undefined>): void {
    const touched = new Set<DirectoryCustomer>();
    const ids = new Set<string>(changed.keys());
    for (const [id, entry] of changed) {
      const old = this.identities.get(id);
      if (old) for (const key of linkKeys(old)) this.idsByKey.get(key)?.delete(id);
      const c = this.customerOf.get(id);
      if (c) touched.add(c);
      if (!entry) {
        this.identities.delete(id);
        continue;
      }
      this.identities.set(id, entry);
      for (const key of linkKeys(entry)) {
        let sharing = this.idsByKey.get(key);
        if (!sharing) this.idsByKey.set(key, (sharing = new Set()));
        for (const other of sharing) {
          const oc = this.customerOf.get(other);
          if (oc) touched.add(oc);
          else ids.add(other);
        }
        sharing.add(id);
      }
    }
    for (const c of touched) for (const id of c.ids) ids.add(id);
    const present = new Map<string, IdentitySummary>();
    for (const id of ids) if (this.identities.has(id)) present.set(id, this.identities.get(id)!);
    const relinked = linkIdentities(present);
    for (const c of touched) {
      for (const id of c.ids) this.customerOf.delete(id);
      for (const ch of c.perChannel.keys()) this.channelUse.set(ch, this.channelUse.get(ch)! - 1);
    }
    for (const c of relinked) {
      for (const id of c.ids) this.customerOf.set(id, c);
      for (const ch of c.perChannel.keys()) this.channelUse.set(ch, (this.channelUse.get(ch) ?? 0) + 1);
    }
    for (const [ch, n] of this.channelUse) if (n === 0) this.channelUse.delete(ch);
    this.channels = [...this.channelUse.keys()].sort(byCodeUnit);
    // Both lists are sorted: one merge, no sort of every customer.
    const kept = this.customers.filter((c) => !touched.has(c));
    const merged: DirectoryCustomer[] = [];
    let i = 0;
    for (const c of relinked) {
      while (i < kept.length && byRecency(kept[i], c) < 0) merged.push(kept[i++]);
      merged.push(c);
    }
    for (; i < kept.length; i++) merged.push(kept[i]);
    this.customers = merged;
  }
}

/** Same matching rules as staff/customer-profiles.ts `searchCustomers`. */
export function searchDirectory(customers: readonly DirectoryCustomer[], search: string): DirectoryCustomer[] {
  const needle = search.trim().toLowerCase();
  if (!needle) return [...customers];
  const digits = needle.replace(/\D/g, '');
  return customers.filter(
    (c) =>
      (c.name ?? '').toLowerCase().includes(needle) ||
      c.identities.some((i) => i.userId.toLowerCase().includes(needle)) ||
      c.ids.some((id) => id.toLowerCase().includes(needle)) ||
      c.emails.some((e) => e.includes(needle)) ||
      c.phones.some((p) => p.includes(needle) || (digits.length >= 3 && p.includes(digits))),
  );
}

export function directorySummary(c: DirectoryCustomer): CustomerSummary {
  return { id: c.id, name: c.name, identities: c.identities, phones: c.phones, emails: c.emails, tickets: c.tickets, lastContactAt: new Date(c.lastContactAt) };
}

/** Every channel any customer used, sorted. */
export function directoryChannels(customers: readonly DirectoryCustomer[]): string[] {
  const seen = new Set<string>();
  for (const c of customers) for (const ch of c.perChannel.keys()) seen.add(ch);
  return [...seen].sort(byCodeUnit);
}

/** The profile: channel shares over every channel seen, and the customer's tickets (newest first). */
export function directoryProfile(c: DirectoryCustomer, channels: readonly string[], tickets: readonly CustomerTicket[]) {
  const total = c.tickets;
  const shares = [...new Set([...channels, ...c.perChannel.keys()])].map((channelId): ChannelShare => {
    const contacts = c.perChannel.get(channelId) ?? 0;
    const band = bandOf(contacts, total);
    const { zh, en } = BANDS[band - 1];
    return { channelId, contacts, share: total ? contacts / total : 0, band, bandLabel: { zh, en } };
  });
  shares.sort((a, b) => b.contacts - a.contacts || byCodeUnit(a.channelId, b.channelId));
  const sorted = [...tickets].sort((a, b) => byCodeUnit(b.createdAt, a.createdAt) || byCodeUnit(b.number, a.number));
  return {
    id: c.id,
    name: c.name,
    identities: c.identities,
    phones: c.phones,
    emails: c.emails,
    firstContactAt: new Date(c.firstContactAt),
    lastContactAt: new Date(c.lastContactAt),
    total,
    channels: shares,
    tickets: sorted.map((t) => ({ number: t.number, createdAt: new Date(t.createdAt), channelId: t.channelId, topic: t.topic, type: t.type, status: t.status, text: t.text })),
  };
}

/** For each channel, the fraction of all customers whose share of contacts on it falls in each band. */
export function directoryPreferences(customers: readonly DirectoryCustomer[]): ChannelPreferences {
  const channels = directoryChannels(customers).map((channelId) => {
    const inBand = [0, 0, 0, 0, 0];
    let users = 0;
    for (const c of customers) {
      const contacts = c.perChannel.get(channelId) ?? 0;
      if (contacts > 0) users++;
      inBand[bandOf(contacts, c.tickets) - 1]++;
    }
    return { channelId, customers: users, shares: inBand.map((n) => n / customers.length) };
  });
  return { bands: BANDS, totalCustomers: customers.length, channels };
}
