import { describe, expect, it } from 'vitest';
import { suggestKeywords } from '../../trainer/keyword-suggestions.js';

// Terms = space-separated words, so the counting rules are visible in the test data.
const terms = (text: string) => text.split(' ');

describe('suggestKeywords', () => {
  const sources = [
    { number: 'T1', text: '鸿蒙 手表 手表', topic: 'technical' },
    { number: 'T2', text: '鸿蒙 蓝牙', topic: 'technical' },
    { number: 'T3', text: '鸿蒙 手表', topic: 'product' },
    { number: 'T4', text: '鸿蒙 蓝牙', topic: null },
    { number: 'T5', text: '蓝牙', topic: 'product' },
  ];

  it('counts each term once per message, drops known keywords and rare terms, most frequent first', () => {
    expect(suggestKeywords(sources, terms, new Set(['蓝牙']), { minCount: 2 })).toEqual([
      { term: '鸿蒙', count: 4, examples: ['T1', 'T2', 'T3'], topic: 'technical' },
      { term: '手表', count: 2, examples: ['T1', 'T3'], topic: 'product' }, // tie → alphabetical topic
    ]);
  });

  it('honours minCount and limit', () => {
    expect(suggestKeywords(sources, terms, new Set(), { minCount: 3 }).map((s) => s.term)).toEqual(['鸿蒙', '蓝牙']);
    expect(suggestKeywords(sources, terms, new Set(), { minCount: 1, limit: 1 }).map((s) => s.term)).toEqual(['鸿蒙']);
    expect(suggestKeywords(sources.slice(3, 4), terms, new Set(), { minCount: 1 })[0].topic).toBeNull();
  });
});
