/**
 * `PORT=0`: the bot server binds a port the system picks and reports it (its listening message over
 * an IPC channel, and its `listening` log line), so a test or benchmark that starts it as its own
 * process never passes it a port that another process could take first (`spawnBotServer` in
 * scripts/server-process.ts, used by the multi-process and node-flags tests and the benchmarks).
 * Real server processes (`bot/main.ts`) on the test database server.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { SERVER_NODE_ARGS } from '../../runtime/node-flags.js';
import { freePort, reportsItsPort, spawnBotServer, waitReady } from '../../scripts/server-process.js';
import { stopChild } from '../../scripts/temp-dir.js';

const running: ChildProcess[] = [];
const dirs: string[] = [];
let intruder: Server | undefined;

afterAll(async () => {
  await Promise.all(running.map((c) => stopChild(c)));
  intruder?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Starts `bot/main.ts` with PORT=0 (set by spawnBotServer), its log at info on stdout, kept. */
async function start(): Promise<{ child: ChildProcess; port: number; base: string; log: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'server-port-'));
  dirs.push(dir);
  const log: string[] = [];
  const launched = await spawnBotServer({
    main: join(PROJECT_ROOT, 'bot/main.ts'),
    nodeArgs: [...SERVER_NODE_ARGS, '--import', 'tsx'],
    cwd: PROJECT_ROOT,
    env: { ...process.env, MONGODB_URI: inject('mongoUri'), DB_NAME: `port_${randomUUID().slice(0, 8)}`, HOST: '127.0.0.1', OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    onSpawn: (c) => {
      running.push(c);
      c.stdout!.setEncoding('utf8').on('data', (d: string) => log.push(d));
      c.stderr!.setEncoding('utf8').on('data', (d: string) => log.push(d));
    },
  }).catch((err: Error) => {
    throw new Error(`${err.message}: ${log.join('')}`);
  });
  return { ...launched, log };
}

/** Whether something accepts connections on the loopback port. */
function accepts(port: number): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => true,
    () => false,
  );
}

describe('PORT=0', () => {
  it("this build's server is launched on PORT=0 (it reports its port); a build without the message is not", () => {
    expect(reportsItsPort(join(PROJECT_ROOT, 'bot/main.ts'))).toBe(true);
    expect(reportsItsPort(join(PROJECT_ROOT, 'dist/bot/main.js'))).toBe(true);
    expect(reportsItsPort(join(PROJECT_ROOT, 'scripts/main.js'))).toBe(false);
  });

  it('two servers started at once each bind a port of their own, report it, and answer on it; a port picked beforehand and then taken does not matter', async () => {
    // What the old harness did: pick a port that is free now, then pass it on. Another process takes it in between.
    const picked = await freePort();
    intruder = createServer();
    await new Promise<void>((ok, fail) => {
      intruder!.once('error', fail);
      intruder!.listen(picked, '127.0.0.1', ok);
    });

    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).toBeGreaterThan(0);
    expect(b.port).toBeGreaterThan(0);
    expect(a.port).not.toBe(b.port);
    expect([a.port, b.port]).not.toContain(picked);
    for (const s of [a, b]) {
      await waitReady(s.base, 120_000, s.child);
      expect(s.base).toBe(`http://127.0.0.1:${s.port}`);
    }

    // The log names the bound address, not the configured 0.
    const listening = a.log
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; port?: number; url?: string })
      .find((l) => l.msg === 'listening');
    expect(listening).toMatchObject({ port: a.port, url: `http://127.0.0.1:${a.port}` });

    // Each port is its own process's: stopping one closes its port only.
    await stopChild(a.child);
    expect(await accepts(a.port)).toBe(false);
    expect(await accepts(b.port)).toBe(true);
  });
});
