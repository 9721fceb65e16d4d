/**
 * npm run -s bench -- [--json] [--quick] [--only accuracy|speed|memory|tokenizers|corpus] [--sets cfpb,spam_head10k,…]
 *                      [--features '<json>'] [--runs N] [--reference <checkout>] [--cpu N]
 *
 * The benchmark behind the README's figures, on this machine:
 * - accuracy of the keyword model and the ensemble on the test rows (i % 5 == 0) of the shared
 *   data sets, with training time;
 * - the default model's quality on the project corpus by 5-fold cross-validation and on the
 *   independently written holdout set;
 * - whole-pipeline throughput and per-message latency on one core over gov_titles test texts, and
 *   resident memory with the default model loaded (in a fresh child process);
 *   `--runs N` measures in N fresh processes and reports medians; `--reference <checkout>` alternates
 *   them with another build's (its compiled `dist/`, e.g. main in a `git worktree`), so both see the
 *   same machine load; `--cpu N` pins every child to CPU N (taskset). The load average is reported.
 * - the two jieba implementations side by side (each in a fresh child process).
 * Prints a table on stderr-free stdout; with --json the last line is one JSON object.
 * Data-set figures are skipped, with a message, when ../shared/datasets is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DemandClassifier, trainDemandModel } from '../classifier/demand-classifier.js';
import { evaluateLabels } from '../classifier/metrics.js';
import { Pipeline, trainPipeline, type PipelineDeps, type TrainOptions } from '../classifier/pipeline.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { median } from '../staff/stats.js';
import { loadConfig } from '../runtime/config.js';
import { PROJECT_ROOT, readLabelled, SHARED_MISSING_MESSAGE, sharedDataset, splitMod5 } from '../runtime/datasets.js';
import { readJsonl } from '../runtime/jsonl.js';
import { loadCorpus, loadTaxonomy } from '../runtime/project-data.js';
import { flags, printJson, runCli, UsageError } from './cli.js';

const DATASETS = [
  { key: 'gov_titles', file: 'gov_titles_teddy2020.jsonl' },
  { key: 'gov_messages', file: 'gov_messages_teddy2020.jsonl' },
  { key: 'smp2017', file: 'smp2017_ecdt_intent.jsonl' },
  { key: 'online_shopping', file: 'online_shopping_10cats.jsonl' },
  { key: 'spam_head10k', file: 'spam_sms_zh_head10k.jsonl' },
  { key: 'cfpb', file: 'cfpb_complaints_en_sample.jsonl' },
] as const;

type Result = Record<string, number | string | null | Record<string, unknown>>;

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    // Accuracy on some data sets only (keys as in the JSON: gov_titles, cfpb …), e.g. to re-check the
    // ones a feature change can move without the hour the whole table takes on a busy machine.
    sets: { type: 'string' },
    // Feature settings over the defaults for the data-set accuracy runs, e.g. the previous
    // defaults ('{"latinNgramMax":0,"latinBigrams":false}') to compare in the same sitting.
    features: { type: 'string' },
    // Speed and memory: fresh processes to take the median of; another build to alternate with; a CPU to pin to.
    runs: { type: 'string' },
    reference: { type: 'string' },
    cpu: { type: 'string' },
  });
  const runs = values.runs === undefined ? 1 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError(`--runs: expected a whole number ≥ 1, got ${values.runs}`);
  const cpu = values.cpu === undefined ? null : Number(values.cpu);
  if (cpu !== null && (!Number.isInteger(cpu) || cpu < 0)) throw new UsageError(`--cpu: expected a CPU number, got ${values.cpu}`);
  const referenceChild = values.reference === undefined ? null : resolve(values.reference, 'dist/scripts/bench-child.js');
  if (referenceChild && !existsSync(referenceChild)) throw new UsageError(`--reference: ${referenceChild} not found (build the reference checkout first: npm run build)`);
  const features = values.features ? (JSON.parse(values.features) as TrainOptions['features']) : undefined;
  const config = loadConfig(process.env);
  const deps = await createPipelineDeps(config);
  const want = (part: string) => !values.only || values.only.split(',').includes(part);
  const result: Result = {};
  const log = (msg: string) => process.stderr.write(`${msg}\n`);

  if (want('accuracy')) {
    const only = values.sets?.split(',');
    const unknown = only?.filter((k) => !DATASETS.some((d) => d.key === k)) ?? [];
    if (unknown.length) throw new UsageError(`--sets: unknown data set ${unknown.join(', ')} (one of ${DATASETS.map((d) => d.key).join(', ')})`);
    const sets = values.quick ? DATASETS.filter((d) => d.key === 'gov_titles') : only ? DATASETS.filter((d) => only.includes(d.key)) : DATASETS;
    for (const d of sets) {
      const file = sharedDataset(d.file);
      if (!file) {
        log(SHARED_MISSING_MESSAGE);
        break;
      }
      log(`accuracy: ${d.key}`);
      const r = datasetAccuracy(file, deps, features);
      result[`keywordAccuracy_${d.key}`] = r.keyword;
      result[`svmAccuracy_${d.key}`] = r.svm;
      result[`ensembleAccuracy_${d.key}`] = r.ensemble;
      result[`trainSeconds_${d.key}`] = r.trainSeconds;
    }
    if (result.trainSeconds_gov_titles !== undefined) result.trainSecondsGovTitles = result.trainSeconds_gov_titles;
    if (result.trainSeconds_online_shopping !== undefined) result.trainSecondsOnlineShopping = result.trainSeconds_online_shopping;
  }

  if (want('corpus')) {
    log('corpus: default model training time, 5-fold cross-validation, holdout');
    Object.assign(result, corpusQuality(config.DATA_DIR, deps, values.quick));
  }

  if (want('speed') || want('memory')) {
    // In a fresh process: a heap grown by the training above would slow it down and inflate memory.
    log('speed and memory: whole pipeline, default model, one core, fresh process');
    if (runs === 1 && !referenceChild && cpu === null) Object.assign(result, childMeasure(config.TOKENIZER, 'classifier'));
    else Object.assign(result, alternatingMeasure(config.TOKENIZER, runs, referenceChild, cpu, log));
  }

  if (want('tokenizers')) {
    log('tokenizers: node-rs-jieba vs nodejieba, each in a fresh process');
    for (const t of ['node-rs-jieba', 'nodejieba'] as const) {
      const m = childMeasure(t, 'tokenizer');
      result[`tokenizer_${t}`] = m;
    }
  }

  printTable(result);
  if (values.json) printJson(result);
});

/** Trains one head on the training rows and scores the test rows with each scorer. */
function datasetAccuracy(file: string, deps: PipelineDeps, features?: TrainOptions['features']) {
  const rows = readLabelled(file);
  const { train, test } = splitMod5(rows);
  const labels = [...new Set(rows.map((r) => r.label))].sort();
  const t0 = performance.now();
  const artifact = trainPipeline(train.map((r) => ({ text: r.text, labels: { label: r.label } })), [{ name: 'label', labels }], deps, { seed: 1, ...(features ? { features } : {}) });
  const trainSeconds = (performance.now() - t0) / 1000;
  const p = Pipeline.load(artifact, deps, { maxLength: Number.MAX_SAFE_INTEGER });
  const gold = test.map((r) => r.label);
  const acc = (scorer: 'keyword' | 'svm' | 'ensemble') => {
    const pred = test.map((r) => p.scoreHead(p.analyze(r.text), 'label', scorer).label);
    return round(evaluateLabels(gold, pred, labels).accuracy);
  };
  return { keyword: acc('keyword'), svm: acc('svm'), ensemble: acc('ensemble'), trainSeconds: round(trainSeconds, 2) };
}

/** The product model on its own corpus (cross-validated) and on the holdout set. */
function corpusQuality(dataDir: string, deps: PipelineDeps, quick: boolean): Result {
  const taxonomy = loadTaxonomy(dataDir);
  const rows = loadCorpus(join(dataDir, 'corpus'), taxonomy);
  const t0 = performance.now();
  const full = trainDemandModel(rows, taxonomy, deps, { seed: 1 });
  const out: Result = { trainSecondsCorpus: round((performance.now() - t0) / 1000, 2), corpusRows: rows.length };
  if (!quick) {
    const k = 5;
    const gold = { topic: [] as string[], type: [] as string[], spam: [] as string[] };
    const pred = { topic: [] as (string | null)[], type: [] as (string | null)[], spam: [] as string[] };
    let kept = 0;
    let keptOk = 0;
    let normal = 0;
    for (let f = 0; f < k; f++) {
      const train = rows.filter((_, i) => i % k !== f);
      const test = rows.filter((_, i) => i % k === f);
      const c = DemandClassifier.load(trainDemandModel(train, taxonomy, deps, { seed: 1 }), deps, taxonomy);
      for (const r of test) {
        const p = c.classify(r.text);
        gold.spam.push(r.spam ? 'spam' : 'ham');
        pred.spam.push(p.spam ? 'spam' : 'ham');
        if (r.spam || !r.topic) continue;
        normal++;
        // Topic/type of normal rows are scored even when the spam head wrongly flagged them (then null = wrong).
        gold.topic.push(r.topic);
        pred.topic.push(p.topic);
        gold.type.push(r.type!);
        pred.type.push(p.type);
        if (!p.needsReview) {
          kept++;
          if (p.topic === r.topic) keptOk++;
        }
      }
    }
    out.cvTopicAccuracy = round(evaluateLabels(gold.topic, pred.topic).accuracy);
    out.cvTopicMacroF1 = round(evaluateLabels(gold.topic, pred.topic).macroF1);
    out.cvTypeAccuracy = round(evaluateLabels(gold.type, pred.type).accuracy);
    out.cvSpamAccuracy = round(evaluateLabels(gold.spam, pred.spam).accuracy);
    out.cvCoverage = round(kept / normal);
    out.cvPrecisionNotReviewed = round(keptOk / Math.max(1, kept));
  }
  Object.assign(out, holdout(DemandClassifier.load(full, deps, taxonomy)));
  return out;
}

/** Figures on the independently written holdout set (never trained on). */
function holdout(c: DemandClassifier): Result {
  const rows = readJsonl(join(PROJECT_ROOT, 'data/holdout/holdout.jsonl'));
  const res = rows.map((r) => ({ r, p: c.classify(r.text) }));
  const normal = res.filter(({ r }) => !r.spam);
  const spam = res.filter(({ r }) => r.spam);
  const share = <T>(xs: T[], f: (x: T) => boolean) => round(xs.filter(f).length / Math.max(1, xs.length));
  const kept = normal.filter(({ p }) => !p.needsReview);
  return {
    holdoutTopicAccuracy: share(normal, ({ r, p }) => p.topic === r.topic),
    holdoutTypeAccuracy: share(normal, ({ r, p }) => p.type === r.type),
    holdoutSpamRecall: share(spam, ({ p }) => p.spam),
    holdoutHamFlagged: share(normal, ({ p }) => p.spam),
    holdoutCoverage: share(normal, ({ p }) => !p.needsReview),
    holdoutPrecisionNotReviewed: share(kept, ({ r, p }) => p.topic === r.topic),
  };
}

/** Runs `bench-child.ts` in a fresh process so its memory is not mixed with this one's. */
function childMeasure(tokenizer: string, what: 'classifier' | 'tokenizer', script?: string, cpu: number | null = null): Record<string, number> {
  // The sibling script, compiled (dist/) or not (run through tsx), or another build's.
  const here = fileURLToPath(import.meta.url);
  const child = script ?? here.replace(/bench\.(ts|js)$/, 'bench-child.$1');
  const nodeArgs = child.endsWith('.ts') ? ['--import', 'tsx', child, what] : [child, what];
  const [command, args] = cpu === null ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(cpu), process.execPath, ...nodeArgs]];
  const out = execFileSync(command, args, {
    env: { ...process.env, TOKENIZER: tokenizer },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

/**
 * Speed and memory in `runs` fresh processes of this build, each after one of the reference build
 * when there is one (same load for both), with medians and the load average before and after.
 */
function alternatingMeasure(tokenizer: string, runs: number, referenceChild: string | null, cpu: number | null, log: (msg: string) => void): Result {
  const load = () => loadavg().map((x) => round(x, 1));
  const before = load();
  const mine: Record<string, number>[] = [];
  const theirs: Record<string, number>[] = [];
  for (let r = 0; r < runs; r++) {
    if (referenceChild) {
      theirs.push(childMeasure(tokenizer, 'classifier', referenceChild, cpu));
      log(`  run ${r + 1} reference: ${JSON.stringify(theirs[r])}`);
    }
    mine.push(childMeasure(tokenizer, 'classifier', undefined, cpu));
    log(`  run ${r + 1} this build: ${JSON.stringify(mine[r])}`);
    // A checkout without ../shared beside it measures data/holdout instead of the gov_titles texts.
    if (referenceChild && theirs[r].texts !== mine[r].texts) {
      throw new UsageError(`--reference measured ${theirs[r].texts} texts, this build ${mine[r].texts}: put the reference checkout where ../shared/datasets is beside it too`);
    }
  }
  const medians = (rows: Record<string, number>[]) =>
    Object.fromEntries(['classifyPerSecond', 'p50Ms', 'p99Ms', 'rssMb'].map((k) => [k, round(median(rows.map((x) => x[k]))!)]));
  const out: Result = { ...medians(mine), runs, cpu: cpu === null ? 'any' : cpu, runFigures: { thisBuild: mine } };
  if (referenceChild) {
    out.reference = { checkout: referenceChild.replace(/[\\/]dist[\\/]scripts[\\/]bench-child\.js$/, ''), ...medians(theirs) };
    (out.runFigures as Record<string, unknown>).reference = theirs;
  }
  out.loadAverage = { before, after: load() };
  return out;
}

function printTable(result: Result): void {
  const rows = Object.entries(result).map(([k, v]) => `| ${k} | ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)} |`);
  process.stdout.write(['| measure | value |', '|---|---|', ...rows].join('\n') + '\n');
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
