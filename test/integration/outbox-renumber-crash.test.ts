import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db, MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTicketService } from '../../desk/services.js';
import { createStore, type Store } from '../../store/index.js';
import type { Ticket } from '../../store/schemas.js';
import { MongoTicketRepository, renumberNoteId } from '../../store/ticket-repository.js';
import { deliveryDemand, startOutboxDatabase, type OutboxDatabase } from '../helpers/outbox-database.js';

/**
 * Nothing lost, nothing twice: an outboxed ticket whose number another ticket took is stored under
 * a new number at replay, in steps (note the number, insert, read models, rewrite the outbox file,
 * delete the note). A crash after any step leaves what the steps before it wrote; the next replay
 * (a restarted process) must store the ticket once, give its read models the ticket once, and
 * delete the note once nothing can need it.
 */
const silent = { info() {}, warn() {}, error() {} };
let own: OutboxDatabase;
let client: MongoClient;

beforeAll(async () => {
  own = await startOutboxDatabase('outbox-crash-db-');
  client = own.client;
});

afterAll(async () => {
  await own?.stop();
});

const early = { channelId: 'webchat', userId: 'early' };

/**
 * A store whose outbox holds `early`'s ticket under a number another customer's ticket now holds;
 * with `requestId`, a ticket a staff member logged by hand (POST /api/tickets) under that request.
 */
async function numberTaken(db: Db, requestId?: string) {
  const outboxPath = join(mkdtempSync(join(tmpdir(), 'outbox-crash-')), 'tickets.jsonl');
  const open = () => createStore({ db, outboxPath, timeZone: 'Asia/Shanghai', topics: ['delivery'], log: silent });
  const store = await open();
  const desk = createTicketService(store, { log: silent });
  const first = (await desk.file(deliveryDemand(1))).ticket;
  // What a lost insert leaves behind: the next number, given to a customer and kept only in the outbox.
  const waiting = (await db.collection('tickets').findOne({ number: first.number }))!;
  const taken = first.number.replace(/\d{4}$/, (d) => String(Number(d) + 1).padStart(4, '0'));
  const record = { ...waiting, _id: taken, number: taken, daySeq: Number(taken.slice(-4)), customer: early, text: { original: '等了很久的包裹', normalized: '等了很久的包裹' }, createdAt: new Date(first.createdAt.getTime() + 1), ...(requestId ? { requestId, filedBy: 'alice' } : {}) };
  await store.outbox.append(record);
  expect((await desk.file(deliveryDemand(2))).ticket.number).toBe(taken);
  return { store, desk, open, outboxPath, taken, record };
}

const earlyTickets = (db: Db) => db.collection('tickets').find({ 'customer.userId': early.userId }).toArray();
const notes = (db: Db) => db.collection('outboxRenumbered').find({}).toArray();

/** What the read models say of the tickets: 3 in all, `early` with one ticket (the renumbered one). */
async function readModels(store: Store) {
  await store.tickets.settled();
  return {
    total: await store.counters.count({}),
    earlyTotal: (await store.customers.get(early))?.total ?? 0,
    earlyListed: (await store.customers.allTicketsOf(early)).map((t) => t.number),
  };
}

type ReadModelsReached = 'none' | 'counters' | 'all';

/**
 * The first replay, by a process that dies after it: its read models store nothing, only the
 * counters, or all (the store's four, wired as store/index.ts wires them). Returns the renumber
 * note as it stood once the read models were through (what a crash before its deletion leaves).
 */
async function replayThenDie(db: Db, store: Store, reached: ReadModelsReached) {
  // The other customers' tickets are in every read model before the crash (not raced by the reads after).
  await store.tickets.settled();
  let note: Record<string, unknown> | null = null;
  const readModels = async (before: Ticket | null, after: Ticket, once?: string) => {
    if (reached !== 'none') await store.counters.onTicketChanged(before, after, once);
    if (reached === 'all') await Promise.all([store.customers.onTicketChanged(before, after, once), store.ticketIndex.onTicketChanged(before, after, once), store.search.onTicketChanged(before, after, once)]);
    note = (await notes(db))[0] ?? null;
    if (reached !== 'all') throw new Error('the process died');
  };
  const dying = new MongoTicketRepository(db, { timeZone: 'Asia/Shanghai', topics: ['delivery'], outbox: store.outbox, log: silent, onTicketChanged: readModels });
  expect(await dying.flushOutbox()).toMatchObject({ replayed: 1, duplicates: 0, remaining: 0 });
  await dying.settled();
  expect(note).not.toBeNull();
  return note!;
}

describe('outbox replay of a renumbered ticket', () => {
  it('a crash after storing it under a new number and before the outbox file is rewritten does not store it twice', async () => {
    const db = client.db('outbox_crash_renumbered');
    const { store, open, outboxPath, taken } = await numberTaken(db);
    const crashLeaves = readFileSync(outboxPath);
    // Created at start: FerretDB creating a table on a first write (mid-replay) fails concurrent writes.
    expect(await db.listCollections({ name: 'outboxRenumbered' }).toArray()).toHaveLength(1);

    const note = await replayThenDie(db, store, 'all');
    const [moved] = await earlyTickets(db);
    expect(moved).toMatchObject({ formerNumber: taken });
    expect(await readModels(store)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [moved.number] });
    // The crash: the insert and its read models are stored, the outbox file still holds the record
    // as before the replay, and the note is there.
    writeFileSync(outboxPath, crashLeaves);
    if ((await notes(db)).length === 0) await db.collection('outboxRenumbered').insertOne(note as never);
    // Nor had it noted the number's move (the step after the insert): the replay again notes it.
    expect(await db.collection('ticketNumberMoves').findOne({ _id: taken as never })).toMatchObject({ numbers: [moved.number] });
    await db.collection('ticketNumberMoves').deleteOne({ _id: taken as never });

    // The restarted process (nothing in memory) replays the file again.
    const restartedStore = await open();
    const restarted = createTicketService(restartedStore, { log: silent });
    expect(await restarted.flushOutbox()).toMatchObject({ replayed: 0, duplicates: 1, remaining: 0 });
    const mine = await earlyTickets(db);
    expect(mine.map((t) => t.number)).toEqual([moved.number]);
    expect(await db.collection('tickets').countDocuments({})).toBe(3);
    expect((await restarted.forCustomer(taken, early))!.number).toBe(moved.number);
    // Staff opening the number the customer was given see the other customer's ticket, naming this one.
    expect(await restarted.open(taken)).toMatchObject({ ticket: { number: taken, alsoQuotedFor: [{ number: moved.number }] } });
    // The read models are given the ticket again, and each already holds it: counted once.
    expect(await readModels(restartedStore)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [moved.number] });
    // The record is out of the file and the read models hold the ticket: nothing needs the note.
    expect(await notes(db)).toEqual([]);
  });

  it('a crash between noting the new number and storing the ticket under it still stores the ticket, once', async () => {
    const db = client.db('outbox_crash_noted');
    const { store, desk, taken, record } = await numberTaken(db);
    // The note says the ticket went to the number the other customer holds (an attempt that lost the
    // race, or one that never reached the database): the note alone proves nothing.
    await db.collection('outboxRenumbered').insertOne({ _id: renumberNoteId(record), number: taken } as never);

    expect(await desk.flushOutbox()).toMatchObject({ replayed: 1, duplicates: 0, remaining: 0 });
    const mine = await earlyTickets(db);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ formerNumber: taken });
    expect(mine[0].number).not.toBe(taken);
    expect(await readModels(store)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [mine[0].number] });
    expect(await notes(db)).toEqual([]);
  });

  // A ticket logged by hand (with a request id) as well: its request note names the new number.
  for (const byHand of [false, true]) {
    for (const reached of ['none', 'counters'] as const) {
      it(`${byHand ? 'a ticket logged by hand (with a request id): ' : ''}a crash after the insert, with ${reached === 'none' ? 'no read model' : 'only the counters'} stored, before the outbox file is rewritten: the resumed replay gives the read models the ticket once`, async () => {
        const db = client.db(`outbox_crash_${byHand ? 'request' : 'read_models'}_${reached}`);
        const requestId = byHand ? `form-renumbered-crash-${reached}` : undefined;
        const { store, open, outboxPath, taken } = await numberTaken(db, requestId);
        const crashLeaves = readFileSync(outboxPath);
        await replayThenDie(db, store, reached);
        const [moved] = await earlyTickets(db);
        expect(moved).toMatchObject({ formerNumber: taken });
        // The form sent again finds the ticket under its new number.
        if (requestId) expect(await db.collection('ticketRequests').findOne({ _id: requestId as never })).toMatchObject({ number: moved.number });
        expect((await readModels(store)).earlyListed).toEqual([]);
        writeFileSync(outboxPath, crashLeaves);

        const restartedStore = await open();
        expect(await createTicketService(restartedStore, { log: silent }).flushOutbox()).toMatchObject({ replayed: 0, duplicates: 1, remaining: 0 });
        expect((await earlyTickets(db)).map((t) => t.number)).toEqual([moved.number]);
        // Repaired by this replay, not left to the next process start's sweep.
        expect(await readModels(restartedStore)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [moved.number] });
        expect(await notes(db)).toEqual([]);
        if (requestId) expect(await restartedStore.tickets.claimRequest(requestId)).toMatchObject({ stored: 'database', ticket: { number: moved.number } });
      });
    }
  }

  it('a crash after the outbox file is rewritten and before the read models are stored: the next replay gives them the ticket and deletes the note', async () => {
    const db = client.db('outbox_crash_rewritten');
    const { store, open } = await numberTaken(db);
    await replayThenDie(db, store, 'none');
    const [moved] = await earlyTickets(db);
    expect(store.outbox.pending()).toBe(0);
    // Another process's note (its record waits in its own outbox) is not this process's to finish.
    const theirs = { _id: 'another process', number: 'T20261207-9999', outbox: 'elsewhere:/var/outbox/tickets.jsonl' };
    await db.collection('outboxRenumbered').insertOne(theirs as never);

    const restartedStore = await open();
    expect(await createTicketService(restartedStore, { log: silent }).flushOutbox()).toMatchObject({ replayed: 0, duplicates: 0, remaining: 0 });
    expect(await readModels(restartedStore)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [moved.number] });
    expect(await notes(db)).toEqual([theirs]);
  });

  it('a crash after the read models are stored and the outbox file rewritten, before the note is deleted: the next replay deletes it and counts nothing again', async () => {
    const db = client.db('outbox_crash_before_delete');
    const { store, open } = await numberTaken(db);
    const note = await replayThenDie(db, store, 'all');
    const [moved] = await earlyTickets(db);
    if ((await notes(db)).length === 0) await db.collection('outboxRenumbered').insertOne(note as never);

    const restartedStore = await open();
    expect(await createTicketService(restartedStore, { log: silent }).flushOutbox()).toMatchObject({ replayed: 0, duplicates: 0, remaining: 0 });
    expect(await readModels(restartedStore)).toEqual({ total: 3, earlyTotal: 1, earlyListed: [moved.number] });
    expect(await notes(db)).toEqual([]);
  });
});
