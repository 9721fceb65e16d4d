/**
 * The server's graceful stop (bot/shutdown.ts, what `npm start` runs on SIGINT/SIGTERM), on the app
 * over its own embedded database and real HTTP: a write kept in the spool beside the outbox and
 * still pending at the stop is replayed while the channels are open (a web chat customer's Direct
 * Line stream is still connected when the final replay has run, and is closed after it), and one the
 * database cannot take at the stop stays in the spool and is written at the next start.
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
import { reconnected, whileDatabaseDown } from '../helpers/reconnected.js';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let own: AppOnOwnDatabase;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('shutdown-');
});

afterAll(async () => {
  await own?.stop();
});

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
    await reconnected(own.database.db);
    expect(await stored(kept.entry.action)).toBe(0);
    // The next start (main() replays before it listens): the same spool file, written once.
    await own.services.tickets.flushOutbox();
    expect(await stored(kept.entry.action)).toBe(1);
    expect(own.services.store.held.pending()).toBe(0);
  });

  it('replays a kept write pending at the stop while the channels are still open, and closes them after', async () => {
    // A web chat customer, as the page connects: token, conversation, Direct Line stream.
    const page = (await (await fetch(`${own.url}/api/webchat/token?locale=zh-CN`)).json()) as { token: string };
    const started = await fetch(`${own.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${page.token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(started.status).toBeLessThan(300);
    const { streamUrl } = (await started.json()) as { streamUrl: string };
    const ws = new WebSocket(streamUrl);
    await once(ws, 'open');
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
});
