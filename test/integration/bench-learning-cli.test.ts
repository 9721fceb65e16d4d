import { describe, expect, it } from 'vitest';
import { loadRealtext } from '../../runtime/training-sources.js';
import { runScript } from '../helpers/run.js';

/**
 * bench:learning's flags are checked before any training starts (a full curve takes half an hour
 * on a busy machine; each run here builds first, as npm run does): a wrong setting fails at once with exit code 2 and says what is allowed.
 */
describe('npm run -s bench:learning: flags', () => {
  it.each([
    [['--start', 'scratch'], '--start is shipped or held-back'],
    [['--correction-weight', '0'], '--correction-weight must be a positive number'],
  ])('refuses %j', async (args, message) => {
    const r = await runScript('bench:learning', args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it.skipIf(loadRealtext() === null)('refuses more corrections than its split holds (the development split feeds 396 rows)', async () => {
    const r = await runScript('bench:learning', ['--split', 'dev', '--steps', '0,397']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('at most 396 corrections are available with --split dev');
  });
});
