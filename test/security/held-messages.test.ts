/**
 * Issue 14, the hole session 3 left in "every customer message that arrives while the database is
 * down is kept": a mid-dialog answer ("对", "yes", "補充：…") reaching a process that has no copy of
 * the conversation's state (it started during the outage, or another process served the
 * conversation). Two apps over one set of services, each with its own conversation-state fallback
 * (as two processes have), over real HTTP on a supervised embedded database that is stopped: the
 * conversation is served by app A, the answer reaches app B during the outage. The answer must be
 * kept (fsynced into the held-message spool), the customer told so truthfully in their language,
 * and once the database is back it must reach staff exactly once: on the customer's open ticket, or
 * as a ticket for review.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import type { OpenDatabase } from '../../store/database.js';
import type { Services } from '../../desk/services.js';
import { HELD_REVIEW_REASON, heldMessagesPath } from '../../store/held-messages.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { sayThrough, startConnector, type FakeConnector } from '../helpers/connector.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let urlA: string;
let urlB: string;
let connector: FakeConnector;
let outboxPath: string;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('held-', { RATE_LIMIT_PER_10S: '100' });
  ({ database, services, url: urlA } = own);
  outboxPath = own.config.OUTBOX_PATH;
  // App B: the same services, its own conversation-state fallback (as a second process has).
  urlB = (await own.anotherApp()).url;
  connector = await startConnector();
});

afterAll(async () => {
  connector?.close();
  await own?.stop();
});

const LOCALES: Record<ReplyLang, string> = { 'zh-Hans': 'zh-CN', 'zh-Hant': 'zh-TW', en: 'en-US' };

/** One customer message to app `url` over the Bot Framework endpoint; the bot's replies to it. */
const say = (url: string, conversation: string, user: string, text: string, lang: ReplyLang) => sayThrough(connector, url, conversation, user, text, LOCALES[lang]);

const outage = (work: () => Promise<void>) => whileDatabaseDown(database, work);

const conv = () => `c-${randomUUID().slice(0, 8)}`;

describe('a mid-dialog answer reaching a process without the conversation state during an outage', () => {
  it('is kept, the customer told so (zh-Hans), and once the database is back the demand it answered is filed with it, once', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const c = conv();
    const demand = '我买的手机屏幕有裂痕，要求换货';
    expect((await say(urlA, c, user, demand, 'zh-Hans')).join('\n')).toMatch(/对吗|请帮我选/);
    let spooled = '';
    await outage(async () => {
      const replies = await say(urlB, c, user, '对', 'zh-Hans');
      expect(replies).toEqual([texts('zh-Hans').heldForLater]);
      expect(services.store.held.pending()).toBe(1);
      // On disk (fsynced) before the answer: a crash of this process now would not lose it.
      spooled = readFileSync(heldMessagesPath(outboxPath), 'utf8');
      expect(spooled).toContain(c);
    });
    const replay = await services.tickets.flushOutbox();
    expect(replay.held).toEqual({ attached: 0, filed: 1, cancelled: 0, duplicates: 0, remaining: 0 });
    expect(services.store.held.pending()).toBe(0);
    const mine = (await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items;
    expect(mine).toHaveLength(1);
    // The demand the "对" confirmed, for review, with the answer on it and the conversation to reply in.
    expect(mine[0]).toMatchObject({ text: { original: demand }, needsReview: true, reviewReason: HELD_REVIEW_REASON, spam: false });
    expect(mine[0].messages.map((m) => m.text)).toEqual(['对']);
    expect(JSON.parse(mine[0].conversationRef!).conversation.id).toBe(c);
    // The dialog ended on it: the conversation is now about that ticket (a follow-up lands on it).
    expect(await say(urlA, c, user, '屏幕裂痕在右上角', 'zh-Hans')).toEqual([texts('zh-Hans').followupAdded(mine[0].number)]);

    // A replay interrupted after the writes (the line still in the spool): stored once, not twice.
    writeFileSync(heldMessagesPath(outboxPath), spooled);
    expect((await services.tickets.flushOutbox()).held).toEqual({ attached: 0, filed: 0, cancelled: 0, duplicates: 1, remaining: 0 });
    const after = (await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items;
    expect(after).toHaveLength(1);
    expect(after[0].messages.map((m) => m.text)).toEqual(['对', '屏幕裂痕在右上角']);
  });

  it('a kept "取消" ends the dialog under way once the database is back, and files nothing', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const c = conv();
    expect((await say(urlA, c, user, '宽带晚上一直断网，根本没法用', 'zh-Hans')).join('\n')).toMatch(/对吗|请帮我选/);
    await outage(async () => {
      expect(await say(urlB, c, user, '取消', 'zh-Hans')).toEqual([texts('zh-Hans').cancelHeld]);
    });
    expect((await services.tickets.flushOutbox()).held).toEqual({ attached: 0, filed: 0, cancelled: 1, duplicates: 0, remaining: 0 });
    expect((await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items).toHaveLength(0);
    // The dialog is over: "对" now is no answer to it (it was "is this about …?" before).
    expect(await say(urlA, c, user, '对', 'zh-Hans')).toEqual([texts('zh-Hans').anythingElse]);
  });

  it('with no dialog under way and no open ticket, is filed as a ticket of its own for review', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const c = conv();
    await say(urlA, c, user, '你好', 'zh-Hans');
    await outage(async () => {
      expect(await say(urlB, c, user, '跳过', 'zh-Hans')).toEqual([texts('zh-Hans').heldForLater]);
    });
    expect((await services.tickets.flushOutbox()).held).toEqual({ attached: 0, filed: 1, cancelled: 0, duplicates: 0, remaining: 0 });
    const mine = (await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items;
    expect(mine.map((t) => [t.text.original, t.reviewReason, t.topic])).toEqual([['跳过', HELD_REVIEW_REASON, null]]);
  });

  it('is added to the customer\'s open ticket when there is one (zh-Hant "補充：…")', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const c = conv();
    await say(urlA, c, user, '我買的耳機左邊沒有聲音，想申請換貨', 'zh-Hant');
    await say(urlA, c, user, '對', 'zh-Hant');
    const filed = (await say(urlA, c, user, '跳過', 'zh-Hant')).join('\n');
    const number = /T\d{8}-\d{4}/.exec(filed)?.[0];
    expect(number, filed).toBeDefined();
    await outage(async () => {
      expect(await say(urlB, c, user, '補充：訂單號是 88812345', 'zh-Hant')).toEqual([texts('zh-Hant').heldForLater]);
    });
    expect(texts('zh-Hant').heldForLater).toMatch(/已收到並保存您的消息/);
    expect((await services.tickets.flushOutbox()).held).toEqual({ attached: 1, filed: 0, cancelled: 0, duplicates: 0, remaining: 0 });
    const ticket = await services.store.tickets.get(number!);
    expect(ticket!.messages.map((m) => m.text)).toEqual(['訂單號是 88812345']);
    // Nothing else was filed for this customer.
    expect((await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items).toHaveLength(1);
  });

  it('answers in English on an English page, and files the demand it answered', async () => {
    const user = `u-${randomUUID().slice(0, 6)}`;
    const c = conv();
    expect((await say(urlA, c, user, 'The parcel arrived broken and I want a refund for it', 'en')).join('\n')).toMatch(/right\?|choose|pick/i);
    await outage(async () => {
      const replies = await say(urlB, c, user, 'yes', 'en');
      expect(replies).toEqual([texts('en').heldForLater]);
      expect(replies[0]).toMatch(/received and saved your message/);
      expect(replies[0]).not.toMatch(/send it again in a minute/);
    });
    expect((await services.tickets.flushOutbox()).held).toMatchObject({ filed: 1, remaining: 0 });
    const mine = (await services.tickets.list({ customerUserId: user, channelId: 'emulator', pageSize: 10, sort: '-createdAt' })).items;
    expect(mine.map((t) => [t.text.original, t.reviewReason, t.messages.map((m) => m.text)])).toEqual([['The parcel arrived broken and I want a refund for it', HELD_REVIEW_REASON, ['yes']]]);
  });

  it('the texts are truthful in every language: kept, not "send it again", never "nothing lost"', () => {
    for (const [lang, s] of (['zh-Hans', 'zh-Hant', 'en'] as const).flatMap((l) => [[l, texts(l).heldForLater] as const, [l, texts(l).cancelHeld] as const])) {
      expect(s).not.toMatch(/没有丢失|沒有丟失|nothing you sent was lost|请一分钟后重新发送|請一分鐘後重新發送|please send it again/i);
      expect(s).not.toBe(texts(lang).retryLater);
    }
    expect(texts('zh-Hans').heldForLater).toMatch(/已收到并保存/);
    expect(texts('zh-Hans').cancelHeld).toMatch(/已收到您的取消.*恢复后会取消/);
    expect(texts('zh-Hant').cancelHeld).toMatch(/已收到您的取消.*恢復後會取消/);
    expect(texts('en').cancelHeld).toMatch(/received your cancellation.*will be cancelled/);
    expect(texts('en').heldForLater).toMatch(/no need to send it again/i);
  });
});
