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
import { createPipelineDeps, loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { loadTaxonomy } from '../runtime/project-data.js';
import { MongoAuditLog } from '../store/audit-log.js';
import { openDatabase } from '../store/database.js';
import { MongoModelRegistry } from '../store/model-registry.js';
import { artifactLoader, ModelHolder } from '../trainer/model-holder.js';
import { modelSummary } from '../trainer/model-summary.js';
import { flags, printJson, runCli, UsageError } from './cli.js';

const USAGE = 'usage: npm run -s models -- list | show <version> | activate <version> [--by <name>]';

runCli(async () => {
  const { values, positionals } = flags({ by: { type: 'string' } });
  const [command, version, ...extra] = positionals;
  if (!command || !['list', 'show', 'activate'].includes(command)) throw new UsageError(USAGE);
  if ((command === 'list') !== (version === undefined) || extra.length) throw new UsageError(USAGE);

  const config = loadConfig(process.env);
  const log = { info: (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`), warn: (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`) };
  const database = await openDatabase(config, { info: () => {}, warn: log.warn });
  try {
    const registry = new MongoModelRegistry(database.db);
    const deps = await createPipelineDeps(config);
    const holder = new ModelHolder({
      shipped: await loadDemandClassifier(config, deps),
      registry,
      load: artifactLoader(deps, loadTaxonomy(config.DATA_DIR), config.MAX_TEXT_LENGTH),
      log: { ...log, error: log.warn },
    });
    // So the shipped model is listed and can be rolled back to even before a bot has started.
    await holder.registerShipped();
    const active = (await registry.activeVersion()) ?? holder.shippedVersion;
    if (command === 'list') {
      printJson({ active, items: (await registry.list()).map((r) => modelSummary(r, active)) });
    } else if (command === 'show') {
      const record = await registry.get(version);
      if (!record) throw new Error(`model version ${version} not found`);
      printJson({ ...record, active: record.version === active });
    } else {
      const by = values.by ?? `cli:${userInfo().username}`;
      const r = await holder.activate(version, by);
      await new MongoAuditLog(database.db).record({ actor: by, action: 'model.activate', target: r.version, details: { previous: active, via: 'cli' } });
      printJson({ active: r.version, previous: active });
    }
  } finally {
    await database.close();
  }
});
