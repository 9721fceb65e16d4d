/**
 * What the staff API needs, handed over in one object by the composition root (bot/app.ts): the
 * application services, plus the read-side pieces statistics and profiles use.
 */
import type { Logger } from 'pino';
import type { Classification } from '../classifier/demand-classifier.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Services } from '../desk/services.js';
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
  /** The application layer: every change goes through it. */
  services: Services;
  /** Read-side repositories (statistics facts, users, audit list). */
  store: Store;
  taxonomy: Taxonomy;
  classifier: LiveClassifier;
  terms: TermExtractor;
  config: Config;
  log: Logger;
  now?: () => Date;
}
