import { describe, expect, it } from 'vitest';
import { ModelCompatibilityError, ModelFormatError } from '../../classifier/errors.js';
import { FeatureSpace, type FeatureConfig } from '../../classifier/features.js';
import { analyze, Pipeline, trainPipeline, vectorFeatures, type TrainingExample } from '../../classifier/pipeline.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';
import { WordVectors } from '../../classifier/word-vectors.js';

// A small hand-made table: two directions, "money back" and "parcel", in two languages. With the
// character tokenizer a Han token is one character; English tokens are Porter stems.
const words = ['退', '款', '递', '包', 'refund', 'monei', 'parcel', 'courier'];
const rows = [
  [1, 0.1, 0],
  [0.9, 0, 0.1],
  [0, 1, 0],
  [0.1, 0.9, 0],
  [0.95, 0.05, 0],
  [0.8, 0, 0.2],
  [0, 0.9, 0.1],
  [0.05, 1, 0],
];
const table = WordVectors.parse(WordVectors.encode('test-3', words, rows));
const deps = { tokenizer: new CharTokenizer() };
const base: FeatureConfig = { charNgramMin: 1, charNgramMax: 2, minDf: 1, wordWeight: 1, charWeight: 1, signalWeight: 1 };

describe('word vectors', () => {
  it('round-trips through the wvec1 format within int8 precision', () => {
    expect(table.name).toBe('test-3');
    expect(table.dim).toBe(3);
    expect(table.size).toBe(words.length);
    const out = new Float32Array(3);
    expect(table.accumulate(['refund', 'nope', '款'], out)).toBe(2);
    expect(out[0]).toBeCloseTo(0.95 + 0.9, 2);
    expect(out[1]).toBeCloseTo(0.05, 2);
    expect(out[2]).toBeCloseTo(0.1, 2);
  });

  it('rejects damaged files with a format error', () => {
    const bytes = WordVectors.encode('t', ['a'], [[1, 2]]);
    expect(() => WordVectors.parse(bytes.subarray(0, bytes.length - 1))).toThrow(ModelFormatError);
    expect(() => WordVectors.parse(new TextEncoder().encode('{"format":"other"}\n'))).toThrow(ModelFormatError);
    expect(() => WordVectors.parse(new TextEncoder().encode('not json\n'))).toThrow(ModelFormatError);
  });

  it('adds a non-negative block of length `weight` for texts with known tokens, none otherwise', () => {
    const docs = ['退款', '快递', 'refund please'].map((t) => analyze(t, deps).doc);
    const plain = FeatureSpace.fit(docs, base);
    const space = FeatureSpace.fit(docs, { ...base, vectors: { name: 'test-3', dim: 3, weight: 0.5 } }, table);
    expect(space.size).toBe(plain.size + 6);
    const v = space.vectorize(analyze('refund please', deps).doc);
    const p = plain.vectorize(analyze('refund please', deps).doc);
    const block = Array.from(v.idx).map((id, j) => [id, v.val[j]]).filter(([id]) => id >= plain.size);
    expect(block.length).toBeGreaterThan(0);
    expect(block.every(([, x]) => x > 0)).toBe(true);
    expect(Math.hypot(...block.map(([, x]) => x))).toBeCloseTo(0.5, 5);
    expect(v.idx.length).toBe(p.idx.length + block.length);
    // "xyz" has no vector: the sparse part only.
    expect(space.vectorize(analyze('xyz', deps).doc).idx.length).toBe(plain.vectorize(analyze('xyz', deps).doc).idx.length);
  });

  it('refuses a feature space saved with vectors when the table is missing or another one', () => {
    const docs = ['退款', '快递'].map((t) => analyze(t, deps).doc);
    const data = FeatureSpace.fit(docs, { ...base, vectors: { name: 'test-3', dim: 3, weight: 1 } }, table).toData();
    expect(() => FeatureSpace.fromData(data)).toThrow(ModelCompatibilityError);
    const other = WordVectors.parse(WordVectors.encode('other', ['a'], [[1, 0, 0]]));
    expect(() => FeatureSpace.fromData(data, other)).toThrow(/test-3/);
    expect(() => FeatureSpace.fromData(data, table)).not.toThrow();
  });

  it('lets a model trained on Chinese words classify English words it never saw (train → serialize → load → predict)', () => {
    const examples: TrainingExample[] = [];
    for (let i = 0; i < 12; i++) {
      examples.push({ text: ['我要退款', '退款还没到', '申请退款', '款退了吗'][i % 4], labels: { topic: 'refund' } });
      examples.push({ text: ['快递到哪了', '包裹没到', '快递太慢', '包裹丢了'][i % 4], labels: { topic: 'delivery' } });
    }
    const head = { name: 'topic', labels: ['refund', 'delivery'] };
    const withVectors = { ...deps, vectors: table };
    const features = { ...base, ...vectorFeatures(withVectors, 1) };
    expect(trainPipeline(examples, [head], withVectors, { seed: 1, features: base, fixedC: { topic: 1 } }).features.config.vectors).toBeUndefined();
    const artifact = trainPipeline(examples, [head], withVectors, { seed: 1, features, fixedC: { topic: 1 } });
    expect(artifact.features.config.vectors).toEqual({ name: 'test-3', dim: 3, weight: 1 });
    const saved = JSON.parse(JSON.stringify(artifact)) as unknown;
    expect(() => Pipeline.load(saved, deps)).toThrow(ModelCompatibilityError);
    const pipeline = Pipeline.load(saved, withVectors);
    const label = (t: string) => pipeline.scoreHead(pipeline.analyze(t), 'topic', 'svm').label;
    expect(label('money refund')).toBe('refund');
    expect(label('courier parcel')).toBe('delivery');
    // Same bytes from the same inputs and seed.
    expect(JSON.stringify(trainPipeline(examples, [head], withVectors, { seed: 1, features, fixedC: { topic: 1 }, now: () => new Date(artifact.createdAt) }))).toBe(JSON.stringify(artifact));
  });
});
