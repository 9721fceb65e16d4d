/**
 * One training run, start to finish, as it runs inside the training worker: read the corpus and the
 * held-out set, merge the corrections and keyword edits, train, check that the new artifact loads,
 * and evaluate it against the active version on the same rows. Its input and output are plain data
 * (they cross the worker boundary by structured clone); it writes nothing anywhere.
 */
import { DemandClassifier, trainDemandModel } from '../classifier/demand-classifier.js';
import type { KeywordEdits } from '../classifier/models/keyword.js';
import type { LabelModelMetrics } from '../classifier/models/label-model.js';
import type { ModelArtifact } from '../classifier/pipeline.js';
import { createPipelineDeps } from '../runtime/classifier-factory.js';
import type { TokenizerChoice } from '../runtime/config.js';
import { loadHoldout, loadKeywordOverrides, loadTaxonomy } from '../runtime/project-data.js';
import { loadTrainingSources } from '../runtime/training-sources.js';
import type { ModelProvenance } from '../store/model-registry.js';
import { withSolverPool } from './solver-pool.js';
import { evaluateModel, evaluationRows, type ModelEvaluation } from './evaluation.js';
import { mergeCorrections, mergeKeywordOverrides, type CorrectionRow } from './training-data.js';

export interface TrainingJobInput {
  dataDir: string;
  tokenizer: TokenizerChoice;
  /** The pretrained word-vector table (config WORD_VECTORS_PATH); absent or missing file = none. */
  wordVectorsPath?: string;
  maxLength: number;
  seed: number;
  /** Every correction, newest first. */
  corrections: CorrectionRow[];
  /** The database's latest keyword edits per topic, and their revisions. */
  keywordEdits: Record<string, KeywordEdits>;
  keywordRevisions: Record<string, number>;
  /** Artifact of the version serving now, evaluated on the same rows; null to skip. */
  activeArtifact: unknown;
  /**
   * Search each head's SVM C by cross-validation (slow) instead of reusing the C the active
   * version chose. Without an active artifact to reuse from, C is always searched.
   */
  searchC?: boolean;
  /** Threads solving the SVMs (config TRAIN_THREADS; default 1: this thread alone). The model is the same with any count. */
  threads?: number;
  /** Read ../shared/datasets when present (default true). */
  shared?: boolean;
  /** Include the realtext_dev training rows (default true); the learning benchmark turns it off. */
  realtext?: boolean;
  /** realtext_dev file rows left out of training (the learning benchmark's development split). */
  realtextExclude?: readonly number[];
  /** SVM weight of a staff correction (default {@link DEFAULT_CORRECTION_WEIGHT}). */
  correctionWeight?: number;
  /** Heads calibrated on the corrections' out-of-fold scores (default none: README, learning curve). */
  calibrateOnCorrections?: readonly string[];
  /** Where to say that ../shared is absent (default: stderr). Must be cloneable: leave unset across the worker boundary. */
  warn?: (message: string) => void;
}

/**
 * SVM weight of a staff correction, against 1 for the team's writing and DEFAULT_REAL_WEIGHT (3) for
 * real rows from the shared data sets. A correction also replaces every corpus row with its text.
 * Weighing corrections above the other real rows (10) did not raise topic accuracy on the learning
 * curve, on the test rows or the development split (README, learning curve), so they weigh the same.
 */
export const DEFAULT_CORRECTION_WEIGHT = 3;

/** The C each head of an artifact chose, when it has the heads' usual shape. */
export function chosenC(artifact: unknown): { fixedC: Record<string, number>; from: string } | null {
  const a = artifact as { version?: unknown; heads?: Record<string, { svm?: { C?: unknown } }> } | null;
  if (!a || typeof a.version !== 'string' || typeof a.heads !== 'object' || a.heads === null) return null;
  const fixedC: Record<string, number> = {};
  for (const [name, head] of Object.entries(a.heads)) {
    const C = head?.svm?.C;
    if (typeof C === 'number' && Number.isFinite(C) && C > 0) fixedC[name] = C;
  }
  return Object.keys(fixedC).length ? { fixedC, from: a.version } : null;
}

/** The metrics stored with a version: training-time (out-of-fold) figures and the evaluation. */
export interface ModelMetrics {
  /** Out-of-fold figures of each head, measured while training. */
  heads: Record<string, LabelModelMetrics>;
  evaluation: {
    candidate: ModelEvaluation;
    /** The version that was active, on the same rows; null when it could not be loaded. */
    active: ModelEvaluation | null;
    activeError: string | null;
  };
}

export interface TrainingJobResult {
  artifact: ModelArtifact;
  provenance: ModelProvenance;
  metrics: ModelMetrics;
}

export type ProgressListener = (fraction: number, stage: string) => void;

/** Share of the progress bar that training takes; evaluation takes the rest. */
const TRAINING_SHARE = 0.92;

export async function runTrainingJob(input: TrainingJobInput, onProgress: ProgressListener): Promise<TrainingJobResult> {
  onProgress(0, 'reading the corpus');
  const taxonomy = loadTaxonomy(input.dataDir);
  const deps = await createPipelineDeps({ DATA_DIR: input.dataDir, TOKENIZER: input.tokenizer, ...(input.wordVectorsPath ? { WORD_VECTORS_PATH: input.wordVectorsPath } : {}) });
  // The shipped model's sources (corpus, acts and, when ../shared is present, real text), so a
  // retrained version learns from everything the shipped one did, plus the corrections.
  const corpus = loadTrainingSources(input.dataDir, taxonomy, {
    shared: input.shared ?? true,
    realtext: input.realtext ?? true,
    ...(input.realtextExclude ? { realtextExclude: input.realtextExclude } : {}),
    warn: input.warn,
  }).rows;
  const holdout = loadHoldout(input.dataDir, taxonomy);
  const merged = mergeCorrections(corpus, input.corrections, taxonomy);
  const overrides = mergeKeywordOverrides(loadKeywordOverrides(input.dataDir), input.keywordEdits);

  const reuse = input.searchC ? null : chosenC(input.activeArtifact);
  const started = performance.now();
  const artifact = await withSolverPool(input.threads ?? 1, (runClasses) =>
    trainDemandModel(merged.rows, taxonomy, deps, {
      seed: input.seed,
      keywordOverrides: overrides,
      ...(reuse ? { fixedC: reuse.fixedC } : {}),
      correctionWeight: input.correctionWeight ?? DEFAULT_CORRECTION_WEIGHT,
      ...(input.calibrateOnCorrections ? { calibrateOnCorrections: input.calibrateOnCorrections } : {}),
      onProgress: (f, stage) => onProgress(f * TRAINING_SHARE, stage),
      ...(runClasses ? { runClasses } : {}),
    }),
  );
  const trainSeconds = (performance.now() - started) / 1000;

  onProgress(TRAINING_SHARE, 'evaluating');
  // The round trip a bot process will do: a version that does not load is never registered.
  const candidate = DemandClassifier.load(JSON.parse(JSON.stringify(artifact)), deps, taxonomy, { maxLength: input.maxLength });
  const rows = evaluationRows(holdout, input.corrections, taxonomy);
  const candidateEval = await evaluateModel(candidate, rows, taxonomy);
  let activeEval: ModelEvaluation | null = null;
  let activeError: string | null = null;
  if (input.activeArtifact !== null) {
    try {
      activeEval = await evaluateModel(DemandClassifier.load(input.activeArtifact, deps, taxonomy, { maxLength: input.maxLength }), rows, taxonomy);
    } catch (err) {
      // An active model made for another taxonomy cannot be scored on this one; say so, keep going.
      activeError = (err as Error).message;
    }
  }
  onProgress(1, 'done');
  return {
    artifact,
    provenance: {
      corpusRows: merged.corpusRows,
      corrections: merged.corrections,
      correctionsSkipped: merged.correctionsSkipped,
      replacedCorpusRows: merged.replacedCorpusRows,
      trainingRows: artifact.trainingRows,
      keywordEdits: { overrides, revisions: input.keywordRevisions },
      svmC: reuse ? { reusedFrom: reuse.from, values: reuse.fixedC } : { searched: true },
      trainSeconds: Math.round(trainSeconds * 1000) / 1000,
    },
    metrics: {
      heads: Object.fromEntries(Object.entries(artifact.heads).map(([name, head]) => [name, head.metrics])),
      evaluation: { candidate: candidateEval, active: activeEval, activeError },
    },
  };
}
