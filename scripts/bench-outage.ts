/**
 * npm run -s bench:outage -- [--json] [--seconds 60] [--customers 12] [--kills 3] [--outage-ms 0]
 *
 * The database killed under load: starts `node dist/bot/main.js` as its own process (embedded,
 * supervised FerretDB in a temporary folder), runs `--customers` concurrent customers for
 * `--seconds` over the Bot Framework endpoint (a local connector stands in for the channel, as the
 * Emulator does), each filing one demand after another (complaint → "对" → "跳过"), and kills the
 * database process with SIGKILL `--kills` times, evenly spread. A customer told "please send it
 * again" sends it again a second later, as asked. `--outage-ms N` keeps each outage going for N ms
 * by killing every database process the supervisor starts in that time (a crash loop), so turns
 * meet a database that is really gone, not one that is back before the driver's timeout.
 *
 * Reports, per kill, how long until /readyz answers 200 again; then, once the load stops and the
 * outbox (and any held message) is replayed, how many demands were started, how many are in the database (lost =
 * started − stored, duplicates), and how many replies were untruthful (an apology claiming nothing
 * was lost, or an apology in the same turn as a ticket number). The last line is JSON with --json.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../store/database.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { spawnBotServer, waitReady } from './server-process.js';
import { benchTempDir, stopChild } from './temp-dir.js';

/** Demands the default model files confidently (the dialog asks "对吗？"): checked at warm-up. */
const COMPLAINTS = [
  '我的快递三天了还没到，物流信息一直不更新',
  '退款申请了两周还没到账',
  '这个月话费多扣了三十块，怎么回事',
  '登录一直提示验证码错误',
  '空调装好第二天就不制冷了，要求上门维修',
  '宽带晚上一直断网，根本没法用',
  '收到的衣服有破洞，质量太差了',
  '有人用我的账号在外地登录了',
];

const NUMBER = /T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})/;
/** An apology, or a claim that nothing was lost: must never come in the same turn as a number. */
const APOLOGY = /抱歉|sorry/i;
const NOTHING_LOST = /没有丢失|沒有丟失|nothing you sent was lost/i;
const RETRY = /请一分钟后重新发送|again in a minute/i;
/** The answer was kept (store/held-messages.ts): the demand it answered is filed when the database is back. */
const HELD = /已收到并保存您的消息|received and saved your message/i;

interface Counts {
  started: number;
  filedInDatabase: number;
  filedToOutbox: number;
  retriesAsked: number;
  /** Answers kept during the outage (the process had no copy of the state): filed when the database is back. */
  heldForLater: number;
  apologies: number;
  nothingLostClaims: number;
  numberWithApology: number;
  errors: number;
  errorSamples: string[];
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '60' },
    customers: { type: 'string', default: '12' },
    kills: { type: 'string', default: '3' },
    'outage-ms': { type: 'string', default: '0' },
    'server-log': { type: 'string' },
  });
  const outageMs = Number(values['outage-ms']);
  if (!(outageMs >= 0)) throw new UsageError(`--outage-ms must be a non-negative number, got "${values['outage-ms']}"`);
  const seconds = Number(values.seconds);
  const customers = Number(values.customers);
  const kills = Number(values.kills);
  if (!(seconds >= 5)) throw new UsageError(`--seconds must be at least 5, got "${values.seconds}"`);
  if (!Number.isInteger(customers) || customers < 1) throw new UsageError(`--customers must be a positive integer, got "${values.customers}"`);
  if (!Number.isInteger(kills) || kills < 0) throw new UsageError(`--kills must be a non-negative integer, got "${values.kills}"`);

  const tmp = benchTempDir('bench-outage-');
  const dir = tmp.path;
  const connector = await startConnector();
  let started: { child: ChildProcess; base: string };
  try {
    // Interrupted: the server (and its embedded database) stops first, then the folder goes.
    started = await startServer(dir, values['server-log'], (c) => tmp.onInterrupt(() => stopChild(c)));
  } catch (err) {
    connector.close();
    tmp.remove();
    throw err;
  }
  const { child: server, base } = started;
  const counts: Counts = { started: 0, filedInDatabase: 0, filedToOutbox: 0, retriesAsked: 0, heldForLater: 0, apologies: 0, nothingLostClaims: 0, numberWithApology: 0, errors: 0, errorSamples: [] };
  const tags: string[] = [];
  try {
    await waitReady(base, 60_000, server);
    const usable = await usableComplaints(base, connector);

    const end = Date.now() + seconds * 1000;
    const recoveries: number[] = [];
    const t0 = Date.now();
    const killer = killDatabase(base, server, { t0, end, seconds, kills, outageMs }, recoveries);
    await runCustomers(base, connector, { usable, customers, end }, counts, tags);
    await killer;

    const pending = await waitForReplay(base);
    const stored = await storedTags(dir);
    const lost = tags.filter((t) => !stored.has(t)).length;
    const duplicates = [...stored.values()].filter((n) => n > 1).length;
    const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);
    const result = {
      seconds,
      customers,
      kills,
      outageMs,
      recoveryMs: recoveries,
      recoveryMedianMs: median(recoveries),
      recoveryMaxMs: recoveries.length ? Math.max(...recoveries) : null,
      demandsStarted: counts.started,
      demandsStored: stored.size,
      lost,
      duplicates,
      filedInDatabase: counts.filedInDatabase,
      filedToOutbox: counts.filedToOutbox,
      retriesAsked: counts.retriesAsked,
      heldForLater: counts.heldForLater,
      otherApologies: counts.apologies,
      nothingLostClaims: counts.nothingLostClaims,
      numberWithApology: counts.numberWithApology,
      outboxPendingAtEnd: pending,
      errors: counts.errors,
      errorSamples: counts.errorSamples,
    };
    process.stdout.write(`| measure | value |\n|---|---|\n${Object.entries(result).map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join('; ') : v} |`).join('\n')}\n`);
    if (values.json) printJson(result);
    if (lost || duplicates || counts.nothingLostClaims || counts.numberWithApology || counts.errors || recoveries.some((ms) => ms > 10_000)) process.exitCode = 1;
  } finally {
    await stopChild(server);
    connector.close();
    tmp.remove();
  }
});

/** Starts the server as its own process on an embedded, supervised database in `dir`; resolves once it listens. */
function startServer(dir: string, serverLog: string | undefined, onSpawn: (child: ChildProcess) => void): Promise<{ child: ChildProcess; base: string }> {
  return spawnBotServer({
    main: fileURLToPath(new URL('../bot/main.js', import.meta.url)),
    onSpawn,
    env: { ...process.env, HOST: '127.0.0.1', DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: serverLog ? 'warn' : 'error', RATE_LIMIT_PER_10S: '1000', MONGODB_URI: '' },
    // --server-log FILE keeps the server's log (JSON lines) for a post-mortem.
    stdio: ['ignore', serverLog ? openSync(serverLog, 'w') : 'ignore', 'inherit'],
  });
}

/** Warm-up: keep the complaints the model confirms at once (a demand must be able to finish). */
async function usableComplaints(base: string, connector: Connector): Promise<string[]> {
  const usable: string[] = [];
  for (const text of COMPLAINTS) {
    const conv = `warm-${randomUUID()}`;
    const first = (await say(base, connector, conv, 'warm-up', text)).join('\n');
    if (/对吗/.test(first)) usable.push(text);
    await say(base, connector, conv, 'warm-up', '取消');
  }
  if (usable.length === 0) throw new Error('the model confirmed none of the benchmark complaints at once');
  return usable;
}

/**
 * Kills the database `kills` times, evenly spread over the run (with `outageMs`, every restarted one
 * too for that long), and records in `recoveries` how long each took to be ready again.
 */
async function killDatabase(base: string, server: ChildProcess, plan: { t0: number; end: number; seconds: number; kills: number; outageMs: number }, recoveries: number[]): Promise<void> {
  const { t0, end, seconds, kills, outageMs } = plan;
  for (let k = 1; k <= kills; k++) {
    await sleepUntil(t0 + (k * seconds * 1000) / (kills + 1), end);
    const restartsBefore = await restarts(base);
    const pid = databasePid(server.pid!);
    if (pid === undefined) throw new Error('no database process under the server');
    process.kill(pid, 'SIGKILL');
    let killedAt = Date.now();
    let extraKills = 0;
    let lastKillAt = killedAt;
    while (Date.now() - killedAt < outageMs) {
      const again = databasePid(server.pid!);
      if (again !== undefined && again !== pid) {
        try {
          process.kill(again, 'SIGKILL');
          extraKills++;
          lastKillAt = Date.now();
        } catch {
          // it died by itself in between
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // Recovery counts from the last kill: the database is on its own from then on.
    killedAt = lastKillAt;
    process.stderr.write(`killed the database (pid ${pid}) at ${Math.round((killedAt - t0) / 1000)} s, then sent ${extraKills} more kills in ${outageMs} ms\n`);
    // Back = ready, after a restart (not merely a ping that raced the kill).
    while ((await restarts(base)) <= restartsBefore || !(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
      if (Date.now() - killedAt > 60_000) throw new Error('the database was not back within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    recoveries.push(Date.now() - killedAt);
  }
}

/** `customers` at once, each filing one demand after another until `end`; every demand's tag goes in `tags`. */
async function runCustomers(base: string, connector: Connector, load: { usable: string[]; customers: number; end: number }, counts: Counts, tags: string[]): Promise<void> {
  const { usable, end } = load;
  let next = 0;
  await Promise.all(
    Array.from({ length: load.customers }, async (_, c) => {
      while (Date.now() < end) {
        const k = next++;
        const tag = `（订单尾号${String(k).padStart(5, '0')}）`;
        tags.push(tag);
        counts.started++;
        try {
          await demand(base, connector, `${usable[k % usable.length]}${tag}`, `customer-${c}-${k}`, counts);
        } catch (err) {
          counts.errors++;
          if (counts.errorSamples.length < 5) counts.errorSamples.push((err as Error).message);
        }
      }
    }),
  );
}

/**
 * Waits (up to 60 s) until the outbox and the held messages are replayed, which the server's
 * background job does every 5 s once the database is back; returns what is still pending (-1: unknown).
 */
async function waitForReplay(base: string): Promise<number> {
  const drainedBy = Date.now() + 60_000;
  let pending = -1;
  while (Date.now() < drainedBy) {
    pending = await fetch(`${base}/readyz`).then((r) => r.json() as Promise<{ outboxPending: number; heldPending?: number }>).then((b) => b.outboxPending + (b.heldPending ?? 0), () => -1);
    if (pending === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return pending;
}

/** How many tickets the database holds per demand tag. */
async function storedTags(dir: string): Promise<Map<string, number>> {
  const { uri } = JSON.parse(readFileSync(join(dir, 'db', 'server.json'), 'utf8')) as { uri: string };
  const client = createClient(uri);
  const stored = new Map<string, number>();
  try {
    await client.connect();
    const docs = await client.db('demand_desk').collection('tickets').find({}, { projection: { 'text.original': 1 } }).toArray();
    for (const d of docs) {
      const tag = /（订单尾号\d{5}）/.exec(String((d.text as { original?: string })?.original ?? ''))?.[0];
      if (tag) stored.set(tag, (stored.get(tag) ?? 0) + 1);
    }
  } finally {
    await client.close();
  }
  return stored;
}

/** One demand, to the end: complaint → "对" → "跳过", each re-sent while the bot asks for that. */
async function demand(base: string, connector: Connector, text: string, user: string, counts: Counts): Promise<void> {
  const conv = `c-${randomUUID()}`;
  const turn = async (msg: string): Promise<string> => {
    for (let attempt = 0; attempt < 60; attempt++) {
      const replies = (await say(base, connector, conv, user, msg)).join('\n');
      if (NOTHING_LOST.test(replies)) counts.nothingLostClaims++;
      // "Please send it again" is an apology too, and true; the others are counted apart.
      if (APOLOGY.test(replies) && !RETRY.test(replies)) counts.apologies++;
      if (APOLOGY.test(replies) && NUMBER.test(replies)) counts.numberWithApology++;
      if (!RETRY.test(replies)) return replies;
      counts.retriesAsked++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`"${msg}" was refused 60 times`);
  };
  const record = (reply: string): boolean => {
    if (!NUMBER.test(reply)) return false;
    if (/已收到您的问题/.test(reply)) counts.filedToOutbox++;
    else counts.filedInDatabase++;
    return true;
  };
  // Filed at once when the bot had to answer without the conversation's state.
  if (record(await turn(text))) return;
  const second = await turn('对');
  if (record(second)) return;
  if (HELD.test(second)) {
    counts.heldForLater++;
    return;
  }
  if (!/手机号/.test(second)) throw new Error(`unexpected reply to "对": ${second}`);
  if (!record(await turn('跳过'))) throw new Error('no ticket number after the contact step');
}

interface Connector {
  serviceUrl: string;
  messagesTo(conversation: string): string[];
  close(): void;
}

/** A local stand-in for the channel's connector: records the bot's messages per conversation. */
async function startConnector(): Promise<Connector> {
  const byConversation = new Map<string, string[]>();
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = /\/v3\/conversations\/([^/]+)\//.exec(req.url ?? '');
      const activity = JSON.parse(body || '{}') as { type?: string; text?: string };
      if (m && activity.type === 'message') {
        const conv = decodeURIComponent(m[1]);
        byConversation.set(conv, [...(byConversation.get(conv) ?? []), String(activity.text)]);
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: randomUUID() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    serviceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    messagesTo: (c) => byConversation.get(c) ?? [],
    close: () => server.close(),
  };
}

async function say(base: string, connector: Connector, conversation: string, user: string, text: string): Promise<string[]> {
  const before = connector.messagesTo(conversation).length;
  const res = await fetch(`${base}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'message', id: randomUUID(), channelId: 'emulator', serviceUrl: connector.serviceUrl, from: { id: user }, recipient: { id: 'bot' }, conversation: { id: conversation }, text, locale: 'zh-CN' }),
    // A turn that takes longer than this is a hang, reported as an error naming the message.
    signal: AbortSignal.timeout(60_000),
  }).catch((err: Error) => {
    throw new Error(`"${text}" in ${conversation}: ${err.message}`);
  });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`POST /api/messages answered ${res.status}`);
  return connector.messagesTo(conversation).slice(before);
}

/** Restarts of the embedded database so far, as /readyz reports them (-1 while unknown). */
async function restarts(base: string): Promise<number> {
  return fetch(`${base}/readyz`)
    .then((r) => r.json() as Promise<{ database?: { restarts?: number } }>)
    .then((b) => b.database?.restarts ?? -1, () => -1);
}

/** The database server's pid: the server process's only child. */
function databasePid(serverPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${serverPid}/task/${serverPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return children[0];
  } catch {
    return undefined;
  }
}

async function sleepUntil(at: number, notAfter: number): Promise<void> {
  const wait = Math.min(at, notAfter) - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}


