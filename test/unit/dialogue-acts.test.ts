import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DemandClassifier, HEAD_ACT, trainDemandModel, type CorpusRow } from '../../classifier/demand-classifier.js';
import { DIALOGUE_ACTS, type DialogueAct } from '../../classifier/dialogue-acts.js';
import { Pipeline, type ModelArtifact } from '../../classifier/pipeline.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { loadCorpus, loadTaxonomy } from '../../runtime/project-data.js';
import { loadActs } from '../../runtime/training-sources.js';

/**
 * The dialogue-act head: trained from data/acts plus corpus rows (every topic row is a demand),
 * serialised, loaded and scored on a fixed set of messages written for this test (none of them
 * is a training row), in zh-Hans, zh-Hant and English. A character tokenizer keeps it free of jieba;
 * a quarter of the corpus keeps it fast.
 */
const dataDir = join(PROJECT_ROOT, 'data');
const taxonomy = loadTaxonomy(dataDir);
const acts = loadActs(dataDir);
const corpus: CorpusRow[] = loadCorpus(join(dataDir, 'corpus'), taxonomy).filter((_, i) => i % 4 === 0);
const deps = { tokenizer: new CharTokenizer() };

const fixed: [string, DialogueAct][] = [
  ['你好啊', 'greeting'],
  ['您好，在吗？', 'greeting'],
  ['請問在嗎', 'greeting'],
  ['hello there', 'greeting'],
  ['hi, is anybody there', 'greeting'],
  ['好的，非常感谢你', 'thanks'],
  ['多謝你幫忙', 'thanks'],
  ['thank you for the help', 'thanks'],
  ['那就这样，再见啦', 'goodbye'],
  ['bye, have a good day', 'goodbye'],
  ['我要转人工', 'human'],
  ['給我轉人工客服', 'human'],
  ['can I talk to a real human', 'human'],
  ['你好，我要找人工客服', 'human'],
  ['是的没错', 'yes'],
  ['yep, that is correct', 'yes'],
  ['不是，不对', 'no'],
  ['no, that is wrong', 'no'],
  ['我提交的工单现在进度怎么样了', 'status'],
  ['any update on my ticket?', 'status'],
  ['快递三天了还没到，物流一直不更新', 'demand'],
  ['收到的杯子有裂缝，要求退货', 'demand'],
  ['衣服尺碼唔啱，想退貨', 'demand'],
  ['I was charged twice for the same order', 'demand'],
  ['My account got locked and I cannot log in', 'demand'],
  ['app一打开就闪退', 'demand'],
];

let artifact: ModelArtifact;
let classifier: DemandClassifier;

beforeAll(() => {
  artifact = trainDemandModel([...corpus, ...acts], taxonomy, deps, { seed: 5, now: () => new Date('2026-01-01T00:00:00Z') });
  classifier = DemandClassifier.load(JSON.parse(JSON.stringify(artifact)), deps, taxonomy);
});

describe('dialogue-act head: train → serialize → load → predict', () => {
  it('is trained from the act rows, with every dialogue act as a label', () => {
    expect(acts.length).toBeGreaterThanOrEqual(200);
    const seen = new Set(acts.map((r) => r.act));
    for (const act of DIALOGUE_ACTS) expect(seen.has(act), act).toBe(true);
    expect(artifact.heads[HEAD_ACT].labels).toEqual([...DIALOGUE_ACTS]);
    expect(classifier.hasActs).toBe(true);
    // None of the fixed messages is a training row.
    const train = new Set([...corpus, ...acts].map((r) => r.text));
    expect(fixed.filter(([t]) => train.has(t))).toEqual([]);
  });

  it('reaches a minimum accuracy on the fixed messages, in every language', () => {
    const wrong = fixed.map(([text, act]) => ({ text, act, got: classifier.classify(text).act })).filter((r) => r.got !== r.act);
    expect(1 - wrong.length / fixed.length, JSON.stringify(wrong)).toBeGreaterThanOrEqual(0.8);
  });

  it('never refuses a greeting or a thank-you as spam', () => {
    for (const text of ['hello', '你好', '謝謝', 'thanks!', '在吗']) {
      const r = classifier.classify(text);
      expect(r.spam, text).toBe(false);
      expect(r.suspectedSpam, text).toBe(false);
    }
  });

  it('a model without an act head still loads: every message is a demand', () => {
    const old = JSON.parse(JSON.stringify(artifact)) as ModelArtifact;
    delete old.heads[HEAD_ACT];
    const c = DemandClassifier.load(old, deps, taxonomy);
    expect(c.hasActs).toBe(false);
    expect(c.classify('你好')).toMatchObject({ act: 'demand', actConfidence: 0 });
  });
});

describe('one pass scores every head (fused weights)', () => {
  it('gives the same probabilities as scoring each head on its own', () => {
    // A separately loaded pipeline keeps each head's own weights: the reference.
    const alone = Pipeline.load(JSON.parse(JSON.stringify(artifact)), deps);
    const texts = ['你好', '快递三天了还没到，单号 1234567890', '謝謝你們', 'my card was charged twice for one order', '转人工', '退款什么时候到账'];
    for (const text of texts) {
      const got = classifier.classify(text);
      const a = alone.analyze(text);
      const topic = alone.scoreHead(a, 'topic');
      const type = alone.scoreHead(a, 'type');
      const spam = alone.scoreHead(a, 'spam');
      expect(got.topic, text).toBe(topic.label);
      expect(got.confidence, text).toBeCloseTo(topic.confidence, 4);
      expect(got.type, text).toBe(type.label);
      expect(got.typeConfidence, text).toBeCloseTo(type.confidence, 4);
      expect(got.spamScore, text).toBeCloseTo(spam.ranked.find((r) => r.label === 'spam')!.score, 4);
      const act = alone.scoreHead(a, HEAD_ACT);
      if (got.act !== 'demand') expect(got.act, text).toBe(act.label);
    }
    // The heads of the classifier's own pipeline still score alone, from the shared matrix.
    const a = classifier.pipeline.analyze('快递三天了还没到');
    expect(classifier.pipeline.scoreHead(a, 'topic').confidence).toBeCloseTo(alone.scoreHead(alone.analyze('快递三天了还没到'), 'topic').confidence, 6);
  });
});
