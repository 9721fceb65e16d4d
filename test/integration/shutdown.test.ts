/**
 * The server's graceful stop (bot/shutdown.ts, what `npm start` runs on SIGINT/SIGTERM), on the app
 * over its own embedded database and real HTTP: a write kept in the spool beside the outbox and
 * still pending at the stop is replayed while the channels are open (a web chat customer's Direct
 * Line stream is still connected when the final replay has run, and is closed after it), and one the
 * database cannot take at the stop stays in the spool and is written at the next start; a staff
 * request in flight at the stop is waited for (its normal answer, its change stored, before the
 * services and the database close) while a request arriving meanwhile is refused with 503. And
 * `bot/main.ts` as its own process: SIGTERM runs that stop and exits 0.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect } from 'node:net';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { shutDown } from '../../bot/shutdown.js';
import { heldMessagesPath, type KeptAuditEntry } from '../../store/held-messages.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { startBotProcess, stopBotProcesses } from '../helpers/bot-process.js';
import { whileDatabaseDown } from '../helpers/reconnected.js';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let own: AppOnOwnDatabase;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('shutdown-');
});

afterAll(async () => {
  await stopBotProcesses();
  await own?.stop();
});

/** A web chat customer as the page connects (token, conversation, Direct Line stream); the open stream. */
async function webChatStream(base: string): Promise<WebSocket> {
  const page = (await (await fetch(`${base}/api/webchat/token?locale=zh-CN`)).json()) as { token: string };
  const started = await fetch(`${base}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${page.token}`, 'content-type': 'application/json' }, body: '{}' });
  expect(started.status).toBeLessThan(300);
  const { streamUrl } = (await started.json()) as { streamUrl: string };
  const ws = new WebSocket(streamUrl);
  await once(ws, 'open');
  return ws;
}

/** A kept audit entry (store/held-messages.ts), as `auditAfterChange` keeps one the database could not take. */
function keptEntry(action: string): KeptAuditEntry {
  return { kind: 'audit-entry', entry: { id: randomUUID(), at: new Date(), actor: 'agent1', action, target: null, details: {} } };
}

const stored = async (action: string) => (await own.store.audit.list({ action })).total;

/** A connection that has sent part of a request's head (so the stop does not close it as idle): `finish()` sends the rest and resolves with the whole answer. */
async function halfSentRequest(base: string, path: string): Promise<{ finish: () => Promise<string> }> {
  const socket = connect(Number(new URL(base).port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
  const ended = once(socket, 'close');
  return {
    finish: async () => {
      socket.write('Accept: application/json\r\n\r\n');
      await ended;
      return answer;
    },
  };
}

describe('graceful stop', () => {
  it('keeps in the spool what the database cannot take at the stop, and the next start writes it', async () => {
    const kept = keptEntry('test.keptAtStop');
    // A second server process on the same files: the one that stops.
    const other = await own.anotherProcess();
    await whileDatabaseDown(own.database, async () => {
      await other.services.store.held.append(kept);
      await shutDown(other.app, other.services, log, { turnsMs: 1_000 });
      // Still there after the stop, on disk, for the next start.
      expect(other.services.store.held.pending()).toBe(1);
      expect(readFileSync(heldMessagesPath(own.config.OUTBOX_PATH), 'utf8')).toContain(kept.entry.id);
    });
    expect(await stored(kept.entry.action)).toBe(0);
    // The next start (main() replays before it listens): the same spool file, written once.
    await own.services.tickets.flushOutbox();
    expect(await stored(kept.entry.action)).toBe(1);
    expect(own.services.store.held.pending()).toBe(0);
  });

  it('waits for a staff request in flight: it gets its normal answer and its reply is stored before the services close; a request arriving meanwhile gets 503', async () => {
    // A second server process on the same database: the one that stops.
    const other = await own.anotherProcess();
    await other.app.staff.auth.createUser({ username: 'stopper', password: 'stop-pass-1234', role: 'agent', createdBy: 'test' });
    const { token } = await other.app.staff.auth.login('stopper', 'stop-pass-1234', '127.0.0.1');
    const text0 = '发票开错了，请重开';
    const { ticket } = await other.services.tickets.fileForCustomer({ channel: 'phone', text: text0, customer: { phone: '13800000081' } }, other.services.runtime.holder.classify(text0), 'seed');
    // The customer's channel takes the reply only when the test lets it: the request stays in flight until then.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let delivering!: () => void;
    const deliveryStarted = new Promise<void>((r) => (delivering = r));
    other.services.useCustomerChannel({
      deliver: async () => {
        delivering();
        await released;
        return null;
      },
      askRating: async () => null,
    });
    const order: string[] = [];
    const close = other.services.close.bind(other.services);
    const spy = vi.spyOn(other.services, 'close').mockImplementation(async () => {
      order.push('services closed');
      return close();
    });
    try {
      const text = '已为您重开发票，请查收邮件。';
      const reply = fetch(`${other.url}/api/tickets/${ticket.number}/replies`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }) }).then(async (res) => {
        order.push('answered');
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      });
      await deliveryStarted;
      const late = await halfSentRequest(other.url, '/healthz');

      const stop = shutDown(other.app, other.services, log, { turnsMs: 8_000 }).then(() => order.push('stopped'));
      // Arriving after the stop began, on a connection it could not close: refused, as a load balancer expects.
      const refused = await late.finish();
      expect(refused).toMatch(/^HTTP\/1\.1 503 /);
      expect(refused).toMatch(/\r\nretry-after: 5\r\n/i);
      expect(refused).toMatch(/\r\nconnection: close\r\n/i);
      expect(refused).toContain('"code":"SERVER_STOPPING"');
      await new Promise((r) => setTimeout(r, 300));
      expect(order).toEqual([]);

      release();
      const answer = await reply;
      await stop;
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({ delivered: true, recorded: true });
      expect(order).toEqual(['answered', 'services closed', 'stopped']);
      const stored = (await own.store.tickets.get(ticket.number))!.replies.filter((r) => r.text === text);
      expect(stored).toEqual([expect.objectContaining({ delivered: true, by: 'stopper' })]);
    } finally {
      release();
      spy.mockRestore();
    }
  });

  it('replays a kept write pending at the stop while the channels are still open, and closes them after', async () => {
    const ws = await webChatStream(own.url);
    const closed = once(ws, 'close');

    const kept = keptEntry('test.pendingAtStop');
    await own.services.store.held.append(kept);
    expect(own.services.store.held.pending()).toBe(1);

    // Observes the final replay (it runs the real one): was the customer's stream open when it ended?
    const replay = own.services.tickets.flushOutbox.bind(own.services.tickets);
    let streamOpenAfterReplay: boolean | null = null;
    let replays = 0;
    const spy = vi.spyOn(own.services.tickets, 'flushOutbox').mockImplementation(async () => {
      replays++;
      const r = await replay();
      streamOpenAfterReplay = ws.readyState === WebSocket.OPEN;
      return r;
    });
    try {
      await shutDown(own.app, own.services, log, { turnsMs: 1_000 });
    } finally {
      spy.mockRestore();
    }
    expect(replays).toBe(1);
    expect(streamOpenAfterReplay).toBe(true);
    // Written by that replay, and the stream closed by the stop after it.
    expect(own.services.store.held.pending()).toBe(0);
    const [code] = (await closed) as [number];
    expect(code).toBe(1001);
    // The database was closed by the stop only when this process opened it; the test's is supervised here.
    expect(await stored(kept.entry.action)).toBe(1);
  });

  it('runs on SIGTERM in a server process (bot/main.ts): the customer stream closed, the process gone with exit code 0', async () => {
    const launched = await startBotProcess('shutdown');
    const ws = await webChatStream(launched.base);
    const closed = once(ws, 'close');
    const exited = once(launched.child, 'exit');
    launched.child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    expect(((await closed) as [number])[0]).toBe(1001);
    const text = launched.log.join('');
    expect(text.indexOf('"shutting down"')).toBeGreaterThan(-1);
    expect(text.indexOf('"stopped"')).toBeGreaterThan(text.indexOf('"shutting down"'));
  });
});
