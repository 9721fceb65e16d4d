/**
 * The run's temporary files stay in one directory that the run removes (test/setup/temp-root.ts):
 * in this worker and in the children tests spawn.
 */
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('temporary directory of a test run', () => {
  it('is this run\'s own directory, in the worker and in spawned children', () => {
    expect(basename(tmpdir())).toMatch(/^demand-desk-tests-/);
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(require("node:os").tmpdir())'], { encoding: 'utf8' });
    expect(child).toBe(tmpdir());
    expect(dirname(tmpdir())).not.toBe(tmpdir());
  });
});
