/**
 * A staff reply to a web chat conversation that expired (CONVERSATION_TTL_HOURS) still reaches the
 * customer: over real HTTP, as the page does it (GET /api/webchat/token, then Direct Line), on the
 * real embedded database. The reply sent after expiry is held and shows in the conversation the
 * customer opens when they come back with their customer key; the customer's answer there lands on
 * the ticket; a later reply reaches that new conversation at once; a reply recorded undelivered
 * before (the old behaviour) is retried successfully.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { hashPassword } from '../../staff/auth.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, any>;
const PASSWORD = 'expired conversation password';
let A: RunningApp;
let agent: string;

async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** The page's side: a token (with the customer key from last time), the conversation started, messages read by watermark. */
async function openPage(key?: string, conversationId?: string) {
  const headers: Record<string, string> = {};
  if (key) headers['X-Customer-Key'] = key;
  if (conversationId) headers['X-Conversation-Id'] = conversationId;
  const page = await call('GET', '/api/webchat/token?locale=zh-CN', { headers });
  expect(page.status).toBe(200);
  const { token, conversationId: id, customerKey, resumed } = page.body as { token: string; conversationId: string; customerKey: string; resumed: boolean };
  expect((await call('POST', '/v3/directline/conversations', { token, body: {} })).status).toBeLessThan(300);
  let watermark = '';
  const botSaid = async (): Promise<string[]> => {
    const r = await call('GET', `/v3/directline/conversations/${id}/activities${watermark ? `?watermark=${watermark}` : ''}`, { token });
    if (r.body.watermark) watermark = r.body.watermark;
    return (r.body.activities as Json[]).filter((a) => a.type === 'message' && a.from?.role === 'bot').map((a) => String(a.text));
  };
  return {
    id,
    customerKey,
    resumed,
    botSaid,
    /** Sends and returns what the bot said in answer (the post returns once the turn is done). */
    async say(text: string): Promise<string> {
      await botSaid();
      const r = await call('POST', `/v3/directline/conversations/${id}/activities`, { token, body: { type: 'message', from: { id: 'x' }, text } });
      expect(r.status).toBe(200);
      return (await botSaid()).join('\n');
    },
  };
}

beforeAll(async () => {
  // 36 s: the shortest lifetime the configuration allows.
  A = await startApp(inject('mongoUri'), { CONVERSATION_TTL_HOURS: '0.01', RATE_LIMIT_PER_10S: '100', API_RATE_PER_MINUTE: '100000' });
  await A.store.users.create({ username: 'alice', role: 'agent', createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  const r = await call('POST', '/api/auth/login', { body: { username: 'alice', password: PASSWORD } });
  agent = r.body.token as string;
});

afterAll(async () => {
  await A?.stop();
});

describe('a reply to an expired web chat conversation', () => {
  it('is shown when the customer comes back, their answer lands on the ticket, and later replies reach the new conversation', async () => {
    const first = await openPage();
    expect(await first.say('我的快递三天了还没到，物流信息一直不更新')).toMatch(/对吗/);
    expect(await first.say('对')).toMatch(/手机号/);
    const filed = await first.say('跳过');
    const number = filed.match(/T\d{8}-\d{4}/)![0];

    // A reply recorded undelivered before this change (as it was for an expired conversation), to retry later.
    await expect.poll(async () => A.store.directLine.getConversation(first.id), { timeout: 60_000, interval: 1000 }).toBeNull();
    const old = await A.store.tickets.recordReply(number, { text: '（旧）我们已联系快递公司。', by: 'alice', delivered: false, error: 'not found' });
    const oldId = old.replies.at(-1)!.id;

    // Sent while the conversation is gone: the channel takes it (held for the customer).
    const sent = await call('POST', `/api/tickets/${number}/replies`, { token: agent, body: { text: '您好，快递明天上午送达，请保持电话畅通。' } });
    expect(sent.status).toBe(201);
    expect(sent.body.delivered).toBe(true);
    const retried = await call('POST', `/api/tickets/${number}/replies/${oldId}/retry`, { token: agent });
    expect(retried.status).toBe(200);
    expect(retried.body.delivered).toBe(true);

    // The customer comes back (the page presents the key and the old conversation): a new
    // conversation, with both replies in it.
    const back = await openPage(first.customerKey, first.id);
    expect(back.resumed).toBe(false);
    expect(back.id).not.toBe(first.id);
    await expect.poll(async () => (await back.botSaid()).join('\n'), { timeout: 60_000 }).toContain('您好，快递明天上午送达，请保持电话畅通。');
    const all = (await call('GET', `/v3/directline/conversations/${back.id}/activities`, { token: (await call('GET', '/api/webchat/token', { headers: { 'X-Customer-Key': first.customerKey, 'X-Conversation-Id': back.id } })).body.token })).body.activities as Json[];
    expect(all.filter((a) => a.type === 'message' && a.from?.role === 'bot').map((a) => a.text)).toEqual(expect.arrayContaining(['您好，快递明天上午送达，请保持电话畅通。', '（旧）我们已联系快递公司。']));
    expect(await A.db.collection('directlineHeld').countDocuments({ kind: 'message' })).toBe(0);

    // The answer in the new conversation lands on the ticket.
    expect(await back.say('好的，那明天我在家等')).toBe(texts('zh-Hans').followupAdded(number));
    expect((await A.store.tickets.get(number))!.messages.map((m) => m.text)).toContain('好的，那明天我在家等');

    // A later reply goes straight to the conversation the customer is in now.
    const later = await call('POST', `/api/tickets/${number}/replies`, { token: agent, body: { text: '快递员已出发。' } });
    expect(later.body.delivered).toBe(true);
    await expect.poll(async () => (await back.botSaid()).join('\n'), { timeout: 60_000 }).toContain('快递员已出发。');
    expect(await A.db.collection('directlineHeld').countDocuments({ kind: 'message' })).toBe(0);
  });
});
