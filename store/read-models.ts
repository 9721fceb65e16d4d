/**
 * Rebuilding the read models that follow the tickets (statistics counters, customer documents)
 * from the tickets themselves, working set and archive.
 */
import type { Db } from 'mongodb';
import { MongoCustomerRepository } from './customer-repository.js';
import type { Ticket } from './schemas.js';
import { countedTicket, TicketCounters } from './ticket-counters.js';
import { TicketIndex } from './ticket-index.js';

/** Collections holding tickets: the working set, then the archive. */
export const TICKET_COLLECTIONS = ['tickets', 'ticketsArchive'] as const;

export interface RebuildResult {
  tickets: number;
  months: number;
  weeks: number;
  identities: number;
  days: number;
}

/** Every stored ticket, one at a time (a full scan: maintenance only, never a request). */
export async function* everyTicket(db: Db, progress: (tickets: number) => void = () => {}): AsyncIterable<Ticket> {
  let n = 0;
  for (const name of TICKET_COLLECTIONS) {
    for await (const doc of db.collection<Ticket & { _id: string }>(name).find({}, { batchSize: 1000 })) {
      if (++n % 10_000 === 0) progress(n);
      yield doc;
    }
  }
}

/** Recounts the statistics and the customer documents from every ticket. */
export async function rebuildReadModels(db: Db, progress: (tickets: number) => void = () => {}): Promise<RebuildResult> {
  const counters = await new TicketCounters(db).rebuild(
    (async function* () {
      for await (const t of everyTicket(db, progress)) yield countedTicket(t);
    })(),
  );
  const customers = await new MongoCustomerRepository(db).rebuild(everyTicket(db));
  // The ticket list covers the working set only.
  const index = await new TicketIndex(db).rebuild(db.collection<Ticket & { _id: string }>('tickets').find({}, { batchSize: 1000 }));
  return { ...counters, ...customers, ...index };
}
