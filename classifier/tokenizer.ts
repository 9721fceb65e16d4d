/**
 * Tokenisation: Chinese runs go to a pluggable word segmenter ({@link Tokenizer}), English runs to
 * natural's word tokenizer and Porter stemmer. Placeholders, emoji and question/exclamation marks
 * are kept as tokens because they carry meaning for topic, type and spam.
 */
import PorterStemmer from 'natural/lib/natural/stemmers/porter_stemmer.js';
import { WordTokenizer } from 'natural/lib/natural/tokenizers/regexp_tokenizer.js';
import { isHanUnit } from './normalize.js';

/**
 * A Chinese word segmenter. Implementations live outside the pure library (they load dictionaries).
 * Like jieba, `cut` takes a whole message and returns words; runs of Latin letters and digits come
 * back whole, other characters one by one.
 */
export interface Tokenizer {
  /** A stable name recorded in model artifacts, e.g. `jieba`. */
  readonly name: string;
  cut(text: string): string[];
}

/** A trivial segmenter: one token per Han character, Latin/digit runs whole. For unit tests. */
export class CharTokenizer implements Tokenizer {
  readonly name = 'char';
  cut(text: string): string[] {
    return text.match(/[a-z0-9']+|\s+|[\s\S]/gu) ?? [];
  }
}

/** Stopword sets for words (character n-grams keep everything). */
export interface Stopwords {
  zh: ReadonlySet<string>;
  en: ReadonlySet<string>;
}

export const NO_STOPWORDS: Stopwords = { zh: new Set(), en: new Set() };

const englishTokenizer = new WordTokenizer();
const HAN = /\p{Script=Han}/u;
const PICTO = /\p{Extended_Pictographic}/u;
const stemCache = new Map<string, string>();

function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = PorterStemmer.stem(word);
    if (stemCache.size < 50_000) stemCache.set(word, s);
  }
  return s;
}

function pushEnglish(word: string, stopwords: Stopwords, out: string[]): void {
  if (word.length < 2 && !(word >= '0' && word <= '9')) return;
  if (stopwords.en.has(word)) return;
  out.push(stem(word));
}

/**
 * Splits normalised text into word tokens: one segmenter call per message (jieba delimits Latin runs
 * at word boundaries itself), English words stemmed with natural's Porter stemmer, placeholders like
 * `<url>`, emoji and `?`/`!` kept, stopwords dropped. Text without Han characters goes through
 * natural's word tokenizer instead of the segmenter.
 */
export function tokenize(text: string, tokenizer: Tokenizer, stopwords: Stopwords = NO_STOPWORDS): string[] {
  const out: string[] = [];
  const parts = HAN.test(text) ? tokenizer.cut(text) : splitLatin(text);
  for (let i = 0; i < parts.length; i++) {
    const t = parts[i];
    const c = t.charCodeAt(0);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      pushEnglish(t, stopwords, out);
    } else if (c === 60 /* < */ && parts[i + 2] === '>' && /^[a-z]+$/.test(parts[i + 1] ?? '')) {
      out.push(`<${parts[i + 1]}>`);
      i += 2;
    } else if (c === 63 /* ? */ || c === 33 /* ! */) {
      out.push(t);
    } else if (c >= 0x2e80 && (isHanUnit(c) || HAN.test(t))) {
      // (A token that starts with a Han character has one: normalize's table answers without a regex.)
      if (!stopwords.zh.has(t)) out.push(t);
    } else if (c >= 0x2000 && PICTO.test(t)) {
      out.push(t);
    }
  }
  return out;
}

/** Latin-only text: placeholders and ?/! kept, words from natural's tokenizer, emoji kept. */
function splitLatin(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/<[a-z]+>|[?!]|\p{Extended_Pictographic}|[^<?!\p{Extended_Pictographic}]+/gu)) {
    const s = m[0];
    if (s.length > 2 && s.charCodeAt(0) === 60 && s.endsWith('>')) out.push('<', s.slice(1, -1), '>');
    else if (s === '?' || s === '!' || PICTO.test(s)) out.push(s);
    else for (const w of englishTokenizer.tokenize(s)) out.push(w.toLowerCase());
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
