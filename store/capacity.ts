/**
 * The embedded database's capacity: how many tickets of history it holds against the ceiling
 * `bench:scale` measured (the history size at which a console read first misses its target), so
 * the server warns before the console slows down — in its log at start, in `/readyz`, and in a
 * banner for admins in the console. With MONGODB_URI there is no such ceiling.
 */
import type { Db } from 'mongodb';
import type { TicketCounters } from './ticket-counters.js';

export type CapacityLevel = 'ok' | 'near' | 'over';

export interface CapacityStatus {
  engine: 'embedded' | 'mongodb';
  /** Tickets stored (working set and archive), from the statistics counters. */
  tickets: number;
  /** Tickets at which the embedded default misses a target; null with MongoDB. */
  ceiling: number | null;
  level: CapacityLevel;
  /** What to do, for people; null when all is well. */
  message: { 'zh-Hans': string; 'zh-Hant': string; en: string } | null;
}

/**
 * Tickets of history the embedded default serves within every console-read target in `bench:scale`
 * (README, "Capacity"); the default of EMBEDDED_TICKET_CEILING. Measured on a quiet 2-core machine
 * with the patched build: every read within target at 30,000 tickets (with and without the archive,
 * session 3) and at 60,000 without the archive (session 4, after the read cache: the slowest p95 was a
 * year's statistics, 153 ms). Session 5 (hot set and statistics sums in the read cache) measured
 * 100,000 without the archive only under load 24–32, where every read's p50 was within target and the
 * misses were first (cold) requests and load spikes; the raise to 100,000 stands on the quiet re-run
 * (`node dist/scripts/bench-scale.js --reuse <kept 100,000 history>`, README "Capacity").
 */
export const DEFAULT_EMBEDDED_TICKET_CEILING = 100_000;

/**
 * The ceiling on a stock FerretDB 1.24 build (without the `_id` index patches of
 * scripts/install-ferretdb.mjs): there a ticket update already took 0.4–2.4 s at 3,000 tickets
 * (`profile:ticket-ops`), so the warning comes early. Smaller sizes were not measured.
 */
export const STOCK_FERRETDB_TICKET_CEILING = 1_000;

/**
 * Whether the server answers a filter holding an `_id` equality from its `_id` index: MongoDB
 * does, and FerretDB as this project builds it; a stock FerretDB 1.24 reads every row (its plan:
 * `SCAN`). Asked once at start, through `explain` on a collection that exists.
 */
export async function idLookupsIndexed(db: Db, collection: string): Promise<boolean> {
  const plan = JSON.stringify(await db.collection(collection).find({ _id: 'probe', version: 1 } as never).explain());
  return !/COLLSCAN|detail=SCAN/.test(plan);
}

/** The ceiling to warn at: the configured one, or the stock build's when `_id` lookups are not indexed. */
export function effectiveCeiling(configured: number, indexed: boolean): number {
  return indexed ? configured : Math.min(configured, STOCK_FERRETDB_TICKET_CEILING);
}

/** The share of the ceiling from which the server warns. */
export const WARN_AT = 0.8;

/** Pure: the status for a ticket count. */
export function capacityStatus(engine: 'embedded' | 'mongodb', tickets: number, ceiling: number): CapacityStatus {
  if (engine === 'mongodb') return { engine, tickets, ceiling: null, level: 'ok', message: null };
  const level: CapacityLevel = tickets >= ceiling ? 'over' : tickets >= ceiling * WARN_AT ? 'near' : 'ok';
  const n = tickets.toLocaleString('en-US');
  const c = ceiling.toLocaleString('en-US');
  const message =
    level === 'ok'
      ? null
      : level === 'near'
        ? {
            'zh-Hans': `内置数据库已有 ${n} 张工单，接近其容量上限（约 ${c} 张）。请尽快配置 MONGODB_URI 改用 MongoDB。`,
            'zh-Hant': `內建資料庫已有 ${n} 張工單，接近其容量上限（約 ${c} 張）。請盡快設定 MONGODB_URI 改用 MongoDB。`,
            en: `The embedded database holds ${n} tickets, close to its capacity (about ${c}). Configure MONGODB_URI to move to MongoDB soon.`,
          }
        : {
            'zh-Hans': `内置数据库已有 ${n} 张工单，超过其容量上限（约 ${c} 张），工作台会变慢。请配置 MONGODB_URI 改用 MongoDB。`,
            'zh-Hant': `內建資料庫已有 ${n} 張工單，超過其容量上限（約 ${c} 張），工作台會變慢。請設定 MONGODB_URI 改用 MongoDB。`,
            en: `The embedded database holds ${n} tickets, beyond its capacity (about ${c}); the console will be slow. Configure MONGODB_URI to move to MongoDB.`,
          };
  return { engine, tickets, ceiling, level, message };
}

export interface CapacityOptions {
  /** True when the embedded server is in use (no MONGODB_URI). */
  embedded: boolean;
  /** Tickets at which the embedded default misses a target (EMBEDDED_TICKET_CEILING). */
  ticketCeiling: number;
  /** How long a status is reused (ms). */
  cacheMs?: number;
}

/** Reads the ticket count from the counters (one document by id), at most once per `cacheMs`. */
export class CapacityMonitor {
  private cached: { at: number; status: Promise<CapacityStatus> } | null = null;

  constructor(
    private readonly counters: Pick<TicketCounters, 'totals'>,
    private readonly opts: CapacityOptions,
  ) {}

  /** The ticket ceiling warned about (null with MongoDB). */
  get ceiling(): number | null {
    return this.opts.embedded ? this.opts.ticketCeiling : null;
  }

  status(): Promise<CapacityStatus> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < (this.opts.cacheMs ?? 60_000)) return this.cached.status;
    const status = this.counters.totals.get('all').then((all) => capacityStatus(this.opts.embedded ? 'embedded' : 'mongodb', all?.tickets ?? 0, this.opts.ticketCeiling));
    this.cached = { at: now, status };
    status.catch(() => {
      if (this.cached?.status === status) this.cached = null;
    });
    return status;
  }
}
