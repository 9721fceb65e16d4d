/**
 * Keyword model: the original system's first method, made much stronger.
 *
 * Training discovers each category's keywords from labelled data: terms ranked by χ² among those
 * positively associated with the category, weighted by their smoothed log-likelihood ratio
 * log P(term | category) / P(term | other categories). Prediction sums the weights of the keywords
 * found in the message (several per message) plus a class prior, and reports which matched.
 *
 * Trainers' edits (pin, add, remove, re-weight) are applied on top of the discovered keywords on
 * every training run, so they survive retraining.
 */
import { TrainingError } from '../errors.js';

/** Trainers' edits to one category's keywords. Terms are in normalised (simplified) form. */
export interface KeywordEdits {
  /** Add a keyword or override its weight. */
  set?: Record<string, number>;
  /** Keep these discovered keywords even if they fall outside the top list. */
  pin?: string[];
  /** Never use these as keywords. */
  remove?: string[];
}

/** Keyword edits for every category, keyed by label. */
export type KeywordOverrides = Record<string, KeywordEdits>;

export interface KeywordTrainOptions {
  /** Keywords kept per category. */
  topK?: number;
  /** A term must occur in at least this many documents of the category. */
  minCount?: number;
  /** Additive smoothing of the document-frequency estimates. */
  smoothing?: number;
  overrides?: KeywordOverrides;
}

export interface Keyword {
  term: string;
  weight: number;
  /** How the keyword got there. */
  source: 'discovered' | 'pinned' | 'manual';
}

/** Serialised keyword model. */
export interface KeywordModelData {
  labels: string[];
  /** Log prior of each label. */
  priors: number[];
  keywords: Keyword[][];
}

export interface KeywordMatch {
  term: string;
  label: string;
  weight: number;
}

export interface KeywordPrediction {
  /** One score per label (log-space, higher is better). */
  scores: Float64Array;
  matches: KeywordMatch[];
}

/**
 * Discovers and weights keywords. `docs[i]` is the token list of example `i`, `labels[i]` its label.
 */
export function trainKeywordModel(
  docs: readonly (readonly string[])[],
  labels: readonly string[],
  labelSet: readonly string[],
  opts: KeywordTrainOptions = {},
): KeywordModelData {
  const topK = opts.topK ?? 400;
  const minCount = opts.minCount ?? 2;
  const alpha = opts.smoothing ?? 0.5;
  const k = labelSet.length;
  if (k < 2) throw new TrainingError('the keyword model needs at least two labels');
  const labelIndex = new Map(labelSet.map((l, i) => [l, i]));
  const classDocs = new Array<number>(k).fill(0);
  const df = new Map<string, Float64Array>();
  docs.forEach((tokens, i) => {
    const c = labelIndex.get(labels[i]);
    if (c === undefined) throw new TrainingError(`unknown label "${labels[i]}"`);
    classDocs[c]++;
    for (const t of new Set(tokens)) {
      let row = df.get(t);
      if (!row) df.set(t, (row = new Float64Array(k)));
      row[c]++;
    }
  });
  const n = docs.length;
  const keywords: Keyword[][] = [];
  for (let c = 0; c < k; c++) {
    const nc = classDocs[c];
    const nOther = n - nc;
    const scored: { term: string; chi: number; weight: number }[] = [];
    for (const [term, row] of df) {
      const a = row[c];
      if (a < minCount) continue;
      let total = 0;
      for (let j = 0; j < k; j++) total += row[j];
      const b = total - a;
      const pIn = (a + alpha) / (nc + 2 * alpha);
      const pOut = (b + alpha) / (nOther + 2 * alpha);
      const weight = Math.log(pIn / pOut);
      if (weight <= 0) continue;
      // 2×2 χ²: term present/absent × in/out of category.
      const cc = nc - a;
      const d = nOther - b;
      const den = (a + b) * (cc + d) * (a + cc) * (b + d);
      const chi = den > 0 ? (n * (a * d - b * cc) ** 2) / den : 0;
      scored.push({ term, chi, weight });
    }
    scored.sort((x, y) => y.chi - x.chi || (x.term < y.term ? -1 : 1));
    keywords.push(applyEdits(scored, topK, opts.overrides?.[labelSet[c]]));
  }
  const priors = classDocs.map((nc) => Math.log((nc + 1) / (n + k)));
  return { labels: [...labelSet], priors, keywords };
}

function applyEdits(scored: { term: string; weight: number }[], topK: number, edits?: KeywordEdits): Keyword[] {
  const removed = new Set(edits?.remove ?? []);
  const pinned = new Set(edits?.pin ?? []);
  const out = new Map<string, Keyword>();
  scored.forEach((s, rank) => {
    if (removed.has(s.term)) return;
    if (rank < topK) out.set(s.term, { term: s.term, weight: s.weight, source: 'discovered' });
    else if (pinned.has(s.term)) out.set(s.term, { term: s.term, weight: s.weight, source: 'pinned' });
  });
  for (const term of pinned) {
    const kw = out.get(term);
    if (kw) kw.source = 'pinned';
  }
  for (const [term, weight] of Object.entries(edits?.set ?? {})) {
    if (!removed.has(term)) out.set(term, { term, weight, source: 'manual' });
  }
  return [...out.values()];
}

/** A loaded keyword model, indexed for fast matching. */
export class KeywordModel {
  private readonly index = new Map<string, { label: number; weight: number }[]>();
  /** Manual keywords that span several tokens, matched against the normalised text. */
  private readonly phrases: { term: string; label: number; weight: number }[] = [];

  constructor(readonly data: KeywordModelData) {
    data.keywords.forEach((list, label) => {
      for (const kw of list) {
        const entry = { label, weight: kw.weight };
        const existing = this.index.get(kw.term);
        if (existing) existing.push(entry);
        else this.index.set(kw.term, [entry]);
        if (kw.source === 'manual' && kw.term.length > 1) this.phrases.push({ term: kw.term, ...entry });
      }
    });
  }

  get labels(): readonly string[] {
    return this.data.labels;
  }

  /**
   * Scores every label from the keywords among the distinct tokens of a message (and its text, for
   * manual phrases). With `explain` false no match list is built (the scores are the same).
   */
  predict(uniqueTokens: readonly string[], text = '', explain = true): KeywordPrediction {
    const scores = Float64Array.from(this.data.priors);
    const matches: KeywordMatch[] = [];
    for (let i = 0; i < uniqueTokens.length; i++) {
      const hits = this.index.get(uniqueTokens[i]);
      if (hits === undefined) continue;
      for (const h of hits) {
        scores[h.label] += h.weight;
        if (explain) matches.push({ term: uniqueTokens[i], label: this.data.labels[h.label], weight: h.weight });
      }
    }
    for (const p of this.phrases) {
      if (text.includes(p.term) && !uniqueTokens.includes(p.term)) {
        scores[p.label] += p.weight;
        if (explain) matches.push({ term: p.term, label: this.data.labels[p.label], weight: p.weight });
      }
    }
    matches.sort((a, b) => b.weight - a.weight);
    return { scores, matches };
  }
}
