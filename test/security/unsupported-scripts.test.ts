/**
 * Issue 14, finding 5, replayed over the whole app on real HTTP: complaints in Korean, Russian and
 * Arabic were refused as spam (score 1, no review). Each must now be filed for staff with
 * `reason: "unsupported-language"`, never as spam, and answered politely with its number, in English
 * beside the conversation's language.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { startConnector, type FakeConnector } from '../helpers/connector.js';

let A: RunningApp;
let connector: FakeConnector;

beforeAll(async () => {
  A = await startApp(inject('mongoUri'));
  connector = await startConnector();
});

afterAll(async () => {
  connector?.close();
  await A?.stop();
});

const NUMBER = /T\d{8}-\d{4,}/;

describe('finding 5: other scripts are read by staff, never refused as spam', () => {
  it.each([
    ['Korean', '안녕하세요, 주문한 물건이 아직 안 왔어요. 환불해 주세요'],
    ['Russian', 'Здравствуйте, мой заказ не пришёл, прошу вернуть деньги'],
    ['Arabic', 'مرحبا، لم يصل طلبي بعد، أريد استرداد المبلغ'],
  ])('%s: the complaint is filed as unsupported-language and answered politely', async (_name, text) => {
    const conversation = `c-${randomUUID().slice(0, 8)}`;
    const before = connector.messagesTo(conversation).length;
    const res = await fetch(`${A.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', id: randomUUID(), channelId: 'emulator', serviceUrl: connector.serviceUrl, from: { id: `u-${randomUUID().slice(0, 6)}` }, recipient: { id: 'bot' }, conversation: { id: conversation }, text }),
    });
    expect(res.status).toBeLessThan(300);
    const reply = connector.messagesTo(conversation).slice(before).join('\n');
    for (const lang of ['zh-Hans', 'zh-Hant', 'en'] as const) expect(reply).not.toContain(texts(lang).spam);
    expect(reply).toMatch(/only read Chinese and English/);
    const number = NUMBER.exec(reply)?.[0];
    expect(number, reply).toBeDefined();
    expect(await A.store.tickets.get(number!)).toMatchObject({ spam: false, needsReview: true, reviewReason: 'unsupported-language' });
  });
});
