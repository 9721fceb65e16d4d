import { beforeAll, describe, expect, it } from 'vitest';
import { HEAD_ACT, HEAD_SPAM, HEAD_TOPIC, HEAD_TYPE, topLabels, trainDemandModel, type CorpusRow } from '../../classifier/demand-classifier.js';
import { FusedHeads } from '../../classifier/models/fused-heads.js';
import { LabelModel } from '../../classifier/models/label-model.js';
import { distinct, Pipeline, type ModelArtifact } from '../../classifier/pipeline.js';
import { CharTokenizer } from '../../classifier/tokenizer.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { loadCorpus, loadTaxonomy } from '../../runtime/project-data.js';
import { loadActs } from '../../runtime/training-sources.js';
import { join } from 'node:path';

// A small model of the fixed corpus, with trainers' manual phrases (multi-character keywords, which
// the keyword model matches against the text) on two heads, so both keyword paths are exercised.
const dataDir = join(PROJECT_ROOT, 'data');
const taxonomy = loadTaxonomy(dataDir);
const rows: CorpusRow[] = [...loadCorpus(join(dataDir, 'corpus'), taxonomy), ...loadActs(dataDir)];
const train = rows.filter((_, i) => i % 4 === 1);
const probe = rows.filter((_, i) => i % 20 === 0).map((r) => r.text);
const deps = { tokenizer: new CharTokenizer() };
const HEADS = [HEAD_SPAM, HEAD_TOPIC, HEAD_TYPE, HEAD_ACT];

let artifact: ModelArtifact;
let pipeline: Pipeline;

beforeAll(() => {
  const topic = taxonomy.topics[0].id;
  artifact = trainDemandModel(train, taxonomy, deps, {
    seed: 2,
    now: () => new Date('2026-01-01T00:00:00Z'),
    fixedC: { topic: 0.3, type: 0.3, spam: 1, act: 0.3 },
    // zzqx: a keyword outside the vocabulary (no training row has it), found by its text.
    keywordOverrides: { [HEAD_TOPIC]: { [topic]: { set: { 快递: 3, 没到: 1.5, 退款: 0.7, zzqx: 1.2 } } }, [HEAD_ACT]: { greeting: { set: { 你好: 2 } } } },
  });
  pipeline = Pipeline.load(JSON.parse(JSON.stringify(artifact)), deps);
  // Phrases only count when the text has them: make sure the probes do.
  probe.push('快递没到，退款呢', '你好，快递没到', 'zzqx 快递 zzqx 没到 快递');
});

describe('FusedHeads scores every head as LabelModel.predict does, bit for bit', () => {
  it('same probabilities, best labels and topic keyword matches for every probe', () => {
    const separate = HEADS.map((h) => new LabelModel(JSON.parse(JSON.stringify(artifact.heads[h]))));
    const fused = new FusedHeads(HEADS.map((h) => new LabelModel(JSON.parse(JSON.stringify(artifact.heads[h])))), pipeline);
    expect(pipeline.wordId('zzqx')).toBeUndefined();
    let phraseHits = 0;
    let outsideHits = 0;
    for (const text of probe) {
      const a = pipeline.analyze(text);
      const v = pipeline.vectorize(a);
      const shared = pipeline.vectorizeShared(a);
      fused.score(shared, a.tokens, a.normalized.text, 1);
      separate.forEach((head, h) => {
        const p = head.predict(v, distinct(a.tokens), a.normalized.text, 'ensemble', h === 1);
        const o = fused.offsets[h];
        // Exact equality: the explanation and the review decision depend on these numbers.
        expect(Array.from(fused.probs.subarray(o, o + head.labels.length))).toEqual(Array.from(p.probs));
        expect(fused.best[h]).toBe(p.best);
        if (h === 1) {
          const hits = [...fused.hits].sort((x, y) => y.weight - x.weight).map((m) => ({ term: m.term, label: head.labels[m.label], weight: m.weight }));
          expect(hits).toEqual(p.matches);
          phraseHits += hits.filter((m) => m.term.length > 1 && m.term !== 'zzqx').length;
          outsideHits += hits.filter((m) => m.term === 'zzqx').length;
        }
      });
    }
    expect(phraseHits).toBeGreaterThan(0);
    // Once per message, however often the token comes.
    expect(outsideHits).toBe(1);
  });

  it('vectorizeShared gives vectorize’s vector and each token’s word id', () => {
    for (const text of [...probe.slice(0, 40), ...probe.slice(-3)]) {
      const a = pipeline.analyze(text);
      const v = pipeline.vectorize(a);
      const s = pipeline.vectorizeShared(a);
      expect(Array.from(s.idx.subarray(0, s.n))).toEqual(Array.from(v.idx));
      expect(Array.from(s.val.subarray(0, s.n))).toEqual(Array.from(v.val));
      expect(Array.from(s.wordIds.subarray(0, a.tokens.length))).toEqual(a.tokens.map((t) => pipeline.wordId(t) ?? -1));
    }
  });
});

describe('topLabels', () => {
  it('is the head of a stable sort by probability, ties in label order', () => {
    const probs = Float64Array.from([9, 0.1, 0.5, 0.2, 0.5, 0.7, 0.5, 0.7]);
    expect(topLabels(probs, 1, 7, 3)).toEqual([4, 6, 1]);
    expect(topLabels(probs, 1, 2, 3)).toEqual([1, 0]);
    for (let trial = 0; trial < 200; trial++) {
      // Few distinct values, so ties are common.
      const p = Float64Array.from({ length: 11 }, (_, i) => ((i * 7 + trial * 13) % 5) / 4);
      const sorted = Array.from(p, (score, i) => ({ score, i })).sort((x, y) => y.score - x.score).slice(0, 3).map((x) => x.i);
      expect(topLabels(p, 0, 11, 3)).toEqual(sorted);
    }
  });
});
