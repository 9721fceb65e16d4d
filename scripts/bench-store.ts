/**
 * npm run -s bench:store -- [--json] [--writes N] [--concurrency C]
 *
 * Acknowledged ticket writes per second and write latency (p50/p99) against the embedded server
 * (or MONGODB_URI), through the whole store path: validation, number allocation, journaled insert
 * where supported, customer record. A raw driver `insertOne` of the same documents runs in the same
 * process as the reference. Median of 3 rounds.
 */
import { join } from 'node:path';
import { loadConfig } from '../runtime/config.js';
import { openDatabase } from '../store/database.js';
import { createServices } from '../desk/services.js';
import type { TicketCreate } from '../store/schemas.js';
import { flags, printJson, runCli } from './cli.js';
import { benchTempDir } from './temp-dir.js';

const silent = { info() {}, warn() {}, error() {} };

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    writes: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
  });
  const writes = Number(values.writes);
  const concurrency = Number(values.concurrency);
  const config = loadConfig(process.env);
  const tmp = benchTempDir('bench-store-');
  const dir = tmp.path;
  const database = await openDatabase({ ...config, DB_DIR: join(dir, 'db') });
  tmp.onInterrupt(() => database.close());
  try {
    let writeConcern = '';
    const rounds: { perSecond: number; p50: number; p99: number; ref: number }[] = [];
    for (let round = 0; round < 3; round++) {
      const db = database.client.db(`bench_${Date.now()}_${round}`);
      const services = await createServices(config, { db, outboxPath: join(dir, `outbox-${round}.jsonl`), log: silent, models: false });
      const store = services.store;
      writeConcern = JSON.stringify(store.writeConcern);
      const latencies: number[] = [];
      const start = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < writes) {
            const i = next++;
            const t0 = performance.now();
            const r = await services.tickets.file(input(i));
            if (r.stored !== 'database') throw new Error('a write went to the outbox during the benchmark');
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      // Reference: plain driver inserts of ticket-sized documents, same concurrency.
      const raw = db.collection('raw');
      const doc = (i: number) => ({ ...input(i), n: i, at: new Date() });
      let r2 = 0;
      const s2 = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (r2 < writes) {
            const i = r2++;
            await raw.insertOne(doc(i), { writeConcern: store.writeConcern });
          }
        }),
      );
      const refSeconds = (performance.now() - s2) / 1000;
      latencies.sort((a, b) => a - b);
      const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
      rounds.push({ perSecond: writes / seconds, p50: q(0.5), p99: q(0.99), ref: writes / refSeconds });
      await db.dropDatabase();
      process.stderr.write(`round ${round + 1}: ${Math.round(writes / seconds)} tickets/s, p99 ${q(0.99).toFixed(1)} ms; raw insertOne ${Math.round(writes / refSeconds)}/s\n`);
    }
    const mid = [...rounds].sort((a, b) => a.perSecond - b.perSecond)[1];
    const result = {
      server: database.server ? database.server.kind : 'MONGODB_URI',
      writeConcern,
      writes,
      concurrency,
      ticketWritesPerSecond: Math.round(mid.perSecond),
      p50Ms: round(mid.p50),
      p99Ms: round(mid.p99),
      rawInsertsPerSecond: Math.round(mid.ref),
    };
    await database.client.db('bench_wc').dropDatabase();
    process.stdout.write(`| measure | value |\n|---|---|\n${Object.entries(result).map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
    if (values.json) printJson(result);
  } finally {
    await database.close();
    tmp.remove();
  }
});

function input(i: number): TicketCreate {
  return {
    customer: { channelId: i % 2 ? 'webchat' : 'msteams', userId: `bench-user-${i % 500}` },
    conversationRef: JSON.stringify({ channelId: 'webchat', serviceUrl: 'http://127.0.0.1:3978/', conversation: { id: `conv-${i}` }, user: { id: `bench-user-${i % 500}` } }),
    text: { original: `第${i}单：快递三天没到，客服电话也打不通，麻烦尽快处理`, normalized: `第${i}单:快递三天没到,客服电话也打不通,麻烦尽快处理` },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.93, alternatives: [{ topic: 'delivery', score: 0.93 }], keywords: [{ term: '快递', topic: 'delivery', weight: 2 }], modelVersion: 'bench', needsReview: false, reviewReason: null },
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
