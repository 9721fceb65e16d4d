import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DemandClassifier } from '../../classifier/demand-classifier.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { NodeRsJiebaTokenizer } from '../../runtime/jieba-tokenizer.js';
import { readArtifact } from '../../runtime/model-store.js';
import { NodeJiebaTokenizer } from '../../runtime/nodejieba-tokenizer.js';
import { loadStopwords, loadTaxonomy, loadUserDict, userDictPath } from '../../runtime/project-data.js';
import { readJsonl } from '../../runtime/jsonl.js';

const dataDir = join(PROJECT_ROOT, 'data');

describe('nodejieba (built from source by npm install)', () => {
  it('has a compiled native binding that loads', () => {
    const require = createRequire(import.meta.url);
    const resolved = require.resolve('nodejieba');
    expect(resolved).toContain('node_modules/nodejieba');
    expect(() => require('nodejieba')).not.toThrow();
  });

  it('segments Chinese with the project user dictionary', () => {
    const t = new NodeJiebaTokenizer(userDictPath(dataDir));
    expect(t.cut('我的快递三天了还没到')).toEqual(expect.arrayContaining(['快递', '三天']));
    // 运费险 is a user-dictionary word, not in jieba's default dictionary.
    expect(t.cut('运费险怎么理赔')).toContain('运费险');
  });
});

describe('the two jieba implementations are interchangeable', () => {
  it('segment alike and classify the holdout set alike', () => {
    const rs = new NodeRsJiebaTokenizer(loadUserDict(dataDir));
    const cpp = new NodeJiebaTokenizer(userDictPath(dataDir));
    expect(rs.cut('运费险怎么理赔')).toContain('运费险');
    const taxonomy = loadTaxonomy(dataDir);
    const artifact = readArtifact(join(dataDir, 'models', 'default.model.json.gz'));
    const stopwords = loadStopwords(dataDir);
    const a = DemandClassifier.load(artifact, { tokenizer: rs, stopwords }, taxonomy);
    const b = DemandClassifier.load(artifact, { tokenizer: cpp, stopwords }, taxonomy);
    const texts = readJsonl(join(PROJECT_ROOT, 'data/holdout/holdout.jsonl')).map((r) => r.text as string);
    const same = texts.filter((t) => a.classify(t).topic === b.classify(t).topic).length;
    expect(same / texts.length).toBeGreaterThan(0.97);
  });
});
