/** Seeded pseudo-random numbers, so training with the same seed is reproducible. */

/** mulberry32: small, fast, good enough for shuffling and fold assignment. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace<T>(items: T[] | Int32Array, rng: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
}

/**
 * Stratified fold assignment: each class is spread evenly over the folds.
 * Returns the fold number (0..k-1) of every row.
 */
export function stratifiedFolds(labels: ArrayLike<number>, k: number, rng: () => number): Int32Array {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const folds = new Int32Array(labels.length);
  let offset = 0;
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(cls)!;
    shuffleInPlace(rows, rng);
    rows.forEach((row, i) => {
      folds[row] = (i + offset) % k;
    });
    offset += rows.length;
  }
  return folds;
}
