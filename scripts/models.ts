/**
 * npm run -s models -- list | show <version> | activate <version> [--by <name>]
 *
 * The model registry from the command line, for automation: list the versions (the active one
 * marked), show one version's record (metrics, evaluation, provenance), or activate a version —
 * also how to roll back. Activation checks the artifact first; a corrupt or incompatible version is
 * refused (exit code 1) and the active version stays. Running bots switch within MODEL_POLL_MS.
 * Uses the configured database (MONGODB_URI, or joins the embedded server `npm start` runs).
 * One JSON document on stdout.
 */
import { userInfo } from 'node:os';
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { flags, printJson, runCli, stderrLog, UsageError } from './cli.js';

const USAGE = 'usage: npm run -s models -- list | show <version> | activate <version> [--by <name>]';

runCli(async () => {
  const { values, positionals } = flags({ by: { type: 'string' } }, undefined, 'list | show <version> | activate <version>');
  const [command, version, ...extra] = positionals;
  if (!command || !['list', 'show', 'activate'].includes(command)) throw new UsageError(USAGE);
  if ((command === 'list') !== (version === undefined) || extra.length) throw new UsageError(USAGE);

  const services = await createServices(loadConfig(process.env), { log: stderrLog() });
  try {
    // createServices registered the shipped model, so it is listed and can be rolled back to even before a bot has started.
    const models = services.models;
    if (command === 'list') {
      const { active, items } = await models.list();
      printJson({ active, items });
    } else if (command === 'show') {
      printJson(await models.get(version));
    } else {
      printJson(await models.activate(version, values.by ?? `cli:${userInfo().username}`, 'cli'));
    }
  } finally {
    await services.close();
  }
});
