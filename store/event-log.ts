/**
 * The desk's events (desk/events.ts) over the database, so every process sees every process's
 * events: each event is inserted into the collection of its minute in a ring of twenty,
 * `deskEvents_<minute mod 20>`, and a process with at least one listener polls the current and the
 * previous minute's collection every `pollMs`.
 *
 * Why a ring of small collections: FerretDB 1.24 scans a whole collection on every query
 * (store/time-buckets.ts), so a poll costs what its two collections hold: the events of the last one
 * or two minutes, however long the history. The collections are created once at start (`prepare`),
 * never on an insert: FerretDB creating a table while other writes run fails those writes with
 * SQLITE_BUSY (see ticket-index.ts). Events are kept nine to ten minutes (a console that reconnects catches
 * up with `Last-Event-ID`): whoever publishes or polls in a new minute empties the collection of
 * ten minutes ago, ahead of its reuse.
 *
 * Delivery: the publishing process hands an event to its own listeners at once (no database round
 * trip on the common single-process path); other processes get it on their next poll. A poll reads
 * events written since a little before the previous poll began (`overlapMs`: an insert that was in
 * flight while the previous poll read is still found), and ids already delivered are skipped; an
 * insert that lands later than that is stored again where the polls will find it (restampIfLate).
 * A process without listeners does not poll at all.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from 'mongodb';
import { compareEventIds, eventIdTime, type DeskEvent, type DeskEventInput, type DeskEventListener, type DeskEvents } from '../desk/events.js';
/** One minute: a poll scans at most two of these. */
export const EVENT_BUCKET_MS = 60_000;
/** Collections in the ring; half of them hold the events kept, the other half are emptied ahead. */
const SLOTS = 20;
const KEEP_MS = (SLOTS / 2 - 1) * EVENT_BUCKET_MS;
const BASE = 'deskEvents';
/** How late an event's insert may land and still be stored again under its landing time (see restampIfLate). */
const LATE_LIMIT_MS = 30_000;
/** The `_id` suffix of that second copy. */
const LATE_SUFFIX = '~late';
const slotCollection = (minute: number) => `${BASE}_${minute % SLOTS}`;

interface EventDoc {
  _id: string;
  at: Date;
  event: string;
}

export interface EventLogOptions {
  /** How often a process with listeners reads other processes' events (ms). Default 250. */
  pollMs?: number;
  /** How far before the previous poll a poll reads again (ms). Default 3000. */
  overlapMs?: number;
  log?: { warn: (obj: object, msg: string) => void };
  now?: () => number;
}

/**
 * A new event id: the time in base 36, then 64 random bits in hex (orders by time, unique). Hex, not
 * base64url: base64url's alphabet has '-', the separator, which one id in six drew.
 */
export function newEventId(ms: number): string {
  return `${ms.toString(36)}-${randomBytes(8).toString('hex')}`;
}

export class MongoEventLog implements DeskEvents {
  /** Each listener with the publication time (ms) from which events are new to it. */
  private readonly listeners = new Map<DeskEventListener, number>();
  /** Ids delivered to this process's listeners, with their time, forgotten after the overlap. */
  private readonly delivered = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private lastPollStart: number;
  private clearedFor = -1;
  private readonly pollMs: number;
  private readonly keepMs = KEEP_MS;
  private readonly overlapMs: number;
  private readonly now: () => number;

  constructor(private readonly db: Db, private readonly opts: EventLogOptions = {}) {
    this.pollMs = opts.pollMs ?? 250;
    this.overlapMs = opts.overlapMs ?? 3000;
    this.now = opts.now ?? Date.now;
    this.lastPollStart = this.now();
  }

  publish(input: DeskEventInput): DeskEvent {
    const ms = this.now();
    const event = { ...input, id: newEventId(ms), at: new Date(ms).toISOString() } as DeskEvent;
    this.deliver(event, ms);
    const doc: EventDoc = { _id: event.id, at: new Date(ms), event: JSON.stringify(event) };
    this.db
      .collection<EventDoc>(slotCollection(Math.floor(ms / EVENT_BUCKET_MS)))
      .insertOne(doc)
      .then(() => this.restampIfLate(doc, ms))
      .catch((err: Error) => this.opts.log?.warn({ err: err.message, type: event.type }, 'desk event not stored; other processes miss it'));
    this.clearAhead(ms);
    return event;
  }

  /**
   * A poll reads back to `overlapMs` before the previous poll began, by the time an event was
   * published. An insert that reached the database later than that (a busy single-writer database
   * queues writes for seconds) may have slipped past every poll; so it is stored once more, dated
   * when that copy will likely land, with the same event id (readers skip ids they delivered). Up to
   * {@link LATE_LIMIT_MS}; later than that it is logged.
   */
  private async restampIfLate(doc: EventDoc, publishedMs: number): Promise<void> {
    const landed = this.now();
    const late = landed - publishedMs;
    if (late <= this.overlapMs - this.pollMs) return;
    if (late > LATE_LIMIT_MS) {
      this.opts.log?.warn({ lateMs: late, id: doc._id }, 'desk event stored too late; other processes may miss it');
      return;
    }
    // Dated when it will likely land (as late again), not when it was sent: the copy waits in the
    // same queue, and one dated earlier than that would slip past the polls the same way.
    await this.db.collection<EventDoc>(slotCollection(Math.floor(landed / EVENT_BUCKET_MS))).insertOne({ ...doc, _id: `${doc._id}${LATE_SUFFIX}`, at: new Date(landed + late) });
  }

  /** Creates the ring's collections (at start, before any write: see the module comment). */
  async prepare(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (let i = 0; i < SLOTS; i++) {
      const name = slotCollection(i);
      if (existing.has(name)) continue;
      await this.db.createCollection(name).catch((err: { codeName?: string }) => {
        if (err.codeName !== 'NamespaceExists') throw err;
      });
    }
  }

  /**
   * Follows the events published from now on, or after `afterId` (a stream resumed with
   * Last-Event-ID: one published before it reconnected whose insert lands late still reaches it).
   *
   * A poll reads back `overlapMs` and more (late copies are dated ahead), so it also finds events
   * published before this listener came; those were delivered to nobody (nobody listened) and are
   * not remembered, so without the time filter they reached the new listener as new: a console that
   * had just opened, its lists already current, got the `ticket.created` of a ticket filed seconds
   * before and redrew them (test/integration/event-log.test.ts). An event published by a process
   * whose clock runs behind can be taken for older by as much as that clock's error.
   */
  subscribe(listener: DeskEventListener, afterId: string | null = null): () => void {
    this.listeners.set(listener, (afterId ? eventIdTime(afterId) : null) ?? this.now());
    if (!this.timer) {
      // Only what is written from now on is new to this listener.
      this.lastPollStart = this.now();
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  async since(afterId: string | null, limit = 500): Promise<DeskEvent[]> {
    const now = this.now();
    const oldest = now - this.keepMs;
    const from = Math.max(oldest, afterId ? (eventIdTime(afterId) ?? oldest) : now - 60_000);
    const docs = await this.read(from, now);
    // An event stored late is there twice (see restampIfLate): once each.
    const unique = [...new Map(docs.map((e) => [e.id, e])).values()];
    const events = unique.filter((e) => !afterId || compareEventIds(e.id, afterId) > 0).sort((a, b) => compareEventIds(a.id, b.id));
    return events.slice(0, limit);
  }

  /** Stops polling (listeners stay registered but get nothing more). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads every event stored from `fromMs` to `toMs`, from the collections that can hold them. */
  private async read(fromMs: number, toMs: number): Promise<DeskEvent[]> {
    const out: DeskEvent[] = [];
    for (let b = Math.floor(fromMs / EVENT_BUCKET_MS); b <= Math.floor(toMs / EVENT_BUCKET_MS); b++) {
      // The time filter also skips what a slot still holds from its previous turn of the ring.
      const docs = await this.db.collection<EventDoc>(slotCollection(b)).find({ at: { $gte: new Date(fromMs) } }).toArray();
      for (const d of docs) {
        try {
          out.push(JSON.parse(d.event) as DeskEvent);
        } catch {
          /* not written by this module: skipped */
        }
      }
    }
    return out;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    const start = this.now();
    this.clearAhead(start);
    try {
      const events = await this.read(this.lastPollStart - this.overlapMs, start);
      events.sort((a, b) => compareEventIds(a.id, b.id));
      for (const e of events) this.deliver(e, eventIdTime(e.id) ?? start);
      this.lastPollStart = start;
      // Ids older than the overlap (and the late copies' limit) can no longer be read again by a poll.
      for (const [id, t] of this.delivered) if (t < start - this.overlapMs * 2 - this.pollMs - LATE_LIMIT_MS) this.delivered.delete(id);
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, 'reading desk events failed; will retry');
    } finally {
      this.polling = false;
    }
  }

  private deliver(event: DeskEvent, ms: number): void {
    if (this.delivered.has(event.id)) return;
    this.delivered.set(event.id, ms);
    for (const [l, from] of this.listeners) {
      if (ms < from) continue;
      try {
        l(event);
      } catch (err) {
        this.opts.log?.warn({ err: (err as Error).message }, 'a desk event listener failed');
      }
    }
    // Without listeners nothing is read back, so nothing needs remembering.
    if (this.listeners.size === 0) this.delivered.delete(event.id);
  }

  /** Once per minute per process: empties the slot used ten minutes ago, before it comes round again. */
  private clearAhead(ms: number): void {
    const minute = Math.floor(ms / EVENT_BUCKET_MS);
    if (minute === this.clearedFor) return;
    this.clearedFor = minute;
    this.db
      .collection(slotCollection(minute + SLOTS / 2))
      .deleteMany({})
      .catch((err: Error) => this.opts.log?.warn({ err: err.message }, 'clearing old desk events failed'));
  }
}
