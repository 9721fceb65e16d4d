/**
 * Rebuilding the read models that follow the tickets (statistics counters, customer documents,
 * the ticket index and the search index) from the tickets themselves, working set and archive.
 */
import type { Db } from 'mongodb';
import { everyStoredTicket } from './archive.js';
import { MongoCustomerRepository } from './customer-repository.js';
import type { Ticket } from './schemas.js';
import { SearchIndex } from './search-index.js';
import { countedTicket, TicketCounters } from './ticket-counters.js';
import { TicketIndex } from './ticket-index.js';

export interface RebuildResult {
  tickets: number;
  months: number;
  weeks: number;
  identities: number;
  days: number;
  searchMonths: number;
  searchTerms: number;
}

/** Every stored ticket once, working set then archive (a full scan: maintenance only, never a request). */
export async function* everyTicket(db: Db, progress: (tickets: number) => void = () => {}): AsyncIterable<Ticket> {
  yield* everyStoredTicket(db, progress);
}

/** Recounts the statistics, the customer documents and the ticket and search indexes from every ticket. */
export async function rebuildReadModels(db: Db, progress: (tickets: number) => void = () => {}): Promise<RebuildResult> {
  const counters = await new TicketCounters(db).rebuild(
    (async function* () {
      for await (const t of everyTicket(db, progress)) yield countedTicket(t);
    })(),
  );
  const customers = await new MongoCustomerRepository(db).rebuild(everyTicket(db));
  // Archived tickets stay listed and openable by number: the index covers every ticket.
  const index = await new TicketIndex(db).rebuild(everyStoredTicket(db));
  const search = await new SearchIndex(db).rebuild(everyTicket(db));
  return { ...counters, ...customers, ...index, ...search };
}

/** Rebuilds only the search index (after upgrading to a version that indexes new terms). */
export async function rebuildSearchIndex(db: Db): Promise<{ searchMonths: number; searchTerms: number }> {
  return new SearchIndex(db).rebuild(everyTicket(db));
}
