// The classification hot path replaced regular expressions, Sets and array copies with loops and
// tables. Each fast path is checked here against the plain definition it replaced, on inputs chosen
// to reach its corners; the README's byte-identical comparison checks them on real data.
import { describe, expect, it } from 'vitest';
import { CharClass } from '../../classifier/char-class.js';
import { countScripts } from '../../classifier/language.js';
import { MASK_RULES, maskFacts, mayMatch } from '../../classifier/normalize.js';
import { distinct } from '../../classifier/pipeline.js';
import { CONTACT, CONTACT_START, characterVariety } from '../../classifier/signals.js';

/** A deterministic generator of test strings over an alphabet of interesting characters. */
function randomTexts(alphabet: readonly string[], count: number, maxLength: number, seed = 7): string[] {
  let x = seed;
  const next = () => {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9;
    return ((x >>> 0) % 1_000_003) / 1_000_003;
  };
  return Array.from({ length: count }, () => {
    const n = Math.floor(next() * maxLength);
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(next() * alphabet.length)];
    return s;
  });
}

const SCRIPTS = ['a', 'Z', 'é', 'я', 'ж', 'ا', 'ก', 'カ', '한', '中', '國', ' ', '<', '>', '1', '.', '😀', '𠀀', '\ud800', '\udc00', '̀', 'ſ', 'K'];

describe('countScripts (a character loop and a table)', () => {
  // The definition it replaced.
  function reference(text: string) {
    let latin = 0;
    let latinWords = 0;
    for (const m of text.matchAll(/[a-z]+/gi)) {
      const before = m.index > 0 ? text[m.index - 1] : '';
      if (before !== '<') {
        latin += m[0].length;
        latinWords++;
      }
    }
    let other = 0;
    for (const _ of text.matchAll(/[^\p{Script=Han}\p{Script=Latin}\p{Script=Common}\p{Script=Inherited}]/gu)) other++;
    return { han: 3, latin, latinWords, other, traditional: 1 };
  }

  it('counts Latin words, their letters and letters of other scripts as the regular expressions did', () => {
    const texts = [...randomTexts(SCRIPTS, 3000, 24), '<url> abc<num>x', 'abc', '<', 'Привет как дела', 'Ｆｕｌｌ'];
    for (const t of texts) expect(countScripts(t, 3, 1), JSON.stringify(t)).toEqual(reference(t));
  });
});

describe('CharClass', () => {
  it('answers as its pattern for every BMP code unit (lone surrogates included) and astral code points', () => {
    const han = /\p{Script=Han}/u;
    const table = new CharClass(han);
    for (let c = 0; c < 0x10000; c++) expect(table.has(c)).toBe(han.test(String.fromCharCode(c)));
    // Twice: the second answer comes from the table.
    for (const c of [0x4e2d, 0x41, 0xd800]) expect(table.has(c)).toBe(han.test(String.fromCharCode(c)));
    for (const c of [0x20000, 0x1f600, 0x2a6a5]) expect(table.has(c)).toBe(han.test(String.fromCodePoint(c)));
  });

  it('refuses a global pattern (test would keep state between calls)', () => {
    expect(() => new CharClass(/a/gu)).toThrow(RangeError);
  });
});

describe('characterVariety (spam signals without copies)', () => {
  const SPACES = [' ', '\t', '\n', '\u000b', '\u000c', '\r', '\u00a0', '\u1680', '\u2000', '\u2005', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff', '\u200b', '\u180e'];

  it('counts non-space code points and distinct ones as Array.from and a Set did', () => {
    const texts = [...randomTexts([...SPACES, 'a', 'b', '中', '中', '😀', '𠀀', '\ud800', 'x'], 3000, 30), 'a'.repeat(100) + 'b'.repeat(100) + '中文'.repeat(50)];
    for (const t of texts) {
      const chars = Array.from(t.replace(/\s/g, ''));
      const got = characterVariety(t);
      expect(got.count, JSON.stringify(t)).toBe(chars.length);
      if (chars.length >= 6) expect(got.distinct, JSON.stringify(t)).toBe(new Set(chars).size);
    }
  });
});

describe('distinct tokens', () => {
  it('keeps first-seen order, short and long lists alike', () => {
    const short = ['a', 'b', 'a', 'c', 'b', 'd'];
    expect(distinct(short)).toEqual(['a', 'b', 'c', 'd']);
    const long = Array.from({ length: 100 }, (_, i) => `t${(i * 7) % 23}`);
    expect(distinct(long)).toEqual([...new Set(long)]);
    expect(distinct([])).toEqual([]);
  });
});

describe('mask rules are skipped only when they cannot match', () => {
  it('no rule that matches, at its turn in the order, was judged impossible from the text before masking', () => {
    const alphabet = ['1', '3', '8', '0', '6', '2', '4', '5', '9', '7', 'x', 'X', '*', '-', ' ', '.', ',', '@', ':', '/', 'a', 'c', 'm', 'o', 'w', '元', '块', '¥', '$', '中', 'rmb', 'usd', '.com', 'www.', 'http://', '+86'];
    const texts = [
      ...randomTexts(alphabet, 6000, 40, 11),
      'a@b.cn', 'www.x.cn/a', 'http://x', '110101199003074518', '6222 0212 3456 7890', '13812345678', '010-12345678', '400 123 4567',
      'ab1234567', '1x*4567', '¥12.5', '3块钱', '12元', '123', '12', '1',
    ];
    let matched = 0;
    for (const original of texts) {
      const facts = maskFacts(original);
      let text = original;
      for (const [kind, re] of MASK_RULES) {
        const hit = new RegExp(re.source, re.flags.replace('g', '')).test(text);
        if (hit) {
          matched++;
          expect(mayMatch(kind, facts), `${kind} in ${JSON.stringify(original)}`).toBe(true);
        }
        text = text.replace(re, ` <${kind}> `);
      }
    }
    // The inputs do reach the rules (a test that matched nothing would prove nothing).
    expect(matched).toBeGreaterThan(1000);
  });
});

describe('the contact signal’s first-character test', () => {
  it('lets every CONTACT match through: each match starts with a CONTACT_START character', () => {
    const alphabet = ['加', '+', '➕', ' ', 'v', 'V', '微', '薇', '威', '徽', 'q', 'Q', '扣', '群', '信', 'x', 'w', 'W', '号', '私', '聊', '我', 'telegram', 'whatsapp', 'line', 'LINE', 'id', ':', '：', '@', '飞机号', 'tg', 'TG', '中', 'a'];
    let matched = 0;
    for (const t of [...randomTexts(alphabet, 8000, 8, 5), 'QQ:123', 'Telegram', '加 V', '➕薇', 'line @abc', 'wx', 'VX']) {
      const m = CONTACT.exec(t);
      if (m === null) continue;
      matched++;
      expect(CONTACT_START.test(String.fromCodePoint(m[0].codePointAt(0)!)), `${JSON.stringify(t)} matched ${JSON.stringify(m[0])}`).toBe(true);
    }
    expect(matched).toBeGreaterThan(1000);
  });
});
