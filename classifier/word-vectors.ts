/**
 * Pretrained word vectors as extra features: the mean of a message's token vectors is appended to
 * the sparse TF-IDF features, so words the training rows never showed still land near words that
 * they did (退款 and "refund" are close in a multilingual space, as are 航班 and "flight").
 *
 * The table is parsed from bytes handed in by the caller (no I/O here). Format `wvec1`:
 * one JSON header line `{"format":"wvec1","name":…,"dim":D,"count":N}`, then N words, one a line
 * (the pipeline's tokens: simplified Chinese words, Porter-stemmed English words), then N float32
 * row scales, then N × D int8 values (row i = scale[i] × int8 values).
 */
import { ModelFormatError } from './errors.js';

/** A read-only table of word vectors. */
export class WordVectors {
  private readonly index: Map<string, number>;

  constructor(
    /** Stable name recorded in model artifacts (which table the model was trained with). */
    readonly name: string,
    readonly dim: number,
    readonly words: readonly string[],
    /** Row scales (one per word). */
    private readonly scales: Float32Array,
    /** `words.length × dim` quantised values. */
    private readonly values: Int8Array,
  ) {
    if (values.length !== words.length * dim || scales.length !== words.length) {
      throw new ModelFormatError(`word vectors "${name}": ${values.length} values for ${words.length} words of ${dim} dimensions`);
    }
    this.index = new Map(words.map((w, i) => [w, i]));
  }

  get size(): number {
    return this.words.length;
  }

  has(word: string): boolean {
    return this.index.has(word);
  }

  /**
   * Adds the vectors of the tokens that have one into `out` (length {@link dim}, not cleared),
   * each times `weight(token)` when given, and returns how many tokens had one.
   */
  accumulate(tokens: readonly string[], out: Float32Array, weight?: (token: string) => number): number {
    const d = this.dim;
    const v = this.values;
    let found = 0;
    for (const t of tokens) {
      const i = this.index.get(t);
      if (i === undefined) continue;
      found++;
      const s = this.scales[i] * (weight ? weight(t) : 1);
      const base = i * d;
      for (let k = 0; k < d; k++) out[k] += s * v[base + k];
    }
    return found;
  }

  /** Parses the `wvec1` format (see the module comment). */
  static parse(bytes: Uint8Array): WordVectors {
    const newline = (from: number) => {
      const p = bytes.indexOf(10, from);
      if (p < 0) throw new ModelFormatError('word vectors: truncated file');
      return p;
    };
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const headerEnd = newline(0);
    let header: { format?: unknown; name?: unknown; dim?: unknown; count?: unknown };
    try {
      header = JSON.parse(decoder.decode(bytes.subarray(0, headerEnd))) as typeof header;
    } catch {
      throw new ModelFormatError('word vectors: the header is not JSON');
    }
    const { format, name, dim, count } = header;
    if (format !== 'wvec1' || typeof name !== 'string' || !Number.isInteger(dim) || !Number.isInteger(count) || (dim as number) <= 0 || (count as number) < 0) {
      throw new ModelFormatError('word vectors: not a wvec1 header');
    }
    const n = count as number;
    const d = dim as number;
    const words: string[] = new Array(n);
    let pos = headerEnd + 1;
    for (let i = 0; i < n; i++) {
      const end = newline(pos);
      words[i] = decoder.decode(bytes.subarray(pos, end));
      pos = end + 1;
    }
    const expected = pos + 4 * n + n * d;
    if (bytes.length !== expected) throw new ModelFormatError(`word vectors: ${bytes.length} bytes, expected ${expected}`);
    // Copies (Uint8Array's slice, which copies even for a Node Buffer), so the float view is
    // aligned whatever the length of the words block.
    const scales = new Float32Array(Uint8Array.prototype.slice.call(bytes, pos, pos + 4 * n).buffer);
    const values = new Int8Array(Uint8Array.prototype.slice.call(bytes, pos + 4 * n, expected).buffer);
    return new WordVectors(name, d, words, scales, values);
  }

  /** Serialises to the `wvec1` format (row scales: max |value| / 127 per word). */
  static encode(name: string, words: readonly string[], rows: readonly ArrayLike<number>[]): Uint8Array {
    if (rows.length !== words.length || rows.length === 0) throw new ModelFormatError('word vectors: one row per word needed');
    const d = rows[0].length;
    for (const w of words) if (w.includes('\n') || w === '') throw new ModelFormatError(`word vectors: bad word ${JSON.stringify(w)}`);
    const enc = new TextEncoder();
    const head = enc.encode(`${JSON.stringify({ format: 'wvec1', name, dim: d, count: words.length })}\n${words.map((w) => `${w}\n`).join('')}`);
    const scales = new Float32Array(words.length);
    const values = new Int8Array(words.length * d);
    rows.forEach((r, i) => {
      if (r.length !== d) throw new ModelFormatError('word vectors: rows of different lengths');
      let max = 0;
      for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(r[k]));
      const s = max > 0 ? max / 127 : 1;
      scales[i] = s;
      for (let k = 0; k < d; k++) values[i * d + k] = Math.round(r[k] / s);
    });
    const out = new Uint8Array(head.length + scales.byteLength + values.byteLength);
    out.set(head, 0);
    out.set(new Uint8Array(scales.buffer), head.length);
    out.set(new Uint8Array(values.buffer), head.length + scales.byteLength);
    return out;
  }
}
