import { describe, expect, it } from 'vitest';
import type { Classification } from '../../classifier/demand-classifier.js';
import { InputTooLongError } from '../../classifier/errors.js';
import type { Taxonomy } from '../../classifier/taxonomy.js';
import { compareEvaluations, evaluateModel, evaluationRows, type EvaluationRow } from '../../trainer/evaluation.js';

const taxonomy = {
  version: '1.0.0',
  topics: ['delivery', 'billing'].map((id) => ({ id, name: { zh: id, en: id }, scope: '' })),
  types: [],
  boundaries: [],
} as unknown as Taxonomy;

/** A model given as a table: text → its answer (the evaluation is what is tested). */
function tableModel(version: string, answers: Record<string, Partial<Classification> | 'too-long'>) {
  return {
    version,
    pipeline: { head: () => ({ threshold: 0.6 }) } as never,
    classify(text: unknown): Classification {
      const a = answers[text as string];
      if (a === 'too-long') throw new InputTooLongError(3000, 2000);
      return { topic: null, type: null, spam: false, needsReview: false, ...a } as Classification;
    },
  };
}

const rows: EvaluationRow[] = [
  { text: 'd1', topic: 'delivery', type: 'complaint', spam: false, source: 'holdout' },
  { text: 'd2', topic: 'delivery', type: 'inquiry', spam: false, source: 'holdout' },
  { text: 'b1', topic: 'billing', type: 'complaint', spam: false, source: 'holdout' },
  { text: 's1', topic: null, type: null, spam: true, source: 'holdout' },
  { text: 'c1', topic: 'billing', type: 'complaint', spam: false, source: 'correction' },
];

describe('evaluateModel', () => {
  it('scores topic and type, spam recall, review rate at the model threshold, and topic accuracy per source', async () => {
    const model = tableModel('v1', {
      d1: { topic: 'delivery', type: 'complaint' },
      d2: { topic: 'billing', type: 'inquiry', needsReview: true },
      b1: { topic: 'billing', type: 'complaint' },
      s1: { spam: true },
      c1: 'too-long', // refused input counts as wrong, not as a failed evaluation
    });
    const e = await evaluateModel(model, rows, taxonomy, 2);
    expect(e.version).toBe('v1');
    expect(e.rows).toEqual({ total: 5, holdout: 4, corrections: 1 });
    expect(e.topic.accuracy).toBe(0.5);
    expect(e.topic.confusion).toEqual([[1, 1], [0, 1]]);
    expect(e.topic.perClass.billing).toMatchObject({ precision: 0.5, recall: 0.5, support: 2 });
    expect(e.type.accuracy).toBe(0.75);
    expect(e.spam).toEqual({ rows: 1, recall: 1, normalFlagged: 0 });
    expect(e.reviewRate).toBe(0.5); // d2 (low confidence) and c1 (refused) of 4 normal rows
    expect(e.accuracyNotReviewed).toBe(1);
    expect(e.threshold).toBe(0.6);
    expect(e.topicAccuracyBySource).toEqual({ holdout: 2 / 3, corrections: 0 });
  });

  it('compares two versions with b − a', async () => {
    const a = await evaluateModel(tableModel('a', { d1: { topic: 'billing' } }), rows.slice(0, 1), taxonomy);
    const b = await evaluateModel(tableModel('b', { d1: { topic: 'delivery' } }), rows.slice(0, 1), taxonomy);
    const c = compareEvaluations(a, b);
    expect(c.delta).toMatchObject({ topicAccuracy: 1, perTopicF1: { delivery: 1, billing: 0 } });
    expect(c.a.version).toBe('a');
  });
});

describe('evaluationRows', () => {
  it('takes every held-out row and the newest corrections whose topic the taxonomy knows', () => {
    const r = evaluationRows(
      [{ text: 'h', topic: null, type: null, spam: true }],
      [
        { ticketNumber: 'T1', text: 'new', topic: 'billing', type: null },
        { ticketNumber: 'T2', text: 'gone', topic: 'retired', type: null },
        { ticketNumber: 'T3', text: 'older', topic: 'delivery', type: 'complaint' },
        { ticketNumber: 'T4', text: 'oldest', topic: 'delivery', type: 'complaint' },
      ],
      taxonomy,
      2,
    );
    expect(r.map((x) => [x.text, x.source, x.spam])).toEqual([
      ['h', 'holdout', true],
      ['new', 'correction', false],
      ['older', 'correction', false],
    ]);
  });
});
