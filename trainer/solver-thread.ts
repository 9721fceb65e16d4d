/**
 * Entry point of a solver thread of the {@link SolverPool} (solver-pool.ts): takes classes of each
 * batch from the batch's shared counter, solves them with the classifier's pure
 * {@link solveClass}, and answers on its result port with every solution it found, then raises the
 * batch's "answered" count so the waiting thread wakes up. Every failure is answered too: the
 * pool's thread is blocked waiting, and a helper that went quiet would leave it waiting for ever.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { solveClass } from '../classifier/models/linear-svm.js';
import { CONTROL, type SolverAnswer, type SolverBatch, type SolverThreadMessage } from './solver-pool.js';

const port = parentPort;
if (!port) throw new Error('solver-thread must run in a worker thread');
const { answers } = workerData as { answers: MessagePort };

port.on('message', (batch: SolverBatch) => {
  const { problems, tasks, control } = batch;
  const total = tasks.length / 2;
  const answer: SolverAnswer = { solved: [] };
  const transfer: ArrayBuffer[] = [];
  try {
    for (let t = Atomics.add(control, CONTROL.next, 1); t < total; t = Atomics.add(control, CONTROL.next, 1)) {
      try {
        const solution = solveClass(problems[tasks[2 * t]], tasks[2 * t + 1]);
        answer.solved.push({ task: t, solution });
        transfer.push(solution.w.buffer as ArrayBuffer);
        if (solution.alpha) transfer.push(solution.alpha.buffer as ArrayBuffer);
        Atomics.add(control, CONTROL.finished, 1);
      } catch (err) {
        answer.error = { task: t, message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
        Atomics.store(control, CONTROL.next, total);
        break;
      }
    }
    answers.postMessage(answer, transfer);
  } catch (err) {
    // Posting failed (e.g. a solution that cannot be cloned): answer with the error alone.
    answers.postMessage({ solved: [], error: { task: 0, message: `could not send the solutions: ${err instanceof Error ? err.message : String(err)}` } } satisfies SolverAnswer);
  } finally {
    // The answer is on the port before the count says so: the waiting thread reads it next.
    Atomics.add(control, CONTROL.answered, 1);
    Atomics.notify(control, CONTROL.answered);
  }
});

port.postMessage({ kind: 'ready' } satisfies SolverThreadMessage);
