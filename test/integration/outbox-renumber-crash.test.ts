import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOptions } from '../../store/database.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../store/embedded-server.js';
import { createTicketService } from '../../desk/services.js';
import { createStore } from '../../store/index.js';
import type { TicketCreate } from '../../store/schemas.js';
import { renumberNoteId } from '../../store/ticket-repository.js';

/**
 * Nothing lost, nothing twice: an outboxed ticket whose number another ticket took is stored under
 * a new number at replay; a crash after that insert and before the outbox file is rewritten leaves
 * the record in the file, and the next replay (a restarted process) must not store it again.
 */
const silent = { info() {}, warn() {}, error() {} };
let server: EmbeddedServer;
let client: MongoClient;

beforeAll(async () => {
  server = await startEmbeddedServer({ dataDir: mkdtempSync(join(tmpdir(), 'outbox-crash-db-')) });
  client = new MongoClient(server.uri, clientOptions(800));
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

function input(i: number): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `user${i}` },
    conversationRef: null,
    text: { original: `第${i}个问题：快递没到`, normalized: `第${i}个问题:快递没到` },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
  };
}

const early = { channelId: 'webchat', userId: 'early' };

/** A store whose outbox holds `early`'s ticket under a number another customer's ticket now holds. */
async function numberTaken(db: Db) {
  const outboxPath = join(mkdtempSync(join(tmpdir(), 'outbox-crash-')), 'tickets.jsonl');
  const open = () => createStore({ db, outboxPath, timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
  const store = await open();
  const desk = createTicketService(store, { log: silent });
  const first = (await desk.file(input(1))).ticket;
  // What a lost insert leaves behind: the next number, given to a customer and kept only in the outbox.
  const waiting = (await db.collection('tickets').findOne({ number: first.number }))!;
  const taken = first.number.replace(/\d{4}$/, (d) => String(Number(d) + 1).padStart(4, '0'));
  const record = { ...waiting, _id: taken, number: taken, daySeq: Number(taken.slice(-4)), customer: early, text: { original: '等了很久的包裹', normalized: '等了很久的包裹' }, createdAt: new Date(first.createdAt.getTime() + 1) };
  await store.outbox.append(record);
  expect((await desk.file(input(2))).ticket.number).toBe(taken);
  return { store, desk, open, outboxPath, taken, record };
}

const earlyTickets = (db: Db) => db.collection('tickets').find({ 'customer.userId': early.userId }).toArray();

describe('outbox replay of a renumbered ticket', () => {
  it('a crash after storing it under a new number and before the outbox file is rewritten does not store it twice', async () => {
    const db = client.db('outbox_crash_renumbered');
    const { store, desk, open, outboxPath, taken } = await numberTaken(db);
    const crashLeaves = readFileSync(outboxPath);
    // Created at start: FerretDB creating a table on a first write (mid-replay) fails concurrent writes.
    expect(await db.listCollections({ name: 'outboxRenumbered' }).toArray()).toHaveLength(1);

    expect(await desk.flushOutbox()).toMatchObject({ replayed: 1, duplicates: 0, remaining: 0 });
    const [moved] = await earlyTickets(db);
    expect(moved).toMatchObject({ formerNumber: taken });
    await store.tickets.settled();
    // The crash: the insert is stored, the outbox file still holds the record as before the replay.
    writeFileSync(outboxPath, crashLeaves);

    // The restarted process (nothing in memory) replays the file again.
    const restarted = createTicketService(await open(), { log: silent });
    expect(await restarted.flushOutbox()).toMatchObject({ replayed: 0, duplicates: 1, remaining: 0 });
    const mine = await earlyTickets(db);
    expect(mine.map((t) => t.number)).toEqual([moved.number]);
    expect(await db.collection('tickets').countDocuments({})).toBe(3);
    expect((await restarted.forCustomer(taken, early))!.number).toBe(moved.number);
  });

  it('a crash between noting the new number and storing the ticket under it still stores the ticket, once', async () => {
    const db = client.db('outbox_crash_noted');
    const { desk, taken, record } = await numberTaken(db);
    // The note says the ticket went to the number the other customer holds (an attempt that lost the
    // race, or one that never reached the database): the note alone proves nothing.
    await db.collection('outboxRenumbered').insertOne({ _id: renumberNoteId(record), number: taken } as never);

    expect(await desk.flushOutbox()).toMatchObject({ replayed: 1, duplicates: 0, remaining: 0 });
    const mine = await earlyTickets(db);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ formerNumber: taken });
    expect(mine[0].number).not.toBe(taken);
  });
});
