/**
 * npm run -s bench:wechat -- [--json] [--users 50] [--retry-every 4]
 *
 * The WeChat Official Account channel under load: starts `node dist/bot/main.js` as its own process
 * on the embedded database (a temporary folder) with the WeChat channel pointed at a local WeChat
 * stand-in (test/helpers/wechat-peer.ts, safe mode), then `--users` WeChat users at once, each
 * sending 5 messages one after another as a person would (waiting for the answer): a complaint,
 * "对", "跳过" (a ticket is filed), a picture (added to that ticket), and a voice message with
 * WeChat's recognition text ("谢谢"). Every `--retry-every`-th push is also sent a second time with the
 * same MsgId, as WeChat retries.
 *
 * Reports the push latency (WeChat's wait for the HTTP answer: median, p95, max; target every one
 * within 4.5 s), how many answers went out passively and how many later through the
 * customer-service API, and counts messages lost (an answer missing, or a ticket, message or
 * picture missing in the database) and duplicated (an extra answer, ticket or picture). A single
 * user's run before the load is the same-run reference. The last line is JSON with --json.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '../store/database.js';
import { texts } from '../bot/messages.js';
import { WeChatPeer, type PushMessage } from '../test/helpers/wechat-peer.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { spawnBotServer, waitReady } from './server-process.js';
import { benchTempDir, stopChild } from './temp-dir.js';

const SETTINGS = { token: 'benchToken2026', appId: 'wxbe0c4b3a2f1e0d9c', appSecret: 'bench-app-secret-0123456789', encodingAesKey: 'Bench0123456789abcdefghijklmnopqrstuvwxyzAB' };

/** Complaints the default model confirms at once (checked at warm-up, as bench:outage does). */
const COMPLAINTS = [
  '我的快递三天了还没到，物流信息一直不更新',
  '退款申请了两周还没到账',
  '这个月话费多扣了三十块，怎么回事',
  '空调装好第二天就不制冷了，要求上门维修',
  '宽带晚上一直断网，根本没法用',
  '收到的衣服有破洞，质量太差了',
];
const NUMBER = /T\d{8}-(?:\d{4,}|O[0-9A-Z]{6})/;
const MESSAGES_PER_USER = 5;

interface UserRun {
  openid: string;
  tag: string;
  latencies: number[];
  passive: number;
  late: number;
  retries: number;
  retryAnswered: number;
  /** Answers that were not what the step expects (a wrong or missing answer). */
  wrong: string[];
  number: string | null;
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    users: { type: 'string', default: '50' },
    'retry-every': { type: 'string', default: '4' },
  });
  const users = Number(values.users);
  const retryEvery = Number(values['retry-every']);
  if (!Number.isInteger(users) || users < 1) throw new UsageError(`--users must be a positive integer, got "${values.users}"`);
  if (!Number.isInteger(retryEvery) || retryEvery < 0) throw new UsageError(`--retry-every must be a non-negative integer (0: no retries), got "${values['retry-every']}"`);

  const tmp = benchTempDir('bench-wechat-');
  const dir = tmp.path;
  const peer = new WeChatPeer(SETTINGS);
  const apiBase = await peer.start();
  let started: { child: ChildProcess; base: string };
  try {
    // Interrupted: the server (and its embedded database) stops first, then the folder goes.
    started = await startServer(dir, apiBase, (c) => tmp.onInterrupt(() => stopChild(c)));
  } catch (err) {
    await peer.stop();
    tmp.remove();
    throw err;
  }
  const { child: server, base } = started;
  peer.pushTo(base);
  try {
    await waitReady(base, 90_000, server);
    const load: Load = { peer, usable: await usableComplaints(peer), retryEvery, pushSeq: 0 };

    process.stderr.write(`reference: 1 user x ${MESSAGES_PER_USER} messages\n`);
    const reference = await runUser(load, 'oReference000000000000000000', 99_999);
    process.stderr.write(`load: ${users} users x ${MESSAGES_PER_USER} messages at once\n`);
    const started = Date.now();
    const runs = await Promise.all(Array.from({ length: users }, (_, i) => runUser(load, `oBench${String(i).padStart(22, '0')}`, i)));
    const wallMs = Date.now() - started;
    // Answers still on their way through the customer-service API.
    await new Promise((r) => setTimeout(r, 2000));

    const { lost, duplicated } = lostAndDuplicated(runs, peer, await storedPerTag(dir));
    const result = summary(runs, reference, { users, lost, duplicated, tokenRequests: peer.tokenRequests.stable, wallMs });
    process.stdout.write(`| measure | value |\n|---|---|\n${Object.entries(result).map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join('; ') : v} |`).join('\n')}\n`);
    if (values.json) printJson(result);
    if (lost || duplicated || result.over4500Ms || result.wrongAnswers) process.exitCode = 1;
  } finally {
    await stopChild(server);
    await peer.stop();
    tmp.remove();
  }
});

/** Starts the server as its own process on the embedded database in `dir`, its WeChat channel pointed at the stand-in; resolves once it listens. */
function startServer(dir: string, apiBase: string, onSpawn: (child: ChildProcess) => void): Promise<{ child: ChildProcess; base: string }> {
  return spawnBotServer({
    main: fileURLToPath(new URL('../bot/main.js', import.meta.url)),
    onSpawn,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      DB_DIR: join(dir, 'db'),
      OUTBOX_PATH: join(dir, 'outbox.jsonl'),
      LOG_LEVEL: 'error',
      RATE_LIMIT_PER_10S: '1000',
      MONGODB_URI: '',
      WECHAT_TOKEN: SETTINGS.token,
      WECHAT_APP_ID: SETTINGS.appId,
      WECHAT_APP_SECRET: SETTINGS.appSecret,
      WECHAT_ENCODING_AES_KEY: SETTINGS.encodingAesKey,
      WECHAT_API_BASE: apiBase,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** The complaints the serving model confirms at once (warm-up pushes); at least one is needed. */
async function usableComplaints(peer: WeChatPeer): Promise<string[]> {
  const usable: string[] = [];
  for (const [i, text] of COMPLAINTS.entries()) {
    const r = await peer.push(`oWarmUp${String(i).padStart(21, '0')}`, { type: 'text', content: text });
    if (/对吗/.test(r.reply ?? '')) usable.push(text);
  }
  if (usable.length === 0) throw new Error('the model confirmed none of the benchmark complaints at once');
  return usable;
}

/** What every user's run shares: the stand-in, the complaints, and the push count that picks retries. */
interface Load {
  peer: WeChatPeer;
  usable: string[];
  retryEvery: number;
  pushSeq: number;
}

/** One user's five messages; every `retryEvery`-th push of the run is retried. */
async function runUser(load: Load, openid: string, k: number): Promise<UserRun> {
  const { peer, usable, retryEvery } = load;
  const run: UserRun = { openid, tag: `（订单尾号${String(k).padStart(5, '0')}）`, latencies: [], passive: 0, late: 0, retries: 0, retryAnswered: 0, wrong: [], number: null };
  const step = async (m: PushMessage, expect: (reply: string) => boolean) => {
    const sentBefore = peer.sentTo(openid).length;
    const result = await peer.push(openid, m);
    run.latencies.push(result.ms);
    let reply: string;
    if (result.reply !== null) {
      run.passive++;
      reply = result.reply;
    } else if (result.status === 200 && result.body === 'success') {
      run.late++;
      // The answer follows through the customer-service API.
      reply = (await peer.nextSentAfter(openid, sentBefore))?.content ?? '';
    } else {
      reply = `HTTP ${result.status} ${result.body.slice(0, 100)}`;
    }
    if (!expect(reply)) run.wrong.push(reply.slice(0, 120));
    if (retryEvery > 0 && ++load.pushSeq % retryEvery === 0) {
      run.retries++;
      const again = await peer.push(openid, m, { msgId: result.msgId });
      if (again.reply !== null || again.body !== 'success') run.retryAnswered++;
    }
    return reply;
  };
  const complaint = `${usable[k % usable.length]}${run.tag}`;
  await step({ type: 'text', content: complaint }, (r) => /对吗/.test(r));
  await step({ type: 'text', content: '对' }, (r) => /手机号或邮箱/.test(r));
  const created = await step({ type: 'text', content: '跳过' }, (r) => NUMBER.test(r));
  run.number = NUMBER.exec(created)?.[0] ?? null;
  await step({ type: 'image', picUrl: `http://mmbiz.qpic.cn/mmbiz_jpg/bench/${k}`, mediaId: `bench-media-${k}` }, (r) => run.number !== null && r === texts('zh-Hans').mediaAdded(run.number));
  // After filing, a thank-you is a follow-up: it lands on the ticket and the bot says so.
  await step({ type: 'voice', recognition: '谢谢' }, (r) => run.number !== null && r === texts('zh-Hans').followupThanks(run.number));
  return run;
}

/** Tickets and pictures stored per user (by the tag in the complaint), read from the server's database. */
async function storedPerTag(dir: string): Promise<Map<string, { tickets: number; pictures: number }>> {
  const { uri } = JSON.parse(readFileSync(join(dir, 'db', 'server.json'), 'utf8')) as { uri: string };
  const client = createClient(uri);
  const perTag = new Map<string, { tickets: number; pictures: number }>();
  try {
    await client.connect();
    const docs = await client.db('demand_desk').collection('tickets').find({ 'customer.channelId': 'wechat' }, { projection: { 'text.original': 1, messages: 1 } }).toArray();
    for (const d of docs) {
      const tag = /（订单尾号\d{5}）/.exec(String((d.text as { original?: string })?.original ?? ''))?.[0];
      if (!tag) continue;
      const e = perTag.get(tag) ?? { tickets: 0, pictures: 0 };
      e.tickets++;
      e.pictures += ((d.messages as { attachments?: unknown[] }[] | undefined) ?? []).reduce((n, m) => n + (m.attachments?.length ?? 0), 0);
      perTag.set(tag, e);
    }
  } finally {
    await client.close();
  }
  return perTag;
}

/** Lost: an answer, the ticket or the picture missing; duplicated: an extra answer (or an answered retry), ticket or picture. */
function lostAndDuplicated(runs: UserRun[], peer: WeChatPeer, perTag: Map<string, { tickets: number; pictures: number }>): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const r of runs) {
    const answers = r.passive + peer.sentTo(r.openid).length;
    lost += Math.max(0, MESSAGES_PER_USER - answers);
    duplicated += Math.max(0, answers - MESSAGES_PER_USER) + r.retryAnswered;
    const stored = perTag.get(r.tag) ?? { tickets: 0, pictures: 0 };
    lost += (stored.tickets === 0 ? 1 : 0) + (stored.pictures === 0 ? 1 : 0);
    duplicated += Math.max(0, stored.tickets - 1) + Math.max(0, stored.pictures - 1);
  }
  return { lost, duplicated };
}

/** The run's figures, in the order they are printed. */
function summary(runs: UserRun[], reference: UserRun, facts: { users: number; lost: number; duplicated: number; tokenRequests: number; wallMs: number }) {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const pct = (xs: number[], p: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]);
  const ref = [...reference.latencies].sort((a, b) => a - b);
  return {
    users: facts.users,
    messagesPerUser: MESSAGES_PER_USER,
    pushes: all.length,
    retriedPushes: runs.reduce((n, r) => n + r.retries, 0),
    referenceMedianMs: pct(ref, 0.5),
    referenceMaxMs: Math.round(ref.at(-1)!),
    medianMs: pct(all, 0.5),
    p95Ms: pct(all, 0.95),
    maxMs: Math.round(all.at(-1)!),
    over4500Ms: all.filter((ms) => ms > 4500).length,
    passiveReplies: runs.reduce((n, r) => n + r.passive, 0),
    laterThroughApi: runs.reduce((n, r) => n + r.late, 0),
    lost: facts.lost,
    duplicated: facts.duplicated,
    wrongAnswers: runs.reduce((n, r) => n + r.wrong.length, 0),
    wrongSamples: runs.flatMap((r) => r.wrong).slice(0, 3),
    tokenRequests: facts.tokenRequests,
    wallSeconds: Math.round(facts.wallMs / 100) / 10,
  };
}


