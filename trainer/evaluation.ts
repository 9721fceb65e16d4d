/**
 * Evaluation of a model version on the frozen held-out rows (data/holdout, never trained on) plus
 * the most recent staff corrections: accuracy, macro-F1, per-class precision/recall/F1 and the
 * confusion matrix of topic and type, spam recall, and the share of messages the version would
 * send to review at its own threshold. Two versions are compared on the same rows.
 *
 * The recent corrections are part of a new version's training data (that is the point of
 * retraining), so a candidate's figures on them are optimistic; the topic accuracy is therefore
 * also reported per source, and the held-out figure is the one to trust for generalisation.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CorpusRow, DemandClassifier } from '../classifier/demand-classifier.js';
import { ClassifierError } from '../classifier/errors.js';
import { evaluateLabels, type EvaluationReport } from '../classifier/metrics.js';
import { DEMAND_TYPES, type Taxonomy } from '../classifier/taxonomy.js';
import type { CorrectionRow } from './training-data.js';

/** How many of the newest corrections join the held-out rows. */
export const RECENT_CORRECTIONS = 200;

export interface EvaluationRow {
  text: string;
  topic: string | null;
  type: string | null;
  spam: boolean;
  source: 'holdout' | 'correction';
}

export interface ModelEvaluation {
  version: string;
  rows: { total: number; holdout: number; corrections: number };
  /** Topic on the rows that are not spam. */
  topic: EvaluationReport;
  /** Demand type on the rows that are not spam and have a type. */
  type: EvaluationReport;
  spam: { rows: number; recall: number | null; normalFlagged: number };
  /** Share of the normal rows the version sends to review (low confidence, possible spam …). */
  reviewRate: number;
  /** Topic accuracy on the rows it does not send to review. */
  accuracyNotReviewed: number | null;
  /** The topic head's confidence threshold below which a message goes to review. */
  threshold: number;
  topicAccuracyBySource: { holdout: number | null; corrections: number | null };
}

/** Held-out rows plus the newest corrections (newest first) whose labels fit the taxonomy. */
export function evaluationRows(holdout: readonly CorpusRow[], corrections: readonly CorrectionRow[], taxonomy: Taxonomy, recent = RECENT_CORRECTIONS): EvaluationRow[] {
  const topics = new Set(taxonomy.topics.map((t) => t.id));
  const fromHoldout = holdout.map((r): EvaluationRow => ({ text: r.text, topic: r.topic ?? null, type: r.type ?? null, spam: r.spam === true, source: 'holdout' }));
  const fromCorrections = corrections
    .filter((c) => c.spam !== true && c.topic !== null && topics.has(c.topic))
    .slice(0, recent)
    .map((c): EvaluationRow => ({ text: c.text, topic: c.topic, type: c.type, spam: false, source: 'correction' }));
  return [...fromHoldout, ...fromCorrections];
}

/**
 * Classifies every row and scores the results. Yields to the event loop every `chunk` rows, so a
 * server that evaluates on request (the compare endpoint) keeps answering its bots meanwhile.
 */
export async function evaluateModel(classifier: Pick<DemandClassifier, 'classify' | 'version' | 'pipeline'>, rows: readonly EvaluationRow[], taxonomy: Taxonomy, chunk = 50): Promise<ModelEvaluation> {
  const predictions: ({ topic: string | null; type: string | null; spam: boolean; needsReview: boolean } | null)[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (i > 0 && i % chunk === 0) await yieldToEventLoop();
    try {
      predictions.push(classifier.classify(rows[i].text));
    } catch (err) {
      // Input the classifier refuses (too long) counts as a wrong answer, not a failed evaluation.
      if (!(err instanceof ClassifierError)) throw err;
      predictions.push(null);
    }
  }
  const normal = rows.map((r, i) => ({ r, p: predictions[i] })).filter(({ r }) => !r.spam && r.topic !== null);
  const typed = rows.map((r, i) => ({ r, p: predictions[i] })).filter(({ r }) => !r.spam && r.type !== null);
  const spamRows = rows.map((r, i) => ({ r, p: predictions[i] })).filter(({ r }) => r.spam);
  const topic = evaluateLabels(
    normal.map(({ r }) => r.topic!),
    normal.map(({ p }) => p?.topic ?? null),
    taxonomy.topics.map((t) => t.id),
  );
  const type = evaluateLabels(
    typed.map(({ r }) => r.type!),
    typed.map(({ p }) => p?.type ?? null),
    DEMAND_TYPES,
  );
  const kept = normal.filter(({ p }) => p !== null && !p.needsReview && !p.spam);
  const bySource = (source: EvaluationRow['source']) => share(normal.filter(({ r }) => r.source === source), ({ r, p }) => p?.topic === r.topic);
  return {
    version: classifier.version,
    rows: { total: rows.length, holdout: rows.filter((r) => r.source === 'holdout').length, corrections: rows.filter((r) => r.source === 'correction').length },
    topic,
    type,
    spam: { rows: spamRows.length, recall: share(spamRows, ({ p }) => p?.spam === true), normalFlagged: share(normal, ({ p }) => p?.spam === true) ?? 0 },
    reviewRate: share(normal, ({ p }) => p === null || p.needsReview) ?? 0,
    accuracyNotReviewed: share(kept, ({ r, p }) => p!.topic === r.topic),
    threshold: classifier.pipeline.head('topic')?.threshold ?? 0,
    topicAccuracyBySource: { holdout: bySource('holdout'), corrections: bySource('correction') },
  };
}

/** Two evaluations side by side, with b − a for the headline figures and per-topic F1. */
export function compareEvaluations(a: ModelEvaluation, b: ModelEvaluation) {
  const perTopicF1: Record<string, number> = {};
  for (const label of b.topic.labels) perTopicF1[label] = round((b.topic.perClass[label]?.f1 ?? 0) - (a.topic.perClass[label]?.f1 ?? 0));
  return {
    a,
    b,
    delta: {
      topicAccuracy: round(b.topic.accuracy - a.topic.accuracy),
      topicMacroF1: round(b.topic.macroF1 - a.topic.macroF1),
      typeAccuracy: round(b.type.accuracy - a.type.accuracy),
      reviewRate: round(b.reviewRate - a.reviewRate),
      perTopicF1,
    },
  };
}

function share<T>(items: readonly T[], test: (x: T) => boolean): number | null {
  if (items.length === 0) return null;
  let n = 0;
  for (const x of items) if (test(x)) n++;
  return n / items.length;
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

/** A message with gold labels for the real-text figures (realtext_dev rows, data/holdout rows). */
export interface GoldRow {
  text: string;
  topic: string | null;
  type: string | null;
  spam: boolean;
  lang?: string;
}

/** The issue-10 figures of one model on one set of rows (shares in [0, 1], null when no rows). */
export interface RealTextScores {
  rows: number;
  genuine: number;
  spamRows: number;
  topic: number | null;
  type: number | null;
  /** Genuine messages refused as spam (the bot would turn them away). */
  genuineRefused: number | null;
  /** Genuine messages filed but flagged as suspected spam. */
  genuineSuspected: number | null;
  /** Spam refused or flagged for staff. */
  spamRecall: number | null;
  /** Spam refused outright. */
  spamRefused: number | null;
  /** Topic accuracy on the genuine messages not sent to review, and their share. */
  precisionNotReviewed: number | null;
  coverage: number | null;
  /** Topic accuracy per language (`lang` of the rows). */
  topicByLang: Record<string, { rows: number; topic: number | null; type: number | null }>;
}

/** Classifies gold rows and computes the real-text figures (topic, type, spam policy, coverage, per language). */
export function scoreRealText(classifier: Pick<DemandClassifier, 'classify'>, rows: readonly GoldRow[]): RealTextScores {
  const results = rows.map((r) => {
    try {
      return { r, p: classifier.classify(r.text) as { topic: string | null; type: string | null; spam: boolean; suspectedSpam?: boolean; needsReview: boolean } | null };
    } catch (err) {
      if (!(err instanceof ClassifierError)) throw err;
      return { r, p: null };
    }
  });
  const genuine = results.filter(({ r }) => !r.spam);
  const spam = results.filter(({ r }) => r.spam);
  const topical = genuine.filter(({ r }) => r.topic !== null);
  const typed = genuine.filter(({ r }) => r.type !== null);
  const kept = topical.filter(({ p }) => p !== null && !p.needsReview && !p.spam);
  const byLang: RealTextScores['topicByLang'] = {};
  for (const lang of [...new Set(rows.map((r) => r.lang ?? 'all'))].sort()) {
    const t = topical.filter(({ r }) => (r.lang ?? 'all') === lang);
    const ty = typed.filter(({ r }) => (r.lang ?? 'all') === lang);
    byLang[lang] = { rows: t.length, topic: share(t, ({ r, p }) => p?.topic === r.topic), type: share(ty, ({ r, p }) => p?.type === r.type) };
  }
  return {
    rows: rows.length,
    genuine: genuine.length,
    spamRows: spam.length,
    topic: share(topical, ({ r, p }) => p?.topic === r.topic),
    type: share(typed, ({ r, p }) => p?.type === r.type),
    genuineRefused: share(genuine, ({ p }) => p?.spam === true),
    genuineSuspected: share(genuine, ({ p }) => p?.suspectedSpam === true),
    spamRecall: share(spam, ({ p }) => p?.spam === true || p?.suspectedSpam === true),
    spamRefused: share(spam, ({ p }) => p?.spam === true),
    precisionNotReviewed: share(kept, ({ r, p }) => p!.topic === r.topic),
    coverage: share(topical, ({ p }) => p !== null && !p.needsReview && !p.spam),
    topicByLang: byLang,
  };
}
