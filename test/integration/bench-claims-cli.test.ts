import { describe, expect, it } from 'vitest';
import { lastJson, runScript } from '../helpers/run.js';

/**
 * bench:claims times claims against a reference collection on its own embedded database: every
 * timed call is counted, a claim held by another owner is never granted (the run fails if it is),
 * and the claims it takes and releases leave nothing behind but the one it holds at the end.
 */
describe('npm run -s bench:claims', () => {
  it('times each claim and its reference, one writer and several at once, and leaves no released claim behind', async () => {
    const r = await runScript('bench:claims', ['--json', '--calls', '30', '--existing', '50', '--concurrency', '1,4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = lastJson(r.stdout) as {
      existing: number;
      claimDocsAtEnd: number;
      rounds: { concurrency: number; claim: { calls: number; p50Ms: number }; release: { calls: number }; refInsert: { calls: number; p50Ms: number }; refDelete: { calls: number } }[];
      lostClaim: { calls: number };
      pruneNothingOldMs: number;
    };
    expect(out.rounds.map((x) => x.concurrency)).toEqual([1, 4]);
    for (const round of out.rounds) {
      expect([round.claim.calls, round.release.calls, round.refInsert.calls, round.refDelete.calls]).toEqual([30, 30, 30, 30]);
      expect(round.claim.p50Ms).toBeGreaterThan(0);
      expect(round.refInsert.p50Ms).toBeGreaterThan(0);
    }
    expect(out.lostClaim.calls).toBe(30);
    // The 50 written first and the one held for the lost claims: every claim taken was released.
    expect(out.claimDocsAtEnd).toBe(51);
    expect(out.pruneNothingOldMs).toBeGreaterThanOrEqual(0);
  });

  it('refuses a concurrency that is not a positive whole number, with exit code 2', async () => {
    const r = await runScript('bench:claims', ['--concurrency', '1,0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--concurrency a list of positive integers');
    expect(r.stdout).toBe('');
  });
});
