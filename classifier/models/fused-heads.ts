/**
 * Several heads of one model scored together, with nothing allocated per message but the keyword
 * matches of the head being explained.
 *
 * {@link LabelModel.predict} scores one head and returns fresh typed arrays (keyword scores, their
 * normalised copy, the probabilities): a `Float64Array` of more than 8 values is stored outside
 * V8's heap, and making one cost about 0.5 µs here, a dozen per message. Four heads also looked
 * every token up in four keyword maps. This scorer holds every head's buffers side by side (head
 * `h` owns columns `offsets[h] … offsets[h] + classes[h]`), finds each distinct token's keywords of
 * all heads by the token's word id (which vectorising looked up anyway; a string map only for
 * keywords outside the vocabulary), and runs the ensemble arithmetic in the same order as
 * `LabelModel.predict`, so every probability is the same number, bit for bit.
 */
import { ModelFormatError } from '../errors.js';
import { fuseWeights, type LabelModel } from './label-model.js';
import { decision, type LinearWeights } from './linear-svm.js';
import type { SharedVector } from '../features.js';

/** A keyword of the explained head found in a message (label as the head's label index). */
export interface FusedKeywordHit {
  term: string;
  label: number;
  weight: number;
}

/** Manual multi-token keywords, matched against the normalised text (as `KeywordModel` does). */
interface Phrase {
  term: string;
  /** Column of the phrase's label in the fused buffers. */
  column: number;
  label: number;
  weight: number;
}

/** The feature space's word vocabulary, as far as the keyword index needs it. */
export interface WordVocabulary {
  wordId(word: string): number | undefined;
  /** Word ids are 0 … wordCount - 1. */
  readonly wordCount: number;
}

/** One head's calibration, read once from its artifact. */
interface HeadCalibration {
  keywordWeight: number;
  temperature: number;
  bias: readonly number[] | null;
}

/** Scores every head of a model from one sparse vector and the message's distinct tokens. */
export class FusedHeads {
  /** First column of each head in {@link probs}. */
  readonly offsets: readonly number[];
  /** Number of labels of each head. */
  readonly classes: readonly number[];
  /** Probabilities of the last {@link score} call, every head side by side. */
  readonly probs: Float64Array;
  /** Index (within its head) of each head's most probable label after the last {@link score}. */
  readonly best: Int32Array;
  /** The explained head's keyword hits of the last {@link score}, in the order the message has them. */
  readonly hits: FusedKeywordHit[] = [];
  private readonly weights: LinearWeights;
  private readonly svm: Float64Array;
  private readonly keyword: Float64Array;
  private readonly priors: Float64Array;
  private readonly calibration: readonly HeadCalibration[];
  // Keyword index of all heads: a term's entries are `start[e] … start[e + 1]` of the flat arrays
  // below, head by head in head order, each head's in the order KeywordModel indexes them (so each
  // score receives its additions in the same order as there). `e` is found by the term's word id
  // (`byWord`, -1 for none), or by the term itself for the few outside the vocabulary.
  private readonly byWord: Int32Array;
  private readonly outside: Map<string, number>;
  // Words of the current message already scored (reset after each message).
  private readonly seenWord: Uint8Array;
  private readonly seenOutside: string[] = [];
  private readonly entryStart: Int32Array;
  private readonly entryColumn: Int32Array;
  private readonly entryHead: Int32Array;
  private readonly entryLabel: Int32Array;
  private readonly entryWeight: Float64Array;
  private readonly phrases: readonly (readonly Phrase[])[];

  /**
   * Fuses the heads' SVM weights into one matrix and makes each head score from it (their own
   * copies are released, see {@link LabelModel.useFused}). Head order is the column order.
   */
  constructor(heads: readonly LabelModel[], vocabulary: WordVocabulary) {
    this.classes = heads.map((h) => h.labels.length);
    const { weights, offsets } = fuseWeights(heads.map((h) => h.svmWeights));
    heads.forEach((h, i) => h.useFused(weights, offsets[i]));
    this.weights = weights;
    this.offsets = offsets;
    const total = weights.classes;
    this.svm = new Float64Array(total);
    this.keyword = new Float64Array(total);
    this.probs = new Float64Array(total);
    this.best = new Int32Array(heads.length);
    this.priors = new Float64Array(total);
    heads.forEach((h, i) => this.priors.set(h.data.keyword.priors, offsets[i]));
    this.calibration = heads.map((h) => ({ keywordWeight: h.data.ensemble.keywordWeight, temperature: h.data.ensemble.temperature, bias: h.data.ensemble.bias ?? null }));
    const index = buildKeywordIndex(heads, offsets);
    this.byWord = new Int32Array(vocabulary.wordCount).fill(-1);
    this.outside = new Map();
    for (const [term, e] of index.terms) {
      const id = vocabulary.wordId(term);
      if (id !== undefined) this.byWord[id] = e;
      else this.outside.set(term, e);
    }
    this.seenWord = new Uint8Array(vocabulary.wordCount);
    this.entryStart = index.start;
    this.entryColumn = index.column;
    this.entryHead = index.head;
    this.entryLabel = index.label;
    this.entryWeight = index.weight;
    this.phrases = index.phrases;
  }

  /**
   * Scores every head for one message: `v` is its feature vector and its tokens' word ids
   * (FeatureSpace.vectorizeShared), `tokens` its tokens, `text` its normalised text. Keyword hits of
   * head `explainHead` are listed in {@link hits}. Results stay in {@link probs} and {@link best}
   * until the next call.
   */
  score(v: SharedVector, tokens: readonly string[], text: string, explainHead: number): void {
    decision(this.weights, v, this.svm, v.n);
    this.scoreKeywords(tokens, v.wordIds, text, explainHead);
    for (let h = 0; h < this.classes.length; h++) this.combine(h);
  }

  /**
   * Keyword scores of every head: its priors plus the weights of the keywords among the message's
   * distinct tokens, taken in first-seen order (as KeywordModel.predict takes its unique tokens).
   */
  private scoreKeywords(tokens: readonly string[], wordIds: Int32Array, text: string, explainHead: number): void {
    const kw = this.keyword;
    kw.set(this.priors);
    const hits = this.hits;
    // (Setting an array's length is a call into the runtime: only when there is something to drop.)
    if (hits.length !== 0) hits.length = 0;
    const seen = this.seenWord;
    for (let i = 0; i < tokens.length; i++) {
      const id = wordIds[i];
      let e: number;
      if (id >= 0) {
        if (seen[id] === 1) continue;
        seen[id] = 1;
        e = this.byWord[id];
      } else {
        if (this.outside.size === 0 || this.seenOutside.includes(tokens[i])) continue;
        this.seenOutside.push(tokens[i]);
        e = this.outside.get(tokens[i]) ?? -1;
      }
      if (e < 0) continue;
      for (let j = this.entryStart[e], end = this.entryStart[e + 1]; j < end; j++) {
        kw[this.entryColumn[j]] += this.entryWeight[j];
        if (this.entryHead[j] === explainHead) hits.push({ term: tokens[i], label: this.entryLabel[j], weight: this.entryWeight[j] });
      }
    }
    for (let i = 0; i < tokens.length; i++) if (wordIds[i] >= 0) seen[wordIds[i]] = 0;
    if (this.seenOutside.length !== 0) this.seenOutside.length = 0;
    this.phrases.forEach((list, h) => {
      for (const p of list) {
        // (The tokens include p.term exactly when the distinct tokens do.)
        if (text.includes(p.term) && !tokens.includes(p.term)) {
          kw[p.column] += p.weight;
          if (h === explainHead) hits.push({ term: p.term, label: p.label, weight: p.weight });
        }
      }
    });
  }

  /**
   * Head `h`'s ensemble: SVM score + keyword weight × normalised keyword score + label bias, then a
   * softmax at the head's temperature. The operations and their order are LabelModel.predict's
   * (`ensemble`), with its normaliseKeywordScores and softmax written out.
   */
  private combine(h: number): void {
    const o = this.offsets[h];
    const k = this.classes[h];
    const { keywordWeight: b, temperature, bias } = this.calibration[h];
    const s = this.svm;
    if (b !== 0) {
      const kw = this.keyword;
      let max = -Infinity;
      for (let c = o; c < o + k; c++) if (kw[c] > max) max = kw[c];
      for (let c = 0; c < k; c++) s[o + c] += b * Math.max(kw[o + c] - max, -20);
    }
    if (bias) for (let c = 0; c < k; c++) s[o + c] += bias[c];
    const p = this.probs;
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, s[o + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += p[o + c] = Math.exp((s[o + c] - max) / temperature);
    for (let c = 0; c < k; c++) p[o + c] /= sum;
    let best = 0;
    for (let c = 1; c < k; c++) if (p[o + c] > p[o + best]) best = c;
    this.best[h] = best;
  }
}

/** The keyword index of all heads (see FusedHeads' fields), built once at load. */
function buildKeywordIndex(heads: readonly LabelModel[], offsets: readonly number[]) {
  // Per term, per head, the (label, weight) pairs in KeywordModel's order: label by label, each
  // label's keywords in their stored order.
  const perTerm = new Map<string, { head: number; label: number; weight: number }[]>();
  const phrases: Phrase[][] = heads.map(() => []);
  heads.forEach((head, h) => {
    const data = head.data.keyword;
    if (data.labels.length !== head.labels.length) throw new ModelFormatError('keyword model and svm disagree on labels');
    data.keywords.forEach((list, label) => {
      for (const kw of list) {
        let entries = perTerm.get(kw.term);
        if (!entries) perTerm.set(kw.term, (entries = []));
        entries.push({ head: h, label, weight: kw.weight });
        if (kw.source === 'manual' && kw.term.length > 1) phrases[h].push({ term: kw.term, column: offsets[h] + label, label, weight: kw.weight });
      }
    });
  });
  const terms = new Map<string, number>();
  let count = 0;
  for (const entries of perTerm.values()) count += entries.length;
  const start = new Int32Array(perTerm.size + 1);
  const column = new Int32Array(count);
  const head = new Int32Array(count);
  const label = new Int32Array(count);
  const weight = new Float64Array(count);
  let e = 0;
  let j = 0;
  for (const [term, entries] of perTerm) {
    terms.set(term, e);
    start[e] = j;
    // Already in head order: the heads were indexed one after another.
    for (const x of entries) {
      column[j] = offsets[x.head] + x.label;
      head[j] = x.head;
      label[j] = x.label;
      weight[j] = x.weight;
      j++;
    }
    e++;
  }
  start[e] = j;
  return { terms, start, column, head, label, weight, phrases };
}
