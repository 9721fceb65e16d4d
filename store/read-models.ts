/**
 * Rebuilding the read models that follow the tickets (statistics counters; customer documents)
 * from the tickets themselves, working set and archive.
 */
import type { Db } from 'mongodb';
import { TicketCounters, type CountedTicket } from './ticket-counters.js';
import { TicketFactsReader } from './ticket-facts.js';

/** Collections holding tickets: the working set, then the archive. */
export const TICKET_COLLECTIONS = ['tickets', 'ticketsArchive'] as const;

export interface RebuildResult {
  tickets: number;
  months: number;
  weeks: number;
}

/** Recounts the statistics from every ticket; `progress` is told the count every 10,000 tickets. */
export async function rebuildReadModels(db: Db, progress: (tickets: number) => void = () => {}): Promise<RebuildResult> {
  const facts = new TicketFactsReader(db, { cacheMs: 0 });
  async function* counted(): AsyncIterable<CountedTicket> {
    let n = 0;
    for await (const f of facts.each(TICKET_COLLECTIONS)) {
      if (++n % 10_000 === 0) progress(n);
      yield { ...f, channelId: f.customer.channelId };
    }
  }
  return new TicketCounters(db).rebuild(counted());
}
