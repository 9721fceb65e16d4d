import { beforeAll, describe, expect, it } from 'vitest';
import { corpusToExamples, DemandClassifier, trainDemandModel, type CorpusRow } from '../../classifier/demand-classifier.js';
import { InputTooLongError, InvalidInputError, ModelCompatibilityError, ModelFormatError } from '../../classifier/errors.js';
import { Pipeline, type ModelArtifact } from '../../classifier/pipeline.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';
import { loadCorpus, loadTaxonomy } from '../../runtime/project-data.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { join } from 'node:path';

// The shipped corpus is the fixed data set; a character tokenizer keeps the unit test independent of jieba.
const dataDir = join(PROJECT_ROOT, 'data');
const taxonomy = loadTaxonomy(dataDir);
const rows: CorpusRow[] = loadCorpus(join(dataDir, 'corpus'), taxonomy);
const train = rows.filter((_, i) => i % 5 !== 0);
const test = rows.filter((_, i) => i % 5 === 0);
const deps = { tokenizer: new CharTokenizer() };
const fixedNow = () => new Date('2026-01-01T00:00:00Z');

let artifact: ModelArtifact;
let classifier: DemandClassifier;

beforeAll(() => {
  artifact = trainDemandModel(train, taxonomy, deps, { seed: 3, now: fixedNow });
  // Round trip through JSON text, as a saved file would.
  classifier = DemandClassifier.load(JSON.parse(JSON.stringify(artifact)), deps, taxonomy);
});

describe('demand model: train → serialize → load → predict', () => {
  it('records its identity', () => {
    expect(artifact).toMatchObject({ formatVersion: 1, taxonomyVersion: taxonomy.version, seed: 3, tokenizer: 'char', trainingRows: train.length });
    expect(artifact.trainingDataHash).toMatch(/^[0-9a-f]{64}$/);
    expect(classifier.version).toBe(artifact.version);
  });

  it('reaches minimum accuracy on held-out rows of the fixed corpus', () => {
    const normal = test.filter((r) => !r.spam && r.topic);
    const topicOk = normal.filter((r) => classifier.classify(r.text).topic === r.topic).length / normal.length;
    const typeOk = normal.filter((r) => classifier.classify(r.text).type === r.type).length / normal.length;
    const spamOk = test.filter((r) => classifier.classify(r.text).spam === Boolean(r.spam)).length / test.length;
    expect(topicOk).toBeGreaterThan(0.7);
    expect(typeOk).toBeGreaterThan(0.75);
    expect(spamOk).toBeGreaterThan(0.93);
  });

  it('explains predictions: alternatives, matched keywords, confidence in [0, 1]', () => {
    const r = classifier.classify('快递三天了还没到，物流一直不更新');
    expect(r.topic).toBe('delivery');
    expect(r.alternatives).toHaveLength(3);
    expect(r.alternatives[0].topic).toBe(r.topic);
    expect(r.alternatives[0].score).toBeGreaterThanOrEqual(r.alternatives[1].score);
    expect(r.keywords.length).toBeGreaterThan(0);
    expect(r.confidence).toBeGreaterThan(0);
    expect(r.confidence).toBeLessThanOrEqual(1);
  });

  it('flags spam and gives it no topic', () => {
    const r = classifier.classify('【兼职】日赚500，加V信 abc123 详聊 http://xx123.cc');
    expect(r.spam).toBe(true);
    expect(r.topic).toBeNull();
  });

  it('is reproducible: the same data and seed give the same artifact', () => {
    const again = trainDemandModel(train, taxonomy, deps, { seed: 3, now: fixedNow });
    expect(JSON.stringify(again)).toBe(JSON.stringify(artifact));
  });

  it('the data hash changes with the data', () => {
    const other = corpusToExamples(train.slice(1));
    expect(other.length).toBe(train.length - 1);
    const changed = trainDemandModel(train.slice(1), taxonomy, deps, { seed: 3, now: fixedNow });
    expect(changed.trainingDataHash).not.toBe(artifact.trainingDataHash);
  });
});

describe('staff corrections in training', () => {
  // A smaller set with C fixed keeps these trainings short. The corrections contradict the corpus:
  // staff file "package not delivered" messages of this deployment under billing (say, a paid
  // delivery plan), where the corpus's many delivery rows pull the other way.
  const small = train.filter((_, i) => i % 4 === 0);
  const fixedC = { topic: 1, type: 1, spam: 1, act: 1 };
  const contradicting = ['快递三天了还没送到', '我的包裹一直没送到', '快递好几天都没到'];
  const corrections: CorpusRow[] = contradicting.map((text) => ({ text, topic: 'billing', type: 'complaint', spam: false, real: true, correction: true }));
  const probe = '快递三天还没送到';
  // The SVM alone (softmax of its raw scores): the calibrated ensemble saturates near 1 either way.
  const billingProb = (a: ModelArtifact) => {
    const p = Pipeline.load(JSON.parse(JSON.stringify(a)), deps);
    return p.scoreHead(p.analyze(probe), 'topic', 'svm').ranked.find((x) => x.label === 'billing')!.score;
  };

  it('leave a model trained without corrections byte for byte as it was, whatever the correction options', () => {
    const plain = trainDemandModel(small, taxonomy, deps, { seed: 3, now: fixedNow, fixedC });
    const withOptions = trainDemandModel(small, taxonomy, deps, { seed: 3, now: fixedNow, fixedC, correctionWeight: 30, calibrateOnCorrections: ['topic', 'type'] });
    expect(JSON.stringify(withOptions)).toBe(JSON.stringify(plain));
  });

  it('weigh correctionWeight: heavier corrections pull their words harder towards their label', () => {
    const light = trainDemandModel([...small, ...corrections], taxonomy, deps, { seed: 3, now: fixedNow, fixedC, correctionWeight: 1 });
    const heavy = trainDemandModel([...small, ...corrections], taxonomy, deps, { seed: 3, now: fixedNow, fixedC, correctionWeight: 30 });
    expect(heavy.trainingDataHash).not.toBe(light.trainingDataHash);
    expect(billingProb(heavy)).toBeGreaterThan(billingProb(light) + 0.05);
  });
});

describe('model artifacts are checked on load', () => {
  const clone = () => JSON.parse(JSON.stringify(artifact)) as ModelArtifact;
  it.each([
    ['another format version', (a: ModelArtifact) => ({ ...a, formatVersion: 99 }), ModelCompatibilityError],
    ['another engine major', (a: ModelArtifact) => ({ ...a, engineVersion: '2.0.0' }), ModelCompatibilityError],
    ['another taxonomy', (a: ModelArtifact) => ({ ...a, taxonomyVersion: '9.9.9' }), ModelCompatibilityError],
    ['a missing head', (a: ModelArtifact) => ({ ...a, heads: { topic: a.heads.topic } }), ModelCompatibilityError],
    ['truncated weights', (a: ModelArtifact) => ({ ...a, heads: { ...a.heads, topic: { ...a.heads.topic, svm: { ...a.heads.topic.svm, weights: a.heads.topic.svm.weights.slice(0, 100) } } } }), ModelFormatError],
    ['damaged feature table', (a: ModelArtifact) => ({ ...a, features: { ...a.features, idf: 'AAAA' } }), ModelFormatError],
    ['no identity', () => ({ formatVersion: 1, engineVersion: '1.0.0' }), ModelFormatError],
    ['not an object', () => 'model', ModelFormatError],
  ])('refuses %s with a typed error', (_, mutate, errorClass) => {
    expect(() => DemandClassifier.load(mutate(clone()), deps, taxonomy)).toThrow(errorClass);
  });

  it('refuses a model trained with another tokenizer', () => {
    expect(() => Pipeline.load(clone(), { tokenizer: { name: 'whitespace', cut: (t: string) => t.split(' ') } })).toThrow(ModelCompatibilityError);
  });
});

describe('bad input never crashes', () => {
  it.each([
    ['empty', '', 'empty'],
    ['whitespace', '   \n\t ', 'empty'],
    ['emoji only', '😡😡😡🙏', 'no-text'],
    ['punctuation only', '？？？！！！。。。', 'no-text'],
    ['control characters', '\u0000\u0001\u0002', 'empty'],
  ])('%s → topic null, needs review, with a reason', (_, text, reason) => {
    const r = classifier.classify(text);
    expect(r.topic).toBeNull();
    expect(r.needsReview).toBe(true);
    expect(r.reason).toBe(reason);
  });

  it('handles lone surrogates and mixed garbage', () => {
    const r = classifier.classify('快递\ud800没到\udfff');
    expect(r.normalized).toContain('\ufffd');
    expect(r.topic).not.toBeNull();
  });

  it('sends other scripts to review', () => {
    const r = classifier.classify('Здравствуйте, где мой заказ? Уже неделя прошла');
    expect(r.lang).toBe('other');
    expect(r.needsReview || r.spam).toBe(true);
  });

  it('rejects text over the maximum length with a message, never cuts it', () => {
    const long = '快递'.repeat(50_000); // 100 KB of text
    expect(() => classifier.classify(long)).toThrow(InputTooLongError);
    expect(() => classifier.classify(long)).toThrow(/100000 characters; the maximum is 2000/);
  });

  it('classifies 100 KB of text when the limit allows it', () => {
    const big = DemandClassifier.load(artifact, deps, taxonomy, { maxLength: 200_000 });
    const r = big.classify('我的快递丢了，'.repeat(15_000));
    expect(r.topic).toBe('delivery');
  });

  it('rejects non-strings with a typed error', () => {
    expect(() => classifier.classify(42)).toThrow(InvalidInputError);
    expect(() => classifier.classify(null)).toThrow(InvalidInputError);
  });
});
