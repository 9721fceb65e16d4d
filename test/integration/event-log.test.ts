/**
 * Desk events between processes (store/event-log.ts) on the real test database: another process's
 * event reaches this one's listeners once, also when its insert reaches the database seconds after
 * it was published (a busy single-writer database queues writes), which polls reading back only
 * `overlapMs` would miss. A listener gets only what was published after it came (a stream that
 * resumes: after its last id), though the polls read further back.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inject } from 'vitest';
import type { DeskEvent } from '../../desk/events.js';
import { MongoEventLog, newEventId } from '../../store/event-log.js';
import { createClient } from '../../store/database.js';

const client = createClient(inject('mongoUri'));
const db = client.db(`events_${randomUUID().slice(0, 8)}`);

afterAll(async () => {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
});

/** The database as a process whose inserts land `delayMs` late sees it. */
function slowInserts(target: Db, delayMs: number): Db {
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (prop !== 'collection') return Reflect.get(t, prop, receiver) as unknown;
      return (name: string) =>
        new Proxy(t.collection(name), {
          get(c: Collection, p, r) {
            if (p !== 'insertOne') return Reflect.get(c, p, r) as unknown;
            return async (...args: Parameters<Collection['insertOne']>) => {
              await new Promise((resolve) => setTimeout(resolve, delayMs));
              return c.insertOne(...args);
            };
          },
        });
    },
  });
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('desk events between processes', () => {
  it('reach another process once, also when the insert lands later than the polls read back', async () => {
    const reader = new MongoEventLog(db, { pollMs: 100, overlapMs: 1_000 });
    await reader.prepare();
    const got: DeskEvent[] = [];
    const stop = reader.subscribe((e) => got.push(e));
    try {
      const fast = new MongoEventLog(db, { pollMs: 100, overlapMs: 1_000 });
      const slow = new MongoEventLog(slowInserts(db, 2_500), { pollMs: 100, overlapMs: 1_000 });
      const a = fast.publish({ type: 'ticket.created', ticketNumber: 'T20261206-0001', channelId: 'webchat' });
      const b = slow.publish({ type: 'ticket.created', ticketNumber: 'T20261206-0002', channelId: 'webchat' });
      // Its copy goes through the same slow inserts: 2 × 2.5 s, then a poll. On a loaded machine
      // that can take longer, so wait for both (up to 30 s) rather than for a fixed time.
      await vi.waitFor(() => expect(got).toHaveLength(2), { timeout: 30_000, interval: 100 });
      const storedIds = async () => {
        const all = await Promise.all(Array.from({ length: 20 }, (_, i) => db.collection(`deskEvents_${i}`).find({}).toArray()));
        return all.flat().map((d) => String(d._id));
      };
      // The late one was stored twice (the copy under its landing time), the prompt one once.
      await vi.waitFor(async () => expect((await storedIds()).filter((id) => id.startsWith(b.id))).toHaveLength(2), {
        timeout: 30_000,
        interval: 200,
      });
      // A few polls more: the copy must not reach the listeners a second time.
      await wait(1_000);
      expect(got.map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
      const ids = await storedIds();
      expect(ids.filter((id) => id.startsWith(b.id))).toHaveLength(2);
      expect(ids.filter((id) => id.startsWith(a.id))).toHaveLength(1);
      // A resume by id lists each event once.
      expect((await reader.since(null)).map((e) => e.id).sort()).toEqual([a.id, b.id].sort());
    } finally {
      stop();
      reader.close();
    }
  });

  it('reach a listener only when published after it subscribed: a console that opens is not sent what happened before (its list is already current)', async () => {
    const own = client.db(`events_${randomUUID().slice(0, 8)}`);
    try {
      // Polls reading back far: an event published before the listener came is well inside them.
      const log = new MongoEventLog(own, { pollMs: 100, overlapMs: 20_000 });
      await log.prepare();
      // A ticket filed, and its event stored, while nobody in this process listens.
      const before = log.publish({ type: 'ticket.created', ticketNumber: 'T20261206-0003', channelId: 'webchat' });
      await vi.waitFor(async () => expect((await log.since(null)).map((e) => e.id)).toContain(before.id), { timeout: 30_000, interval: 100 });
      const got: string[] = [];
      const stop = log.subscribe((e) => got.push(e.id));
      try {
        // Another process's event after it: the polls run, and bring it.
        const after = new MongoEventLog(own, { pollMs: 100, overlapMs: 20_000 }).publish({ type: 'ticket.created', ticketNumber: 'T20261206-0004', channelId: 'webchat' });
        await vi.waitFor(() => expect(got).toContain(after.id), { timeout: 30_000, interval: 100 });
        await wait(500);
        expect(got).toEqual([after.id]);
      } finally {
        stop();
        log.close();
      }
    } finally {
      await own.dropDatabase().catch(() => undefined);
    }
  });

  it('reach a stream that resumes after an id (Last-Event-ID) when published after that id, also when stored after the stream came back', async () => {
    const own = client.db(`events_${randomUUID().slice(0, 8)}`);
    try {
      const reader = new MongoEventLog(own, { pollMs: 100, overlapMs: 1_000 });
      await reader.prepare();
      // The last event the console saw, then one published while it was away, whose insert lands late.
      const seen = newEventId(Date.now() - 1);
      const away = new MongoEventLog(slowInserts(own, 1_500), { pollMs: 100, overlapMs: 1_000 }).publish({ type: 'ticket.created', ticketNumber: 'T20261206-0005', channelId: 'webchat' });
      await wait(20); // the streams open after it was published (one in the same millisecond counts as after)
      const fresh: string[] = [];
      const resumed: string[] = [];
      const stops = [reader.subscribe((e) => fresh.push(e.id)), reader.subscribe((e) => resumed.push(e.id), seen)];
      try {
        await vi.waitFor(() => expect(resumed).toEqual([away.id]), { timeout: 30_000, interval: 100 });
        // A stream opened afresh meanwhile is not sent it: it was published before that stream opened.
        expect(fresh).toEqual([]);
      } finally {
        for (const stop of stops) stop();
        reader.close();
      }
    } finally {
      await own.dropDatabase().catch(() => undefined);
    }
  });
});
