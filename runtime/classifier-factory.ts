/**
 * Builds the classifier from configuration: tokenizer, stopwords, taxonomy and the model
 * artifact. The one place scripts and the server get a ready classifier from.
 */
import { DemandClassifier } from '../classifier/demand-classifier.js';
import type { PipelineDeps } from '../classifier/pipeline.js';
import type { Tokenizer } from '../classifier/tokenizer.js';
import type { Config, TokenizerChoice } from './config.js';
import { NodeRsJiebaTokenizer } from './jieba-tokenizer.js';
import { readArtifact } from './model-store.js';
import { loadWordVectors } from './word-vectors.js';
import { loadStopwords, loadTaxonomy, loadUserDict, userDictPath } from './project-data.js';

/** Creates the configured Chinese segmenter with the project's user dictionary. */
export async function createTokenizer(choice: TokenizerChoice, dataDir: string): Promise<Tokenizer> {
  if (choice === 'nodejieba') {
    // Imported lazily: loading nodejieba's dictionaries costs ~300 MB, only pay it when chosen.
    const { NodeJiebaTokenizer } = await import('./nodejieba-tokenizer.js');
    return new NodeJiebaTokenizer(userDictPath(dataDir));
  }
  return new NodeRsJiebaTokenizer(loadUserDict(dataDir));
}

/**
 * Tokenizer, stopwords and, when WORD_VECTORS_PATH names an existing file, the pretrained word
 * vectors. Without them, models trained with vectors refuse to load (ModelCompatibilityError names
 * the table).
 */
export async function createPipelineDeps(config: Pick<Config, 'TOKENIZER' | 'DATA_DIR'> & Partial<Pick<Config, 'WORD_VECTORS_PATH'>>): Promise<PipelineDeps> {
  const vectors = config.WORD_VECTORS_PATH ? loadWordVectors(config.WORD_VECTORS_PATH) : undefined;
  return { tokenizer: await createTokenizer(config.TOKENIZER, config.DATA_DIR), stopwords: loadStopwords(config.DATA_DIR), ...(vectors ? { vectors } : {}) };
}

/** Loads the configured model for the configured taxonomy. Throws typed classifier errors. */
export async function loadDemandClassifier(config: Config, deps?: PipelineDeps): Promise<DemandClassifier> {
  const taxonomy = loadTaxonomy(config.DATA_DIR);
  return DemandClassifier.load(readArtifact(config.MODEL_PATH), deps ?? (await createPipelineDeps(config)), taxonomy, {
    maxLength: config.MAX_TEXT_LENGTH,
  });
}
