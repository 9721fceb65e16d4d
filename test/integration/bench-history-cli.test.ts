import { describe, expect, it } from 'vitest';
import { runScript } from '../helpers/run.js';

/**
 * bench:bot and bench:live take `--history N` (past conversations written before the second
 * measurement) and check it before they start a database or a server: a wrong value fails at once
 * with exit code 2 and says what is allowed, and nothing on stdout (each run here builds first, as
 * npm run does).
 */
describe('npm run -s bench:bot / bench:live: --history', () => {
  it.each([
    ['bench:live', '--history=-1', '-1'],
    ['bench:bot', '--history=1.5', '1.5'],
  ])('%s refuses %s', async (script, arg, value) => {
    const r = await runScript(script, [arg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--history must be a non-negative integer, got "${value}"`);
    expect(r.stdout).toBe('');
  });
});
