/**
 * libsvm-js as a binary solver with the same output shape as our dual coordinate descent:
 * a weight vector with the bias last. It is the reference the fast solver is checked against, and
 * a product option (`solver: libsvm`) for small corpora.
 *
 * libsvm-js takes dense rows, which is far too slow for text, so it runs with a precomputed linear
 * kernel (the Gram matrix of the sparse rows: the same mathematics as the linear kernel). After
 * training, the support vectors fold into one weight vector: w = Σ coef_s · x_s, and b = -rho.
 * Prediction is then a sparse dot product, not a pass over the support vectors.
 *
 * The libsvm-js class is passed in, so this module does no loading itself.
 */
import { TrainingError } from '../errors.js';
import type { CsrMatrix } from '../sparse.js';
import type { BinarySolver } from './linear-svm.js';

/** The part of libsvm-js's `SVM` class this module uses. */
export interface LibsvmClass {
  new (options: Record<string, unknown>): { train(samples: number[][], labels: number[]): void; serializeModel(): string; free(): void };
  SVM_TYPES: { C_SVC: string };
  KERNEL_TYPES: { PRECOMPUTED: string };
}

/** Linear-kernel Gram matrix of the rows (row-major n × n). */
export function gramMatrix(x: CsrMatrix): Float64Array {
  const n = x.rows;
  const g = new Float64Array(n * n);
  const dense = new Float64Array(x.cols);
  for (let i = 0; i < n; i++) {
    for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) dense[x.indices[p]] = x.values[p];
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = x.indptr[j]; p < x.indptr[j + 1]; p++) s += x.values[p] * dense[x.indices[p]];
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
    for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) dense[x.indices[p]] = 0;
  }
  return g;
}

/** Parsed parts of a two-class libsvm model trained on a precomputed kernel. */
interface ParsedBinaryModel {
  rho: number;
  /** Label of the first class in libsvm's order (its decision value is positive). */
  firstLabel: number;
  /** Support vectors: training row index (0-based) and coefficient. */
  svs: { row: number; coef: number }[];
}

export function parseBinaryModel(text: string): ParsedBinaryModel {
  const lines = text.split('\n');
  let rho = NaN;
  let firstLabel = NaN;
  let i = 0;
  for (; i < lines.length && lines[i].trim() !== 'SV'; i++) {
    const [key, ...rest] = lines[i].trim().split(/\s+/);
    if (key === 'nr_class' && rest[0] !== '2') throw new TrainingError(`libsvm model has ${rest[0]} classes, expected 2`);
    if (key === 'rho') rho = Number(rest[0]);
    if (key === 'label') firstLabel = Number(rest[0]);
  }
  if (!Number.isFinite(rho) || !Number.isFinite(firstLabel)) throw new TrainingError('libsvm model lacks rho or label');
  const svs: { row: number; coef: number }[] = [];
  for (i++; i < lines.length; i++) {
    const parts = lines[i].trim().split(/\s+/);
    if (parts.length < 2) continue;
    const coef = Number(parts[0]);
    const id = parts.find((p) => p.startsWith('0:'));
    if (!id) throw new TrainingError('libsvm support vector without a sample serial number');
    svs.push({ row: Number(id.slice(2)) - 1, coef });
  }
  return { rho, firstLabel, svs };
}

/**
 * A {@link BinarySolver} backed by libsvm-js (C-SVC, hinge loss, unregularised bias).
 * `y[i]` is +1 or -1; returns w with the bias last, oriented so that w·x + b > 0 means +1.
 */
export function createLibsvmSolver(SVM: LibsvmClass): BinarySolver {
  const grams = new WeakMap<CsrMatrix, Float64Array>();
  return (x, y, opts, cPos = opts.C, cNeg = opts.C) => {
    const n = x.rows;
    let gram = grams.get(x);
    if (!gram) grams.set(x, (gram = gramMatrix(x)));
    // Precomputed-kernel rows: [serial number (1-based), K(i, 0), ..., K(i, n-1)].
    const samples: number[][] = new Array(n);
    for (let i = 0; i < n; i++) {
      const row = new Array<number>(n + 1);
      row[0] = i + 1;
      for (let j = 0; j < n; j++) row[j + 1] = gram[i * n + j];
      samples[i] = row;
    }
    const labels = Array.from(y, (v) => (v > 0 ? 1 : -1));
    const weight = cPos !== cNeg ? { 1: cPos / opts.C, '-1': cNeg / opts.C } : undefined;
    const svm = new SVM({ type: SVM.SVM_TYPES.C_SVC, kernel: SVM.KERNEL_TYPES.PRECOMPUTED, cost: opts.C, quiet: true, weight, tolerance: 0.001 });
    try {
      svm.train(samples, labels);
      const model = parseBinaryModel(svm.serializeModel());
      const w = new Float64Array(x.cols + 1);
      for (const { row, coef } of model.svs) {
        for (let p = x.indptr[row]; p < x.indptr[row + 1]; p++) w[x.indices[p]] += coef * x.values[p];
      }
      w[x.cols] = -model.rho;
      // libsvm orients the decision towards its first label; we want +1 positive.
      if (model.firstLabel !== 1) for (let f = 0; f <= x.cols; f++) w[f] = -w[f];
      return w;
    } finally {
      svm.free();
    }
  };
}
