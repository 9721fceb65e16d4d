/**
 * A live chat does not read anything that grows with history (session 11: the field saw a slow bot
 * after 18,000 conversations; `bench:live --history 18000` showed no slowdown of live chat). FerretDB
 * on SQLite answers a filter from an index only for a top-level `_id` equality: every other filter,
 * sort or count reads the whole collection. Through the real app, Direct Line, the staff API and its
 * event stream, on a database with past conversations (bench:bot's history) and past tickets: while a
 * customer and an agent exchange a line each way, every command that reads, updates or deletes by a
 * filter either names an `_id` (answered from the `_id` index: `SEARCH … USING INDEX` on the embedded
 * FerretDB, no COLLSCAN on MongoDB) or reaches a collection whose size is bounded by time or by the
 * queue, not by history:
 * - `deskEvents_<slot>`: the event log's time ring (the poll reads the last seconds' slot);
 * - `directlineFeed_<slot>`: the doorbell feed's ring of slots;
 * - `handovers`, `handoverCounts`: the live queue, only the conversations waiting or live now
 *   (an entry is deleted when its chat ends).
 */
import type { CommandStartedEvent, Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashPassword } from '../../staff/auth.js';
import { DirectLineClient } from '../../scripts/directline-client.js';
import { EventStreamClient } from '../../scripts/event-stream-client.js';
import { fillHistory } from '../../scripts/past-conversations.js';
import type { TicketCreate } from '../../store/schemas.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { askAndTake } from '../helpers/live-queue.js';
import { commandFilters, expectFromIndex, isIdFilter } from '../helpers/query-plans.js';

const PASSWORD = 'live-chat-reads-Pw1!';
const SECRET = 'live-chat-reads-direct-line-secret';
/** Collections read whole by design, whose size does not grow with past conversations (see the header). */
const BOUNDED = new Set(['deskEvents', 'directlineFeed', 'handovers', 'handoverCounts']);
let A: RunningApp;
let token: string;
const commands: CommandStartedEvent[] = [];

function ticket(i: number): TicketCreate {
  const text = `历史工单 ${i}：退款两周还没到账`;
  return {
    customer: { channelId: 'webchat', userId: `past-${i}` },
    conversationRef: null,
    contact: {},
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: 'billing', type: 'complaint', spam: false, confidence: 0.8, alternatives: [], keywords: [], modelVersion: 'test', needsReview: false, reviewReason: null },
  };
}

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { DIRECT_LINE_SECRET: SECRET, HANDOVER_WAIT_SECONDS: '3600', RATE_LIMIT_PER_10S: '100', API_RATE_PER_MINUTE: '100000' }, { onCommand: (e) => commands.push(e) });
  await A.store.users.create({ username: 'agent', role: 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'agent', password: PASSWORD }) });
  token = ((await login.json()) as { token: string }).token;
  // History a scan would have rows to read: past conversations (as bench:bot and bench:live write
  // them) and past tickets of other customers.
  await fillHistory(inject('mongoUri'), A.db.databaseName, 200);
  for (let i = 0; i < 30; i++) await A.services.tickets.file(ticket(i));
  await A.store.tickets.settled();
});

afterAll(async () => {
  await A?.stop();
});

describe('a live chat reads by _id, or only what history does not grow', () => {
  it("the customer's line to the agent and the agent's message to the customer", async () => {
    const stream = await EventStreamClient.open(A.url, token);
    const c = await DirectLineClient.open(A.url, 'live-reads', SECRET);
    try {
      const { handoverId: id } = await askAndTake(c, stream, A.url, token);
      await c.waitForMessage((m) => m.text === '客服 agent 已接入，请问有什么可以帮您？');
      await A.store.tickets.settled();
      commands.length = 0;

      const line = '单号 SF100001 还没到';
      await c.send(line);
      await stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === line);
      const answer = '已为您查询，明天送达';
      const posted = await fetch(`${A.url}/api/live/${id}/messages`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: answer }) });
      expect(posted.status).toBe(201);
      await c.waitForMessage((m) => m.text === answer);
      await A.store.tickets.settled(); // the ticket's writes after the answers: include them
    } finally {
      c.close();
      stream.close();
    }

    const seen = commandFilters(commands);
    const base = (name: string) => name.replace(/_\d+$/, '');
    // The exchange reached the ticket and the conversation's log (the test would pass vacuously otherwise).
    expect(seen.some((f) => f.collection === 'tickets')).toBe(true);
    expect(commands.some((e) => e.commandName === 'insert' && base(e.command.insert as string) === 'directlineActivities')).toBe(true);

    const scans = seen.filter((f) => !isIdFilter(f.filter) && !BOUNDED.has(base(f.collection)));
    expect(scans.map((f) => `${f.collection} ${f.command} ${JSON.stringify(f.filter)}`)).toEqual([]);

    // Each `_id` filter is answered from the index, not by reading every row (a collection that does
    // not exist, such as the read models' lease before any rebuild, has no row to read).
    const existing = new Set((await A.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    const plans = new Map<string, { collection: string; filter: Document }>();
    for (const f of seen) if (isIdFilter(f.filter) && !BOUNDED.has(base(f.collection)) && existing.has(f.collection)) plans.set(`${f.collection} ${JSON.stringify(f.filter)}`, f);
    expect([...plans.values()].some((f) => f.collection === 'tickets')).toBe(true);
    for (const [key, f] of plans) await expectFromIndex(A.db, f.collection, f.filter, key);
  });
});
