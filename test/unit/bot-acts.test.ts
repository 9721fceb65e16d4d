import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConversationState, MemoryStorage, TestAdapter, type Activity } from 'botbuilder';
import { describe, expect, it } from 'vitest';
import { lexiconAct, readAct } from '../../bot/dialogue-acts.js';
import { DemandBot, parseRating } from '../../bot/demand-bot.js';
import { texts, type HoursToTell, type ReplyLang } from '../../bot/messages.js';
import type { Classification } from '../../classifier/demand-classifier.js';
import { parseTaxonomy } from '../../classifier/taxonomy.js';
import { parseServiceHours } from '../../desk/service-hours.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import type { Ticket, TicketCreate } from '../../store/index.js';
import { proactive } from '../helpers/proactive-turn.js';

/**
 * Fast conversation tests: the whole bot (router + intake dialog) with a fake classifier that
 * returns what each case needs, and an in-memory ticket store. The real-model versions of the
 * important cases are in test/integration/bot-dialogs.test.ts.
 */
const taxonomy = parseTaxonomy(JSON.parse(readFileSync(join(PROJECT_ROOT, 'data/taxonomy.json'), 'utf8')));

function classification(over: Partial<Classification>): Classification {
  return {
    normalized: '',
    lang: 'zh-Hans',
    topic: 'delivery',
    type: 'complaint',
    spam: false,
    suspectedSpam: false,
    act: 'demand',
    actConfidence: 0,
    spamScore: 0.01,
    confidence: 0.95,
    typeConfidence: 0.9,
    alternatives: [
      { topic: 'delivery', score: 0.95 },
      { topic: 'returns', score: 0.03 },
      { topic: 'quality', score: 0.02 },
    ],
    keywords: [],
    needsReview: false,
    reason: null,
    modelVersion: 'fake-1',
    ...over,
  };
}

/** Answers from a table; anything else is a confident delivery complaint with act "demand". */
class FakeClassifier {
  readonly version = 'fake-1';
  constructor(private readonly table: Record<string, Partial<Classification>>) {}
  classify(text: unknown): Classification {
    return classification({ act: 'demand', actConfidence: 0.9, ...(this.table[String(text)] ?? {}) });
  }
}

class FakeStore {
  readonly created: TicketCreate[] = [];
  readonly tickets = new Map<string, Ticket>();
  async file(input: TicketCreate) {
    const number = `T20261206-${String(this.created.length + 1).padStart(4, '0')}`;
    this.created.push(input);
    const ticket = { ...input.classification, number, customer: input.customer, status: 'new', messages: [], replies: [] } as unknown as Ticket;
    this.tickets.set(number, ticket);
    return { ticket, stored: 'database' as const };
  }
  async get(number: string) {
    return this.tickets.get(number) ?? null;
  }
  /** As the desk: the customer's ticket by that number, or theirs stored under a new number at outbox replay. */
  async forCustomer(number: string, customer: { channelId: string; userId: string }) {
    const own = (t: Ticket | undefined) => t !== undefined && t.customer.channelId === customer.channelId && t.customer.userId === customer.userId;
    const t = this.tickets.get(number);
    if (own(t)) return t!;
    return [...this.tickets.values()].find((x) => own(x) && x.formerNumber === number) ?? null;
  }
  /** What an outbox replay leaves when another intake took `number`: the ticket under `next`, the number another customer's. */
  renumber(number: string, next: string, other: { channelId: string; userId: string }) {
    const t = this.tickets.get(number)!;
    Object.assign(t, { number: next, formerNumber: number });
    this.tickets.set(next, t);
    this.tickets.set(number, { ...t, number, formerNumber: undefined, customer: other, messages: [], satisfaction: null } as unknown as Ticket);
  }
  async latestOpenFor(channelId: string, userId: string) {
    return [...this.tickets.values()].reverse().find((t) => t.customer.userId === userId && t.customer.channelId === channelId && !t.spam) ?? null;
  }
  async list(q: { customerUserId: string }) {
    return { items: [...this.tickets.values()].reverse().filter((t) => t.customer.userId === q.customerUserId) };
  }
  async addCustomerMessage(number: string, text: string, opts: { customer?: { channelId: string; userId: string } } = {}) {
    const t = opts.customer ? (await this.forCustomer(number, opts.customer))! : this.tickets.get(number)!;
    t.messages.push({ text, at: new Date() });
    return t;
  }
  async rate(number: string, rating: { score: number; comment?: string }, customer?: { channelId: string; userId: string }) {
    const t = customer ? (await this.forCustomer(number, customer))! : this.tickets.get(number)!;
    t.satisfaction = { score: rating.score, comment: rating.comment ?? null, at: new Date() };
    return t;
  }
}

function setup(table: Record<string, Partial<Classification>> = {}, supportHours: HoursToTell | null = null) {
  const store = new FakeStore();
  const bot = new DemandBot({
    classifier: new FakeClassifier(table),
    tickets: store,
    lookup: store,
    taxonomy,
    conversationState: new ConversationState(new MemoryStorage()),
    maxMessageLength: 500,
    rateLimit: 100,
    rateWindowMs: 10_000,
    supportHours,
  });
  const adapter = new TestAdapter(async (context) => bot.run(context), {
    channelId: 'test',
    serviceUrl: 'http://127.0.0.1:1/',
    from: { id: 'customer-1', name: 'Customer' },
    recipient: { id: 'bot', name: 'Bot' },
    conversation: { id: 'conv-1', isGroup: false, conversationType: 'personal', name: '' },
  });
  return { store, adapter, bot };
}

/** Sends each message and returns the bot's replies to it (one per message in these cases). */
async function replies(adapter: TestAdapter, ...messages: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const m of messages) await adapter.send(m).assertReply((a: Partial<Activity>) => void out.push(a.text ?? ''));
  return out;
}

const LANGS: readonly ReplyLang[] = ['zh-Hans', 'zh-Hant', 'en'];
/** One greeting, thanks, goodbye and request for a person per language (the first sets the language). */
const SAID: Record<ReplyLang, { greeting: string; thanks: string; goodbye: string; human: string }> = {
  'zh-Hans': { greeting: '你好，在吗', thanks: '好的谢谢', goodbye: '拜拜', human: '转人工' },
  'zh-Hant': { greeting: '喂，有冇人喺度呀', thanks: '唔該晒', goodbye: '再見', human: '我要搵真人' },
  en: { greeting: 'hi there', thanks: 'thanks a lot', goodbye: 'bye!', human: 'talk to a human please' },
};

describe('dialogue acts with a model act head', () => {
  it.each(LANGS)('greets, thanks, says goodbye and explains how to reach a person without filing anything (%s)', async (lang) => {
    const s = SAID[lang];
    const { adapter, store } = setup({
      [s.greeting]: { act: 'greeting', actConfidence: 0.97 },
      [s.thanks]: { act: 'thanks', actConfidence: 0.95 },
      [s.goodbye]: { act: 'goodbye', actConfidence: 0.9 },
      [s.human]: { act: 'human', actConfidence: 0.99 },
    });
    const t = texts(lang);
    expect(await replies(adapter, s.greeting, s.thanks, s.goodbye, s.human)).toEqual([t.greetBack, t.thanksBack, t.goodbye, t.human(null, null)]);
    expect(store.created).toHaveLength(0);
  });

  it('names the open ticket and the service hours to a customer asking for a person', async () => {
    const { adapter, store } = setup({ 转人工: { act: 'human', actConfidence: 0.99 } }, '周一至周五 9:00-18:00');
    await replies(adapter, '我的快递三天没到');
    await replies(adapter, '对');
    const [created] = await replies(adapter, '跳过');
    const number = /T\d{8}-\d{4}/.exec(created)![0];
    const [answer] = await replies(adapter, '转人工');
    expect(answer).toBe(texts('zh-Hans').human(number, '周一至周五 9:00-18:00'));
    expect(answer).toContain('人工服务时间：周一至周五 9:00-18:00');
    expect(store.created).toHaveLength(1);
  });

  // SUPPORT_HOURS unset: the app passes the parsed SERVICE_HOURS, which each customer reads in their language.
  const SERVICE = parseServiceHours('Mon-Fri 09:00-18:00; Sat 10:00-16:00');
  const SERVICE_SAID: Record<ReplyLang, string> = {
    'zh-Hans': '周一至周五 09:00–18:00；周六 10:00–16:00',
    'zh-Hant': '週一至週五 09:00–18:00；週六 10:00–16:00',
    en: 'Mon–Fri 09:00–18:00; Sat 10:00–16:00',
  };
  /** A demand and, at its confirmation, a request for a person, per language. */
  const FILED: Record<ReplyLang, { demand: string; person: string; filed: RegExp }> = {
    'zh-Hans': { demand: '我的快递三天没到', person: '我要找人工', filed: /^好的，已将您的问题登记为工单 T20261206-0001/ },
    'zh-Hant': { demand: '我嘅包裹三日都未到', person: '我要搵真人', filed: /^好的，已將您的問題登記為工單 T20261206-0001/ },
    en: { demand: 'My parcel is three days late and tracking has not moved', person: 'agent please', filed: /^OK, I have logged your issue as ticket T20261206-0001/ },
  };

  it.each(LANGS)('says the service hours in the language of a customer asking for a person when SUPPORT_HOURS is unset (%s)', async (lang) => {
    const s = SAID[lang];
    const { adapter } = setup({ [s.greeting]: { act: 'greeting', actConfidence: 0.99 }, [s.human]: { act: 'human', actConfidence: 0.99 } }, SERVICE);
    const [, answer] = await replies(adapter, s.greeting, s.human);
    expect(answer).toBe(texts(lang).human(null, SERVICE));
    expect(answer.endsWith(lang === 'en' ? ` Staff are available ${SERVICE_SAID.en}.` : `：${SERVICE_SAID[lang]}。`)).toBe(true);
    expect(answer).not.toContain('Mon-Fri');
  });

  it.each(LANGS)('says the service hours in the language of a customer asking for a person at the confirmation (%s)', async (lang) => {
    const f = FILED[lang];
    const { adapter, store } = setup({ [f.person]: { act: 'human', actConfidence: 0.98 } }, SERVICE);
    const [, filed] = await replies(adapter, f.demand, f.person);
    expect(filed).toMatch(f.filed);
    expect(filed).toBe(texts(lang).humanFiled('T20261206-0001', SERVICE));
    expect(filed).toContain(SERVICE_SAID[lang]);
    expect(filed).not.toContain('Mon-Fri');
    expect(store.created).toHaveLength(1);
  });

  it.each(LANGS)('shows SUPPORT_HOURS as the team wrote them, in every language (%s)', async (lang) => {
    const s = SAID[lang];
    const { adapter } = setup({ [s.greeting]: { act: 'greeting', actConfidence: 0.99 }, [s.human]: { act: 'human', actConfidence: 0.99 } }, '周一至周五 9:00-18:00（节假日除外）');
    const [, answer] = await replies(adapter, s.greeting, s.human);
    expect(answer).toContain('周一至周五 9:00-18:00（节假日除外）');
    expect(answer).toBe(texts(lang).human(null, '周一至周五 9:00-18:00（节假日除外）'));
  });

  it('treats a low-confidence act as a demand', async () => {
    const { adapter, store } = setup({ 收到货了谢谢但是少了一件: { act: 'thanks', actConfidence: 0.4 } });
    const [r] = await replies(adapter, '收到货了谢谢但是少了一件');
    expect(r).toMatch(/对吗/);
    expect(store.created).toHaveLength(0);
  });

  it('sends a status question to the ticket-status path', async () => {
    const { adapter } = setup({ 我的投诉处理得怎么样了: { act: 'status', actConfidence: 0.9 } });
    await replies(adapter, '我的快递三天没到', '对', '跳过');
    const [r] = await replies(adapter, '我的投诉处理得怎么样了');
    expect(r).toMatch(/^工单 T\d{8}-0001 当前状态：已受理/);
  });

  it('adds a follow-up to the open ticket, and takes it as a demand when none is open', async () => {
    const { adapter, store } = setup({ 好的那明天我在家等: { act: 'followup', actConfidence: 0.9 } });
    const [first] = await replies(adapter, '好的那明天我在家等');
    expect(first).toMatch(/对吗/);
    await replies(adapter, '对', '跳过');
    const [second] = await replies(adapter, '好的那明天我在家等');
    expect(second).toBe(texts('zh-Hans').followupAdded('T20261206-0001'));
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['好的那明天我在家等']);
  });

  it('keeps yes and no inside the confirmation as before', async () => {
    const { adapter, store } = setup({ 对: { act: 'yes', actConfidence: 0.99 }, 好的: { act: 'yes', actConfidence: 0.99 } });
    const [ask, contact] = await replies(adapter, '我的快递三天没到', '对');
    expect(ask).toMatch(/「物流配送」的投诉，对吗/);
    expect(contact).toMatch(/手机号或邮箱/);
    await replies(adapter, '跳过');
    expect(store.created).toHaveLength(1);
    // Outside any question a bare "好的" is not filed: after filing it lands on the ticket.
    expect(await replies(adapter, '好的')).toEqual([texts('zh-Hans').followupAdded('T20261206-0001')]);
    expect(store.created).toHaveLength(1);
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['好的']);
  });

  it('files the demand so far when the customer asks for a person at the confirmation', async () => {
    const { adapter, store } = setup({ 'agent please': { act: 'human', actConfidence: 0.98 } }, 'Mon-Fri 9:00-18:00');
    const [ask, filed] = await replies(adapter, 'My parcel is three days late and tracking has not moved', 'agent please');
    expect(ask).toMatch(/is that right\?/);
    expect(filed).toBe(texts('en').humanFiled('T20261206-0001', 'Mon-Fri 9:00-18:00'));
    expect(store.created[0].classification).toMatchObject({ topic: 'delivery', needsReview: true, reviewReason: 'customer-asked-for-person' });
  });
});

/** What a customer files and then writes, per language (the first message sets the language). */
const FOLLOW: Record<ReplyLang, { demand: string; yes: string; skip: string; followups: [string, Partial<Classification>][]; other: string; newIssue: string }> = {
  'zh-Hans': {
    demand: '我的快递三天没到，物流一直不更新',
    yes: '对',
    skip: '跳过',
    followups: [
      ['好的，那明天我在家等', { act: 'followup', actConfidence: 0.9 }],
      ['谢谢', { act: 'thanks', actConfidence: 0.95 }],
      ['快递员电话也打不通', { act: 'demand', actConfidence: 0.8, topic: 'delivery', confidence: 0.9 }],
      ['你好', { act: 'greeting', actConfidence: 0.9 }],
      ['宽带好像也有点慢', { act: 'demand', actConfidence: 0.7, topic: 'network', confidence: 0.5, needsReview: true }],
    ],
    other: '我家宽带从昨天开始完全上不了网',
    newIssue: '新问题',
  },
  'zh-Hant': {
    demand: '我嘅包裹三日都未到，物流資料冇更新',
    yes: '對',
    skip: '跳過',
    followups: [
      ['好，唔該晒，我等你哋消息', { act: 'thanks', actConfidence: 0.9 }],
      ['聽日我喺屋企等', { act: 'followup', actConfidence: 0.9 }],
      ['速遞員電話都打唔通', { act: 'demand', actConfidence: 0.8, topic: 'delivery', confidence: 0.9 }],
      ['喂', { act: 'greeting', actConfidence: 0.9 }],
      ['寬頻好似都有啲慢', { act: 'demand', actConfidence: 0.7, topic: 'network', confidence: 0.5, needsReview: true }],
    ],
    other: '我屋企寬頻由尋日開始完全上唔到網',
    newIssue: '新問題',
  },
  en: {
    demand: 'My parcel is three days late and tracking has not moved',
    yes: 'yes',
    skip: 'skip',
    followups: [
      ["thanks, I'll wait", { act: 'thanks', actConfidence: 0.9 }],
      ['I will be at home tomorrow', { act: 'followup', actConfidence: 0.9 }],
      ['the courier does not answer the phone either', { act: 'demand', actConfidence: 0.8, topic: 'delivery', confidence: 0.9 }],
      ['hello', { act: 'greeting', actConfidence: 0.9 }],
      ['the broadband seems a bit slow too', { act: 'demand', actConfidence: 0.7, topic: 'network', confidence: 0.5, needsReview: true }],
    ],
    other: 'My home broadband has been completely down since yesterday',
    newIssue: 'new issue',
  },
};

describe('follow-ups land on the ticket', () => {
  it.each(LANGS)('every message after filing is on the ticket until a clearly new demand (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const table = Object.fromEntries([...f.followups, [f.other, { act: 'demand', actConfidence: 0.9, topic: 'network', type: 'complaint', confidence: 0.92 }]]) as Record<string, Partial<Classification>>;
    const { adapter, store } = setup(table);
    const t = texts(lang);
    const [, , created] = await replies(adapter, f.demand, f.yes, f.skip);
    expect(created).toBe(t.created('T20261206-0001'));
    const acks = await replies(adapter, ...f.followups.map(([text]) => text));
    // Nothing lost: each follow-up is on the ticket, in order, and nothing else was filed.
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(f.followups.map(([text]) => text));
    expect(store.created).toHaveLength(1);
    f.followups.forEach(([, c], i) => expect(acks[i]).toBe(c.act === 'thanks' ? t.followupThanks('T20261206-0001') : t.followupAdded('T20261206-0001')));
    // A demand of another topic at good confidence starts a new one (the intake asks to confirm it).
    const [confirm] = await replies(adapter, f.other);
    expect(confirm).toMatch(lang === 'en' ? /is that right\?/ : /對嗎|对吗/);
    expect(store.tickets.get('T20261206-0001')!.messages).toHaveLength(f.followups.length);
  });

  it.each(LANGS)('"%s": 新问题 / 新問題 / new issue starts a new demand', async (lang) => {
    const f = FOLLOW[lang];
    const { adapter, store } = setup();
    await replies(adapter, f.demand, f.yes, f.skip);
    expect(await replies(adapter, f.newIssue)).toEqual([texts(lang).newIssue]);
    const [confirm] = await replies(adapter, f.demand);
    expect(confirm).toMatch(lang === 'en' ? /is that right\?/ : /對嗎|对吗/);
    expect(store.tickets.get('T20261206-0001')!.messages).toHaveLength(0);
    // The marker followed by the demand in one message goes straight to the intake too.
    const b = setup();
    await replies(b.adapter, f.demand, f.yes, f.skip);
    const [again] = await replies(b.adapter, `${f.newIssue}：${f.demand}`);
    expect(again).toMatch(lang === 'en' ? /is that right\?/ : /對嗎|对吗/);
  });

  it('answers a status question about the conversation\'s ticket and keeps it on the ticket', async () => {
    const { adapter, store } = setup({ 处理得怎么样了: { act: 'status', actConfidence: 0.9 } });
    await replies(adapter, FOLLOW['zh-Hans'].demand, '对', '跳过');
    const [r] = await replies(adapter, '处理得怎么样了');
    expect(r).toMatch(/^工单 T20261206-0001 当前状态：已受理/);
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['处理得怎么样了']);
  });
});

describe('a ticket stored under a new number at outbox replay', () => {
  const OTHER = { channelId: 'test', userId: 'customer-2' };
  const DETAILS: Record<ReplyLang, string> = { 'zh-Hans': '补充：快递单号 SF1234', 'zh-Hant': '補充：速遞單號 SF1234', en: 'additional details: tracking number SF1234' };
  const NOTE: Record<ReplyLang, RegExp> = {
    'zh-Hans': /^请注意：您的工单编号已由 T20261206-0001 更改为 T20261206-0009，用原编号查询仍可找到。$/,
    'zh-Hant': /^請注意：您的工單編號已由 T20261206-0001 更改為 T20261206-0009，用原編號查詢仍可找到。$/,
    en: /^Please note: your ticket number has changed from T20261206-0001 to T20261206-0009; the old number still finds it\.$/,
  };

  it.each(LANGS)('the old number finds it for its customer, follow-ups land on it, and the answer says the number changed, once (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const t = texts(lang);
    const { adapter, store } = setup(Object.fromEntries(f.followups));
    await replies(adapter, f.demand, f.yes, f.skip);
    store.renumber('T20261206-0001', 'T20261206-0009', OTHER);
    expect(t.numberChanged('T20261206-0001', 'T20261206-0009')).toMatch(NOTE[lang]);

    // The conversation still knows the old number: a follow-up goes to the customer's own ticket.
    const [followup] = f.followups.find(([, c]) => c.act === 'followup')!;
    expect(await replies(adapter, followup)).toEqual([`${t.followupAdded('T20261206-0009')}\n${t.numberChanged('T20261206-0001', 'T20261206-0009')}`]);
    // It follows the new number from then on: no note again.
    expect(await replies(adapter, DETAILS[lang])).toEqual([t.addedDetails('T20261206-0009')]);
    // Asked by the old number, the status is the customer's ticket's, with the note.
    expect(await replies(adapter, 'T20261206-0001')).toEqual([`${t.statusOf('T20261206-0009', t.statuses.new, null)}\n${t.numberChanged('T20261206-0001', 'T20261206-0009')}`]);
    expect(await replies(adapter, 'T20261206-0009')).toEqual([t.statusOf('T20261206-0009', t.statuses.new, null)]);
    expect(store.tickets.get('T20261206-0009')!.messages.map((m) => m.text)).toEqual([followup, DETAILS[lang].replace(/^[^:：]*[:：]\s*/, '')]);
    expect(store.tickets.get('T20261206-0001')!.messages).toEqual([]);
  });

  it.each(LANGS)('details in a conversation that still knows the old number land on the customer\'s ticket, with the note (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const t = texts(lang);
    const { adapter, store } = setup();
    await replies(adapter, f.demand, f.yes, f.skip);
    store.renumber('T20261206-0001', 'T20261206-0009', OTHER);
    expect(await replies(adapter, DETAILS[lang])).toEqual([`${t.addedDetails('T20261206-0009')}\n${t.numberChanged('T20261206-0001', 'T20261206-0009')}`]);
    expect(store.tickets.get('T20261206-0009')!.messages).toHaveLength(1);
    expect(store.tickets.get('T20261206-0001')!.messages).toEqual([]);
  });
});

describe('resolution and satisfaction', () => {
  it.each(LANGS)('asks for a 1–5 rating when the ticket is resolved and records it with the comment (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const { adapter, store, bot } = setup();
    await replies(adapter, f.demand, f.yes, f.skip);
    const ticket = store.tickets.get('T20261206-0001')!;
    const asked = await proactive(bot, adapter, ticket, { kind: 'resolved' });
    expect(asked.text).toBe(texts(lang).resolved('T20261206-0001'));
    expect(asked.suggestedActions?.actions.map((a) => a.title)).toEqual(['1', '2', '3', '4', '5']);
    const comment = lang === 'en' ? 'quick and friendly' : lang === 'zh-Hant' ? '師傅好有耐性' : '师傅很耐心';
    expect(await replies(adapter, `4 ${comment}`)).toEqual([texts(lang).ratingThanks('T20261206-0001', 4)]);
    expect(ticket.satisfaction).toMatchObject({ score: 4, comment });
    expect(ticket.messages).toHaveLength(0);
    // Rated: the ticket's conversation is over, a new message is answered afresh.
    const [next] = await replies(adapter, f.demand);
    expect(next).toMatch(lang === 'en' ? /is that right\?/ : /對嗎|对吗/);
  });

  it('a message that is not a rating still lands on the ticket, and the rating can follow', async () => {
    const { adapter, store, bot } = setup({ 其实还没修好: { act: 'followup', actConfidence: 0.9 } });
    await replies(adapter, FOLLOW['zh-Hans'].demand, '对', '跳过');
    const ticket = store.tickets.get('T20261206-0001')!;
    await proactive(bot, adapter, ticket, { kind: 'resolved' });
    expect(await replies(adapter, '其实还没修好')).toEqual([texts('zh-Hans').followupAdded('T20261206-0001')]);
    expect(await replies(adapter, '2分')).toEqual([texts('zh-Hans').ratingThanks('T20261206-0001', 2)]);
    expect(ticket.satisfaction).toMatchObject({ score: 2, comment: null });
  });

  it.each(LANGS)('asked for a rating, a message that starts with a quantity lands on the ticket instead (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const text = lang === 'en' ? '3 days and the refund is still not here' : lang === 'zh-Hant' ? '3天了退款還沒到' : '3天了退款还没到';
    const { adapter, store, bot } = setup({ [text]: { act: 'followup', actConfidence: 0.9 } });
    await replies(adapter, f.demand, f.yes, f.skip);
    const ticket = store.tickets.get('T20261206-0001')!;
    await proactive(bot, adapter, ticket, { kind: 'resolved' });
    expect(await replies(adapter, text)).toEqual([texts(lang).followupAdded('T20261206-0001')]);
    expect(ticket.satisfaction ?? null).toBeNull();
    expect(ticket.messages.map((m) => m.text)).toEqual([text]);
  });

  it('a staff reply makes the conversation about its ticket (the answer lands on it)', async () => {
    const { adapter, store, bot } = setup({ 好的知道了: { act: 'yes', actConfidence: 0.9 } });
    await store.file({ customer: { channelId: 'test', userId: 'customer-1' }, conversationRef: null, text: { original: '网上办的宽带没人装', normalized: '' }, classification: { topic: 'network' } } as unknown as TicketCreate);
    const reply = await proactive(bot, adapter, store.tickets.get('T20261206-0001')!, { kind: 'reply', text: '师傅明天上午上门' });
    expect(reply.text).toBe('师傅明天上午上门');
    await replies(adapter, '好的知道了');
    expect(store.tickets.get('T20261206-0001')!.messages.map((m) => m.text)).toEqual(['好的知道了']);
  });

  it('reads ratings at the start of a message', () => {
    expect(parseRating('5')).toEqual({ score: 5 });
    expect(parseRating('4分，师傅很耐心')).toEqual({ score: 4, comment: '师傅很耐心' });
    expect(parseRating('五星 好评')).toEqual({ score: 5, comment: '好评' });
    expect(parseRating('5 stars, thanks')).toEqual({ score: 5, comment: 'thanks' });
    expect(parseRating('3/5')).toEqual({ score: 3 });
    expect(parseRating('4 師傅好有耐性')).toEqual({ score: 4, comment: '師傅好有耐性' });
    expect(parseRating('2分')).toEqual({ score: 2 });
    expect(parseRating('5!')).toEqual({ score: 5 });
    for (const no of ['6', '10', '0', '138 1234 5678', '好的', '45分钟才到']) expect(parseRating(no), no).toBeNull();
  });

  it('does not read a quantity at the start of a message as a rating', () => {
    const quantities = [
      '5点前能到吗', '3天了还没退款', '3天了還沒退款', '5分钟才接通', '2星期了', '五分钟', '5G信号很差', '5折的券用不了',
      '2 个包裹都没到', '3.5元的运费', '5:30能送到吗', '1,200 yuan charged twice', '5 days and still no refund',
      '2 hours on hold', '3 pm delivery never came', '5%的手续费',
    ];
    for (const no of quantities) expect(parseRating(no), no).toBeNull();
  });
});

describe('language', () => {
  it.each(LANGS)('confirms the ticket number intact (%s)', (lang) => {
    const t = texts(lang);
    for (const n of ['T20261206-0042', 'T20261206-OAB12CD']) {
      const s = t.created(n);
      expect(s.split(n)).toHaveLength(3);
      // The text after the number is still there (it was swallowed in zh-Hant).
      expect(s.length).toBeGreaterThan(n.length * 2 + 20);
    }
    expect(texts('zh-Hant').created('T20261206-0042')).toBe('已為您登記工單 T20261206-0042。專人會在 1 個工作日內跟進，您可以隨時發送「查詢工單 T20261206-0042」查看進度。');
  });

  it.each(LANGS)('puts each help bullet on its own Markdown list line (%s)', (lang) => {
    const lines = texts(lang).help.split('\n');
    expect(lines[1]).toBe('');
    const bullets = lines.slice(2);
    expect(bullets.length).toBe(5);
    for (const b of bullets) expect(b).toMatch(/^- \S/);
  });

  it('greets in the language of the page locale', async () => {
    for (const [locale, lang] of [['en-US', 'en'], ['zh-CN', 'zh-Hans'], ['zh-HK', 'zh-Hant']] as const) {
      const { adapter } = setup();
      const greeting = await new Promise<string>((resolve, reject) => {
        adapter
          .send({ type: 'conversationUpdate', locale, membersAdded: [{ id: 'customer-1', name: 'Customer' }] } as Partial<Activity>)
          .assertReply((a: Partial<Activity>) => resolve(a.text ?? ''))
          .catch(reject);
      });
      expect(greeting, locale).toBe(texts(lang).greeting);
    }
  });

  it.each(LANGS)('keeps the conversation language after a mistyped e-mail address (%s)', async (lang) => {
    const f = FOLLOW[lang];
    const { adapter } = setup();
    const [, contact] = await replies(adapter, f.demand, f.yes);
    expect(contact).toBe(texts(lang).askContact);
    expect(await replies(adapter, 'zhangsan@example,com')).toEqual([texts(lang).badContact]);
    expect(await replies(adapter, '1381234567')).toEqual([texts(lang).badContact]);
    const [created] = await replies(adapter, '+86 138 1234 5678');
    expect(created).toBe(texts(lang).created('T20261206-0001'));
  });

  it('answers 取消 in a traditional-Chinese conversation in traditional Chinese', async () => {
    const { adapter } = setup();
    await replies(adapter, FOLLOW['zh-Hant'].demand);
    expect(await replies(adapter, '取消')).toEqual([texts('zh-Hant').cancelled]);
    expect(await replies(adapter, '取消')).toEqual([texts('zh-Hant').nothingToCancel]);
  });
});

describe('the spam policy', () => {
  it('files a borderline message as a normal ticket flagged suspectedSpam', async () => {
    const text = '收到短信说积分要过期，让点 http://xx.cn/a 兑换，是你们发的吗';
    const { adapter, store } = setup({ [text]: { topic: 'privacy', type: 'inquiry', spamScore: 0.45, suspectedSpam: true, needsReview: true, reason: 'possible-spam' } });
    const out = await replies(adapter, text, '对', '跳过');
    expect(out[2]).toMatch(/已为您登记工单 T\d{8}-\d{4}/);
    expect(store.created[0].classification).toMatchObject({ spam: false, suspectedSpam: true, topic: 'privacy' });
  });

  it('flags the "possible spam" band of models without suspectedSpam', async () => {
    const text = '贷款提前还款收了 3% 违约金，合同没写';
    // An older classification shape: no suspectedSpam field at all.
    const { adapter, store } = setup({ [text]: { topic: 'billing', spamScore: 0.4, needsReview: true, reason: 'possible-spam', suspectedSpam: undefined } as unknown as Partial<Classification> });
    await replies(adapter, text, '价格费用', '跳过');
    expect(store.created[0].classification).toMatchObject({ spam: false, suspectedSpam: true, topic: 'billing' });
  });

  it('refuses unmistakable spam politely, with no ticket number, and keeps it for audit', async () => {
    const text = '【XX银行】额度提升至50000元，点击 t.cn/xx 办理，回T退订';
    const { adapter, store } = setup({ [text]: { topic: null, type: null, spam: true, spamScore: 0.99 } });
    const [r] = await replies(adapter, text);
    expect(r).toBe(texts('zh-Hans').spam);
    expect(r).not.toMatch(/T\d{8}-/);
    expect(store.created[0].classification).toMatchObject({ spam: true, suspectedSpam: false });
  });

  it.each(LANGS)('answers another script politely, never as spam, and files it for staff (%s conversation)', async (lang) => {
    const thai = 'สินค้ายังไม่มาถึงเลยค่ะ สั่งไปหนึ่งอาทิตย์แล้ว';
    const { adapter, store } = setup({ [thai]: { lang: 'other', spam: true, spamScore: 0.7, topic: null, type: null } });
    await replies(adapter, SAID[lang].human);
    const [r] = await replies(adapter, thai);
    expect(r).toContain(texts('en').unsupportedLanguage('T20261206-0001'));
    expect(r).toContain(texts(lang).unsupportedLanguage('T20261206-0001'));
    expect(r).not.toContain(texts(lang).spam);
    expect(store.created[0].classification).toMatchObject({ spam: false, suspectedSpam: true, needsReview: true, reviewReason: 'unsupported-language' });
  });
});

describe('without a model act head (older model versions)', () => {
  it.each(LANGS)('the lexicon still answers greetings, thanks and requests for a person (%s)', async (lang) => {
    const s = SAID[lang];
    const none = { act: undefined, actConfidence: undefined };
    const { adapter, store } = setup({ [s.greeting]: none, [s.thanks]: none, [s.human]: none });
    const t = texts(lang);
    expect(await replies(adapter, s.greeting, s.thanks, s.human)).toEqual([t.greetBack, t.thanksBack, t.human(null, null)]);
    expect(store.created).toHaveLength(0);
  });
});

describe('the act lexicon', () => {
  const rows = (act: string) =>
    readFileSync(join(PROJECT_ROOT, `data/acts/${act}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text: string; act: string });

  it('never reads a demand, a status question, a follow-up, yes or no as greeting, thanks, goodbye or a person', () => {
    for (const act of ['demand', 'status', 'followup', 'yes', 'no']) {
      const wrong = rows(act).filter((r) => lexiconAct(r.text) !== null);
      expect(wrong.map((r) => r.text), act).toEqual([]);
    }
  });

  it('never reads a corpus demand as an act', () => {
    for (const file of ['delivery', 'billing', 'returns', 'privacy', 'delivery-field', 'billing-field', 'account-field', 'service-field']) {
      const texts = readFileSync(join(PROJECT_ROOT, `data/corpus/${file}.jsonl`), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
      expect(texts.filter((t) => lexiconAct(t) !== null), file).toEqual([]);
    }
  });

  it('recognises most plain greetings, thanks, goodbyes and requests for a person', () => {
    const floors: Record<string, number> = { greeting: 0.9, thanks: 0.9, goodbye: 0.8, human: 0.65 };
    for (const [act, floor] of Object.entries(floors)) {
      const all = rows(act);
      const hit = all.filter((r) => lexiconAct(r.text) === act).length;
      expect(hit / all.length, act).toBeGreaterThanOrEqual(floor);
    }
  });

  it('answers long repetitive input at once (no backtracking blow-up)', () => {
    // A regular expression with nested repetition took 25 s on 26 characters of this.
    for (const s of ['喂'.repeat(79) + 'x', '拜'.repeat(79) + '?x', 'hey'.repeat(26) + 'x', '谢谢'.repeat(39) + '吗x']) expect(lexiconAct(s)).toBeNull();
    expect(lexiconAct('喂'.repeat(20))).toBe('greeting');
  });

  it('prefers a confident model act, falls back to the lexicon, and defaults to a demand', () => {
    expect(readAct({ act: 'thanks', actConfidence: 0.9 }, '谢谢')).toMatchObject({ act: 'thanks', source: 'model' });
    expect(readAct({ act: 'demand', actConfidence: 0.7 }, '你好')).toMatchObject({ act: 'greeting', source: 'lexicon' });
    expect(readAct({ act: 'greeting', actConfidence: 0.3 }, '你好，我的快递三天没到')).toMatchObject({ act: 'demand' });
    expect(readAct({}, 'thanks for nothing, my card was charged twice')).toMatchObject({ act: 'demand', source: 'none' });
  });
});
