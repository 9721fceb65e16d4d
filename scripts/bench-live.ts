/**
 * npm run -s bench:live -- [--json] [--conversations 200] [--think-ms 0] [--live 10] [--history 0] [--processes 1] [--server PATH]
 *
 * Live-chat latency under the bot load (issue 12 target: a customer's message reaches the agent's
 * console p95 ≤ 1 s, and the agent's message reaches the customer p95 ≤ 1 s, under the
 * 200-conversation load benchmark). Starts an embedded database in a temporary folder and
 * `node dist/bot/main.js` on it, creates an agent, opens the agent's console event stream
 * (`GET /api/events`, as the console reads it), and measures in two phases of one run:
 *
 * 1. `idle` (the reference): `--live` live conversations alone;
 * 2. `load`: the same while the load of `npm run bench:bot` runs beside them, with the same
 *    defaults: `--conversations` (200) web chat customers running its 5-turn script (complaint →
 *    confirm → skip contact → status → help; scripts/bot-load.ts), with `--think-ms` (0, the
 *    stress test: the next message the moment the reply arrives; `--think-ms 1000` is the paced
 *    load: a random 0.5–1.5 s before each message).
 *
 * `--history N` measures both phases twice in one run: first on the empty database (the reference),
 * then after writing N past conversations into it (the history of `bench:bot --history N`,
 * scripts/past-conversations.ts), and prints both with the history / empty ratio of each p95.
 *
 * `--server PATH` runs another build's server (e.g. `/tmp/main/dist/bot/main.js`, a checkout of
 * main built with `npx tsc -p tsconfig.build.json`) under the same load and measurement, to compare
 * branches in one session. `BENCH_BOT_NODE_ARGS` adds node flags to the server (`--cpu-prof`).
 *
 * Each live conversation asks for a person (转人工) over Direct Line, the agent takes it through
 * the staff API, then they exchange messages until the phase's load is done (at least 5 each way,
 * one every 0.5–1.5 s): customer → agent is timed from the customer's send to the arrival of the
 * `live.message` event on the agent's stream; agent → customer from the agent's
 * `POST /api/live/{id}/messages` to the arrival of the message on the customer's Direct Line
 * stream. Arrival is stamped when the client reads it, not when the benchmark next looks: until
 * session 3 each figure was the later of the arrival and the HTTP answer to the send, and the
 * answer comes only once the line is on the ticket (the customer's) or the reply recorded there
 * (the agent's), after the other side has it. Those answers are reported on their own rows. With `--processes 2` the customers' messages
 * go to the second process and the agent's stream and API are on the first (the event crosses
 * processes through the database).
 *
 * Prints a table, and with --json a last line with every figure.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../store/database.js';
import { hashPassword } from '../staff/auth.js';
import { startEmbeddedServer } from '../store/embedded-server.js';
import { MongoUserRepository } from '../store/user-repository.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { loadConversation } from './bot-load.js';
import { DirectLineClient } from './directline-client.js';
import { EventStreamClient } from './event-stream-client.js';
import { spawnBotServer, waitReady } from './server-process.js';
import { SERVER_NODE_ARGS } from '../runtime/node-flags.js';
import { benchTempDir, stopChild } from './temp-dir.js';
import { fillHistory, historyFlag } from './past-conversations.js';

const DB_NAME = 'bench_live';
const PASSWORD = 'bench-live-agent-password';
const MIN_EXCHANGES = 5;

interface LivePhase {
  liveConversations: number;
  customerToAgent: { samples: number; p50Ms: number; p95Ms: number; maxMs: number };
  agentToCustomer: { samples: number; p50Ms: number; p95Ms: number; maxMs: number };
  customerSendAnswered: { samples: number; p50Ms: number; p95Ms: number; maxMs: number };
  agentPostAnswered: { samples: number; p50Ms: number; p95Ms: number; maxMs: number };
  load: { conversations: number; turns: number; errors: number; p50Ms: number; p99Ms: number; seconds: number } | null;
  errors: number;
  errorSamples: string[];
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    conversations: { type: 'string', default: '200' },
    'think-ms': { type: 'string', default: '0' },
    live: { type: 'string', default: '10' },
    history: { type: 'string', default: '0' },
    processes: { type: 'string', default: '1' },
    server: { type: 'string', default: fileURLToPath(new URL('../bot/main.js', import.meta.url)) },
  });
  const n = Number(values.conversations);
  const thinkMs = Number(values['think-ms']);
  if (!Number.isFinite(thinkMs) || thinkMs < 0) throw new UsageError(`--think-ms must be a non-negative number, got "${values['think-ms']}"`);
  const live = Number(values.live);
  const processes = Number(values.processes);
  const history = historyFlag(values.history);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--conversations must be a non-negative integer, got "${values.conversations}"`);
  if (!Number.isInteger(live) || live < 1 || live > 100) throw new UsageError(`--live must be an integer from 1 to 100, got "${values.live}"`);
  if (processes !== 1 && processes !== 2) throw new UsageError(`--processes must be 1 or 2, got "${values.processes}"`);

  const tmp = benchTempDir('bench-live-');
  const dir = tmp.path;
  const database = await startEmbeddedServer({ dataDir: join(dir, 'db') });
  const servers: ChildProcess[] = [];
  // Interrupted: stop the servers and the database rather than leave them running (then the folder goes).
  tmp.onInterrupt(async () => {
    await Promise.all(servers.map(stopChild));
    await database.stop();
  });
  let stream: EventStreamClient | null = null;
  try {
    const client = await createClient(database.uri).connect();
    await new MongoUserRepository(client.db(DB_NAME)).create({ username: 'agent', role: 'agent', passwordHash: await hashPassword(PASSWORD), createdBy: 'bench' });
    await client.close();
    const bases: string[] = [];
    for (let i = 0; i < processes; i++) {
      const { child, base } = await startServer(values.server, database.uri, join(dir, `outbox-${i}.jsonl`));
      servers.push(child);
      bases.push(base);
    }
    const agentBase = bases[0];
    const customerBase = bases.at(-1)!;
    const login = await fetch(`${agentBase}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'agent', password: PASSWORD }) });
    if (!login.ok) throw new Error(`agent login: HTTP ${login.status}`);
    const token = ((await login.json()) as { token: string }).token;
    stream = await EventStreamClient.open(agentBase, token);
    const agent = { base: agentBase, token, stream };

    // Warm-up: one load conversation and one live exchange (again after the history is written:
    // the database's connections first re-read its schema, hundreds of new bucket tables).
    const warm = async () => {
      await loadConversation([customerBase], 0, { turn: () => undefined }, 0);
      await measure(agent, customerBase, 1, 0, 0);
    };
    await warm();
    const phases: Record<string, LivePhase> = { idle: await measure(agent, customerBase, live, 0, 0), load: await measure(agent, customerBase, live, n, thinkMs) };
    const heads = [`idle${history > 0 ? ', empty' : ''} (reference)`, `under ${n}-conversation load, think ${thinkMs} ms${history > 0 ? ', empty' : ''}`];
    if (history > 0) {
      await fillHistory(database.uri, DB_NAME, history);
      await warm();
      phases.idleHistory = await measure(agent, customerBase, live, 0, 0);
      phases.loadHistory = await measure(agent, customerBase, live, n, thinkMs);
      heads.push(`idle, ${history} past conversations`, `under load, ${history} past conversations`);
    }

    const all = Object.values(phases);
    const row = (label: string, f: (p: LivePhase) => unknown) => process.stdout.write(`| ${label} | ${all.map(f).join(' | ')} |\n`);
    process.stdout.write(`| measure | ${heads.join(' | ')} |\n|---|${heads.map(() => '---').join('|')}|\n`);
    row('live conversations', (p) => p.liveConversations);
    row('customer → agent samples', (p) => p.customerToAgent.samples);
    row('customer → agent p50 ms', (p) => p.customerToAgent.p50Ms);
    row('customer → agent p95 ms', (p) => p.customerToAgent.p95Ms);
    row('customer → agent max ms', (p) => p.customerToAgent.maxMs);
    row('agent → customer samples', (p) => p.agentToCustomer.samples);
    row('agent → customer p50 ms', (p) => p.agentToCustomer.p50Ms);
    row('agent → customer p95 ms', (p) => p.agentToCustomer.p95Ms);
    row('agent → customer max ms', (p) => p.agentToCustomer.maxMs);
    row("customer's send answered p50 / p95 ms", (p) => `${p.customerSendAnswered.p50Ms} / ${p.customerSendAnswered.p95Ms}`);
    row("agent's post answered p50 / p95 ms", (p) => `${p.agentPostAnswered.p50Ms} / ${p.agentPostAnswered.p95Ms}`);
    row('bot load turns', (p) => p.load?.turns ?? '—');
    row('bot load reply p50 / p99 ms', (p) => (p.load ? `${p.load.p50Ms} / ${p.load.p99Ms}` : '—'));
    row('bot load errors', (p) => p.load?.errors ?? '—');
    row('live errors', (p) => p.errors);
    const result: Record<string, unknown> = { processes, conversations: n, thinkMs, server: values.server, history, ...phases };
    if (history > 0) {
      // p95 with the history over p95 on the empty database, per phase and direction.
      const ratio = (a: number, b: number) => Math.round((b / a) * 100) / 100;
      const p95Ratio = {
        idle: { customerToAgent: ratio(phases.idle.customerToAgent.p95Ms, phases.idleHistory.customerToAgent.p95Ms), agentToCustomer: ratio(phases.idle.agentToCustomer.p95Ms, phases.idleHistory.agentToCustomer.p95Ms) },
        load: { customerToAgent: ratio(phases.load.customerToAgent.p95Ms, phases.loadHistory.customerToAgent.p95Ms), agentToCustomer: ratio(phases.load.agentToCustomer.p95Ms, phases.loadHistory.agentToCustomer.p95Ms) },
      };
      result.p95Ratio = p95Ratio;
      process.stdout.write(`p95 ratio (history / empty): idle customer → agent ${p95Ratio.idle.customerToAgent}, agent → customer ${p95Ratio.idle.agentToCustomer}; under load customer → agent ${p95Ratio.load.customerToAgent}, agent → customer ${p95Ratio.load.agentToCustomer}\n`);
    }
    for (const p of all) for (const e of p.errorSamples) process.stderr.write(`error: ${e}\n`);
    if (values.json) printJson(result);
    if (all.some((p) => p.errors > 0 || (p.load?.errors ?? 0) > 0)) process.exitCode = 1;
  } finally {
    stream?.close();
    for (const s of servers) s.kill('SIGTERM');
    await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null ? r(null) : s.once('exit', r)))));
    await database.stop();
    tmp.remove();
  }
});

interface Agent {
  base: string;
  token: string;
  stream: EventStreamClient;
}

/** Latency samples of one phase, ms. */
interface LiveSamples {
  /** Customer's send → the `live.message` event arrives on the agent's console stream. */
  toAgent: number[];
  /** Agent's post → the message arrives on the customer's Direct Line stream. */
  toCustomer: number[];
  /** Customer's send → its HTTP answer (the line is stored and on the ticket). */
  customerAck: number[];
  /** Agent's post → its HTTP answer (the reply is delivered and recorded on the ticket). */
  agentAck: number[];
}

/** One phase: `live` live conversations, while `load` load conversations run (none: idle). */
async function measure(agent: Agent, customerBase: string, live: number, load: number, thinkMs: number): Promise<LivePhase> {
  const samples: LiveSamples = { toAgent: [], toCustomer: [], customerAck: [], agentAck: [] };
  const loadLatencies: number[] = [];
  let errors = 0;
  let loadErrors = 0;
  const errorSamples: string[] = [];
  const fail = (err: Error) => {
    if (errorSamples.length < 5) errorSamples.push(err.message);
  };
  let loadDone = load === 0;
  const start = performance.now();
  const loadRun = Promise.all(
    Array.from({ length: load }, (_, i) =>
      loadConversation([customerBase], i, { turn: (ms) => loadLatencies.push(ms) }, thinkMs).catch((err: Error) => {
        loadErrors++;
        fail(err);
      }),
    ),
  ).then(() => {
    loadDone = true;
    return (performance.now() - start) / 1000;
  });
  const liveRun = Promise.all(
    Array.from({ length: live }, (_, i) =>
      liveConversation(agent, customerBase, i, () => loadDone, samples).catch((err: Error) => {
        errors++;
        fail(err);
      }),
    ),
  );
  const [seconds] = await Promise.all([loadRun, liveRun]);
  const stats = (v: number[]) => ({ samples: v.length, p50Ms: quantile(v, 0.5), p95Ms: quantile(v, 0.95), maxMs: quantile(v, 1) });
  return {
    liveConversations: live,
    customerToAgent: stats(samples.toAgent),
    agentToCustomer: stats(samples.toCustomer),
    customerSendAnswered: stats(samples.customerAck),
    agentPostAnswered: stats(samples.agentAck),
    load: load > 0 ? { conversations: load, turns: loadLatencies.length, errors: loadErrors, p50Ms: quantile(loadLatencies, 0.5), p99Ms: quantile(loadLatencies, 0.99), seconds: Math.round(seconds * 100) / 100 } : null,
    errors,
    errorSamples,
  };
}

/** A customer who asks for a person; the agent takes it; they exchange messages until `done()`. */
async function liveConversation(agent: Agent, customerBase: string, i: number, done: () => boolean, s: LiveSamples): Promise<void> {
  const c = await DirectLineClient.open(customerBase, '');
  try {
    const queued = await c.replyTo(await c.send('转人工'), 60_000);
    const number = /T\d{8}-\d{4}/.exec(queued.text ?? '')?.[0];
    if (!number) throw new Error(`no ticket number in "${queued.text}"`);
    const requested = await agent.stream.waitFor((e) => e.type === 'handover.requested' && e.ticketNumber === number, 60_000);
    const id = (requested as { handoverId: string }).handoverId;
    await post(agent, `/api/live/${id}/take`);
    for (let k = 0; (k < MIN_EXCHANGES || !done()) && k < 200; k++) {
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      const text = `客户${i}第${k}条：单号 SF${100000 + k}`;
      const t0 = performance.now();
      // Both at once: the line reaches the console when its event arrives on the agent's stream,
      // whether or not the customer's send has been answered yet (it is answered once the bot's
      // turn has put the line on the ticket).
      const [, shown] = await Promise.all([
        c.send(text).then(() => s.customerAck.push(performance.now() - t0)),
        agent.stream.waitFor((e) => e.type === 'live.message' && e.handoverId === id && e.text === text, 60_000),
      ]);
      s.toAgent.push(agent.stream.arrivedAt(shown) - t0);

      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      const answer = `客服回复${i}-${k}：已为您查询`;
      const t1 = performance.now();
      // The message reaches the customer when it arrives on their stream; the agent's post is
      // answered once it is recorded on the ticket as well.
      const [, received] = await Promise.all([
        post(agent, `/api/live/${id}/messages`, { text: answer }).then(() => s.agentAck.push(performance.now() - t1)),
        c.waitForMessage((m) => m.text === answer, 60_000),
      ]);
      s.toCustomer.push(c.arrivedAt(received) - t1);
    }
    await post(agent, `/api/live/${id}/hand-back`);
  } finally {
    c.close();
  }
}

async function post(agent: Agent, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${agent.base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${agent.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status} ${await res.text()}`);
}


function quantile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
}

async function startServer(main: string, uri: string, outbox: string): Promise<{ child: ChildProcess; base: string }> {
  // BENCH_BOT_NODE_ARGS: extra node flags for the server process (e.g. --cpu-prof to profile it).
  const nodeArgs = (process.env.BENCH_BOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const { child, base } = await spawnBotServer({
    main,
    nodeArgs: [...SERVER_NODE_ARGS, ...nodeArgs],
    withinMs: 60_000,
    env: {
      ...process.env,
      MONGODB_URI: uri,
      DB_NAME,
      HOST: '127.0.0.1',
      OUTBOX_PATH: outbox,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_PER_10S: '10',
      WEBCHAT_CLIENT_BYTES_PER_MINUTE: String(1024 ** 3),
      API_RATE_PER_MINUTE: '100000',
      HANDOVER_WAIT_SECONDS: '3600',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitReady(base, 60_000, child);
  return { child, base };
}

