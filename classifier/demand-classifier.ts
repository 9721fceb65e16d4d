/**
 * The product's classifier: topic, demand type and spam heads over one pipeline, returning one
 * {@link Classification} per message with its explanation.
 */
import { ClassifierError, ModelCompatibilityError } from './errors.js';
import type { LabelModel } from './models/label-model.js';
import type { Lang } from './language.js';
import { Pipeline, trainPipeline, type ModelArtifact, type PipelineDeps, type TrainOptions, type TrainingExample } from './pipeline.js';
import { DEMAND_TYPES, type DemandType, type Taxonomy } from './taxonomy.js';

export const HEAD_TOPIC = 'topic';
export const HEAD_TYPE = 'type';
export const HEAD_SPAM = 'spam';
export const PRODUCT_HEADS = [HEAD_TOPIC, HEAD_TYPE, HEAD_SPAM] as const;

/** Why a message was sent to review (or got no topic). */
export const REVIEW_REASONS = ['empty', 'no-text', 'low-confidence', 'possible-spam', 'unsupported-language'] as const;
export type ReviewReason = (typeof REVIEW_REASONS)[number];

/** What the customer is doing with a message, beside what the demand is about. */
export const DIALOGUE_ACTS = ['greeting', 'thanks', 'goodbye', 'human', 'yes', 'no', 'status', 'followup', 'demand'] as const;
export type DialogueAct = (typeof DIALOGUE_ACTS)[number];

/** The result for one message. */
export interface Classification {
  /** Normalised feature text (simplified, lower-case, masked). */
  normalized: string;
  lang: Lang;
  /** Topic id; null for spam and for input with nothing to classify. */
  topic: string | null;
  type: DemandType | null;
  spam: boolean;
  /** Probability that the message is spam or garbage. */
  spamScore: number;
  /** Calibrated probability of the topic. */
  confidence: number;
  typeConfidence: number;
  /** Top-3 topics with probabilities, best first. */
  alternatives: { topic: string; score: number }[];
  /** Topic keywords found in the message, strongest first. */
  keywords: { term: string; topic: string; weight: number }[];
  needsReview: boolean;
  reason: ReviewReason | null;
  modelVersion: string;
  /** The dialogue act, from models with an act head (older artifacts have none). */
  act?: DialogueAct;
  actConfidence?: number;
  /** Borderline spam: filed as a normal ticket flagged for staff (`spam` means refused). */
  suspectedSpam?: boolean;
}

/** A corpus row as shipped in `data/corpus/*.jsonl`. */
export interface CorpusRow {
  text: string;
  topic?: string | null;
  type?: string | null;
  spam?: boolean;
}

/** Turns corpus rows into training examples for the three heads. */
export function corpusToExamples(rows: readonly CorpusRow[]): TrainingExample[] {
  return rows.map((r) => ({
    text: r.text,
    labels: {
      [HEAD_TOPIC]: r.spam ? null : (r.topic ?? null),
      [HEAD_TYPE]: r.spam ? null : (r.type ?? null),
      [HEAD_SPAM]: r.spam === undefined ? (r.topic ? 'ham' : null) : r.spam ? 'spam' : 'ham',
    },
  }));
}

/** Trains topic, type and spam heads for a taxonomy. */
export function trainDemandModel(rows: readonly CorpusRow[], taxonomy: Taxonomy, deps: PipelineDeps, opts: TrainOptions = {}): ModelArtifact {
  return trainPipeline(
    corpusToExamples(rows),
    [
      { name: HEAD_TOPIC, labels: taxonomy.topics.map((t) => t.id) },
      { name: HEAD_TYPE, labels: [...DEMAND_TYPES] },
      // Spam errors are costly both ways; a larger C fits the rare link-only or mash shapes.
      { name: HEAD_SPAM, labels: ['ham', 'spam'], options: { cGrid: [0.3, 1, 3] } },
    ],
    deps,
    { ...opts, taxonomyVersion: taxonomy.version },
  );
}

export interface DemandClassifierOptions {
  maxLength?: number;
  /** Spam probability above which a message is flagged. */
  spamThreshold?: number;
  /** Spam probability band below the threshold in which a normal message is still sent to review. */
  spamReviewMargin?: number;
}

/** Classifies customer messages with a loaded product model. */
export class DemandClassifier {
  private readonly spamThreshold: number;
  private readonly spamReviewFloor: number;

  private readonly heads: { spam: LabelModel; type: LabelModel };
  private readonly spamIndex: number;

  private constructor(readonly pipeline: Pipeline, opts: DemandClassifierOptions) {
    this.heads = { spam: pipeline.head(HEAD_SPAM)!, type: pipeline.head(HEAD_TYPE)! };
    this.spamIndex = this.heads.spam.labels.indexOf('spam');
    if (this.spamIndex < 0) throw new ModelCompatibilityError('the spam head has no "spam" label');
    this.spamThreshold = opts.spamThreshold ?? 0.5;
    this.spamReviewFloor = this.spamThreshold - (opts.spamReviewMargin ?? 0.2);
  }

  /** Checks and loads an artifact; it must have the three product heads and match the taxonomy. */
  static load(raw: unknown, deps: PipelineDeps, taxonomy: Taxonomy, opts: DemandClassifierOptions = {}): DemandClassifier {
    const pipeline = Pipeline.load(raw, deps, { taxonomyVersion: taxonomy.version, heads: [...PRODUCT_HEADS], maxLength: opts.maxLength });
    return new DemandClassifier(pipeline, opts);
  }

  get version(): string {
    return this.pipeline.version;
  }

  get artifact(): ModelArtifact {
    return this.pipeline.artifact;
  }

  /**
   * Classifies one message. Throws {@link ClassifierError} subclasses for input that is not a
   * string or is over the length limit; everything else gets a result.
   */
  classify(text: unknown): Classification {
    const a = this.pipeline.analyze(text);
    const base = { normalized: a.normalized.text, lang: a.lang, modelVersion: this.version };
    if (a.empty) {
      const reason: ReviewReason = a.normalized.text === '' ? 'empty' : 'no-text';
      return { ...base, topic: null, type: null, spam: false, spamScore: 0, confidence: 0, typeConfidence: 0, alternatives: [], keywords: [], needsReview: true, reason };
    }
    const v = this.pipeline.vectorize(a);
    const spamHead = this.heads.spam.predict(v, a.uniqueTokens, a.normalized.text, 'ensemble', false);
    const spamScore = spamHead.probs[this.spamIndex];
    const spam = spamScore >= this.spamThreshold;
    const topic = this.pipeline.scoreHead(a, HEAD_TOPIC, 'ensemble', v);
    const type = this.heads.type.predict(v, a.uniqueTokens, a.normalized.text, 'ensemble', false);
    const alternatives = topic.ranked.slice(0, 3).map((r) => ({ topic: r.label, score: round(r.score) }));
    // Explain with the keywords of the top alternatives, the chosen topic's first.
    const rank = new Map(alternatives.map((x, i) => [x.topic, i]));
    const keywords = topic.keywords
      .filter((k) => rank.has(k.label))
      .sort((x, y) => rank.get(x.label)! - rank.get(y.label)! || y.weight - x.weight)
      .slice(0, 8)
      .map((k) => ({ term: k.term, topic: k.label, weight: round(k.weight) }));
    let reason: ReviewReason | null = null;
    if (!spam) {
      if (a.lang === 'other') reason = 'unsupported-language';
      else if (spamScore >= this.spamReviewFloor) reason = 'possible-spam';
      else if (topic.uncertain) reason = 'low-confidence';
    }
    return {
      ...base,
      topic: spam ? null : topic.label,
      type: spam ? null : (this.heads.type.labels[type.best] as DemandType),
      spam,
      spamScore: round(spamScore),
      confidence: round(topic.confidence),
      typeConfidence: round(type.probs[type.best]),
      alternatives,
      keywords,
      needsReview: reason !== null,
      reason,
    };
  }
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

export { ClassifierError };
