/**
 * The model side of a server process, wired in one place: the live model (the shipped one until a
 * version is activated in the registry, then whatever the registry's pointer says, followed by
 * polling) and the training service.
 */
import type { PipelineDeps } from '../classifier/pipeline.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import { createPipelineDeps, loadDemandClassifier } from '../runtime/classifier-factory.js';
import type { Config } from '../runtime/config.js';
import type { Store } from '../store/index.js';
import { artifactLoader, ModelHolder, type TrainerLog } from './model-holder.js';
import { TrainingService, type ChangeAudit } from './training-service.js';

export interface ModelServices {
  holder: ModelHolder;
  training: TrainingService;
  pipelineDeps: PipelineDeps;
  /** Stops polling and ends a training run of this process (graceful shutdown). */
  stop(): Promise<void>;
}

export async function createModelServices(opts: {
  config: Config;
  taxonomy: Taxonomy;
  store: Store;
  log: TrainerLog;
  /** Where a registered version's audit entry goes (the ticket service's `auditAfterChange`). */
  audit: ChangeAudit;
  pipelineDeps?: PipelineDeps;
  /** How often a running job refreshes its lock and progress (ms; tests shorten it). */
  trainingHeartbeatMs?: number;
}): Promise<ModelServices> {
  const { config, store, log } = opts;
  const pipelineDeps = opts.pipelineDeps ?? (await createPipelineDeps(config));
  const holder = new ModelHolder({
    shipped: await loadDemandClassifier(config, pipelineDeps),
    registry: store.models,
    load: artifactLoader(pipelineDeps, opts.taxonomy, config.MAX_TEXT_LENGTH),
    log,
  });
  await holder.init();
  const stopPolling = holder.start(config.MODEL_POLL_MS);
  const training = new TrainingService({ store, holder, config, log, audit: opts.audit, heartbeatMs: opts.trainingHeartbeatMs });
  return {
    holder,
    training,
    pipelineDeps,
    async stop() {
      stopPolling();
      await training.stop();
    },
  };
}
