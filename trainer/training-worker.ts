/**
 * Entry point of the training worker thread. Training is synchronous CPU work of several seconds
 * (10 s for the shipped corpus); run on the server's main thread it would stall every bot
 * conversation for that long, so it runs here and reports back by messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ClassifierError } from '../classifier/errors.js';
import { runTrainingJob, type TrainingJobInput, type TrainingJobResult } from './training-job.js';

/** Messages from the worker to the training service. */
export type WorkerMessage =
  | { kind: 'progress'; fraction: number; stage: string }
  | { kind: 'done'; result: TrainingJobResult }
  | { kind: 'failed'; error: { code: string; message: string } };

const port = parentPort;
if (!port) throw new Error('training-worker must run in a worker thread');

let lastSent = { fraction: -1, stage: '' };
const send = (m: WorkerMessage) => port.postMessage(m);

runTrainingJob(workerData as TrainingJobInput, (fraction, stage) => {
  // The trainer reports very often; a message per half percent or new stage is plenty.
  if (stage === lastSent.stage && fraction - lastSent.fraction < 0.005 && fraction < 1) return;
  lastSent = { fraction, stage };
  send({ kind: 'progress', fraction, stage });
}).then(
  (result) => send({ kind: 'done', result }),
  (err: unknown) => {
    // Classifier errors keep their code (TRAINING_FAILED, MODEL_FORMAT …); anything else, such as a
    // corpus file with a bad row, is a failed training run with the error's message.
    const code = err instanceof ClassifierError ? err.code : 'TRAINING_FAILED';
    send({ kind: 'failed', error: { code, message: err instanceof Error ? err.message : String(err) } });
  },
);
