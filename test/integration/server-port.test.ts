/**
 * `PORT=0`: the bot server binds a port the system picks and reports it (its listening message over
 * an IPC channel, and its `listening` log line), so a test or benchmark that starts it as its own
 * process never passes it a port that another process could take first (`spawnBotServer` in
 * scripts/server-process.ts, used by the multi-process and node-flags tests and the benchmarks).
 * Real server processes (`bot/main.ts`) on the test database server.
 */
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { freePort, reportsItsPort, waitReady } from '../../scripts/server-process.js';
import { stopChild } from '../../scripts/temp-dir.js';
import { startBotProcess, stopBotProcesses } from '../helpers/bot-process.js';

let intruder: Server | undefined;

afterAll(async () => {
  await stopBotProcesses();
  intruder?.close();
});

/** Starts `bot/main.ts` with PORT=0 (set by spawnBotServer), its log at info kept. */
const start = () => startBotProcess('server-port');

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
