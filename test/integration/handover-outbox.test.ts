/**
 * A person asked for while the ticket is still in the outbox, against the whole app over the Bot
 * Framework endpoint on its own supervised embedded database (stopped and restarted here):
 * - the database comes back between the ticket going to the outbox and the live queue entry being
 *   made, and another process gives the ticket's number to another customer meanwhile: the live
 *   chat must be on this customer's ticket (stored under a new number), and nothing of it (the
 *   agent's notice and reply, the assignment, the customer's lines) may reach the other customer;
 * - the database stays down: nobody is queued under a number the ticket may lose, the customer is
 *   told the truth in their language, and staff find the request on the ticket after the replay;
 * - a follow-up ("补充：…") for a ticket still in the outbox, with the database back: added to that
 *   customer's ticket under the number it is stored under, never to the ticket now holding the old one;
 * - the database goes away after the request's ticket is stored, before its live queue entry is
 *   written: the customer is told the request is on that ticket (not the apology for a failed turn);
 *   a request added to the customer's open ticket flags that ticket for staff once the database is
 *   back (kept meanwhile in the spool beside the outbox).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import { createTicketService, type Services } from '../../desk/services.js';
import type { Config } from '../../runtime/config.js';
import { hashPassword } from '../../staff/auth.js';
import type { OpenDatabase } from '../../store/database.js';
import { createStore, type Store } from '../../store/index.js';
import type { Ticket, TicketCreate } from '../../store/schemas.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { sayThrough, startConnector, type FakeConnector } from '../helpers/connector.js';
import { reconnected, whileDatabaseDown } from '../helpers/reconnected.js';

let own: AppOnOwnDatabase;
let dir: string;
let config: Config;
let database: OpenDatabase;
let services: Services;
let store: Store;
let url: string;
let connector: FakeConnector;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('handover-outbox-', { RATE_LIMIT_PER_10S: '100', HANDOVER_WAIT_SECONDS: '600' });
  ({ dir, config, database, services, store, url } = own);
  connector = await startConnector();
  await store.users.create({ username: 'alice', role: 'agent', createdBy: 'test', passwordHash: await hashPassword('handover outbox password') });
  // This process has numbered a ticket today, so the next one gets a number without asking the
  // database: the number a ticket kept in the outbox carries, which another process may give out.
  await services.tickets.file(input({ channelId: 'emulator', userId: 'seed' }, '种子工单', null));
});

afterAll(async () => {
  connector?.close();
  await own?.stop();
});

/** One customer message over the Bot Framework endpoint; returns the bot's replies to it. */
const say = (conversation: string, user: string, text: string, locale = 'zh-CN') => sayThrough(connector, url, conversation, user, text, locale);

/** A ticket as a channel files it, with a conversation reference the fake connector receives. */
function input(customer: { channelId: string; userId: string }, text: string, conversation: string | null): TicketCreate {
  const ref = conversation ? JSON.stringify({ channelId: 'emulator', serviceUrl: connector.serviceUrl, conversation: { id: conversation }, user: { id: customer.userId }, bot: { id: 'bot' } }) : null;
  return {
    customer,
    conversationRef: ref,
    text: { original: text, normalized: text },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
  };
}

/** Another server process on the same database (its own store, outbox and numbering). */
async function otherProcess() {
  const other = await createStore({ db: database.db, outboxPath: join(mkdtempSync(join(dir, 'other-')), 'o.jsonl'), timeZone: config.TIME_ZONE, topics: store.topics, log: { info() {}, warn() {}, error() {} } });
  return createTicketService(other, { log: pino({ level: 'silent' }) });
}

/** The customer's tickets as stored. */
async function ticketsOf(userId: string): Promise<Ticket[]> {
  return (await store.tickets.list({ channelId: 'emulator', customerUserId: userId, pageSize: 20, sort: '-createdAt' })).items;
}

/**
 * Runs `whileOutboxed` right after the next ticket is appended to the outbox, before the turn that
 * filed it goes on (the database came back, another process worked, in that moment).
 */
function afterNextOutboxAppend(whileOutboxed: () => Promise<void>): void {
  const outbox = store.outbox;
  const append = outbox.append.bind(outbox);
  outbox.append = async (doc: object) => {
    outbox.append = append;
    await append(doc);
    await whileOutboxed();
  };
}

const NUMBER = /T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})/;

/**
 * A customer describes `demand` and confirms it; the database goes away before they skip the
 * contact question, so the ticket is filed into the outbox; then the database is back (the outbox
 * not replayed yet). Returns the number the customer was given.
 */
async function fileWhileDown(conversation: string, user: string, demand: string): Promise<string> {
  expect((await say(conversation, user, demand)).join('\n')).toMatch(/对吗/);
  expect((await say(conversation, user, '对')).join('\n')).toMatch(/手机号或邮箱/);
  let given = '';
  await whileDatabaseDown(database, async () => {
    const replies = await say(conversation, user, '跳过');
    given = NUMBER.exec(replies.join('\n'))?.[0] ?? '';
    expect(replies).toEqual([texts('zh-Hans').createdOffline(given)]);
  });
  return given;
}

describe('a person asked for while the ticket is still in the outbox', () => {
  it("keeps the live chat on the customer's own ticket when its number was given to another customer before the replay", async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    const stranger = { channelId: 'emulator', userId: `stranger-${randomUUID().slice(0, 6)}` };
    const strangerConversation = `c-stranger-${randomUUID().slice(0, 8)}`;
    const demand = '我的快递三天了还没到，物流信息一直不更新';
    expect((await say(conversation, user, demand)).join('\n')).toMatch(/对吗/);

    let taken = '';
    await database.server!.stop();
    afterNextOutboxAppend(async () => {
      // The database is back a moment later, and another process files the next customer's ticket
      // under the number this one holds only in this process's outbox.
      await database.server!.restart();
      await reconnected(database.db);
      taken = (await (await otherProcess()).file(input(stranger, '包裹破损，要求赔偿', strangerConversation))).ticket.number;
    });
    let queued: string[];
    try {
      queued = await say(conversation, user, '转人工');
    } finally {
      if (database.server!.status().state !== 'running') await database.server!.restart();
    }
    await reconnected(database.db);
    expect(taken).toMatch(NUMBER);
    await services.tickets.flushOutbox();

    // The customer's demand is on one ticket of theirs, and it is not the number the other took.
    const mine = await ticketsOf(user);
    expect(mine).toHaveLength(1);
    const own = mine[0];
    expect(own.text.original).toBe(`${demand}\n转人工`);
    expect((await store.tickets.get(taken))!.customer.userId).toBe(stranger.userId);
    expect(own.number).not.toBe(taken);
    // What the customer was told names their ticket as it is stored (and nothing else).
    expect(queued).toEqual([texts('zh-Hans').handoverQueued(own.number)]);

    // The live queue entry is on that ticket; staff take it and answer.
    const entry = (await services.handovers.list()).find((h) => h.conversationId === conversation);
    expect(entry).toBeDefined();
    expect(entry!.ticketNumber).toBe(own.number);
    await services.handovers.take(entry!.id, 'alice');
    expect(await services.handovers.say(entry!.id, 'alice', '您好，我是客服，马上为您查询')).toEqual({ delivered: true, duplicate: false });
    expect(await say(conversation, user, '单号是 SF123456')).toEqual([]);
    const view = await services.handovers.view(entry!.id);
    expect(view.transcript.map((l) => `${l.from}:${l.text}`)).toEqual(['agent:您好，我是客服，马上为您查询', 'customer:单号是 SF123456']);

    // Everything of the live chat is on the customer's ticket and reached the customer ...
    const after = (await store.tickets.get(own.number))!;
    expect(after).toMatchObject({ assignee: 'alice', customer: { userId: user } });
    expect(after.replies.map((r) => r.text)).toEqual(['您好，我是客服，马上为您查询']);
    expect(after.messages.map((m) => m.text)).toEqual(['单号是 SF123456']);
    expect(connector.messagesTo(conversation)).toEqual(expect.arrayContaining([texts('zh-Hans').handoverTaken('alice'), '您好，我是客服，马上为您查询']));
    // ... and nothing of it reached the other customer or their ticket.
    const theirs = (await store.tickets.get(taken))!;
    expect(theirs).toMatchObject({ assignee: null, replies: [], messages: [] });
    expect(connector.messagesTo(strangerConversation)).toEqual([]);
  });

  const ASK: Record<ReplyLang, { locale: string; hello: string; human: string }> = {
    'zh-Hans': { locale: 'zh-CN', hello: '你好', human: '转人工' },
    'zh-Hant': { locale: 'zh-TW', hello: '喂，有冇人喺度呀', human: '我要搵真人' },
    en: { locale: 'en-US', hello: 'hello there', human: 'talk to a person please' },
  };

  it('queues nobody under a number the ticket may lose while the database is down, tells the customer so in their language, and keeps the request on the ticket', async () => {
    const langs = Object.keys(ASK) as ReplyLang[];
    const customers = langs.map((lang) => ({ lang, user: `u-${lang}-${randomUUID().slice(0, 6)}`, conversation: `c-${randomUUID().slice(0, 8)}`, number: '' }));
    // Each conversation has a turn before the outage (this process keeps a copy of its state).
    for (const c of customers) expect(await say(c.conversation, c.user, ASK[c.lang].hello, ASK[c.lang].locale)).toEqual([texts(c.lang).greetBack]);
    const pending = store.outbox.pending();
    await whileDatabaseDown(database, async () => {
      for (const c of customers) {
        const replies = await say(c.conversation, c.user, ASK[c.lang].human, ASK[c.lang].locale);
        c.number = NUMBER.exec(replies.join('\n'))?.[0] ?? '';
        expect(replies).toEqual([texts(c.lang).handoverOffline(c.number)]);
      }
      // A conversation this process has no copy of (its state unknown): told the same, not filed as a demand.
      const fresh = { lang: 'zh-Hans' as const, user: `u-fresh-${randomUUID().slice(0, 6)}`, conversation: `c-${randomUUID().slice(0, 8)}`, number: '' };
      const replies = await say(fresh.conversation, fresh.user, '转人工');
      fresh.number = NUMBER.exec(replies.join('\n'))?.[0] ?? '';
      expect(replies).toEqual([texts('zh-Hans').handoverOffline(fresh.number)]);
      customers.push(fresh);
      expect(store.outbox.pending()).toBe(pending + customers.length);
    });
    await services.tickets.flushOutbox();
    const queue = await services.handovers.list();
    for (const c of customers) {
      // Nobody was queued; staff find the request on the customer's ticket, flagged for them.
      expect(queue.some((h) => h.conversationId === c.conversation)).toBe(false);
      const t = await services.tickets.forCustomer(c.number, { channelId: 'emulator', userId: c.user });
      expect(t).toMatchObject({ text: { original: ASK[c.lang].human }, needsReview: true, reviewReason: 'customer-asked-for-person' });
    }
    // Asked again with the database back: queued, under the ticket the request is on.
    const [first] = customers;
    const own = (await services.tickets.forCustomer(first.number, { channelId: 'emulator', userId: first.user }))!;
    expect(await say(first.conversation, first.user, '转人工')).toEqual([texts('zh-Hans').handoverQueued(own.number)]);
    expect((await services.handovers.list()).find((h) => h.conversationId === first.conversation)?.ticketNumber).toBe(own.number);
  });
});

describe('a person asked for in a conversation about a ticket still in the outbox', () => {
  it('puts the request and the live chat on that ticket (replayed first), not on a new one', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    const demand = '快递已经五天了还没有送到，物流信息一直不更新';
    await fileWhileDown(conversation, user, demand);
    // Back, the outbox not replayed yet: the customer asks for a person.
    const queued = await say(conversation, user, '转人工');
    await services.tickets.flushOutbox();
    const mine = await ticketsOf(user);
    expect(mine.map((t) => t.text.original)).toEqual([demand]);
    expect(queued).toEqual([texts('zh-Hans').handoverQueued(mine[0].number)]);
    expect(mine[0].messages.map((m) => m.text)).toEqual(['转人工']);
    expect((await services.handovers.list()).find((h) => h.conversationId === conversation)?.ticketNumber).toBe(mine[0].number);
  });
});

describe('a follow-up for a ticket still in the outbox', () => {
  it("is added to the customer's ticket under the number it is stored under, never to the other customer's ticket that took the number", async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    const stranger = { channelId: 'emulator', userId: `stranger-${randomUUID().slice(0, 6)}` };
    const given = await fileWhileDown(conversation, user, '订单显示已签收但我没有收到包裹');
    // Back, not replayed yet, and another process gives the number to another customer.
    const taken = (await (await otherProcess()).file(input(stranger, '发票开错了', null))).ticket.number;
    expect(taken).toBe(given);

    const replies = await say(conversation, user, '补充：快递单号是 SF999888');
    // (Replayed by the turn; this stores it for the check should the turn not have.)
    await services.tickets.flushOutbox();
    const own = (await ticketsOf(user))[0];
    expect(own.number).not.toBe(given);
    expect(replies).toEqual([`${texts('zh-Hans').addedDetails(own.number)}\n${texts('zh-Hans').numberChanged(given, own.number)}`]);
    expect(own).toMatchObject({ formerNumber: given, text: { original: '订单显示已签收但我没有收到包裹' } });
    expect(own.messages.map((m) => m.text)).toEqual(['快递单号是 SF999888']);
    expect((await store.tickets.get(given))!).toMatchObject({ customer: { userId: stranger.userId }, messages: [] });
  });
});

/**
 * The customer says 转人工; the desk finds the ticket the request is on, and the database goes away
 * right then, before the queue entry is written. It is back (and reconnected) when this resolves.
 * Returns the bot's replies and the number the desk had found.
 */
async function askWithDatabaseLostBeforeQueue(conversation: string, user: string): Promise<{ replies: string[]; stoppedAfter: string }> {
  const tickets = services.tickets;
  const filedFor = tickets.filedFor.bind(tickets);
  let stoppedAfter = '';
  tickets.filedFor = async (number, customer) => {
    tickets.filedFor = filedFor;
    const found = await filedFor(number, customer);
    stoppedAfter = found?.number ?? '';
    await database.server!.stop();
    return found;
  };
  let replies: string[];
  try {
    replies = await say(conversation, user, '转人工');
  } finally {
    tickets.filedFor = filedFor;
    if (database.server!.status().state !== 'running') await database.server!.restart();
  }
  await reconnected(database.db);
  return { replies, stoppedAfter };
}

describe('the database failing between a handover\'s ticket and its live queue entry', () => {
  it('tells the customer the request is on their ticket (not the apology), and staff find it flagged on that ticket', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    // The desk finds the ticket the request was filed on, and the database goes away right then.
    const { replies, stoppedAfter } = await askWithDatabaseLostBeforeQueue(conversation, user);
    expect(stoppedAfter).toMatch(NUMBER);
    expect(replies).toEqual([texts('zh-Hans').handoverUnqueued(stoppedAfter)]);
    // Nobody was queued; the request is on the customer's ticket, flagged for staff.
    expect((await services.handovers.list()).some((h) => h.conversationId === conversation)).toBe(false);
    expect(await ticketsOf(user)).toEqual([expect.objectContaining({ number: stoppedAfter, text: expect.objectContaining({ original: '转人工' }), needsReview: true, reviewReason: 'customer-asked-for-person' })]);
    // Asked again with the database back: queued, on that same ticket.
    expect(await say(conversation, user, '转人工')).toEqual([texts('zh-Hans').handoverQueued(stoppedAfter)]);
    expect((await services.handovers.list()).find((h) => h.conversationId === conversation)?.ticketNumber).toBe(stoppedAfter);
  });

  it('a request added to the open ticket: the customer is told so, and the ticket is flagged for staff once the database is back', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    expect((await say(conversation, user, '我的快递三天了还没到，物流信息一直不更新')).join('\n')).toMatch(/对吗/);
    expect((await say(conversation, user, '对')).join('\n')).toMatch(/手机号或邮箱/);
    const number = NUMBER.exec((await say(conversation, user, '跳过')).join('\n'))?.[0] ?? '';
    expect(number).toMatch(NUMBER);
    expect((await store.tickets.get(number))!.reviewReason).not.toBe('customer-asked-for-person');
    // The request goes onto that open ticket; the database goes away before the queue entry.
    const { replies } = await askWithDatabaseLostBeforeQueue(conversation, user);
    expect(replies).toEqual([texts('zh-Hans').handoverUnqueued(number)]);
    // The flag waited for the database (nothing could write it then), and the replay applied it.
    await services.tickets.flushOutbox();
    const flagged = await store.tickets.get(number);
    expect(flagged).toMatchObject({ needsReview: true, reviewReason: 'customer-asked-for-person' });
    expect(flagged!.messages.map((m) => m.text)).toEqual(['转人工']);
    expect(services.tickets.heldPending()).toBe(0);
    expect((await services.handovers.list()).some((h) => h.conversationId === conversation)).toBe(false);
  });
});
