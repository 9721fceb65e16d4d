/**
 * npm run -s cv:realtext -- [--folds 5] [--seed N] [--real-weight W] [--c C] [--calibrate-real]
 *                           [--bias-real] [--features '<json>'] [--vector-weight W [--vector-idf]] [--errors <file.jsonl>]
 *                           [--dump <file.jsonl>] [--test]
 *
 * A fast harness for choosing classifier changes without looking at the realtext_dev test rows:
 * the topic head alone is trained like the shipped model's (corpus, data/acts, data/references and
 * the realtext_dev training rows, SVM C fixed instead of searched) with one fold of the realtext
 * TRAINING rows held out (training row j is in fold j % k), and scored on that fold. Prints topic
 * accuracy (all and by language) and precision / coverage of the rows not sent to review, summed
 * over folds; `--vector-weight W` adds the pretrained word-vector block at weight W (needs
 * WORD_VECTORS_PATH; default none, as the shipped model); `--bias-real` refits the topic head's per-label bias
 * on the real rows' out-of-fold scores (the combination and the review threshold stay fitted on all rows);
 * `--errors` writes the held-out mistakes for error analysis, `--dump` every held-out row's scores
 * (ensemble, SVM alone, keywords alone) for studying confidence and review rules. `--test` instead trains on
 * every training row and scores the 132 test rows once (to confirm a choice, not to make one).
 * Skips with a message when ../shared is absent. Last stdout line: JSON.
 */
import { writeFileSync } from 'node:fs';
import { corpusToExamples, HEAD_TOPIC, type CorpusRow } from '../classifier/demand-classifier.js';
import { Pipeline, trainPipeline, vectorFeatures, type TrainOptions } from '../classifier/pipeline.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { SHARED_MISSING_MESSAGE } from '../runtime/datasets.js';
import { loadKeywordOverrides, loadTaxonomy } from '../runtime/project-data.js';
import { loadRealtext, loadTrainingSources, realtextToCorpusRow, type RealtextRow } from '../runtime/training-sources.js';
import { flags, printJson, runCli, UsageError } from './cli.js';

interface Tally {
  rows: number;
  correct: number;
  kept: number;
  keptCorrect: number;
  /** Confidence and correctness of every scored row (for the precision/coverage curve). */
  scored: { confidence: number; ok: boolean }[];
  byLang: Record<string, { rows: number; correct: number }>;
}

runCli(async () => {
  const { values } = flags({
    folds: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    'real-weight': { type: 'string' },
    c: { type: 'string', default: '1' },
    'calibrate-real': { type: 'boolean', default: false },
    'bias-real': { type: 'boolean', default: false },
    features: { type: 'string' },
    'vector-weight': { type: 'string' },
    'vector-idf': { type: 'boolean', default: false },
    errors: { type: 'string' },
    dump: { type: 'string' },
    test: { type: 'boolean', default: false },
  });
  const k = Number(values.folds);
  if (!Number.isInteger(k) || k < 2) throw new UsageError('--folds must be an integer ≥ 2');
  const realtext = loadRealtext();
  if (!realtext) {
    process.stderr.write(`${SHARED_MISSING_MESSAGE}\n`);
    printJson({ skipped: true, reason: 'shared data sets absent' });
    return;
  }
  const config = loadConfig(process.env);
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const deps = await createPipelineDeps(config);
  const base = loadTrainingSources(config.DATA_DIR, taxonomy, { realtext: false }).rows;
  const opts: TrainOptions = {
    seed: Number(values.seed),
    keywordOverrides: loadKeywordOverrides(config.DATA_DIR),
    fixedC: { [HEAD_TOPIC]: Number(values.c) },
    ...(values['real-weight'] ? { realWeight: Number(values['real-weight']) } : {}),
    ...(values.features ? { features: JSON.parse(values.features) as TrainOptions['features'] } : {}),
  };
  // As trainDemandModel: no word vectors unless --vector-weight asks for them.
  const vectorWeight = values['vector-weight'] !== undefined ? Number(values['vector-weight']) : 0;
  if (!(vectorWeight >= 0)) throw new UsageError('--vector-weight must be a number ≥ 0');
  if (vectorWeight > 0 && !deps.vectors) throw new UsageError('--vector-weight needs WORD_VECTORS_PATH set to a table (node scripts/install-word-vectors.mjs builds one)');
  opts.features = { ...vectorFeatures(deps, vectorWeight, values['vector-idf']), ...opts.features };
  const spec = {
    name: HEAD_TOPIC,
    labels: taxonomy.topics.map((t) => t.id),
    // As trainDemandModel: without --calibrate-real the topic head calibrates and picks its threshold on all rows.
    options: {
      calibrateOnThresholdRows: values['calibrate-real'],
      realCalibration: values['calibrate-real'] || values['bias-real'],
      ...(values['bias-real'] ? { biasOnThresholdRows: true, thresholdOnThresholdRows: values['calibrate-real'] } : {}),
    },
  };
  const tally: Tally = { rows: 0, correct: 0, kept: 0, keptCorrect: 0, scored: [], byLang: {} };
  const errors: object[] = [];
  const dump: object[] | null = values.dump ? [] : null;
  const rounds = values.test ? [{ train: realtext.train, held: realtext.test }] : Array.from({ length: k }, (_, f) => ({
    train: realtext.train.filter((_, j) => j % k !== f),
    held: realtext.train.filter((_, j) => j % k === f),
  }));
  const t0 = performance.now();
  for (const [f, round] of rounds.entries()) {
    const rows: CorpusRow[] = [...base, ...round.train.map(realtextToCorpusRow)];
    const artifact = trainPipeline(corpusToExamples(rows), [spec], deps, opts);
    const pipeline = Pipeline.load(artifact, deps, { maxLength: Number.MAX_SAFE_INTEGER });
    for (const r of round.held) score(pipeline, r, tally, errors, dump);
    process.stderr.write(`fold ${f + 1}/${rounds.length}: ${pct(tally.correct / tally.rows)} so far (${Math.round((performance.now() - t0) / 1000)} s)\n`);
  }
  if (values.dump && dump) writeFileSync(values.dump, dump.map((e) => JSON.stringify(e)).join('\n') + '\n');
  if (values.errors) writeFileSync(values.errors, errors.map((e) => JSON.stringify(e)).join('\n') + '\n');
  printJson({
    mode: values.test ? 'test rows' : `${k}-fold on training rows`,
    options: { realWeight: opts.realWeight ?? 'default', C: Number(values.c), calibrateReal: values['calibrate-real'], biasReal: values['bias-real'], features: opts.features ?? 'default', vectors: deps.vectors ? `${deps.vectors.name} (${deps.vectors.size} words)` : 'not installed' },
    rows: tally.rows,
    topic: pct(tally.correct / tally.rows),
    precisionNotReviewed: pct(tally.keptCorrect / tally.kept),
    coverage: pct(tally.kept / tally.rows),
    precisionAtCoverage: precisionAtCoverage(tally.scored),
    byLang: Object.fromEntries(Object.entries(tally.byLang).sort().map(([l, t]) => [l, `${pct(t.correct / t.rows)} of ${t.rows}`])),
    seconds: Math.round((performance.now() - t0) / 1000),
  });
});

function score(pipeline: Pipeline, r: RealtextRow, tally: Tally, errors: object[], dump: object[] | null): void {
  if (r.spam || r.topic === null) return;
  const a = pipeline.analyze(r.text);
  const res = pipeline.scoreHead(a, HEAD_TOPIC, 'ensemble', undefined, false);
  if (dump) {
    const svm = pipeline.scoreHead(a, HEAD_TOPIC, 'svm', undefined, false);
    const kw = pipeline.scoreHead(a, HEAD_TOPIC, 'keyword', undefined, false);
    const round3 = (x: number) => Math.round(x * 1000) / 1000;
    dump.push({ gold: r.topic, got: res.label, confidence: round3(res.confidence), second: round3(res.ranked[1]?.score ?? 0), svm: svm.label, svmConfidence: round3(svm.confidence), keyword: kw.label, keywordConfidence: round3(kw.confidence), uncertain: res.uncertain, lang: r.lang, chars: [...r.text].length, source: r.source });
  }
  const ok = res.label === r.topic;
  tally.rows++;
  if (ok) tally.correct++;
  tally.scored.push({ confidence: res.confidence, ok });
  if (!res.uncertain) {
    tally.kept++;
    if (ok) tally.keptCorrect++;
  }
  const l = (tally.byLang[r.lang] ??= { rows: 0, correct: 0 });
  l.rows++;
  if (ok) l.correct++;
  else errors.push({ gold: r.topic, got: res.label, confidence: Math.round(res.confidence * 1000) / 1000, lang: r.lang, source: r.source, text: r.text.slice(0, 300) });
}

/** Precision of the most confident 50 … 80% of rows: what any review threshold could reach. */
function precisionAtCoverage(scored: readonly { confidence: number; ok: boolean }[]): Record<string, string> {
  const sorted = [...scored].sort((a, b) => b.confidence - a.confidence);
  const out: Record<string, string> = {};
  for (const c of [0.5, 0.6, 0.7, 0.8]) {
    const top = sorted.slice(0, Math.round(c * sorted.length));
    out[`${c * 100}%`] = pct(top.filter((r) => r.ok).length / top.length);
  }
  return out;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
