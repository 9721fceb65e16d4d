/**
 * Rebuilding the read models that follow the tickets (statistics counters, customer documents,
 * the ticket index and the search index) from the tickets themselves, working set and archive.
 * Safe while servers write: one scan feeds every read model, and the result is written as a new
 * generation that live writers honour (store/read-model-generations.ts explains why that is exact).
 */
import type { Db } from 'mongodb';
import { everyStoredTicket, type ScanHooks } from './archive.js';
import { MongoCustomerRepository } from './customer-repository.js';
import { ReadModelGenerations } from './read-model-generations.js';
import type { Ticket } from './schemas.js';
import { SearchIndex } from './search-index.js';
import { TicketCounters } from './ticket-counters.js';
import { TicketIndex } from './ticket-index.js';

export interface RebuildResult {
  tickets: number;
  months: number;
  weeks: number;
  identities: number;
  days: number;
  searchMonths: number;
  searchTerms: number;
  /** The generation written (read-model-generations.ts). */
  generation: number;
}

/**
 * Every stored ticket once, working set then archive, then those restored between the two (a full
 * scan: maintenance only, never a request).
 */
export async function* everyTicket(db: Db, progress: (tickets: number) => void = () => {}, hooks: ScanHooks = {}): AsyncIterable<Ticket> {
  yield* everyStoredTicket(db, progress, hooks);
}

/**
 * Recounts the statistics, the customer documents and the ticket and search indexes from every
 * ticket, under a new generation: refused (ConflictError) while another rebuild runs; servers keep
 * writing meanwhile, and their changes during the rebuild are neither lost nor counted twice.
 */
export async function rebuildReadModels(db: Db, progress: (tickets: number) => void = () => {}, hooks: ScanHooks = {}): Promise<RebuildResult> {
  const counters = new TicketCounters(db).rebuilder();
  const customers = new MongoCustomerRepository(db).rebuilder();
  const index = new TicketIndex(db).rebuilder();
  const search = new SearchIndex(db).rebuilder();
  const rebuild = await new ReadModelGenerations(db).begin();
  try {
    // Which version of each ticket the recount holds: a live change is applied on top iff it is newer.
    const counted = new Map<string, number>();
    for await (const t of everyTicket(db, progress, hooks)) {
      counted.set(t.number, t.version);
      counters.add(t);
      customers.add(t);
      index.add(t);
      search.add(t);
    }
    rebuild.assertLive();
    await rebuild.storeCounted(counted);
    const parts = [];
    for (const model of [counters, customers, index, search] as const) {
      rebuild.assertLive();
      parts.push(await model.install(rebuild.gen));
    }
    const r = { ...(Object.assign({}, ...parts) as Omit<RebuildResult, 'generation'>), generation: rebuild.gen };
    await rebuild.finish();
    return r;
  } catch (err) {
    await rebuild.abandon().catch(() => undefined);
    throw err;
  }
}
