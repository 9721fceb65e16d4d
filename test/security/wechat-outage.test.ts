/**
 * The WeChat channel while the database is down (its own supervised embedded database, stopped
 * and restarted): a push is still answered truthfully (received, with a number, filed once the
 * database is back), the answer that misses WeChat's passive window goes out through the
 * customer-service API, a retried push is still taken once, and the ticket reaches the database
 * with the customer's WeChat identity when the outbox is replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../bot/app.js';
import { texts } from '../../bot/messages.js';
import { WECHAT_CHANNEL_ID, type WeChatChannel } from '../../channels/wechat/index.js';
import type { Services } from '../../desk/services.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { WeChatPeer } from '../helpers/wechat-peer.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

const SETTINGS = { token: 'outageToken7', appId: 'wx0a1b2c3d4e5f6a7b', appSecret: 'outage-app-secret-0123456789', encodingAesKey: 'Q2w3E4r5T6y7U8i9O0p1A2s3D4f5G6h7J8k9L0z1X2c' };
const NUMBER = /T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})/;

let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let app: App;
let peer: WeChatPeer;

beforeAll(async () => {
  peer = new WeChatPeer(SETTINGS);
  const base = await peer.start();
  own = await startAppOnOwnDatabase('wechat-outage-', {
    RATE_LIMIT_PER_10S: '100',
    WECHAT_TOKEN: SETTINGS.token,
    WECHAT_APP_ID: SETTINGS.appId,
    WECHAT_APP_SECRET: SETTINGS.appSecret,
    WECHAT_ENCODING_AES_KEY: SETTINGS.encodingAesKey,
    WECHAT_API_BASE: base,
    // Shorter than one database timeout: a turn during the outage cannot make the passive reply.
    WECHAT_PASSIVE_REPLY_MS: '500',
  });
  ({ database, services, app } = own);
  peer.pushTo(own.url);
});

afterAll(async () => {
  await own?.stop();
  await peer?.stop();
});

describe('a WeChat push while the database is down', () => {
  it('answers truthfully through the customer-service API, de-duplicates in process, and files the ticket once the database is back', async () => {
    const channel = app.channels.find((c) => c.id === WECHAT_CHANNEL_ID) as WeChatChannel;
    const user = 'oOutage000000000000000000001';
    const text = '快递已经五天了还没有送到，物流信息一直不更新';
    let number = '';
    await whileDatabaseDown(database, async () => {
      const pushed = await peer.push(user, { type: 'text', content: text }, { msgId: '8100000001' });
      // WeChat got its answer in time ("success"), the reply follows through the API.
      expect(pushed).toMatchObject({ status: 200, body: 'success' });
      expect(pushed.ms).toBeLessThan(4500);
      const sent = await peer.waitForSent(user, (c) => NUMBER.test(c));
      number = NUMBER.exec(sent.content)![0];
      expect(sent.content).toBe(texts('zh-Hans').createdOffline(number));
      expect(channel.stats().late).toBeGreaterThanOrEqual(1);
      // WeChat retries the same push: taken once even without the database.
      expect(await peer.push(user, { type: 'text', content: text }, { msgId: '8100000001' })).toMatchObject({ status: 200, body: 'success' });
      await channel.idle();
      expect(peer.sent.filter((m) => m.touser === user)).toHaveLength(1);
      expect(services.store.outbox.pending()).toBe(1);
    });
    expect(await services.tickets.flushOutbox()).toMatchObject({ replayed: 1, remaining: 0 });
    const ticket = await services.store.tickets.get(number);
    expect(ticket).toMatchObject({ customer: { channelId: 'wechat', userId: user }, text: { original: text } });
    // The customer asks about it now that it is filed and gets its status: passively when the turn
    // fits in WECHAT_PASSIVE_REPLY_MS (500 ms here), through the API when a busy machine makes it late.
    const status = await peer.push(user, { type: 'text', content: `查询工单 ${number}` });
    const answer = status.reply ?? (await peer.waitForSent(user, (c) => c.includes(`工单 ${number} 当前状态`))).content;
    expect(answer).toMatch(new RegExp(`工单 ${number} 当前状态：已受理`));
  });
});
