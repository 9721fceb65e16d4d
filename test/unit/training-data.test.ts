import { describe, expect, it } from 'vitest';
import type { CorpusRow } from '../../classifier/demand-classifier.js';
import type { Taxonomy } from '../../classifier/taxonomy.js';
import { mergeCorrections, mergeKeywordOverrides, type CorrectionRow } from '../../trainer/training-data.js';

const taxonomy = {
  version: '1.0.0',
  topics: [
    { id: 'delivery', name: { zh: '物流', en: 'Delivery' }, scope: '' },
    { id: 'billing', name: { zh: '价格', en: 'Billing' }, scope: '' },
  ],
  types: [],
  boundaries: [],
} as unknown as Taxonomy;

const corpus: CorpusRow[] = [
  { text: '快递三天没到', topic: 'delivery', type: 'complaint', spam: false },
  { text: '運費怎麼這麼貴', topic: 'delivery', type: 'complaint', spam: false },
  { text: '加V信 日赚500', topic: null, type: null, spam: true },
  { text: '发票开错了', topic: 'billing', type: 'complaint', spam: false },
];
const correction = (n: number, text: string, topic: string | null, type: string | null = 'complaint'): CorrectionRow => ({ ticketNumber: `T20261125-000${n}`, text, topic, type });

describe('mergeCorrections', () => {
  it('replaces corpus rows with the same normalised text, newest correction first, and keeps the rest', () => {
    const r = mergeCorrections(
      corpus,
      [
        correction(1, '运费怎么这么贵', 'billing'), // same text as a corpus row once traditional → simplified
        correction(2, '運費怎麼這麼貴', 'delivery'), // older correction of the same text: the newest wins
        correction(3, '加V信 日赚500', 'billing', null), // staff say it is a real message
        correction(4, '全新的问题', 'billing', 'inquiry'),
      ],
      taxonomy,
    );
    expect(r).toMatchObject({ corpusRows: 2, corrections: 3, correctionsSkipped: 1, replacedCorpusRows: 2 });
    expect(r.rows).toEqual([
      corpus[0],
      corpus[3],
      { text: '运费怎么这么贵', topic: 'billing', type: 'complaint', spam: false, real: true, correction: true },
      { text: '加V信 日赚500', topic: 'billing', type: null, spam: false, real: true, correction: true },
      { text: '全新的问题', topic: 'billing', type: 'inquiry', spam: false, real: true, correction: true },
    ]);
  });

  it("staff's spam decision trains the spam head: spam alone, or a genuine message", () => {
    const r = mergeCorrections(corpus, [{ ticketNumber: 'T1', text: '加V信 日赚500', topic: null, type: null, spam: true }, { ticketNumber: 'T2', text: '信用卡年费被扣了两次', topic: null, type: null, spam: false }], taxonomy);
    expect(r.corrections).toBe(2);
    expect(r.rows.slice(-2)).toEqual([
      { text: '加V信 日赚500', topic: null, type: null, spam: true, real: true, correction: true },
      { text: '信用卡年费被扣了两次', topic: null, type: null, spam: false, real: true, correction: true },
    ]);
  });

  it('skips corrections whose labels the taxonomy does not know', () => {
    const r = mergeCorrections(corpus, [correction(1, '快递三天没到', 'retired-topic'), correction(2, '别的', 'billing', 'rant'), correction(3, '空的', null, null)], taxonomy);
    expect(r).toMatchObject({ corrections: 0, correctionsSkipped: 3, replacedCorpusRows: 0 });
    expect(r.rows).toEqual(corpus);
  });

  it('a staff spam decision trains the spam head only; "not spam" without labels still trains it as not spam', () => {
    const r = mergeCorrections(
      corpus,
      [
        { ...correction(1, '快递三天没到', 'delivery'), spam: true }, // staff say this text is spam: replaces the corpus row
        { ...correction(2, '领取优惠券', null, null), spam: false }, // flagged as spam by the model, staff say it is not
        { ...correction(3, '没有标签', null, null) }, // neither labels nor a spam decision: nothing to learn
      ],
      taxonomy,
    );
    expect(r).toMatchObject({ corrections: 2, correctionsSkipped: 1, replacedCorpusRows: 1 });
    expect(r.rows).toEqual([...corpus.slice(1), { text: '快递三天没到', topic: null, type: null, spam: true, real: true, correction: true }, { text: '领取优惠券', topic: null, type: null, spam: false, real: true, correction: true }]);
  });
});

describe('mergeKeywordOverrides', () => {
  const file = { topic: { delivery: { set: { 快递: 2 } }, billing: { pin: ['发票'] } }, type: {}, spam: {} };

  it('returns the file overrides unchanged without database edits (so the data hash stays the same)', () => {
    expect(JSON.stringify(mergeKeywordOverrides(file, {}))).toBe(JSON.stringify(file));
  });

  it('replaces a topic with its database edits as a whole, in a stable order', () => {
    const merged = mergeKeywordOverrides(file, { returns: { remove: ['退'] }, delivery: { set: { 物流: 3 }, pin: [], remove: [] } });
    expect(merged.topic).toEqual({ delivery: { set: { 物流: 3 }, pin: [], remove: [] }, billing: { pin: ['发票'] }, returns: { remove: ['退'] } });
    expect(merged.type).toBe(file.type);
    expect(JSON.stringify(mergeKeywordOverrides(file, { delivery: { pin: [] }, returns: {} }))).toBe(JSON.stringify(mergeKeywordOverrides(file, { returns: {}, delivery: { pin: [] } })));
  });
});
