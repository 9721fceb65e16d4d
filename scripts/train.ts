/**
 * npm run -s train -- [--data <file.jsonl|dir>] [--out <dir>] [--seed N] [--default]
 *
 * Trains the topic, type and spam heads on the shipped corpus (or --data), applying the trainers'
 * keyword edits in data/keywords.json, and writes a versioned model. Progress goes to stderr; the
 * last stdout line is a JSON summary.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { trainDemandModel } from '../classifier/demand-classifier.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { writeArtifact } from '../runtime/model-store.js';
import { loadCorpus, loadKeywordOverrides, loadTaxonomy, readCorpusFile } from '../runtime/project-data.js';
import { flags, printJson, progressBar, runCli, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({
    data: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    default: { type: 'boolean', default: false },
  });
  const config = loadConfig(process.env);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${values.seed}"`);
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const data = values.data ? resolve(values.data) : join(config.DATA_DIR, 'corpus');
  const rows = statSync(data).isDirectory() ? loadCorpus(data, taxonomy) : readCorpusFile(data, taxonomy);
  const deps = await createPipelineDeps(config);
  const started = performance.now();
  const artifact = trainDemandModel(rows, taxonomy, deps, {
    seed,
    keywordOverrides: loadKeywordOverrides(config.DATA_DIR),
    onProgress: progressBar('train'),
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const file = values.default ? config.MODEL_PATH : join(resolve(values.out ?? 'var/models'), `${artifact.version}.model.json.gz`);
  writeArtifact(file, artifact);
  const metrics = Object.fromEntries(Object.entries(artifact.heads).map(([h, d]) => [h, d.metrics]));
  printJson({ version: artifact.version, file, rows: rows.length, seed, trainSeconds: round(trainSeconds), trainingDataHash: artifact.trainingDataHash, metrics });
});

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
