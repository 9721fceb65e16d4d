import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalize } from '../../classifier/normalize.js';
import { PROJECT_ROOT, SHARED_MISSING_MESSAGE } from '../../runtime/datasets.js';
import { loadTaxonomy } from '../../runtime/project-data.js';
import { loadRealtext, loadReferences, loadTrainingSources, trainRowIndex } from '../../runtime/training-sources.js';

/**
 * What the shipped model trains on: never a realtext test row, never a test row of a referenced
 * data set; real rows are marked as such. Skipped, with a message, when ../shared is absent.
 */
const dataDir = join(PROJECT_ROOT, 'data');
const taxonomy = loadTaxonomy(dataDir);
const realtext = loadRealtext();
if (!realtext) console.warn(SHARED_MISSING_MESSAGE);

describe.skipIf(!realtext)('training sources', () => {
  it('hold the corpus, the acts, the realtext training rows and the references, and no realtext test row', () => {
    const warnings: string[] = [];
    const s = loadTrainingSources(dataDir, taxonomy, { warn: (m) => warnings.push(m) });
    expect(s.shared).toBe(true);
    expect(s.counts.realtext).toBe(realtext!.train.length);
    expect(s.counts.acts).toBeGreaterThan(0);
    expect(s.rows).toHaveLength(s.counts.corpus + s.counts.acts + s.counts.realtext + s.counts.references);
    expect(s.rows.filter((r) => r.real)).toHaveLength(s.counts.realtext + s.counts.references);
    const test = new Set(realtext!.test.map((r) => normalize(r.text).text));
    expect(s.rows.filter((r) => r.real && test.has(normalize(r.text).text))).toEqual([]);
    const without = loadTrainingSources(dataDir, taxonomy, { realtext: false, warn: () => {} });
    expect(without.counts.realtext).toBe(0);
    expect(without.rows).toHaveLength(s.rows.length - s.counts.realtext);
  });

  it('leave out the realtext rows asked for (the learning benchmark\'s development split), by file row', () => {
    // Training row j sits at file row trainRowIndex(j): the split rule skips every fifth row.
    expect([0, 1, 2, 3, 4, 5, 8].map(trainRowIndex)).toEqual([1, 2, 3, 4, 6, 7, 11]);
    const held = [1, 6, 11, 16];
    const s = loadTrainingSources(dataDir, taxonomy, { realtextExclude: held, warn: () => {} });
    expect(s.counts.realtext).toBe(realtext!.train.length - held.length);
    const keys = new Set(s.rows.map((r) => normalize(r.text).text));
    for (const i of held) expect(keys.has(normalize(realtext!.train.find((_, j) => trainRowIndex(j) === i)!.text).text)).toBe(false);
    expect(keys.has(normalize(realtext!.train.find((_, j) => trainRowIndex(j) === 2)!.text).text)).toBe(true);
  });

  it('drop a reference to a test row of its data set or to the text of a realtext test row, and say so', () => {
    // A realtext test row taken from a training row of another shared set.
    const leak = realtext!.test.map((r) => /^([a-z0-9_]+\.jsonl)#(\d+)$/.exec(r.source)).find((m) => m && Number(m[2]) % 5 !== 0)!;
    const dir = mkdtempSync(join(tmpdir(), 'refs-'));
    cpSync(join(dataDir, 'taxonomy.json'), join(dir, 'taxonomy.json'));
    mkdirSync(join(dir, 'references'));
    const refs = [
      { dataset: 'waimai_10k_sentiment.jsonl', row: 10, topic: 'delivery', type: 'complaint', spam: false },
      { dataset: 'waimai_10k_sentiment.jsonl', row: 11, topic: 'delivery', type: 'complaint', spam: false },
      { dataset: leak[1], row: Number(leak[2]), topic: 'billing', type: 'complaint', spam: false },
      { dataset: 'waimai_10k_sentiment.jsonl', row: 99_999_999, topic: 'delivery', type: 'complaint', spam: false },
    ];
    writeFileSync(join(dir, 'references', 'x.jsonl'), refs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const exclude = new Set(realtext!.test.map((r) => normalize(r.text).text));
    const r = loadReferences(dir, taxonomy, exclude);
    expect(r.references).toBe(4);
    expect(r.skipped).toEqual({ testSplit: 1, missing: 1, realtextTest: 1, noDataset: 0 });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({ topic: 'delivery', type: 'complaint', real: true });
  });
});
