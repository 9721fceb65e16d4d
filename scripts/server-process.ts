/**
 * The bot server as its own OS process, for benchmarks that measure it from outside (`node
 * dist/bot/main.js` on a free port, embedded database in a temporary folder unless the caller's
 * environment names one), with its resident memory read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_ARGS } from '../runtime/node-flags.js';
import { benchTempDir, stopChild } from './temp-dir.js';

export interface ServerProcess {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  /** Resident memory of the server process in MiB (null once it has exited). */
  rssMiB(): number | null;
  /** Resident memory of the embedded database process, when the server runs one. */
  databaseRssMiB(): number | null;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and removes its temporary folder. */
  stop(): Promise<void>;
}

/** Starts `node dist/bot/main.js` with `env` over the defaults, and waits for /readyz. */
export async function startServerProcess(env: Record<string, string>, opts: { readyWithinMs?: number; stderr?: 'inherit' | 'ignore' } = {}): Promise<ServerProcess> {
  const tmp = benchTempDir('bench-server-');
  const dir = tmp.path;
  const port = await freePort();
  // BENCH_BOT_SERVER: another build's dist/bot/main.js (to compare a branch with main in one sitting).
  const main = process.env.BENCH_BOT_SERVER || fileURLToPath(new URL('../bot/main.js', import.meta.url));
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, main], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', opts.stderr ?? 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    tmp.remove();
  };
  // Interrupted: the server goes first (it writes in the folder).
  tmp.onInterrupt(() => stopChild(child));
  try {
    await waitReady(base, opts.readyWithinMs ?? 120_000, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    child,
    base,
    rssMiB: () => rssMiB(child.pid),
    databaseRssMiB: () => rssMiB(childPids(child.pid)[0]),
    stop,
  };
}

/** VmRSS of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Number(kb) / 1024;
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (Linux). Under a shared
 * machine's load, CPU per unit of work moves far less than wall-clock throughput does.
 */
export function cpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits until `base`/readyz answers 200 (and fails at once if `child`, when given, exits first). */
export async function waitReady(base: string, withinMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the bot server exited with code ${child.exitCode} before it was ready`);
    if (await fetch(`${base}/readyz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the bot server was not ready within ${withinMs / 1000} s`);
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
