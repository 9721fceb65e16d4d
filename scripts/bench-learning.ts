/**
 * npm run -s bench:learning -- [--steps 0,50,100,200,400] [--seed N] [--report-dir <dir>]
 *
 * How fast the model learns a deployment's words from staff corrections. It starts from a model
 * trained exactly like the shipped one (corpus, data/acts, data/references) but WITHOUT the
 * realtext_dev training rows (each head's SVM C taken from the shipped model): that is N = 0. Then, for each N, it feeds the first N training rows
 * of ../shared/datasets/realtext_dev.jsonl (i % 5 != 0, file order: a stratified shuffle) as staff
 * corrections (topic and type, or spam for spam rows) through the real retraining path
 * (trainer/training-job.ts: corrections merged over the training rows, SVM C reused from the
 * starting model), and scores the 132 test rows (i % 5 == 0) after each. Prints a table on stderr,
 * writes a Markdown and an HTML report with the curve, and prints a JSON line last. Skips with a
 * message when ../shared is absent.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DemandClassifier, trainDemandModel } from '../classifier/demand-classifier.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { SHARED_MISSING_MESSAGE } from '../runtime/datasets.js';
import { loadKeywordOverrides, loadTaxonomy } from '../runtime/project-data.js';
import { loadRealtext, loadTrainingSources } from '../runtime/training-sources.js';
import { scoreRealText, type RealTextScores } from '../trainer/evaluation.js';
import type { CorrectionRow } from '../trainer/training-data.js';
import { chosenC, runTrainingJob } from '../trainer/training-job.js';
import { readArtifact } from '../runtime/model-store.js';
import { flags, printJson, progressBar, runCli, UsageError } from './cli.js';

interface Point {
  n: number;
  corrections: number;
  version: string;
  trainSeconds: number;
  scores: RealTextScores;
}

runCli(async () => {
  const { values } = flags({
    steps: { type: 'string', default: '0,50,100,200,400' },
    seed: { type: 'string', default: '1' },
    'report-dir': { type: 'string', default: 'reports' },
  });
  const steps = values.steps.split(',').map(Number);
  if (steps.some((n) => !Number.isInteger(n) || n < 0)) throw new UsageError('--steps must be non-negative integers separated by commas');
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  const realtext = loadRealtext();
  if (!realtext) {
    process.stderr.write(`${SHARED_MISSING_MESSAGE}\n`);
    printJson({ skipped: true, reason: 'shared data sets absent' });
    return;
  }
  if (Math.max(...steps) > realtext.train.length) throw new UsageError(`at most ${realtext.train.length} corrections are available`);
  const config = loadConfig(process.env);
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  const deps = await createPipelineDeps(config);

  process.stderr.write('training the starting model (the shipped model\'s sources without the realtext rows) …\n');
  const t0 = performance.now();
  // Each head's C is the shipped model's (the search would triple the time and pick from the same grid).
  const shipped = chosenC(readArtifact(config.MODEL_PATH));
  const base = trainDemandModel(loadTrainingSources(config.DATA_DIR, taxonomy, { realtext: false }).rows, taxonomy, deps, {
    seed,
    keywordOverrides: loadKeywordOverrides(config.DATA_DIR),
    ...(shipped ? { fixedC: shipped.fixedC } : {}),
    onProgress: progressBar('start'),
  });
  const baseSeconds = (performance.now() - t0) / 1000;
  const baseArtifact = JSON.parse(JSON.stringify(base)) as unknown;
  // Newest first, as the store hands them over: row order reversed, so the first rows are the newest.
  const all: CorrectionRow[] = realtext.train.map((r, i) => ({
    ticketNumber: `RT${String(i).padStart(4, '0')}`,
    text: r.text,
    topic: r.spam ? null : r.topic,
    type: r.spam ? null : r.type,
    ...(r.spam ? { spam: true } : {}),
  }));

  const points: Point[] = [];
  for (const n of [...new Set(steps)].sort((a, b) => a - b)) {
    let artifact: unknown = baseArtifact;
    let version = base.version;
    let trainSeconds = baseSeconds;
    let used = 0;
    if (n > 0) {
      const result = await runTrainingJob(
        {
          dataDir: config.DATA_DIR,
          tokenizer: config.TOKENIZER,
          wordVectorsPath: config.WORD_VECTORS_PATH,
          maxLength: config.MAX_TEXT_LENGTH,
          seed,
          corrections: all.slice(0, n).reverse(),
          keywordEdits: {},
          keywordRevisions: {},
          activeArtifact: baseArtifact,
          realtext: false,
        },
        progressBar(`N=${n}`),
      );
      artifact = JSON.parse(JSON.stringify(result.artifact));
      version = result.artifact.version;
      trainSeconds = result.provenance.trainSeconds;
      used = result.provenance.corrections;
    }
    const classifier = DemandClassifier.load(artifact, deps, taxonomy, { maxLength: config.MAX_TEXT_LENGTH });
    const scores = scoreRealText(classifier, realtext.test);
    points.push({ n, corrections: used, version, trainSeconds: round(trainSeconds), scores });
    process.stderr.write(`N=${String(n).padStart(3)}  topic ${pct(scores.topic)}  type ${pct(scores.type)}  English topic ${pct(scores.topicByLang.en?.topic ?? null)}  genuine refused ${pct(scores.genuineRefused)}  spam caught ${pct(scores.spamRecall)}  (${round(trainSeconds)} s)\n`);
  }

  const dir = resolve(values['report-dir']);
  mkdirSync(dir, { recursive: true });
  const stem = join(dir, 'learning-curve');
  writeFileSync(`${stem}.md`, markdown(points));
  writeFileSync(`${stem}.html`, html(points));
  printJson({
    start: 'shipped sources without realtext_dev rows',
    testRows: realtext.test.length,
    seed,
    curve: points.map((p) => ({ n: p.n, corrections: p.corrections, topic: r4(p.scores.topic), type: r4(p.scores.type), englishTopic: r4(p.scores.topicByLang.en?.topic ?? null), genuineRefused: r4(p.scores.genuineRefused), spamRecall: r4(p.scores.spamRecall), trainSeconds: p.trainSeconds, version: p.version })),
    report: { markdown: `${stem}.md`, html: `${stem}.html` },
  });
});

function markdown(points: Point[]): string {
  return [
    '# Learning curve: realtext_dev test rows after N staff corrections',
    '',
    '| N corrections | topic | type | English topic | genuine refused | spam caught | training s |',
    '|---|---|---|---|---|---|---|',
    ...points.map((p) => `| ${p.n} | ${pct(p.scores.topic)} | ${pct(p.scores.type)} | ${pct(p.scores.topicByLang.en?.topic ?? null)} | ${pct(p.scores.genuineRefused)} | ${pct(p.scores.spamRecall)} | ${p.trainSeconds} |`),
    '',
  ].join('\n');
}

/** A self-contained page with the curve as inline SVG (topic and type accuracy against N). */
function html(points: Point[]): string {
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
  const ticks = points.map((p) => `<text x="${x(p.n)}" y="${h - pad + 16}" text-anchor="middle" font-size="11">${p.n}</text>`).join('');
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Learning curve</title>
<style>body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px}</style></head><body>
<h1>学习曲线 Learning curve</h1>
<p>realtext_dev test rows (${points[0]?.scores.rows ?? 0}) after N staff corrections (realtext_dev training rows) through the retraining path. N = 0: the shipped model's sources without the realtext rows.</p>
<svg id="curve" width="${w}" height="${h}" role="img" aria-label="accuracy against corrections">
${grid}${ticks}
<text x="${w / 2}" y="${h - 8}" text-anchor="middle" font-size="12">N corrections</text>
${series((p) => p.scores.topic, '#1565c0', 'topic')}${series((p) => p.scores.type, '#ef6c00', 'type')}${series((p) => p.scores.topicByLang.en?.topic ?? null, '#2e7d32', 'English topic')}
</svg>
<p><span style="color:#1565c0">■ topic</span> · <span style="color:#ef6c00">■ type</span> · <span style="color:#2e7d32">■ English topic</span></p>
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
