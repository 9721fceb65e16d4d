/**
 * The WeCom channel while the database is down (its own supervised embedded database, stopped and
 * restarted): a customer message is still pulled, filed in the outbox and answered truthfully; the
 * sync goes on from the cursor this process holds; a message WeCom lists again is taken once; the
 * cursor reaches the database when it is back, and the ticket with the customer's WeCom identity
 * when the outbox is replayed. A picture sent meanwhile is kept on the customer's ticket as stored,
 * also when the replay stores it under a new number (another process gave its number out).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../bot/app.js';
import { texts } from '../../bot/messages.js';
import { WECOM_CHANNEL_ID, type WeComChannel } from '../../channels/wecom/index.js';
import { createTicketService, type Services } from '../../desk/services.js';
import type { Config } from '../../runtime/config.js';
import type { OpenDatabase } from '../../store/database.js';
import { createStore } from '../../store/index.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { WeComPeer } from '../helpers/wecom-peer.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

const SETTINGS = { corpId: 'ww0a1b2c3d4e5f6a7b', secret: 'outage-kf-secret-0123456789', token: 'outageKf7', encodingAesKey: 'Q2w3E4r5T6y7U8i9O0p1A2s3D4f5G6h7J8k9L0z1X2c' };
const NUMBER = /T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})/;

let own: AppOnOwnDatabase;
let dir: string;
let config: Config;
let database: OpenDatabase;
let services: Services;
let app: App;
let peer: WeComPeer;

beforeAll(async () => {
  peer = new WeComPeer(SETTINGS);
  const base = await peer.start();
  own = await startAppOnOwnDatabase('wecom-outage-', {
    RATE_LIMIT_PER_10S: '100',
    WECOM_CORP_ID: SETTINGS.corpId,
    WECOM_SECRET: SETTINGS.secret,
    WECOM_TOKEN: SETTINGS.token,
    WECOM_ENCODING_AES_KEY: SETTINGS.encodingAesKey,
    WECOM_API_BASE: base,
  });
  ({ dir, config, database, services, app } = own);
  peer.pushTo(own.url);
});

afterAll(async () => {
  await own?.stop();
  await peer?.stop();
});

describe('a WeCom message while the database is down', () => {
  it('is filed in the outbox and answered truthfully, taken once, and the cursor and ticket reach the database when it is back', async () => {
    const channel = app.channels.find((c) => c.id === WECOM_CHANNEL_ID) as WeComChannel;
    const user = 'wmOutage0000000000000000000001';
    // A first message with the database up: the cursor is in the database.
    await peer.customer(user, { type: 'text', content: '你好' });
    await peer.nextSentAfter(user, 0);
    await channel.idle();
    const text = '快递已经五天了还没有送到，物流信息一直不更新';
    let number = '';
    // Back and reconnected after: until this process has reconnected, the channel keeps the cursor
    // for the sync after (by design), and the check below would find the old one.
    await whileDatabaseDown(database, async () => {
      const n = peer.sentTo(user).length;
      const { msgid } = await peer.customer(user, { type: 'text', content: text });
      // The conversation's state is this process's last copy (the database cannot be read), so the
      // dialog goes on as usual: it confirms the topic, asks for a contact, and "跳过" files the demand offline.
      const question = await peer.nextSentAfter(user, n, 30_000);
      expect(question.content).toContain('对吗');
      await channel.idle();
      await peer.customer(user, { type: 'text', content: '对' });
      const contact = await peer.nextSentAfter(user, n + 1, 30_000);
      expect(contact.content).toContain('跳过');
      await channel.idle();
      await peer.customer(user, { type: 'text', content: '跳过' });
      const sent = await peer.nextSentAfter(user, n + 2, 30_000);
      number = NUMBER.exec(sent.content)![0];
      expect(sent.content).toBe(texts('zh-Hans').createdOffline(number));
      await channel.idle();
      // WeCom lists the message again (as after a lost cursor): taken once even without the database.
      await peer.relist(msgid);
      await channel.idle();
      expect(peer.sentTo(user)).toHaveLength(n + 3);
      expect(services.store.outbox.pending()).toBe(1);
    });
    // The next sync writes the cursor this process held during the outage.
    const n = peer.sentTo(user).length;
    await peer.customer(user, { type: 'text', content: '谢谢' });
    // The conversation is about the ticket still in the outbox: the outbox is replayed first, and
    // the message is on the ticket (it used to fail as "not found", answered with the apology).
    expect((await peer.nextSentAfter(user, n, 30_000)).content).toBe(texts('zh-Hans').followupThanks(number));
    await channel.idle();
    const stored = await database.db.collection('wecomCursors').findOne({ _id: peer.openKfid as never });
    expect(stored?.cursor).toBe(peer.cursorAfter(peer.logLength()));
    expect(await services.tickets.flushOutbox()).toMatchObject({ remaining: 0 });
    expect(await services.store.tickets.get(number)).toMatchObject({ customer: { channelId: 'wecom', userId: user }, text: { original: text } });
    expect((await services.store.tickets.get(number))!.messages.map((m) => m.text)).toEqual(['谢谢']);
  });

  it("keeps a picture on the customer's ticket as stored, never on the ticket of another customer that took its outbox number", async () => {
    const channel = app.channels.find((c) => c.id === WECOM_CHANNEL_ID) as WeComChannel;
    const classification = { lang: 'zh-Hans' as const, topic: 'delivery', type: 'complaint' as const, spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null };
    const demand = (userId: string, text: string) => ({ customer: { channelId: 'other', userId }, conversationRef: null, text: { original: text, normalized: text }, classification });
    // This process has numbered a ticket today: the next number is given without the database.
    await services.tickets.file(demand('seed', '种子工单'));
    const user = 'wmOutage0000000000000000000002';
    const bytes = randomBytes(2000);
    let number = '';
    await whileDatabaseDown(database, async () => {
      const n = peer.sentTo(user).length;
      await peer.customer(user, { type: 'image', bytes, contentType: 'image/png' });
      const sent = await peer.nextSentAfter(user, n, 30_000);
      number = NUMBER.exec(sent.content)![0];
      expect(sent.content).toBe(texts('zh-Hans').createdOffline(number));
    });
    // Another process on the same database gives the number to another customer before the replay
    // (the picture may be kept meanwhile: the channel retries while the database is away).
    const other = await createStore({ db: database.db, outboxPath: join(mkdtempSync(join(dir, 'other-')), 'o.jsonl'), timeZone: config.TIME_ZONE, topics: services.store.topics, log: { info() {}, warn() {}, error() {} } });
    const stranger = (await createTicketService(other, { log: pino({ level: 'silent' }) }).file(demand('stranger', '发票开错了'))).ticket.number;
    await channel.idle();
    await services.tickets.flushOutbox();

    const mine = (await services.store.tickets.list({ channelId: WECOM_CHANNEL_ID, customerUserId: user, pageSize: 5, sort: '-createdAt' })).items;
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ reviewReason: 'media-only', attachments: [{ kind: 'image' }] });
    const kept = await services.store.attachments.list(mine[0].number);
    expect(kept).toMatchObject([{ contentType: 'image/png', size: 2000, stored: true, channelId: 'wecom' }]);
    expect((await services.store.attachments.get(mine[0].number, kept[0].id))!.content!.equals(bytes)).toBe(true);
    // The other customer's ticket shows nothing of it, whichever number each ended up with.
    expect((await services.store.tickets.get(stranger))!.customer.userId).toBe('stranger');
    if (stranger !== mine[0].number) expect(await services.store.attachments.list(stranger)).toEqual([]);
    // (The numbers met: this run took the path the test is for.)
    expect(mine[0].formerNumber ?? mine[0].number).toBe(number);
  });
});
