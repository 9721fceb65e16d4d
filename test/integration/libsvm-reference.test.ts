import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLibsvmSolver, type LibsvmClass } from '../../classifier/models/libsvm-reference.js';
import { Pipeline, trainPipeline } from '../../classifier/pipeline.js';
import { createPipelineDeps } from '../../runtime/classifier-factory.js';
import { loadConfig } from '../../runtime/config.js';
import { loadCorpus, loadTaxonomy } from '../../runtime/project-data.js';

/**
 * The fast dual-coordinate-descent solver is checked against libsvm-js on the same folds of the
 * project corpus (topic head, SVM scorer, C fixed): with the hinge loss (libsvm's objective) the two
 * must agree within 0.5 points, and the product's squared-hinge setting must not be worse than
 * libsvm by more than 0.5 points.
 */
describe('linear SVM vs libsvm-js reference', () => {
  it('reaches the same accuracy on the same folds', async () => {
    const require = createRequire(import.meta.url);
    const SVM = (await require('libsvm-js')) as LibsvmClass;
    const config = loadConfig({});
    const taxonomy = loadTaxonomy(config.DATA_DIR);
    const deps = await createPipelineDeps(config);
    const rows = loadCorpus(join(config.DATA_DIR, 'corpus'), taxonomy).filter((r) => r.topic);
    const labels = taxonomy.topics.map((t) => t.id);
    const folds = 5;
    const accuracy = (options: object) => {
      let ok = 0;
      for (let f = 0; f < folds; f++) {
        const train = rows.filter((_, i) => i % folds !== f);
        const test = rows.filter((_, i) => i % folds === f);
        const artifact = trainPipeline(train.map((r) => ({ text: r.text, labels: { topic: r.topic } })), [{ name: 'topic', labels, options: { cGrid: [0.3], folds: 2, ...options } }], deps);
        const p = Pipeline.load(artifact, deps);
        for (const r of test) if (p.scoreHead(p.analyze(r.text), 'topic', 'svm').label === r.topic) ok++;
      }
      return ok / rows.length;
    };
    const reference = accuracy({ solver: createLibsvmSolver(SVM), loss: 'l1' });
    const sameObjective = accuracy({ loss: 'l1' });
    const product = accuracy({ loss: 'l2' });
    expect(reference).toBeGreaterThan(0.6);
    expect(Math.abs(sameObjective - reference)).toBeLessThanOrEqual(0.005);
    expect(product).toBeGreaterThanOrEqual(reference - 0.005);
  });
});
