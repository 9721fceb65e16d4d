/**
 * Helper of `bench`: runs in a fresh process and prints one JSON line.
 * `classifier`: whole-pipeline speed (median of 7 rounds over the texts, per-message latency
 *   percentiles) and resident memory with the default model loaded and used.
 * `tokenizer`: segmentation speed and resident memory of the configured jieba implementation.
 */
import { join } from 'node:path';
import { createTokenizer, loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { PROJECT_ROOT, readLabelled, sharedDataset } from '../runtime/datasets.js';
import { readJsonl } from '../runtime/jsonl.js';

const config = loadConfig(process.env);
const file = sharedDataset('gov_titles_teddy2020.jsonl');
const texts = file ? readLabelled(file).filter((_, i) => i % 5 === 0).map((r) => r.text) : readJsonl(join(PROJECT_ROOT, 'data/holdout/holdout.jsonl')).map((r) => String(r.text));
const mb = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;

if (process.argv[2] === 'tokenizer') {
  const t = await createTokenizer(config.TOKENIZER, config.DATA_DIR);
  for (const s of texts.slice(0, 1000)) t.cut(s);
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    for (const s of texts) t.cut(s);
    rounds.push(texts.length / ((performance.now() - start) / 1000));
  }
  rounds.sort((a, b) => a - b);
  console.log(JSON.stringify({ perSecond: Math.round(rounds[2]), rssMb: mb() }));
} else {
  // The default model: whole-pipeline speed on one core in a fresh process, then resident memory.
  const c = await loadDemandClassifier(config);
  for (const s of texts.slice(0, 500)) c.classify(s); // warm-up
  const perRound: number[] = [];
  const latencies: number[] = [];
  for (let r = 0; r < 7; r++) {
    const start = process.hrtime.bigint();
    for (const s of texts) {
      const t0 = process.hrtime.bigint();
      c.classify(s);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    perRound.push(texts.length / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  latencies.sort((a, b) => a - b);
  perRound.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10_000) / 10_000;
  console.log(JSON.stringify({ classifyPerSecond: Math.round(perRound[3]), p50Ms: q(0.5), p99Ms: q(0.99), texts: texts.length, rounds: 7, rssMb: mb() }));
}
