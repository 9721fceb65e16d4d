/** How a model version is listed (API and CLI): identity, who trained and activated it, headline figures. */
import type { ModelRecord } from '../store/model-registry.js';
import type { ModelMetrics } from './training-job.js';

export function modelSummary(r: ModelRecord, active: string) {
  // The shipped model has training metrics only; trained versions also carry their evaluation.
  const evaluation = (r.metrics as Partial<ModelMetrics>).evaluation?.candidate;
  return {
    version: r.version,
    createdAt: r.createdAt,
    trainedBy: r.trainedBy,
    trainingDataHash: r.trainingDataHash,
    taxonomyVersion: r.taxonomyVersion,
    seed: r.seed,
    active: r.version === active,
    activatedAt: r.activatedAt,
    activatedBy: r.activatedBy,
    trainingRows: r.provenance?.trainingRows ?? null,
    corrections: r.provenance?.corrections ?? null,
    evaluation: evaluation
      ? { topicAccuracy: evaluation.topic.accuracy, topicMacroF1: evaluation.topic.macroF1, typeAccuracy: evaluation.type.accuracy, reviewRate: evaluation.reviewRate }
      : null,
  };
}
