/**
 * npm run -s bench:memory -- [--json] [--seconds 30] [--message-kb 60] [--clients 200] [--concurrency 32] [--ceiling-mb 512]
 *
 * Issue 14's memory target: the server's resident memory stays below its configured ceiling
 * (MEMORY_CEILING_MB) under a flood of large messages from one client and from many. Starts the
 * server as its own process on the embedded default, then floods the web chat (Direct Line) for
 * `--seconds` per phase with `--message-kb` messages:
 * - one client: `--concurrency` loops from 127.0.0.1, each opening a conversation and posting into
 *   it until refused, then opening the next;
 * - many clients: the same loops spread over `--clients` source addresses (127.0.0.2 …), so each
 *   client stays within its own byte budget and the server stores what it accepts.
 * The server's resident memory (and the embedded database's) is sampled every 100 ms. After the
 * floods, a fresh customer must still get an answer. Before them, what one message costs: ten
 * `--message-kb` messages posted one after another into one conversation, each timed from the POST
 * to its answer (median and max). `BENCH_BOT_SERVER=<other checkout>/dist/bot/main.js` measures
 * another build's server (scripts/server-process.ts). Reports peak and median RSS per phase against
 * the ceiling, and the responses by status; the last line is JSON with --json.
 */
import { request, Agent } from 'node:http';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

interface Phase {
  name: string;
  seconds: number;
  posted: number;
  byStatus: Record<string, number>;
  acceptedMiB: number;
  rss: { startMiB: number; peakMiB: number; medianMiB: number; endMiB: number };
  databaseRssPeakMiB: number | null;
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '30' },
    'message-kb': { type: 'string', default: '60' },
    clients: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '32' },
    'ceiling-mb': { type: 'string', default: '512' },
  });
  const seconds = Number(values.seconds);
  const kb = Number(values['message-kb']);
  const clients = Number(values.clients);
  const concurrency = Number(values.concurrency);
  const ceiling = Number(values['ceiling-mb']);
  if (!(seconds >= 1)) throw new UsageError(`--seconds must be at least 1, got "${values.seconds}"`);
  if (!(kb >= 1 && kb <= 200)) throw new UsageError(`--message-kb must be between 1 and 200, got "${values['message-kb']}"`);
  if (!Number.isInteger(clients) || clients < 1 || clients > 250) throw new UsageError(`--clients must be an integer from 1 to 250, got "${values.clients}"`);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a positive integer, got "${values.concurrency}"`);
  if (!(ceiling >= 64)) throw new UsageError(`--ceiling-mb must be at least 64, got "${values['ceiling-mb']}"`);

  const server = await startServerProcess({ MEMORY_CEILING_MB: String(ceiling), RATE_LIMIT_PER_10S: '1000', MONGODB_URI: '' });
  const text = '投诉'.repeat(Math.floor((kb * 1024) / 6)); // 3 bytes per character in UTF-8
  const phases: Phase[] = [];
  try {
    const idle = server.rssMiB() ?? 0;
    process.stderr.write(`server ready, resident ${idle.toFixed(0)} MiB, ceiling ${ceiling} MiB\n`);
    const single = await onePostAtATime(server.base, text, 10);
    process.stderr.write(`one ${kb} KB message at a time: median ${single.medianMs} ms, max ${single.maxMs} ms (${single.posts} posts, statuses ${single.statuses.join(' ')})\n`);
    phases.push(await flood(server, 'one client', seconds, concurrency, () => '127.0.0.1', text));
    let next = 0;
    phases.push(await flood(server, `${clients} clients`, seconds, concurrency, () => `127.0.0.${2 + (next++ % clients)}`, text));
    await new Promise((r) => setTimeout(r, 5000));
    const settled = server.rssMiB() ?? 0;
    const answer = await stillAnswers(server.base);
    const peak = Math.max(...phases.map((p) => p.rss.peakMiB));
    const result = { ceilingMiB: ceiling, idleMiB: round(idle), settledMiB: round(settled), peakMiB: round(peak), withinCeiling: peak <= ceiling, freshCustomerAnswered: answer, messageKiB: kb, singlePost: single, phases };
    for (const p of phases) {
      process.stderr.write(
        `${p.name}: ${p.posted} posts in ${p.seconds} s (${Object.entries(p.byStatus).map(([s, n]) => `${s}×${n}`).join(', ')}), accepted ${p.acceptedMiB.toFixed(1)} MiB; server RSS start ${p.rss.startMiB.toFixed(0)}, median ${p.rss.medianMiB.toFixed(0)}, peak ${p.rss.peakMiB.toFixed(0)}, end ${p.rss.endMiB.toFixed(0)} MiB; database peak ${p.databaseRssPeakMiB?.toFixed(0) ?? '-'} MiB\n`,
      );
    }
    process.stderr.write(`peak ${peak.toFixed(0)} MiB of a ${ceiling} MiB ceiling (${peak <= ceiling ? 'within' : 'OVER'}); settled ${settled.toFixed(0)} MiB; a fresh customer ${answer ? 'was' : 'was NOT'} answered\n`);
    if (values.json) printJson(result);
    if (peak > ceiling || !answer) process.exitCode = 1;
  } finally {
    await server.stop();
  }
});

async function flood(server: ServerProcess, name: string, seconds: number, concurrency: number, address: () => string, text: string): Promise<Phase> {
  const samples: number[] = [];
  let dbPeak: number | null = null;
  const sampler = setInterval(() => {
    const r = server.rssMiB();
    if (r !== null) samples.push(r);
    const d = server.databaseRssMiB();
    if (d !== null) dbPeak = Math.max(dbPeak ?? 0, d);
  }, 100);
  const start = server.rssMiB() ?? 0;
  const byStatus: Record<string, number> = {};
  let posted = 0;
  let accepted = 0;
  const end = Date.now() + seconds * 1000;
  const body = JSON.stringify({ type: 'message', text, locale: 'zh-CN' });
  const count = (s: number | string) => (byStatus[s] = (byStatus[s] ?? 0) + 1);
  const loop = async () => {
    while (Date.now() < end) {
      const from = address();
      const agent = new Agent({ keepAlive: true, maxSockets: 1, localAddress: from } as ConstructorParameters<typeof Agent>[0]);
      try {
        const page = await call(server.base, 'GET', '/api/webchat/token', agent);
        count(`token ${page.status}`);
        if (page.status !== 200) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const { conversationId, token } = JSON.parse(page.body) as { conversationId: string; token: string };
        const started = await call(server.base, 'POST', '/v3/directline/conversations', agent, token, '{}');
        count(`start ${started.status}`);
        if (started.status !== 201) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        // Post into this conversation until the server refuses (its byte budget), then move on.
        while (Date.now() < end) {
          const r = await call(server.base, 'POST', `/v3/directline/conversations/${conversationId}/activities`, agent, token, body);
          posted++;
          count(r.status);
          if (r.status !== 200) break;
          accepted += Buffer.byteLength(body);
        }
      } catch (err) {
        count(`error ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      } finally {
        agent.destroy();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  clearInterval(sampler);
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    seconds,
    posted,
    byStatus,
    acceptedMiB: round(accepted / 1024 / 1024),
    rss: { startMiB: round(start), peakMiB: round(sorted.at(-1) ?? start), medianMiB: round(sorted[Math.floor(sorted.length / 2)] ?? start), endMiB: round(server.rssMiB() ?? 0) },
    databaseRssPeakMiB: dbPeak === null ? null : round(dbPeak),
  };
}

/** `n` messages posted one after another into one conversation (from its own address): ms per POST, to its answer. */
async function onePostAtATime(base: string, text: string, n: number): Promise<{ posts: number; medianMs: number; maxMs: number; statuses: number[] }> {
  const agent = new Agent({ keepAlive: true, localAddress: '127.0.1.1' } as ConstructorParameters<typeof Agent>[0]);
  try {
    const page = await call(base, 'GET', '/api/webchat/token', agent);
    const { conversationId, token } = JSON.parse(page.body) as { conversationId: string; token: string };
    await call(base, 'POST', '/v3/directline/conversations', agent, token, '{}');
    const body = JSON.stringify({ type: 'message', text, locale: 'zh-CN' });
    const times: number[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const r = await call(base, 'POST', `/v3/directline/conversations/${conversationId}/activities`, agent, token, body);
      times.push(performance.now() - t0);
      statuses.push(r.status);
    }
    const sorted = [...times].sort((a, b) => a - b);
    return { posts: n, medianMs: Math.round(sorted[Math.floor(n / 2)]), maxMs: Math.round(sorted[n - 1]), statuses: [...new Set(statuses)] };
  } finally {
    agent.destroy();
  }
}

/** A new customer after the flood: the page's token, a conversation, 帮助, and the bot's answer. */
async function stillAnswers(base: string): Promise<boolean> {
  const agent = new Agent({ keepAlive: true, localAddress: '127.0.0.250' } as ConstructorParameters<typeof Agent>[0]);
  try {
    const page = await call(base, 'GET', '/api/webchat/token', agent);
    if (page.status !== 200) return false;
    const { conversationId, token } = JSON.parse(page.body) as { conversationId: string; token: string };
    if ((await call(base, 'POST', '/v3/directline/conversations', agent, token, '{}')).status !== 201) return false;
    const path = `/v3/directline/conversations/${conversationId}/activities`;
    const posted = await call(base, 'POST', path, agent, token, JSON.stringify({ type: 'message', text: '帮助', locale: 'zh-CN' }));
    if (posted.status !== 200) return false;
    const id = (JSON.parse(posted.body) as { id: string }).id;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const log = JSON.parse((await call(base, 'GET', path, agent, token)).body) as { activities: { replyToId?: string; type: string }[] };
      if (log.activities.some((a) => a.replyToId === id && a.type === 'message')) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  } finally {
    agent.destroy();
  }
}

function call(base: string, method: string, path: string, agent: Agent, token?: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, agent, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) }, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
