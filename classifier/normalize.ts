/**
 * Text normalisation: the first step of the pipeline.
 *
 * The original text is kept untouched by callers; this produces the feature text:
 * well-formed Unicode, NFKC (which also folds full-width forms to half-width), traditional →
 * simplified Chinese, lower-case Latin, and personal or volatile data masked into placeholder tokens.
 */
import * as OpenCC from 'opencc-js';

/** Placeholder kinds that masking can produce. */
export const MASK_KINDS = ['url', 'email', 'phone', 'idno', 'card', 'order', 'amount', 'num'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/** Result of {@link normalize}. */
export interface NormalizedText {
  /** Feature text: simplified, lower-cased, masked. Placeholders look like `<url>`. */
  text: string;
  /** How many of each placeholder were inserted. */
  masks: Partial<Record<MaskKind, number>>;
  /** Han characters in the input. */
  hanCount: number;
  /** Han characters that traditional → simplified conversion changed (a zh-Hant signal). */
  traditionalCount: number;
}

// Character conversion decides whether a text is traditional at all: phrase conversion would also
// rewrite simplified text (程序 → 进程), so it runs only on text that has traditional characters.
const charsToSimplified = OpenCC.Converter({ from: 't', to: 'cn' });
// The characters that conversion changes, found once by converting the CJK blocks: checking a
// message is then one set lookup per character instead of a dictionary pass.
const TRADITIONAL = buildTraditionalSet();

function buildTraditionalSet(): Set<number> {
  const set = new Set<number>();
  for (const [from, to] of [[0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xf900, 0xfaff]]) {
    let block = '';
    for (let c = from; c <= to; c++) block += String.fromCharCode(c);
    const converted = charsToSimplified(block);
    if (converted.length !== block.length) {
      for (let c = from; c <= to; c++) if (charsToSimplified(String.fromCharCode(c)) !== String.fromCharCode(c)) set.add(c);
    } else {
      for (let i = 0; i < block.length; i++) if (block[i] !== converted[i]) set.add(block.charCodeAt(i));
    }
  }
  return set;
}
// Taiwan phrases → mainland phrases (網路→网络, 軟體→软件); also covers Hong Kong characters.
const toSimplified = OpenCC.Converter({ from: 'twp', to: 'cn' });

const HAN = /\p{Script=Han}/u;
// Han code units of the BMP as a table (one regex test per character was a few per cent of a
// classification), with a second bit for the traditional ones (a Set lookup per Han character was
// another per cent). A lone surrogate never matches the regex, so astral Han is not counted, as before.
const HAN_BIT = 1;
const TRADITIONAL_BIT = 2;
const HAN_BMP = buildHanTable();

function buildHanTable(): Uint8Array {
  const t = new Uint8Array(0x10000);
  for (let c = 0x3400; c < 0x10000; c++) {
    if ((c < 0xd800 || c > 0xdfff) && HAN.test(String.fromCharCode(c))) t[c] = HAN_BIT | (TRADITIONAL.has(c) ? TRADITIONAL_BIT : 0);
  }
  return t;
}

/**
 * True when the UTF-16 code unit `c` is a Han character of the table (U+3400 and above; a lone
 * surrogate never is). Below U+3400 (radicals, 〇, 々) the answer is false: test those by regex.
 */
export function isHanUnit(c: number): boolean {
  return c >= 0x3400 && (HAN_BMP[c] & HAN_BIT) !== 0;
}
const HAN_G = /\p{Script=Han}/gu;
// C0/C1 controls, zero-width and bidi formatting characters; newlines and tabs become spaces.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g;

// Order matters: longer, more specific patterns first, so an ID number is not read as a phone.
/** The masking rules, in the order they run. */
export const MASK_RULES: ReadonlyArray<readonly [MaskKind, RegExp]> = [
  ['email', /[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}/gi],
  ['url', /(?:https?:\/\/|www\.)[^\s\p{Script=Han}，。！？、；：“”‘’（）《》【】]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|cc|top|xyz|info|io|me|vip|shop|club|site|link|ly|tk|hk|tw)\b(?:\/[^\s\p{Script=Han}，。！？]*)?/giu],
  ['idno', /(?<![0-9a-z*])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dx](?![0-9a-z*])/gi],
  ['card', /(?<![0-9*])(?:62|4\d|5[1-5])\d{2}(?:[ -]?[\d*]{4}){2,3}[ -]?\d{1,4}(?![0-9*])/g],
  ['phone', /(?<![0-9*x])(?:\+?86[- ]?)?1[3-9][\dx*]{1}[- ]?[\dx*]{4}[- ]?[\dx*]{4}(?![0-9*x])|(?<![0-9])(?:0\d{2,3}-\d{7,8}|400[- ]?\d{3}[- ]?\d{4})(?![0-9])/gi],
  ['order', /(?<![0-9a-z*])(?=[a-z0-9*]*\d[a-z0-9*]*\d)[a-z]{0,4}[0-9][0-9*x]{6,}[0-9a-z]*(?![0-9a-z*])/gi],
  ['amount', /(?:[¥$]|rmb|usd|hk\$|nt\$)\s?\d+(?:[.,]\d+)*|\d+(?:[.,]\d+)*\s?(?:元|块钱|块|毛|rmb|yuan|dollars?|usd|hkd)(?![a-z])/gi],
  ['num', /\d{3,}(?:\.\d+)?/g],
];

const MASKABLE = /[0-9.@]/;

/**
 * What a text has that the mask rules need, found in one pass: each rule is tried only when the
 * text could match it (most messages with a digit have no run of three, no @ and no dot, and
 * eight regular-expression passes over each were a measurable part of a classification). A
 * replacement only removes characters and puts ` <kind> ` in their place (no digit, @, dot, colon,
 * * or x), so what the text lacks before masking it still lacks after each rule.
 */
export interface MaskFacts {
  /** Longest run of ASCII digits. */
  digits: number;
  /** Longest run of characters from [0-9*xX]. */
  orderRun: number;
  at: boolean;
  /** A dot or a colon (a URL has `www.`, `://` or `.com`). */
  dotOrColon: boolean;
}

/** The {@link MaskFacts} of a text. */
export function maskFacts(text: string): MaskFacts {
  let digits = 0;
  let orderRun = 0;
  let run = 0;
  let orun = 0;
  let at = false;
  let dotOrColon = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    run = digit ? run + 1 : 0;
    orun = digit || c === 42 /* * */ || c === 120 /* x */ || c === 88 /* X */ ? orun + 1 : 0;
    if (run > digits) digits = run;
    if (orun > orderRun) orderRun = orun;
    if (c === 64) at = true;
    else if (c === 46 || c === 58) dotOrColon = true;
  }
  return { digits, orderRun, at, dotOrColon };
}

/** False when the rule of `kind` cannot match a text with these facts (see each pattern's shortest match). */
export function mayMatch(kind: MaskKind, f: MaskFacts): boolean {
  switch (kind) {
    case 'email':
      return f.at;
    case 'url':
      return f.dotOrColon;
    case 'idno':
      return f.digits >= 17; // [1-9]\d{5}(19|20)\d{2}… : 17 digits in a row
    case 'card':
      return f.digits >= 4; // (62|4\d|5[1-5])\d{2}
    case 'phone':
      return f.digits >= 2; // 1[3-9]…, 0\d{2,3}-…, 400…
    case 'order':
      return f.orderRun >= 7; // [0-9][0-9*x]{6,}
    case 'amount':
      return f.digits >= 1;
    case 'num':
      return f.digits >= 3; // \d{3,}
  }
}

/** Makes a string safe to process: lone surrogates become U+FFFD, controls become spaces. */
export function sanitize(input: string): string {
  return input.toWellFormed().replace(CONTROL, ' ');
}

/** Counts Han characters. */
export function countHan(text: string): number {
  let n = 0;
  for (const _ of text.matchAll(HAN_G)) n++;
  return n;
}

/**
 * Normalises one text for feature extraction. Pure and deterministic.
 */
export function normalize(input: string): NormalizedText {
  let text = sanitize(input).normalize('NFKC');
  let hanCount = 0;
  let traditionalCount = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x3400) {
      const bits = HAN_BMP[c];
      if (bits & HAN_BIT) hanCount++;
      if (bits & TRADITIONAL_BIT) traditionalCount++;
    }
  }
  if (traditionalCount > 0) text = toSimplified(text);
  text = text.toLowerCase();
  const masks: Partial<Record<MaskKind, number>> = {};
  // Every rule needs a digit, a dot or an @; most messages have none and skip the rules.
  const facts = MASKABLE.test(text) ? maskFacts(text) : null;
  for (const [kind, re] of facts ? MASK_RULES : []) {
    if (!mayMatch(kind, facts!)) continue;
    text = text.replace(re, () => {
      masks[kind] = (masks[kind] ?? 0) + 1;
      return ` <${kind}> `;
    });
  }
  text = text.replace(/\s+/g, ' ').trim();
  return { text, masks, hanCount, traditionalCount };
}

/** Converts traditional to simplified Chinese, nothing else (used for keyword overrides). */
export function toSimplifiedChinese(text: string): string {
  const t = text.normalize('NFKC');
  return (charsToSimplified(t) === t ? t : toSimplified(t)).toLowerCase();
}

let foldTable: Map<number, string> | null = null;

/**
 * Folds traditional Han characters to their simplified form one character at a time (opencc-js's
 * character table, `t` → `cn`), leaving every other character as it is. Unlike
 * {@link toSimplifiedChinese} it never rewrites phrases, so the text keeps its length and its
 * character positions: search indexes character pairs of folded text, and 漫遊 and 漫游 fold to
 * the same pair.
 */
export function foldHan(text: string): string {
  if (!foldTable) {
    foldTable = new Map();
    for (const c of TRADITIONAL) {
      const s = charsToSimplified(String.fromCharCode(c));
      if (s.length === 1) foldTable.set(c, s);
    }
  }
  let out = '';
  let changed = false;
  for (let i = 0; i < text.length; i++) {
    const s = foldTable.get(text.charCodeAt(i));
    if (s !== undefined) changed = true;
    out += s ?? text[i];
  }
  return changed ? out : text;
}
