/**
 * Linear SVM trained by dual coordinate descent (Hsieh et al. 2008, the LIBLINEAR solver),
 * over sparse rows. Multiclass is one-vs-rest. The model is one weight vector per class, stored
 * feature-major so prediction is one pass over the message's non-zero features.
 *
 * libsvm-js stays the reference implementation: `libsvm-reference.ts` trains the same problem with
 * libsvm and folds its support vectors into weight vectors of the same shape; the tests check that
 * both reach the same accuracy on the same folds.
 */
import { createRng } from '../random.js';
import type { CsrMatrix, SparseVector } from '../sparse.js';

/** Options of one SVM training run. */
export interface LinearSvmOptions {
  /** Regularisation: larger C fits the training rows more closely. */
  C: number;
  /** `l2` is the squared hinge loss (smoother, LIBLINEAR's default); `l1` is the classic hinge. */
  loss?: 'l1' | 'l2';
  /** Value of the constant bias feature. */
  bias?: number;
  /** Stopping tolerance on the projected gradient. */
  eps?: number;
  maxIter?: number;
  seed?: number;
  /** Per-class weight multiplying C for the positive rows of that class (imbalanced data). */
  classWeights?: readonly number[];
  /** Per-row weight multiplying C for that row (e.g. real customer text over the project's writing). */
  rowWeights?: ArrayLike<number>;
  /**
   * NB-SVM (Wang & Manning 2012): scale each feature by its smoothed log-count ratio between the
   * class and the rest before training, with this smoothing; 0 or undefined = off. The ratio is
   * folded back into the weights, so prediction is unchanged in cost.
   */
  nbAlpha?: number;
  /**
   * Dual start, one value per row (warm start), e.g. the solution of the same problem on more
   * rows: the descent then needs fewer passes. Solvers without a dual (libsvm) ignore it.
   */
  initialAlpha?: ArrayLike<number>;
  /** Receives the dual solution (one value per row) when the solver has one. */
  alphaOut?: Float64Array;
}

/** Weights of a linear multiclass model: `weights[f * classes + c]`, bias last. */
export interface LinearWeights {
  classes: number;
  features: number;
  /** (features + 1) × classes; the last row is the bias. */
  weights: Float32Array;
}

/** Trains one binary problem: `y[i]` is ±1; returns w of length cols + 1 with the bias last. */
export type BinarySolver = (x: CsrMatrix, y: Int8Array, opts: LinearSvmOptions, cPos?: number, cNeg?: number) => Float64Array;

/** A matrix's columns renumbered densely, the most used first (see {@link trainBinary}). */
interface DenseColumns {
  /** Original column of each new column. */
  order: Int32Array;
  /** `x.indices` in the new numbering. */
  indices: Int32Array;
  /** Columns used by at least one row. */
  cols: number;
}

// Keyed by the index array: one-vs-rest scales `values` per class but shares `indices`, so every
// class of one matrix reuses one renumbering.
const denseColumnCache = new WeakMap<Int32Array, DenseColumns>();

function denseColumns(x: CsrMatrix): DenseColumns {
  const cached = denseColumnCache.get(x.indices);
  if (cached) return cached;
  const count = new Int32Array(x.cols);
  for (let p = 0; p < x.indices.length; p++) count[x.indices[p]]++;
  const used: number[] = [];
  for (let f = 0; f < x.cols; f++) if (count[f] > 0) used.push(f);
  used.sort((a, b) => count[b] - count[a] || a - b);
  const newId = new Int32Array(x.cols);
  for (let j = 0; j < used.length; j++) newId[used[j]] = j;
  const indices = new Int32Array(x.indices.length);
  for (let p = 0; p < indices.length; p++) indices[p] = newId[x.indices[p]];
  const dense = { order: Int32Array.from(used), indices, cols: used.length };
  denseColumnCache.set(x.indices, dense);
  return dense;
}

/**
 * Trains one binary problem by dual coordinate descent. `y[i]` is +1 or -1. Returns w of length cols + 1 (bias last).
 *
 * With {@link LinearSvmOptions.initialAlpha} the descent starts from that dual point instead of
 * zero (warm start); with {@link LinearSvmOptions.alphaOut} the dual solution is written there.
 */
export function trainBinary(x: CsrMatrix, y: Int8Array, opts: LinearSvmOptions, cPos = opts.C, cNeg = opts.C): Float64Array {
  const n = x.rows;
  const bias = opts.bias ?? 1;
  const eps = opts.eps ?? 0.1;
  const maxIter = opts.maxIter ?? 1000;
  const l2 = (opts.loss ?? 'l2') === 'l2';
  // Every pass reads and updates the weights of each row's features at random places. With 10k
  // corrections the feature space has ~150k columns (1.2 MB of weights, more than a core's L2
  // cache); numbered by use, the frequent n-grams' weights sit together at the front. The result is
  // bit for bit the same: each row's terms are still added in the same order.
  const dense = denseColumns(x);
  const { indices, cols } = dense;
  const { indptr, values } = x;
  const w = new Float64Array(cols + 1);
  const alpha = new Float64Array(n);
  const qd = new Float64Array(n);
  const diag = new Float64Array(n);
  const upper = new Float64Array(n);
  const rw = opts.rowWeights;
  for (let i = 0; i < n; i++) {
    const c = (y[i] > 0 ? cPos : cNeg) * (rw ? rw[i] : 1);
    diag[i] = l2 ? 0.5 / c : 0;
    upper[i] = l2 ? Infinity : c;
  }
  for (let i = 0; i < n; i++) {
    let s = bias * bias;
    for (let p = indptr[i]; p < indptr[i + 1]; p++) s += values[p] * values[p];
    qd[i] = s + diag[i];
  }
  const biasIdx = cols;
  const start = opts.initialAlpha;
  if (start) {
    if (start.length !== n) throw new RangeError(`initialAlpha has ${start.length} values for ${n} rows`);
    for (let i = 0; i < n; i++) {
      const a = Math.min(Math.max(start[i], 0), upper[i]);
      if (!(a > 0)) continue;
      alpha[i] = a;
      const d = a * y[i];
      for (let p = indptr[i]; p < indptr[i + 1]; p++) w[indices[p]] += d * values[p];
      w[biasIdx] += d * bias;
    }
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = createRng(opts.seed ?? 1);
  let active = n;
  let pgMaxOld = Infinity;
  let pgMinOld = -Infinity;
  for (let iter = 0; iter < maxIter; iter++) {
    let pgMax = -Infinity;
    let pgMin = Infinity;
    // Shuffle the active rows only.
    for (let i = active - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (let s = 0; s < active; s++) {
      const i = order[s];
      const yi = y[i];
      const from = indptr[i];
      const to = indptr[i + 1];
      let g = w[biasIdx] * bias;
      for (let p = from; p < to; p++) g += values[p] * w[indices[p]];
      const ai = alpha[i];
      g = g * yi - 1 + diag[i] * ai;
      const u = upper[i];
      let pg = 0;
      if (ai === 0) {
        if (g > pgMaxOld) {
          // Shrink: this row is unlikely to move.
          active--;
          order[s] = order[active];
          order[active] = i;
          s--;
          continue;
        }
        if (g < 0) pg = g;
      } else if (ai === u) {
        if (g < pgMinOld) {
          active--;
          order[s] = order[active];
          order[active] = i;
          s--;
          continue;
        }
        if (g > 0) pg = g;
      } else {
        pg = g;
      }
      if (pg > pgMax) pgMax = pg;
      if (pg < pgMin) pgMin = pg;
      if (Math.abs(pg) > 1e-12) {
        const a = Math.min(Math.max(ai - g / qd[i], 0), u);
        alpha[i] = a;
        const d = (a - ai) * yi;
        for (let p = from; p < to; p++) w[indices[p]] += d * values[p];
        w[biasIdx] += d * bias;
      }
    }
    if (pgMax - pgMin <= eps) {
      if (active === n) break;
      // Converged on the active set: check everything once more.
      active = n;
      pgMaxOld = Infinity;
      pgMinOld = -Infinity;
      continue;
    }
    pgMaxOld = pgMax <= 0 ? Infinity : pgMax;
    pgMinOld = pgMin >= 0 ? -Infinity : pgMin;
  }
  opts.alphaOut?.set(alpha);
  // Back to the matrix's own column numbers; unused columns keep weight 0. The bias weight
  // multiplies `bias`: fold it in so prediction adds w[bias] once.
  const out = new Float64Array(x.cols + 1);
  for (let j = 0; j < cols; j++) out[dense.order[j]] = w[j];
  out[x.cols] = w[biasIdx] * bias;
  return out;
}

/** Dual variables of a one-vs-rest run, one array per class over the matrix's rows. */
export interface OneVsRestDual {
  /** Warm start of each class (see {@link LinearSvmOptions.initialAlpha}). */
  start?: readonly ArrayLike<number>[];
  /** When given, each class's dual solution is stored here (index = class). */
  solutions?: Float64Array[];
}

/**
 * One one-vs-rest training run as plain data: everything {@link solveClass} needs to solve any
 * of its classes, so a class can be solved on another thread (`trainer/solver-pool.ts`) from a
 * copy of these arrays, with the same result bit for bit.
 */
export interface OneVsRestProblem {
  x: CsrMatrix;
  /** Class index of each row, 0..classes-1. */
  labels: ArrayLike<number>;
  classes: number;
  /** The run's options; class c is solved with seed `(opts.seed ?? 1) + c`. */
  opts: LinearSvmOptions;
  /** Warm start of each class (see {@link LinearSvmOptions.initialAlpha}). */
  start?: readonly ArrayLike<number>[];
  /** Return each class's dual solution too. */
  keepDual?: boolean;
}

/** The solution of one class of a {@link OneVsRestProblem}. */
export interface ClassSolution {
  /** Weights over the matrix's columns (NB-SVM ratio folded in), bias last: cols + 1 values. */
  w: Float64Array;
  /** Dual solution, one value per row, when the problem asked for it. */
  alpha?: Float64Array;
}

/**
 * Solves every class of several independent one-vs-rest problems: `result[p][c]` is class c of
 * problem p. `onProgress` is told how many of all the classes are done. Implementations must
 * return exactly what {@link serialClassRunner} returns (each class is a pure function of its
 * problem), so where the classes are solved never changes a model.
 */
export type ClassRunner = (problems: readonly OneVsRestProblem[], onProgress?: (done: number, total: number) => void) => ClassSolution[][];

/**
 * Solves class `c` of a problem (class c against the rest). Pure: the result depends only on the
 * problem's data, which is what lets a thread pool solve classes in any order.
 */
export function solveClass(problem: OneVsRestProblem, c: number, solver: BinarySolver = trainBinary): ClassSolution {
  const { x, labels, opts } = problem;
  const y = new Int8Array(x.rows);
  for (let i = 0; i < x.rows; i++) y[i] = labels[i] === c ? 1 : -1;
  const cw = opts.classWeights?.[c] ?? 1;
  let ratio: Float64Array | null = null;
  // A new matrix per class: solvers may cache per matrix (libsvm's Gram matrix).
  let scaled: CsrMatrix | null = null;
  if (opts.nbAlpha) {
    ratio = logCountRatio(x, y, opts.nbAlpha);
    const values = new Float32Array(x.values.length);
    for (let p = 0; p < values.length; p++) values[p] = x.values[p] * ratio[x.indices[p]];
    scaled = { ...x, values };
  }
  const alpha = problem.keepDual ? new Float64Array(x.rows) : undefined;
  const w = solver(scaled ?? x, y, { ...opts, seed: (opts.seed ?? 1) + c, initialAlpha: problem.start?.[c], alphaOut: alpha }, opts.C * cw, opts.C);
  if (ratio) for (let f = 0; f < x.cols; f++) w[f] *= ratio[f];
  return alpha ? { w, alpha } : { w };
}

/** A {@link ClassRunner} that solves the classes one after another on this thread. */
export function serialClassRunner(solver: BinarySolver = trainBinary): ClassRunner {
  return (problems, onProgress) => {
    const total = problems.reduce((n, p) => n + p.classes, 0);
    let done = 0;
    return problems.map((p) =>
      Array.from({ length: p.classes }, (_, c) => {
        const s = solveClass(p, c, solver);
        onProgress?.(++done, total);
        return s;
      }),
    );
  };
}

/** The multiclass model of a problem from its classes' solutions. */
export function assembleOneVsRest(problem: OneVsRestProblem, solutions: readonly ClassSolution[]): LinearWeights {
  const { x, classes } = problem;
  if (solutions.length !== classes) throw new RangeError(`${solutions.length} class solutions for ${classes} classes`);
  const weights = new Float32Array((x.cols + 1) * classes);
  solutions.forEach(({ w }, c) => {
    if (w.length !== x.cols + 1) throw new RangeError(`class ${c}: ${w.length} weights for ${x.cols + 1}`);
    for (let f = 0; f <= x.cols; f++) weights[f * classes + c] = w[f];
  });
  return { classes, features: x.cols, weights };
}

/**
 * Trains a one-vs-rest multiclass linear SVM. `labels[i]` is a class index in 0..classes-1.
 * `onClass` reports progress after each binary problem.
 */
export function trainOneVsRest(
  x: CsrMatrix,
  labels: ArrayLike<number>,
  classes: number,
  opts: LinearSvmOptions,
  onClass?: (done: number, total: number) => void,
  solver: BinarySolver = trainBinary,
  dual?: OneVsRestDual,
): LinearWeights {
  const problem: OneVsRestProblem = { x, labels, classes, opts, start: dual?.start, keepDual: dual?.solutions !== undefined };
  const [solutions] = serialClassRunner(solver)([problem], onClass);
  if (dual?.solutions) solutions.forEach((s, c) => (dual.solutions![c] = s.alpha!));
  return assembleOneVsRest(problem, solutions);
}

/** log((p / |p|₁) / (q / |q|₁)) with p, q the smoothed feature sums of the positive and negative rows. */
function logCountRatio(x: CsrMatrix, y: Int8Array, alpha: number): Float64Array {
  const pos = new Float64Array(x.cols).fill(alpha);
  const neg = new Float64Array(x.cols).fill(alpha);
  for (let i = 0; i < x.rows; i++) {
    const target = y[i] > 0 ? pos : neg;
    for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) target[x.indices[p]] += x.values[p];
  }
  let sp = 0;
  let sn = 0;
  for (let f = 0; f < x.cols; f++) {
    sp += pos[f];
    sn += neg[f];
  }
  const r = new Float64Array(x.cols);
  for (let f = 0; f < x.cols; f++) r[f] = Math.log(pos[f] / sp / (neg[f] / sn));
  return r;
}

/**
 * Decision values of every class for one sparse vector, written into `out`. `n` limits the vector to
 * its first `n` entries (a reused scratch vector is longer than the message's features).
 */
export function decision(model: LinearWeights, v: SparseVector, out: Float64Array = new Float64Array(model.classes), n = v.idx.length): Float64Array {
  const k = model.classes;
  const w = model.weights;
  const biasRow = model.features * k;
  for (let c = 0; c < k; c++) out[c] = w[biasRow + c];
  const { idx, val } = v;
  for (let j = 0; j < n; j++) {
    const f = idx[j];
    if (f >= model.features) continue;
    const x = val[j];
    const base = f * k;
    for (let c = 0; c < k; c++) out[c] += x * w[base + c];
  }
  return out;
}

/** Decision values for every row of a CSR matrix: rows × classes. */
export function decisionMatrix(model: LinearWeights, x: CsrMatrix): Float64Array {
  const k = model.classes;
  const out = new Float64Array(x.rows * k);
  const w = model.weights;
  const biasRow = model.features * k;
  for (let r = 0; r < x.rows; r++) {
    const o = r * k;
    for (let c = 0; c < k; c++) out[o + c] = w[biasRow + c];
    for (let p = x.indptr[r]; p < x.indptr[r + 1]; p++) {
      const f = x.indices[p];
      const v = x.values[p];
      const base = f * k;
      for (let c = 0; c < k; c++) out[o + c] += v * w[base + c];
    }
  }
  return out;
}

