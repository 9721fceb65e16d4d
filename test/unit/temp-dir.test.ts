/**
 * The benchmarks' temporary directories (scripts/temp-dir.ts) are removed however a run ends:
 * success, an error, `process.exit`, SIGINT or SIGTERM (after the run's stops). A real child
 * process each time, with its own TMPDIR so that other runs' directories are never looked at.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';

const root = mkdtempSync(join(tmpdir(), 'temp-dir-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(how: string, signal?: NodeJS.Signals): Promise<{ code: number | null; dir: string; left: string[]; stderr: string }> {
  const own = mkdtempSync(join(root, 'tmp-'));
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/helpers/temp-dir-child.ts'), how], { env: { ...process.env, TMPDIR: own }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const dir = await new Promise<string>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0]);
    });
    child.on('close', () => resolve(stdout.split('\n')[0]));
  });
  // The directory existed while the run went on.
  if (signal) {
    expect(existsSync(join(dir, 'db.sqlite'))).toBe(true);
    child.kill(signal);
  }
  const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('close', (c) => resolve(c))));
  // tsx keeps its compile cache in TMPDIR (tsx-<uid>): not the run's.
  return { code, dir, left: readdirSync(own).filter((f) => !f.startsWith('tsx-')), stderr };
}

describe('benchmark temporary directories', () => {
  it('are removed after a run that succeeds', async () => {
    const r = await run('ok');
    expect(r.dir).toMatch(/temp-dir-child-/);
    expect(r.code).toBe(0);
    expect(existsSync(r.dir)).toBe(false);
    expect(r.left).toEqual([]);
  });

  it('are removed after a run that fails, and after process.exit', async () => {
    const failed = await run('error');
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('error: the benchmark failed');
    expect(failed.left).toEqual([]);
    const exited = await run('exit');
    expect(exited.code).toBe(3);
    expect(exited.left).toEqual([]);
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('are removed after %s, once the run stopped what writes there', async (signal, exitCode) => {
    const r = await run('signal', signal);
    expect(r.code).toBe(exitCode);
    expect(existsSync(r.dir)).toBe(false);
    // Only the stop's marker is left: it ran while the directory (and its database file) was still there.
    expect(r.left).toEqual([`${r.dir.split('/').at(-1)}.stopped`]);
    expect(readFileSync(`${r.dir}.stopped`, 'utf8')).toBe('true');
  });
});
