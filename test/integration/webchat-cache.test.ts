/**
 * The web chat's write-through cache (store/directline-repository.ts, store/bot-state-storage.ts):
 * a process serves a conversation's state and log from memory while it knows them to be current,
 * and reads the database when another process may have written. Each "process" here is its own
 * repository and state storage on its own client, as two server processes would be, on the real
 * test database.
 */
import { randomUUID } from 'node:crypto';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoBotStorage } from '../../store/bot-state-storage.js';
import { MongoDirectLineRepository, type DirectLineConversation } from '../../store/directline-repository.js';
import { ConflictError } from '../../store/errors.js';
import { createClient } from '../../store/database.js';

const clients: MongoClient[] = [];
let dbName: string;
const KEEP = 50;

interface Proc {
  repo: MongoDirectLineRepository;
  state: MongoBotStorage;
}

/** One simulated server process: its own client, repository and state storage on the shared database. */
async function proc(): Promise<Proc> {
  const client = await createClient(inject('mongoUri')).connect();
  clients.push(client);
  const db: Db = client.db(dbName);
  const repo = new MongoDirectLineRepository(db);
  const state = new MongoBotStorage(db, 'botState', { freshness: (id) => repo.freshness(id) });
  return { repo, state };
}

const stateKey = (conv: DirectLineConversation) => `webchat/conversations/${conv._id}/`;

async function newConversation(p: Proc): Promise<DirectLineConversation> {
  await p.repo.prepare();
  const now = Date.now();
  return p.repo.createConversation({ _id: MongoDirectLineRepository.newId(now), userId: 'webchat:u1', createdAt: new Date(now), expiresAt: new Date(now + 3_600_000) });
}

/** A turn as the server takes it: the user's activity is appended, then state is read and written. */
async function turn(p: Proc, conv: DirectLineConversation, text: string): Promise<void> {
  await p.repo.append(conv, (seq) => ({ type: 'message', id: `${conv._id}|${seq}`, text, from: { id: conv.userId, role: 'user' } }), KEEP);
  const key = stateKey(conv);
  const current = (await p.state.read([key]))[key] as { said?: string[]; eTag?: string } | undefined;
  await p.state.write({ [key]: { said: [...(current?.said ?? []), text], ...(current?.eTag ? { eTag: current.eTag } : {}) } });
}

async function said(p: Proc, conv: DirectLineConversation): Promise<string[] | undefined> {
  const key = stateKey(conv);
  return ((await p.state.read([key]))[key] as { said?: string[] } | undefined)?.said;
}

beforeAll(() => {
  dbName = `wcc_${randomUUID().slice(0, 8)}`;
});

afterAll(async () => {
  await clients[0]?.db(dbName).dropDatabase().catch(() => undefined);
  for (const c of clients) await c.close();
});

describe('web chat write-through cache', () => {
  it('serves the state of a conversation this process created and took every turn of from memory', async () => {
    const a = await proc();
    const conv = await newConversation(a);
    for (const text of ['一', '二', '三']) await turn(a, conv, text);
    expect(await said(a, conv)).toEqual(['一', '二', '三']);
    // Every read (three turns and the check) came from memory: none walked the database.
    expect(a.state.stats()).toEqual({ memory: 4, database: 0 });
  });

  it('sees a turn another process took (its append collides with the foreign one) and continues from its state', async () => {
    const a = await proc();
    const b = await proc();
    const conv = await newConversation(a);
    await turn(a, conv, '一');
    await turn(b, conv, '二'); // b tracks nothing of it: reads the database
    expect(b.state.stats().database).toBe(1);
    const before = a.state.stats().database;
    await turn(a, conv, '三'); // a's append at its next number collides with b's: a re-reads
    expect(a.state.stats().database).toBe(before + 1);
    expect(a.repo.knownEnd(conv._id)).toBeUndefined(); // no longer vouched for: streams look the end up
    expect(await said(a, conv)).toEqual(['一', '二', '三']);
    // And back to b, which still holds its copy of '二': its append collides with a's, so it re-reads.
    await turn(b, conv, '四');
    expect(await said(b, conv)).toEqual(['一', '二', '三', '四']);
    // The log holds every activity once, in order, for both.
    for (const p of [a, b]) {
      const { entries } = await p.repo.after(conv, 0, KEEP);
      expect(entries.map((e) => e.activity.text)).toEqual(['一', '二', '三', '四']);
      expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    }
  });

  it("learns of another process's news from the doorbell feed", async () => {
    const a = await proc();
    const b = await proc();
    const conv = await newConversation(a);
    await turn(a, conv, '一');
    const token = a.repo.freshness(conv._id)!.token;
    await turn(b, conv, '二');
    await b.repo.ring(conv._id);
    const { conversations } = await a.repo.readFeed();
    expect(conversations).toContain(conv._id);
    expect(a.repo.freshness(conv._id)!.token).not.toBe(token);
    // Read without an append of its own: the state b wrote, from the database.
    expect(await said(a, conv)).toEqual(['一', '二']);
  });

  it('never overwrites a newer revision from a stale copy: a conflict, then the database is read again', async () => {
    const a = await proc();
    const b = await proc();
    const conv = await newConversation(a);
    await turn(a, conv, '一');
    const key = stateKey(conv);
    const stale = (await a.state.read([key]))[key] as { said: string[]; eTag: string };
    // b writes state without appending (not something a turn does): a cannot know.
    const fresh = (await b.state.read([key]))[key] as { said: string[]; eTag: string };
    await b.state.write({ [key]: { said: [...fresh.said, '二'], eTag: fresh.eTag } });
    await expect(a.state.write({ [key]: { said: [...stale.said, 'x'], eTag: stale.eTag } })).rejects.toBeInstanceOf(ConflictError);
    expect(await said(a, conv)).toEqual(['一', '二']);
  });

  it('loses nothing acknowledged across a restart: a new process reads state and log from the database', async () => {
    const a = await proc();
    const conv = await newConversation(a);
    for (const text of ['一', '二', '三']) await turn(a, conv, text);
    // "Restart": a new process with empty memory, on the same database.
    const c = await proc();
    const found = await c.repo.getConversation(conv._id);
    expect(found?._id).toBe(conv._id);
    expect(await said(c, conv)).toEqual(['一', '二', '三']);
    const { entries, latest } = await c.repo.after(found!, 0, KEEP);
    expect(latest).toBe(3);
    expect(entries.map((e) => e.activity.text)).toEqual(['一', '二', '三']);
    // And continues it: the next append follows the last one.
    await turn(c, conv, '四');
    expect((await a.repo.after(conv, 0, KEEP)).entries.map((e) => e.activity.text)).toEqual(['一', '二', '三', '四']);
  });

  it('after shedding memory, a conversation created here is read from the database, not taken as new', async () => {
    for (const level of ['pressure', 'critical'] as const) {
      const a = await proc();
      const conv = await newConversation(a);
      await turn(a, conv, '一');
      a.state.shed(level);
      a.repo.shed(level);
      const before = a.state.stats().database;
      expect(await said(a, conv)).toEqual(['一']);
      if (level === 'critical') expect(a.state.stats().database).toBe(before + 1);
      await turn(a, conv, '二');
      expect(await said(a, conv)).toEqual(['一', '二']);
    }
  });

  it('appends of one conversation from one process never collide with each other (no walk of the log)', async () => {
    const a = await proc();
    const conv = await newConversation(a);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => a.repo.append(conv, (seq) => ({ type: 'typing', id: `${conv._id}|${seq}`, n: i }), KEEP)));
    expect(results.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(a.repo.freshness(conv._id)!.token).toBe('0'); // nothing foreign seen
    expect(a.repo.knownEnd(conv._id)).toBe(10); // a stream opened here starts without a lookup
  });

  it('keeps log entries in memory within a byte budget per conversation, and reads the rest from the database', async () => {
    const a = await proc();
    const conv = await newConversation(a);
    const big = '投诉'.repeat(10_240); // 60 KiB of UTF-8, 40 KiB as JavaScript holds it
    for (let i = 0; i < 10; i++) await a.repo.append(conv, (seq) => ({ type: 'message', id: `${conv._id}|${seq}`, text: `${i}${big}` }), KEEP);
    // 10 entries of about 80 KB each (JSON, two bytes a character) against a 256 KiB budget.
    expect(a.repo.keptBytes()).toBeGreaterThan(0);
    expect(a.repo.keptBytes()).toBeLessThanOrEqual(256 * 1024);
    // Nothing is cut: every entry is served whole, the older ones from the database.
    const { entries } = await a.repo.after(conv, 0, KEEP);
    expect(entries.map((e) => String(e.activity.text))).toEqual(Array.from({ length: 10 }, (_, i) => `${i}${big}`));
    expect(a.repo.keptBytes()).toBeLessThanOrEqual(256 * 1024);
  });

  it('under memory pressure drops only idle conversations from memory', async () => {
    const a = await proc();
    const conv = await newConversation(a);
    await turn(a, conv, '一');
    const kept = a.repo.keptBytes();
    expect(kept).toBeGreaterThan(0);
    a.repo.shed('pressure'); // just used: kept
    expect(a.repo.keptBytes()).toBe(kept);
    a.repo.shed('pressure', Date.now() + 61_000); // a minute later, idle: dropped
    expect(a.repo.keptBytes()).toBe(0);
    // Read back from the database, whole.
    expect((await a.repo.after(conv, 0, KEEP)).entries.map((e) => e.activity.text)).toEqual(['一']);
    expect(await said(a, conv)).toEqual(['一']);
  });
});
