/**
 * A ticket is a conversation, over real HTTP with the real classifier and the embedded database:
 * the customer's follow-ups after filing land on the ticket (nothing lost, the assignee notified),
 * a reply the channel refused is shown undelivered and retried (a delivered one is not: 409), and resolving the ticket asks the
 * customer for a rating that reaches the ticket and the statistics.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { texts } from '../../bot/messages.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { startConnector, type FakeConnector } from '../helpers/connector.js';
import { runScript } from '../helpers/run.js';

type Json = Record<string, any>;
let A: RunningApp;
let connector: FakeConnector;
let agent: string;
const PASSWORD = 'correct horse battery';

async function api(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

/** One customer on the Bot Framework endpoint (the emulator's channel), one conversation. */
function customer() {
  const conv = `c-${randomUUID().slice(0, 8)}`;
  const user = `u-${randomUUID().slice(0, 8)}`;
  return {
    conv,
    async say(text: string): Promise<string> {
      const before = connector.messagesTo(conv).length;
      const res = await fetch(`${A.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'message', id: randomUUID(), channelId: 'emulator', serviceUrl: connector.serviceUrl, from: { id: user }, recipient: { id: 'bot' }, conversation: { id: conv }, text, locale: 'zh-CN' }),
      });
      expect(res.status).toBeLessThan(300);
      return connector.messagesTo(conv).slice(before).join('\n');
    },
  };
}

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '100' });
  connector = await startConnector();
  const env = { MONGODB_URI: `${inject('mongoUri').replace(/\/$/, '')}/${A.db.databaseName}` };
  const cli = await runScript('user:add', ['--username', 'alice', '--password', PASSWORD, '--role', 'agent'], '', env);
  expect(cli.stderr).not.toMatch(/error/);
  const r = await api('POST', '/api/auth/login', { body: { username: 'alice', password: PASSWORD } });
  agent = r.body.token as string;
});

afterAll(async () => {
  connector?.close();
  await A?.stop();
});

describe('a ticket is a conversation', () => {
  it('puts every follow-up after filing on the ticket, notifies the assignee, retries an undelivered reply, and records the rating in the statistics', async () => {
    const c = customer();
    await c.say('我的快递三天了还没到，物流信息一直不更新');
    await c.say('对');
    const created = await c.say('跳过');
    const number = /T\d{8}-\d{4}/.exec(created)![0];
    expect((await api('PATCH', `/api/tickets/${number}`, { token: agent, body: { assignee: 'alice', status: 'in_progress' } })).status).toBe(200);

    // Nothing lost: N follow-ups of every kind, each acknowledged and each on the ticket.
    const followups = ['好的，那明天我在家等', '好，唔該晒，我等你哋消息', "thanks, I'll wait", '快递员电话也打不通', '你好', '还有，快递单号是 SF1234567890'];
    for (const f of followups) expect(await c.say(f)).toContain(number);
    const ticket = (await api('GET', `/api/tickets/${number}`, { token: agent })).body;
    expect(ticket.messages.map((m: Json) => m.text)).toEqual(followups);
    // The assignee is notified of each, and sees them in their list.
    const mine = (await api('GET', '/api/notifications', { token: agent })).body.items as Json[];
    expect(mine.filter((n) => n.ticket === number && n.kind === 'customer-replied' && n.by === null)).toHaveLength(followups.length);

    // A reply the channel refuses is recorded undelivered; a retry delivers it once.
    connector.refuse = true;
    const sent = await api('POST', `/api/tickets/${number}/replies`, { token: agent, body: { text: '师傅明天上午上门' } });
    expect(sent.body.delivered).toBe(false);
    const replyId = sent.body.ticket.replies[0].id as string;
    expect(sent.body.ticket.replies[0]).toMatchObject({ delivered: false, error: expect.any(String) });
    connector.refuse = false;
    const retried = await api('POST', `/api/tickets/${number}/replies/${replyId}/retry`, { token: agent });
    expect(retried.status).toBe(200);
    expect(retried.body.delivered).toBe(true);
    expect(retried.body.ticket.replies[0]).toMatchObject({ id: replyId, delivered: true, error: null, attempts: 2 });
    expect(connector.messagesTo(c.conv).filter((t) => t === '师傅明天上午上门')).toHaveLength(1);
    // Sending a delivered reply again conflicts with its state (409, as a settlement of it would), not a bad request.
    const again = await api('POST', `/api/tickets/${number}/replies/${replyId}/retry`, { token: agent });
    expect(again).toEqual({ status: 409, body: { error: { code: 'CONFLICT', message: `reply ${replyId} was already delivered; reload the ticket` } } });
    expect(connector.messagesTo(c.conv).filter((t) => t === '师傅明天上午上门')).toHaveLength(1);
    expect((await api('POST', `/api/tickets/${number}/replies/${randomUUID()}/retry`, { token: agent })).status).toBe(404);

    // The answer to the reply lands on the ticket too.
    expect(await c.say('好的')).toBe(texts('zh-Hans').followupAdded(number));

    // Resolving tells the customer and asks for a rating; the rating reaches the ticket and the statistics.
    const before = connector.messagesTo(c.conv).length;
    expect((await api('PATCH', `/api/tickets/${number}`, { token: agent, body: { status: 'resolved' } })).status).toBe(200);
    expect(connector.messagesTo(c.conv).slice(before)).toEqual([texts('zh-Hans').resolved(number)]);
    expect(await c.say('5 师傅很准时')).toBe(texts('zh-Hans').ratingThanks(number, 5));
    const rated = (await api('GET', `/api/tickets/${number}`, { token: agent })).body;
    expect(rated.satisfaction).toMatchObject({ score: 5, comment: '师傅很准时' });
    expect(rated.messages).toHaveLength(followups.length + 1);
    const stats = (await api('GET', '/api/stats?granularity=week', { token: agent })).body;
    expect(stats.satisfaction).toMatchObject({ count: 1, average: 5, distribution: { '5': 1 } });
    expect(stats.satisfaction.byAgent).toEqual([{ key: 'alice', count: 1, average: 5 }]);
    expect(stats.satisfaction.byTopic).toEqual([{ key: rated.topic, count: 1, average: 5 }]);
    expect(stats.satisfaction.byChannel).toEqual([{ key: 'emulator', count: 1, average: 5 }]);
    expect(stats.satisfaction.byWeek).toHaveLength(1);
  });
});
