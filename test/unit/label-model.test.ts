import { describe, expect, it } from 'vitest';
import { FeatureSpace } from '../../classifier/features.js';
import { KeywordModel, trainKeywordModel } from '../../classifier/models/keyword.js';
import { ModelFormatError } from '../../classifier/errors.js';
import { LabelModel, trainLabelModel } from '../../classifier/models/label-model.js';
import { analyze } from '../../classifier/pipeline.js';
import { toCsr } from '../../classifier/sparse.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';

// A fixed toy corpus: two topics, ten examples each, plus held-out probes.
const rows: [string, string][] = [
  ['快递三天还没到', 'delivery'], ['物流一直不更新', 'delivery'], ['快递员把包裹扔在门口', 'delivery'], ['派送太慢了', 'delivery'],
  ['包裹丢了找不到', 'delivery'], ['送货地址写错了', 'delivery'], ['快递什么时候到', 'delivery'], ['物流停在中转站', 'delivery'],
  ['快递被别人签收了', 'delivery'], ['配送员态度很差还不送上楼', 'delivery'],
  ['退款还没到账', 'returns'], ['申请退货被拒绝', 'returns'], ['退款金额不对少了', 'returns'], ['换货流程太复杂', 'returns'],
  ['退货运费谁出', 'returns'], ['七天无理由退货可以吗', 'returns'], ['退款一直在审核', 'returns'], ['寄回去的东西商家说没收到退款', 'returns'],
  ['想换个尺码怎么换', 'returns'], ['退款退到哪里了', 'returns'],
];
const deps = { tokenizer: new CharTokenizer() };
const docs = rows.map(([t]) => analyze(t, deps).doc);
const labels = rows.map(([, l]) => l);
const space = FeatureSpace.fit(docs, { charNgramMin: 1, charNgramMax: 2, minDf: 1, wordWeight: 1, charWeight: 1, signalWeight: 1 });
const x = toCsr(docs.map((d) => space.vectorize(d)), space.size);

describe('keyword model round trip', () => {
  it('serialises to JSON and predicts the same after loading', () => {
    const data = trainKeywordModel(docs.map((d) => d.tokens), labels, ['delivery', 'returns'], { minCount: 1 });
    const loaded = new KeywordModel(JSON.parse(JSON.stringify(data)));
    const original = new KeywordModel(data);
    const probe = analyze('退款怎么还没有到账', deps).tokens;
    expect(Array.from(loaded.predict(probe).scores)).toEqual(Array.from(original.predict(probe).scores));
    const s = loaded.predict(probe).scores;
    expect(s[1]).toBeGreaterThan(s[0]);
  });
});

describe('label model (SVM + keywords + calibration) round trip', () => {
  const data = trainLabelModel(x, docs.map((d) => d.tokens), labels, ['delivery', 'returns'], { seed: 5, folds: 2, cGrid: [1] });
  const model = new LabelModel(JSON.parse(JSON.stringify(data)));

  it('predicts held-out probes correctly with probabilities that sum to 1', () => {
    for (const [text, label] of [['我的快递到哪了', 'delivery'], ['退款什么时候退回来', 'returns']]) {
      const a = analyze(text, deps);
      const p = model.predict(space.vectorize(a.doc), a.tokens);
      expect(model.labels[p.best]).toBe(label);
      expect(p.probs.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 10);
    }
  });

  it('records out-of-fold metrics and a review threshold', () => {
    expect(data.metrics.rows).toBe(rows.length);
    expect(data.metrics.cvAccuracySvm).toBeGreaterThan(0.5);
    expect(data.ensemble.threshold).toBeGreaterThan(0);
    expect(data.ensemble.threshold).toBeLessThanOrEqual(1);
    expect(data.ensemble.temperature).toBeGreaterThan(0);
  });

  it('is reproducible with the same seed', () => {
    const again = trainLabelModel(x, docs.map((d) => d.tokens), labels, ['delivery', 'returns'], { seed: 5, folds: 2, cGrid: [1] });
    expect(JSON.stringify(again)).toBe(JSON.stringify(data));
  });
});

describe('ensemble calibration', () => {
  const train = (calibration?: 'stack' | 'temperature', labelBias?: boolean) =>
    trainLabelModel(x, docs.map((d) => d.tokens), labels, ['delivery', 'returns'], { seed: 5, folds: 2, cGrid: [1], calibration, labelBias });

  it('stacks SVM and keyword scores with a per-label bias by default', () => {
    const data = train();
    expect(data.ensemble.bias).toHaveLength(2);
    expect(data.ensemble.bias!.every(Number.isFinite)).toBe(true);
    expect(data.ensemble.temperature).toBeGreaterThan(0);
    expect(data.ensemble.keywordWeight).toBeGreaterThanOrEqual(0);
  });

  it('fits no bias without labelBias, and keeps the plain temperature calibration on request', () => {
    const noBias = train('stack', false);
    expect(noBias.ensemble.bias).toBeUndefined();
    expect(noBias.ensemble.temperature).toBeGreaterThan(0);
    expect(train('temperature').ensemble.bias).toBeUndefined();
  });

  it('loads artifacts without a bias and refuses a malformed one', () => {
    const data = train();
    const a = analyze('退款什么时候退回来', deps);
    const v = space.vectorize(a.doc);
    const { bias: _, ...withoutBias } = data.ensemble;
    const old = new LabelModel({ ...data, ensemble: withoutBias });
    expect(old.predict(v, a.tokens).probs.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 10);
    expect(() => new LabelModel({ ...data, ensemble: { ...data.ensemble, bias: [0] } })).toThrow(ModelFormatError);
    expect(() => new LabelModel({ ...data, ensemble: { ...data.ensemble, bias: [0, Number.NaN] } })).toThrow(ModelFormatError);
  });
});

describe('label bias refitted on the threshold rows (biasOnThresholdRows)', () => {
  // 120 rows (each toy row with six endings) so that 100 can be marked as real; the marked rows
  // hold all 60 returns rows but only 40 delivery rows: a label mix unlike the whole set's.
  const endings = ['', '。', '啊', '呢', '吧', '呀'];
  const big = endings.flatMap((e) => rows.map(([t, l]) => [t + e, l] as [string, string]));
  const bigDocs = big.map(([t]) => analyze(t, deps).doc);
  const bigLabels = big.map(([, l]) => l);
  const bigSpace = FeatureSpace.fit(bigDocs, { charNgramMin: 1, charNgramMax: 2, minDf: 1, wordWeight: 1, charWeight: 1, signalWeight: 1 });
  const bigX = toCsr(bigDocs.map((d) => bigSpace.vectorize(d)), bigSpace.size);
  let deliveries = 0;
  const marked = bigLabels.map((l) => l === 'returns' || deliveries++ < 40);
  const train = (extra: { biasOnThresholdRows?: boolean; thresholdOnThresholdRows?: boolean; thresholdRows?: boolean[] }) =>
    trainLabelModel(bigX, bigDocs.map((d) => d.tokens), bigLabels, ['delivery', 'returns'], { seed: 5, folds: 2, cGrid: [1], thresholdRows: marked, ...extra });

  it('moves only the bias, towards the marked rows\' label mix', () => {
    const plain = train({});
    const refit = train({ biasOnThresholdRows: true });
    expect(refit.ensemble.keywordWeight).toBe(plain.ensemble.keywordWeight);
    expect(refit.ensemble.temperature).toBe(plain.ensemble.temperature);
    expect(refit.svm.weights).toBe(plain.svm.weights);
    const lean = (b: number[] | undefined) => b![1] - b![0];
    expect(lean(refit.ensemble.bias)).toBeGreaterThan(lean(plain.ensemble.bias));
  });

  it('changes nothing with fewer than MIN_THRESHOLD_ROWS marked rows', () => {
    const few = bigLabels.map((_, i) => i < 50);
    expect(JSON.stringify(train({ biasOnThresholdRows: true, thresholdRows: few }))).toBe(JSON.stringify(train({ thresholdRows: few })));
  });
});
