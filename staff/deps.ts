/**
 * What the staff API needs, handed over in one object by the composition root (bot/app.ts).
 */
import type { Logger } from 'pino';
import type { CustomerReplies } from '../bot/proactive.js';
import type { Classification } from '../classifier/demand-classifier.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Config } from '../runtime/config.js';
import type { Store } from '../store/index.js';

/** The live classifier as the staff API sees it (a model holder swaps the model underneath). */
export interface LiveClassifier {
  readonly version: string;
  classify(text: unknown): Classification;
}

/** Content terms of a text (normalised, segmented, stopwords and placeholders removed). */
export type TermExtractor = (text: string) => string[];

export interface StaffDeps {
  store: Store;
  replies: CustomerReplies;
  taxonomy: Taxonomy;
  classifier: LiveClassifier;
  terms: TermExtractor;
  config: Config;
  log: Logger;
  now?: () => Date;
}
