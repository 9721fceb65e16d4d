/**
 * The server's graceful stop (bot/shutdown.ts, what `npm start` runs on SIGINT/SIGTERM), on the app
 * over its own embedded database and real HTTP: a write kept in the spool beside the outbox and
 * still pending at the stop is replayed while the channels are open (a web chat customer's Direct
 * Line stream is still connected when the final replay has run, and is closed after it), and one the
 * database cannot take at the stop stays in the spool and is written at the next start. And
 * `bot/main.ts` as its own process: SIGTERM runs that stop and exits 0.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
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
