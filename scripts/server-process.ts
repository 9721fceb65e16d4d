/**
 * The bot server as its own OS process, for benchmarks and tests that use it from outside (`node
 * dist/bot/main.js` on a port it binds itself, embedded database in a temporary folder unless the
 * caller's environment names one), with its resident memory read from /proc.
 */
import { spawn, type ChildProcess, type StdioNull, type StdioPipe } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LISTENING_MESSAGE_TYPE, type ListeningMessage } from '../bot/listening-message.js';
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
  // BENCH_BOT_SERVER: another build's dist/bot/main.js (to compare a branch with main in one sitting).
  const main = process.env.BENCH_BOT_SERVER || fileURLToPath(new URL('../bot/main.js', import.meta.url));
  let launched: { child: ChildProcess; base: string };
  try {
    launched = await spawnBotServer({
      main,
      env: { ...process.env, HOST: '127.0.0.1', DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'error', ...env },
      stdio: ['ignore', 'ignore', opts.stderr ?? 'inherit'],
      // Interrupted: the server goes first (it writes in the folder).
      onSpawn: (c) => tmp.onInterrupt(() => stopChild(c)),
      withinMs: opts.readyWithinMs ?? 120_000,
    });
  } catch (err) {
    tmp.remove();
    throw err;
  }
  const { child, base } = launched;
  const stop = async () => {
    await stopChild(child);
    tmp.remove();
  };
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

/** How to start a bot server process (see spawnBotServer). */
export interface BotServerLaunch {
  /** The entry point: this build's dist/bot/main.js, another build's, or bot/main.ts (with `--import tsx` in nodeArgs). */
  main: string;
  /** Node's flags before `main` (default: the launch flags npm start passes). */
  nodeArgs?: readonly string[];
  /** The server's whole environment; its PORT is set here. */
  env: NodeJS.ProcessEnv;
  /** Its working directory (default: this process's). */
  cwd?: string;
  /** stdin, stdout and stderr, as `spawn` takes them (default: all ignored but stderr, inherited). */
  stdio?: [StdioNull | StdioPipe, StdioNull | StdioPipe | number, StdioNull | StdioPipe | number];
  /** Called with the child as soon as it is spawned (to read its output from the first byte, or register clean-up). */
  onSpawn?: (child: ChildProcess) => void;
  /** How long the server may take to listen (default 120 s: it opens the database and loads the model first). */
  withinMs?: number;
}

/**
 * Spawns a bot server process and resolves once it listens, with the port it listens on.
 *
 * The server binds `PORT=0` itself and reports the port the system gave it (`bot/main.ts`'s
 * listening message over an IPC channel). Picking a free port here and passing it on would leave a
 * window, the server's whole start-up, in which another process can take that port; worse, another
 * test's bot server can, and would then answer this one's `/readyz`. A build from before the message
 * (BENCH_BOT_SERVER or `--server` naming an older checkout) is given a port picked here, as before.
 *
 * @throws Error when the process exits, or has not reported, within `withinMs`
 */
export async function spawnBotServer(launch: BotServerLaunch): Promise<{ child: ChildProcess; port: number; base: string }> {
  const [stdin, stdout, stderr] = launch.stdio ?? ['ignore', 'ignore', 'inherit'];
  const reports = reportsItsPort(launch.main);
  const pickedPort = reports ? 0 : await freePort();
  const child = spawn(process.execPath, [...(launch.nodeArgs ?? SERVER_NODE_ARGS), launch.main], {
    cwd: launch.cwd,
    env: { ...launch.env, PORT: String(pickedPort) },
    stdio: [stdin, stdout, stderr, ...(reports ? (['ipc'] as const) : [])],
  });
  launch.onSpawn?.(child);
  let port = pickedPort;
  if (reports) {
    try {
      port = await reportedPort(child, launch.withinMs ?? 120_000);
    } catch (err) {
      // A server whose port is unknown is of no use, and must not outlive the caller.
      await stopChild(child);
      throw err;
    }
  }
  return { child, port, base: `http://127.0.0.1:${port}` };
}

/**
 * Whether the server at `main` sends the listening message: its build has bot/listening-message
 * beside it (builds from before the message do not).
 */
export function reportsItsPort(main: string): boolean {
  return ['.js', '.ts'].some((ext) => existsSync(join(dirname(main), `listening-message${ext}`)));
}

/**
 * The port a server spawned with an IPC channel reports in its listening message. The channel is
 * closed once it has: the server sends nothing else over it.
 *
 * @throws Error when the child exits first, or sends nothing within `withinMs`
 */
export function reportedPort(child: ChildProcess, withinMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (settle: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (child.connected) child.disconnect();
      settle();
    };
    const onMessage = (m: unknown) => {
      const msg = m as Partial<ListeningMessage> | null;
      if (msg?.type === LISTENING_MESSAGE_TYPE && typeof msg.port === 'number') done(() => resolve(msg.port!));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(() => reject(new Error(`the bot server exited (${signal ?? `code ${code}`}) before it listened`)));
    const timer = setTimeout(() => done(() => reject(new Error(`the bot server did not report a port within ${withinMs / 1000} s`))), withinMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
  });
}

/**
 * A TCP port on loopback that was free a moment ago. Only for what cannot bind port 0 itself: the
 * port may be taken before its user binds it.
 */
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
