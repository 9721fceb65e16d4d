import { describe, expect, it } from 'vitest';
import { evaluateLabels } from '../../classifier/metrics.js';
import { Pipeline, trainPipeline } from '../../classifier/pipeline.js';
import { createPipelineDeps } from '../../runtime/classifier-factory.js';
import { loadConfig } from '../../runtime/config.js';
import { readLabelled, SHARED_MISSING_MESSAGE, sharedDataset, splitMod5 } from '../../runtime/datasets.js';

/**
 * Accuracy floors on the public data sets (test rows: i % 5 == 0). The targets themselves are
 * measured by `npm run -s bench`; these floors catch regressions. Skipped, with a message, when
 * ../shared/datasets is absent (as on a user's machine).
 */
const cases = [
  { file: 'gov_titles_teddy2020.jsonl', keyword: 0.78, ensemble: 0.875 },
  { file: 'smp2017_ecdt_intent.jsonl', keyword: 0.77, ensemble: 0.9 },
  { file: 'spam_sms_zh_head10k.jsonl', keyword: 0.88, ensemble: 0.99 },
];
const available = cases.every((c) => sharedDataset(c.file) !== null);
if (!available) console.warn(SHARED_MISSING_MESSAGE);

describe.skipIf(!available)('accuracy on the shared public data sets', () => {
  it.each(cases)('$file: keyword ≥ $keyword, ensemble ≥ $ensemble', async ({ file, keyword, ensemble }) => {
    const deps = await createPipelineDeps(loadConfig({}));
    const rows = readLabelled(sharedDataset(file)!);
    const { train, test } = splitMod5(rows);
    const labels = [...new Set(rows.map((r) => r.label))].sort();
    const artifact = trainPipeline(train.map((r) => ({ text: r.text, labels: { label: r.label } })), [{ name: 'label', labels }], deps, { seed: 1 });
    const p = Pipeline.load(artifact, deps, { maxLength: 100_000 });
    const accuracy = (scorer: 'keyword' | 'ensemble') =>
      evaluateLabels(test.map((r) => r.label), test.map((r) => p.scoreHead(p.analyze(r.text), 'label', scorer, undefined, false).label), labels).accuracy;
    expect(accuracy('keyword')).toBeGreaterThanOrEqual(keyword);
    expect(accuracy('ensemble')).toBeGreaterThanOrEqual(ensemble);
  });
});
