/**
 * A person when asked (issue 12 item 2), against the whole app over real HTTP (Direct Line for the
 * customer, the staff API and its event stream for agents) on the real embedded database:
 * - 转人工 puts the conversation in the live queue, announced on the event stream;
 * - two agents take it at the same moment: exactly one wins, the other gets 409;
 * - the customer's messages reach the agent (events) while the bot stays silent, and every one of
 *   them is on the ticket (counted); the agent's messages reach the customer;
 * - handed back, the bot answers again;
 * - two frustrated messages in a row queue the conversation too;
 * - nobody takes it within the wait: the bot says so (by where the ticket stands: unanswered,
 *   answered, resolved), the demand is on the ticket, and the audit entry names the notice sent;
 * - a rating sent while waiting, after staff resolved the ticket, is the ticket's rating, no chat line;
 *   once an agent has the conversation, a line that reads like one (1、运费什么时候退) is shown on receipt;
 * - outside service hours: the bot says so and files the demand.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import { parseRating } from '../../bot/demand-bot.js';
import { hashPassword } from '../../staff/auth.js';
import { DirectLineClient } from '../../scripts/directline-client.js';
import { EventStreamClient } from '../../scripts/event-stream-client.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { askAndTake, askForPerson } from '../helpers/live-queue.js';

type Json = Record<string, any>;
const PASSWORD = 'live handover password';
const SECRET = 'handover-test-direct-line-secret';
let A: RunningApp;
const tokens: Record<string, string> = {};

async function api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function login(base: string, username: string): Promise<string> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { token: string }).token;
}

/**
 * Holds back web chat conversation `conversationId`'s writes to its log and the turn's reads of a
 * queue entry until `release()` (as a loaded database would): a line then reaches the agent only if
 * it is shown on receipt. `held` counts what waited; `restore()` puts both back.
 */
function holdBackStorage(conversationId: string): { held: { finds: number; appends: number }; release: () => void; restore: () => void } {
  const handovers = A.services.handovers;
  const find = handovers.find.bind(handovers);
  const log = A.store.directLine;
  const append = log.append.bind(log);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held = { finds: 0, appends: 0 };
  handovers.find = async (hid: string) => {
    held.finds++;
    await gate;
    return find(hid);
  };
  log.append = async (conv, stamp, keep, urgent) => {
    if (conv._id === conversationId) {
      held.appends++;
      await gate;
    }
    return append(conv, stamp, keep, urgent);
  };
  return {
    held,
    release,
    restore: () => {
      handovers.find = find;
      log.append = append;
    },
  };
}

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { DIRECT_LINE_SECRET: SECRET, HANDOVER_WAIT_SECONDS: '6', RATE_LIMIT_PER_10S: '100', API_RATE_PER_MINUTE: '100000' });
  for (const u of ['alice', 'bob', 'carol', 'dave', 'root']) {
    await A.store.users.create({ username: u, role: u === 'root' ? 'admin' : 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
    tokens[u] = await login(A.url, u);
  }
});

afterAll(async () => {
  await A?.stop();
});

describe('a person when asked', () => {
  it('queues, is taken by exactly one of two agents, chats both ways with the bot silent, and is handed back', async () => {
    const stream = await EventStreamClient.open(A.url, tokens.alice);
    const c = await DirectLineClient.open(A.url, 'live-1', SECRET);
    try {
      const { reply, number, handoverId: id } = await askForPerson(c, stream);
      expect(reply).toMatch(/正在为您转接人工客服/);
      const queue = await api('GET', '/api/live', tokens.bob);
      expect(queue.body.items.map((h: Json) => h.id)).toContain(id);
      expect(queue.body.items.find((h: Json) => h.id === id)).toMatchObject({ state: 'waiting', ticketNumber: number, reason: 'asked', lang: 'zh-Hans' });

      // Two agents take it at the same moment: exactly one wins.
      const [a, b] = await Promise.all([api('POST', `/api/live/${id}/take`, tokens.alice), api('POST', `/api/live/${id}/take`, tokens.bob)]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const winner = a.status === 200 ? 'alice' : 'bob';
      const loser = winner === 'alice' ? 'bob' : 'alice';
      // The ticket is assigned to the agent who took the conversation (an assignment like any other:
      // audited and announced to the consoles).
      expect((await A.store.tickets.get(number))!.assignee).toBe(winner);
      await stream.waitFor((e) => e.type === 'ticket.assigned' && e.ticketNumber === number && e.assignee === winner && e.by === winner);
      await c.waitForMessage((m) => m.text === `客服 ${winner} 已接入，请问有什么可以帮您？`);
      // The loser can neither write nor hand back.
      expect((await api('POST', `/api/live/${id}/messages`, tokens[loser], { text: '我来' })).status).toBe(409);
      expect((await api('POST', `/api/live/${id}/hand-back`, tokens[loser])).status).toBe(409);

      // The customer's messages reach the agent; the bot says nothing.
      const said = ['我的快递三天没到了', '单号是 SF123456', '帮我查查吧', '帮助'];
      const botBefore = c.botMessages().length;
      for (const text of said) await c.send(text);
      for (const text of said) await stream.waitFor((e) => e.type === 'live.message' && e.from === 'customer' && e.text === text);
      // The agent answers; the customer gets it on their channel.
      const sent = await api('POST', `/api/live/${id}/messages`, tokens[winner], { text: '已为您催件，明天送达。' });
      expect(sent).toMatchObject({ status: 201, body: { delivered: true } });
      await c.waitForMessage((m) => m.text === '已为您催件，明天送达。');
      await stream.waitFor((e) => e.type === 'live.message' && e.from === 'agent' && e.text === '已为您催件，明天送达。');
      expect(c.botMessages().slice(botBefore).map((m) => m.text)).toEqual([`已为您催件，明天送达。`]);

      // Every customer message of the live conversation is on the ticket (with the request).
      const ticket = await A.store.tickets.get(number);
      expect(ticket!.messages.map((m) => m.text)).toEqual(said);
      expect(ticket!.text.original).toBe('转人工');
      expect(ticket!.replies.map((r) => r.text)).toEqual(['已为您催件，明天送达。']);
      const view = await api('GET', `/api/live/${id}`, tokens[winner]);
      expect(view.body.transcript.map((l: Json) => `${l.from}:${l.text}`)).toEqual([...said.map((t) => `customer:${t}`), 'agent:已为您催件，明天送达。']);

      // Handed back: the customer is told, the queue is empty, the bot answers again.
      expect((await api('POST', `/api/live/${id}/hand-back`, tokens[winner])).status).toBe(204);
      await c.waitForMessage((m) => m.text === '客服已将对话交回智能助手。如还有其他问题，请直接告诉我。');
      await stream.waitFor((e) => e.type === 'handover.ended' && e.handoverId === id && e.how === 'handedBack');
      expect((await api('GET', '/api/live', tokens.alice)).body.items.map((h: Json) => h.id)).not.toContain(id);
      // The bot answers again; the conversation is still about the ticket, so the thanks lands on it.
      const again = await c.replyTo(await c.send('谢谢'));
      expect(again.text).toBe(`不客气！您的留言已记录到工单 ${ticket!.number}，有进展我们会在这里回复您。`);
      expect((await A.store.tickets.get(ticket!.number))!.messages.at(-1)?.text).toBe('谢谢');
      expect((await api('POST', `/api/live/${id}/take`, tokens.alice)).status).toBe(404);
    } finally {
      c.close();
      stream.close();
    }
  });

  it("shows a live line to the agent on receipt, durable in the receipt journal before its database write and the turn's reads, exactly once, and sends no typing indicator while live", async () => {
    const stream = await EventStreamClient.open(A.url, tokens.carol);
    const c = await DirectLineClient.open(A.url, 'live-fast', SECRET);
    const handovers = A.services.handovers;
    let storage: ReturnType<typeof holdBackStorage> | null = null;
    try {
      const { number, handoverId: id } = await askAndTake(c, stream, A.url, tokens.carol);
      await c.waitForMessage((m) => m.text === `客服 carol 已接入，请问有什么可以帮您？`);
      const shown: string[] = [];
      stream.onEvent((e) => {
        if (e.type === 'live.message' && e.handoverId === id && e.from === 'customer') shown.push(e.text);
      });
      let typing = 0;
      c.onActivity((a) => {
        if (a.type === 'typing') typing++;
      });

      // The line's write to the conversation's log and the turn's read of the queue entry are held
      // back (as a loaded database would): the line reaches the agent anyway, durable in the
      // receipt journal, and reaches the log and the ticket once they are done.
      storage = holdBackStorage(c.conversationId);
      const { held } = storage;
      // The post answers when the turn is done: not awaited while the writes are held.
      const sending = c.send('单号 SF778899，今天能到吗');
      await stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === '单号 SF778899，今天能到吗');
      expect(held.appends).toBe(1);
      expect(held.finds).toBe(0);
      const journaled = A.store.receipts.pending().filter((l) => l.conversationId === c.conversationId);
      expect(journaled.map((l) => l.activity.text)).toEqual(['单号 SF778899，今天能到吗']);
      expect(readFileSync(A.store.receipts.path, 'utf8')).toContain('单号 SF778899，今天能到吗');
      expect((await A.store.tickets.get(number))!.messages.map((m) => m.text)).not.toContain('单号 SF778899，今天能到吗');
      // A replay meanwhile leaves it alone: its first store is still running here.
      expect(await A.app.replayReceipts(0)).toBe(0);
      storage.release();
      await sending;
      storage.restore();
      expect(held.finds).toBe(1);
      // Through the turn: settled in the journal.
      expect(A.store.receipts.pending().filter((l) => l.conversationId === c.conversationId)).toEqual([]);
      for (const text of ['好的', '麻烦快一点']) await c.send(text);
      await stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === '麻烦快一点');
      await expect.poll(async () => (await A.store.tickets.get(number))!.messages.map((m) => m.text), { timeout: 30_000 }).toEqual(['单号 SF778899，今天能到吗', '好的', '麻烦快一点']);
      // Published once each (on receipt; the turn did not publish them again), and the bot never typed.
      await new Promise((r) => setTimeout(r, 500));
      expect(shown).toEqual(['单号 SF778899，今天能到吗', '好的', '麻烦快一点']);
      expect(typing).toBe(0);
      expect(handovers.isLive(c.conversationId)).toBe(true);

      // Handed back: forgotten here, so the next line is the bot's again (answered, with a typing indicator).
      expect((await api('POST', `/api/live/${id}/hand-back`, tokens.carol)).status).toBe(204);
      expect(handovers.isLive(c.conversationId)).toBe(false);
      await c.replyTo(await c.send('帮助'));
      expect(typing).toBeGreaterThan(0);
      expect(shown).toHaveLength(3);
    } finally {
      storage?.restore();
      c.close();
      stream.close();
    }
  });

  it("shows a live line that reads like a rating (1、运费什么时候退) to the agent on receipt, before its database write and the turn's reads; it is a chat line, not a rating", async () => {
    const stream = await EventStreamClient.open(A.url, tokens.carol);
    const c = await DirectLineClient.open(A.url, 'live-rating-like', SECRET);
    let storage: ReturnType<typeof holdBackStorage> | null = null;
    try {
      const { number, handoverId: id } = await askAndTake(c, stream, A.url, tokens.carol);
      await c.waitForMessage((m) => m.text === `客服 carol 已接入，请问有什么可以帮您？`);
      // Each starts with a number from 1 to 5, as a rating does (a numbered question); the agent asked
      // nothing of the kind.
      const lines = ['1、运费什么时候退', '2. 退款幾時到賬？', '3. When does my refund arrive?'];
      for (const text of lines) expect(parseRating(text), text).not.toBeNull();
      const shown: string[] = [];
      stream.onEvent((e) => {
        if (e.type === 'live.message' && e.handoverId === id && e.from === 'customer') shown.push(e.text);
      });
      for (const text of lines) {
        // Only the receipt path can show it while the log write and the turn's read wait.
        storage = holdBackStorage(c.conversationId);
        const sending = c.send(text);
        try {
          await stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === text, 10_000);
          expect(storage.held.finds).toBe(0);
        } finally {
          storage.release();
          await sending;
          storage.restore();
        }
      }
      await expect.poll(async () => (await A.store.tickets.get(number))!.messages.map((m) => m.text), { timeout: 30_000 }).toEqual(lines);
      expect((await A.store.tickets.get(number))!.satisfaction ?? null).toBeNull();
      await new Promise((r) => setTimeout(r, 500));
      expect(shown).toEqual(lines);
      expect((await api('POST', `/api/live/${id}/end`, tokens.carol)).status).toBe(204);
    } finally {
      storage?.restore();
      c.close();
      stream.close();
    }
  });

  it('keeps a live line shown but not stored when the process stopped: the journal hands it to the channel again, once, and a re-send of it is recognised', async () => {
    const stream = await EventStreamClient.open(A.url, tokens.dave);
    const c = await DirectLineClient.open(A.url, 'live-journal', SECRET);
    try {
      const { number } = await askAndTake(c, stream, A.url, tokens.dave);
      await c.waitForMessage((m) => m.text === `客服 dave 已接入，请问有什么可以帮您？`);
      const botSaid = c.botMessages().length;
      // As a process leaves it when it stops after showing a line and before storing it: in the
      // journal, not in the conversation's log, not on the ticket.
      const text = '停电前发的：单号 SF556677，麻烦查一下';
      await A.store.receipts.record({ key: `${c.conversationId}|crash-1`, conversationId: c.conversationId, activity: { type: 'message', from: { id: c.userId }, text, channelData: { clientActivityID: 'crash-1' } }, bytes: 80, at: Date.now() });
      // Received just now, so the channel's own replay (lines older than 30 s) leaves it to this call.
      expect(await A.app.replayReceipts(0)).toBe(1);
      const onTicket = async () => (await A.store.tickets.get(number))!.messages.filter((m) => m.text === text).length;
      expect(await onTicket()).toBe(1);
      expect(A.store.receipts.has(`${c.conversationId}|crash-1`)).toBe(false);
      // The page re-sends the same activity (it never got an answer): recognised, not stored twice.
      await c.send(text, undefined, { channelData: { clientActivityID: 'crash-1' } });
      expect(await A.app.replayReceipts(0)).toBe(0);
      expect(await onTicket()).toBe(1);
      // The bot stayed silent: the line was the agent's.
      await new Promise((r) => setTimeout(r, 300));
      expect(c.botMessages().slice(botSaid).map((m) => m.text)).toEqual([]);
    } finally {
      c.close();
      stream.close();
    }
  });

  it("delivers an agent's live messages without a ticket read of their own (the reply's first write returns the ticket), and records each on the ticket", async () => {
    const stream = await EventStreamClient.open(A.url, tokens.dave);
    const c = await DirectLineClient.open(A.url, 'live-copy', SECRET);
    const tickets = A.services.tickets;
    const get = tickets.get.bind(tickets);
    try {
      const { number, handoverId: id } = await askAndTake(c, stream, A.url, tokens.dave);
      let reads = 0;
      tickets.get = async (n: string) => {
        if (n === number) reads++;
        return get(n);
      };
      for (const text of ['您好，我来帮您查', '已经查到了，明天送达']) {
        expect((await api('POST', `/api/live/${id}/messages`, tokens.dave, { text })).body).toEqual({ delivered: true, duplicate: false });
        await c.waitForMessage((m) => m.text === text);
      }
      expect(reads).toBe(0);
      expect((await A.store.tickets.get(number))!.replies.map((r) => r.text)).toEqual(['您好，我来帮您查', '已经查到了，明天送达']);
      expect((await api('POST', `/api/live/${id}/end`, tokens.dave)).status).toBe(204);
    } finally {
      tickets.get = get;
      c.close();
      stream.close();
    }
  });

  it("sends an agent's live message once when the form submits it twice with its requestId (a double click), and shows it once", async () => {
    const stream = await EventStreamClient.open(A.url, tokens.dave);
    const c = await DirectLineClient.open(A.url, 'live-double', SECRET);
    try {
      const { number, handoverId: id } = await askAndTake(c, stream, A.url, tokens.dave);
      const body = { text: '稍等，我看一下您的订单', requestId: 'live-double-0001' };
      const both = await Promise.all([api('POST', `/api/live/${id}/messages`, tokens.dave, body), api('POST', `/api/live/${id}/messages`, tokens.dave, body)]);
      expect(both.map((r) => r.status)).toEqual([201, 201]);
      expect(both.map((r) => r.body.duplicate).sort()).toEqual([false, true]);
      // The same id for another text is refused, naming the field.
      const reused = await api('POST', `/api/live/${id}/messages`, tokens.dave, { text: '另一句话', requestId: 'live-double-0001' });
      expect(reused.status).toBe(400);
      expect(JSON.stringify(reused.body)).toContain('requestId');
      // A later message arrives after every earlier one: by then the customer has the first one once.
      const marker = '已经查到了';
      expect((await api('POST', `/api/live/${id}/messages`, tokens.dave, { text: marker })).body).toEqual({ delivered: true, duplicate: false });
      await c.waitForMessage((m) => m.text === marker);
      await stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === marker);
      expect(c.botMessages().filter((m) => m.text === body.text)).toHaveLength(1);
      expect((await A.store.tickets.get(number))!.replies.map((r) => r.text)).toEqual([body.text, marker]);
      expect(stream.events.filter((e) => e.type === 'live.message' && e.handoverId === id && e.text === body.text)).toHaveLength(1);
      expect((await api('POST', `/api/live/${id}/end`, tokens.dave)).status).toBe(204);
    } finally {
      c.close();
      stream.close();
    }
  });

  it('loses nothing during handover under concurrency: every message after filing is on a ticket, counted, whether waiting, live or handed back; every line shown on receipt too, and none left in the journal', async () => {
    const CUSTOMERS = 6;
    const MESSAGES = 6;
    const agents = ['alice', 'bob'];
    const stream = await EventStreamClient.open(A.url, tokens.root);
    const shown: string[] = [];
    stream.onEvent((e) => {
      if (e.type === 'live.message' && e.from === 'customer' && e.text.includes('的第')) shown.push(e.text);
    });
    const conversations: string[] = [];
    const journal = A.store.receipts;
    const record = journal.record.bind(journal);
    let journaled = 0;
    journal.record = async (line) => {
      if (conversations.includes(line.conversationId)) journaled++;
      return record(line);
    };
    const run = async (i: number) => {
      const c = await DirectLineClient.open(A.url, `lost-${i}`, SECRET);
      conversations.push(c.conversationId);
      try {
        const queued = await c.replyTo(await c.send('转人工'), 30_000);
        const number = queued.text!.match(/T\d{8}-\d{4}/)![0];
        const entry = async () => ((await api('GET', '/api/live', tokens.root)).body.items as Json[]).find((h) => h.ticketNumber === number);
        await expect.poll(entry, { timeout: 60_000 }).toBeDefined();
        const id = (await entry())!.id as string;
        const agent = agents[i % agents.length];
        const sent: string[] = [];
        // The agent takes the conversation while message 1 is in flight and hands it back while
        // message 4 is: messages race the queue's changes (waiting → live → the bot again).
        for (let k = 0; k < MESSAGES; k++) {
          const text = `客户${i}的第${k}条补充：快递单号 SF${1000 + i}${k}`;
          const racing = k === 1 ? api('POST', `/api/live/${id}/take`, tokens[agent]) : k === 4 ? api('POST', `/api/live/${id}/hand-back`, tokens[agent]) : null;
          sent.push(text);
          await c.send(text);
          if (racing) { const r = await racing; expect(`${r.status} ${JSON.stringify(r.body)}`).toBe(k === 1 ? `200 ${JSON.stringify(r.body)}` : "204 {}"); }
        }
        // Every ticket this conversation was told about (a message may start a new demand: still a ticket).
        const numbers = new Set([number, ...c.botMessages().flatMap((m) => m.text?.match(/T\d{8}-\d{4}/g) ?? [])]);
        const onTickets: string[] = [];
        for (const n of numbers) {
          const t = await A.store.tickets.get(n);
          onTickets.push(...t!.messages.map((m) => m.text), t!.text.original);
        }
        return { sent, found: sent.filter((text) => onTickets.filter((x) => x === text).length === 1) };
      } finally {
        c.close();
      }
    };
    let results: Awaited<ReturnType<typeof run>>[];
    try {
      results = await Promise.all(Array.from({ length: CUSTOMERS }, (_, i) => run(i)));
    } finally {
      journal.record = record;
      stream.close();
    }
    const sent = results.flatMap((r) => r.sent);
    const found = results.flatMap((r) => r.found);
    expect(sent).toHaveLength(CUSTOMERS * MESSAGES);
    // Each message once on a ticket: none lost, none doubled.
    expect(found).toEqual(sent);
    // The lines of waiting and live conversations went through the receipt journal (shown before
    // their database write, unless the conversation was handed back in between: then the bot took
    // the line); each shown line is one of those on a ticket, shown once, and the journal holds
    // none of them any more (each went through its turn).
    expect(journaled).toBeGreaterThanOrEqual(CUSTOMERS * 2);
    expect(shown.filter((t) => !found.includes(t))).toEqual([]);
    expect(new Set(shown).size).toBe(shown.length);
    expect(journal.pending().filter((l) => conversations.includes(l.conversationId))).toEqual([]);
  });

  it('queues a conversation after two frustrated messages in a row, with the demand on the ticket', async () => {
    const c = await DirectLineClient.open(A.url, 'live-2', SECRET);
    try {
      const first = await c.replyTo(await c.send('快递一直不到，我要投诉！！！'));
      expect(first.text).not.toMatch(/转接人工/);
      const second = await c.replyTo(await c.send('我要投诉！！！'));
      expect(second.text).toMatch(/正在为您转接人工客服/);
      const number = second.text!.match(/T\d{8}-\d{4}/)![0];
      const ticket = await A.store.tickets.get(number);
      expect(ticket!.text.original).toBe('快递一直不到，我要投诉！！！\n我要投诉！！！');
      expect(ticket!.needsReview).toBe(true);
      const entry = (await api('GET', '/api/live', tokens.alice)).body.items.find((h: Json) => h.ticketNumber === number);
      expect(entry).toMatchObject({ reason: 'frustration', state: 'waiting' });

      // Nobody takes it within the wait (6 s here): the bot says so, the ticket keeps the demand.
      await c.send('还要等多久');
      // Swept once the wait has run out (no fixed sleep: the sweep is tried until this entry is gone).
      await vi.waitFor(
        async () => {
          await A.services.handovers.sweep();
          expect((await A.store.handovers.list()).some((h) => h.id === entry.id)).toBe(false);
        },
        { timeout: 60_000, interval: 500 },
      );
      await c.waitForMessage((m) => m.text === `抱歉，现在没有空闲的客服。您的问题已记录在工单 ${number}，工作人员会尽快在这个对话里回复您；您也可以继续和我对话。`);
      expect((await api('POST', `/api/live/${entry.id}/take`, tokens.alice)).status).toBe(404);
      expect((await A.store.tickets.get(number))!.messages.map((m) => m.text)).toEqual(['还要等多久']);
      // The bot is back, and what the customer writes next is kept on the ticket.
      expect((await c.replyTo(await c.send('你好'))).text).toContain(`已记录到工单 ${number}`);
      expect((await A.store.tickets.get(number))!.messages.map((m) => m.text)).toEqual(['还要等多久', '你好']);
    } finally {
      c.close();
    }
  });

  it('a wait that runs out after staff answered (en) or answered and resolved (zh-Hans) the ticket promises no person, unanswered (zh-Hant) it does: it says what happened, and the audit entry which notice it sent', async () => {
    const stream = await EventStreamClient.open(A.url, tokens.alice);
    const resolved = await DirectLineClient.open(A.url, 'live-answered-zh', SECRET);
    const answered = await DirectLineClient.open(A.url, 'live-answered-en', SECRET);
    const unanswered = await DirectLineClient.open(A.url, 'live-unanswered-zh-hant', SECRET);
    try {
      const zh = await askForPerson(resolved, stream);
      const enReply = (await answered.replyTo(await answered.send('talk to a person'))).text ?? '';
      const en = /T\d{8}-\d{4}/.exec(enReply)![0];
      const enId = (await A.store.handovers.list()).find((h) => h.ticketNumber === en)!.id;
      const hantReply = (await unanswered.replyTo(await unanswered.send('我要搵真人', undefined, { locale: 'zh-TW' }))).text ?? '';
      const hant = /T\d{8}-\d{4}/.exec(hantReply)![0];
      expect(hantReply).toBe(texts('zh-Hant').handoverQueued(hant));
      const hantId = (await A.store.handovers.list()).find((h) => h.ticketNumber === hant)!.id;
      // Staff answer from the ticket page (not the live console); one of the tickets is resolved too.
      for (const [n, text] of [[zh.number, '已为您办理退款，三个工作日内到账。'], [en, 'Your parcel left the depot today.']]) {
        expect((await api('POST', `/api/tickets/${n}/replies`, tokens.bob, { text })).status).toBe(201);
      }
      const t = await api('GET', `/api/tickets/${zh.number}`, tokens.bob);
      expect((await api('PATCH', `/api/tickets/${zh.number}`, tokens.bob, { status: 'resolved', version: t.body.version })).status).toBe(200);
      await resolved.waitForMessage((m) => /已处理完毕/.test(m.text ?? ''));

      // The wait (6 s here) runs out; the sweep (started by bot/main.ts, not by the test app) ends the entries.
      await vi.waitFor(
        async () => {
          await A.services.handovers.sweep();
          expect([await A.store.handovers.get(zh.handoverId), await A.store.handovers.get(enId), await A.store.handovers.get(hantId)]).toEqual([null, null, null]);
        },
        { timeout: 30_000, interval: 500 },
      );
      const zhText = `您的工单 ${zh.number} 已处理完毕，不再为您转接人工客服。如还有问题，请直接告诉我，也可以再发送「转人工」。`;
      const enText = `Our staff have already replied to you in this conversation (ticket ${en}), so you are no longer waiting for a person. If there is anything else, just write here: it is added to the ticket.`;
      for (const id of [zh.handoverId, enId, hantId]) await stream.waitFor((e) => e.type === 'handover.ended' && e.handoverId === id && e.how === 'timedOut');
      // The last thing each customer is told (on failure: what they were told instead).
      await vi.waitFor(() => expect(resolved.botMessages().at(-1)?.text).toBe(zhText), { timeout: 15_000, interval: 200 });
      await vi.waitFor(() => expect(answered.botMessages().at(-1)?.text).toBe(enText), { timeout: 15_000, interval: 200 });
      await vi.waitFor(() => expect(unanswered.botMessages().at(-1)?.text).toBe(texts('zh-Hant').handoverTimedOut(hant)), { timeout: 15_000, interval: 200 });
      for (const c of [resolved, answered]) expect(c.botMessages().filter((m) => /没有空闲|no one is free/.test(m.text ?? ''))).toEqual([]);
      // Each entry ended cleanly: out of the queue, noted on its ticket as data, and audited with the notice it sent.
      const sent = { [zh.number]: ['timedOutResolved', 'zh-Hans'], [en]: ['timedOutAnswered', 'en'], [hant]: ['timedOut', 'zh-Hant'] };
      for (const [id, n] of [[zh.handoverId, zh.number], [enId, en], [hantId, hant]]) {
        expect(await A.store.handovers.get(id)).toBeNull();
        expect((await A.store.tickets.get(n))!.notes.filter((x) => x.liveChat?.how === 'timedOut')).toHaveLength(1);
        // Found by the audit log's action filter (GET /api/audit), which refused the camel-cased action before session 10.
        const audit = await api('GET', `/api/audit?action=handover.timedOut&target=${n}`, tokens.root);
        expect(audit.status).toBe(200);
        expect(audit.body.items).toEqual([expect.objectContaining({ actor: 'bot', details: { handoverId: id, notice: sent[n][0], lang: sent[n][1], delivered: true } })]);
      }
      expect((await api('POST', `/api/live/${zh.handoverId}/take`, tokens.alice)).status).toBe(404);
      expect((await A.store.tickets.get(zh.number))!.status).toBe('resolved');
    } finally {
      resolved.close();
      answered.close();
      unanswered.close();
      stream.close();
    }
  });

  const RATE: Record<ReplyLang, { locale: string; human: string; comment: string; line: string }> = {
    'zh-Hans': { locale: 'zh-CN', human: '转人工', comment: '师傅很耐心', line: '还要等多久' },
    'zh-Hant': { locale: 'zh-TW', human: '我要搵真人', comment: '師傅好有耐性', line: '仲要等幾耐呀' },
    en: { locale: 'en-US', human: 'talk to a person please', comment: 'quick and friendly', line: 'how much longer do I have to wait' },
  };

  it.each(['zh-Hans', 'zh-Hant', 'en'] as const)('a rating sent while the conversation waits, after staff resolved its ticket, is recorded as its rating, not a chat line; the wait goes on (%s)', async (lang) => {
    const r = RATE[lang];
    const t = texts(lang);
    const stream = await EventStreamClient.open(A.url, tokens.dave);
    const c = await DirectLineClient.open(A.url, `live-rating-${lang}`, SECRET);
    try {
      const say = (text: string) => c.send(text, undefined, { locale: r.locale });
      const queued = (await c.replyTo(await say(r.human))).text ?? '';
      const number = /T\d{8}-\d{4}/.exec(queued)![0];
      expect(queued).toBe(t.handoverQueued(number));
      const id = (await A.store.handovers.list()).find((h) => h.ticketNumber === number)!.id;
      const shown: string[] = [];
      stream.onEvent((e) => {
        if (e.type === 'live.message' && e.ticketNumber === number) shown.push(e.text);
      });
      // Staff resolve the ticket from its page while the conversation waits: the bot asks for a rating.
      const before = await api('GET', `/api/tickets/${number}`, tokens.dave);
      expect((await api('PATCH', `/api/tickets/${number}`, tokens.dave, { status: 'resolved', version: before.body.version })).status).toBe(200);
      await c.waitForMessage((m) => m.text === t.resolved(number));
      expect((await c.replyTo(await say(`4 ${r.comment}`))).text).toBe(t.ratingThanks(number, 4));
      const rated = (await A.store.tickets.get(number))!;
      expect(rated.satisfaction).toMatchObject({ score: 4, comment: r.comment });
      expect(rated.messages).toEqual([]);
      // Still waiting: the next line reaches the agent and the ticket; the rating reached neither (events arrive in order).
      await say(r.line);
      await stream.waitFor((e) => e.type === 'live.message' && e.ticketNumber === number && e.text === r.line);
      expect(shown).toEqual([r.line]);
      expect(await A.store.handovers.get(id)).toMatchObject({ state: 'waiting' });
      await vi.waitFor(async () => expect((await A.store.tickets.get(number))!.messages.map((m) => m.text)).toEqual([r.line]), { timeout: 15_000, interval: 200 });
    } finally {
      c.close();
      stream.close();
    }
  });

  it('lets exactly one of four agents take a conversation when all click at once, round after round', async () => {
    const agents = ['alice', 'bob', 'carol', 'dave'];
    const winners: string[] = [];
    for (let round = 0; round < 4; round++) {
      const c = await DirectLineClient.open(A.url, `race-${round}`, SECRET);
      try {
        const queued = await c.replyTo(await c.send('人工客服'));
        const number = queued.text!.match(/T\d{8}-\d{4}/)![0];
        const id = (await A.store.handovers.list()).find((h) => h.ticketNumber === number)!.id;
        const results = await Promise.all(agents.map((u) => api('POST', `/api/live/${id}/take`, tokens[u])));
        expect(results.map((r) => r.status).sort(), `round ${round}`).toEqual([200, 409, 409, 409]);
        const winner = agents[results.findIndex((r) => r.status === 200)];
        winners.push(winner);
        expect((await A.store.handovers.get(id))!.takenBy).toBe(winner);
        // The customer is told once, about the winner only.
        await c.waitForMessage((m) => m.text === `客服 ${winner} 已接入，请问有什么可以帮您？`);
        await new Promise((r) => setTimeout(r, 300));
        expect(c.botMessages().filter((m) => /已接入/.test(m.text ?? '')).map((m) => m.text)).toEqual([`客服 ${winner} 已接入，请问有什么可以帮您？`]);
        // The last round, the agent has gone home: an admin ends it for them.
        const ender = round === 3 ? 'root' : winner;
        expect((await api('POST', `/api/live/${id}/end`, tokens[ender])).status).toBe(204);
        await c.waitForMessage((m) => m.text === `人工对话已结束，记录已保存在工单 ${number}。感谢您的耐心！如还有问题，请随时留言。`);
      } finally {
        c.close();
      }
    }
    expect(winners).toHaveLength(4);
  });

  it('serves the events as JSON without Accept: text/event-stream, after a given id', async () => {
    const all = await api('GET', '/api/events', tokens.alice);
    expect(all.status).toBe(200);
    expect(all.body.events.length).toBeGreaterThan(3);
    const mid = all.body.events[1].id;
    const after = await api('GET', `/api/events?after=${mid}`, tokens.alice);
    expect(after.body.events.map((e: Json) => e.id)).toEqual(all.body.events.slice(2).map((e: Json) => e.id).slice(0, after.body.events.length));
    expect((await fetch(`${A.url}/api/events`)).status).toBe(401);
  });
});

describe('outside service hours', () => {
  let B: RunningApp;
  const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  let other: number;
  beforeAll(async () => {
    // Open only on a weekday that is not today in the service time zone; SUPPORT_HOURS unset.
    const today = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', weekday: 'short' }).format(new Date());
    other = (DAYS.indexOf(today) + 3) % 7;
    B = await startApp(inject('mongoUri'), { DIRECT_LINE_SECRET: SECRET, SERVICE_HOURS: `${DAYS[other]} 09:00-18:00`, TIME_ZONE: 'Asia/Shanghai' });
  });
  afterAll(async () => {
    await B?.stop();
  });

  /** How a customer asks, and the answer with SERVICE_HOURS said in their language (not as configured). */
  const ASKED: Record<string, { hello: string | null; human: string; answer: (day: number) => RegExp }> = {
    'zh-Hans': { hello: null, human: '人工客服', answer: (d) => new RegExp(`^抱歉，现在不是人工服务时间（周${'一二三四五六日'[d]} 09:00–18:00）。您的问题已记录在工单 T\\d{8}-\\d{4}，工作人员上班后会在这个对话里回复您。$`) },
    'zh-Hant': { hello: '喂，有冇人喺度呀', human: '我要搵真人', answer: (d) => new RegExp(`^抱歉，現在不是人工服務時間（週${'一二三四五六日'[d]} 09:00–18:00）。您的問題已記錄在工單 T\\d{8}-\\d{4}，工作人員上班後會在這個對話裏回覆您。$`) },
    en: { hello: 'hello there', human: 'talk to a person please', answer: (d) => new RegExp(`^Sorry, our staff are not available right now \\(service hours: ${DAYS[d]} 09:00–18:00\\)\\. Your issue is recorded as ticket T\\d{8}-\\d{4}, `) },
  };

  it.each(Object.keys(ASKED))('says staff are away, with the hours in the customer\'s language, and files the demand; nothing is queued (%s)', async (lang) => {
    const a = ASKED[lang];
    const c = await DirectLineClient.open(B.url, `live-3-${lang}`, SECRET);
    try {
      if (a.hello) await c.replyTo(await c.send(a.hello));
      const r = await c.replyTo(await c.send(a.human));
      expect(r.text).toMatch(a.answer(other));
      const number = r.text!.match(/T\d{8}-\d{4}/)![0];
      expect((await B.store.tickets.get(number))!.text.original).toBe(a.human);
      expect(await B.store.handovers.list()).toEqual([]);
    } finally {
      c.close();
    }
  });
});
