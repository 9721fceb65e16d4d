/**
 * npm run -s bench:learning -- [--start shipped|held-back] [--split test|dev] [--steps 0,50,100,200,400]
 *   [--correction-weight W] [--calibrate-corrections topic,type] [--search-c] [--seed N] [--report-dir <dir>] [--name <stem>]
 *
 * How fast the model learns a deployment's words from staff corrections (issue 10, item 5).
 *
 * `--start shipped` (default, as the issue asks): N = 0 is the shipped model itself
 * (data/models/default.model.json.gz, scored as is). For each N > 0 the first N training rows of
 * ../shared/datasets/realtext_dev.jsonl (i % 5 != 0, file order: a stratified shuffle; spam rows as a
 * staff "spam" decision) go as staff corrections through the production retraining path
 * (trainer/training-job.ts with its defaults: the shipped model's sources, corrections merged over
 * them, each head's SVM C reused from the active model, here the shipped one). The shipped model
 * already learned from those rows (as real rows, weight 3), so this curve measures what a staff
 * correction adds over the same text already in the training set: its weight and calibration.
 *
 * `--start held-back` (session 3's curve, the "new words" case): N = 0 is trained from the shipped
 * model's sources WITHOUT the realtext_dev rows that can be fed as corrections (each head's C from the
 * shipped model, or searched with --search-c), and retraining leaves the rows not yet fed out too.
 *
 * `--split test` (default) scores the 132 test rows (i % 5 == 0). `--split dev` keeps the test rows
 * out of every decision: it scores the training rows with i % 5 == 1 (132 rows, never trained on in
 * this mode; with --start shipped the starting model is trained like the shipped one, C searched,
 * without them, and cached in the report folder) and draws the corrections from i % 5 in {2, 3, 4}
 * (396 rows).
 *
 * Prints a table on stderr, writes `<report-dir>/<name>.md` and `.html` (the curve drawn as SVG),
 * and prints a JSON line last. Skips with a message when ../shared is absent.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DemandClassifier, trainDemandModel, type CorpusRow } from '../classifier/demand-classifier.js';
import { ENGINE_VERSION, type PipelineDeps } from '../classifier/pipeline.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig, type Config } from '../runtime/config.js';
import { SHARED_MISSING_MESSAGE } from '../runtime/datasets.js';
import { loadKeywordOverrides, loadTaxonomy } from '../runtime/project-data.js';
import { loadRealtext, loadTrainingSources, trainRowIndex, type RealtextRow } from '../runtime/training-sources.js';
import { scoreRealText, type RealTextScores } from '../trainer/evaluation.js';
import type { CorrectionRow } from '../trainer/training-data.js';
import { chosenC, DEFAULT_CORRECTION_WEIGHT, runTrainingJob } from '../trainer/training-job.js';
import { readArtifact, writeArtifact } from '../runtime/model-store.js';
import { flags, printJson, progressBar, runCli, UsageError } from './cli.js';

interface Point {
  n: number;
  corrections: number;
  version: string;
  trainSeconds: number;
  scores: RealTextScores;
}

interface Setting {
  start: 'shipped' | 'held-back';
  split: 'test' | 'dev';
  correctionWeight: number;
  calibrateOnCorrections: string[];
  searchC: boolean;
}

/** The run's flags, checked. */
interface Options {
  setting: Setting;
  steps: number[];
  seed: number;
  reportDir: string;
  name: string;
}

/** Which rows this run scores, and which it may feed as corrections (training rows j, file rows trainRowIndex(j)). */
interface Rows {
  scored: RealtextRow[];
  /** File rows the models of this run never train on as real rows (the scored ones, with --split dev). */
  excludeRows: number[];
  pool: { r: RealtextRow; j: number }[];
}

/** What every point of the curve shares: configuration, taxonomy, tokenizer and the rest of the pipeline. */
interface Context {
  config: Config;
  taxonomy: Taxonomy;
  deps: PipelineDeps;
  seed: number;
  setting: Setting;
  excludeRows: number[];
}

/** The model at one point of the curve: its artifact, how long it took to train, with how many corrections. */
interface Model {
  artifact: unknown;
  version: string;
  trainSeconds: number;
  corrections: number;
}

/** The model at N = 0, and the seconds it took to get (train or read). */
interface Start {
  artifact: unknown;
  version: string;
  seconds: number;
}

runCli(async () => {
  const options = parseOptions();
  const { setting, seed } = options;
  const realtext = loadRealtext();
  if (!realtext) {
    process.stderr.write(`${SHARED_MISSING_MESSAGE}\n`);
    printJson({ skipped: true, reason: 'shared data sets absent' });
    return;
  }
  const { scored, excludeRows, pool } = splitRows(realtext, setting);
  // Checked before anything is loaded or trained: a wrong --steps fails at once.
  if (Math.max(...options.steps) > pool.length) throw new UsageError(`at most ${pool.length} corrections are available with --split ${setting.split}`);
  const config = loadConfig(process.env);
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const ctx: Context = { config, taxonomy, deps: await createPipelineDeps(config), seed, setting, excludeRows };
  const dir = resolve(options.reportDir);
  mkdirSync(dir, { recursive: true });

  const start = startingModel(ctx, dir);
  const corrections = correctionRows(pool);
  const points: Point[] = [];
  for (const n of [...new Set(options.steps)].sort((a, b) => a - b)) points.push(await measurePoint(ctx, start, corrections, n, scored));

  const stem = join(dir, options.name);
  writeFileSync(`${stem}.md`, markdown(points, setting));
  writeFileSync(`${stem}.html`, html(points, setting));
  printJson(summary(points, { setting, seed, scoredRows: scored.length, stem }));
});

/** Reads and checks the flags (exit code 2 on a wrong one, before any work). */
function parseOptions(): Options {
  const { values } = flags({
    start: { type: 'string', default: 'shipped' },
    split: { type: 'string', default: 'test' },
    steps: { type: 'string', default: '0,50,100,200,400' },
    'correction-weight': { type: 'string', default: String(DEFAULT_CORRECTION_WEIGHT) },
    'calibrate-corrections': { type: 'string', default: '' },
    'search-c': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    'report-dir': { type: 'string', default: 'reports' },
    name: { type: 'string', default: 'learning-curve' },
  });
  const steps = values.steps.split(',').map(Number);
  if (steps.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError('--steps must be non-negative integers separated by commas');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  if (values.start !== 'shipped' && values.start !== 'held-back') throw new UsageError('--start is shipped or held-back');
  if (values.split !== 'test' && values.split !== 'dev') throw new UsageError('--split is test or dev');
  const correctionWeight = Number(values['correction-weight']);
  if (!(correctionWeight > 0)) throw new UsageError('--correction-weight must be a positive number');
  const calibrateOnCorrections = values['calibrate-corrections'].split(',').filter(Boolean);
  if (calibrateOnCorrections.some((h) => h !== 'topic' && h !== 'type')) throw new UsageError('--calibrate-corrections takes topic and/or type');
  if (!/^[a-z0-9-]+$/.test(values.name)) throw new UsageError('--name: lower-case letters, digits and dashes');
  const setting: Setting = { start: values.start, split: values.split, correctionWeight, calibrateOnCorrections, searchC: values['search-c'] };
  return { setting, steps, seed, reportDir: values['report-dir'], name: values.name };
}

/**
 * The scored rows and the pool of corrections. `--split test` scores the test rows and may feed any
 * training row; `--split dev` scores the training rows with i % 5 == 1 and feeds only the others, so
 * the test rows take part in no decision.
 */
function splitRows(realtext: { train: RealtextRow[]; test: RealtextRow[] }, setting: Setting): Rows {
  const dev = setting.split === 'dev';
  const scoredIdx = dev ? realtext.train.map((_, j) => j).filter((j) => trainRowIndex(j) % 5 === 1) : [];
  return {
    scored: dev ? scoredIdx.map((j) => realtext.train[j]) : realtext.test,
    excludeRows: scoredIdx.map(trainRowIndex),
    pool: realtext.train.map((r, j) => ({ r, j })).filter(({ j }) => !dev || trainRowIndex(j) % 5 !== 1),
  };
}

/** N = 0: the shipped model as is (`--start shipped --split test`), otherwise one trained for this run (or its cached copy). */
function startingModel(ctx: Context, dir: string): Start {
  const shipped = readArtifact(ctx.config.MODEL_PATH) as { version: string };
  const shippedC = chosenC(shipped);
  const t0 = performance.now();
  let artifact: unknown;
  if (ctx.setting.start === 'shipped' && ctx.setting.split !== 'dev') {
    process.stderr.write(`N=0 is the shipped model ${shipped.version}\n`);
    artifact = shipped;
  } else {
    artifact = trainedStart(ctx, dir, shippedC);
  }
  return { artifact, version: (artifact as { version: string }).version, seconds: (performance.now() - t0) / 1000 };
}

/**
 * A starting model trained like the shipped one (same sources and code), minus the rows this run
 * scores or feeds. It depends only on its inputs, so it is cached in the report folder under their
 * hash: runs of several settings share it.
 */
function trainedStart(ctx: Context, dir: string, shippedC: ReturnType<typeof chosenC>): unknown {
  const { config, taxonomy, deps, seed, setting } = ctx;
  const heldBack = setting.start === 'held-back';
  const rows: CorpusRow[] = loadTrainingSources(config.DATA_DIR, taxonomy, heldBack ? { realtext: false } : { realtextExclude: ctx.excludeRows }).rows;
  const fixedC = heldBack && !setting.searchC && shippedC ? shippedC.fixedC : undefined;
  const opts = { seed, keywordOverrides: loadKeywordOverrides(config.DATA_DIR), ...(fixedC ? { fixedC } : {}) };
  const key = createHash('sha256').update(JSON.stringify([ENGINE_VERSION, rows, opts])).digest('hex').slice(0, 12);
  const cache = join(dir, `learning-start-${key}.model.json.gz`);
  if (existsSync(cache)) {
    process.stderr.write(`starting model: ${cache}\n`);
    return readArtifact(cache);
  }
  process.stderr.write(`training the starting model (${heldBack ? "the shipped model's sources without the realtext rows" : "the shipped model's sources without the scored rows"}, C ${fixedC ? "the shipped model's" : 'searched'}) …\n`);
  const artifact = trainDemandModel(rows, taxonomy, deps, { ...opts, onProgress: progressBar('start') });
  writeArtifact(cache, artifact);
  // As read back from the file, like the cached copy (plain JSON, no class instances).
  return JSON.parse(JSON.stringify(artifact)) as unknown;
}

/** The pool as staff corrections; spam rows as a staff "spam" decision. */
function correctionRows(pool: Rows['pool']): CorrectionRow[] {
  return pool.map(({ r, j }) => ({
    ticketNumber: `RT${String(trainRowIndex(j)).padStart(4, '0')}`,
    text: r.text,
    topic: r.spam ? null : r.topic,
    type: r.spam ? null : r.type,
    ...(r.spam ? { spam: true } : {}),
  }));
}

/** One point of the curve: the starting model retrained with the first `n` corrections (none for 0), scored; its line is printed on stderr. */
async function measurePoint(ctx: Context, start: Start, corrections: CorrectionRow[], n: number, scored: RealtextRow[]): Promise<Point> {
  const { config, taxonomy, deps } = ctx;
  const model: Model = n > 0 ? await retrain(ctx, start, corrections.slice(0, n), `N=${n}`) : { artifact: start.artifact, version: start.version, trainSeconds: start.seconds, corrections: 0 };
  const classifier = DemandClassifier.load(model.artifact, deps, taxonomy, { maxLength: config.MAX_TEXT_LENGTH });
  const scores = scoreRealText(classifier, scored);
  const { trainSeconds } = model;
  process.stderr.write(`N=${String(n).padStart(3)}  topic ${pct(scores.topic)}  type ${pct(scores.type)}  English topic ${pct(scores.topicByLang.en?.topic ?? null)}  genuine refused ${pct(scores.genuineRefused)}  spam caught ${pct(scores.spamRecall)}  precision/coverage ${pct(scores.precisionNotReviewed)}/${pct(scores.coverage)}  (${round(trainSeconds)} s)\n`);
  return { n, corrections: model.corrections, version: model.version, trainSeconds: round(trainSeconds), scores };
}

/**
 * The starting model retrained through the production path (trainer/training-job.ts with its
 * defaults) with `fed`, newest first as the store hands them over: the pool's order reversed, so
 * its first rows are the newest.
 */
async function retrain(ctx: Context, start: Start, fed: CorrectionRow[], progressLabel: string): Promise<Model> {
  const { config, seed, setting } = ctx;
  const result = await runTrainingJob(
    {
      dataDir: config.DATA_DIR,
      tokenizer: config.TOKENIZER,
      wordVectorsPath: config.WORD_VECTORS_PATH,
      maxLength: config.MAX_TEXT_LENGTH,
      seed,
      corrections: [...fed].reverse(),
      keywordEdits: {},
      keywordRevisions: {},
      activeArtifact: start.artifact,
      ...(setting.start === 'held-back' ? { realtext: false } : setting.split === 'dev' ? { realtextExclude: ctx.excludeRows } : {}),
      correctionWeight: setting.correctionWeight,
      ...(setting.calibrateOnCorrections.length ? { calibrateOnCorrections: setting.calibrateOnCorrections } : {}),
    },
    progressBar(progressLabel),
  );
  return {
    artifact: JSON.parse(JSON.stringify(result.artifact)) as unknown,
    version: result.artifact.version,
    trainSeconds: result.provenance.trainSeconds,
    corrections: result.provenance.corrections,
  };
}

/** The JSON line printed last. */
function summary(points: Point[], run: { setting: Setting; seed: number; scoredRows: number; stem: string }) {
  const { setting, stem } = run;
  return {
    start: setting.start,
    split: setting.split,
    scoredRows: run.scoredRows,
    correctionWeight: setting.correctionWeight,
    calibrateOnCorrections: setting.calibrateOnCorrections,
    searchC: setting.searchC,
    seed: run.seed,
    curve: points.map((p) => ({
      n: p.n,
      corrections: p.corrections,
      topic: r4(p.scores.topic),
      type: r4(p.scores.type),
      englishTopic: r4(p.scores.topicByLang.en?.topic ?? null),
      genuineRefused: r4(p.scores.genuineRefused),
      spamRecall: r4(p.scores.spamRecall),
      precisionNotReviewed: r4(p.scores.precisionNotReviewed),
      coverage: r4(p.scores.coverage),
      trainSeconds: p.trainSeconds,
      version: p.version,
    })),
    report: { markdown: `${stem}.md`, html: `${stem}.html` },
  };
}

/** One sentence saying what the curve measures. */
function describe(s: Setting, rows: number): string {
  const scored = s.split === 'test' ? `realtext_dev test rows (${rows}, i % 5 == 0)` : `realtext_dev training rows with i % 5 == 1 (${rows}, a development split; corrections from i % 5 in 2-4)`;
  const start =
    s.start === 'shipped'
      ? s.split === 'test'
        ? 'N = 0 is the shipped model'
        : 'N = 0 is trained like the shipped model without the scored rows'
      : `N = 0 is trained from the shipped model's sources without the realtext rows (C ${s.searchC ? 'searched' : "the shipped model's"})`;
  const extra = [`correction weight ${s.correctionWeight}`, ...(s.calibrateOnCorrections.length ? [`${s.calibrateOnCorrections.join(' and ')} calibrated on the corrections`] : [])].join(', ');
  return `${scored} after N staff corrections through the retraining path; ${start}; ${extra}.`;
}

function markdown(points: Point[], s: Setting): string {
  return [
    '# Learning curve',
    '',
    describe(s, points[0]?.scores.rows ?? 0),
    '',
    '| N corrections | topic | type | English topic | genuine refused | spam caught | precision / coverage | training s |',
    '|---|---|---|---|---|---|---|---|',
    ...points.map((p) => `| ${p.n} | ${pct(p.scores.topic)} | ${pct(p.scores.type)} | ${pct(p.scores.topicByLang.en?.topic ?? null)} | ${pct(p.scores.genuineRefused)} | ${pct(p.scores.spamRecall)} | ${pct(p.scores.precisionNotReviewed)} / ${pct(p.scores.coverage)} | ${p.trainSeconds} |`),
    '',
  ].join('\n');
}

/** A self-contained page with the curve as inline SVG (topic and type accuracy against N). */
function html(points: Point[], s: Setting): string {
  const w = 640;
  const h = 320;
  const pad = 48;
  const maxN = Math.max(1, ...points.map((p) => p.n));
  const x = (n: number) => pad + ((w - 2 * pad) * n) / maxN;
  const y = (v: number) => h - pad - ((h - 2 * pad) * (v - 0.5)) / 0.5;
  const series = (pick: (p: Point) => number | null, color: string, name: string) => {
    const pts = points.filter((p) => pick(p) !== null).map((p) => `${x(p.n).toFixed(1)},${y(pick(p)!).toFixed(1)}`);
    const dots = points
      .filter((p) => pick(p) !== null)
      .map((p) => `<circle cx="${x(p.n).toFixed(1)}" cy="${y(pick(p)!).toFixed(1)}" r="3.5" fill="${color}"><title>${name} N=${p.n}: ${pct(pick(p))}</title></circle>`)
      .join('');
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>${dots}`;
  };
  const grid = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1]
    .map((v) => `<line x1="${pad}" x2="${w - pad}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v * 100}%</text>`)
    .join('');
  // Issue 10's targets for topic: 85% at N = 0, 90% at N = 400 (hollow marks, drawn when in range).
  const targets = [
    { n: 0, v: 0.85 },
    { n: 400, v: 0.9 },
  ]
    .filter((t) => t.n <= maxN)
    .map((t) => `<circle cx="${x(t.n).toFixed(1)}" cy="${y(t.v).toFixed(1)}" r="6" fill="none" stroke="#1565c0" stroke-dasharray="2 2"><title>topic target N=${t.n}: ${pct(t.v)}</title></circle>`)
    .join('');
  const ticks = points.map((p) => `<text x="${x(p.n)}" y="${h - pad + 16}" text-anchor="middle" font-size="11">${p.n}</text>`).join('');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Learning curve</title>
<style>body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px}</style></head><body>
<h1>学习曲线 Learning curve</h1>
<p>${escapeHtml(describe(s, points[0]?.scores.rows ?? 0))}</p>
<svg id="curve" width="${w}" height="${h}" role="img" aria-label="accuracy against corrections">
${grid}${ticks}
<text x="${w / 2}" y="${h - 8}" text-anchor="middle" font-size="12">N corrections</text>
${targets}${series((p) => p.scores.topic, '#1565c0', 'topic')}${series((p) => p.scores.type, '#ef6c00', 'type')}${series((p) => p.scores.topicByLang.en?.topic ?? null, '#2e7d32', 'English topic')}
</svg>
<p><span style="color:#1565c0">■ topic</span> (dashed circles: issue 10's topic targets) · <span style="color:#ef6c00">■ type</span> · <span style="color:#2e7d32">■ English topic</span></p>
<table><tr><th>N</th><th>topic</th><th>type</th><th>English topic</th><th>genuine refused</th><th>spam caught</th></tr>
${points.map((p) => `<tr><td>${p.n}</td><td>${pct(p.scores.topic)}</td><td>${pct(p.scores.type)}</td><td>${pct(p.scores.topicByLang.en?.topic ?? null)}</td><td>${pct(p.scores.genuineRefused)}</td><td>${pct(p.scores.spamRecall)}</td></tr>`).join('\n')}
</table></body></html>
`;
}

function pct(x: number | null): string {
  return x === null ? '–' : `${(x * 100).toFixed(1)}%`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function r4(x: number | null): number | null {
  return x === null ? null : Math.round(x * 10000) / 10000;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
