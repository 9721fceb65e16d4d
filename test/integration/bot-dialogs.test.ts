import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConversationState, TestAdapter, type Activity } from 'botbuilder';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DemandBot } from '../../bot/demand-bot.js';
import type { DemandClassifier } from '../../classifier/demand-classifier.js';
import { loadDemandClassifier } from '../../runtime/classifier-factory.js';
import { loadConfig } from '../../runtime/config.js';
import { loadTaxonomy } from '../../runtime/project-data.js';
import { MongoBotStorage } from '../../store/bot-state-storage.js';
import { createTicketService } from '../../desk/services.js';
import { createStore, type Store } from '../../store/index.js';

/**
 * Conversations with the whole bot (router + intake dialog) through botbuilder's TestAdapter, with
 * the real classifier, the real store and bot state on the embedded database. Table-driven: each
 * case is a script of what the customer says and what the reply must contain.
 */
const config = loadConfig({});
const taxonomy = loadTaxonomy(config.DATA_DIR);
const silent = { info() {}, warn() {}, error() {} };
let client: MongoClient;
let db: Db;
let store: Store;
let classifier: DemandClassifier;

beforeAll(async () => {
  client = new MongoClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`bot_${randomUUID().slice(0, 8)}`);
  store = await createStore({ db, outboxPath: join(mkdtempSync(join(tmpdir(), 'bot-')), 'o.jsonl'), timeZone: 'Asia/Shanghai', topics: taxonomy.topics.map((t) => t.id), log: silent });
  classifier = await loadDemandClassifier(config);
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

function newBot(opts: { rateLimit?: number } = {}) {
  const conversationState = new ConversationState(new MongoBotStorage(db));
  return new DemandBot({ classifier, tickets: createTicketService(store, { log: silent }), lookup: store.tickets, taxonomy, conversationState, maxMessageLength: 500, rateLimit: opts.rateLimit ?? 20, rateWindowMs: 10_000 });
}

function adapterFor(bot: DemandBot, user = `user-${randomUUID().slice(0, 6)}`) {
  return new TestAdapter(async (context) => bot.run(context), {
    channelId: 'webchat',
    serviceUrl: 'http://127.0.0.1:1/',
    from: { id: user, name: 'Customer' },
    recipient: { id: 'bot', name: 'Bot' },
    conversation: { id: `conv-${randomUUID().slice(0, 8)}`, isGroup: false, conversationType: 'personal', name: '' },
  });
}

type Check = string | RegExp | ((a: Partial<Activity>) => void);
/** A script: what the customer sends, then checks on each bot reply to it. */
type Step = [say: string, ...replies: Check[]];

async function play(adapter: TestAdapter, steps: Step[]): Promise<string[]> {
  const transcript: string[] = [];
  for (const [say, ...checks] of steps) {
    let flow = adapter.send(say);
    for (const check of checks) {
      flow = flow.assertReply((a) => {
        transcript.push(a.text ?? '');
        if (typeof check === 'function') check(a);
        else expect(a.text).toMatch(check);
      });
    }
    await flow;
  }
  return transcript;
}

const NUMBER = /T\d{8}-\d{4}/;

/** Files a delivery complaint as `user` and returns the ticket number. */
async function fileTicket(bot: DemandBot, user: string): Promise<string> {
  const t = await play(adapterFor(bot, user), [
    ['我的快递三天了还没到，物流信息一直不更新', /对吗/],
    ['对', /手机号/],
    ['跳过', NUMBER],
  ]);
  return t.join('\n').match(NUMBER)![0];
}
const suggests = (...labels: string[]) => (a: Partial<Activity>) => {
  const offered = a.suggestedActions?.actions.map((x) => x.title) ?? [];
  for (const l of labels) expect(offered).toContain(l);
};

describe('intake conversations', () => {
  const cases: { name: string; steps: Step[]; ticket?: Record<string, unknown> }[] = [
    {
      name: 'confirm the understanding and skip contact details',
      steps: [
        ['我的快递三天了还没到，物流信息一直不更新', /这是关于「物流配送」的投诉，对吗？/],
        ['对', /手机号或邮箱/],
        ['跳过', NUMBER],
      ],
      ticket: { topic: 'delivery', type: 'complaint', needsReview: false, contact: {} },
    },
    {
      name: 'correct the topic through "other" and leave a phone number',
      steps: [
        ['收到的电视屏幕有一条亮线，开箱就这样', (a) => expect(a.text).toMatch(/对吗/)],
        ['其他', /请选择最接近的一类/],
        ['售后维修', /手机号或邮箱/],
        ['138 1234 5678', NUMBER],
      ],
      ticket: { topic: 'aftersales', needsReview: true, reviewReason: 'customer-picked-topic', contact: { phone: '138 1234 5678' } },
    },
    {
      name: 'a bad contact is asked again, then skipped',
      steps: [
        ['我要投诉你们的客服，电话打了一个小时都没人接', /「服务态度」的投诉/],
        ['对', /手机号或邮箱/],
        ['abc', /格式好像不对/],
        ['跳过', NUMBER],
      ],
      ticket: { topic: 'service', contact: {} },
    },
    {
      name: 'more description instead of an answer re-classifies the whole demand',
      steps: [
        ['东西有问题', /对吗|请帮我选一下/],
        ['就是退款一直没到账，已经两个星期了', /「退换退款」/],
        ['是的', /手机号或邮箱/],
        ['skip', NUMBER],
      ],
      ticket: { topic: 'returns' },
    },
    {
      name: 'spam gets a polite refusal and no ticket number',
      steps: [['【兼职】日赚500，加V信 abc888 详聊 http://xx123.cc', /无法受理/]],
    },
    {
      name: 'rephrase ends the attempt politely',
      steps: [
        ['我的快递三天了还没到', /对吗/],
        ['重新描述', /请再描述一下/],
      ],
    },
  ];

  it.each(cases)('$name', async ({ steps, ticket }) => {
    const bot = newBot();
    const adapter = adapterFor(bot);
    const transcript = await play(adapter, steps);
    const number = transcript.join('\n').match(NUMBER)?.[0];
    if (ticket) {
      expect(number).toBeDefined();
      const stored = await store.tickets.get(number!);
      expect(stored).toMatchObject(ticket);
      expect(stored!.customer.channelId).toBe('webchat');
      expect(JSON.parse(stored!.conversationRef!)).toMatchObject({ channelId: 'webchat', serviceUrl: 'http://127.0.0.1:1/' });
    } else {
      expect(number).toBeUndefined();
    }
  });

  it('suggests the alternatives, other and rephrase when confirming', async () => {
    await play(adapterFor(newBot()), [['我的快递三天了还没到，物流信息一直不更新', suggests('对', '其他', '重新描述')]]);
  });

  it('keeps spam for staff to audit', async () => {
    const user = `spammer-${randomUUID().slice(0, 6)}`;
    await play(adapterFor(newBot(), user), [['【兼职】日赚500，加V信 abc888 详聊 http://xx123.cc', /无法受理/]]);
    const { items } = await store.tickets.list({ customerUserId: user, spam: true });
    expect(items).toHaveLength(1);
  });
});

describe('commands at any point', () => {
  it('help and cancel (帮助 / 取消)', async () => {
    await play(adapterFor(newBot()), [
      ['帮助', /查询工单/],
      ['我的快递三天了还没到', /对吗/],
      ['取消', /已取消/],
      ['取消', /没有进行中的操作/],
    ]);
  });

  it('status lookup answers the same customer only', async () => {
    const bot = newBot();
    const owner = `owner-${randomUUID().slice(0, 6)}`;
    const number = await fileTicket(bot, owner);
    await store.tickets.recordReply(number, { text: '已催促快递公司，明天送达', by: 'alice', delivered: true, error: null });
    await play(adapterFor(bot, owner), [[`查询工单 ${number}`, new RegExp(`工单 ${number} 当前状态：已受理。最新回复：已催促快递公司`)]]);
    await play(adapterFor(bot, owner), [['查询我的工单进度', new RegExp(number)]]);
    await play(adapterFor(bot, 'someone-else'), [[`查询工单 ${number}`, /没有找到属于您的工单/]]);
  });

  it('adds details to the open ticket', async () => {
    const bot = newBot();
    const user = `detail-${randomUUID().slice(0, 6)}`;
    const number = await fileTicket(bot, user);
    await play(adapterFor(bot, user), [['补充：快递单号是 SF****1234', new RegExp(`已将补充说明添加到工单 ${number}`)]]);
    expect((await store.tickets.get(number))!.messages.map((m) => m.text)).toEqual(['快递单号是 SF****1234']);
  });
});

describe('language', () => {
  it('replies in English to English and switches back to Chinese, consistently within the conversation', async () => {
    await play(adapterFor(newBot()), [
      ['My refund has not arrived after two weeks, what is going on?', /is that right\?/],
      ['Yes', /phone number or e-mail/],
      ['Skip', /Your ticket is T\d{8}-\d{4}/],
      ['help', /You can:/],
      ['请问你们的会员积分怎么兑换？', /「账户会员」/],
    ]);
  });

  it('replies in traditional Chinese to traditional Chinese', async () => {
    await play(adapterFor(newBot()), [['請問我的退款幾時到帳？已經等咗兩個星期', /這是關於「退換退款」/]]);
  });
});

describe('limits and bad input', () => {
  it('says politely when a message is too long, and does not cut it', async () => {
    await play(adapterFor(newBot()), [['长'.repeat(501), /太长了（上限 500 字）/]]);
  });

  it('asks for words when the message has none', async () => {
    await play(adapterFor(newBot()), [['😡😡😡', /用文字描述/]]);
  });

  it('rate-limits a conversation politely', async () => {
    const adapter = adapterFor(newBot({ rateLimit: 2 }));
    await play(adapter, [
      ['帮助', /查询工单/],
      ['帮助', /查询工单/],
      ['帮助', /太快了/],
    ]);
  });

  it('ignores unknown activity types', async () => {
    const adapter = adapterFor(newBot());
    await adapter.send({ type: 'event', name: 'whatever' }).send({ type: 'invoke', name: 'x' }).send('帮助').assertReply((a) => expect(a.text).toMatch(/查询工单/));
  });
});
