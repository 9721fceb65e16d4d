/**
 * The Direct Line 3.0 channel over real HTTP and WebSockets, on restify servers listening on
 * 127.0.0.1:0, each with its own database on the test server:
 * - A: no secret, no global body parser, a fake bot whose `deliverToBot` answers through the
 *   channel's handle (`postFromBot`) with a typing activity and an echo.
 * - B: a secret, 1-second tokens, tiny log and expiry limits, a bot that only records.
 * - C: the real thing: a global `bodyParser` (as the app has), the in-process `WebChatAdapter` and a
 *   botbuilder `ActivityHandler` behind `deliverToBot`, as the app wires them.
 *
 * The client side is the real `botframework-directlinejs` `DirectLine`. In Node 20 it needs a
 * global `WebSocket` (it checks `typeof WebSocket` to choose the stream over polling): `ws`'s is
 * set for this file. For HTTP it uses RxJS 5's `Observable.ajax`, which needs `XMLHttpRequest`;
 * no polyfill is installed, so the client's own `ajax` service (a constructor option of its public
 * type, `DirectLineOptions & Partial<Services>`, which its own tests use) is given a `fetch`-based
 * implementation; the class itself is unmodified. The stream is also driven with `ws` directly,
 * doing what directlinejs does (empty keep-alives, reconnect with the watermark).
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { ActivityHandler, MessageFactory, type Activity } from 'botbuilder';
import type { MongoClient } from 'mongodb';
import { ConnectionStatus, DirectLine } from 'botframework-directlinejs';
import restify from 'restify';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MAX_CLIENT_BODY_BYTES, mountDirectLine, WEBCHAT_USER_PREFIX, type DirectLineHandle, type DirectLineOptions } from '../../bot/directline.js';
import { WebChatAdapter } from '../../bot/webchat-adapter.js';
import { MongoDirectLineRepository } from '../../store/directline-repository.js';
import { mountWebChatPage, PENDING_NOTES, webChatBundlePath } from '../../bot/webchat-page.js';
import { RESEND_SCRIPT } from '../../bot/webchat-resend.js';
import { createClient } from '../../store/database.js';

// ---- helpers ---------------------------------------------------------------------------------

// Response bodies and activities are read loosely; each assertion says what it expects.
type Json = Record<string, any>;

interface Running {
  base: string;
  port: number;
  server: restify.Server;
  delivered: Json[];
  handle: DirectLineHandle;
  stop(): Promise<void>;
}

const clients: MongoClient[] = [];

async function startServer(
  options: Omit<DirectLineOptions, 'publicBaseUrl' | 'deliverToBot' | 'repository'>,
  bot: (activity: Json, handle: DirectLineHandle) => Promise<void>,
  setup?: (server: restify.Server) => void,
): Promise<Running> {
  const server = restify.createServer({ handleUncaughtExceptions: false });
  const delivered: Json[] = [];
  let port = 0;
  setup?.(server);
  const client = await createClient(inject('mongoUri')).connect();
  clients.push(client);
  const db = client.db(`dl_${randomUUID().slice(0, 8)}`);
  const dl: DirectLineHandle = mountDirectLine(server, {
    ...options,
    repository: new MongoDirectLineRepository(db),
    publicBaseUrl: () => `http://127.0.0.1:${port}`,
    deliverToBot: async (activity: Activity) => {
      delivered.push(activity as unknown as Json);
      await bot(activity as unknown as Json, dl);
    },
  });
  mountWebChatPage(server, {});
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    server,
    delivered,
    handle: dl,
    stop: async () => {
      await dl.close();
      await db.dropDatabase().catch(() => undefined);
      (server.server as import('node:http').Server).closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function call(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
}

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The fake bot of server A: replies through the channel's handle, as the web chat adapter does. */
async function echoBot(activity: Json, handle: DirectLineHandle): Promise<void> {
  if (activity.type !== 'message') return;
  const common = { from: { id: 'bot', name: 'Bot' }, recipient: activity.from, conversation: activity.conversation };
  for (const reply of [{ ...common, type: 'typing' }, { ...common, type: 'message', text: `echo: ${activity.text}` }]) {
    const id = await handle.postFromBot(activity.conversation.id, reply, activity.id);
    if (!id.startsWith(`${activity.conversation.id}|`)) throw new Error(`unexpected reply id ${id}`);
  }
}

/** Opens the stream like directlinejs and collects the parsed non-empty messages. */
async function openStream(url: string): Promise<{ ws: WebSocket; messages: Json[]; raw: string[] }> {
  const ws = new WebSocket(url);
  const messages: Json[] = [];
  const raw: string[] = [];
  ws.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false);
    const text = data.toString();
    raw.push(text);
    if (text) messages.push(JSON.parse(text) as Json); // directlinejs: `message.data && JSON.parse(...)`
  });
  await once(ws, 'open');
  return { ws, messages, raw };
}

async function upgradeStatus(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('open', () => reject(new Error('the stream opened')));
    ws.on('error', () => undefined);
  });
}

// The real directlinejs client, with a fetch-based `ajax` service (see the file comment).
const requireFromDirectLine = createRequire(createRequire(import.meta.url).resolve('botframework-directlinejs'));
interface RxSubscriber {
  next(v: unknown): void;
  error(e: unknown): void;
  complete(): void;
}
const { Observable } = requireFromDirectLine('rxjs/Observable') as {
  Observable: { create(fn: (s: RxSubscriber) => () => void): unknown };
};

function fetchAjax(calls: string[]) {
  return (req: { method?: string; url: string; body?: unknown; headers?: Record<string, string>; timeout?: number }) =>
    Observable.create((subscriber) => {
      calls.push(`${req.method ?? 'GET'} ${req.url}`);
      const controller = new AbortController();
      const timer = req.timeout ? setTimeout(() => controller.abort(), req.timeout) : undefined;
      const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      fetch(req.url, { method: req.method ?? 'GET', headers: req.headers, body, signal: controller.signal })
        .then(async (res) => {
          const text = await res.text();
          const xhr = { getResponseHeader: (name: string) => res.headers.get(name) };
          const response: unknown = text ? JSON.parse(text) : null;
          if (res.ok) {
            subscriber.next({ status: res.status, response, xhr });
            subscriber.complete();
          } else {
            subscriber.error({ status: res.status, response, xhr });
          }
        })
        .catch((err: unknown) => subscriber.error({ status: 0, message: String(err), xhr: { getResponseHeader: () => null } }))
        .finally(() => clearTimeout(timer));
      return () => controller.abort();
    });
}

interface ClientRun {
  directLine: DirectLine;
  activities: Json[];
  ajaxCalls: string[];
  socketUrls: string[];
  stop(): void;
}

function startDirectLine(base: string, token: string, userId?: string): ClientRun {
  const activities: Json[] = [];
  const ajaxCalls: string[] = [];
  const socketUrls: string[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      socketUrls.push(url);
      super(url);
    }
  }
  const directLine = new DirectLine({
    token,
    domain: `${base}/v3/directline`,
    webSocket: true,
    ajax: fetchAjax(ajaxCalls) as never,
    WebSocket: RecordingWebSocket as never,
  });
  // As Web Chat does with its userID prop: before the connection starts.
  if (userId) directLine.setUserId(userId);
  const subscription = directLine.activity$.subscribe((a) => activities.push(a as unknown as Json));
  return {
    directLine,
    activities,
    ajaxCalls,
    socketUrls,
    stop: () => {
      subscription.unsubscribe();
      directLine.end();
    },
  };
}

function postWith(directLine: DirectLine, activity: Json): Promise<string> {
  return new Promise((resolve, reject) => {
    directLine.postActivity(activity as never).subscribe({ next: (id: string) => resolve(id), error: reject });
  });
}

// ---- servers ---------------------------------------------------------------------------------

let A: Running;
let B: Running;
let C: Running;
const SECRET = 'test-direct-line-secret-0123456789';
const globals = globalThis as Record<string, unknown>;
const hadWebSocket = 'WebSocket' in globals;

beforeAll(async () => {
  if (!hadWebSocket) globals.WebSocket = WebSocket;
  A = await startServer({}, echoBot);
  B = await startServer({ secret: SECRET, tokenTtlSeconds: 1, limits: { maxActivities: 3, idleSeconds: 1, heartbeatSeconds: 0.2 } }, async () => undefined);

  // As the app: the in-process adapter runs a botbuilder bot; its replies go through the handle.
  const bot = new ActivityHandler();
  C = await startServer(
    {},
    async (activity, handle) => {
      await new WebChatAdapter(() => handle).processActivity(activity as unknown as Activity, (context) => bot.run(context));
    },
    (server) => {
      server.use(restify.plugins.bodyParser({ maxBodySize: 256 * 1024, mapParams: false, rejectUnknown: true }));
      bot.onMembersAdded(async (context, next) => {
        for (const member of context.activity.membersAdded ?? []) {
          if (member.id !== context.activity.recipient.id) await context.sendActivity(`welcome ${member.id}`);
        }
        await next();
      });
      bot.onMessage(async (context, next) => {
        await context.sendActivity({ type: 'typing' });
        const draft = await context.sendActivity(MessageFactory.text('thinking'));
        await context.updateActivity({ ...MessageFactory.text(`echo: ${context.activity.text}`), id: draft?.id });
        await next();
      });
    },
  );
});

afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop(), C?.stop()]);
  await Promise.all(clients.map((c) => c.close()));
  if (!hadWebSocket) delete globals.WebSocket;
});

// ---- tests -----------------------------------------------------------------------------------

describe('Direct Line 3.0 REST', () => {
  it('starts a conversation from a page token, takes an activity, delivers it stamped, returns the echo by watermark', async () => {
    const page = await call('GET', `${A.base}/api/webchat/token`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(typeof page.body.token).toBe('string');
    expect(page.body.conversationId).toMatch(/^[0-9a-z]{6}[A-Za-z0-9_-]{22}$/); // bucket, then 128 random bits
    // The server chose the user: a random id, in the token's claim, and a key to be recognised by.
    const userId: string = page.body.userId;
    expect(userId).toMatch(/^u-[0-9a-f]{32}$/);
    expect(JSON.parse(Buffer.from(page.body.token.split('.')[1], 'base64url').toString()).user).toBe(userId);
    expect(page.body.customerKey).toMatch(new RegExp(`^${userId}\\.[A-Za-z0-9_-]{43}$`));

    const start = await call('POST', `${A.base}/v3/directline/conversations`, { token: page.body.token, body: { user: { id: userId } } });
    expect(start.status).toBe(201);
    const conversationId: string = start.body.conversationId;
    expect(conversationId).toBe(page.body.conversationId);
    expect(start.body.expires_in).toBe(1800);
    expect(start.body.streamUrl).toBe(
      `ws://127.0.0.1:${A.port}/v3/directline/conversations/${conversationId}/stream?t=${encodeURIComponent(start.body.token)}`,
    );
    const token: string = start.body.token;

    // The client tries to set channel-owned fields; they are replaced or dropped.
    const posted = await call('POST', `${A.base}/v3/directline/conversations/${conversationId}/activities`, {
      token,
      body: {
        type: 'message',
        text: '快递三天了还没到',
        from: { id: 'u-alice', name: 'Alice', role: 'bot' },
        channelId: 'msteams',
        serviceUrl: 'http://evil.example',
        recipient: { id: 'someone' },
        conversation: { id: 'other' },
        deliveryMode: 'expectReplies',
        callerId: 'urn:botframework:azure',
        channelData: { clientActivityID: 'client-1' },
      },
    });
    expect(posted.status).toBe(200);
    expect(posted.body.id).toBe(`${conversationId}|0000001`);

    const message = A.delivered.find((a) => a.type === 'message' && a.conversation.id === conversationId);
    expect(message).toMatchObject({
      id: `${conversationId}|0000001`,
      channelId: 'webchat',
      conversation: { id: conversationId },
      from: { id: expect.stringMatching(/^webchat:c-[\w-]{22}$/), name: 'Alice', role: 'user' },
      recipient: { id: 'bot', role: 'bot' },
      serviceUrl: `${A.base}/v3/directline`,
      text: '快递三天了还没到',
      channelData: { clientActivityID: 'client-1' },
    });
    expect(message?.deliveryMode).toBeUndefined();
    expect(message?.callerId).toBeUndefined();
    expect(Date.parse(message?.timestamp)).toBeGreaterThan(Date.now() - 60_000);
    // The conversationUpdate with the bot and the user came first (bots greet in onMembersAdded).
    const update = A.delivered.find((a) => a.type === 'conversationUpdate' && a.conversation.id === conversationId);
    // The bot sees the customer's pseudonymous reference, not the id the client holds.
    const reference = message!.from.id as string;
    expect(reference).not.toContain(userId);
    expect(update?.membersAdded).toEqual([{ id: 'bot' }, { id: reference }]);
    expect(A.delivered.indexOf(update!)).toBeLessThan(A.delivered.indexOf(message!));

    const all = await call('GET', `${A.base}/v3/directline/conversations/${conversationId}/activities?watermark=`, { token });
    expect(all.status).toBe(200);
    expect(all.body.watermark).toBe('3');
    expect(all.body.activities.map((a: Json) => [a.id, a.type, a.from.role])).toEqual([
      [`${conversationId}|0000001`, 'message', 'user'],
      [`${conversationId}|0000002`, 'typing', 'bot'],
      [`${conversationId}|0000003`, 'message', 'bot'],
    ]);
    expect(all.body.activities[0].serviceUrl).toBeUndefined();
    expect(all.body.activities[2]).toMatchObject({ text: 'echo: 快递三天了还没到', replyToId: `${conversationId}|0000001`, channelId: 'webchat' });

    const after = await call('GET', `${A.base}/v3/directline/conversations/${conversationId}/activities?watermark=2`, { token });
    expect(after.body.activities.map((a: Json) => a.id)).toEqual([`${conversationId}|0000003`]);
    expect(after.body.watermark).toBe('3');
    const none = await call('GET', `${A.base}/v3/directline/conversations/${conversationId}/activities?watermark=3`, { token });
    expect(none.body).toEqual({ activities: [], watermark: '3' });

    // The user id is bound to the conversation: a later activity cannot switch it.
    await call('POST', `${A.base}/v3/directline/conversations/${conversationId}/activities`, {
      token,
      body: { type: 'message', text: 'x', from: { id: 'u-mallory' } },
    });
    expect(A.delivered.at(-1)?.from.id).toBe(reference);
  });

  it('reconnects, refreshes and generates tokens', async () => {
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    expect(start.status).toBe(201);
    const { conversationId, token } = start.body as { conversationId: string; token: string };

    const reconnect = await call('GET', `${A.base}/v3/directline/conversations/${conversationId}?watermark=7`, { token });
    expect(reconnect.status).toBe(200);
    expect(reconnect.body.conversationId).toBe(conversationId);
    expect(reconnect.body.streamUrl).toMatch(new RegExp(`/v3/directline/conversations/${conversationId}/stream\\?t=[^&]+&watermark=7$`));

    const refreshed = await call('POST', `${A.base}/v3/directline/tokens/refresh`, { token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.conversationId).toBe(conversationId);
    expect(refreshed.body.token).not.toBe(token);
    expect((await call('GET', `${A.base}/v3/directline/conversations/${conversationId}/activities`, { token: refreshed.body.token })).status).toBe(200);

    // Without a secret configured, generating is open but the server picks the user; with one
    // (server B) it needs the secret, whose holder may name the user.
    const generated = await call('POST', `${A.base}/v3/directline/tokens/generate`, { body: {} });
    expect(generated.status).toBe(200);
    const claims = JSON.parse(Buffer.from(generated.body.token.split('.')[1], 'base64url').toString()) as Json;
    expect(claims).toMatchObject({ conv: generated.body.conversationId, user: expect.stringMatching(/^u-[0-9a-f]{32}$/) });
    expect((await call('POST', `${B.base}/v3/directline/tokens/generate`)).status).toBe(401);
    expect((await call('POST', `${B.base}/v3/directline/conversations`)).status).toBe(401);
    const withSecret = await call('POST', `${B.base}/v3/directline/tokens/generate`, { token: SECRET, body: { user: { id: 'u-bob' } } });
    expect(withSecret.status).toBe(200);
    expect(withSecret.body.expires_in).toBe(1);
    expect(JSON.parse(Buffer.from(withSecret.body.token.split('.')[1], 'base64url').toString()).user).toBe('u-bob');
  });

  it('rejects bad tokens with 401 and expired ones with 403 (directlinejs\'s "expired token")', async () => {
    const mine = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const other = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const url = `${A.base}/v3/directline/conversations/${mine.body.conversationId}/activities`;
    const [h, p] = (mine.body.token as string).split('.');
    const forgedClaims = Buffer.from(JSON.stringify({ iss: 'demand-desk-directline', conv: other.body.conversationId, user: 'u-x', exp: 9e9 })).toString('base64url');

    for (const [what, token] of [
      ['no token', undefined],
      ['garbage', 'not-a-token'],
      ['bad signature', `${h}.${p}.${'A'.repeat(43)}`],
      ['forged claims', `${h}.${forgedClaims}.${(mine.body.token as string).split('.')[2]}`],
      ['another conversation\'s token', other.body.token],
      ['another server\'s token', (await call('GET', `${C.base}/api/webchat/token`)).body.token],
    ] as const) {
      const got = await call('GET', url, { token });
      expect(got.status, what).toBe(401);
      expect(got.body.error.code, what).toBe('Unauthorized');
      expect(typeof got.body.error.message, what).toBe('string');
      expect((await call('POST', url, { token, body: { type: 'message', text: 'hi', from: { id: 'u' } } })).status, what).toBe(401);
    }
    expect((await call('GET', url, { headers: { Authorization: 'Basic abc' } })).status).toBe(401);

    // Server B's tokens live one second.
    const b = await call('POST', `${B.base}/v3/directline/conversations`, { token: SECRET, body: {} });
    const bToken = (await call('POST', `${B.base}/v3/directline/tokens/generate`, { token: SECRET })).body as Json;
    expect((await call('GET', `${B.base}/v3/directline/conversations/${bToken.conversationId}/activities`, { token: bToken.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const expired = await call('GET', `${B.base}/v3/directline/conversations/${bToken.conversationId}/activities`, { token: bToken.token });
    expect(expired.status).toBe(403);
    expect(expired.body.error.code).toBe('TokenExpired');
    expect((await call('POST', `${B.base}/v3/directline/tokens/refresh`, { token: bToken.token })).status).toBe(403);
    // ... and its conversations are gone one second after they started.
    expect((await call('GET', `${B.base}/v3/directline/conversations/${b.body.conversationId}/activities`, { token: SECRET })).status).toBe(404);
  });

  it('rejects malformed, oversized and invalid bodies with 400 and a JSON error', async () => {
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const { conversationId, token } = start.body as { conversationId: string; token: string };
    const url = `${A.base}/v3/directline/conversations/${conversationId}/activities`;
    const before = A.delivered.length;

    const cases: Array<[string, { raw?: string; body?: unknown }, string]> = [
      ['malformed JSON', { raw: '{"type": "message", "text": ' }, 'BadSyntax'],
      ['not an object', { raw: '[1,2,3]' }, 'BadArgument'],
      ['empty body', { raw: '' }, 'MissingProperty'],
      ['no type', { body: { text: 'hi', from: { id: 'u' } } }, 'BadArgument'],
      ['unsupported type', { body: { type: 'invoke', from: { id: 'u' } } }, 'BadArgument'],
      ['text not a string', { body: { type: 'message', text: 42, from: { id: 'u' } } }, 'BadArgument'],
      ['from.id not a string', { body: { type: 'message', text: 'hi', from: { id: 7 } } }, 'BadArgument'],
      ['oversized', { body: { type: 'message', text: '字'.repeat(MAX_CLIENT_BODY_BYTES / 3 + 10), from: { id: 'u' } } }, 'MessageSizeTooBig'],
    ];
    for (const [what, body, code] of cases) {
      const got = await call('POST', url, { token, ...body });
      expect(got.status, what).toBe(400);
      expect(got.body.error.code, what).toBe(code);
      expect(got.body.error.message.length, what).toBeGreaterThan(5);
    }
    expect(A.delivered.length).toBe(before);
    const bad = await call('GET', `${url}?watermark=abc`, { token });
    expect(bad.status).toBe(400);

    // A global body parser in front (server C, as the app has) is fine: the parsed body is checked.
    const c = await call('POST', `${C.base}/v3/directline/conversations`, { body: {} });
    const big = await call('POST', `${C.base}/v3/directline/conversations/${c.body.conversationId}/activities`, {
      token: c.body.token,
      body: { type: 'message', text: 'a'.repeat(70_000), from: { id: 'u' } },
    });
    expect(big.status).toBe(400);
    expect(big.body.error.code).toBe('MessageSizeTooBig');
  });

  it('answers 404 for unknown conversations and activities', async () => {
    const unknown = 'AAAAAAAAAAAAAAAAAAAAAA';
    const withSecret = await call('GET', `${B.base}/v3/directline/conversations/${unknown}/activities`, { token: SECRET });
    expect(withSecret.status).toBe(404);
    expect(withSecret.body.error.code).toBe('NotFound');
    expect((await call('GET', `${B.base}/v3/directline/conversations/${unknown}`, { token: SECRET })).status).toBe(404);
    const reply = await call('POST', `${A.base}/v3/directline/connector/v3/conversations/${unknown}/activities`, { body: { type: 'message', text: 'x' } });
    expect(reply.status).toBe(404);
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const update = await call('PUT', `${A.base}/v3/directline/connector/v3/conversations/${start.body.conversationId}/activities/${encodeURIComponent(`${start.body.conversationId}|0000099`)}`, {
      body: { type: 'message', text: 'x' },
    });
    expect(update.status).toBe(404);
  });

  it('keeps only the last activities of a conversation', async () => {
    // Its own server: B's conversations last one second, too short for a busy machine.
    const capped = await startServer({ secret: SECRET, limits: { maxActivities: 3 } }, async () => undefined);
    try {
      const start = await call('POST', `${capped.base}/v3/directline/conversations`, { token: SECRET, body: { user: { id: 'u-cap' } } });
      expect(start.status).toBe(201);
      const url = `${capped.base}/v3/directline/conversations/${start.body.conversationId}/activities`;
      for (let i = 1; i <= 5; i++) {
        expect((await call('POST', url, { token: SECRET, body: { type: 'message', text: `m${i}`, from: { id: 'u-cap' } } })).status).toBe(200);
      }
      const got = await call('GET', url, { token: SECRET });
      expect(got.body.activities.map((a: Json) => a.text)).toEqual(['m3', 'm4', 'm5']);
      expect(got.body.watermark).toBe('5');
    } finally {
      await capped.stop();
    }
  });
});

describe('Direct Line stream (WebSocket)', () => {
  it('delivers {activities, watermark} messages, tolerates keep-alives, replays after a watermark on reconnect', async () => {
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const { conversationId, token, streamUrl } = start.body as { conversationId: string; token: string; streamUrl: string };
    const first = await openStream(streamUrl);
    first.ws.send(''); // directlinejs pings with empty messages every `timeout`

    const posted = await call('POST', `${A.base}/v3/directline/conversations/${conversationId}/activities`, {
      token,
      body: { type: 'message', text: '你好', from: { id: 'u-ws' }, channelData: { clientActivityID: 'c-1' } },
    });
    expect(posted.status).toBe(200);
    await waitFor(() => first.messages.length >= 3 || undefined, 'three stream messages');
    expect(first.messages).toEqual([
      { activities: [expect.objectContaining({ id: posted.body.id, type: 'message', text: '你好', channelData: { clientActivityID: 'c-1' } })], watermark: '1' },
      { activities: [expect.objectContaining({ type: 'typing', from: expect.objectContaining({ role: 'bot' }) })], watermark: '2' },
      { activities: [expect.objectContaining({ type: 'message', text: 'echo: 你好', replyToId: posted.body.id })], watermark: '3' },
    ]);
    expect(first.ws.readyState).toBe(WebSocket.OPEN);
    first.ws.close();
    await once(first.ws, 'close');

    // directlinejs reconnects through GET /conversations/{id}?watermark= and opens the new streamUrl.
    const again = await call('GET', `${A.base}/v3/directline/conversations/${conversationId}?watermark=2`, { token });
    const second = await openStream(again.body.streamUrl);
    await waitFor(() => second.messages.length >= 1 || undefined, 'the replay');
    expect(second.messages[0].watermark).toBe('3');
    expect(second.messages[0].activities.map((a: Json) => a.text)).toEqual(['echo: 你好']);
    second.ws.close();

    // Without a watermark, a new stream replays what is retained (a greeting sent before it opened).
    const third = await openStream(start.body.streamUrl);
    await waitFor(() => third.messages.length >= 1 || undefined, 'the full replay');
    expect(third.messages[0].activities).toHaveLength(3);
    third.ws.close();
  });

  it('pushes every reply at once in a single process, also while streams opening on the conversation are catching up', async () => {
    // A is one process alone on its database: the 5-second safety sweep never runs there (it runs
    // only while other processes ring the feed) and the feed poll skips this process's own bells,
    // so a reply whose push was lost would never come (each turn is awaited before the next is
    // appended, and only a later append would catch a socket up). Streams open while the
    // customer's messages and the bot's replies are being appended, so their replay from the log
    // is in flight when the appends arrive; each reply must still reach every stream. Arriving at
    // all is the proof, so the wait is generous: a fixed 2.5 s failed on a loaded machine.
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const { conversationId, token, streamUrl } = start.body as { conversationId: string; token: string; streamUrl: string };
    const streams: Awaited<ReturnType<typeof openStream>>[] = [await openStream(streamUrl)];
    const arrived = (s: (typeof streams)[number], id: string) => s.messages.some((m) => m.activities.some((a: Json) => a.replyToId === id && a.type === 'message'));
    for (let i = 0; i < 4; i++) {
      const opening = i < 2 ? openStream(streamUrl) : null; // opened (and replaying) while this turn is appended
      const posted = await call('POST', `${A.base}/v3/directline/conversations/${conversationId}/activities`, {
        token,
        body: { type: 'message', text: `第${i + 1}条`, from: { id: 'u-catch-up' } },
      });
      expect(posted.status).toBe(200);
      // The POST is answered once the bot's echo is appended: from here it is the stream's push.
      if (opening) streams.push(await opening);
      for (const s of streams) {
        await waitFor(() => arrived(s, posted.body.id) || undefined, `the echo of message ${i + 1} on every stream`, 30_000);
      }
    }
    // Every stream has the whole log, in order, each activity once.
    for (const s of streams) {
      const seqs = s.messages.flatMap((m) => m.activities.map((a: Json) => Number(String(a.id).split('|')[1])));
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => seqs[0] + k));
      expect(seqs[seqs.length - 1]).toBe(12);
      s.ws.close();
    }
  });

  it('sends empty keep-alive messages, which directlinejs ignores, and keeps the stream open', async () => {
    const start = await call('POST', `${B.base}/v3/directline/conversations`, { token: SECRET, body: {} });
    // B's tokens live one second; the secret opens the stream however busy the machine is.
    const stream = await openStream(start.body.streamUrl.replace(/\?t=[^&]+/, `?t=${SECRET}`));
    let pings = 0;
    stream.ws.on('ping', () => pings++);
    await waitFor(() => stream.raw.filter((m) => m === '').length >= 2 || undefined, 'two keep-alives');
    expect(stream.messages).toEqual([]);
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(stream.ws.readyState).toBe(WebSocket.OPEN);
    stream.ws.close();
  });

  it('refuses streams with bad tokens (401), for unknown conversations (404) and unknown paths', async () => {
    const start = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const other = await call('POST', `${A.base}/v3/directline/conversations`, { body: {} });
    const wsBase = `ws://127.0.0.1:${A.port}/v3/directline/conversations`;
    expect(await upgradeStatus(`${wsBase}/${start.body.conversationId}/stream`)).toBe(401);
    expect(await upgradeStatus(`${wsBase}/${start.body.conversationId}/stream?t=nope`)).toBe(401);
    expect(await upgradeStatus(`${wsBase}/${start.body.conversationId}/stream?t=${other.body.token}`)).toBe(401);
    expect(await upgradeStatus(`ws://127.0.0.1:${B.port}/v3/directline/conversations/AAAAAAAAAAAAAAAAAAAAAA/stream?t=${SECRET}`)).toBe(404);
    expect(await upgradeStatus(`ws://127.0.0.1:${A.port}/v3/directline/nothing`)).toBe(404);
  });

  it('works with the real botframework-directlinejs DirectLine client over WebSocket', async () => {
    const page = await call('GET', `${A.base}/api/webchat/token`);
    const client = startDirectLine(A.base, page.body.token);
    try {
      await waitFor(() => client.directLine.connectionStatus$.getValue() === ConnectionStatus.Online || undefined, 'Online');
      await waitFor(() => client.socketUrls.length > 0 || undefined, 'the WebSocket');
      const id = await postWith(client.directLine, { type: 'message', from: { id: 'u-dl', name: 'DL' }, text: '退款进度怎么查', channelData: { clientActivityID: 'dl-1' } });
      expect(id).toBe(`${page.body.conversationId}|0000001`);

      const echo = await waitFor(() => client.activities.find((a) => a.type === 'message' && a.from.role === 'bot'), 'the echo');
      expect(echo.text).toBe('echo: 退款进度怎么查');
      const own = client.activities.find((a) => a.id === id);
      expect(own).toMatchObject({ from: { id: expect.stringMatching(/^webchat:c-[\w-]{22}$/), role: 'user' }, channelData: { clientActivityID: 'dl-1' } });
      expect(client.activities.some((a) => a.type === 'typing')).toBe(true);
      expect(client.socketUrls[0]).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${A.port}/v3/directline/conversations/${page.body.conversationId}/stream\\?t=`));
      // The stream, not polling, carried the activities.
      expect(client.ajaxCalls.filter((c) => c.startsWith('GET ') && c.includes('/activities'))).toEqual([]);
      expect(client.ajaxCalls[0]).toBe(`POST ${A.base}/v3/directline/conversations`);
    } finally {
      client.stop();
    }
  });
});

describe('with a real botbuilder bot behind the in-process web chat adapter', () => {
  it('greets on start, then streams typing, the reply and its update', async () => {
    const page = await call('GET', `${C.base}/api/webchat/token`);
    const client = startDirectLine(C.base, page.body.token, page.body.userId);
    try {
      await waitFor(() => client.directLine.connectionStatus$.getValue() === ConnectionStatus.Online || undefined, 'Online');
      const greeting = await waitFor(() => client.activities.find((a) => a.type === 'message' && /^welcome/.test(a.text)), 'the greeting');
      expect(greeting.text).toMatch(new RegExp(`^welcome ${WEBCHAT_USER_PREFIX}c-[\\w-]{22}$`));

      const id = await postWith(client.directLine, { type: 'message', from: { id: page.body.userId }, text: '产品质量有问题' });
      const final = await waitFor(() => client.activities.find((a) => a.type === 'message' && a.text === 'echo: 产品质量有问题'), 'the updated reply');
      const draft = client.activities.find((a) => a.text === 'thinking');
      expect(draft?.id).toBe(final.id); // the update kept the id: Web Chat replaces the bubble
      expect(draft?.replyToId).toBe(id);
      expect(client.activities.some((a) => a.type === 'typing' && a.replyToId === id)).toBe(true);

      const log = await call('GET', `${C.base}/v3/directline/conversations/${page.body.conversationId}/activities`, { token: page.body.token });
      expect(log.body.activities.filter((a: Json) => a.id === final.id).map((a: Json) => a.text)).toEqual(['echo: 产品质量有问题']);
      expect(C.delivered.filter((a) => a.conversation.id === page.body.conversationId).map((a) => a.type)).toEqual(['conversationUpdate', 'message']);
    } finally {
      client.stop();
    }
  });

  it('answers 502 when the bot fails, keeping the activity in the log', async () => {
    const failing = await startServer({}, async () => {
      throw new Error('bot down');
    });
    try {
      const s = await call('POST', `${failing.base}/v3/directline/conversations`, { body: {} });
      const got = await call('POST', `${failing.base}/v3/directline/conversations/${s.body.conversationId}/activities`, {
        token: s.body.token,
        body: { type: 'message', text: 'hi', from: { id: 'u' } },
      });
      expect(got.status).toBe(502);
      expect(got.body.error.code).toBe('BotError');
      const log = await call('GET', `${failing.base}/v3/directline/conversations/${s.body.conversationId}/activities`, { token: s.body.token });
      expect(log.body.activities.map((a: Json) => a.text)).toEqual(['hi']);
    } finally {
      await failing.stop();
    }
  });
});

describe('web chat page', () => {
  it('serves the Chinese page by default and English with ?lang=en', async () => {
    const zh = await fetch(`${A.base}/`);
    expect(zh.status).toBe(200);
    expect(zh.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await zh.text();
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain('<title>客户服务</title>');
    expect(html).toContain('<script src="/static/webchat.js"></script>');
    expect(html).toContain("fetch('/api/webchat/token?locale=' + encodeURIComponent(config.locale)");
    expect(html).toContain("var domain = window.location.origin + '/v3/directline';");
    // The re-sending queue (bot/webchat-resend.ts) is inlined as is, with the note in the page's language.
    expect(html).toContain(RESEND_SCRIPT);
    expect(html).toContain('keepUnsent(directLine, domain, body);');
    expect(html).toContain(JSON.stringify(PENDING_NOTES['zh-Hans']));
    expect(html).toContain('"locale":"zh-CN"');
    expect(html).toContain('renderWebChat');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // no external network
    const nonce = /<script nonce="([^"]+)">/.exec(html)?.[1];
    expect(zh.headers.get('content-security-policy')).toContain(`'nonce-${nonce}'`);

    const en = await (await fetch(`${A.base}/?lang=en`)).text();
    expect(en).toContain('<html lang="en">');
    expect(en).toContain('<title>Customer service</title>');
    expect(en).toContain('"locale":"en-US"');
    expect(en).toContain(JSON.stringify(PENDING_NOTES.en));

    const hant = await (await fetch(`${A.base}/?lang=zh-Hant`)).text();
    expect(hant).toContain('<html lang="zh-Hant">');
    expect(hant).toContain('<title>客戶服務</title>');
    expect(hant).toContain('"locale":"zh-TW"');
    expect(hant).toContain(JSON.stringify(PENDING_NOTES['zh-Hant']));
  });

  it('serves the Web Chat bundle from node_modules', async () => {
    const res = await fetch(`${A.base}/static/webchat.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(readFileSync(webChatBundlePath()))).toBe(true);
    expect(body.toString('utf8')).toContain('renderWebChat');
    const etag = res.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(`${A.base}/static/webchat.js`, { headers: { 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
  });
});
