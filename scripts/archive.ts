/**
 * npm run -s archive -- [--older-than-days N] [--apply]
 *
 * Moves resolved and closed tickets untouched for more than N days (default ARCHIVE_AFTER_DAYS,
 * 180) out of the working set into the archive collections, one per creation month
 * (store/archive.ts). Without `--apply` it only counts what would move (a dry run). Archived
 * tickets stay openable by number, listed, found by search and counted in statistics; reopening
 * one brings it back. Safe to run while the service runs, and to run again after an interruption.
 * Progress goes to stderr; the last stdout line is the JSON summary
 * `{"apply","olderThanDays","cutoff","candidates","archived","changed","resumed","byCollection","workingSet","ms"}`.
 */
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { flags, printJson, runCli, stderrLog, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({ 'older-than-days': { type: 'string' }, apply: { type: 'boolean', default: false } });
  const config = loadConfig(process.env);
  const days = values['older-than-days'] === undefined ? config.ARCHIVE_AFTER_DAYS : Number(values['older-than-days']);
  if (!Number.isInteger(days) || days < 1) throw new UsageError(`--older-than-days must be a whole number of days (at least 1), got "${values['older-than-days']}"`);
  const services = await createServices(config, { log: stderrLog(), models: false });
  try {
    const started = performance.now();
    const summary = await services.store.archive({ apply: values.apply, olderThanDays: days, progress: (n) => process.stderr.write(`archive: ${n} tickets moved\n`) });
    if (!values.apply) process.stderr.write(`archive: dry run, ${summary.candidates} tickets would move; run again with --apply to move them\n`);
    printJson({ ...summary, ms: Math.round(performance.now() - started) });
  } finally {
    await services.close();
  }
});
