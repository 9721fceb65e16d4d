/**
 * npm run -s evaluate -- --data <file.jsonl|dir> [--label <field>] [--split mod5 | --folds 5]
 *                        [--model keyword|svm|ensemble] [--seed N] [--report-dir <dir>]
 * npm run -s evaluate -- --realtext [--model-file <file.model.json.gz>] [--report-dir <dir>]
 *
 * With --realtext it scores a saved product model (default: the configured one) on the test rows of
 * ../shared/datasets/realtext_dev.jsonl (all and by language) and on data/holdout: topic, type,
 * genuine messages refused or flagged as spam, spam caught, precision of non-reviewed rows and
 * coverage. It skips with a message when ../shared is absent.
 *
 * Trains on the training rows, scores the test rows, writes a Markdown and an HTML report, and
 * prints a JSON object as the last stdout line. The split rule is the one of ../shared/datasets:
 * row i is a test row when i % 5 == 0. With --folds k, row i belongs to fold i % k and every row is
 * scored once by a model that did not see it.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { evaluateLabels } from '../classifier/metrics.js';
import { SCORERS, type Scorer } from '../classifier/models/label-model.js';
import { Pipeline, trainPipeline } from '../classifier/pipeline.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { readJsonl } from '../runtime/jsonl.js';
import { DemandClassifier } from '../classifier/demand-classifier.js';
import { SHARED_MISSING_MESSAGE } from '../runtime/datasets.js';
import { readArtifact } from '../runtime/model-store.js';
import { loadHoldout, loadTaxonomy } from '../runtime/project-data.js';
import { loadRealtext } from '../runtime/training-sources.js';
import { scoreRealText, type RealTextScores } from '../trainer/evaluation.js';
import { htmlReport, markdownReport } from '../runtime/report.js';
import { flags, printJson, progressBar, runCli, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({
    data: { type: 'string' },
    label: { type: 'string', default: 'label' },
    split: { type: 'string' },
    folds: { type: 'string' },
    model: { type: 'string', default: 'ensemble' },
    seed: { type: 'string', default: '1' },
    'report-dir': { type: 'string', default: 'reports' },
    realtext: { type: 'boolean', default: false },
    'model-file': { type: 'string' },
  });
  if (values.realtext) {
    await evaluateRealText(values['model-file'], values['report-dir']);
    return;
  }
  if (!values.data) throw new UsageError('--data <file.jsonl|dir> is required');
  if (!SCORERS.includes(values.model as Scorer)) throw new UsageError(`--model must be one of ${SCORERS.join(', ')}`);
  if (values.split && values.split !== 'mod5') throw new UsageError('--split accepts only mod5');
  if (values.split && values.folds) throw new UsageError('use either --split mod5 or --folds k, not both');
  const folds = values.folds ? Number(values.folds) : 0;
  if (values.folds && (!Number.isInteger(folds) || folds < 2 || folds > 20)) throw new UsageError('--folds must be an integer from 2 to 20');
  const scorer = values.model as Scorer;
  const labelField = values.label;
  const data = resolve(values.data);

  const all = readRows(data);
  const rows: { text: string; label: string }[] = [];
  let skipped = 0;
  for (const r of all) {
    const label = r[labelField];
    if (typeof r.text !== 'string' || label === undefined || label === null) skipped++;
    else rows.push({ text: r.text, label: String(label) });
  }
  if (rows.length < 10) throw new UsageError(`only ${rows.length} rows carry a "${labelField}" label`);
  const labels = [...new Set(rows.map((r) => r.label))].sort();

  const config = loadConfig(process.env);
  const deps = await createPipelineDeps(config);
  const k = folds || 5;
  const rounds = folds ? folds : 1;
  const gold: string[] = [];
  const predicted: (string | null)[] = [];
  let trainSeconds = 0;
  let predictSeconds = 0;
  let trainRows = 0;
  const bar = progressBar('evaluate');
  for (let f = 0; f < rounds; f++) {
    const train = rows.filter((_, i) => i % k !== f);
    const test = rows.filter((_, i) => i % k === f);
    trainRows += train.length;
    const t0 = performance.now();
    const artifact = trainPipeline(train.map((r) => ({ text: r.text, labels: { label: r.label } })), [{ name: 'label', labels }], deps, {
      seed: Number(values.seed),
      onProgress: (p, stage) => bar((f + p * 0.9) / rounds, stage),
    });
    trainSeconds += (performance.now() - t0) / 1000;
    const pipeline = Pipeline.load(artifact, deps, { maxLength: Number.MAX_SAFE_INTEGER });
    const t1 = performance.now();
    for (const r of test) {
      predicted.push(pipeline.scoreHead(pipeline.analyze(r.text), 'label', scorer).label);
      gold.push(r.label);
    }
    predictSeconds += (performance.now() - t1) / 1000;
    bar((f + 1) / rounds, 'scored');
  }
  const report = evaluateLabels(gold, predicted, labels);
  const meta = {
    title: `Evaluation: ${basename(data)} · ${labelField} · ${scorer}`,
    data,
    label: labelField,
    model: scorer,
    split: folds ? `${folds}-fold (row i in fold i % ${folds})` : 'mod5 (row i is a test row when i % 5 == 0)',
    trainRows: Math.round(trainRows / rounds),
    testRows: gold.length,
    trainSeconds: trainSeconds / rounds,
    predictPerSecond: gold.length / predictSeconds,
  };
  const dir = resolve(values['report-dir']);
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, `${basename(data).replace(/\.jsonl$/, '')}-${labelField}-${scorer}${folds ? `-cv${folds}` : ''}`);
  writeFileSync(`${stem}.md`, markdownReport(report, meta));
  writeFileSync(`${stem}.html`, htmlReport(report, meta));
  printJson({
    data,
    label: labelField,
    model: scorer,
    split: folds ? `folds${folds}` : 'mod5',
    rows: rows.length,
    skippedRows: skipped,
    testRows: gold.length,
    accuracy: round(report.accuracy),
    macroF1: round(report.macroF1),
    perClass: Object.fromEntries(Object.entries(report.perClass).map(([l, c]) => [l, { precision: round(c.precision), recall: round(c.recall), f1: round(c.f1), support: c.support }])),
    confusion: report.confusion,
    labels: report.labels,
    trainSeconds: round(meta.trainSeconds),
    predictPerSecond: Math.round(meta.predictPerSecond),
    report: { markdown: `${stem}.md`, html: `${stem}.html` },
  });
});

/** Scores a saved product model on realtext_dev test rows and data/holdout. */
async function evaluateRealText(modelFile: string | undefined, reportDir: string): Promise<void> {
  const config = loadConfig(process.env);
  const realtext = loadRealtext();
  if (!realtext) {
    process.stderr.write(`${SHARED_MISSING_MESSAGE}\n`);
    printJson({ skipped: true, reason: 'shared data sets absent' });
    return;
  }
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const deps = await createPipelineDeps(config);
  const file = resolve(modelFile ?? config.MODEL_PATH);
  const classifier = DemandClassifier.load(readArtifact(file), deps, taxonomy, { maxLength: config.MAX_TEXT_LENGTH });
  const test = scoreRealText(classifier, realtext.test);
  const holdout = scoreRealText(
    classifier,
    loadHoldout(config.DATA_DIR, taxonomy).map((r) => ({ text: r.text, topic: r.topic ?? null, type: r.type ?? null, spam: r.spam === true })),
  );
  const dir = resolve(reportDir);
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, 'realtext');
  writeFileSync(`${stem}.md`, realTextMarkdown(classifier.version, test, holdout));
  printJson({ model: file, version: classifier.version, realtextTest: test, holdout, report: { markdown: `${stem}.md` } });
}

function realTextMarkdown(version: string, test: RealTextScores, holdout: RealTextScores): string {
  const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);
  const line = (name: string, s: RealTextScores) =>
    `| ${name} | ${s.rows} | ${pct(s.topic)} | ${pct(s.type)} | ${pct(s.genuineRefused)} | ${pct(s.genuineSuspected)} | ${pct(s.spamRecall)} | ${pct(s.precisionNotReviewed)} / ${pct(s.coverage)} |`;
  return [
    `# Real text: ${version}`,
    '',
    '| set | rows | topic | type | genuine refused | genuine flagged | spam caught (refused + flagged) | precision of non-reviewed / coverage |',
    '|---|---|---|---|---|---|---|---|',
    line('realtext_dev test rows', test),
    line('data/holdout', holdout),
    '',
    '| language | rows | topic | type |',
    '|---|---|---|---|',
    ...Object.entries(test.topicByLang).map(([l, v]) => `| ${l} | ${v.rows} | ${pct(v.topic)} | ${pct(v.type)} |`),
    '',
  ].join('\n');
}

function readRows(path: string): Record<string, unknown>[] {
  if (!statSync(path).isDirectory()) return readJsonl(path);
  return readdirSync(path)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readJsonl(join(path, f)));
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}
