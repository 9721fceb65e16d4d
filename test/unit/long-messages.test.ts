/**
 * Issue 14: a 60 KB web chat message cost the server about 0.8 s, all of it in one regular
 * expression (`\S*[@\d]\S*`, the language tracker's "drop codes and addresses") backtracking from
 * every position of a long word: quadratic in the message's length. The work must grow in step with
 * the input (here: ten times the text may cost at most a few times ten, never a hundred).
 */
import { describe, expect, it } from 'vitest';
import { withoutCodes } from '../../bot/demand-bot.js';

/** Wall time of one call, in ms. */
function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];

/**
 * Medians of `runs` calls of `a` and of `b`, the calls alternating: both see the same moments of
 * a busy machine, so a burst of load slows both rather than one.
 */
function medians(runs: number, a: () => void, b: () => void): [number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; i++) {
    ta.push(time(a));
    tb.push(time(b));
  }
  return [median(ta), median(tb)];
}

describe('withoutCodes', () => {
  it('drops the words that hold a digit or an @, and keeps the rest as it was', () => {
    expect(withoutCodes('my mail is zhang.san@qq,com please')).toBe('my mail is   please');
    expect(withoutCodes('订单 12345 还没到')).toBe('订单   还没到');
    expect(withoutCodes('退款T20261206-0042没到 好的')).toBe('  好的');
    expect(withoutCodes('  spaces\tand\nlines  ')).toBe('  spaces\tand\nlines  ');
    expect(withoutCodes('')).toBe('');
    // The same as the expression it replaces, on what that one could still do in time.
    const old = (t: string) => t.replace(/\S*[@\d]\S*/g, ' ');
    for (const t of ['a1 b c@d e', '快递3天了 没到', 'x@y', '1 2 3', 'no codes here', '中文@中文 英文']) expect(withoutCodes(t)).toBe(old(t));
  });

  it('takes time in step with the length of a long message without spaces (not its square)', () => {
    const short = '投诉'.repeat(2_000); // 4,000 characters
    const long = '投诉'.repeat(20_000); // 40,000 characters (a 120 KB message)
    withoutCodes(long); // warm up
    const [longMs, shortMs] = medians(9, () => withoutCodes(long), () => withoutCodes(short));
    const ratio = longMs / Math.max(shortMs, 0.01);
    // Linear: about 10. Quadratic (the old expression): about 100.
    expect(ratio).toBeLessThan(40);
    expect(withoutCodes(long)).toBe(long);
  });
});
