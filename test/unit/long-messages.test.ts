/**
 * Issue 14: a 60 KB web chat message cost the server about 0.8 s, all of it in one regular
 * expression (`\S*[@\d]\S*`, the language tracker's "drop codes and addresses") backtracking from
 * every position of a long word: quadratic in the message's length. The work must grow in step with
 * the input (here: ten times the text may cost at most a few times ten, never a hundred).
 */
import { describe, expect, it } from 'vitest';
import { withoutCodes } from '../../bot/demand-bot.js';

/** Median wall time of `runs` calls, in ms. */
function median(runs: number, f: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
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
    const ratio = median(7, () => withoutCodes(long)) / Math.max(median(7, () => withoutCodes(short)), 0.01);
    // Linear: about 10. Quadratic (the old expression): about 100.
    expect(ratio).toBeLessThan(40);
    expect(withoutCodes(long)).toBe(long);
  });
});
