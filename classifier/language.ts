/**
 * Language detection: script counting first, franc for Latin-script text long enough for it.
 * franc is unreliable below about 20 characters, so short Latin text defaults to English unless
 * it contains letters English does not use.
 */
import { franc } from 'franc';
import { CharClass } from './char-class.js';

export const LANGS = ['zh-Hans', 'zh-Hant', 'en', 'mixed', 'other'] as const;
export type Lang = (typeof LANGS)[number];

/** Script counts of a text, computed once and reused. */
export interface ScriptCounts {
  han: number;
  latin: number;
  /** Latin words (brand names alone do not make a message mixed). */
  latinWords: number;
  /** Letters of other scripts (Cyrillic, Arabic, Thai, Kana, Hangul, ...). */
  other: number;
  /** Han characters that traditional → simplified conversion changed. */
  traditional: number;
}

// Letters of a script other than Han, Latin, Common and Inherited (counted code point by code point).
const OTHER_LETTER = new CharClass(/[^\p{Script=Han}\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}]/u);

function isAsciiLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}
// Cantonese written forms are a strong sign of Hong Kong, i.e. traditional script.
const CANTONESE = /[咗嘅冇唔睇嘢佢哋喺啲嚟咩嘥乜]/u;
const NON_ENGLISH_LATIN = /[àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœßğş]/i;

/** Counts the scripts used in a (sanitised, NFKC) text. `traditional` comes from normalisation. */
export function countScripts(text: string, han: number, traditional: number): ScriptCounts {
  let latin = 0;
  let latinWords = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isAsciiLetter(c)) {
      // A run of ASCII letters is a word, unless it follows `<`: placeholders like <url> are ours.
      const start = i;
      while (i + 1 < text.length && isAsciiLetter(text.charCodeAt(i + 1))) i++;
      if (start === 0 || text.charCodeAt(start - 1) !== 60) {
        latin += i - start + 1;
        latinWords++;
      }
    } else if (c >= 0x80) {
      const cp = text.codePointAt(i)!;
      if (cp > 0xffff) i++;
      if (OTHER_LETTER.has(cp)) other++;
    }
  }
  return { han, latin, latinWords, other, traditional };
}

/**
 * Decides the language of a text from its script counts, calling franc only when the text is
 * mainly Latin and long enough for franc to be reliable.
 */
export function detectLanguage(text: string, counts: ScriptCounts): Lang {
  const { han, latin, other } = counts;
  const letters = han + latin + other;
  if (letters === 0) return 'other';
  if (other > han && other > latin / 3) return 'other';
  // A Han character carries about as much as three Latin letters.
  const hanWeight = han * 3;
  if (han > 0 && counts.latinWords >= 2 && latin >= 4 && latin >= hanWeight * 0.15 && hanWeight >= latin * 0.15) return 'mixed';
  if (han > 0 && hanWeight >= latin) {
    const traditional = counts.traditional >= 2 || counts.traditional / han >= 0.1 || (counts.traditional >= 1 && han <= 10);
    return traditional || CANTONESE.test(text) ? 'zh-Hant' : 'zh-Hans';
  }
  // Latin-dominant.
  if (NON_ENGLISH_LATIN.test(text) && latin >= 6) {
    return francLatin(text) === 'eng' ? 'en' : 'other';
  }
  if (latin >= 20) {
    const code = francLatin(text);
    return code === 'eng' || code === 'und' || code === 'sco' ? 'en' : 'other';
  }
  return 'en';
}

function francLatin(text: string): string {
  return franc(text, { minLength: 10, only: ['eng', 'fra', 'deu', 'spa', 'por', 'ita', 'nld', 'ind', 'vie', 'tur', 'pol', 'sco', 'tgl', 'msa', 'swe'] });
}
