/**
 * The pipeline: normalise → detect language → tokenise → features → heads (topic, type, spam, or
 * any data set's `label`) → one result with an explanation.
 *
 * `trainPipeline` builds a {@link ModelArtifact} from labelled examples; `Pipeline.load` checks an
 * artifact's identity and returns a ready classifier. No I/O happens here: the tokenizer and the
 * artifact are handed in by the caller.
 */
import { createHash } from 'node:crypto';
import { InputTooLongError, InvalidInputError, ModelCompatibilityError, ModelFormatError, TrainingError } from './errors.js';
import { DEFAULT_FEATURE_CONFIG, FeatureSpace, type FeatureConfig, type FeatureDoc, type FeatureSpaceData, type SharedVector } from './features.js';
import { countScripts, detectLanguage, type Lang } from './language.js';
import { LabelModel, trainLabelModel, type LabelModelData, type LabelModelOptions, type Scorer } from './models/label-model.js';
import type { KeywordOverrides } from './models/keyword.js';
import type { ClassRunner } from './models/linear-svm.js';
import { normalize, type NormalizedText } from './normalize.js';
import { spamSignals } from './signals.js';
import { toCsr } from './sparse.js';
import { tokenize, NO_STOPWORDS, type Stopwords, type Tokenizer } from './tokenizer.js';
import type { WordVectors } from './word-vectors.js';

/** Artifact layout version: bump when the JSON shape changes. */
export const FORMAT_VERSION = 1;
/** Engine version: bump the major when features or scoring change meaning. */
export const ENGINE_VERSION = '1.1.0';

/** Default SVM weight of real customer rows (see {@link TrainOptions.realWeight}). */
export const DEFAULT_REAL_WEIGHT = 3;

/** Default maximum input length in characters (code points). */
export const DEFAULT_MAX_LENGTH = 2000;

/** What the pipeline needs from outside. */
export interface PipelineDeps {
  tokenizer: Tokenizer;
  stopwords?: Stopwords;
  /**
   * Pretrained word vectors. Training uses them when `features.vectors` names them
   * ({@link vectorFeatures}); a model trained with them needs the same table to load.
   */
  vectors?: WordVectors;
}

/** Length of the word-vector block relative to the character block's 1 (chosen on `cv:realtext`). */
export const DEFAULT_VECTOR_WEIGHT = 0.5;

/** The feature setting that uses the loaded word vectors at `weight`, or nothing without a table. */
export function vectorFeatures(deps: PipelineDeps, weight = DEFAULT_VECTOR_WEIGHT, idf = false): Pick<FeatureConfig, 'vectors'> {
  return deps.vectors && weight > 0 ? { vectors: { name: deps.vectors.name, dim: deps.vectors.dim, weight, ...(idf ? { idf } : {}) } } : {};
}

/** A labelled example. A head trains on the rows that carry its label. */
export interface TrainingExample {
  text: string;
  labels: Record<string, string | null | undefined>;
  /** Real customer text (not written for the project): review thresholds are chosen on these rows. */
  real?: boolean;
  /**
   * A staff correction (real text a deployment's staff labelled): weighs {@link TrainOptions.correctionWeight}
   * in the SVMs, and heads with `calibrationRows: 'corrections'` calibrate on these rows.
   */
  correction?: boolean;
}

/** One classification head to train: its name and its label set. */
export interface HeadSpec {
  name: string;
  labels: string[];
  /**
   * `realCalibration: false` keeps the head's review threshold chosen on all rows (a head whose
   * real rows all carry one label, like the act head, learns nothing from them).
   */
  options?: Omit<LabelModelOptions, 'seed' | 'onProgress' | 'thresholdRows' | 'rowWeights'> & {
    realCalibration?: boolean;
    /**
     * Which rows are the head's threshold (and, with `calibrateOnThresholdRows`, calibration) rows:
     * the real ones (default) or only the staff corrections, the deployment's own messages and label
     * mix (used when there are at least MIN_THRESHOLD_ROWS of them; otherwise all rows choose).
     */
    calibrationRows?: 'real' | 'corrections';
  };
}

export interface TrainOptions {
  seed?: number;
  features?: Partial<FeatureConfig>;
  /** Recorded in the artifact and checked on load. */
  taxonomyVersion?: string;
  keywordOverrides?: Record<string, KeywordOverrides>;
  /**
   * SVM C per head, used as is instead of searched by cross-validation (retraining reuses the C
   * the previous version chose: the search is most of the training time). Heads not named search.
   */
  fixedC?: Record<string, number>;
  onProgress?: (fraction: number, stage: string) => void;
  /**
   * Weight of real customer rows (`real: true`) in the SVMs, relative to 1 for the project's own
   * writing: there are far fewer of them, and they are what the model meets in use.
   */
  realWeight?: number;
  /**
   * Weight of staff corrections (`correction: true`) in the SVMs. Default: the real rows' weight
   * (the retraining job sets it: trainer/training-job.ts DEFAULT_CORRECTION_WEIGHT).
   */
  correctionWeight?: number;
  /** Clock for `createdAt` (tests pass a fixed one). */
  now?: () => Date;
  /**
   * Where the SVMs' one-vs-rest classes are solved, e.g. a thread pool (`trainer/solver-pool.ts`);
   * default: one after another on this thread. It never changes the model (not part of its hash).
   */
  runClasses?: ClassRunner;
}

/** A saved model: identity first, then the parts. */
export interface ModelArtifact {
  formatVersion: number;
  engineVersion: string;
  version: string;
  taxonomyVersion: string | null;
  trainingDataHash: string;
  seed: number;
  createdAt: string;
  tokenizer: string;
  trainingRows: number;
  features: FeatureSpaceData;
  heads: Record<string, LabelModelData>;
}

/** Everything the pipeline derives from one text before the heads run. */
export interface Analysis {
  original: string;
  normalized: NormalizedText;
  lang: Lang;
  tokens: string[];
  doc: FeatureDoc;
  /** True when nothing classifiable is left (empty, whitespace, symbols only). */
  empty: boolean;
}

/** Analyses one text. Shared by training and prediction so both see the same features. */
export function analyze(text: string, deps: PipelineDeps): Analysis {
  const normalized = normalize(text);
  const counts = countScripts(normalized.text, normalized.hanCount, normalized.traditionalCount);
  const lang = detectLanguage(normalized.text, counts);
  const tokens = tokenize(normalized.text, deps.tokenizer, deps.stopwords ?? NO_STOPWORDS);
  const signals = spamSignals(normalized, tokens);
  // Nothing to classify: no letters, digits or masked items (a bare link or number still counts).
  const empty = counts.han + counts.latin + counts.other === 0 && !/\d/.test(normalized.text) && Object.keys(normalized.masks).length === 0;
  return { original: text, normalized, lang, tokens, doc: { tokens, text: normalized.text, signals }, empty };
}

/**
 * The distinct tokens in first-seen order (as `[...new Set(tokens)]`). A message has a dozen or so
 * tokens, and comparing each with those kept is cheaper than building a Set; long ones use a Set.
 */
export function distinct(tokens: readonly string[]): string[] {
  if (tokens.length > 32) return [...new Set(tokens)];
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) if (!out.includes(tokens[i])) out.push(tokens[i]);
  return out;
}

/** Hash of the training rows, order-independent, recorded in the artifact. */
export function trainingDataHash(examples: readonly TrainingExample[], extra: unknown = null): string {
  const lines = examples.map((e) => JSON.stringify([e.text, Object.entries(e.labels).filter(([, v]) => v != null).sort(), ...(e.real ? ['real'] : []), ...(e.correction ? ['correction'] : [])])).sort();
  const h = createHash('sha256');
  for (const l of lines) h.update(l).update('\n');
  h.update(JSON.stringify(extra));
  return h.digest('hex');
}

/** Trains every head over one shared feature space. */
export function trainPipeline(examples: readonly TrainingExample[], heads: readonly HeadSpec[], deps: PipelineDeps, opts: TrainOptions = {}): ModelArtifact {
  if (examples.length === 0) throw new TrainingError('no training examples');
  if (heads.length === 0) throw new TrainingError('no heads to train');
  const seed = opts.seed ?? 1;
  const progress = opts.onProgress ?? (() => {});
  progress(0, 'analysing texts');
  const analyses = examples.map((e) => analyze(e.text, deps));
  const config: FeatureConfig = { ...DEFAULT_FEATURE_CONFIG, ...opts.features };
  // `features.vectors.weight: 0` trains without the table even when one is loaded.
  if (config.vectors && config.vectors.weight <= 0) delete config.vectors;
  progress(0.08, 'building features');
  const space = FeatureSpace.fit(analyses.map((a) => a.doc), config, deps.vectors);
  const vectors = analyses.map((a) => space.vectorize(a.doc));
  const out: Record<string, LabelModelData> = {};
  const realWeight = opts.realWeight ?? DEFAULT_REAL_WEIGHT;
  const correctionWeight = opts.correctionWeight ?? realWeight;
  const corrections = examples.some((e) => e.correction === true);
  heads.forEach((head, h) => {
    const rows: number[] = [];
    examples.forEach((e, i) => {
      const label = e.labels[head.name];
      if (label != null) rows.push(i);
    });
    if (rows.length === 0) throw new TrainingError(`no examples carry a "${head.name}" label`);
    const known = new Set(head.labels);
    const unknown = [...new Set(rows.map((i) => examples[i].labels[head.name]!))].filter((l) => !known.has(l));
    if (unknown.length) throw new TrainingError(`head "${head.name}": labels not in its label set: ${unknown.slice(0, 5).join(', ')}`);
    const x = toCsr(rows.map((i) => vectors[i]), space.size);
    const start = 0.1 + (0.9 * h) / heads.length;
    const span = 0.9 / heads.length;
    out[head.name] = trainLabelModel(
      x,
      rows.map((i) => analyses[i].tokens),
      rows.map((i) => examples[i].labels[head.name]!),
      head.labels,
      {
        ...head.options,
        ...(opts.fixedC?.[head.name] !== undefined ? { cGrid: [opts.fixedC[head.name]] } : {}),
        keyword: { ...head.options?.keyword, overrides: opts.keywordOverrides?.[head.name] ?? head.options?.keyword?.overrides },
        seed,
        ...(head.options?.realCalibration === false
          ? {}
          : { thresholdRows: rows.map((i) => (head.options?.calibrationRows === 'corrections' ? examples[i].correction === true : examples[i].real === true)) }),
        rowWeights: rows.map((i) => (examples[i].correction ? correctionWeight : examples[i].real ? realWeight : 1)),
        ...(opts.runClasses ? { runClasses: opts.runClasses } : {}),
        onProgress: (f, stage) => progress(start + f * span, `${head.name}: ${stage}`),
      },
    );
  });
  const hash = trainingDataHash(examples, { heads: heads.map((h) => (h.options ? [h.name, h.options] : h.name)), config, overrides: opts.keywordOverrides ?? null, realWeight, ...(corrections ? { correctionWeight } : {}), ...(opts.fixedC ? { fixedC: opts.fixedC } : {}) });
  const taxonomyVersion = opts.taxonomyVersion ?? null;
  return {
    formatVersion: FORMAT_VERSION,
    engineVersion: ENGINE_VERSION,
    version: `${taxonomyVersion ?? 'x'}-${hash.slice(0, 10)}-s${seed}`,
    taxonomyVersion,
    trainingDataHash: hash,
    seed,
    createdAt: (opts.now ?? (() => new Date()))().toISOString(),
    tokenizer: deps.tokenizer.name,
    trainingRows: examples.length,
    features: space.toData(),
    heads: out,
  };
}

/** What {@link Pipeline.load} checks besides the artifact's shape. */
export interface LoadExpectations {
  taxonomyVersion?: string;
  /** Heads that must be present, e.g. topic, type and spam for the product. */
  heads?: string[];
}

/** Checks an artifact's identity and shape; throws a typed error, never guesses. */
export function checkArtifact(raw: unknown, expect: LoadExpectations = {}): ModelArtifact {
  if (typeof raw !== 'object' || raw === null) throw new ModelFormatError('model artifact is not an object');
  const a = raw as Partial<ModelArtifact>;
  if (a.formatVersion !== FORMAT_VERSION) {
    throw new ModelCompatibilityError(`model format ${String(a.formatVersion)} is not supported (expected ${FORMAT_VERSION})`);
  }
  if (typeof a.engineVersion !== 'string' || a.engineVersion.split('.')[0] !== ENGINE_VERSION.split('.')[0]) {
    throw new ModelCompatibilityError(`model engine ${String(a.engineVersion)} is incompatible with engine ${ENGINE_VERSION}`);
  }
  for (const key of ['version', 'trainingDataHash', 'createdAt', 'tokenizer'] as const) {
    if (typeof a[key] !== 'string') throw new ModelFormatError(`model artifact: "${key}" is missing`);
  }
  if (expect.taxonomyVersion !== undefined && a.taxonomyVersion !== expect.taxonomyVersion) {
    throw new ModelCompatibilityError(`model was trained for taxonomy ${String(a.taxonomyVersion)}, the taxonomy is ${expect.taxonomyVersion}`);
  }
  if (typeof a.features !== 'object' || a.features === null) throw new ModelFormatError('model artifact: "features" is missing');
  if (typeof a.heads !== 'object' || a.heads === null) throw new ModelFormatError('model artifact: "heads" is missing');
  for (const h of expect.heads ?? []) {
    if (!(h in a.heads)) throw new ModelCompatibilityError(`model has no "${h}" head`);
  }
  return a as ModelArtifact;
}

/** Top-level scores of one head for one text. */
export interface HeadResult {
  label: string;
  confidence: number;
  /** Labels with probabilities, best first. */
  ranked: { label: string; score: number }[];
  keywords: { term: string; label: string; weight: number }[];
  /** Below the head's review threshold. */
  uncertain: boolean;
}

/** A loaded model: analyse and score texts. */
export class Pipeline {
  readonly artifact: ModelArtifact;
  readonly maxLength: number;
  private readonly space: FeatureSpace;
  private readonly heads: Map<string, LabelModel>;

  private constructor(artifact: ModelArtifact, readonly deps: PipelineDeps, maxLength: number) {
    this.artifact = artifact;
    this.maxLength = maxLength;
    try {
      this.space = FeatureSpace.fromData(artifact.features, deps.vectors);
      this.heads = new Map(Object.entries(artifact.heads).map(([name, data]) => [name, new LabelModel(data)]));
    } catch (err) {
      if (err instanceof ModelFormatError || err instanceof ModelCompatibilityError) throw err;
      throw new ModelFormatError(`model artifact is damaged: ${(err as Error).message}`);
    }
    if (artifact.tokenizer !== deps.tokenizer.name && !(isJieba(artifact.tokenizer) && isJieba(deps.tokenizer.name))) {
      throw new ModelCompatibilityError(`model was trained with tokenizer "${artifact.tokenizer}", not "${deps.tokenizer.name}"`);
    }
  }

  /** Checks and loads an artifact (parsed JSON). */
  static load(raw: unknown, deps: PipelineDeps, opts: LoadExpectations & { maxLength?: number } = {}): Pipeline {
    return new Pipeline(checkArtifact(raw, opts), deps, opts.maxLength ?? DEFAULT_MAX_LENGTH);
  }

  get version(): string {
    return this.artifact.version;
  }

  headNames(): string[] {
    return [...this.heads.keys()];
  }

  head(name: string): LabelModel | undefined {
    return this.heads.get(name);
  }

  /** Validates the input and analyses it. Throws {@link InputTooLongError} above the limit. */
  analyze(text: unknown): Analysis {
    if (typeof text !== 'string') throw new InvalidInputError(`text must be a string, got ${text === null ? 'null' : typeof text}`);
    const length = codePointLength(text);
    if (length > this.maxLength) throw new InputTooLongError(length, this.maxLength);
    return analyze(text, this.deps);
  }

  /** Scores one head for an analysed text; `explain` lists the matched keywords. */
  scoreHead(a: Analysis, name: string, scorer: Scorer = 'ensemble', vector = this.space.vectorize(a.doc), explain = true, svmScores?: Float64Array): HeadResult {
    const head = this.heads.get(name);
    if (!head) throw new InvalidInputError(`the model has no "${name}" head`);
    // Keyword matching looks at the distinct tokens (classification's fused heads dedupe on their own).
    const p = head.predict(vector, distinct(a.tokens), a.normalized.text, scorer, explain, svmScores);
    const ranked = head.labels.map((label, i) => ({ label, score: p.probs[i] })).sort((x, y) => y.score - x.score);
    return {
      label: head.labels[p.best],
      confidence: p.probs[p.best],
      ranked,
      keywords: p.matches.map((m) => ({ term: m.term, label: m.label, weight: m.weight })),
      uncertain: p.probs[p.best] < head.threshold,
    };
  }

  /** Vectorises an analysed text once, for scoring several heads. */
  vectorize(a: Analysis) {
    return this.space.vectorize(a.doc);
  }

  /**
   * Like {@link vectorize}, as the first `n` entries of `idx` and `val`, with each token's word id,
   * possibly the feature space's own buffers: valid only until the next call (no allocation per
   * message).
   */
  vectorizeShared(a: Analysis): SharedVector {
    return this.space.vectorizeShared(a.doc);
  }

  /** Feature id of a word, if it is in the model's vocabulary. */
  wordId(word: string): number | undefined {
    return this.space.wordId(word);
  }

  /** Number of words in the model's vocabulary (word ids are 0 … wordCount - 1). */
  get wordCount(): number {
    return this.space.words.length;
  }
}

function isJieba(name: string): boolean {
  return name === 'jieba' || name.endsWith('jieba');
}

/** Length in code points: what a person counts as characters (emoji = 1). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
