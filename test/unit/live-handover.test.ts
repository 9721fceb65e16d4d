/**
 * The bot's side of a person when asked, fast: the whole bot with a fake classifier, an in-memory
 * ticket store and an in-memory live queue. Every new bot message is checked in zh-Hans, zh-Hant
 * and English. The real-database, real-HTTP versions are test/integration/handover*.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConversationState, MemoryStorage, TestAdapter, type Activity } from 'botbuilder';
import { MongoNetworkError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { DemandBot } from '../../bot/demand-bot.js';
import { lexiconAct } from '../../bot/dialogue-acts.js';
import { isFrustrated, repeatKey } from '../../bot/frustration.js';
import { LiveHandover } from '../../bot/live-handover.js';
import { texts, type ReplyLang } from '../../bot/messages.js';
import type { Classification } from '../../classifier/demand-classifier.js';
import { parseTaxonomy } from '../../classifier/taxonomy.js';
import { waitEndOf, type HandoverRequest } from '../../desk/handover.js';
import { parseServiceHours } from '../../desk/service-hours.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import type { Handover } from '../../store/handover-repository.js';
import type { Ticket, TicketCreate } from '../../store/index.js';
import { proactive } from '../helpers/proactive-turn.js';

const taxonomy = parseTaxonomy(JSON.parse(readFileSync(join(PROJECT_ROOT, 'data/taxonomy.json'), 'utf8')));

/** Asks for a person in words the lexicon does not know: only the (fake) model reads them as `human`. */
const MODEL_HUMAN: Record<'zh-Hans' | 'zh-Hant' | 'en', string> = { 'zh-Hans': '可以找个真人聊聊吗', 'zh-Hant': '可以搵個真人傾下嗎', en: 'could I speak with someone from your team' };

function classify(text: unknown): Classification {
  const s = String(text);
  const lang = /[a-z]{3}/i.test(s) ? 'en' : /[們這還沒點喺冇個傾]/.test(s) ? 'zh-Hant' : 'zh-Hans';
  const act = Object.values(MODEL_HUMAN).includes(s) ? 'human' : 'demand';
  return {
    normalized: s, lang, topic: 'delivery', type: 'complaint', spam: false, suspectedSpam: false, act, actConfidence: 0.9, spamScore: 0.01,
    confidence: 0.95, typeConfidence: 0.9, alternatives: [{ topic: 'delivery', score: 0.95 }, { topic: 'returns', score: 0.03 }], keywords: [],
    needsReview: false, reason: null, modelVersion: 'fake-1',
  } as Classification;
}

class FakeStore {
  readonly created: TicketCreate[] = [];
  readonly tickets = new Map<string, Ticket>();
  /** The database was unreachable at filing: tickets wait in the outbox. */
  outboxed = false;
  /** A lookup replays the outbox, storing what waits under a new number (another ticket took its own). */
  replays = false;
  readonly waiting = new Map<string, Ticket>();
  /** Open tickets flagged because a request for a person on them could not be queued. */
  readonly flagged: string[] = [];
  async flagAskedForPerson(number: string) {
    this.flagged.push(number);
  }
  async file(input: TicketCreate) {
    const number = `T20261206-${String(this.created.length + 1).padStart(4, '0')}`;
    this.created.push(input);
    const ticket = { ...input.classification, number, text: input.text, customer: input.customer, status: 'new', messages: [], replies: [] } as unknown as Ticket;
    (this.outboxed ? this.waiting : this.tickets).set(number, ticket);
    return { ticket, stored: this.outboxed ? ('outbox' as const) : ('database' as const) };
  }
  async get(number: string) {
    return this.tickets.get(number) ?? null;
  }
  async forCustomer(number: string, customer: { channelId: string; userId: string }) {
    const t = this.tickets.get(number);
    return t && t.customer.channelId === customer.channelId && t.customer.userId === customer.userId ? t : null;
  }
  async filedFor(number: string, customer: { channelId: string; userId: string }) {
    if (this.replays) {
      for (const [n, t] of this.waiting) this.tickets.set(`${n.slice(0, -1)}9`, { ...t, number: `${n.slice(0, -1)}9`, formerNumber: n } as Ticket);
      this.waiting.clear();
    }
    return (await this.forCustomer(number, customer)) ?? [...this.tickets.values()].find((t) => t.formerNumber === number && t.customer.userId === customer.userId) ?? null;
  }
  async latestOpenFor(channelId: string, userId: string) {
    return [...this.tickets.values()].reverse().find((t) => t.customer.userId === userId && t.customer.channelId === channelId) ?? null;
  }
  async list(q: { customerUserId: string }) {
    return { items: [...this.tickets.values()].reverse().filter((t) => t.customer.userId === q.customerUserId) };
  }
  async addCustomerMessage(number: string, text: string) {
    const t = this.tickets.get(number)!;
    t.messages.push({ text, at: new Date() });
    return t;
  }
  async rate(number: string, rating: { score: number; comment?: string }) {
    const t = this.tickets.get(number)!;
    t.satisfaction = { score: rating.score, comment: rating.comment ?? null, at: new Date() };
    return t;
  }
}

class FakeQueue {
  readonly entries = new Map<string, Handover>();
  readonly said: string[] = [];
  open = true;
  /** The ticket waits in the outbox (the desk's request then queues nobody). */
  outboxed = false;
  /** The database goes away after the ticket took the request, before the entry is written. */
  unreachable = false;
  async find(id: string) {
    return this.entries.get(id) ?? null;
  }
  async request(r: HandoverRequest): Promise<Handover | null> {
    if (this.unreachable) throw new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed');
    if (this.outboxed) return null;
    const h = { ...r, id: `h${this.entries.size + 1}`, state: 'waiting', requestedAt: new Date(), waitUntil: new Date(), takenBy: null, takenAt: null, customerMessages: 0, lastMessageAt: null } as Handover;
    this.entries.set(h.id, h);
    return h;
  }
  async customerSaid(h: Handover, text: string) {
    this.said.push(text);
  }
  forwardEarly() {
    return null;
  }
  forgetConversation() {}
  staffed() {
    return this.open;
  }
  serviceHours() {
    return this.open ? null : WEEKDAYS;
  }
}

function setup() {
  const store = new FakeStore();
  const queue = new FakeQueue();
  const classifier = { version: 'fake-1', classify };
  const bot = new DemandBot({
    classifier,
    tickets: store,
    lookup: store,
    taxonomy,
    conversationState: new ConversationState(new MemoryStorage()),
    maxMessageLength: 500,
    rateLimit: 100,
    rateWindowMs: 10_000,
    live: (state) => new LiveHandover(state, { handovers: queue, tickets: store, lookup: store, classifier }),
  });
  const adapter = new TestAdapter(async (context) => bot.run(context), {
    channelId: 'test',
    serviceUrl: 'http://127.0.0.1:1/',
    from: { id: 'customer-1', name: 'Customer' },
    recipient: { id: 'bot', name: 'Bot' },
    conversation: { id: 'conv-1', isGroup: false, conversationType: 'personal', name: '' },
  });
  return { store, queue, adapter, bot };
}

async function replies(adapter: TestAdapter, ...messages: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of messages) await adapter.send(m).assertReply((a: Partial<Activity>) => void out.push(a.text ?? ''));
  return out;
}

/** Sends a message the bot must not answer. */
async function silent(adapter: TestAdapter, message: string): Promise<void> {
  await adapter.send(message);
  expect(adapter.activeQueue.map((a) => a.text)).toEqual([]);
}

const LANGS: readonly ReplyLang[] = ['zh-Hans', 'zh-Hant', 'en'];
const RATING_COMMENT: Record<ReplyLang, string> = { 'zh-Hans': '师傅很耐心', 'zh-Hant': '師傅好有耐性', en: 'quick and friendly' };
/** SERVICE_HOURS of the fake queue when closed, and how a customer reads them in each language. */
const WEEKDAYS = parseServiceHours('Mon-Fri 09:00-18:00');
const WEEKDAYS_SAID: Record<ReplyLang, string> = { 'zh-Hans': '周一至周五 09:00–18:00', 'zh-Hant': '週一至週五 09:00–18:00', en: 'Mon–Fri 09:00–18:00' };

const ASK: Record<ReplyLang, { hello: string; human: string; angry: [string, string]; live: string; help: string }> = {
  'zh-Hans': { hello: '你好', human: '转人工', angry: ['快递一直不到，气死了！！', '到底有没有人管！！！'], live: '单号是 SF123', help: '帮助' },
  'zh-Hant': { hello: '喂，有冇人喺度呀', human: '我要搵真人', angry: ['你們還沒寄出嗎！！', '點解冇人理我！！！'], live: '單號係 SF123', help: '幫助' },
  en: { hello: 'hello there', human: 'talk to a person please', angry: ['My parcel is STILL NOT HERE!!', 'THIS IS RIDICULOUS, NOBODY ANSWERS'], live: 'tracking is SF123', help: 'help' },
};

describe('a person when asked (bot side)', () => {
  it.each(LANGS)('queues on request, stays silent while live, keeps every message, and answers again when the entry is gone (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    const t = texts(lang);
    await replies(adapter, a.hello);
    const [queued] = await replies(adapter, a.human);
    expect(queued).toBe(t.handoverQueued('T20261206-0001'));
    expect(store.created[0]).toMatchObject({ text: { original: a.human }, classification: { needsReview: true, reviewReason: 'customer-asked-for-person' } });
    expect([...queue.entries.values()][0]).toMatchObject({ reason: 'asked', lang, ticketNumber: 'T20261206-0001', conversationId: 'conv-1' });
    await silent(adapter, a.live);
    // Even "help" goes to the agent: the bot says nothing while a person has the conversation.
    await silent(adapter, a.help);
    expect(queue.said).toEqual([a.live, a.help]);
    queue.entries.clear();
    expect(await replies(adapter, a.hello)).toEqual([t.greetBack]);
  });

  it.each(LANGS)('queues after two frustrated messages in a row, filing both (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    const [first] = await replies(adapter, a.angry[0]);
    expect(first).not.toBe(texts(lang).handoverQueued('T20261206-0001'));
    const [second] = await replies(adapter, a.angry[1]);
    expect(second).toBe(texts(lang).handoverQueued('T20261206-0001'));
    // The intake dialog was confirming the first message: both are on the ticket.
    expect(store.created[0].text.original).toBe(`${a.angry[0]}\n${a.angry[1]}`);
    expect([...queue.entries.values()][0].reason).toBe('frustration');
  });

  it.each(LANGS)('outside service hours says so, with the hours, and files the demand without queueing (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    queue.open = false;
    const [r] = await replies(adapter, a.human);
    expect(r).toBe(texts(lang).handoverClosed('T20261206-0001', WEEKDAYS));
    // SERVICE_HOURS said in the customer's language, not as the configuration writes them.
    expect(r).toContain(WEEKDAYS_SAID[lang]);
    expect(r).not.toContain('Mon-Fri');
    expect(store.created).toHaveLength(1);
    expect(queue.entries.size).toBe(0);
  });

  it.each(LANGS)('while the ticket waits in the outbox, queues nobody and says so, with the reference (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    store.outboxed = true;
    queue.outboxed = true;
    await replies(adapter, a.hello);
    expect(await replies(adapter, a.human)).toEqual([texts(lang).handoverOffline('T20261206-0001')]);
    expect(store.created[0]).toMatchObject({ text: { original: a.human }, classification: { needsReview: true, reviewReason: 'customer-asked-for-person' } });
    expect(queue.entries.size).toBe(0);
    // Not live: the bot answers the next message.
    expect(await replies(adapter, a.help)).toEqual([texts(lang).help]);
    expect(queue.said).toEqual([]);
  });

  it.each(LANGS)('outside service hours with the ticket still in the outbox, says it is received, not a ticket yet (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    queue.open = false;
    store.outboxed = true;
    await replies(adapter, a.hello);
    expect(await replies(adapter, a.human)).toEqual([texts(lang).handoverOffline('T20261206-0001')]);
    expect(queue.entries.size).toBe(0);
    // The database back before the answer: replayed, and named by the number it is stored under.
    const back = setup();
    back.queue.open = false;
    back.store.outboxed = true;
    back.store.replays = true;
    expect(await replies(back.adapter, a.human)).toEqual([texts(lang).handoverClosed('T20261206-0009', WEEKDAYS)]);
  });

  it.each(LANGS)('the database gone after the ticket took the request, before the queue entry: tells the customer it is on the ticket, not the apology (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store } = setup();
    await replies(adapter, a.hello);
    queue.unreachable = true;
    const [r] = await replies(adapter, a.human);
    expect(r).toBe(texts(lang).handoverUnqueued('T20261206-0001'));
    expect(r).not.toBe(texts(lang).error);
    expect(r).toContain('T20261206-0001');
    // Staff find the request on a ticket flagged for them; nobody is queued, the bot answers on.
    expect(store.created[0]).toMatchObject({ text: { original: a.human }, classification: { needsReview: true, reviewReason: 'customer-asked-for-person' } });
    expect(queue.entries.size).toBe(0);
    expect(await replies(adapter, a.help)).toEqual([texts(lang).help]);
  });

  it.each(LANGS)('a rating sent while the conversation waits, after staff resolved its ticket, is recorded as a rating (not a live line); the wait goes on (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store, bot } = setup();
    const t = texts(lang);
    expect(await replies(adapter, a.human)).toEqual([t.handoverQueued('T20261206-0001')]);
    const ticket = store.tickets.get('T20261206-0001')!;
    // Staff resolve the ticket from its page while the conversation waits: the bot asks for a rating.
    expect((await proactive(bot, adapter, ticket, { kind: 'resolved' })).text).toBe(t.resolved('T20261206-0001'));
    const comment = RATING_COMMENT[lang];
    expect(await replies(adapter, `4 ${comment}`)).toEqual([t.ratingThanks('T20261206-0001', 4)]);
    expect(ticket.satisfaction).toMatchObject({ score: 4, comment });
    expect(ticket.messages).toEqual([]);
    expect(queue.said).toEqual([]);
    // Still waiting: what is not a rating goes to the queue, and the bot stays silent.
    await silent(adapter, a.live);
    expect(queue.said).toEqual([a.live]);
  });

  it.each(LANGS)('once an agent has the conversation, a number sent after the resolution is theirs, not a rating (%s)', async (lang) => {
    const a = ASK[lang];
    const { adapter, queue, store, bot } = setup();
    await replies(adapter, a.human);
    const ticket = store.tickets.get('T20261206-0001')!;
    await proactive(bot, adapter, ticket, { kind: 'resolved' });
    queue.entries.get('h1')!.state = 'live';
    await silent(adapter, '5');
    expect(queue.said).toEqual(['5']);
    expect(ticket.satisfaction).toBeUndefined();
  });

  it('the database gone before the queue entry: the request on the open ticket, or on a ticket replayed from the outbox, is named by its stored number', async () => {
    const { adapter, queue, store } = setup();
    await replies(adapter, '我的快递三天没到', '对', '跳过');
    queue.unreachable = true;
    expect(await replies(adapter, '转人工')).toEqual([texts('zh-Hans').handoverUnqueued('T20261206-0001')]);
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['转人工']);
    // The open ticket is flagged for staff, as a ticket filed for the request is.
    expect(store.flagged).toEqual(['T20261206-0001']);
    // Filed into the outbox, stored (under another number) by the replay before the entry failed.
    const back = setup();
    back.store.outboxed = true;
    back.store.replays = true;
    back.queue.unreachable = true;
    expect(await replies(back.adapter, '转人工')).toEqual([texts('zh-Hans').handoverUnqueued('T20261206-0009')]);
    // Still waiting there (the lookup finds nothing stored): its reference, not a ticket.
    const away = setup();
    away.store.outboxed = true;
    away.queue.unreachable = true;
    expect(await replies(away.adapter, '转人工')).toEqual([texts('zh-Hans').handoverOffline('T20261206-0001')]);
    // Those were filed for the request (flagged at filing): no open ticket to flag.
    expect([...back.store.flagged, ...away.store.flagged]).toEqual([]);
  });

  it('puts the request on the open ticket when there is one, and files the pending demand when asked mid-dialog', async () => {
    const { adapter, store } = setup();
    await replies(adapter, '我的快递三天没到', '对', '跳过');
    expect(await replies(adapter, '转人工')).toEqual([texts('zh-Hans').handoverQueued('T20261206-0001')]);
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['转人工']);
    // Queued: the entry is staff's signal, the ticket is not flagged.
    expect(store.flagged).toEqual([]);

    const other = setup();
    await replies(other.adapter, '洗衣机漏水了');
    expect(await replies(other.adapter, '人工客服')).toEqual([texts('zh-Hans').handoverQueued('T20261206-0001')]);
    expect(other.store.created[0].text.original).toBe('洗衣机漏水了\n人工客服');
  });
});

describe('a person asked for only through the model, inside the intake dialog', () => {
  const DEMAND: Record<ReplyLang, string> = { 'zh-Hans': '我的快递三天没到', 'zh-Hant': '我們的包裹還沒到', en: 'my parcel has not arrived for three days' };
  it.each(LANGS)('joins the live queue with the pending demand on a ticket, not the old "a person will answer" reply (%s)', async (lang) => {
    expect(lexiconAct(MODEL_HUMAN[lang])).toBeNull(); // only the model reads it: the lexicon path is not what this tests
    const { adapter, queue, store } = setup();
    const t = texts(lang);
    const [confirm] = await replies(adapter, DEMAND[lang]);
    expect(confirm).not.toBe(t.handoverQueued('T20261206-0001'));
    const [queued] = await replies(adapter, MODEL_HUMAN[lang]);
    expect(queued).toBe(t.handoverQueued('T20261206-0001'));
    expect(queued).not.toBe(t.humanFiled('T20261206-0001', null));
    expect(store.created).toHaveLength(1);
    expect(store.created[0].text.original).toBe(`${DEMAND[lang]}\n${MODEL_HUMAN[lang]}`);
    expect([...queue.entries.values()][0]).toMatchObject({ reason: 'asked', lang, ticketNumber: 'T20261206-0001' });
    // Live from here: the bot is silent, the line goes to the agent.
    await silent(adapter, DEMAND[lang]);
    expect(queue.said).toEqual([DEMAND[lang]]);
  });

  it('leaves the dialog its answers: a yes or a phone number is not read as asking for a person', async () => {
    const { adapter, queue, store } = setup();
    const out = await replies(adapter, '我的快递三天没到', '对', '13800138000');
    expect(out.at(-1)).toBe(texts('zh-Hans').created('T20261206-0001'));
    expect(queue.entries.size).toBe(0);
    expect(store.created).toHaveLength(1);
  });
});

describe('bot messages of the live queue, in each language', () => {
  it('says the same things in zh-Hans, zh-Hant and English, with numbers, names and hours kept as given', () => {
    const n = 'T20261206-0042';
    expect(texts('zh-Hans').handoverQueued(n)).toBe(`好的，正在为您转接人工客服，请稍候。您的问题已记录在工单 ${n}，等待期间您发的消息都会转给客服。`);
    expect(texts('zh-Hant').handoverQueued(n)).toBe(`好的，正在為您轉接人工客服，請稍候。您的問題已記錄在工單 ${n}，等待期間您發的消息都會轉給客服。`);
    expect(texts('en').handoverQueued(n)).toMatch(new RegExp(`^OK, I am connecting you to a person; .*ticket ${n},`));
    expect(texts('zh-Hant').handoverClosed(n, '周一至周五 9:00-18:00')).toBe(`抱歉，現在不是人工服務時間（周一至周五 9:00-18:00）。您的問題已記錄在工單 ${n}，工作人員上班後會在這個對話裏回覆您。`);
    expect(texts('zh-Hans').handoverClosed(n, null)).toBe(`抱歉，现在不是人工服务时间。您的问题已记录在工单 ${n}，工作人员上班后会在这个对话里回复您。`);
    expect(texts('en').handoverClosed(n, 'Mon-Fri 09:00-18:00')).toContain('(service hours: Mon-Fri 09:00-18:00)');
    // A SERVICE_HOURS schedule is said in each language (days with the same times together).
    const split = parseServiceHours('Mon-Fri 09:00-12:00,13:30-18:00; Sat 10:00-16:00');
    expect(texts('zh-Hans').handoverClosed(n, split)).toBe(`抱歉，现在不是人工服务时间（周一至周五 09:00–12:00、13:30–18:00；周六 10:00–16:00）。您的问题已记录在工单 ${n}，工作人员上班后会在这个对话里回复您。`);
    expect(texts('zh-Hant').handoverClosed(n, split)).toBe(`抱歉，現在不是人工服務時間（週一至週五 09:00–12:00、13:30–18:00；週六 10:00–16:00）。您的問題已記錄在工單 ${n}，工作人員上班後會在這個對話裏回覆您。`);
    expect(texts('en').handoverClosed(n, split)).toBe(`Sorry, our staff are not available right now (service hours: Mon–Fri 09:00–12:00, 13:30–18:00; Sat 10:00–16:00). Your issue is recorded as ticket ${n}, and a person will reply to you in this conversation when they are back.`);
    expect(texts('zh-Hant').handoverTimedOut(n)).toBe(`抱歉，現在沒有空閒的客服。您的問題已記錄在工單 ${n}，工作人員會盡快在這個對話裏回覆您；您也可以繼續和我對話。`);
    expect(texts('en').handoverTimedOut(n)).toContain(`ticket ${n}`);
    // A wait that ran out after staff answered or resolved the ticket: no person is promised.
    expect(texts('zh-Hans').handoverTimedOutAnswered(n)).toBe(`工作人员已在这个对话里回复了您（工单 ${n}），不再为您转接人工客服。如还有问题，请直接在这里留言，会记录到工单。`);
    expect(texts('zh-Hant').handoverTimedOutAnswered(n)).toBe(`工作人員已在這個對話裏回覆了您（工單 ${n}），不再為您轉接人工客服。如還有問題，請直接在這裏留言，會記錄到工單。`);
    expect(texts('en').handoverTimedOutAnswered(n)).toBe(`Our staff have already replied to you in this conversation (ticket ${n}), so you are no longer waiting for a person. If there is anything else, just write here: it is added to the ticket.`);
    expect(texts('zh-Hans').handoverTimedOutResolved(n)).toBe(`您的工单 ${n} 已处理完毕，不再为您转接人工客服。如还有问题，请直接告诉我，也可以再发送「转人工」。`);
    expect(texts('zh-Hant').handoverTimedOutResolved(n)).toBe(`您的工單 ${n} 已處理完畢，不再為您轉接人工客服。如還有問題，請直接告訴我，也可以再發送「轉人工」。`);
    expect(texts('en').handoverTimedOutResolved(n)).toBe(`Your ticket ${n} has been resolved, so you are no longer waiting for a person. If there is anything else, just tell me, or ask for a person again.`);
    // An agent's name is never converted (发 would become 發).
    expect(texts('zh-Hant').handoverTaken('王发')).toBe('客服 王发 已接入，請問有什麼可以幫您？');
    expect(texts('zh-Hans').handoverTaken('alice')).toBe('客服 alice 已接入，请问有什么可以帮您？');
    expect(texts('en').handoverTaken('alice')).toBe('alice from our team has joined the conversation. How can I help you?');
    expect(texts('zh-Hant').handoverBack).toBe('客服已將對話交回智能助手。如還有其他問題，請直接告訴我。');
    expect(texts('en').handoverBack).toMatch(/handed the conversation back/);
    expect(texts('zh-Hant').handoverEnded(n)).toBe(`人工對話已結束，記錄已保存在工單 ${n}。感謝您的耐心！如還有問題，請隨時留言。`);
    expect(texts('en').handoverEnded(n)).toContain(`ticket ${n}`);
    const o = 'T20261206-0043';
    expect(texts('zh-Hans').handoverOffline(o)).toBe(`已收到您的请求，编号 ${o}。系统正在恢复，暂时无法为您接通人工客服；恢复后您的问题会自动登记为工单，工作人员会在这个对话里回复您。您也可以稍后再发送「转人工」。`);
    expect(texts('zh-Hant').handoverOffline(o)).toBe(`已收到您的請求，編號 ${o}。系統正在恢復，暫時無法為您接通人工客服；恢復後您的問題會自動登記為工單，工作人員會在這個對話裏回覆您。您也可以稍後再發送「轉人工」。`);
    expect(texts('en').handoverOffline(o)).toBe(`We have received your request, reference ${o}. Our system is recovering, so we cannot connect you to a person right now; your issue will be filed as a ticket as soon as it is back, and a person will reply to you in this conversation. You can also ask for a person again in a little while.`);
  });
});

describe('where a ticket stands when its wait for a person runs out', () => {
  const asked = new Date('2026-12-07T05:00:00Z');
  const reply = (at: string, delivered: boolean) => ({ at: new Date(at), delivered }) as Ticket['replies'][number];
  it('is answered only by a delivered reply since the request, resolved when resolved or closed, else unanswered', () => {
    expect(waitEndOf(null, asked)).toBe('unanswered');
    expect(waitEndOf({ status: 'new', replies: [] }, asked)).toBe('unanswered');
    // A reply from before the request, or one that did not reach the customer, answered nothing they asked now.
    expect(waitEndOf({ status: 'in_progress', replies: [reply('2026-12-07T04:59:00Z', true), reply('2026-12-07T05:01:00Z', false)] }, asked)).toBe('unanswered');
    expect(waitEndOf({ status: 'in_progress', replies: [reply('2026-12-07T05:01:00Z', true)] }, asked)).toBe('answered');
    expect(waitEndOf({ status: 'reopened', replies: [reply('2026-12-07T05:01:00Z', true)] }, asked)).toBe('answered');
    expect(waitEndOf({ status: 'resolved', replies: [] }, asked)).toBe('resolved');
    expect(waitEndOf({ status: 'closed', replies: [reply('2026-12-07T05:01:00Z', true)] }, asked)).toBe('resolved');
  });
});

describe('frustration', () => {
  it.each([
    ['我要投诉！！！', true],
    ['快递到底什么时候到？！', true],
    ['垃圾服务', true],
    ['點解冇人理我', true],
    ['THIS IS NOT OK AT ALL', true],
    ['this is ridiculous', true],
    ['😡', true],
    ['我的快递三天没到', false],
    ['好的，谢谢！', false],
    ['My parcel is late, please check', false],
    ['OK', false],
  ])('%s → %s', (text, expected) => {
    expect(isFrustrated(text)).toBe(expected);
  });

  it('counts a message repeated word for word, but not a short answer repeated', () => {
    expect(isFrustrated('我的快递怎么还没到', repeatKey('我的快递怎么还没到'))).toBe(true);
    expect(isFrustrated('我的快遞怎麼還沒到', repeatKey('我的快递怎么还没到'))).toBe(true);
    expect(isFrustrated('好的', repeatKey('好的'))).toBe(false);
    expect(repeatKey('对')).toBeNull();
  });
});
