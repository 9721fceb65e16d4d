import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DemandClassifier, trainDemandModel } from '../../classifier/demand-classifier.js';
import type { ModelArtifact } from '../../classifier/pipeline.js';
import { createPipelineDeps } from '../../runtime/classifier-factory.js';
import { loadConfig } from '../../runtime/config.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { readJsonl } from '../../runtime/jsonl.js';
import { readArtifact } from '../../runtime/model-store.js';
import { loadCorpus, loadKeywordOverrides, loadTaxonomy } from '../../runtime/project-data.js';

const config = loadConfig({});
const taxonomy = loadTaxonomy(config.DATA_DIR);
let shipped: ModelArtifact;
let classifier: DemandClassifier;

beforeAll(async () => {
  shipped = readArtifact(config.MODEL_PATH) as ModelArtifact;
  classifier = DemandClassifier.load(shipped, await createPipelineDeps(config), taxonomy);
});

describe('the shipped default model', () => {
  it('is what training on data/ with its seed produces (fresh and reproducible)', async () => {
    const rows = loadCorpus(join(config.DATA_DIR, 'corpus'), taxonomy);
    const retrained = trainDemandModel(rows, taxonomy, await createPipelineDeps(config), {
      seed: shipped.seed,
      keywordOverrides: loadKeywordOverrides(config.DATA_DIR),
    });
    // If this fails after editing data/, run: npm run -s train -- --default
    expect(retrained.trainingDataHash, 'data/ changed: retrain the default model').toBe(shipped.trainingDataHash);
    expect(retrained.version).toBe(shipped.version);
    expect(JSON.stringify(retrained.heads)).toBe(JSON.stringify(shipped.heads));
    expect(JSON.stringify(retrained.features)).toBe(JSON.stringify(shipped.features));
  });

  it('meets quality floors on the independently written holdout set', () => {
    const rows = readJsonl(join(PROJECT_ROOT, 'data/holdout/holdout.jsonl'));
    const results = rows.map((r) => ({ r, p: classifier.classify(r.text) }));
    const normal = results.filter(({ r }) => !r.spam);
    const spam = results.filter(({ r }) => r.spam);
    const share = <T>(xs: T[], f: (x: T) => boolean) => xs.filter(f).length / xs.length;
    const topic = share(normal, ({ r, p }) => p.topic === r.topic);
    const type = share(normal, ({ r, p }) => p.type === r.type);
    const recall = share(spam, ({ p }) => p.spam);
    const falseSpam = share(normal, ({ p }) => p.spam);
    const kept = normal.filter(({ p }) => !p.needsReview);
    const precision = share(kept, ({ r, p }) => p.topic === r.topic);
    expect(topic).toBeGreaterThanOrEqual(0.85);
    expect(type).toBeGreaterThanOrEqual(0.8);
    expect(recall).toBeGreaterThanOrEqual(0.85);
    expect(falseSpam).toBeLessThanOrEqual(0.02);
    expect(precision).toBeGreaterThanOrEqual(0.95);
    expect(kept.length / normal.length).toBeGreaterThanOrEqual(0.6);
  });
});
