/**
 * Several bot processes on one database (issue 11 item 5): two real server processes
 * (`bot/main.ts`, each its own Node process) on the test database server. One web chat
 * conversation alternates between them — its token from one, its start at the other, each turn
 * posted to the other process than the last, while its stream stays open on the first — and a
 * staff reply is sent through the process that does not hold the stream. Nothing is lost: every
 * turn is answered, the ticket is filed once, and the stream and the log hold the same activities,
 * in order, with contiguous watermarks.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { hashPassword } from '../../staff/auth.js';
import { DirectLineClient } from '../../scripts/directline-client.js';
import { EventStreamClient } from '../../scripts/event-stream-client.js';
import { spawnBotServer } from '../../scripts/server-process.js';
import { MongoUserRepository } from '../../store/user-repository.js';
import { SERVER_NODE_ARGS } from '../../runtime/node-flags.js';
import { createClient } from '../../store/database.js';

type Json = Record<string, any>;

interface Proc {
  base: string;
  port: number;
  child: ChildProcess;
  stderr: string[];
}

const PASSWORD = 'multi-process-password';
let P1: Proc;
let P2: Proc;
let client: MongoClient;
let db: Db;

async function startProcess(uri: string, dbName: string): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'multi-process-'));
  const stderr: string[] = [];
  // The server binds a port of its own choosing and reports it: two started at once cannot be given the same one.
  const { child, port, base } = await spawnBotServer({
    main: join(PROJECT_ROOT, 'bot/main.ts'),
    nodeArgs: [...SERVER_NODE_ARGS, '--import', 'tsx'],
    cwd: PROJECT_ROOT,
    env: { ...process.env, MONGODB_URI: uri, DB_NAME: dbName, HOST: '127.0.0.1', OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'warn', RATE_LIMIT_PER_10S: '100' },
    stdio: ['ignore', 'ignore', 'pipe'],
    onSpawn: (c) => c.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d)),
  }).catch((err: Error) => {
    throw new Error(`${err.message}: ${stderr.join('')}`);
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr.join('')}`);
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready: ${stderr.join('')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { base, port, child, stderr };
}

async function call(method: string, url: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  const uri = inject('mongoUri');
  const dbName = `mp_${randomUUID().slice(0, 8)}`;
  client = await createClient(uri).connect();
  db = client.db(dbName);
  [P1, P2] = await Promise.all([startProcess(uri, dbName), startProcess(uri, dbName)]);
  await new MongoUserRepository(db).create({ username: 'alice', role: 'agent', passwordHash: await hashPassword(PASSWORD), createdBy: 'test' });
});

afterAll(async () => {
  for (const p of [P1, P2]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await once(p.child, 'exit');
    }
  }
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

describe('two bot processes on one database', () => {
  it('serve one web chat conversation alternately and deliver a staff reply sent through the other process', async () => {
    // Token from P1, conversation started at P2, stream opened at P1.
    const page = await call('GET', `${P1.base}/api/webchat/token`);
    expect(page.status).toBe(200);
    const { conversationId, token } = page.body as { conversationId: string; token: string };
    const start = await call('POST', `${P2.base}/v3/directline/conversations`, { token, body: {} });
    expect(start.status).toBe(201);

    const streamed: Json[] = [];
    const watermarks: number[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${P1.port}/v3/directline/conversations/${conversationId}/stream?t=${encodeURIComponent(token)}`);
    ws.on('message', (data) => {
      const text = data.toString();
      if (!text) return;
      const msg = JSON.parse(text) as { activities: Json[]; watermark: string };
      streamed.push(...msg.activities);
      watermarks.push(Number(msg.watermark));
    });
    await once(ws, 'open');
    try {
      // The greeting (sent by P2's bot when the conversation started) reaches P1's stream.
      await waitFor(() => streamed.find((a) => a.type === 'message' && a.from.role === 'bot'), 'the greeting');

      const say = async (via: Proc, text: string): Promise<Json> => {
        const posted = await call('POST', `${via.base}/v3/directline/conversations/${conversationId}/activities`, { token, body: { type: 'message', text, locale: 'zh-CN' } });
        expect(posted.status, `${text} via ${via.port}`).toBe(200);
        return waitFor(() => streamed.find((a) => a.type === 'message' && a.replyToId === posted.body.id && a.from.role === 'bot'), `the reply to ${text}`);
      };
      expect((await say(P1, '我的快递三天了还没到，物流信息一直不更新')).text).toMatch(/对吗/);
      expect((await say(P2, '对')).text).toMatch(/手机号|邮箱/); // the dialog state written by P1 is read by P2
      const filed = await say(P1, '跳过');
      const number = filed.text.match(/T\d{8}-\d{4}/)?.[0];
      expect(number, filed.text).toBeDefined();
      expect((await say(P2, `查询工单 ${number}`)).text).toContain(number);

      // A staff reply through P2 reaches the customer's stream on P1.
      const login = await call('POST', `${P2.base}/api/auth/login`, { body: { username: 'alice', password: PASSWORD } });
      expect(login.status).toBe(200);
      const reply = await call('POST', `${P2.base}/api/tickets/${number}/replies`, { token: login.body.token, body: { text: '已为您催件，明天送达。' } });
      expect(reply.status).toBe(201);
      expect(reply.body.delivered).toBe(true);
      await waitFor(() => streamed.find((a) => a.type === 'message' && typeof a.text === 'string' && a.text.includes('已为您催件')), 'the staff reply on the other process\'s stream');

      // Nothing lost, nothing twice: the stream holds exactly the log, in order, watermarks contiguous.
      const log = await call('GET', `${P2.base}/v3/directline/conversations/${conversationId}/activities`, { token });
      expect(log.status).toBe(200);
      const ids = log.body.activities.map((a: Json) => a.id);
      await waitFor(() => (streamed.length >= ids.length ? true : undefined), 'the whole log on the stream');
      expect(streamed.map((a) => a.id)).toEqual(ids);
      expect(ids.map((id: string) => Number(id.split('|')[1]))).toEqual(ids.map((_: string, i: number) => i + 1));
      expect(watermarks).toEqual([...watermarks].sort((a, b) => a - b));
      const userTexts = log.body.activities.filter((a: Json) => a.from.role === 'user').map((a: Json) => a.text);
      expect(userTexts).toEqual(['我的快递三天了还没到，物流信息一直不更新', '对', '跳过', `查询工单 ${number}`]);

      // One ticket, with the conversation's server-issued user.
      const tickets = await db.collection('tickets').find({}).toArray();
      expect(tickets.map((t) => t.number)).toEqual([number]);
      expect(tickets[0].customer.userId).toMatch(/^webchat:c-[\w-]{22}$/);
      expect(tickets[0].customer.userId).not.toContain(page.body.userId);
    } finally {
      ws.close();
    }
    for (const p of [P1, P2]) expect(p.stderr.join('')).not.toMatch(/"level":(50|60)/);
  });

  it('carry a live conversation across processes: requested on one, seen, taken and answered on the other, handed back', async () => {
    const login = await call('POST', `${P2.base}/api/auth/login`, { body: { username: 'alice', password: PASSWORD } });
    expect(login.status).toBe(200);
    const token = login.body.token as string;
    // The agent's console follows P2; the customer's conversation is served by P1.
    const stream = await EventStreamClient.open(P2.base, token);
    const c = await DirectLineClient.open(P1.base, 'ignored');
    try {
      const queued = await c.replyTo(await c.send('转人工'));
      expect(queued.text).toMatch(/正在为您转接人工客服/);
      const number = queued.text!.match(/T\d{8}-\d{4}/)![0];
      const requested = await stream.waitFor((e) => e.type === 'handover.requested' && e.ticketNumber === number);
      const id = (requested as { handoverId: string }).handoverId;
      expect((await call('POST', `${P2.base}/api/live/${id}/take`, { token })).status).toBe(200);
      await c.waitForMessage((m) => m.text === '客服 alice 已接入，请问有什么可以帮您？');
      await c.send('我的订单号是 88001234');
      await stream.waitFor((e) => e.type === 'live.message' && e.from === 'customer' && e.text === '我的订单号是 88001234');
      const sent = await call('POST', `${P2.base}/api/live/${id}/messages`, { token, body: { text: '收到，马上为您查询。' } });
      expect(sent.body.delivered).toBe(true);
      await c.waitForMessage((m) => m.text === '收到，马上为您查询。');
      expect((await call('POST', `${P2.base}/api/live/${id}/hand-back`, { token })).status).toBe(204);
      await c.waitForMessage((m) => m.text === '客服已将对话交回智能助手。如还有其他问题，请直接告诉我。');
      // The bot answers again; the conversation is about the ticket, so the thanks is kept on it.
      expect((await c.replyTo(await c.send('谢谢'))).text).toBe(`不客气！您的留言已记录到工单 ${number}，有进展我们会在这里回复您。`);
      const ticket = await db.collection('tickets').findOne({ number });
      expect(ticket!.messages.map((m: Json) => m.text)).toEqual(['我的订单号是 88001234', '谢谢']);
    } finally {
      c.close();
      stream.close();
    }
    for (const p of [P1, P2]) expect(p.stderr.join('')).not.toMatch(/"level":(50|60)/);
  });
});
