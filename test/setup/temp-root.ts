/**
 * Vitest globalSetup: every temporary file and directory of the run goes under one fresh directory,
 * removed at the end.
 *
 * Tests, the servers they start and the CLIs they spawn make temporary directories with
 * `mkdtemp(tmpdir())` (outboxes, database files, browser profiles, mail spools). Many of them are
 * not removed by the test that made them, and a killed run removes none, so a machine that runs the
 * suite often filled its `/tmp` with thousands of directories. Setting `TMPDIR` here, before the
 * worker processes start, sends all of them (`os.tmpdir()` reads it at each call; spawned children
 * inherit it) into this run's own directory. This setup is listed first, so its teardown runs last,
 * after the database server has stopped.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const root = mkdtempSync(join(tmpdir(), 'demand-desk-tests-'));
  // Open to other users like /tmp itself: the mail peers' Dovecot drops to its own user and must
  // reach its run directory in here (mkdtemp makes it owner-only).
  chmodSync(root, 0o755);
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
