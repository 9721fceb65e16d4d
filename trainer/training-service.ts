/**
 * Retraining in the background: one run at a time in the whole deployment (a lock document in the
 * database, so two processes cannot train at once either), the work itself in a worker thread (a
 * run takes seconds of synchronous CPU work that would otherwise stall every conversation of this
 * process), progress visible to every process, and a registry that only ever gains complete,
 * evaluated versions: a run that fails adds nothing and records why.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import type { Config } from '../runtime/config.js';
import { AppError } from '../core/app-error.js';
import { ConflictError } from '../store/errors.js';
import type { Store } from '../store/index.js';
import { TrainingInProgressError, TrainingRunError } from './errors.js';
import type { TrainerLog, ModelHolder } from './model-holder.js';
import type { TrainingJobInput, TrainingJobResult } from './training-job.js';
import type { WorkerMessage } from './training-worker.js';
import { startSiblingWorker } from './worker-start.js';

export interface TrainingStatus {
  state: 'idle' | 'running' | 'succeeded' | 'failed';
  jobId: string | null;
  by: string | null;
  seed: number | null;
  /** What the run is doing now (or where it ended). */
  stage: string | null;
  /** 0..1 */
  progress: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The version the run added (succeeded only). */
  version: string | null;
  error: { code: string; message: string } | null;
}

export interface TrainingServiceOptions {
  store: Pick<Store, 'training' | 'models' | 'keywordEdits' | 'trainingJobs'>;
  /**
   * The audit trail of a change already stored (desk/tickets.ts `auditAfterChange`): a version
   * registered is not reported as failed when only its `model.register` entry could not be
   * written (the entry is kept and written when the database takes it). A run reported failed
   * would be trained again, and find its version registered already (CONFLICT).
   */
  audit: ChangeAudit;
  /** The live model: evaluated beside each new version. */
  holder: ModelHolder;
  config: Pick<Config, 'DATA_DIR' | 'TOKENIZER' | 'MAX_TEXT_LENGTH'> & Partial<Pick<Config, 'WORD_VECTORS_PATH' | 'TRAIN_THREADS'>>;
  log: TrainerLog;
  /** How often a running job refreshes its lock and progress in the database (ms). */
  heartbeatMs?: number;
  /**
   * Runs one job (default: {@link runInWorker}, a worker thread). A test hands in a job of its own
   * to exercise what the service does with a result without minutes of real training.
   */
  runJob?: TrainingJobRunner;
}

/** Records the audit entry of a change already stored; never throws (desk/tickets.ts `auditAfterChange`). */
export interface ChangeAudit {
  auditAfterChange(actor: string, action: string, target: string | null, details?: Record<string, unknown>): Promise<void>;
}

/** Runs a training job to its result, reporting progress; `onStart` gets the worker it runs in, if any (for {@link TrainingService.stop}). */
export type TrainingJobRunner = (input: TrainingJobInput, onProgress: (fraction: number, stage: string) => void, onStart: (worker: Worker) => void) => Promise<TrainingJobResult>;

export interface StartedTraining {
  jobId: string;
  /** Settles when the run ends; never rejects (a failure is a `failed` status). */
  done: Promise<TrainingStatus>;
}

const IDLE: TrainingStatus = { state: 'idle', jobId: null, by: null, seed: null, stage: null, progress: 0, startedAt: null, finishedAt: null, version: null, error: null };

export class TrainingService {
  /** The run of this process, while it runs. */
  private running: TrainingStatus | null = null;
  /** Its worker and its end, for {@link stop}. */
  private worker: Worker | null = null;
  private finished: Promise<TrainingStatus> | null = null;
  private stopping = false;

  constructor(private readonly opts: TrainingServiceOptions) {}

  /**
   * Starts a run and returns at once. Throws {@link TrainingInProgressError} when a run is going on
   * in this or any other process.
   */
  async start(request: { by: string; seed?: number; searchC?: boolean }): Promise<StartedTraining> {
    if (this.running) throw new TrainingInProgressError({ jobId: this.running.jobId!, by: this.running.by!, startedAt: this.running.startedAt! });
    const status: TrainingStatus = { ...IDLE, state: 'running', jobId: randomUUID(), by: request.by, seed: request.seed ?? 1, stage: 'starting', startedAt: new Date() };
    // Taken before the first await, so two requests to this process cannot both get past here.
    this.running = status;
    try {
      const lock = await this.opts.store.trainingJobs.acquire({ jobId: status.jobId!, by: status.by!, seed: status.seed!, startedAt: status.startedAt! });
      if (!lock.acquired) throw new TrainingInProgressError(lock.holder);
    } catch (err) {
      this.running = null;
      throw err;
    }
    this.finished = this.run(status, request.searchC ?? false);
    return { jobId: status.jobId!, done: this.finished };
  }

  /**
   * Graceful shutdown: ends this process's run (it is recorded as failed and the lock released, so
   * another process can train at once instead of waiting for the lock to go stale).
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    await this.worker?.terminate();
    await this.finished;
  }

  /** This process's run, else the run another process holds the lock for, else the last outcome. */
  async status(): Promise<TrainingStatus> {
    if (this.running) return { ...this.running };
    const jobs = this.opts.store.trainingJobs;
    const [lock, last] = await Promise.all([jobs.current(), jobs.last()]);
    if (lock) return { ...IDLE, state: 'running', jobId: lock.jobId, by: lock.by, seed: lock.seed, stage: lock.stage, progress: lock.progress, startedAt: lock.startedAt };
    if (last) return { ...last, progress: last.state === 'succeeded' ? 1 : 0 };
    return { ...IDLE };
  }

  private async run(status: TrainingStatus, searchC: boolean): Promise<TrainingStatus> {
    const { store, log } = this.opts;
    const jobId = status.jobId!;
    const heartbeat = setInterval(() => {
      store.trainingJobs.heartbeat(jobId, status.stage!, status.progress).catch((err: Error) => log.warn({ err: err.message, jobId }, 'training heartbeat failed'));
    }, this.opts.heartbeatMs ?? 2000);
    try {
      status.stage = 'reading corrections and keyword edits';
      const [examples, edits] = await Promise.all([store.training.all(), store.keywordEdits.latestAll()]);
      const input: TrainingJobInput = {
        dataDir: this.opts.config.DATA_DIR,
        tokenizer: this.opts.config.TOKENIZER,
        wordVectorsPath: this.opts.config.WORD_VECTORS_PATH,
        maxLength: this.opts.config.MAX_TEXT_LENGTH,
        seed: status.seed!,
        corrections: examples.map((e) => ({ ticketNumber: e.ticketNumber, text: e.text, topic: e.topic, type: e.type, spam: e.spam === true })),
        keywordEdits: Object.fromEntries(Object.entries(edits).map(([topic, rev]) => [topic, rev.edits])),
        keywordRevisions: Object.fromEntries(Object.entries(edits).map(([topic, rev]) => [topic, rev.revision])),
        activeArtifact: this.opts.holder.current.artifact,
        searchC,
        threads: this.opts.config.TRAIN_THREADS,
      };
      const result = await (this.opts.runJob ?? runInWorker)(
        input,
        (fraction, stage) => {
          status.progress = fraction;
          status.stage = stage;
        },
        (worker) => {
          this.worker = worker;
          if (this.stopping) void worker.terminate();
        },
      );
      status.stage = 'registering';
      await this.register(result, status);
      Object.assign(status, { state: 'succeeded', stage: 'done', progress: 1, version: result.artifact.version });
      log.info({ jobId, version: status.version, trainSeconds: result.provenance.trainSeconds }, 'model version trained');
    } catch (err) {
      status.state = 'failed';
      status.error = this.stopping
        ? { code: 'TRAINING_FAILED', message: 'the training run was stopped because its process shut down' }
        : { code: err instanceof AppError ? err.code : 'TRAINING_FAILED', message: err instanceof Error ? err.message : String(err) };
      log.warn({ jobId, stage: status.stage, error: status.error }, 'training run failed; the registry is unchanged');
    } finally {
      clearInterval(heartbeat);
      status.finishedAt = new Date();
      this.running = null;
      this.worker = null;
      this.stopping = false;
    }
    try {
      await store.trainingJobs.finish({
        jobId,
        by: status.by!,
        seed: status.seed!,
        startedAt: status.startedAt!,
        finishedAt: status.finishedAt,
        state: status.state as 'succeeded' | 'failed',
        stage: status.stage!,
        version: status.version,
        error: status.error,
      });
    } catch (err) {
      // The lock then expires by itself (no heartbeat); the outcome is in the log.
      log.error({ jobId, err: (err as Error).message }, 'could not record the training outcome');
    }
    return { ...status };
  }

  /** Adds the version (one insert: it is in the registry completely or not at all). */
  private async register({ artifact, metrics, provenance }: TrainingJobResult, status: TrainingStatus): Promise<void> {
    const { store } = this.opts;
    try {
      await store.models.add(
        {
          version: artifact.version,
          createdAt: new Date(artifact.createdAt),
          trainedBy: status.by!,
          metrics: { ...metrics },
          trainingDataHash: artifact.trainingDataHash,
          taxonomyVersion: artifact.taxonomyVersion,
          seed: artifact.seed,
          provenance,
        },
        artifact,
      );
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new TrainingRunError('CONFLICT', `version ${artifact.version} already exists: the corrections, keyword edits and seed are the same as when it was trained, so there is nothing new to learn`);
      }
      throw err;
    }
    await this.opts.audit.auditAfterChange(status.by!, 'model.register', artifact.version, { jobId: status.jobId, seed: artifact.seed, corrections: provenance.corrections, trainSeconds: provenance.trainSeconds });
  }
}

/** Runs a job in a worker thread (training-worker.ts). */
function runInWorker(input: TrainingJobInput, onProgress: (fraction: number, stage: string) => void, onStart: (worker: Worker) => void): Promise<TrainingJobResult> {
  const worker = startSiblingWorker(import.meta.url, 'training-worker', { workerData: input });
  onStart(worker);
  return new Promise<TrainingJobResult>((resolve, reject) => {
    let settled = false;
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'progress') onProgress(m.fraction, m.stage);
      else if (m.kind === 'done') {
        settled = true;
        resolve(m.result);
      } else {
        settled = true;
        reject(new TrainingRunError(m.error.code, m.error.message));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(new TrainingRunError('TRAINING_FAILED', `the training worker crashed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new TrainingRunError('TRAINING_FAILED', `the training worker stopped (exit code ${code}) before it finished`));
    });
  }).finally(() => void worker.terminate());
}
