import { describe, expect, it } from 'vitest';
import { decision, trainBinary, trainOneVsRest } from '../../classifier/models/linear-svm.js';
import { createRng } from '../../classifier/random.js';
import { toCsr, type SparseVector } from '../../classifier/sparse.js';

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

describe('linear SVM (dual coordinate descent)', () => {
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
