/**
 * Content terms of a customer message, for keyword trends on the dashboard. Built from the
 * classifier's own normalisation and tokenisation, so a trending term is the same unit as the
 * classifier's keywords (which trainers pin or remove): traditional characters folded to
 * simplified, English lower-cased and Porter-stemmed ("delivery" → "deliveri").
 */
import { normalize } from '../classifier/normalize.js';
import { tokenize, type Stopwords, type Tokenizer } from '../classifier/tokenizer.js';
import type { TermExtractor } from './deps.js';

/** A term has a letter or a Han character; digits, emoji and punctuation are not topics. */
const HAS_LETTER = /\p{L}/u;

/**
 * Returns the distinct content terms of a text in first-seen order. Dropped: masked placeholders
 * (`<url>`, `<phone>` …: they say what kind of data was there, not what the customer wants),
 * `?`/`!` and emoji (kept by the tokenizer as classification signals), single characters
 * (too ambiguous to read as a trend), tokens without a letter, and stopwords.
 */
export function createTermExtractor(tokenizer: Tokenizer, stopwords: Stopwords): TermExtractor {
  return (text) => {
    const out = new Set<string>();
    for (const token of tokenize(normalize(text).text, tokenizer, stopwords)) {
      if (token.startsWith('<') || [...token].length < 2 || !HAS_LETTER.test(token)) continue;
      if (stopwords.zh.has(token) || stopwords.en.has(token)) continue;
      out.add(token);
    }
    return [...out];
  };
}
