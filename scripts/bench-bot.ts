/**
 * npm run -s bench:bot -- [--json] [--conversations 200] [--rounds 1] [--warmup 1] [--think-ms 0] [--history 0] [--processes 1]
 *
 * Load benchmark of the bot server: starts an embedded database in a temporary folder and
 * `node dist/bot/main.js` on it as its own process(es), then runs N concurrent conversations of 5
 * turns each over Direct Line (HTTP + WebSocket), as web chat customers would: complaint → confirm
 * → skip contact → status lookup → help. Reports errors, reply latency p50/p99 (send → the bot's
 * reply arrives on the stream), turns per second and conversations per second (N divided by the
 * time all N took).
 *
 * `--rounds R` runs each phase R times in a row (R × N conversations, N at a time) and pools their
 * turns: at 50 conversations a round has 250 turns, so its p99 is the 3rd-slowest turn and moves with
 * any one stall; 4 rounds make it the 10th-slowest of 1,000.
 *
 * `--warmup W` runs W conversations at once, unmeasured, before each phase. After the history is
 * written, the database's connections first re-read its schema (hundreds of new bucket tables,
 * written within seconds here, where a server creates three every ten minutes), so a warm-up of N
 * keeps that one-off out of the measured turns.
 *
 * `--think-ms 0` (the default) is a stress test: every customer sends the next message the moment
 * the reply arrives. `--think-ms N` lets each customer read and type for a random 0.5–1.5 × N ms.
 *
 * `--history N` measures twice in one run: first on the empty database (the reference), then after
 * writing N past conversations into it (each: its Direct Line conversation, 12 logged activities
 * and 5 revisions of its conversation state, as a 5-turn web chat leaves them), and prints both
 * with their ratio.
 *
 * `--db-stats` has each server count its database round trips by collection and command (the
 * driver's command monitoring) and prints them per turn at the end, with the time they took.
 *
 * Memory: the first server's resident memory is sampled every 250 ms (peak and median per phase),
 * and its own peak breakdown (V8 heap, external, array buffers; /readyz `memory.peak`) is printed.
 * `BENCH_BOT_SERVER=/path/to/dist/bot/main.js` runs another build's server under the same client
 * (compare a branch with main in one sitting); `BENCH_BOT_FERRETDB=/path/to/ferretdb` runs another
 * build of the embedded database (main's patches) under it.
 *
 * `--processes 2` starts two server processes on the one database; each conversation's stream is
 * on the first and its turns are posted alternately to the first and the second, so half of the
 * replies reach the stream from the other process (through the database). Compare with
 * `--processes 1` for the cost of that hop.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedServer } from '../store/embedded-server.js';
import { loadConversation } from './bot-load.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { cpuMs, rssMiB, spawnBotServer, waitReady } from './server-process.js';
import { SERVER_NODE_ARGS } from '../runtime/node-flags.js';
import { benchTempDir, stopChild } from './temp-dir.js';
import { fillHistory, historyFlag } from './past-conversations.js';
import { quantile } from './quantile.js';

const DB_NAME = 'bench_bot';

interface Phase {
  conversations: number;
  turns: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  firstTurnP99Ms: number;
  /** The longest a reply reached the stream after its POST was answered (see LoadRecorder.pushWait). */
  maxPushWaitMs: number;
  turnsPerSecond: number;
  conversationsPerSecond: number;
  seconds: number;
  /**
   * CPU time per conversation (ms, user + system, from /proc) of the server process(es) and of the
   * embedded database over the phase: the cost of a conversation, which a busy shared machine
   * blurs far less than it blurs conversations per second.
   */
  serverCpuMsPerConversation: number;
  databaseCpuMsPerConversation: number;
  /** The same for this benchmark's own process (the customers' side: HTTP, WebSocket, JSON), which shares the machine. */
  clientCpuMsPerConversation: number;
  /** Resident memory of the first server process over the phase (sampled every 250 ms from /proc). */
  peakRssMiB: number;
  medianRssMiB: number;
  /** The server's own peak breakdown since start (/readyz memory.peak): heap, external, array buffers. */
  peakBreakdown: string;
  errorSamples: string[];
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    conversations: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
    'think-ms': { type: 'string', default: '0' },
    history: { type: 'string', default: '0' },
    processes: { type: 'string', default: '1' },
    'db-stats': { type: 'boolean', default: false },
  });
  const n = Number(values.conversations);
  const rounds = Number(values.rounds);
  const warmup = Number(values.warmup);
  const thinkMs = Number(values['think-ms']);
  const history = historyFlag(values.history);
  const processes = Number(values.processes);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--conversations must be a positive integer, got "${values.conversations}"`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new UsageError(`--warmup must be a non-negative integer, got "${values.warmup}"`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a positive integer, got "${values.rounds}"`);
  if (!Number.isFinite(thinkMs) || thinkMs < 0) throw new UsageError(`--think-ms must be a non-negative number, got "${values['think-ms']}"`);
  if (processes !== 1 && processes !== 2) throw new UsageError(`--processes must be 1 or 2, got "${values.processes}"`);

  const tmp = benchTempDir('bench-bot-');
  const dir = tmp.path;
  // BENCH_BOT_FERRETDB: another build's database binary (main's, to compare a branch with main in one sitting).
  const database = await startEmbeddedServer({ dataDir: join(dir, 'db'), ...(process.env.BENCH_BOT_FERRETDB ? { binary: process.env.BENCH_BOT_FERRETDB } : {}) });
  const servers: ChildProcess[] = [];
  const dbStats: { key: string; calls: number; ms: number; sentBytes?: number; receivedBytes?: number }[] = [];
  // Interrupted: stop the servers and the database rather than leave them running (then the folder goes).
  tmp.onInterrupt(async () => {
    await Promise.all(servers.map(stopChild));
    await database.stop();
  });
  try {
    const bases: string[] = [];
    for (let i = 0; i < processes; i++) {
      const { child, base } = await startServer(database.uri, join(dir, `outbox-${i}.jsonl`), values['db-stats'] ? (rows) => dbStats.push(...rows) : null);
      servers.push(child);
      bases.push(base);
    }
    // Unmeasured conversations before each phase (see --warmup).
    const warm = () => Promise.all(Array.from({ length: warmup }, (_, i) => loadConversation(bases, -1 - i, { turn: () => undefined }, 0)));
    await warm();
    const phases: Record<string, Phase> = {};
    const pid = servers[0].pid;
    const cpu = () => ({ server: servers.reduce((sum, s) => sum + (cpuMs(s.pid) ?? Number.NaN), 0), database: cpuMs(database.pid()) ?? Number.NaN });
    phases[history > 0 ? 'empty' : 'run'] = await measure(bases, n, rounds, thinkMs, pid, cpu);
    if (history > 0) {
      await fillHistory(database.uri, DB_NAME, history);
      await warm();
      phases[`history${history}`] = await measure(bases, n, rounds, thinkMs, pid, cpu);
    }
    const rows = Object.keys(Object.values(phases)[0]).filter((k) => k !== 'errorSamples');
    const names = Object.keys(phases);
    process.stdout.write(`| measure | ${names.join(' | ')} |\n|---|${names.map(() => '---').join('|')}|\n`);
    for (const k of rows) process.stdout.write(`| ${k} | ${names.map((p) => String(phases[p][k as keyof Phase])).join(' | ')} |\n`);
    const result: Record<string, unknown> = { processes, thinkMs, ...phases };
    if (history > 0) {
      const [a, b] = names.map((p) => phases[p]);
      result.p99Ratio = Math.round((b.p99Ms / a.p99Ms) * 100) / 100;
      result.firstTurnP99Ratio = Math.round((b.firstTurnP99Ms / a.firstTurnP99Ms) * 100) / 100;
      process.stdout.write(`p99 ratio (history / empty): ${result.p99Ratio}; first-turn p99 ratio: ${result.firstTurnP99Ratio}\n`);
    }
    for (const p of Object.values(phases)) for (const e of p.errorSamples) process.stderr.write(`error: ${e}\n`);
    if (values.json) printJson(result);
    if (Object.values(phases).some((p) => p.errors > 0)) process.exitCode = 1;
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once('exit', r)))));
    await database.stop();
    tmp.remove();
  }
  if (values['db-stats']) {
    // Per turn of every measured phase and of the warm-up conversations (5 turns each).
    const merged = new Map<string, { calls: number; ms: number; sent: number; received: number }>();
    for (const r of dbStats) {
      const m = merged.get(r.key) ?? { calls: 0, ms: 0, sent: 0, received: 0 };
      m.calls += r.calls;
      m.ms += r.ms;
      m.sent += r.sentBytes ?? 0;
      m.received += r.receivedBytes ?? 0;
      merged.set(r.key, m);
    }
    const conversations = (n * rounds + warmup) * (history > 0 ? 2 : 1);
    const turns = 5 * conversations;
    process.stderr.write(`database round trips per turn (${turns} turns, ${conversations} filings):\n`);
    for (const [key, m] of [...merged].sort((a, b) => b[1].calls - a[1].calls)) {
      process.stderr.write(`  ${key.padEnd(40)} ${(m.calls / turns).toFixed(2).padStart(7)} calls/turn ${(m.ms / m.calls).toFixed(1).padStart(8)} ms avg ${(m.sent / 1024 / m.calls).toFixed(1).padStart(7)} KiB sent ${(m.received / 1024 / m.calls).toFixed(1).padStart(7)} KiB received avg\n`);
    }
  }
});

async function startServer(uri: string, outbox: string, onStats: ((rows: { key: string; calls: number; ms: number; sentBytes?: number; receivedBytes?: number }[]) => void) | null): Promise<{ child: ChildProcess; base: string }> {
  // BENCH_BOT_SERVER: another build's dist/bot/main.js (to compare a branch with main in one sitting).
  const main = process.env.BENCH_BOT_SERVER || fileURLToPath(new URL('../bot/main.js', import.meta.url));
  // BENCH_BOT_NODE_ARGS: extra node flags for the server process (e.g. --cpu-prof to profile it).
  const nodeArgs = (process.env.BENCH_BOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const { child, base } = await spawnBotServer({
    main,
    nodeArgs: [...SERVER_NODE_ARGS, ...nodeArgs],
    env: { ...process.env, MONGODB_URI: uri, DB_NAME, HOST: '127.0.0.1', OUTBOX_PATH: outbox, LOG_LEVEL: 'warn', RATE_LIMIT_PER_10S: '10', WEBCHAT_CLIENT_BYTES_PER_MINUTE: String(1024 ** 3), ...(onStats ? { DB_COMMAND_STATS: 'true' } : {}) },
    stdio: ['ignore', 'ignore', onStats ? 'pipe' : 'inherit'],
    onSpawn: onStats ? (c) => tallyFrom(c, onStats) : undefined,
    withinMs: 60_000,
  });
  await waitReady(base, 60_000, child);
  return { child, base };
}

/** Passes the server's stderr through, except the one line of its database tally at shutdown, given to `onStats`. */
function tallyFrom(child: ChildProcess, onStats: (rows: { key: string; calls: number; ms: number; sentBytes?: number; receivedBytes?: number }[]) => void): void {
  // The server prints its tally as one stderr line at shutdown; everything else passes through.
  let buffered = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('db-command-stats ')) onStats(JSON.parse(line.slice('db-command-stats '.length)));
      else process.stderr.write(line + '\n');
    }
  });
}

async function measure(bases: string[], n: number, rounds: number, thinkMs: number, pid: number | undefined, cpu: () => { server: number; database: number }): Promise<Phase> {
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const v = rssMiB(pid);
    if (v !== null) rss.push(v);
  }, 250);
  const latencies: number[] = [];
  const firstTurns: number[] = [];
  const pushWaits: number[] = [];
  let errors = 0;
  const errorSamples: string[] = [];
  const cpu0 = cpu();
  const client0 = process.cpuUsage();
  const start = performance.now();
  for (let round = 0; round < rounds; round++) {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        loadConversation(bases, round * n + i, { turn: (ms) => latencies.push(ms), first: (ms) => firstTurns.push(ms), pushWait: (ms) => pushWaits.push(ms) }, thinkMs).catch((err: Error) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err.message);
        }),
      ),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu1 = cpu();
  const client = process.cpuUsage(client0);
  clearInterval(sampler);
  const peak = await fetch(`${bases[0]}/readyz`)
    .then((r) => r.json() as Promise<{ memory?: { peak?: Record<string, number>; collections?: number } }>)
    .then((b): Record<string, number> | undefined => (b.memory?.peak ? { ...b.memory.peak, collections: b.memory.collections ?? 0 } : undefined), () => undefined);
  const total = n * rounds;
  return {
    conversations: total,
    turns: latencies.length,
    errors,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    firstTurnP99Ms: quantile(firstTurns, 0.99),
    maxPushWaitMs: quantile(pushWaits, 1),
    turnsPerSecond: Math.round(latencies.length / seconds),
    conversationsPerSecond: Math.round(((total - errors) / seconds) * 10) / 10,
    seconds: Math.round(seconds * 100) / 100,
    serverCpuMsPerConversation: Math.round(((cpu1.server - cpu0.server) / total) * 10) / 10,
    databaseCpuMsPerConversation: Math.round(((cpu1.database - cpu0.database) / total) * 10) / 10,
    clientCpuMsPerConversation: Math.round(((client.user + client.system) / 1000 / total) * 10) / 10,
    peakRssMiB: Math.round(quantile(rss, 1)),
    medianRssMiB: Math.round(quantile(rss, 0.5)),
    peakBreakdown: peak ? `heap ${peak.heapUsedMiB}/${peak.heapTotalMiB}, external ${peak.externalMiB}, buffers ${peak.arrayBuffersMiB}; forced collections ${peak.collections}` : '-',
    errorSamples,
  };
}

