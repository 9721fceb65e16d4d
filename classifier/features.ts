/**
 * Feature space: sublinear TF-IDF over word tokens and over character n-grams, two feature
 * families each normalised to unit length and then weighted, plus a few named signal features
 * (the pipeline's spam signals and a length bucket).
 *
 * Character n-grams are keyed by a 32-bit hash of their code points, so extracting them allocates
 * no strings; words keep their text because keyword explanations need it.
 */
import { ModelCompatibilityError, ModelFormatError } from './errors.js';
import { IntHashTable } from './int-hash.js';
import { base64ToFloat32, base64ToInt32, typedToBase64, type SparseVector } from './sparse.js';
import type { WordVectors } from './word-vectors.js';

/** Settings of the feature space. Stored in the model artifact. */
export interface FeatureConfig {
  charNgramMin: number;
  charNgramMax: number;
  /** A feature must occur in at least this many training documents. */
  minDf: number;
  /** Weight of the word block relative to the character block. */
  wordWeight: number;
  charWeight: number;
  /** Weight of the signal block (spam signals, lengths). */
  signalWeight: number;
  /**
   * Character n-grams also see the start and the end of the text (`^播放`, `吗$`), as fastText
   * marks word boundaries. Absent in artifacts from before it existed, which means off.
   */
  boundary?: boolean;
  /**
   * Upper bounds (exclusive) of text-length buckets, in n-gram characters; each text gets one
   * signal `len:<bucket>`. Absent = no length signal.
   */
  lengthBuckets?: number[];
  /**
   * Longer character n-grams for Latin script: n-grams of `charNgramMax + 1 … latinNgramMax`
   * characters made only of Latin letters and spaces (English words and pinyin: `refun`, `d bag`),
   * where 3 characters say little; Chinese text gets none. Absent = off.
   */
  latinNgramMax?: number;
  /** Adjacent English (Latin-letter) word tokens also count as one word feature (`credit card`). Absent = off. */
  latinBigrams?: boolean;
  /**
   * Pretrained word vectors (see {@link WordVectors}): the mean vector of the text's tokens,
   * scaled to length `weight`, as a dense block after the signals. Each dimension is two
   * non-negative features (its positive and its negative part), because the SVMs' NB scaling
   * takes feature values as counts. `idf`: each token's vector counts with the token's idf (the
   * largest idf for words below minDf), so rare words weigh more than 的 and "the". `name` and
   * `dim` must match the table handed in. Absent = off.
   */
  vectors?: { name: string; dim: number; weight: number; idf?: boolean };
}

export const DEFAULT_FEATURE_CONFIG: FeatureConfig = {
  charNgramMin: 1,
  charNgramMax: 3,
  minDf: 2,
  // Character n-grams carry more of the signal than jieba's words on short texts: half weight for
  // words raised test accuracy on gov_titles (+0.6 points) and smp2017 (+0.5) of the shared sets.
  wordWeight: 0.5,
  charWeight: 1,
  signalWeight: 1,
  boundary: true,
  lengthBuckets: [5, 10, 20, 40, 80],
};

/** What the pipeline hands over for one text. */
export interface FeatureDoc {
  /** Word tokens. */
  tokens: readonly string[];
  /** Normalised text used for character n-grams. */
  text: string;
  /** Named binary signals, e.g. `url`, `contact`, `mash`. */
  signals?: readonly string[];
}

/** Serialised form of a {@link FeatureSpace}. */
export interface FeatureSpaceData {
  config: FeatureConfig;
  words: string[];
  /** base64 Int32 hashes of character n-grams, in feature-id order after the words. */
  charKeys: string;
  signals: string[];
  /** base64 Float32 idf of every feature (words, then chars, then signals). */
  idf: string;
}

const PLACEHOLDER = /<([a-z]+)>/g;

/** True for characters that carry no meaning in an n-gram: punctuation and symbols, except ? and !. */
function isNgramNoise(c: number): boolean {
  if (c < 0x80) {
    // Keep letters, digits, space, ? and !.
    return !((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 32 || c === 63 || c === 33);
  }
  return (c >= 0x2000 && c <= 0x206f) || (c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xff65) || (c >= 0xfe30 && c <= 0xfe4f);
}

// Start- and end-of-text markers for n-grams (control characters never survive normalisation).
const TEXT_START = 2;
const TEXT_END = 3;

/**
 * Reusable buffers of n-gram extraction (one per module: extraction is synchronous). Growing them
 * is rare; making typed arrays per message was a measurable part of a classification.
 */
const scratch = { cps: new Int32Array(512), hashes: new Int32Array(1536) };

/**
 * Code points of the text as n-grams see it, into `scratch.cps`: placeholders such as `<url>`
 * become one private-use character, punctuation is dropped, runs of spaces collapse. Returns how
 * many there are (0 for a text with nothing left but its boundary markers).
 */
function ngramCodePoints(text: string, boundary: boolean): number {
  const src = text.includes('<') ? text.replace(PLACEHOLDER, (_, k: string) => String.fromCharCode(0xe000 + ((k.charCodeAt(0) + k.length * 7) % 0xff))) : text;
  // At most one code point per UTF-16 unit, plus the two markers.
  if (scratch.cps.length < src.length + 2) scratch.cps = new Int32Array(2 * src.length + 2);
  const cps = scratch.cps;
  // With boundary markers the start marker goes in first.
  const first = boundary ? 1 : 0;
  let n = 0;
  if (boundary) cps[n++] = TEXT_START;
  for (let i = 0; i < src.length; i++) {
    const c = src.codePointAt(i)!;
    if (c > 0xffff) i++;
    if (isNgramNoise(c)) continue;
    if (c === 32 && (n === first || cps[n - 1] === 32)) continue;
    cps[n++] = c;
  }
  if (boundary) {
    if (n === 1) return 0;
    cps[n++] = TEXT_END;
  }
  return n;
}

function hashNgram(cps: Int32Array, start: number, n: number): number {
  let h = 0x811c9dc5 ^ n;
  for (let i = start; i < start + n; i++) {
    h = Math.imul(h ^ cps[i], 0x01000193);
    h ^= h >>> 15;
  }
  return h | 0;
}

/** Hashes of a text's character n-grams ({@link ngramHashes}), valid until the next call. */
interface NgramHashes {
  hashes: Int32Array;
  /** How many of `hashes` are this text's. */
  count: number;
  /** Characters other than spaces (what the length buckets count). */
  length: number;
}

/**
 * The hash of every character n-gram of the text, in a fixed order (by length, then position; then
 * the long Latin ones); with `boundary`, n-grams of two or more characters may also start at the
 * text's start or end at its end. The hashes live in a buffer reused by the next call.
 */
function ngramHashes(text: string, min: number, max: number, boundary: boolean, latinMax = 0): NgramHashes {
  const total = ngramCodePoints(text, boundary);
  const cps = scratch.cps;
  let length = 0;
  let latin = 0;
  for (let i = 0; i < total; i++) {
    const c = cps[i];
    if (c !== 32 && c !== TEXT_START && c !== TEXT_END) length++;
    if (c >= 97 && c <= 122) latin++;
  }
  const bound = total * (Math.max(max, latinMax) - min + 1);
  if (scratch.hashes.length < bound) scratch.hashes = new Int32Array(2 * bound);
  const out = scratch.hashes;
  let count = 0;
  for (let n = min; n <= max; n++) {
    for (let i = 0; i + n <= total; i++) {
      // A lone space or marker is not a feature; longer n-grams keep spaces as word boundaries.
      if (n === 1 && (cps[i] === 32 || cps[i] === TEXT_START || cps[i] === TEXT_END)) continue;
      out[count++] = hashNgram(cps, i, n);
    }
  }
  if (latinMax > max && latin > max) {
    // Longer n-grams inside runs of Latin letters and spaces, with at least one letter.
    let run = 0;
    for (let e = 0; e < total; e++) {
      const c = cps[e];
      run = (c >= 97 && c <= 122) || c === 32 ? run + 1 : 0;
      for (let n = max + 1; n <= latinMax && n <= run; n++) {
        const s = e - n + 1;
        if (cps[s] === 32 && cps[e] === 32) continue;
        out[count++] = hashNgram(cps, s, n);
      }
    }
  }
  return { hashes: out, count, length };
}

/** Calls `fn` with each word token and, with `bigrams`, each pair of adjacent Latin-letter tokens. */
function forEachWord(tokens: readonly string[], bigrams: boolean, fn: (word: string) => void): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    fn(t);
    if (bigrams && i + 1 < tokens.length && isLatinWord(t) && isLatinWord(tokens[i + 1])) fn(`${t} ${tokens[i + 1]}`);
  }
}

function isLatinWord(t: string): boolean {
  const c = t.charCodeAt(0);
  return c >= 97 && c <= 122;
}

/** Length bucket of a text `length` characters long: the number of bucket bounds it reaches. */
function lengthBucket(length: number, buckets: readonly number[]): number {
  let b = 0;
  while (b < buckets.length && length >= buckets[b]) b++;
  return b;
}

/** Name of the length-bucket signal of a text `length` characters long. */
function lengthSignal(length: number, buckets: readonly number[]): string {
  return `len:${lengthBucket(length, buckets)}`;
}

/** A document's vector in a feature space's own buffers (see {@link FeatureSpace.vectorizeShared}). */
export interface SharedVector {
  idx: Int32Array;
  val: Float32Array;
  /** How many entries of `idx` and `val` are this document's. */
  n: number;
  /** Word id of each of the document's tokens, in token order; -1 outside the vocabulary. */
  wordIds: Int32Array;
}

/** Word, character and signal vocabularies with idf weights. Immutable once built. */
export class FeatureSpace {
  readonly size: number;
  private readonly wordIndex: Map<string, number>;
  private readonly charIndex: IntHashTable;
  private readonly signalIndex: Map<string, number>;
  // Scratch space for vectorising (synchronous, so one per feature space): term counts indexed by
  // feature id, and the ids touched, so only those are reset.
  private readonly tf: Float32Array;
  private touched: Int32Array;
  /** Feature values beside `touched`, and how many of both the current document has. */
  private val: Float32Array;
  private n = 0;
  /** Word id of each token of the current document (-1 outside the vocabulary). */
  private tokenWordIds = new Int32Array(64);
  /** Feature id of each length bucket's signal (undefined when training never saw it). */
  private readonly lengthSignalIds: (number | undefined)[];
  /** First feature id of the word-vector block (= number of sparse features). */
  private readonly vectorBase: number;
  private readonly mean: Float32Array;
  private readonly maxWordIdf: number;
  private readonly tokenIdf = (t: string): number => {
    const id = this.wordIndex.get(t);
    return id === undefined ? this.maxWordIdf : this.idf[id];
  };

  private constructor(
    readonly config: FeatureConfig,
    readonly words: readonly string[],
    private readonly charKeys: Int32Array,
    readonly signals: readonly string[],
    readonly idf: Float32Array,
    private readonly vectors: WordVectors | undefined,
  ) {
    this.wordIndex = new Map(words.map((w, i) => [w, i]));
    this.charIndex = new IntHashTable(charKeys, Int32Array.from(charKeys, (_, i) => words.length + i));
    const base = words.length + charKeys.length;
    this.signalIndex = new Map(signals.map((s, i) => [s, base + i]));
    this.vectorBase = base + signals.length;
    if (idf.length !== this.vectorBase) throw new ModelFormatError(`feature space: ${idf.length} idf values for ${this.vectorBase} features`);
    checkVectors(config, vectors);
    this.size = this.vectorBase + (config.vectors ? 2 * config.vectors.dim : 0);
    this.mean = new Float32Array(config.vectors?.dim ?? 0);
    let maxIdf = 1;
    for (let i = 0; i < words.length; i++) maxIdf = Math.max(maxIdf, idf[i]);
    this.maxWordIdf = maxIdf;
    this.tf = new Float32Array(this.vectorBase);
    this.touched = new Int32Array(256);
    this.val = new Float32Array(256);
    this.lengthSignalIds = Array.from({ length: (config.lengthBuckets?.length ?? 0) + 1 }, (_, b) => this.signalIndex.get(`len:${b}`));
  }

  /** Builds the vocabularies and idf from training documents. */
  static fit(docs: readonly FeatureDoc[], config: FeatureConfig = DEFAULT_FEATURE_CONFIG, vectors?: WordVectors): FeatureSpace {
    const wordDf = new Map<string, number>();
    const charDf = new Map<number, number>();
    const signalDf = new Map<string, number>();
    const seenWords = new Set<string>();
    const seenChars = new Set<number>();
    for (const doc of docs) {
      seenWords.clear();
      seenChars.clear();
      forEachWord(doc.tokens, !!config.latinBigrams, (t) => seenWords.add(t));
      const { hashes, count, length } = ngramHashes(doc.text, config.charNgramMin, config.charNgramMax, !!config.boundary, config.latinNgramMax);
      for (let i = 0; i < count; i++) seenChars.add(hashes[i]);
      for (const w of seenWords) wordDf.set(w, (wordDf.get(w) ?? 0) + 1);
      for (const k of seenChars) charDf.set(k, (charDf.get(k) ?? 0) + 1);
      const signals = new Set(doc.signals ?? []);
      if (config.lengthBuckets) signals.add(lengthSignal(length, config.lengthBuckets));
      for (const s of signals) signalDf.set(s, (signalDf.get(s) ?? 0) + 1);
    }
    const n = docs.length;
    const words = [...wordDf].filter(([, df]) => df >= config.minDf).map(([w]) => w).sort();
    const chars = [...charDf].filter(([, df]) => df >= config.minDf).map(([k]) => k).sort((a, b) => a - b);
    const signals = [...signalDf.keys()].sort();
    const idf = new Float32Array(words.length + chars.length + signals.length);
    const smooth = (df: number) => Math.log((1 + n) / (1 + df)) + 1;
    words.forEach((w, i) => (idf[i] = smooth(wordDf.get(w)!)));
    chars.forEach((k, i) => (idf[words.length + i] = smooth(charDf.get(k)!)));
    signals.forEach((s, i) => (idf[words.length + chars.length + i] = 1));
    return new FeatureSpace(config, words, Int32Array.from(chars), signals, idf, vectors);
  }

  /** Restores a feature space saved by {@link toData}. */
  static fromData(data: FeatureSpaceData, vectors?: WordVectors): FeatureSpace {
    try {
      const charKeys = base64ToInt32(data.charKeys);
      const idf = base64ToFloat32(data.idf, data.words.length + charKeys.length + data.signals.length);
      return new FeatureSpace({ ...data.config }, data.words, charKeys, data.signals, idf, vectors);
    } catch (err) {
      if (err instanceof ModelFormatError || err instanceof ModelCompatibilityError) throw err;
      throw new ModelFormatError(`feature space: ${(err as Error).message}`);
    }
  }

  toData(): FeatureSpaceData {
    return {
      config: { ...this.config },
      words: [...this.words],
      charKeys: typedToBase64(this.charKeys),
      signals: [...this.signals],
      idf: typedToBase64(this.idf),
    };
  }

  /** Feature id of a word, if it is in the vocabulary. */
  wordId(word: string): number | undefined {
    return this.wordIndex.get(word);
  }

  /** Turns a document into a sparse TF-IDF vector (sublinear tf, per-block L2 norm). */
  vectorize(doc: FeatureDoc): SparseVector {
    const shared = this.sparseBlocks(doc);
    const sparse = { idx: shared.idx.slice(0, shared.n), val: shared.val.slice(0, shared.n) };
    return this.vectors && this.config.vectors ? this.appendMean(doc, sparse, this.config.vectors.weight) : sparse;
  }

  /**
   * {@link vectorize}'s vector as the first `n` entries of `idx` and `val`, and the word id of each
   * token (`wordIds[i]` for `doc.tokens[i]`, -1 outside the vocabulary). Without word vectors these
   * are this space's own buffers, valid until the next call: classifying a message then allocates
   * no vector, and the word lookups serve the keyword models too.
   */
  vectorizeShared(doc: FeatureDoc): SharedVector {
    if (this.vectors && this.config.vectors) {
      const v = this.vectorize(doc);
      // vectorize filled the word ids too (through sparseBlocks).
      return { idx: v.idx, val: v.val, n: v.idx.length, wordIds: this.tokenWordIds };
    }
    return this.sparseBlocks(doc);
  }

  /** The word, character and signal blocks of vectorize, in the scratch buffers. */
  private sparseBlocks(doc: FeatureDoc): SharedVector {
    const cfg = this.config;
    this.n = 0;
    this.countWords(doc.tokens, !!cfg.latinBigrams);
    const { hashes, count, length } = ngramHashes(doc.text, cfg.charNgramMin, cfg.charNgramMax, !!cfg.boundary, cfg.latinNgramMax);
    const charIndex = this.charIndex;
    for (let i = 0; i < count; i++) {
      const id = charIndex.get(hashes[i]);
      if (id >= 0) this.count(id);
    }
    if (doc.signals) {
      for (const s of doc.signals) {
        const id = this.signalIndex.get(s);
        if (id !== undefined && this.tf[id] === 0) this.count(id);
      }
    }
    if (cfg.lengthBuckets) {
      const id = this.lengthSignalIds[lengthBucket(length, cfg.lengthBuckets)];
      if (id !== undefined && this.tf[id] === 0) this.count(id);
    }
    return this.weigh();
  }

  /** Counts one occurrence of feature `id` in the scratch term counts. */
  private count(id: number): void {
    const tf = this.tf;
    if (tf[id] === 0) {
      if (this.n === this.touched.length) {
        const grown = new Int32Array(this.n * 2);
        grown.set(this.touched);
        this.touched = grown;
      }
      this.touched[this.n++] = id;
    }
    tf[id]++;
  }

  /** Counts the word tokens and, with `bigrams`, pairs of adjacent Latin-letter tokens (as forEachWord). */
  private countWords(tokens: readonly string[], bigrams: boolean): void {
    const index = this.wordIndex;
    if (this.tokenWordIds.length < tokens.length) this.tokenWordIds = new Int32Array(2 * tokens.length);
    const ids = this.tokenWordIds;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      const id = index.get(t);
      ids[i] = id ?? -1;
      if (id !== undefined) this.count(id);
      if (bigrams && i + 1 < tokens.length && isLatinWord(t) && isLatinWord(tokens[i + 1])) {
        const pair = index.get(`${t} ${tokens[i + 1]}`);
        if (pair !== undefined) this.count(pair);
      }
    }
  }

  /** Sublinear tf × idf of the counted features, each block scaled to its length; resets the counts. */
  private weigh(): SharedVector {
    const cfg = this.config;
    const { tf, idf, n } = this;
    const idx = this.touched;
    if (this.val.length < idx.length) this.val = new Float32Array(idx.length);
    const val = this.val;
    const wordEnd = this.words.length;
    const charEnd = wordEnd + this.charKeys.length;
    let wordNorm = 0;
    let charNorm = 0;
    for (let i = 0; i < n; i++) {
      const id = idx[i];
      // The norms add the unrounded values, as before the values went to Float32.
      const v = (1 + Math.log(tf[id])) * idf[id];
      tf[id] = 0;
      val[i] = v;
      if (id < wordEnd) wordNorm += v * v;
      else if (id < charEnd) charNorm += v * v;
    }
    const ws = wordNorm > 0 ? cfg.wordWeight / Math.sqrt(wordNorm) : 0;
    const cs = charNorm > 0 ? cfg.charWeight / Math.sqrt(charNorm) : 0;
    for (let j = 0; j < n; j++) {
      const id = idx[j];
      val[j] *= id < wordEnd ? ws : id < charEnd ? cs : cfg.signalWeight;
    }
    return { idx, val, n, wordIds: this.tokenWordIds };
  }

  /** Appends the word-vector block: the tokens' mean vector at length `weight`, split by sign. */
  private appendMean(doc: FeatureDoc, sparse: SparseVector, weight: number): SparseVector {
    const mean = this.mean;
    mean.fill(0);
    if (this.vectors!.accumulate(doc.tokens, mean, this.config.vectors?.idf ? this.tokenIdf : undefined) === 0) return sparse;
    let norm = 0;
    for (let k = 0; k < mean.length; k++) norm += mean[k] * mean[k];
    if (norm === 0) return sparse;
    const scale = weight / Math.sqrt(norm);
    const n = sparse.idx.length;
    const idx = new Int32Array(n + mean.length);
    const val = new Float32Array(n + mean.length);
    idx.set(sparse.idx);
    val.set(sparse.val);
    let j = n;
    for (let k = 0; k < mean.length; k++) {
      const v = mean[k] * scale;
      if (v === 0) continue;
      idx[j] = this.vectorBase + 2 * k + (v > 0 ? 0 : 1);
      val[j++] = Math.abs(v);
    }
    return { idx: idx.subarray(0, j), val: val.subarray(0, j) };
  }
}

/** A feature space with a vector block needs the very table it was built with. */
function checkVectors(config: FeatureConfig, vectors: WordVectors | undefined): void {
  const want = config.vectors;
  if (!want) return;
  if (!vectors) throw new ModelCompatibilityError(`the model uses word vectors "${want.name}", and none were loaded`);
  if (vectors.name !== want.name || vectors.dim !== want.dim) {
    throw new ModelCompatibilityError(`the model uses word vectors "${want.name}" (${want.dim} dimensions), not "${vectors.name}" (${vectors.dim})`);
  }
}
