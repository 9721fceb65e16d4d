/**
 * `--history N` of the load benchmarks (bench:bot, bench:live; scripts/past-conversations.ts): one
 * check for both, a whole number of past conversations from 0, anything else a usage error that
 * names the flag and what it was given.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/cli.js';
import { historyFlag } from '../../scripts/past-conversations.js';

describe('historyFlag', () => {
  it.each([
    ['0', 0],
    ['18000', 18000],
    ['100000', 100000],
  ])('takes %j as %d past conversations', (value, count) => {
    expect(historyFlag(value)).toBe(count);
  });

  it.each(['-1', '1.5', 'abc', '', ' ', '18k', 'Infinity'])('refuses %j with a usage error naming the flag', (value) => {
    expect(() => historyFlag(value)).toThrow(UsageError);
    expect(() => historyFlag(value)).toThrow(`--history must be a non-negative integer, got "${value}"`);
  });
});
