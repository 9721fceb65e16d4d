import { describe, expect, it } from 'vitest';
import { runScript } from '../helpers/run.js';

/**
 * bench:open checks its flags before it starts a database: a count that is not a whole number in
 * range fails at once with exit code 2 and says what is allowed, and nothing on stdout.
 */
describe('npm run -s bench:open: bad flags', () => {
  it.each([['--tickets=2.5'], ['--tickets=1'], ['--rounds=0'], ['--rounds=many']])('refuses %s', async (arg) => {
    const r = await runScript('bench:open', [arg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tickets (at least 2) and --rounds (at least 1) take whole numbers');
    expect(r.stdout).toBe('');
  });
});
