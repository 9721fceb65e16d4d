/**
 * Spam and garbage signals: cheap, named binary features that the spam head learns weights for.
 * They are computed on the normalised text (traditional already folded to simplified) plus the
 * masks that normalisation recorded.
 */
import type { NormalizedText } from './normalize.js';

// Contact-me patterns: 加V, 加微, 薇信, 威信, V信, vx, ➕v, 扣扣, QQ群, telegram/whatsapp/line ids.
const CONTACT = /(?:加|\+|➕)\s*(?:v|微|薇|威|q|扣|群)|[薇威徽]信|v信|\bvx\b|\bwx\b|扣扣|q群|qq群|qq\s*[:：]|微信号|私聊|私信我|telegram|whatsapp|\bline\s*(?:id|[:：@])|飞机号|tg\s*[:：@]/iu;
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

/** Names of the signals present in a text. */
export function spamSignals(norm: NormalizedText, tokens: readonly string[]): string[] {
  const t = norm.text;
  const out: string[] = [];
  const m = norm.masks;
  if (m.url) out.push('sig:url');
  if (m.email) out.push('sig:email');
  if (m.phone) out.push('sig:phone');
  if (CONTACT.test(t)) out.push('sig:contact');
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
  const rest = t.replace(/<[a-z]+>/g, '').trim();
  if (!MEANINGFUL.test(rest)) out.push(m.url ? 'sig:link-only' : 'sig:no-words');
  else if (m.url && rest.length < 12) out.push('sig:link-mostly');
  const chars = Array.from(rest.replace(/\s/g, ''));
  if (chars.length >= 6 && new Set(chars).size / chars.length < 0.35) out.push('sig:low-variety');
  if (chars.length <= 3) out.push('sig:very-short');
  if (tokens.length === 0) out.push('sig:no-tokens');
  return out;
}
