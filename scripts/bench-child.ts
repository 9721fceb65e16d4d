/**
 * Helper of `bench`: runs in a fresh process and prints one JSON line.
 * `classifier`: resident memory with the default model loaded and used.
 * `tokenizer`: segmentation speed and resident memory of the configured jieba implementation.
 */
import { join } from 'node:path';
import { createTokenizer, loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { PROJECT_ROOT, readLabelled, sharedDataset } from '../runtime/datasets.js';
import { readJsonl } from '../runtime/jsonl.js';

const config = loadConfig(process.env);
const file = sharedDataset('gov_titles_teddy2020.jsonl');
const texts = file ? readLabelled(file).map((r) => r.text) : readJsonl(join(PROJECT_ROOT, 'test/fixtures/holdout.jsonl')).map((r) => String(r.text));
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
  const c = await loadDemandClassifier(config);
  for (const s of texts) c.classify(s);
  globalThis.gc?.();
  console.log(JSON.stringify({ rssMb: mb() }));
}
