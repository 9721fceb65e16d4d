/**
 * Usage: node --import tsx test/helpers/temp-dir-child.ts <ok|error|exit|signal>
 *
 * A stand-in benchmark for test/unit/temp-dir.test.ts: makes its temporary directory (path on the
 * first stdout line, with a file in it, as a database would leave), registers a stop that takes a
 * while (as stopping a database does), then ends as told: normally, by an error, by `process.exit`,
 * or by waiting for a signal.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../scripts/cli.js';
import { benchTempDir } from '../../scripts/temp-dir.js';

const how = process.argv[2];
runCli(async () => {
  const dir = benchTempDir('temp-dir-child-');
  writeFileSync(join(dir.path, 'db.sqlite'), 'rows');
  dir.onInterrupt(async () => {
    await new Promise((r) => setTimeout(r, 300));
    // Outside the directory: whether the stop ran before the directory went.
    writeFileSync(`${dir.path}.stopped`, String(existsSync(join(dir.path, 'db.sqlite'))));
  });
  process.stdout.write(`${dir.path}\n`);
  try {
    if (how === 'error') throw new Error('the benchmark failed');
    if (how === 'exit') process.exit(3);
    if (how === 'signal') await new Promise(() => setInterval(() => undefined, 1000));
  } finally {
    dir.remove();
  }
});
