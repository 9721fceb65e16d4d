/**
 * The few fields of each ticket that statistics and customer profiles need, read with a small
 * projection. FerretDB 1.24 only groups with `$sum`/`$count`, so medians, keyword trends and
 * identity linking are computed in TypeScript over these facts (staff/stats.ts,
 * staff/customer-profiles.ts); a scan per dashboard request is acceptable at staff-console scale,
 * and a short cache keeps a console refreshing several charts from scanning once per chart.
 */
import type { Collection, Db } from 'mongodb';
import type { CustomerIdentity, TicketStatus } from './schemas.js';

/** What statistics and profiles know about one ticket. */
export interface TicketFact {
  number: string;
  createdAt: Date;
  /** Creation day in the service time zone (YYYY-MM-DD). */
  createdDay: string;
  customer: CustomerIdentity;
  contact: { phone?: string; email?: string };
  topic: string | null;
  type: string | null;
  status: TicketStatus;
  spam: boolean;
  /** Still waiting for a person to check the classification. */
  needsReview: boolean;
  /** Why the classifier sent it to review; kept after a correction clears `needsReview`. */
  reviewReason: string | null;
  /** How many topic/type corrections staff made. */
  corrections: number;
  firstResponseAt: Date | null;
  resolvedAt: Date | null;
  /** The customer's message as written. */
  text: string;
  /** Who the ticket is assigned to (absent: unassigned). */
  assignee?: string | null;
  /** The customer's satisfaction score 1–5 (absent or null: not rated). */
  rating?: number | null;
}

/** The stored fields behind a {@link TicketFact}. */
interface FactDoc {
  number: string;
  createdAt: Date;
  createdDay: string;
  customer: CustomerIdentity;
  contact?: { phone?: string; email?: string };
  topic: string | null;
  type: string | null;
  status: TicketStatus;
  spam: boolean;
  needsReview: boolean;
  reviewReason?: string | null;
  corrections?: unknown[];
  firstResponseAt: Date | null;
  resolvedAt: Date | null;
  text: { original: string };
  assignee?: string | null;
  satisfaction?: { score?: number } | null;
}

const PROJECTION = {
  _id: 0,
  number: 1,
  createdAt: 1,
  createdDay: 1,
  customer: 1,
  contact: 1,
  topic: 1,
  type: 1,
  status: 1,
  spam: 1,
  needsReview: 1,
  reviewReason: 1,
  // Whole array: FerretDB cannot project an array's length, and corrections are few and small.
  corrections: 1,
  firstResponseAt: 1,
  resolvedAt: 1,
  'text.original': 1,
  assignee: 1,
  satisfaction: 1,
} as const;

export interface TicketFactsOptions {
  /** How long a loaded set of facts is reused, in milliseconds (default 10 000; 0 = never). */
  cacheMs?: number;
}

/** Reads ticket facts; the same reader is shared by the stats and customer routes (and its cache with them). */
export class TicketFactsReader {
  private readonly tickets: Collection<FactDoc>;
  private readonly cacheMs: number;
  /** Loads in flight or done, by query; a promise is cached so concurrent requests share one scan. */
  private readonly cache = new Map<string, { at: number; facts: Promise<TicketFact[]> }>();

  constructor(db: Db, opts: TicketFactsOptions = {}) {
    this.tickets = db.collection<FactDoc>('tickets');
    this.cacheMs = opts.cacheMs ?? 10_000;
  }

  /** Tickets created on days `from` … `to` (inclusive, service time zone, YYYY-MM-DD). */
  inDays(from: string, to: string): Promise<TicketFact[]> {
    return this.cached(`days:${from}:${to}`, { createdDay: { $gte: from, $lte: to } });
  }

  /** Every ticket (customer profiles link identities across all of a customer's history). */
  all(): Promise<TicketFact[]> {
    return this.cached('all', {});
  }

  private cached(key: string, filter: Record<string, unknown>): Promise<TicketFact[]> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.facts;
    for (const [k, v] of this.cache) if (now - v.at >= this.cacheMs) this.cache.delete(k);
    const facts = this.load(filter);
    if (this.cacheMs > 0) {
      this.cache.set(key, { at: now, facts });
      // A failed load must not be served from the cache.
      facts.catch(() => {
        if (this.cache.get(key)?.facts === facts) this.cache.delete(key);
      });
    }
    return facts;
  }

  private async load(filter: Record<string, unknown>): Promise<TicketFact[]> {
    const docs = await this.tickets.find(filter, { projection: PROJECTION }).toArray();
    return docs.map(toFact);
  }
}

function toFact(d: FactDoc): TicketFact {
  return {
    number: d.number,
    createdAt: d.createdAt,
    createdDay: d.createdDay,
    customer: d.customer,
    contact: d.contact ?? {},
    topic: d.topic ?? null,
    type: d.type ?? null,
    status: d.status,
    spam: d.spam === true,
    needsReview: d.needsReview === true,
    reviewReason: d.reviewReason ?? null,
    corrections: d.corrections?.length ?? 0,
    firstResponseAt: d.firstResponseAt ?? null,
    resolvedAt: d.resolvedAt ?? null,
    text: d.text?.original ?? '',
    assignee: d.assignee ?? null,
    rating: typeof d.satisfaction?.score === 'number' ? d.satisfaction.score : null,
  };
}
