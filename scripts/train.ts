/**
 * npm run -s train -- [--data <file.jsonl|dir>] [--out <dir>] [--seed N] [--default] [--threads N]
 * npm run -s train -- --register [--activate] [--seed N] [--by <name>] [--threads N]
 *
 * Trains the topic, type, spam and dialogue-act heads on what the shipped model learns from (the
 * corpus, data/acts, and, when ../shared is present, the realtext_dev training rows and the rows
 * data/references points at; see runtime/training-sources.ts), or on --data alone, applying the
 * trainers' keyword edits in data/keywords.json, and writes a versioned model. --no-shared leaves
 * out ../shared. Progress goes to stderr; the
 * last stdout line is a JSON summary.
 *
 * With --register it retrains the way the console does, against the configured database: the
 * corpus plus every staff correction, the keyword edits saved there, evaluated beside the active
 * version, and adds the version to the registry (--activate also makes it the active one). It takes
 * the deployment-wide training lock, so it fails while another run is in progress.
 *
 * --threads N (default: config TRAIN_THREADS) solves the SVMs on N threads; the model is the same
 * bit for bit with any N.
 */
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { loadTrainingSources } from '../runtime/training-sources.js';
import { trainDemandModel } from '../classifier/demand-classifier.js';
import { createServices } from '../desk/services.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { writeArtifact } from '../runtime/model-store.js';
import { withSolverPool } from '../trainer/solver-pool.js';
import { loadCorpus, loadKeywordOverrides, loadTaxonomy, readCorpusFile } from '../runtime/project-data.js';
import { flags, printJson, progressBar, runCli, stderrLog, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({
    data: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    default: { type: 'boolean', default: false },
    register: { type: 'boolean', default: false },
    activate: { type: 'boolean', default: false },
    by: { type: 'string' },
    'no-shared': { type: 'boolean', default: false },
    threads: { type: 'string' },
  });
  const config = loadConfig(process.env);
  if (values.threads !== undefined) {
    const threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UsageError(`--threads must be an integer from 1 to 64, got "${values.threads}"`);
    config.TRAIN_THREADS = threads;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${values.seed}"`);
  if (values.register) {
    if (values.data || values.out || values.default) throw new UsageError('--register trains from the corpus and the database; it takes no --data, --out or --default');
    await register(config, seed, values.activate, values.by ?? `cli:${userInfo().username}`);
    return;
  }
  if (values.activate) throw new UsageError('--activate needs --register');
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  let rows;
  let sources: object = {};
  if (values.data) {
    const data = resolve(values.data);
    rows = statSync(data).isDirectory() ? loadCorpus(data, taxonomy) : readCorpusFile(data, taxonomy);
  } else {
    const loaded = loadTrainingSources(config.DATA_DIR, taxonomy, { shared: !values['no-shared'] });
    rows = loaded.rows;
    sources = loaded.counts;
  }
  const deps = await createPipelineDeps(config);
  const started = performance.now();
  const artifact = await withSolverPool(config.TRAIN_THREADS, (runClasses) =>
    trainDemandModel(rows, taxonomy, deps, {
      seed,
      keywordOverrides: loadKeywordOverrides(config.DATA_DIR),
      onProgress: progressBar('train'),
      ...(runClasses ? { runClasses } : {}),
    }),
  );
  const trainSeconds = (performance.now() - started) / 1000;
  const file = values.default ? config.MODEL_PATH : join(resolve(values.out ?? 'var/models'), `${artifact.version}.model.json.gz`);
  writeArtifact(file, artifact);
  const metrics = Object.fromEntries(Object.entries(artifact.heads).map(([h, d]) => [h, d.metrics]));
  printJson({ version: artifact.version, file, rows: rows.length, sources, seed, threads: config.TRAIN_THREADS, trainSeconds: round(trainSeconds), trainingDataHash: artifact.trainingDataHash, metrics });
});

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Trains from the corpus plus the database's corrections and keyword edits, and registers the version. */
async function register(config: Config, seed: number, activate: boolean, by: string): Promise<void> {
  const services = await createServices(config, { log: stderrLog() });
  try {
    // The new version is evaluated beside the active one, as in the console.
    const { done } = await services.models.train({ by, seed, via: 'cli' });
    const bar = progressBar('train');
    const poll = setInterval(() => {
      void services.models.trainingStatus().then((s) => bar(s.progress, s.stage ?? ''));
    }, 250);
    const status = await done.finally(() => clearInterval(poll));
    if (status.state !== 'succeeded') throw new Error(`training failed (${status.error?.code}): ${status.error?.message}`);
    bar(1, 'done');
    const version = status.version!;
    if (activate) await services.models.activate(version, by, 'cli');
    const record = await services.models.get(version);
    printJson({ version, registered: true, activated: activate, seed, trainedBy: by, provenance: record.provenance, evaluation: record.metrics.evaluation });
  } finally {
    await services.close();
  }
}
