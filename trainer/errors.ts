/** Typed errors of the trainer. The staff API maps them to statuses by their stable `code`. */

/** Another training run holds the deployment-wide lock (→ 409). */
export class TrainingInProgressError extends Error {
  readonly code = 'TRAINING_IN_PROGRESS';
  constructor(readonly holder: { jobId: string; by: string; startedAt: Date }) {
    super(`a training run is already in progress (job ${holder.jobId}, started by ${holder.by} at ${holder.startedAt.toISOString()}); wait for it to finish`);
    this.name = 'TrainingInProgressError';
  }
}

/** A training run failed; `code` says how (TRAINING_FAILED, MODEL_FORMAT, CONFLICT …). */
export class TrainingRunError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TrainingRunError';
  }
}
