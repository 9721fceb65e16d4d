/**
 * Issue 14: the V8 flags the memory guard needs are passed when the server is launched
 * (runtime/node-flags.ts), not set at run time. Real server processes (`bot/main.ts`, each its own
 * Node process, on the test database server): launched as `npm start` and the benchmark launchers
 * launch it, the guard sees `gc` from launch and no warning is logged; launched bare, it falls back
 * to exposing `gc` at run time and says so at start; launched with `--heap-growing-percent`, the
 * guard leaves that value alone. What the guard saw is read from `/readyz` (`memory.flags`).
 * Launched as `npm start`, Node prints no deprecation warning either.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { SERVER_NODE_ARGS } from '../../runtime/node-flags.js';
import { startBotProcess, stopBotProcesses } from '../helpers/bot-process.js';

type Json = Record<string, any>;

afterAll(stopBotProcesses);

/** Starts `node <nodeArgs> bot/main.ts` and returns its /readyz body and what it wrote (log and stderr). */
async function launch(nodeArgs: readonly string[]): Promise<{ readyz: Json; output: () => string; child: ChildProcess }> {
  // The server binds a port of its own choosing and reports it (no port picked here that another process could take first).
  // The log (pino) is on stdout, Node's own warnings on stderr: both are kept.
  const { child, port, log: err } = await startBotProcess('node-flags', { nodeArgs, env: { NODE_OPTIONS: '', LOG_LEVEL: 'warn' } });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${err.join('')}`);
    const r = await fetch(`http://127.0.0.1:${port}/readyz`).then((res) => (res.ok ? (res.json() as Promise<Json>) : null), () => null);
    if (r) return { readyz: r, output: () => err.join(''), child };
    if (Date.now() > deadline) throw new Error(`server on ${port} not ready: ${err.join('')}`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

const WARNING = /started without --expose-gc/;

describe('the V8 flags of the memory guard', () => {
  it('npm start passes the launch flags', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${SERVER_NODE_ARGS.join(' ')} dist/bot/main.js`);
  });

  it('launched with them, the guard sees gc from launch and nothing is warned', async () => {
    const { readyz, output } = await launch(SERVER_NODE_ARGS);
    expect(readyz.memory.flags).toEqual({ gc: 'launch', heapGrowing: 'run-time', heapGrowingPercent: null });
    expect(output()).not.toMatch(WARNING);
    // Nor by Node: restify's unused spdy (deps/spdy-unused) printed DEP0111 twice at every start.
    expect(output()).not.toMatch(/DeprecationWarning|DEP0\d{3}/);
  });

  it('launched without them, the server still runs, falls back to run time, and warns at start', async () => {
    const { readyz, output } = await launch([]);
    expect(readyz.memory.flags).toEqual({ gc: 'run-time', heapGrowing: 'run-time', heapGrowingPercent: null });
    expect(output()).toMatch(WARNING);
  });

  it('a --heap-growing-percent fixed at launch is the guard\'s to leave alone', async () => {
    const { readyz } = await launch([...SERVER_NODE_ARGS, '--heap-growing-percent=40']);
    expect(readyz.memory.flags).toEqual({ gc: 'launch', heapGrowing: 'launch', heapGrowingPercent: 40 });
  });
});
