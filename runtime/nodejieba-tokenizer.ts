/**
 * nodejieba (C++ cppjieba, built from source by node-gyp at install). Supported and tested; not the
 * default because it holds about 300 MB after loading its dictionaries (see the README benchmark).
 * The only file that imports nodejieba.
 */
import { createRequire } from 'node:module';
import type { Tokenizer } from '../classifier/tokenizer.js';

interface NodeJieba {
  load(opts?: { userDict?: string }): void;
  cut(text: string, hmm?: boolean): string[];
}

let loaded: NodeJieba | null = null;
let loadedUserDict: string | undefined;

export class NodeJiebaTokenizer implements Tokenizer {
  readonly name = 'jieba';
  readonly implementation = 'nodejieba';
  private readonly jieba: NodeJieba;

  /** @param userDictPath path of a jieba user dictionary file. nodejieba loads once per process. */
  constructor(userDictPath?: string) {
    if (!loaded) {
      const require = createRequire(import.meta.url);
      const jieba = require('nodejieba') as NodeJieba;
      jieba.load(userDictPath ? { userDict: userDictPath } : undefined);
      loaded = jieba;
      loadedUserDict = userDictPath;
    } else if (loadedUserDict !== userDictPath) {
      throw new Error('nodejieba is already loaded with another user dictionary in this process');
    }
    this.jieba = loaded;
  }

  cut(text: string): string[] {
    return this.jieba.cut(text, true);
  }
}
