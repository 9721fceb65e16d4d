/** Typed errors of the trainer, on the product's shared base (core/app-error.ts). */
import { AppError } from '../core/app-error.js';

/** Another training run holds the deployment-wide lock (→ 409). */
export class TrainingInProgressError extends AppError {
  readonly code = 'TRAINING_IN_PROGRESS';
  constructor(readonly holder: { jobId: string; by: string; startedAt: Date }) {
    super(`a training run is already in progress (job ${holder.jobId}, started by ${holder.by} at ${holder.startedAt.toISOString()}); wait for it to finish`);
  }
}

/** A training run failed; `code` says how (TRAINING_FAILED, MODEL_FORMAT, CONFLICT …) for the status the console shows. */
export class TrainingRunError extends AppError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A solver thread failed, did not start, or the pool was used after it was closed (see solver-pool.ts). */
export class SolverThreadError extends AppError {
  readonly code = 'SOLVER_THREAD_FAILED';
}
