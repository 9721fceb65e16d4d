/**
 * The default Chinese segmenter: @node-rs/jieba (jieba in Rust, prebuilt binaries from the npm
 * registry). Chosen over nodejieba by the benchmark in the README: faster and far smaller in memory.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Jieba } from '@node-rs/jieba';
import type { Tokenizer } from '../classifier/tokenizer.js';

// The package's `dict.js` reads both dict.txt (5 MB) and idf.txt (6 MB, keyword extraction only,
// which we never use) into buffers that its module keeps for the life of the process. Reading
// dict.txt here gives jieba the same dictionary and lets the buffer go once jieba has built its
// own tables: 11 MB less resident memory (README, Benchmarks: speed and memory).
const DICT_PATH = createRequire(import.meta.url).resolve('@node-rs/jieba/dict.txt');

export class NodeRsJiebaTokenizer implements Tokenizer {
  readonly name = 'jieba';
  readonly implementation = 'node-rs-jieba';
  private readonly jieba: Jieba;

  /** @param userDict jieba user dictionary text (`word [freq] [tag]` per line). */
  constructor(userDict?: string) {
    this.jieba = Jieba.withDict(readFileSync(DICT_PATH));
    if (userDict) this.jieba.loadDict(Buffer.from(withFrequencies(userDict)));
  }

  cut(text: string): string[] {
    return this.jieba.cut(text, true);
  }
}

/** @node-rs/jieba requires a frequency on each line; give words without one a high default. */
function withFrequencies(userDict: string): string {
  return userDict
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((l) => (/^\S+\s+\d+/.test(l) ? l : `${l.split(/\s+/)[0]} 20000`))
    .join('\n');
}
