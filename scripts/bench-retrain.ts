/**
 * npm run -s bench:retrain -- [--corrections N] [--runs R] [--threads T] [--json]
 *
 * Retraining time with N (default 10,000) staff corrections on top of the shipped corpus; target
 * ≤ 60 s. Each run is the whole path a trainer starts from the console: read the corrections and
 * keyword edits from the database, merge them over the corpus, train in the worker thread, evaluate
 * the new version and the active one on the held-out rows plus the newest corrections, register it.
 * Median of R (default 3) runs, with a different seed each (so each is a new version), against the
 * embedded database in a temporary directory (or MONGODB_URI).
 *
 * The corrections are real customer messages (Chinese e-commerce and food-delivery reviews from
 * ../shared/datasets), labelled like staff corrections are: half get the model's runner-up topic (a
 * topic correction), half keep its topic with another demand type (a type correction). Skips with a
 * message when ../shared/datasets is absent.
 *
 * --threads T (default: config TRAIN_THREADS) is how many threads solve the SVMs; compare
 * --threads 1 with the default in one sitting to see what the threads bring on this machine.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DEMAND_TYPES } from '../classifier/taxonomy.js';
import { createPipelineDeps, loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { readLabelled, sharedDataset, SHARED_MISSING_MESSAGE } from '../runtime/datasets.js';
import { loadTaxonomy } from '../runtime/project-data.js';
import { openDatabase } from '../store/database.js';
import { createTicketService } from '../desk/services.js';
import { createStore } from '../store/index.js';
import type { TrainingExample } from '../store/training-repository.js';
import { artifactLoader, ModelHolder } from '../trainer/model-holder.js';
import { TrainingService } from '../trainer/training-service.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { benchTempDir } from './temp-dir.js';

const silent = { info() {}, warn() {}, error() {} };
const SOURCES = ['online_shopping_10cats.jsonl', 'waimai_10k_sentiment.jsonl'];

runCli(async () => {
  const { values } = flags({
    corrections: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    threads: { type: 'string' },
  });
  const n = Number(values.corrections);
  const runs = Number(values.runs);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--corrections must be a positive integer');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  const files = SOURCES.map((f) => sharedDataset(f));
  if (files.some((f) => f === null)) {
    process.stderr.write(`${SHARED_MISSING_MESSAGE}\n`);
    return;
  }

  const loadAverageAtStart = round(loadavg()[0]);
  const config = loadConfig(process.env);
  if (values.threads !== undefined) {
    const threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new UsageError(`--threads must be an integer from 1 to 64, got "${values.threads}"`);
    config.TRAIN_THREADS = threads;
  }
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const deps = await createPipelineDeps(config);
  const shipped = await loadDemandClassifier(config, deps);
  process.stderr.write(`labelling ${n} corrections with the shipped model …\n`);
  const examples = correctionsFrom(files as string[], n, (text) => shipped.classify(text));

  // Its embedded database (about 30 MB) goes with the run, on success, failure or Ctrl-C.
  const tmp = benchTempDir('bench-retrain-');
  const dir = tmp.path;
  const database = await openDatabase({ ...config, DB_DIR: join(dir, 'db') });
  tmp.onInterrupt(() => database.close());
  try {
    const db = database.client.db(`bench_retrain_${Date.now()}`);
    const store = await createStore({ db, outboxPath: join(dir, 'outbox.jsonl'), timeZone: config.TIME_ZONE, topics: taxonomy.topics.map((t) => t.id), log: silent });
    // Written straight into the collection the trainer reads: what is measured is retraining, not
    // 10,000 ticket corrections through the API.
    const collection = db.collection<TrainingExample & { _id: string }>('trainingExamples');
    for (let i = 0; i < examples.length; i += 1000) await collection.insertMany(examples.slice(i, i + 1000).map((e) => ({ _id: e.ticketNumber, ...e })));
    const holder = new ModelHolder({ shipped, registry: store.models, load: artifactLoader(deps, taxonomy, config.MAX_TEXT_LENGTH), log: silent });
    await holder.init();
    const training = new TrainingService({ store, holder, config, log: silent, audit: createTicketService(store, { log: silent }) });

    const results: { seconds: number; cpuSeconds: number; trainSeconds: number; maxEventLoopBlockMs: number; corrections: number; trainingRows: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const status = await (await training.start({ by: 'bench', seed: 100 + run })).done;
      const seconds = (performance.now() - t0) / 1000;
      // Every thread of this process (server, training worker, solver threads): on a loaded machine
      // the wall time is the scheduler's; this says whether the threads cost extra work.
      const cpu = process.cpuUsage(cpu0);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      delay.disable();
      if (status.state !== 'succeeded') throw new Error(`run ${run + 1} failed: ${status.error?.code} ${status.error?.message}`);
      const p = (await store.models.get(status.version!))!.provenance!;
      results.push({ seconds: round(seconds), cpuSeconds: round(cpuSeconds), trainSeconds: p.trainSeconds, maxEventLoopBlockMs: Math.round(delay.max / 1e6), corrections: p.corrections, trainingRows: p.trainingRows });
      process.stderr.write(`run ${run + 1}/${runs}: ${seconds.toFixed(1)} s, CPU ${cpuSeconds.toFixed(1)} s (training ${p.trainSeconds.toFixed(1)} s, ${p.trainingRows} rows)\n`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const result = {
      corrections: results[0].corrections,
      trainingRows: results[0].trainingRows,
      runs: results.map((r) => r.seconds),
      medianSeconds: median(results.map((r) => r.seconds)),
      medianTrainSeconds: median(results.map((r) => r.trainSeconds)),
      medianCpuSeconds: median(results.map((r) => r.cpuSeconds)),
      maxEventLoopBlockMs: Math.max(...results.map((r) => r.maxEventLoopBlockMs)),
      targetSeconds: 60,
      threads: config.TRAIN_THREADS,
      cpus: cpus().length,
      loadAverageAtStart,
      loadAverage: round(loadavg()[0]),
    };
    process.stdout.write(`| measure | value |\n|---|---|\n${Object.entries(result).map(([k, v]) => `| ${k} | ${Array.isArray(v) ? v.join(', ') : v} |`).join('\n')}\n`);
    if (values.json) printJson(result);
  } finally {
    await database.close();
    tmp.remove();
  }
});

/**
 * The first `n` messages of the source files (in file order, skipping ones the model calls spam or
 * cannot classify), labelled as staff corrections: even rows get the model's runner-up topic, odd
 * rows keep the predicted topic with the next demand type.
 */
function correctionsFrom(files: string[], n: number, classify: (text: string) => { topic: string | null; type: string | null; spam: boolean; alternatives: { topic: string }[] }): TrainingExample[] {
  const out: TrainingExample[] = [];
  const at = new Date();
  for (const file of files) {
    for (const row of readLabelled(file)) {
      if (out.length >= n) return out;
      if (row.text.length > 2000) continue;
      const c = classify(row.text);
      if (c.spam || c.topic === null || c.alternatives.length < 2) continue;
      const i = out.length;
      const topic = i % 2 === 0 ? c.alternatives[1].topic : c.topic;
      const type = i % 2 === 0 ? c.type : DEMAND_TYPES[(DEMAND_TYPES.indexOf(c.type as (typeof DEMAND_TYPES)[number]) + 1) % DEMAND_TYPES.length];
      out.push({ ticketNumber: `T20260101-${String(i + 1).padStart(5, '0')}`, text: row.text, topic, type, source: 'correction', correctedBy: 'bench', createdAt: at, updatedAt: new Date(at.getTime() + i) });
    }
  }
  if (out.length < n) throw new Error(`only ${out.length} usable messages in ${files.join(', ')}; asked for ${n}`);
  return out;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
