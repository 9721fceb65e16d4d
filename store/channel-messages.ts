/**
 * Inbound messages per channel per day (statistics): one read-model document per month
 * (`_id` = `2026-12`) holding day → channel → count, kept with the compare-and-set JSON documents
 * of json-docs.ts (concurrent `$inc` loses updates on FerretDB; the batching there makes a busy
 * channel cost one write per round trip, not one per message). Tickets per channel are the ticket
 * counters' (ticket-counters.ts); this counts every message a channel took, follow-ups, pictures and
 * greetings included.
 */
import type { Db } from 'mongodb';
import { dayOf } from './clock.js';
import { JsonDocs } from './json-docs.js';

interface MonthMessages {
  days: Record<string, Record<string, number>>;
}

/** Messages counted on one day, per channel. */
export interface DayMessages {
  day: string;
  channels: Record<string, number>;
}

export class ChannelMessageCounts {
  private readonly docs: JsonDocs<MonthMessages>;

  constructor(
    db: Db,
    private readonly timeZone: string,
  ) {
    this.docs = new JsonDocs<MonthMessages>(db, 'channelMessages', () => ({ days: {} }));
  }

  /** Counts one inbound message of `channelId`; resolves when it is stored. */
  count(channelId: string, at: Date = new Date()): Promise<void> {
    const day = dayOf(at, this.timeZone);
    return this.docs.update(day.slice(0, 7), (d) => {
      const counts = (d.days[day] ??= {});
      counts[channelId] = (counts[channelId] ?? 0) + 1;
    });
  }

  /** The days from `from` to `to` (YYYY-MM-DD, inclusive) that have messages, in order. */
  async read(from: string, to: string): Promise<DayMessages[]> {
    const months: string[] = [];
    for (let m = from.slice(0, 7); m <= to.slice(0, 7); ) {
      months.push(m);
      const [y, mm] = m.split('-').map(Number);
      m = mm === 12 ? `${y + 1}-01` : `${y}-${String(mm + 1).padStart(2, '0')}`;
    }
    const docs = await this.docs.getMany(months);
    const out: DayMessages[] = [];
    for (const doc of docs.values()) {
      for (const [day, channels] of Object.entries(doc.days)) if (day >= from && day <= to) out.push({ day, channels: { ...channels } });
    }
    return out.sort((a, b) => (a.day < b.day ? -1 : 1));
  }
}
