/**
 * The terms of staff search: what a ticket is indexed under and what a query looks for. Pure (no
 * I/O); the inverted index that stores them is store/search-index.ts.
 *
 * Text is sanitised, NFKC-folded (full-width → half-width), lower-cased and folded from
 * traditional to simplified Chinese one character at a time (classifier/normalize.ts `foldHan`,
 * opencc-js's table), so 漫遊 and 漫游 give the same terms. Then:
 * - Chinese: every character and every pair of adjacent characters (character bigrams, as search
 *   engines index CJK): a query of two or more characters looks for its pairs, so it finds the
 *   words jieba would split differently, names and typos of one character alike;
 * - Latin words: Porter stems (the classifier's stemmer), so "refunds" finds "refund";
 * - digits: each run of two or more, and each phone number with its separators removed
 *   (138-0013-8000, +86 138 0013 8000 and 13800138000 are all `13800138000`);
 * - e-mail addresses whole.
 * A query matches a ticket that has all of its terms.
 */
import PorterStemmer from 'natural/lib/natural/stemmers/porter_stemmer.js';
import { foldHan, sanitize } from '../classifier/normalize.js';
import { TICKET_NUMBER, type Ticket } from './schemas.js';

/** The ticket fields search reads. */
export type SearchableTicket = Pick<Ticket, 'number' | 'text' | 'contact' | 'customer' | 'messages' | 'formerNumber'>;

/**
 * The term a ticket stored under a new number at outbox replay is found by under the number its
 * customer was given (`formerNumber`): a customer quoting that number to staff names this ticket,
 * while the number itself is another customer's. No other term starts with `=`.
 */
export function formerNumberTerm(number: string): string {
  return `=${number}`;
}

const HAN_RUN = /\p{Script=Han}+/gu;
const EMAIL = /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/g;
const WORD = /[a-z0-9]*[a-z][a-z0-9]*/g;
const DIGITS = /\d{2,}/g;
// A phone number as people write it: digits with spaces, dashes, dots or brackets, an optional +.
const PHONE = /\+?\(?\d[\d\s().-]{5,22}\d/g;

/** National forms of a phone number given with its country code (mainland, Hong Kong, Macao, Taiwan). */
const COUNTRY_CODES: ReadonlyArray<readonly [string, number]> = [
  ['86', 11],
  ['852', 8],
  ['853', 8],
  ['886', 9],
];

/** The digit strings a phone number is found by: as written (digits only) and its national form. */
export function phoneForms(written: string): string[] {
  let digits = written.replace(/\D/g, '');
  if (digits.startsWith('00')) digits = digits.slice(2);
  if (digits.length < 7 || digits.length > 15) return [];
  const forms = [digits];
  for (const [code, length] of COUNTRY_CODES) {
    if (digits.length === code.length + length && digits.startsWith(code)) forms.push(digits.slice(code.length));
  }
  // Taiwan mobiles are written 0912-345-678 at home and +886 912 345 678 abroad.
  if (digits.length === 10 && digits.startsWith('09')) forms.push(digits.slice(1));
  return forms;
}

/** Text as search compares it: sanitised, NFKC, lower case, simplified characters. */
export function foldForSearch(text: string): string {
  return foldHan(sanitize(text).normalize('NFKC').toLowerCase());
}

const stems = new Map<string, string>();
function stem(word: string): string {
  let s = stems.get(word);
  if (s === undefined) {
    s = /^[a-z]+$/.test(word) ? PorterStemmer.stem(word) : word;
    if (stems.size < 50_000) stems.set(word, s);
  }
  return s;
}

/** Adds the terms of one folded text; `query` keeps only the character pairs of longer Chinese runs. */
function addTerms(folded: string, out: Set<string>, query: boolean): void {
  for (const m of folded.matchAll(HAN_RUN)) {
    const run = [...m[0]];
    if (run.length === 1 || !query) for (const ch of run) out.add(ch);
    for (let i = 0; i + 1 < run.length; i++) out.add(run[i] + run[i + 1]);
  }
  for (const m of folded.matchAll(EMAIL)) out.add(`@${m[0]}`);
  for (const m of folded.matchAll(PHONE)) for (const f of phoneForms(m[0])) out.add(`#${f}`);
  for (const m of folded.matchAll(DIGITS)) out.add(`#${m[0]}`);
  for (const m of folded.matchAll(WORD)) if (m[0].length >= 2) out.add(stem(m[0]));
}

/** Every term a ticket is found by (its text, follow-up messages, contact, customer name and former number). */
export function ticketTerms(t: SearchableTicket): Set<string> {
  const out = new Set<string>();
  const texts = [t.text.original, ...t.messages.map((m) => m.text), t.customer.name ?? '', t.contact.email ?? ''];
  for (const text of texts) if (text) addTerms(foldForSearch(text), out, false);
  if (t.contact.phone) for (const f of phoneForms(t.contact.phone)) out.add(`#${f}`);
  if (t.formerNumber) out.add(formerNumberTerm(t.formerNumber));
  return out;
}

/** What a staff query asks for: a ticket number, or the terms a ticket must all have. */
export interface SearchQuery {
  /** The query is a ticket number (any case, T optional): looked up directly. */
  number: string | null;
  /** Terms a matching ticket has, all of them (empty: the query has nothing to look for). */
  terms: string[];
}

/** Parses what staff typed in the search box. */
export function parseSearch(input: string): SearchQuery {
  const trimmed = sanitize(input).normalize('NFKC').trim();
  const asNumber = trimmed.toUpperCase().replace(/^(?=\d{8}-)/, 'T');
  if (TICKET_NUMBER.test(asNumber)) return { number: asNumber, terms: [] };
  // Only digits and phone punctuation: one phone number (or one number), in its national form.
  if (/^[+\d\s().-]+$/.test(trimmed)) {
    const forms = phoneForms(trimmed);
    if (forms.length) return { number: null, terms: [`#${forms[forms.length - 1]}`] };
  }
  const out = new Set<string>();
  addTerms(foldForSearch(trimmed), out, true);
  return { number: null, terms: [...out] };
}
