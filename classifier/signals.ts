/**
 * Spam and garbage signals: cheap, named binary features that the spam head learns weights for.
 * They are computed on the normalised text (traditional already folded to simplified) plus the
 * masks that normalisation recorded.
 */
import type { NormalizedText } from './normalize.js';

/** Contact-me patterns: 加V, 加微, 薇信, 威信, V信, vx, ➕v, 扣扣, QQ群, telegram/whatsapp/line ids. */
export const CONTACT = /(?:加|\+|➕)\s*(?:v|微|薇|威|q|扣|群)|[薇威徽]信|v信|\bvx\b|\bwx\b|扣扣|q群|qq群|qq\s*[:：]|微信号|私聊|私信我|telegram|whatsapp|\bline\s*(?:id|[:：@])|飞机号|tg\s*[:：@]/iu;
/**
 * Every {@link CONTACT} match starts with one of these (same flags, so the same case folding):
 * testing this short class first skips the long alternation for most messages.
 */
export const CONTACT_START = /[加+➕薇威徽v扣q微私tw飞l]/iu;
const MONEY_BAIT = /日赚|月入|日结|稳赚|躺赚|返利|提现|秒批|秒到|无抵押|免息|包中|中奖|彩金|首充|注册送|彩票|博彩|百家乐|澳门|赌场|casino|jackpot|bet\b|loan|贷款|网贷|代开|兼职|刷单|点赞|回t退订|退订回|free money|click here|limited offer|winner/iu;
const BRACKETS = /【[^】]{1,12}】/u;
const REPEAT = /(.)\1{4,}/u;
const OBFUSCATED = /\p{Script=Han}[\s\-_.*·|/\\~]+\p{Script=Han}[\s\-_.*·|/\\~]+\p{Script=Han}/u;
const LATIN_RUN = /[a-z]{5,}/g;
const VOWELS = /[aeiouy]/;
const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
const MEANINGFUL = /[\p{Script=Han}a-z]/u;

/** True when a Latin run looks like keys mashed along a keyboard row or has no vowels at all. */
function isMash(word: string): boolean {
  if (!VOWELS.test(word)) return true;
  let rowRun = 0;
  for (let i = 1; i < word.length; i++) {
    const a = word[i - 1];
    const b = word[i];
    const adjacent = KEYBOARD_ROWS.some((row) => {
      const p = row.indexOf(a);
      return p >= 0 && (row[p + 1] === b || row[p - 1] === b);
    });
    rowRun = adjacent ? rowRun + 1 : 0;
    if (rowRun >= 3) return true;
  }
  return false;
}

/** JavaScript's white space: what /\s/ matches and trim() removes. */
function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 0xa0) return false;
  switch (c) {
    case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000: case 0xfeff:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

// Code points of the text being looked at (reused: signals are computed one text at a time).
let codePoints = new Int32Array(256);

/**
 * Code points of a text other than white space, and how many distinct ones (what
 * `Array.from(text.replace(/\s/g, ''))` and a Set of it gave, without the copies). The distinct
 * ones are only counted when there are at least 6 (the low-variety signal's minimum).
 */
export function characterVariety(text: string): { count: number; distinct: number } {
  if (codePoints.length < text.length) codePoints = new Int32Array(2 * text.length);
  const cps = codePoints;
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i)!;
    if (c > 0xffff) i++;
    if (!isSpace(c)) cps[count++] = c;
  }
  if (count < 6) return { count, distinct: 0 };
  // A message is short: comparing with the code points before is cheaper than a Set.
  if (count > 64) return { count, distinct: new Set(cps.subarray(0, count)).size };
  let distinct = 0;
  for (let i = 0; i < count; i++) {
    let j = 0;
    while (j < i && cps[j] !== cps[i]) j++;
    if (j === i) distinct++;
  }
  return { count, distinct };
}

/** Names of the signals present in a text. */
export function spamSignals(norm: NormalizedText, tokens: readonly string[]): string[] {
  const t = norm.text;
  const out: string[] = [];
  const m = norm.masks;
  if (m.url) out.push('sig:url');
  if (m.email) out.push('sig:email');
  if (m.phone) out.push('sig:phone');
  if (CONTACT_START.test(t) && CONTACT.test(t)) out.push('sig:contact');
  if (MONEY_BAIT.test(t)) out.push('sig:bait');
  if (BRACKETS.test(t)) out.push('sig:brackets');
  if (REPEAT.test(t)) out.push('sig:repeat');
  if (OBFUSCATED.test(t)) out.push('sig:obfuscated');
  for (const w of t.match(LATIN_RUN) ?? []) {
    if (isMash(w)) {
      out.push('sig:mash');
      break;
    }
  }
  const rest = (t.includes('<') ? t.replace(/<[a-z]+>/g, '') : t).trim();
  if (!MEANINGFUL.test(rest)) out.push(m.url ? 'sig:link-only' : 'sig:no-words');
  else if (m.url && rest.length < 12) out.push('sig:link-mostly');
  const { count, distinct } = characterVariety(rest);
  if (count >= 6 && distinct / count < 0.35) out.push('sig:low-variety');
  if (count <= 3) out.push('sig:very-short');
  if (tokens.length === 0) out.push('sig:no-tokens');
  return out;
}
