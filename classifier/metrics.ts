/** Evaluation metrics: accuracy, per-class precision/recall/F1, macro-F1, confusion matrix. */

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvaluationReport {
  labels: string[];
  accuracy: number;
  macroF1: number;
  perClass: Record<string, ClassMetrics>;
  /** confusion[actual][predicted] */
  confusion: number[][];
  total: number;
}

/** Compares gold and predicted labels (strings; `null` counts as a wrong answer). */
export function evaluateLabels(gold: readonly string[], predicted: readonly (string | null)[], labels?: readonly string[]): EvaluationReport {
  if (gold.length !== predicted.length) throw new RangeError('gold and predicted differ in length');
  const names = labels ? [...labels] : [...new Set(gold)].sort();
  const index = new Map(names.map((l, i) => [l, i]));
  const k = names.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  const predictedCount = new Array<number>(k).fill(0);
  for (let i = 0; i < gold.length; i++) {
    const g = index.get(gold[i]);
    const p = predicted[i] === null ? undefined : index.get(predicted[i]!);
    if (gold[i] === predicted[i]) correct++;
    if (p !== undefined) predictedCount[p]++;
    if (g !== undefined && p !== undefined) confusion[g][p]++;
  }
  const perClass: Record<string, ClassMetrics> = {};
  let f1Sum = 0;
  names.forEach((name, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0) + countMissing(gold, predicted, name, index);
    const precision = predictedCount[c] ? tp / predictedCount[c] : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[name] = { precision, recall, f1, support };
    f1Sum += f1;
  });
  return { labels: names, accuracy: gold.length ? correct / gold.length : 0, macroF1: k ? f1Sum / k : 0, perClass, confusion, total: gold.length };
}

// Gold rows of a class whose prediction was null or an unknown label still count in its support.
function countMissing(gold: readonly string[], predicted: readonly (string | null)[], name: string, index: Map<string, number>): number {
  let n = 0;
  for (let i = 0; i < gold.length; i++) {
    if (gold[i] === name && (predicted[i] === null || !index.has(predicted[i]!))) n++;
  }
  return n;
}
