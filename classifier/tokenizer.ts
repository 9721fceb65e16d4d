/**
 * Tokenisation: Chinese runs go to a pluggable word segmenter ({@link Tokenizer}), English runs to
 * natural's word tokenizer and Porter stemmer. Placeholders, emoji and question/exclamation marks
 * are kept as tokens because they carry meaning for topic, type and spam.
 */
import PorterStemmer from 'natural/lib/natural/stemmers/porter_stemmer.js';
import { WordTokenizer } from 'natural/lib/natural/tokenizers/regexp_tokenizer.js';

/** A Chinese word segmenter. Implementations live outside the pure library (they load dictionaries). */
export interface Tokenizer {
  /** A stable name recorded in model artifacts, e.g. `node-rs-jieba`. */
  readonly name: string;
  /** Segments a run of Chinese text into words. */
  cut(text: string): string[];
}

/** A trivial segmenter: one token per character. For unit tests and as a last resort. */
export class CharTokenizer implements Tokenizer {
  readonly name = 'char';
  cut(text: string): string[] {
    return Array.from(text);
  }
}

/** Stopword sets for words (characters n-grams keep everything). */
export interface Stopwords {
  zh: ReadonlySet<string>;
  en: ReadonlySet<string>;
}

export const NO_STOPWORDS: Stopwords = { zh: new Set(), en: new Set() };

const englishTokenizer = new WordTokenizer();
// Runs: placeholder | Han (with the occasional embedded digit) | Latin letters/digits | emoji | ?! marks
const RUN = /<[a-z]+>|[\p{Script=Han}]+|[a-z0-9']+|\p{Extended_Pictographic}|[?!]/gu;
const HAN_START = /^\p{Script=Han}/u;
const stemCache = new Map<string, string>();

function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = PorterStemmer.stem(word);
    if (stemCache.size < 50_000) stemCache.set(word, s);
  }
  return s;
}

/**
 * Splits normalised text into word tokens. Stopwords are dropped; digits-only tokens longer than
 * two characters never reach here because normalisation masked them.
 */
export function tokenize(text: string, tokenizer: Tokenizer, stopwords: Stopwords = NO_STOPWORDS): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(RUN)) {
    const run = m[0];
    const c = run.charCodeAt(0);
    if (c === 60 /* < */ || run === '?' || run === '!') {
      out.push(run);
    } else if (HAN_START.test(run)) {
      for (const w of tokenizer.cut(run)) if (!stopwords.zh.has(w)) out.push(w);
    } else if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 39) {
      for (const w of englishTokenizer.tokenize(run)) {
        if (w.length < 2 && !/\d/.test(w)) continue;
        if (stopwords.en.has(w)) continue;
        out.push(stem(w));
      }
    } else {
      out.push(run); // emoji
    }
  }
  return out;
}

/** Parses a stopword list: one word per line, `#` comments. */
export function parseWordList(text: string): Set<string> {
  const set = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const w = line.replace(/#.*/, '').trim();
    if (w) set.add(w);
  }
  return set;
}
