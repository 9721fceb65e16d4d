import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_CONFIG, FeatureSpace, type FeatureConfig } from '../../classifier/features.js';
import { analyze } from '../../classifier/pipeline.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';

const deps = { tokenizer: new CharTokenizer() };
const texts = ['快递三天还没到', '物流一直不更新', '退款还没到账', '申请退货被拒绝', '退款', '这家店的客服回复很慢，问了三次都没有人理我，希望尽快处理退款问题'];
const docs = texts.map((t) => analyze(t, deps).doc);
const base: FeatureConfig = { charNgramMin: 1, charNgramMax: 2, minDf: 1, wordWeight: 1, charWeight: 1, signalWeight: 1 };

describe('feature space', () => {
  it('marks the start and end of the text in character n-grams when asked', () => {
    const plain = FeatureSpace.fit(docs, base);
    const marked = FeatureSpace.fit(docs, { ...base, boundary: true });
    // One start and one end bigram per text, some shared (退款 starts two texts).
    expect(marked.size).toBeGreaterThan(plain.size);
    const v = (s: FeatureSpace, t: string) => s.vectorize(analyze(t, deps).doc).idx.length;
    expect(v(marked, '退款')).toBe(v(plain, '退款') + 2);
  });

  it('adds one length-bucket signal per text', () => {
    const space = FeatureSpace.fit(docs, { ...base, lengthBuckets: [5, 10, 20] });
    expect(space.signals.filter((s) => s.startsWith('len:')).sort()).toEqual(['len:0', 'len:1', 'len:3']);
    const short = space.vectorize(analyze('退款', deps).doc);
    const id = space.signals.indexOf('len:0') + space.size - space.signals.length;
    expect(Array.from(short.idx)).toContain(id);
  });

  it('reads artifacts saved before boundary markers and length buckets as having neither', () => {
    const plain = FeatureSpace.fit(docs, base);
    const old = FeatureSpace.fromData(JSON.parse(JSON.stringify(plain.toData())));
    for (const d of docs) expect(Array.from(old.vectorize(d).val)).toEqual(Array.from(plain.vectorize(d).val));
  });

  it('uses boundary markers, length buckets and a lighter word block by default', () => {
    expect(DEFAULT_FEATURE_CONFIG.boundary).toBe(true);
    expect(DEFAULT_FEATURE_CONFIG.lengthBuckets?.length).toBeGreaterThan(0);
    expect(DEFAULT_FEATURE_CONFIG.wordWeight).toBeLessThan(DEFAULT_FEATURE_CONFIG.charWeight);
  });

  describe('Latin n-grams and word pairs', () => {
    const en = ['my refund never came', 'refund please', 'lost bag at the gate', 'bag lost again', '退款没到 refund'];
    const enDocs = en.map((t) => analyze(t, deps).doc);
    const count = (s: FeatureSpace, t: string) => s.vectorize(analyze(t, deps).doc).idx.length;

    it('adds longer n-grams inside Latin runs only: Chinese text gets none', () => {
      const plain = FeatureSpace.fit([...docs, ...enDocs], base);
      const latin = FeatureSpace.fit([...docs, ...enDocs], { ...base, latinNgramMax: 4 });
      // "refund" with bigrams at most: 3-grams ref efu fun und and 4-grams refu efun fund on top.
      expect(count(latin, 'refund') - count(plain, 'refund')).toBe(7);
      for (const t of texts) expect(count(latin, t), t).toBe(count(plain, t));
      // In mixed text only the Latin run (with the space before it) gets them: " re", " ref" too.
      expect(count(latin, '退款没到 refund') - count(plain, '退款没到 refund')).toBe(9);
    });

    it('counts adjacent English words as one more word feature', () => {
      const plain = FeatureSpace.fit(enDocs, base);
      const pairs = FeatureSpace.fit(enDocs, { ...base, latinBigrams: true });
      expect(pairs.words).toContain('lost bag');
      expect(plain.words).not.toContain('lost bag');
      expect(count(pairs, 'lost bag') - count(plain, 'lost bag')).toBe(1);
      // No pairs of Chinese words.
      for (const t of texts) expect(count(pairs, t), t).toBe(count(plain, t));
    });

    it('round-trips through the artifact and scores the same', () => {
      const space = FeatureSpace.fit(enDocs, { ...base, latinNgramMax: 5, latinBigrams: true });
      const again = FeatureSpace.fromData(JSON.parse(JSON.stringify(space.toData())));
      for (const d of enDocs) expect(again.vectorize(d)).toEqual(space.vectorize(d));
    });
  });
});
