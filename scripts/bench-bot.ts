/**
 * npm run -s bench:bot -- [--json] [--conversations 200] [--think-ms 0]
 *
 * Load benchmark of the bot server: starts `node dist/bot/main.js` as its own process (embedded
 * database in a temporary folder), then runs N concurrent conversations of 5 turns each over
 * Direct Line (HTTP + WebSocket), as web chat customers would: complaint → confirm → skip contact →
 * status lookup → help. Reports errors, reply latency p50/p99 (send → the bot's reply arrives) and
 * turns per second.
 *
 * `--think-ms 0` (the default) is a stress test: every customer sends the next message the moment
 * the reply arrives, so 200 conversations are 200 requests in flight at all times. `--think-ms N`
 * lets each customer read and type for a random 0.5–1.5 × N ms between turns, as people do; the
 * conversations still overlap (all 200 are open at once).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectLineClient } from './directline-client.js';
import { flags, printJson, runCli, UsageError } from './cli.js';

const COMPLAINTS = [
  '我的快递三天了还没到，物流信息一直不更新',
  '收到的衣服有破洞，质量太差了',
  '退款申请了两周还没到账',
  '这个月话费多扣了三十块，怎么回事',
  '登录一直提示验证码错误',
  '空调装好第二天就不制冷了，要求上门维修',
  '客服电话打了一个小时都没人接',
  '宽带晚上一直断网，根本没法用',
  '每天都收到你们的推销短信，怎么退订',
  '有人用我的账号在外地登录了',
];

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    conversations: { type: 'string', default: '200' },
    'think-ms': { type: 'string', default: '0' },
  });
  const n = Number(values.conversations);
  const thinkMs = Number(values['think-ms']);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--conversations must be a positive integer, got "${values.conversations}"`);
  if (!Number.isFinite(thinkMs) || thinkMs < 0) throw new UsageError(`--think-ms must be a non-negative number, got "${values['think-ms']}"`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-bot-'));
  const port = await freePort();
  const main = fileURLToPath(new URL('../bot/main.js', import.meta.url));
  // BENCH_BOT_NODE_ARGS: extra node flags for the server process (e.g. --cpu-prof to profile it).
  const nodeArgs = (process.env.BENCH_BOT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'warn', RATE_LIMIT_PER_10S: '10' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(base);
    // Warm-up: one conversation.
    await conversation(base, -1, () => undefined, 0);
    const latencies: number[] = [];
    let errors = 0;
    const errorSamples: string[] = [];
    const start = performance.now();
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        conversation(base, i, (ms) => latencies.push(ms), thinkMs).catch((err: Error) => {
          errors++;
          if (errorSamples.length < 5) errorSamples.push(err.message);
        }),
      ),
    );
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 100) / 100;
    const result = { conversations: n, thinkMs, turns: latencies.length, errors, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: q(1), turnsPerSecond: Math.round(latencies.length / seconds), seconds: Math.round(seconds * 100) / 100, errorSamples };
    process.stdout.write(`| measure | value |\n|---|---|\n${Object.entries(result).map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join('; ') : v} |`).join('\n')}\n`);
    if (values.json) printJson(result);
    if (errors) process.exitCode = 1;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});

/** One customer: 5 turns, each timed from send to the bot's reply. */
async function conversation(base: string, i: number, record: (ms: number) => void, thinkMs: number): Promise<void> {
  const c = await DirectLineClient.open(base, `load-${i}-${process.pid}`);
  try {
    const turn = async (text: string, expect: RegExp) => {
      if (thinkMs > 0) await new Promise((r) => setTimeout(r, thinkMs * (0.5 + Math.random())));
      const t0 = performance.now();
      const reply = await c.replyTo(await c.send(text), 30_000);
      record(performance.now() - t0);
      if (!expect.test(reply.text ?? '')) throw new Error(`unexpected reply to "${text}": ${reply.text}`);
      return reply.text ?? '';
    };
    await turn(COMPLAINTS[Math.abs(i) % COMPLAINTS.length], /对吗|请帮我选一下/);
    const second = await turn('对', /手机号|请选择|对吗|请帮我选一下/);
    const done = /手机号/.test(second) ? await turn('跳过', /T\d{8}-\d{4}/) : await turn('取消', /取消/);
    const number = done.match(/T\d{8}-\d{4}/)?.[0];
    await turn(number ? `查询工单 ${number}` : '查询我的工单', /工单|ticket/i);
    await turn('帮助', /查询工单/);
  } finally {
    c.close();
  }
}

async function waitReady(base: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the bot server did not become ready within 60 s');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
