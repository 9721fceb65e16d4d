import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp, type App } from '../../bot/app.js';
import { loadConfig } from '../../runtime/config.js';
import { loadTaxonomy } from '../../runtime/project-data.js';
import { createServices, type Services } from '../../desk/services.js';
import type { Store } from '../../store/index.js';
import { startConnector, type FakeConnector } from '../helpers/connector.js';
import { createClient } from '../../store/database.js';

/**
 * The bot as a Bot Framework channel sees it: activities POSTed to /api/messages over real HTTP,
 * replies arriving at the `serviceUrl` the activity named (a local server standing in for the
 * channel's connector, as the Bot Framework Emulator does), local mode (no app id).
 */
let client: MongoClient;
let db: Db;
let store: Store;
let app: App;
let services: Services;
let botUrl: string;
let connector: FakeConnector;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', RATE_LIMIT_PER_10S: '100', MEMORY_CEILING_MB: '65536' });
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  client = createClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`proto_${randomUUID().slice(0, 8)}`);
  const log = pino({ level: 'silent' });
  services = await createServices(config, { db, log, outboxPath: join(mkdtempSync(join(tmpdir(), 'proto-')), 'o.jsonl') });
  store = services.store;
  app = createApp({ config, services, log });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  botUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  connector = await startConnector();
});

afterAll(async () => {
  app?.server.close();
  connector?.close();
  await services?.close();
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

function activity(conversation: string, text: string, user = 'channel-user-1') {
  return {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'emulator',
    serviceUrl: connector.serviceUrl,
    from: { id: user, name: 'Customer' },
    recipient: { id: 'bot', name: 'Bot' },
    conversation: { id: conversation },
    text,
    locale: 'zh-CN',
  };
}

async function post(body: unknown, contentType = 'application/json') {
  const res = await fetch(`${botUrl}/api/messages`, { method: 'POST', headers: { 'content-type': contentType }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.text() };
}


describe('Bot Framework protocol', () => {
  it('takes a complaint, confirms, and replies with a ticket number through the serviceUrl', async () => {
    const conv = `c-${randomUUID().slice(0, 8)}`;
    for (const text of ['我的快递三天了还没到，物流信息一直不更新', '对', '跳过']) {
      const r = await post(activity(conv, text));
      expect(r.status).toBeLessThan(300);
    }
    const replies = connector.messagesTo(conv);
    expect(replies[0]).toMatch(/对吗/);
    expect(replies[1]).toMatch(/手机号或邮箱/);
    const number = replies[2].match(/T\d{8}-\d{4}/)?.[0];
    expect(number).toBeDefined();
    const ticket = await store.tickets.get(number!);
    expect(ticket).toMatchObject({ customer: { channelId: 'emulator', userId: 'channel-user-1' } });
    // Typing indicators were sent before the replies.
    expect(connector.received.some((r) => r.body.type === 'typing')).toBe(true);
  });

  it('delivers a staff reply proactively on the original channel and records it', async () => {
    const conv = `c-${randomUUID().slice(0, 8)}`;
    for (const text of ['积分怎么突然清零了？我都没用过', '对', '跳过']) await post(activity(conv, text, 'channel-user-2'));
    const number = connector.messagesTo(conv)[2].match(/T\d{8}-\d{4}/)![0];
    const before = connector.messagesTo(conv).length;
    const r = await services.tickets.reply(number, '您好，积分已为您恢复。', 'alice');
    expect(r.delivered).toBe(true);
    expect(connector.messagesTo(conv).slice(before)).toEqual(['您好，积分已为您恢复。']);
    const t = await store.tickets.get(number);
    expect(t!.replies).toEqual([expect.objectContaining({ text: '您好，积分已为您恢复。', by: 'alice', delivered: true })]);
    expect(t!.firstResponseAt).toBeInstanceOf(Date);
  });

  it('records an undeliverable reply as not delivered', async () => {
    // A ticket whose channel has gone away (nothing listens at its serviceUrl any more).
    const ref = { channelId: 'emulator', serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'gone' }, user: { id: 'u' }, bot: { id: 'bot' } };
    const { ticket } = await services.tickets.file({
      customer: { channelId: 'emulator', userId: 'u' },
      conversationRef: JSON.stringify(ref),
      text: { original: '发票一直没开出来', normalized: '发票一直没开出来' },
      classification: { lang: 'zh-Hans', topic: 'billing', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
    });
    const r = await services.tickets.reply(ticket.number, '已开具', 'bob');
    expect(r.delivered).toBe(false);
    expect(r.ticket.replies[0]).toMatchObject({ delivered: false, error: expect.any(String) });
  });

  it('answers malformed or oversized requests with 400 and a clear body', async () => {
    const bad = await post('{not json');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toMatch(/JSON/);
    const notActivity = await post({ hello: 'world' });
    expect(notActivity.status).toBe(400);
    expect(JSON.parse(notActivity.body).error.code).toBe('BAD_ACTIVITY');
    const huge = await post(activity('c-big', 'x'.repeat(300 * 1024)));
    expect(huge.status).toBe(400);
    expect(JSON.parse(huge.body).error.message).toMatch(/larger than 262144 bytes/);
  });

  it('replies politely to a message over the length limit', async () => {
    const conv = `c-${randomUUID().slice(0, 8)}`;
    await post(activity(conv, '长'.repeat(2001)));
    expect(connector.messagesTo(conv)[0]).toMatch(/太长了（上限 2000 字）/);
  });

  it('serves health and readiness', async () => {
    expect((await fetch(`${botUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${botUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });
});
