/**
 * What a retraining run learns from: the shipped corpus with every staff correction merged over it,
 * and the trainers' keyword edits (data/keywords.json with the database's edits winning per topic).
 * Pure functions, so the merge rules are tested without a database or a worker.
 */
import type { CorpusRow } from '../classifier/demand-classifier.js';
import type { KeywordEdits, KeywordOverrides } from '../classifier/models/keyword.js';
import { normalize } from '../classifier/normalize.js';
import { DEMAND_TYPES, type Taxonomy } from '../classifier/taxonomy.js';

/** A staff decision as the trainer uses it (one per ticket, carrying the ticket's current labels). */
export interface CorrectionRow {
  ticketNumber: string;
  text: string;
  topic: string | null;
  type: string | null;
  /**
   * Staff's spam decision, when they made one: true trains the spam head with a spam example (and
   * nothing else), false with a genuine one. Absent: a correction with a topic or type is genuine.
   */
  spam?: boolean;
}

export interface MergedTrainingData {
  rows: CorpusRow[];
  /** Corpus rows kept. */
  corpusRows: number;
  /** Corrections used. */
  corrections: number;
  /** Corrections left out: labels not in the taxonomy, or an older correction of the same text. */
  correctionsSkipped: number;
  /** Corpus rows dropped because a correction has the same normalised text. */
  replacedCorpusRows: number;
}

/** Two texts are "the same" when they normalise alike (script, case, width, masked numbers). */
export function textKey(text: string): string {
  return normalize(text).text;
}

/**
 * Merges corrections (newest first) over the corpus. A correction replaces every corpus row with
 * the same normalised text, and the newest correction of a text wins over older ones, so staff have
 * the last word. A corrected or confirmed message is a real demand, so it trains the spam head as
 * not spam; a staff spam decision trains it as spam (and no topic or type). Corrections are real
 * customer text: they weigh more than the corpus (the training job's correctionWeight) and choose
 * the review threshold with the other real rows.
 */
export function mergeCorrections(corpus: readonly CorpusRow[], corrections: readonly CorrectionRow[], taxonomy: Taxonomy): MergedTrainingData {
  const topics = new Set(taxonomy.topics.map((t) => t.id));
  const types = new Set<string>(DEMAND_TYPES);
  const byKey = new Map<string, CorpusRow>();
  let skipped = 0;
  for (const c of corrections) {
    const spam = c.spam === true;
    // A "not spam" decision without labels still teaches the spam head.
    const valid = spam || ((c.topic === null || topics.has(c.topic)) && (c.type === null || types.has(c.type)) && (c.topic !== null || c.type !== null || c.spam === false));
    const key = textKey(c.text);
    if (!valid || key === '' || byKey.has(key)) {
      skipped++;
      continue;
    }
    byKey.set(key, spam ? { text: c.text, topic: null, type: null, spam: true, real: true, correction: true } : { text: c.text, topic: c.topic, type: c.type, spam: false, real: true, correction: true });
  }
  const kept = corpus.filter((r) => !byKey.has(textKey(r.text)));
  return {
    rows: [...kept, ...byKey.values()],
    corpusRows: kept.length,
    corrections: byKey.size,
    correctionsSkipped: skipped,
    replacedCorpusRows: corpus.length - kept.length,
  };
}

/**
 * The keyword overrides a run trains with: the file's, with each topic the database has edits for
 * replaced by them (a trainer's saved edit set is the whole truth for its topic). Without database
 * edits the file's overrides come back unchanged, so the training-data hash (and with it the
 * version) of an unchanged corpus stays that of the shipped model.
 */
export function mergeKeywordOverrides(file: Readonly<Record<string, KeywordOverrides>>, topicEdits: Readonly<Record<string, KeywordEdits>>): Record<string, KeywordOverrides> {
  const topics = Object.keys(topicEdits).sort();
  if (topics.length === 0) return { ...file };
  const topic: KeywordOverrides = { ...file.topic };
  for (const t of topics) topic[t] = topicEdits[t];
  return { ...file, topic };
}
