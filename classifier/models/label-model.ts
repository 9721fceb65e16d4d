/**
 * One classification head (topic, demand type, spam, or a data set's `label`): a linear SVM and a
 * keyword model over the same examples, combined into calibrated probabilities.
 *
 * Everything that needs held-out data is chosen on out-of-fold predictions of the training rows:
 * the SVM's C, the keyword model's weight in the ensemble, the softmax temperature that calibrates
 * the scores, a per-label bias (one-vs-rest decision values are not comparable across labels
 * as they come), and the confidence threshold below which a prediction is sent to human review.
 */
import { TrainingError, ModelFormatError } from '../errors.js';
import { createRng, stratifiedFolds } from '../random.js';
import { base64ToFloat32, selectRows, typedToBase64, type CsrMatrix, type SparseVector } from '../sparse.js';
import { KeywordModel, trainKeywordModel, type KeywordModelData, type KeywordMatch, type KeywordOverrides } from './keyword.js';
import { assembleOneVsRest, decision, decisionMatrix, serialClassRunner, type BinarySolver, type ClassRunner, type LinearSvmOptions, type LinearWeights, type OneVsRestProblem } from './linear-svm.js';

/** Which scorer to use: the keyword model alone, the SVM alone, or both combined. */
export const SCORERS = ['keyword', 'svm', 'ensemble'] as const;
export type Scorer = (typeof SCORERS)[number];

export interface LabelModelOptions {
  seed?: number;
  /**
   * Candidate values of C; the best by cross-validated accuracy is kept. A single value is used as
   * is (no search), and the folds then start from the final model's solution.
   */
  cGrid?: number[];
  /** Folds for the out-of-fold predictions. Default: 5, or 3 above 20,000 rows. */
  folds?: number;
  /** C is chosen on at most this many rows (a stratified sample) to bound training time. */
  cSelectionRows?: number;
  /** Precision wanted on the predictions that are not sent to review. */
  targetPrecision?: number;
  /**
   * Rows (true per row) whose out-of-fold predictions choose the review threshold: real customer
   * text, whose confidence behaves differently from the project's own writing. Used when at least
   * {@link MIN_THRESHOLD_ROWS} of the calibration rows are marked; otherwise all rows choose.
   */
  thresholdRows?: readonly boolean[];
  /**
   * Fit the ensemble's combination and per-label bias on the {@link thresholdRows} too (when there
   * are enough), so probabilities are calibrated for real text and its label mix. Default false.
   */
  calibrateOnThresholdRows?: boolean;
  /**
   * Fit the combination on all rows, then only the per-label bias again on the
   * {@link thresholdRows} (when there are enough): a correction of the label prior from the
   * training mix to the real text's mix, without refitting the scale on few rows. Default false
   * (measured on `cv:realtext --bias-real`: README, Benchmarks).
   */
  biasOnThresholdRows?: boolean;
  /**
   * Choose the review threshold on the {@link thresholdRows} when there are enough (default true);
   * false: on all rows, as without them.
   */
  thresholdOnThresholdRows?: boolean;
  /** Per-row weight multiplying the SVM's C for that row (default 1 for every row). */
  rowWeights?: readonly number[];
  keyword?: { topK?: number; minCount?: number; overrides?: KeywordOverrides };
  /** Per-class C multipliers by label (e.g. to favour recall of a rare class). */
  classWeights?: Record<string, number>;
  onProgress?: (fraction: number, stage: string) => void;
  /** Binary SVM solver: dual coordinate descent by default, or libsvm-js (`createLibsvmSolver`). */
  solver?: BinarySolver;
  /**
   * Where the default solver's one-vs-rest classes are solved (a thread pool: see
   * `trainer/solver-pool.ts`); default: one after another here. The model is the same either way.
   * Ignored with a custom {@link solver}, which runs here.
   */
  runClasses?: ClassRunner;
  /** SVM loss: squared hinge (`l2`, default) or hinge (`l1`, libsvm's C-SVC objective). */
  loss?: 'l1' | 'l2';
  /** NB-SVM feature scaling smoothing (see `LinearSvmOptions.nbAlpha`); 0 turns it off. */
  nbAlpha?: number;
  /**
   * How SVM and keyword scores are combined, on out-of-fold scores: `stack` (default) fits
   * `a·svm + b·keyword + bias[label]` by log-likelihood, which gives the keyword weight b/a, the
   * temperature 1/a and a per-label bias; `temperature` only picks the keyword weight by accuracy
   * and fits a temperature.
   */
  calibration?: 'stack' | 'temperature';
  /**
   * With `stack`, also fit the per-label bias (default true). It corrects one-vs-rest scores for
   * the label mix of the training rows; turn it off when messages to classify are expected to
   * come in a very different mix.
   */
  labelBias?: boolean;
}

/** Out-of-fold quality figures, measured while training (never on training rows). */
export interface LabelModelMetrics {
  rows: number;
  folds: number;
  C: number;
  cvAccuracyKeyword: number;
  cvAccuracySvm: number;
  cvAccuracyEnsemble: number;
  /** Share of rows with confidence ≥ threshold, and the accuracy on them. */
  coverage: number;
  precisionAtThreshold: number;
}

/** Serialised head. */
export interface LabelModelData {
  labels: string[];
  svm: { C: number; features: number; weights: string };
  keyword: KeywordModelData;
  /** `bias` (one per label, added before the temperature) is absent in older artifacts. */
  ensemble: { keywordWeight: number; temperature: number; threshold: number; bias?: number[] };
  metrics: LabelModelMetrics;
}

export interface LabelPrediction {
  /** Calibrated probability of each label (same order as `labels`). */
  probs: Float64Array;
  /** Index of the best label. */
  best: number;
  matches: KeywordMatch[];
}

const DEFAULT_C_GRID = [0.1, 0.3, 1];
/** Fewest marked rows for the review threshold to be chosen on them alone. */
export const MIN_THRESHOLD_ROWS = 100;
// NB-SVM scaling raised test accuracy on every shared data set tried (README, Benchmarks).
const DEFAULT_NB_ALPHA = 0.5;

/** Trains a head on `x` (one row per example), `tokens` (for keywords) and `labels`. */
export function trainLabelModel(
  x: CsrMatrix,
  tokens: readonly (readonly string[])[],
  labels: readonly string[],
  labelSet: readonly string[],
  opts: LabelModelOptions = {},
): LabelModelData {
  const n = x.rows;
  const k = labelSet.length;
  const y = labelIndices(labels, labelSet);
  const seed = opts.seed ?? 1;
  const rng = createRng(seed);
  const progress = opts.onProgress ?? (() => {});
  const foldCount = opts.folds ?? (n > 20_000 ? 3 : 5);
  const folds = stratifiedFolds(y, foldCount, rng);
  const classWeights = labelSet.map((l) => opts.classWeights?.[l] ?? 1);
  const rowWeights = opts.rowWeights && opts.rowWeights.some((w) => w !== 1) ? Float64Array.from(opts.rowWeights) : undefined;
  if (rowWeights && rowWeights.length !== n) throw new TrainingError(`rowWeights has ${rowWeights.length} entries for ${n} rows`);
  const svmOpts: Omit<LinearSvmOptions, 'C'> = { loss: opts.loss ?? 'l2', seed, classWeights, nbAlpha: opts.nbAlpha ?? DEFAULT_NB_ALPHA, rowWeights };
  const run = opts.solver ? serialClassRunner(opts.solver) : (opts.runClasses ?? serialClassRunner());

  // 1. The SVM's C and its out-of-fold scores, on the calibration rows (all rows unless the data set is large).
  const cal = calibrationRows(x, y, rowWeights, folds, foldCount, opts.cSelectionRows ?? 12_000, rng);
  const grid = [...(opts.cGrid ?? DEFAULT_C_GRID)].sort((a, b) => a - b);
  const svmStage = chooseSvm(x, y, k, cal, foldCount, svmOpts, grid, run, progress);
  // 2. Keyword model out-of-fold scores.
  const kwOof = keywordOutOfFold(tokens, labels, labelSet, cal, foldCount, opts.keyword);
  // 3. Ensemble weight, temperature, per-label bias and review threshold, all on out-of-fold scores.
  const marked = opts.thresholdRows ? Array.from({ length: cal.y.length }, (_, i) => i).filter((i) => opts.thresholdRows![cal.rowOf(i)]) : [];
  const ensemble = fitEnsemble(svmStage.oof, kwOof, cal.y, k, marked, opts);

  // 4. Final models on all rows.
  if (!svmStage.final) progress(0.92, 'svm final');
  const svm = svmStage.final ?? oneVsRest(run, { x, labels: y, classes: k, opts: { ...svmOpts, C: svmStage.C } });
  const keyword = trainKeywordModel(tokens, labels, labelSet, opts.keyword);
  progress(1, 'done');
  const { keywordWeight, temperature, bias, threshold } = ensemble;
  return {
    labels: [...labelSet],
    svm: { C: svmStage.C, features: svm.features, weights: typedToBase64(svm.weights) },
    keyword,
    ensemble: { keywordWeight, temperature, threshold, ...(bias ? { bias } : {}) },
    metrics: {
      rows: n,
      folds: foldCount,
      C: svmStage.C,
      cvAccuracyKeyword: accuracyOf(kwOof, cal.y, k),
      cvAccuracySvm: accuracyOf(svmStage.oof, cal.y, k),
      cvAccuracyEnsemble: ensemble.accuracy,
      coverage: ensemble.coverage,
      precisionAtThreshold: ensemble.precision,
    },
  };
}

/** Each label's index in `labelSet`; refuses unknown labels and data with fewer than two labels seen. */
function labelIndices(labels: readonly string[], labelSet: readonly string[]): Int32Array {
  const k = labelSet.length;
  if (k < 2) throw new TrainingError('a classifier needs at least two labels');
  const index = new Map(labelSet.map((l, i) => [l, i]));
  const y = Int32Array.from(labels, (l) => {
    const c = index.get(l);
    if (c === undefined) throw new TrainingError(`unknown label "${l}"`);
    return c;
  });
  const counts = new Array<number>(k).fill(0);
  for (const c of y) counts[c]++;
  // A label with no examples simply never wins; at least two labels must be seen to learn anything.
  if (counts.filter((n) => n > 0).length < 2) throw new TrainingError('need examples of at least two labels');
  return y;
}

/**
 * The rows C is chosen and the ensemble calibrated on: all rows, or a stratified sample of at most
 * `max` (with folds of its own) when the data set is larger. `rowOf` maps a calibration row to its
 * row of the whole set.
 */
interface CalibrationRows {
  x: CsrMatrix;
  y: Int32Array;
  folds: Int32Array;
  weights: Float64Array | undefined;
  rowOf: (i: number) => number;
}

function calibrationRows(x: CsrMatrix, y: Int32Array, rowWeights: Float64Array | undefined, folds: Int32Array, foldCount: number, max: number, rng: () => number): CalibrationRows {
  const sampleRows = sampleStratified(y, max, rng);
  if (sampleRows.length === x.rows) return { x, y, folds, weights: rowWeights, rowOf: (i) => i };
  const ys = Int32Array.from(sampleRows, (r) => y[r]);
  return {
    x: selectRows(x, sampleRows),
    y: ys,
    folds: stratifiedFolds(ys, foldCount, rng),
    weights: rowWeights ? Float64Array.from(sampleRows, (r) => rowWeights[r]) : undefined,
    rowOf: (i) => sampleRows[i],
  };
}

/**
 * The SVM's C, its out-of-fold scores on the calibration rows, and (with one C) the final model.
 *
 * C is chosen by cross-validated accuracy. When the best C sits at the top of the grid, the grid is
 * extended upwards once (×3): training time grows with C, and a second step (gov_messages) cost 40%
 * more training for under 0.1 point of accuracy. The out-of-fold scores of the best C on the sample
 * are also what the ensemble is calibrated on: on large data sets a second out-of-fold run over all
 * rows would cost more than the rest of training for no measurable gain.
 *
 * With one C there is nothing to search (retraining reuses the serving version's C): the final
 * model is trained first, and its dual solution starts each fold's descent. A fold's rows are a
 * subset of the final model's, so their solution is close, and the folds, which cost about twice
 * the final model cold, converge in about half the passes; their scores only feed the calibration.
 * Measured on 10k corrections (README, Retraining).
 */
function chooseSvm(
  x: CsrMatrix,
  y: Int32Array,
  k: number,
  cal: CalibrationRows,
  foldCount: number,
  svmOpts: Omit<LinearSvmOptions, 'C'>,
  grid: readonly number[],
  run: ClassRunner,
  progress: (fraction: number, stage: string) => void,
): { C: number; oof: Float64Array; final: LinearWeights | null } {
  const calOpts = (C: number): LinearSvmOptions => ({ ...svmOpts, rowWeights: cal.weights, C });
  if (grid.length === 1) {
    const C = grid[0];
    progress(0, 'svm final');
    const problem: OneVsRestProblem = { x, labels: y, classes: k, opts: { ...svmOpts, C }, keepDual: true };
    const [solutions] = run([problem], (c) => progress((c / k) * 0.3, 'svm final'));
    const alphas = solutions.map((s) => s.alpha!);
    const oof = outOfFold(cal.x, cal.y, k, cal.folds, foldCount, calOpts(C), run, (f) => progress(0.3 + f * 0.6, 'svm out-of-fold'), { alphas, rowOf: cal.rowOf });
    return { C, oof, final: assembleOneVsRest(problem, solutions) };
  }
  let best = { C: grid[0], oof: null as Float64Array | null, acc: -1 };
  const tryC = (C: number, step: number, steps: number) => {
    const oof = outOfFold(cal.x, cal.y, k, cal.folds, foldCount, calOpts(C), run, (f) => progress(((step + f) / (steps + 1)) * 0.9, `svm C=${C}`));
    const acc = accuracyOf(oof, cal.y, k);
    if (acc > best.acc + 1e-9) best = { C, oof, acc };
  };
  grid.forEach((C, i) => tryC(C, i, grid.length));
  const top = grid[grid.length - 1];
  if (best.C === top) tryC(top * 3, grid.length, grid.length);
  return { C: best.C, oof: best.oof!, final: null };
}

/** Keyword model scores of each calibration row, from a model trained without the row's fold. */
function keywordOutOfFold(
  tokens: readonly (readonly string[])[],
  labels: readonly string[],
  labelSet: readonly string[],
  cal: CalibrationRows,
  foldCount: number,
  keywordOpts: LabelModelOptions['keyword'],
): Float64Array {
  const k = labelSet.length;
  const cn = cal.y.length;
  const kwOof = new Float64Array(cn * k);
  for (let f = 0; f < foldCount; f++) {
    const train: number[] = [];
    for (let i = 0; i < cn; i++) if (cal.folds[i] !== f) train.push(cal.rowOf(i));
    const model = new KeywordModel(trainKeywordModel(train.map((i) => tokens[i]), train.map((i) => labels[i]), labelSet, keywordOpts));
    for (let i = 0; i < cn; i++) {
      if (cal.folds[i] === f) kwOof.set(normalizeKeywordScores(model.predict([...new Set(tokens[cal.rowOf(i)])], '', false).scores), i * k);
    }
  }
  return kwOof;
}

/**
 * The ensemble on out-of-fold scores: the keyword weight, the softmax temperature and per-label bias
 * (stacked, or a grid and a temperature fit), then the review threshold. `marked` rows (real text)
 * choose the threshold when there are at least {@link MIN_THRESHOLD_ROWS}, and the stack too with
 * `calibrateOnThresholdRows`.
 */
function fitEnsemble(svmOof: Float64Array, kwOof: Float64Array, cy: Int32Array, k: number, marked: readonly number[], opts: LabelModelOptions) {
  let keywordWeight = 0;
  let accuracy = -1;
  for (const b of [0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]) {
    const acc = accuracyOf(combine(svmOof, kwOof, b), cy, k);
    if (acc > accuracy + 1e-9) {
      accuracy = acc;
      keywordWeight = b;
    }
  }
  let combined = combine(svmOof, kwOof, keywordWeight);
  let temperature = fitTemperature(combined, cy, k);
  let bias: number[] | undefined;
  const onMarked = marked.length >= MIN_THRESHOLD_ROWS;
  if ((opts.calibration ?? 'stack') === 'stack') {
    const real = onMarked && opts.calibrateOnThresholdRows === true;
    const fit = real
      ? fitStack(pickRows(svmOof, marked, k), pickRows(kwOof, marked, k), Int32Array.from(marked, (i) => cy[i]), k, 1 / temperature, opts.labelBias ?? true)
      : fitStack(svmOof, kwOof, cy, k, 1 / temperature, opts.labelBias ?? true);
    // A degenerate fit (scores that carry no information) keeps the temperature calibration.
    if (fit.a > 0 && fit.b >= 0 && Number.isFinite(fit.a + fit.b)) {
      keywordWeight = fit.b / fit.a;
      temperature = 1 / fit.a;
      if (fit.bias) bias = fit.bias.map((v) => v / fit.a);
      if (!real && onMarked && opts.biasOnThresholdRows && (opts.labelBias ?? true)) {
        const refit = fitStack(pickRows(svmOof, marked, k), pickRows(kwOof, marked, k), Int32Array.from(marked, (i) => cy[i]), k, fit.a, true, { a: fit.a, b: fit.b, bias: fit.bias ?? undefined });
        if (refit.bias) bias = refit.bias.map((v) => v / fit.a);
      }
      combined = combine(svmOof, kwOof, keywordWeight, bias);
      accuracy = accuracyOf(combined, cy, k);
    }
  }
  const { threshold, coverage, precision } = onMarked && opts.thresholdOnThresholdRows !== false
    ? chooseThreshold(pickRows(combined, marked, k), Int32Array.from(marked, (i) => cy[i]), k, temperature, opts.targetPrecision ?? 0.95)
    : chooseThreshold(combined, cy, k, temperature, opts.targetPrecision ?? 0.95);
  return { keywordWeight, temperature, bias, accuracy, threshold, coverage, precision };
}

/** A loaded head, ready to predict. */
export class LabelModel {
  readonly labels: readonly string[];
  private svm: LinearWeights;
  // Set by useFused: this head's weights live in a matrix shared with other heads.
  private fused: { weights: LinearWeights; offset: number; scores: Float64Array } | null = null;
  private readonly keyword: KeywordModel;
  private readonly scratch: Float64Array;

  constructor(readonly data: LabelModelData) {
    this.labels = data.labels;
    const k = data.labels.length;
    let weights: Float32Array;
    try {
      weights = base64ToFloat32(data.svm.weights, (data.svm.features + 1) * k);
    } catch (err) {
      throw new ModelFormatError(`svm weights: ${(err as Error).message}`);
    }
    this.svm = { classes: k, features: data.svm.features, weights };
    if (data.keyword.labels.length !== k) throw new ModelFormatError('keyword model and svm disagree on labels');
    const bias = data.ensemble.bias;
    if (bias !== undefined && (!Array.isArray(bias) || bias.length !== k || !bias.every(Number.isFinite))) {
      throw new ModelFormatError(`ensemble bias: expected ${k} finite numbers`);
    }
    this.keyword = new KeywordModel(data.keyword);
    this.scratch = new Float64Array(k);
  }

  get threshold(): number {
    return this.data.ensemble.threshold;
  }

  /** The SVM's weights (for scoring several heads in one pass: see {@link fuseWeights}). */
  get svmWeights(): LinearWeights {
    if (this.fused) throw new ModelFormatError('this head already scores from a fused weight matrix');
    return this.svm;
  }

  /**
   * Makes this head score from columns `offset …` of a fused matrix built by {@link fuseWeights}
   * and releases its own copy of the weights (the fused matrix holds them: memory stays flat).
   */
  useFused(weights: LinearWeights, offset: number): void {
    const k = this.labels.length;
    if (offset < 0 || offset + k > weights.classes || weights.features < this.svm.features) throw new ModelFormatError('fused weights do not fit this head');
    this.fused = { weights, offset, scores: new Float64Array(weights.classes) };
    this.svm = { classes: k, features: 0, weights: new Float32Array(k) };
  }

  /**
   * Predicts one example with the chosen scorer (default: the calibrated ensemble). With `explain`
   * false, keyword matches are not listed (and not computed at all when the scorer ignores them).
   */
  predict(v: SparseVector, uniqueTokens: readonly string[], text = '', scorer: Scorer = 'ensemble', explain = true, svmScores?: Float64Array): LabelPrediction {
    const k = this.labels.length;
    const b = this.data.ensemble.keywordWeight;
    const needKeywords = explain || scorer === 'keyword' || (scorer === 'ensemble' && b !== 0);
    const kw = needKeywords ? this.keyword.predict(uniqueTokens, text, explain) : null;
    let scores: Float64Array;
    if (scorer === 'keyword') {
      scores = normalizeKeywordScores(kw!.scores);
    } else {
      if (svmScores) {
        if (svmScores.length !== k) throw new ModelFormatError(`${svmScores.length} precomputed svm scores for ${k} labels`);
        this.scratch.set(svmScores);
        scores = this.scratch;
      } else if (this.fused) {
        const all = decision(this.fused.weights, v, this.fused.scores);
        this.scratch.set(all.subarray(this.fused.offset, this.fused.offset + k));
        scores = this.scratch;
      } else {
        scores = decision(this.svm, v, this.scratch);
      }
      if (scorer === 'ensemble' && b !== 0) {
        const kn = normalizeKeywordScores(kw!.scores);
        for (let c = 0; c < k; c++) scores[c] += b * kn[c];
      }
      const bias = this.data.ensemble.bias;
      if (scorer === 'ensemble' && bias) for (let c = 0; c < k; c++) scores[c] += bias[c];
    }
    const probs = softmax(scores, 0, k, scorer === 'ensemble' ? this.data.ensemble.temperature : 1);
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[c] > probs[best]) best = c;
    return { probs, best, matches: kw?.matches ?? [] };
  }
}

/** Keyword scores shifted so the best is 0 and clipped, making them comparable across messages. */
function normalizeKeywordScores(scores: Float64Array): Float64Array {
  let max = -Infinity;
  for (const s of scores) if (s > max) max = s;
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = Math.max(scores[i] - max, -20);
  return out;
}

function combine(svm: Float64Array, kw: Float64Array, b: number, bias?: readonly number[]): Float64Array {
  const out = new Float64Array(svm.length);
  for (let i = 0; i < svm.length; i++) out[i] = svm[i] + b * kw[i];
  if (bias) for (let i = 0; i < svm.length; i++) out[i] += bias[i % bias.length];
  return out;
}

function pickRows(scores: Float64Array, rows: readonly number[], k: number): Float64Array {
  const out = new Float64Array(rows.length * k);
  rows.forEach((r, j) => out.set(scores.subarray(r * k, r * k + k), j * k));
  return out;
}

function softmax(scores: Float64Array, offset: number, k: number, temperature: number): Float64Array {
  const out = new Float64Array(k);
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, scores[offset + c]);
  let sum = 0;
  for (let c = 0; c < k; c++) sum += out[c] = Math.exp((scores[offset + c] - max) / temperature);
  for (let c = 0; c < k; c++) out[c] /= sum;
  return out;
}

function argmaxRow(scores: Float64Array, row: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (scores[row * k + c] > scores[row * k + best]) best = c;
  return best;
}

function accuracyOf(scores: Float64Array, y: Int32Array, k: number): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (argmaxRow(scores, i, k) === y[i]) ok++;
  return y.length ? ok / y.length : 0;
}

function oneVsRest(run: ClassRunner, problem: OneVsRestProblem): LinearWeights {
  return assembleOneVsRest(problem, run([problem])[0]);
}

/**
 * Decision values of every row, each predicted by a model that did not see its fold. With `warm`,
 * each fold's descent starts from that solution's dual values of its rows (`rowOf` maps a row of
 * `x` to a row of the solution). The folds are independent: all their classes go to `run` at once.
 */
function outOfFold(
  x: CsrMatrix,
  y: Int32Array,
  k: number,
  folds: Int32Array,
  foldCount: number,
  opts: LinearSvmOptions,
  run: ClassRunner,
  onFold: (fraction: number) => void,
  warm?: { alphas: readonly Float64Array[]; rowOf: (row: number) => number },
): Float64Array {
  const out = new Float64Array(x.rows * k);
  const tests: number[][] = [];
  const problems: OneVsRestProblem[] = [];
  for (let f = 0; f < foldCount; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < x.rows; i++) (folds[i] === f ? test : train).push(i);
    const rw = opts.rowWeights;
    const start = warm?.alphas.map((a) => Float64Array.from(train, (i) => a[warm.rowOf(i)]));
    tests.push(test);
    problems.push({ x: selectRows(x, train), labels: Int32Array.from(train, (i) => y[i]), classes: k, opts: rw ? { ...opts, rowWeights: Float64Array.from(train, (i) => rw[i]) } : opts, start });
  }
  const solutions = run(problems, (done, total) => onFold(done / total));
  problems.forEach((problem, f) => {
    const test = tests[f];
    const dec = decisionMatrix(assembleOneVsRest(problem, solutions[f]), selectRows(x, test));
    test.forEach((row, j) => out.set(dec.subarray(j * k, j * k + k), row * k));
  });
  return out;
}

/**
 * Stacking of the two scorers: softmax(a·svm + b·keyword + bias) fitted to the out-of-fold labels
 * by minimising the negative log-likelihood (plus a small L2 penalty on the bias), with Adam from
 * a = a0, b = 0, bias = 0. A fixed number of full-batch steps keeps it deterministic. With `fixed`,
 * a and b stay as given and only the bias moves, starting from the given bias.
 */
function fitStack(svm: Float64Array, kw: Float64Array, y: Int32Array, k: number, a0: number, withBias: boolean, fixed?: { a: number; b: number; bias?: readonly number[] }) {
  const n = y.length;
  const l2 = 1e-3;
  const steps = 400;
  const rate = 0.01;
  // Parameters: a, b, bias[0..k-1] (left at 0 without bias).
  const theta = new Float64Array(2 + k);
  theta[0] = a0;
  if (fixed) {
    theta[0] = fixed.a;
    theta[1] = fixed.b;
    fixed.bias?.forEach((v, c) => (theta[2 + c] = v));
  }
  const grad = new Float64Array(2 + k);
  const m = new Float64Array(2 + k);
  const v = new Float64Array(2 + k);
  const p = new Float64Array(k);
  for (let step = 1; step <= steps; step++) {
    grad.fill(0);
    const [a, b] = theta;
    for (let i = 0; i < n; i++) {
      const o = i * k;
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        p[c] = a * svm[o + c] + b * kw[o + c] + theta[2 + c];
        if (p[c] > max) max = p[c];
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += p[c] = Math.exp(p[c] - max);
      for (let c = 0; c < k; c++) {
        const d = p[c] / sum - (c === y[i] ? 1 : 0);
        grad[0] += d * svm[o + c];
        grad[1] += d * kw[o + c];
        grad[2 + c] += d;
      }
    }
    for (let j = fixed ? 2 : 0; j < (withBias ? grad.length : 2); j++) {
      const g = grad[j] / n + (j >= 2 ? l2 * theta[j] : 0);
      m[j] = 0.9 * m[j] + 0.1 * g;
      v[j] = 0.999 * v[j] + 0.001 * g * g;
      theta[j] -= (rate * (m[j] / (1 - 0.9 ** step))) / (Math.sqrt(v[j] / (1 - 0.999 ** step)) + 1e-8);
    }
  }
  return { a: theta[0], b: theta[1], bias: withBias ? Array.from(theta.subarray(2)) : null };
}

/** Temperature minimising the negative log-likelihood of the out-of-fold labels. */
function fitTemperature(scores: Float64Array, y: Int32Array, k: number): number {
  const nll = (t: number) => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s -= Math.log(softmax(scores, i * k, k, t)[y[i]] + 1e-12);
    return s;
  };
  // Golden-section search on log(t) over [0.01, 10].
  let lo = Math.log(0.01);
  let hi = Math.log(10);
  const g = (Math.sqrt(5) - 1) / 2;
  let a = hi - g * (hi - lo);
  let b = lo + g * (hi - lo);
  let fa = nll(Math.exp(a));
  let fb = nll(Math.exp(b));
  for (let it = 0; it < 40; it++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - g * (hi - lo);
      fa = nll(Math.exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + g * (hi - lo);
      fb = nll(Math.exp(b));
    }
  }
  return Math.exp((lo + hi) / 2);
}

/**
 * The lowest confidence threshold at which the predictions kept (confidence ≥ threshold) are at
 * least `target` precise. Lower threshold = more coverage.
 */
function chooseThreshold(scores: Float64Array, y: Int32Array, k: number, temperature: number, target: number) {
  const rows = Array.from({ length: y.length }, (_, i) => {
    const p = softmax(scores, i * k, k, temperature);
    const best = argmaxRow(scores, i, k);
    return { conf: p[best], ok: best === y[i] };
  }).sort((a, b) => b.conf - a.conf);
  let correct = 0;
  let bestCount = 0;
  let threshold = 1;
  rows.forEach((r, i) => {
    if (r.ok) correct++;
    // Only cut between distinct confidences.
    if (i + 1 < rows.length && rows[i + 1].conf === r.conf) return;
    if (correct / (i + 1) >= target) {
      bestCount = i + 1;
      threshold = r.conf;
    }
  });
  const kept = rows.slice(0, bestCount);
  return {
    threshold,
    coverage: rows.length ? bestCount / rows.length : 0,
    precision: kept.length ? kept.filter((r) => r.ok).length / kept.length : 0,
  };
}

function sampleStratified(y: Int32Array, max: number, rng: () => number): number[] {
  const all = Array.from({ length: y.length }, (_, i) => i);
  if (y.length <= max) return all;
  // Fold assignment is stratified; taking whole folds keeps the class balance.
  const parts = Math.ceil(y.length / max);
  const folds = stratifiedFolds(y, parts, rng);
  return all.filter((i) => folds[i] === 0);
}

/**
 * Interleaves the SVM weights of several heads over one feature space into one matrix, so one pass
 * over a message's features scores every head: per feature, the heads' weights sit side by side
 * (one memory region instead of one per head). Head `h`'s scores are columns
 * `offsets[h] .. offsets[h] + classes`.
 */
export function fuseWeights(heads: readonly LinearWeights[]): { weights: LinearWeights; offsets: number[] } {
  const features = Math.max(...heads.map((h) => h.features));
  const classes = heads.reduce((n, h) => n + h.classes, 0);
  const w = new Float32Array((features + 1) * classes);
  const offsets: number[] = [];
  let off = 0;
  for (const h of heads) {
    offsets.push(off);
    for (let f = 0; f < h.features; f++) {
      for (let c = 0; c < h.classes; c++) w[f * classes + off + c] = h.weights[f * h.classes + c];
    }
    // Bias row (the last row), also for a head trained on fewer features.
    for (let c = 0; c < h.classes; c++) w[features * classes + off + c] = h.weights[h.features * h.classes + c];
    off += h.classes;
  }
  return { weights: { classes, features, weights: w }, offsets };
}
