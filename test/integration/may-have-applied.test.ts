/**
 * A write that failed in a way that may have stored it (transient-errors.ts `mayHaveApplied`) is
 * looked for before anyone is told it failed, and is never stored twice. Made for real with a TCP
 * proxy between the driver and the test database (test/helpers/losing-proxy.ts):
 * - the reply lost after the server applied the write (the driver: "connection closed");
 * - the server's reply turned into a write-concern error (MongoDB's answer when it applied a write
 *   it could not replicate in time; FerretDB never gives one, so the proxy adds it);
 * - a write-concern error made up without the write reaching the server (not applied after all).
 *
 * Tickets (store/ticket-repository.ts): a staff reply and a customer follow-up through the desk,
 * a status change, a note, and MongoDB's atomic append (forced on here: FerretDB takes the claims
 * path); and the audit entry a staff reply writes last (store/audit-log.ts). A new ticket whose
 * insert lost its reply went to the outbox on the code before (the customer told it was not yet
 * filed), and its replay found it stored and skipped the read models: its customer's tickets
 * listed none. The same for a replay from the outbox whose insert lost its reply: the code before
 * kept it for the next replay, which found it stored and skipped the read models.
 * On the code before, each of these calls failed although the change was stored (or, made up,
 * failed when a retry would have stored it).
 *
 * Read-model documents (store/json-docs.ts): a notification and a canned reply (no outage retry:
 * the caller used to hear an error for a stored change), and a read-model counter whose write got a
 * write-concern error (write-behind used to give such a batch up). Each is stored once. A claim
 * whose reply is lost is released (the write it guards was never sent): on the code before, the
 * document's next change failed ("changing too fast") until the claim turned stale.
 *
 * And a notification that cannot be stored at all no longer fails the customer follow-up it
 * follows (the bot then asks the customer to send the message again, which the ticket would hold
 * twice); on the code before, the follow-up failed with the notification's error.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTicketService } from '../../desk/services.js';
import type { TicketService } from '../../desk/tickets.js';
import { MongoCannedReplyRepository } from '../../store/canned-reply-repository.js';
import { FileOutbox } from '../../store/outbox.js';
import { createStore, type Store } from '../../store/index.js';
import { JsonDocs } from '../../store/json-docs.js';
import { MongoNotificationRepository } from '../../store/notification-repository.js';
import type { TicketCreate } from '../../store/schemas.js';
import { MongoTicketRepository } from '../../store/ticket-repository.js';
import { OUTAGE_RETRY_MS } from '../../store/write-behind.js';
import { commandBytes, connectThroughProxy, type LosingProxy } from '../helpers/losing-proxy.js';
import { createClient } from '../../store/database.js';

const TOPICS = ['delivery', 'billing'];
const silent = { info() {}, warn() {}, error() {} };
const dbName = `mayapplied_${randomUUID().slice(0, 8)}`;
const direct = createClient(inject('mongoUri'));
let proxy: LosingProxy;
let viaProxy: MongoClient;
let store: Store;
let desk: TicketService;

/** A write-concern error MongoDB adds to a write it applied (labelled retryable, as a 4.4+ server does). */
function withWriteConcernError(reply: Document): Document {
  return { ...reply, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'waiting for replication interrupted: shutting down' }, errorLabels: ['RetryableWriteError'] };
}

/** A made-up write-concern error for a write the server never received (n: 0, nothing matched). */
const NOT_APPLIED_WC = { ok: 1, n: 0, nModified: 0, writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' } };

function input(text: string): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `u-${randomUUID().slice(0, 6)}` },
    conversationRef: null,
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: 'billing', type: 'inquiry', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 'test', needsReview: false, reviewReason: null },
  };
}

/** The ticket as stored, read past the proxy. */
async function stored(number: string): Promise<Document> {
  const doc = await direct.db(dbName).collection<Document & { _id: string }>('tickets').findOne({ _id: number });
  if (!doc) throw new Error(`ticket ${number} is not stored`);
  return doc;
}

beforeAll(async () => {
  ({ proxy, client: viaProxy } = await connectThroughProxy(inject('mongoUri')));
  await direct.connect();
  store = await createStore({ db: viaProxy.db(dbName), outboxPath: join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), timeZone: 'Asia/Shanghai', topics: TOPICS, log: silent });
  desk = createTicketService(store, { log: silent });
});

afterAll(async () => {
  await store?.tickets.settled();
  await direct.db(dbName).dropDatabase().catch(() => undefined);
  await viaProxy?.close();
  await proxy?.close();
  await direct.close();
});

describe('a ticket change whose outcome the driver could not tell', () => {
  it('a staff reply whose reply from the server is lost is recorded once, and the staff member told it is', async () => {
    const { ticket } = await desk.file(input('发票开错了，请重开'));
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'tickets')]);
    const r = await desk.reply(ticket.number, '已为您重开发票', 'agent1');
    expect(proxy.lost).toBe(before + 1);
    expect(r.ticket.replies.map((x) => x.text)).toEqual(['已为您重开发票']);
    const doc = await stored(ticket.number);
    // Two changes, each once: the reply recorded as sending (the write whose reply was lost), then its outcome.
    expect({ replies: (doc.replies as { text: string }[]).map((x) => x.text), version: doc.version }).toEqual({ replies: ['已为您重开发票'], version: 3 });
  });

  it('a staff reply whose audit entry loses its reply is audited once, and the staff member told it is done', async () => {
    const { ticket } = await desk.file(input('想改收货地址'));
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'audit')]);
    const r = await desk.reply(ticket.number, '已为您修改地址', 'agent1');
    expect(proxy.lost).toBe(before + 1);
    expect(r.ticket.replies.map((x) => x.text)).toEqual(['已为您修改地址']);
    const audited = await direct.db(dbName).collection('audit').find({ target: ticket.number, action: 'ticket.reply' }).toArray();
    expect(audited.length).toBe(1);
  });

  it('a customer follow-up whose reply from the server is lost is added once, its assignee notified once', async () => {
    const { ticket } = await desk.file(input('快递三天没动了'));
    await store.tickets.update(ticket.number, { assignee: 'agent2' });
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'tickets')]);
    const t = await desk.addCustomerMessage(ticket.number, '补充：单号 SF123456');
    expect(proxy.lost).toBe(before + 1);
    expect(t.messages.map((m) => m.text)).toEqual(['补充：单号 SF123456']);
    const doc = await stored(ticket.number);
    expect((doc.messages as { text: string }[]).map((m) => m.text)).toEqual(['补充：单号 SF123456']);
    const notes = (await store.notifications.list('agent2')).items.filter((n) => n.ticket === ticket.number);
    expect(notes.map((n) => n.kind)).toEqual(['customer-replied']);
  });

  it('a new ticket whose insert loses its reply is filed in the database, not kept for later, and its customer knows it once', async () => {
    const demand = input('会员积分没到账');
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'tickets')]);
    const r = await desk.file(demand);
    expect(proxy.lost).toBe(before + 1);
    expect(r.stored).toBe('database');
    expect((await stored(r.ticket.number)).text).toEqual(demand.text);
    await store.tickets.settled();
    expect((await store.customers.ticketsOf(demand.customer)).map((t) => t.number)).toEqual([r.ticket.number]);
  });

  it('a ticket replayed from the outbox whose insert loses its reply is replayed once, its customer knowing it', async () => {
    const demand = input('发票抬头写错了');
    const before = proxy.lost;
    // Kept for later first: its insert never reaches the server.
    proxy.arm([commandBytes('insert', 'tickets')], { kind: 'drop' });
    const r = await desk.file(demand);
    expect(r.stored).toBe('outbox');
    proxy.arm([commandBytes('insert', 'tickets')]);
    const replay = await desk.flushOutbox();
    expect(proxy.lost).toBe(before + 2);
    expect({ replayed: replay.replayed, duplicates: replay.duplicates, remaining: replay.remaining }).toEqual({ replayed: 1, duplicates: 0, remaining: 0 });
    expect((await stored(r.ticket.number)).text).toEqual(demand.text);
    await store.tickets.settled();
    expect((await store.customers.ticketsOf(demand.customer)).map((t) => t.number)).toEqual([r.ticket.number]);
  });

  it('a status change answered with a write-concern error (applied) is reported done, and changed once', async () => {
    const { ticket } = await desk.file(input('退款什么时候到账'));
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'tickets')], { kind: 'rewrite', reply: withWriteConcernError });
    const t = await desk.change(ticket.number, { status: 'in_progress' }, 'agent1');
    expect(proxy.lost).toBe(before + 1);
    expect({ status: t.status, version: t.version }).toEqual({ status: 'in_progress', version: 2 });
    expect((await stored(ticket.number)).version).toBe(2);
  });

  it('a note answered with a write-concern error that was not applied is written again, once', async () => {
    const { ticket } = await desk.file(input('账单金额不对'));
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'tickets')], { kind: 'answer', reply: NOT_APPLIED_WC });
    const t = await desk.annotate(ticket.number, '已联系财务', 'agent1');
    expect(proxy.lost).toBe(before + 1);
    expect(t.notes.map((n) => n.text)).toEqual(['已联系财务']);
    const doc = await stored(ticket.number);
    expect({ notes: (doc.notes as { text: string }[]).map((n) => n.text), version: doc.version }).toEqual({ notes: ['已联系财务'], version: 2 });
  });

  it("MongoDB's atomic append (forced on here) whose reply is lost pushes once, and says so", async () => {
    const { ticket } = await desk.file(input('包裹破损了'));
    const atomic = new MongoTicketRepository(viaProxy.db(dbName), {
      atomicUpdates: true,
      timeZone: 'Asia/Shanghai',
      topics: TOPICS,
      outbox: new FileOutbox(join(mkdtempSync(join(tmpdir(), 'outbox-')), 'tickets.jsonl'), silent),
      log: silent,
    });
    const before = proxy.lost;
    proxy.arm([commandBytes('findAndModify', 'tickets')]);
    const t = await atomic.addCustomerMessage(ticket.number, '外箱也压坏了');
    expect(proxy.lost).toBe(before + 1);
    expect({ messages: t.messages.map((m) => m.text), version: t.version }).toEqual({ messages: ['外箱也压坏了'], version: 2 });
    const doc = await stored(ticket.number);
    expect({ messages: (doc.messages as { text: string }[]).map((m) => m.text), version: doc.version }).toEqual({ messages: ['外箱也压坏了'], version: 2 });
  });
});

describe('a read-model document change whose outcome the driver could not tell', () => {
  it('a notification whose reply is lost is stored once and its caller told so', async () => {
    const notifications = new MongoNotificationRepository(viaProxy.db(dbName));
    await notifications.add('agent3', { kind: 'assigned', ticket: 'T20261207-0001', by: 'lead', at: new Date() });
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'notifications')]);
    await notifications.add('agent3', { kind: 'customer-replied', ticket: 'T20261207-0001', by: null, at: new Date() });
    expect(proxy.lost).toBe(before + 1);
    expect((await notifications.list('agent3')).items.map((n) => n.kind)).toEqual(['customer-replied', 'assigned']);
  });

  it('a notification whose claim loses its reply is reported not stored, and does not hold up the next one', async () => {
    const notifications = new MongoNotificationRepository(viaProxy.db(dbName));
    await notifications.add('agent5', { kind: 'assigned', ticket: 'T20261207-0002', by: 'lead', at: new Date() });
    // The tickets' read models, still being written, take claims too: the trap is for this one.
    await store.tickets.settled();
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'claims')]);
    // The claim was taken, its reply lost, and the write it guards never sent: truly not stored.
    await expect(notifications.add('agent5', { kind: 'rated', ticket: 'T20261207-0002', by: null, at: new Date() })).rejects.toThrow(/closed/);
    expect(proxy.lost).toBe(before + 1);
    await notifications.add('agent5', { kind: 'customer-replied', ticket: 'T20261207-0002', by: null, at: new Date() });
    expect((await notifications.list('agent5')).items.map((n) => n.kind)).toEqual(['customer-replied', 'assigned']);
  });

  it('a canned reply whose creating write loses its reply is created once, and returned', async () => {
    const canned = new MongoCannedReplyRepository(viaProxy.db(dbName));
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'cannedReplies')]);
    const made = await canned.create({ lang: 'zh-Hans', title: '已受理', text: '您的工单 {ticketNumber} 已受理' }, 'admin');
    expect(proxy.lost).toBe(before + 1);
    expect((await new MongoCannedReplyRepository(direct.db(dbName)).list()).map((c) => c.id)).toEqual([made.id]);
  });

  it('a read-model change answered with a write-concern error (applied) is counted once', async () => {
    const docs = new JsonDocs<{ n: number }>(viaProxy.db(dbName), 'wcCounts', () => ({ n: 0 }), { outageRetryMs: OUTAGE_RETRY_MS });
    await docs.update('c', (d) => void (d.n += 1));
    const before = proxy.lost;
    proxy.arm([commandBytes('update', 'wcCounts')], { kind: 'rewrite', reply: withWriteConcernError });
    await docs.update('c', (d) => void (d.n += 1));
    expect(proxy.lost).toBe(before + 1);
    expect(await new JsonDocs<{ n: number }>(direct.db(dbName), 'wcCounts', () => ({ n: 0 })).get('c')).toEqual({ n: 2 });
  });

  it('a read-model change whose claim got a retryable write-concern error (not applied) is kept and counted once', async () => {
    const docs = new JsonDocs<{ n: number }>(viaProxy.db(dbName), 'wcClaimCounts', () => ({ n: 0 }), { outageRetryMs: OUTAGE_RETRY_MS });
    await docs.update('c', (d) => void (d.n += 1));
    // The tickets' read models, still being written, take claims too: the trap is for this one.
    await store.tickets.settled();
    const before = proxy.lost;
    proxy.arm([commandBytes('insert', 'claims')], { kind: 'answer', reply: withWriteConcernError({ ok: 1, n: 0 }) });
    await docs.update('c', (d) => void (d.n += 1));
    expect(proxy.lost).toBe(before + 1);
    expect(await new JsonDocs<{ n: number }>(direct.db(dbName), 'wcClaimCounts', () => ({ n: 0 })).get('c')).toEqual({ n: 2 });
  });
});

describe('a notification that cannot be stored', () => {
  it('does not fail the customer follow-up it follows (the bot would ask for the message again, and the ticket hold it twice)', async () => {
    const warned: string[] = [];
    const logged = createTicketService(store, { log: { ...silent, warn: (_o: object, msg: string) => void warned.push(msg) } });
    const { ticket } = await logged.file(input('电话一直打不通'));
    await store.tickets.update(ticket.number, { assignee: 'agent4' });
    const before = proxy.lost;
    // A lasting error, never retried: the notification is not stored.
    proxy.arm([commandBytes('insert', 'notifications'), commandBytes('update', 'notifications')], { kind: 'answer', reply: { ok: 0, code: 2, codeName: 'BadValue', errmsg: 'made-up failure' } });
    const t = await logged.addCustomerMessage(ticket.number, '补充：晚上八点后有空');
    expect(proxy.lost).toBe(before + 1);
    expect(t.messages.map((m) => m.text)).toEqual(['补充：晚上八点后有空']);
    expect(((await stored(ticket.number)).messages as { text: string }[]).map((m) => m.text)).toEqual(['补充：晚上八点后有空']);
    expect(warned).toContain('notification not stored; the ticket change it follows is');
    expect((await store.notifications.list('agent4')).items).toEqual([]);
  });
});
