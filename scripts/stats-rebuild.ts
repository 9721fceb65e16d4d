/**
 * npm run -s stats:rebuild
 *
 * Recomputes the pre-aggregated statistics, the customer documents, the ticket index and the search
 * index from every ticket, working set and archive. The read models follow every ticket write on
 * their own; run this after restoring a backup, after importing tickets directly into the database,
 * or when the server logged that a change could not be counted. Reads every ticket once. Safe while
 * servers write: the result is a new read-model generation that their changes honour, so none is
 * lost or counted twice (store/read-model-generations.ts); a second rebuild started meanwhile is
 * refused (exit 1). Uses the configured database (MONGODB_URI, or the embedded server). Progress on
 * stderr; prints `{"tickets","months","weeks","identities","days","searchMonths","searchTerms","generation","ms"}`
 * on stdout.
 */
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { rebuildReadModels } from '../store/read-models.js';
import { flags, printJson, runCli, stderrLog } from './cli.js';

runCli(async () => {
  flags({});
  const config = loadConfig(process.env);
  const services = await createServices(config, { log: stderrLog(), models: false });
  try {
    const started = performance.now();
    const r = await rebuildReadModels(services.db, (n) => process.stderr.write(`stats:rebuild ${n} tickets read\n`));
    printJson({ ...r, ms: Math.round(performance.now() - started) });
  } finally {
    await services.close();
  }
});
