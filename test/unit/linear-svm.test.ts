import { describe, expect, it } from 'vitest';
import { decision, trainBinary, trainOneVsRest } from '../../classifier/models/linear-svm.js';
import { createRng } from '../../classifier/random.js';
import { selectRows, toCsr, type CsrMatrix, type SparseVector } from '../../classifier/sparse.js';

/** Three well-separated clusters in 6 sparse dimensions with noise. */
function clusters(n: number, seed: number) {
  const rng = createRng(seed);
  const vectors: SparseVector[] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const idx = Int32Array.from([c * 2, c * 2 + 1, 6 + Math.floor(rng() * 4)]);
    const val = Float32Array.from([1 + rng(), 1 + rng(), rng()]);
    vectors.push({ idx, val });
    labels.push(c);
  }
  return { x: toCsr(vectors, 10), labels };
}

/**
 * The solver as it was before its columns were renumbered by use (plain column numbers, closures
 * per row): the renumbering must give the same bits, or the shipped model's bytes would change.
 */
function plainDualCd(x: CsrMatrix, y: Int8Array, C: number, seed: number): Float64Array {
  const n = x.rows;
  const w = new Float64Array(x.cols + 1);
  const alpha = new Float64Array(n);
  const qd = new Float64Array(n);
  const diag = 0.5 / C;
  for (let i = 0; i < n; i++) {
    let s = 1;
    for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) s += x.values[p] * x.values[p];
    qd[i] = s + diag;
  }
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = createRng(seed);
  let active = n;
  let pgMaxOld = Infinity;
  let pgMinOld = -Infinity;
  for (let iter = 0; iter < 1000; iter++) {
    let pgMax = -Infinity;
    let pgMin = Infinity;
    for (let i = active - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let s = 0; s < active; s++) {
      const i = order[s];
      let g = w[x.cols];
      for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) g += x.values[p] * w[x.indices[p]];
      g = g * y[i] - 1 + diag * alpha[i];
      let pg = 0;
      if (alpha[i] === 0) {
        if (g > pgMaxOld) {
          active--;
          order[s] = order[active];
          order[active] = i;
          s--;
          continue;
        }
        if (g < 0) pg = g;
      } else pg = g;
      pgMax = Math.max(pgMax, pg);
      pgMin = Math.min(pgMin, pg);
      if (Math.abs(pg) > 1e-12) {
        const old = alpha[i];
        alpha[i] = Math.max(old - g / qd[i], 0);
        const d = (alpha[i] - old) * y[i];
        for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) w[x.indices[p]] += d * x.values[p];
        w[x.cols] += d;
      }
    }
    if (pgMax - pgMin <= 0.1) {
      if (active === n) break;
      active = n;
      pgMaxOld = Infinity;
      pgMinOld = -Infinity;
      continue;
    }
    pgMaxOld = pgMax <= 0 ? Infinity : pgMax;
    pgMinOld = pgMin >= 0 ? -Infinity : pgMin;
  }
  return w;
}

/** Overlapping classes over many columns of very different frequency (most rows are not separable). */
function noisyText(n: number, cols: number, seed: number) {
  const rng = createRng(seed);
  const vectors: SparseVector[] = [];
  const y = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const ids = new Set<number>();
    // Zipf-like: low and high column numbers both common, so renumbering by use reorders them.
    while (ids.size < 12) ids.add(Math.floor(rng() ** 3 * cols) * 7919 % cols);
    const idx = Int32Array.from(ids);
    y[i] = (idx[0] + idx[1]) % 3 === 0 || rng() < 0.2 ? 1 : -1;
    vectors.push({ idx, val: Float32Array.from(idx, () => rng()) });
  }
  return { x: toCsr(vectors, cols + 5), y };
}

describe('linear SVM (dual coordinate descent)', () => {
  it('gives the same bits as the plain solver (columns renumbered by use, unused columns 0)', () => {
    const { x, y } = noisyText(400, 300, 11);
    const w = trainBinary(x, y, { C: 2, seed: 4 });
    const plain = plainDualCd(x, y, 2, 4);
    expect(Buffer.from(w.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    // The last columns are never used: their weight stays 0, the bias stays last.
    expect(Array.from(w.subarray(300, 305))).toEqual([0, 0, 0, 0, 0]);
    expect(w[305]).not.toBe(0);
  });

  it('warm-started from its own solution, starts at that solution', () => {
    const { x, y } = noisyText(400, 300, 12);
    const alphaOut = new Float64Array(x.rows);
    const cold = trainBinary(x, y, { C: 1, seed: 2, alphaOut });
    expect(alphaOut.some((a) => a > 0)).toBe(true);
    // One pass from the solution moves the weights by no more than the tolerance allows.
    const warm = trainBinary(x, y, { C: 1, seed: 2, initialAlpha: alphaOut, maxIter: 1 });
    const zero = trainBinary(x, y, { C: 1, seed: 2, maxIter: 1 });
    const gap = (w: Float64Array) => Math.max(...w.map((v, f) => Math.abs(v - cold[f])));
    expect(gap(warm)).toBeLessThan(0.02);
    expect(gap(zero)).toBeGreaterThan(0.1);
    // A start for other rows is a caller's mistake, not something to guess around.
    expect(() => trainBinary(x, y, { C: 1, initialAlpha: new Float64Array(3) })).toThrow(RangeError);
  });

  it('warm-started from the solution on more rows, needs fewer passes for nearly the same model', () => {
    const { x, y } = noisyText(600, 300, 13);
    const full = new Float64Array(x.rows);
    trainBinary(x, y, { C: 1, seed: 1, alphaOut: full });
    const rows = Array.from({ length: 480 }, (_, i) => i);
    const sub = selectRows(x, rows);
    const ys = y.subarray(0, 480);
    const passes = (initialAlpha?: Float64Array) => {
      // maxIter bounds the passes: the fewest that reach the tolerance.
      for (let maxIter = 1; ; maxIter++) {
        const w = trainBinary(sub, ys, { C: 1, seed: 3, maxIter, initialAlpha });
        const ref = trainBinary(sub, ys, { C: 1, seed: 3, maxIter: maxIter + 1, initialAlpha });
        if (w.every((v, f) => Math.abs(v - ref[f]) < 1e-12)) return { maxIter, w };
      }
    };
    const cold = passes();
    const warm = passes(full.subarray(0, 480));
    expect(warm.maxIter).toBeLessThan(cold.maxIter);
    let agree = 0;
    for (let i = 480; i < 600; i++) {
      let a = cold.w[x.cols];
      let b = warm.w[x.cols];
      for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) {
        a += x.values[p] * cold.w[x.indices[p]];
        b += x.values[p] * warm.w[x.indices[p]];
      }
      if (a > 0 === b > 0) agree++;
    }
    expect(agree).toBeGreaterThanOrEqual(114);
  });

  it('separates a separable binary problem', () => {
    const { x, labels } = clusters(90, 1);
    const y = Int8Array.from(labels, (l) => (l === 0 ? 1 : -1));
    const w = trainBinary(x, y, { C: 1 });
    let ok = 0;
    for (let i = 0; i < x.rows; i++) {
      let s = w[x.cols];
      for (let p = x.indptr[i]; p < x.indptr[i + 1]; p++) s += x.values[p] * w[x.indices[p]];
      if (Math.sign(s) === y[i]) ok++;
    }
    expect(ok).toBe(90);
  });

  it('is reproducible with the same seed', () => {
    const { x, labels } = clusters(60, 2);
    const a = trainOneVsRest(x, labels, 3, { C: 0.5, seed: 7 });
    const b = trainOneVsRest(x, labels, 3, { C: 0.5, seed: 7 });
    expect(Array.from(a.weights)).toEqual(Array.from(b.weights));
  });

  it('predicts the right class one-vs-rest', () => {
    const { x, labels } = clusters(60, 3);
    const model = trainOneVsRest(x, labels, 3, { C: 1 });
    const probe = decision(model, { idx: Int32Array.from([4, 5]), val: Float32Array.from([1.5, 1.5]) });
    expect(probe.indexOf(Math.max(...probe))).toBe(2);
  });
});
