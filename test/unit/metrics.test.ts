import { describe, expect, it } from 'vitest';
import { evaluateLabels } from '../../classifier/metrics.js';

describe('evaluateLabels', () => {
  it('computes accuracy, per-class scores, macro-F1 and the confusion matrix', () => {
    const r = evaluateLabels(['a', 'a', 'b', 'b'], ['a', 'b', 'b', null], ['a', 'b']);
    expect(r.accuracy).toBe(0.5);
    expect(r.perClass.a).toMatchObject({ precision: 1, recall: 0.5, support: 2 });
    expect(r.perClass.b.precision).toBe(0.5);
    expect(r.perClass.b.recall).toBe(0.5);
    expect(r.confusion).toEqual([[1, 1], [0, 1]]);
    expect(r.macroF1).toBeCloseTo((2 / 3 + 0.5) / 2, 10);
  });
});
