/**
 * Solves the SVMs' one-vs-rest classes on several threads at once. Profiling retraining with 10,000
 * corrections put 87% of the time in the linear SVM solver, and its binary problems (one per class,
 * per calibration fold) are independent: each is a pure function of its data
 * ({@link solveClass}), so solving them on other threads gives the same model bit for bit.
 *
 * The classifier's training is synchronous (and stays so: every caller, the CLIs and the tests
 * call it as a function), so the pool is too: {@link SolverPool.runClasses} posts a batch to the
 * helper threads, solves classes on the calling thread as well, then blocks (`Atomics.wait`) until
 * the helpers have answered and reads their answers with `receiveMessageOnPort`. The calling thread
 * is the training worker thread in the server (never the event loop that answers customers) or a
 * CLI's main thread.
 *
 * The rows live in SharedArrayBuffers, so a batch costs one copy whatever the number of threads;
 * the helpers take classes from a shared counter (the fastest thread takes the next one), and the
 * solutions come back as transferred buffers.
 */
import { receiveMessageOnPort, MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { solveClass, type ClassRunner, type ClassSolution, type OneVsRestProblem } from '../classifier/models/linear-svm.js';
import { SolverThreadError } from './errors.js';
import { startSiblingWorker } from './worker-start.js';

/** Slots of a batch's control array (an Int32Array over a SharedArrayBuffer). */
export const CONTROL = {
  /** The next task to take (a thread that reads ≥ total stops). */
  next: 0,
  /** Tasks solved so far (for progress). */
  finished: 1,
  /** Helpers that have posted their answer to the batch. */
  answered: 2,
} as const;
const CONTROL_SLOTS = 3;

/** A batch as a helper thread receives it. */
export interface SolverBatch {
  problems: OneVsRestProblem[];
  /** Task t is class `tasks[2t + 1]` of problem `tasks[2t]`. */
  tasks: Int32Array;
  control: Int32Array;
}

/** A helper's answer to a batch, on its result port. */
export interface SolverAnswer {
  solved: { task: number; solution: ClassSolution }[];
  error?: { task: number; message: string; stack?: string };
}

/** What a helper tells the pool on its worker port once it has loaded the solver. */
export type SolverThreadMessage = { kind: 'ready' };

/** While waiting for the helpers, how often progress is reported (ms). */
const PROGRESS_EVERY_MS = 250;
/** How long a helper may take to start (loading modules on a busy machine). */
const START_TIMEOUT_MS = 60_000;

interface Helper {
  worker: Worker;
  /** Where its answers arrive; read only by receiveMessageOnPort, never listened to. */
  answers: MessagePort;
}

/** The thread count for a setting (config TRAIN_THREADS): at least 1, whole. */
export function threadCount(setting: number): number {
  if (!Number.isInteger(setting) || setting < 1) throw new RangeError(`thread count must be a positive integer, got ${setting}`);
  return setting;
}

/** A pool of `threads - 1` helper threads plus the thread that runs the batches. */
export class SolverPool {
  private closed = false;

  private constructor(private readonly helpers: Helper[]) {}

  /**
   * Starts `threads - 1` helper threads (the calling thread is the last one) and waits until each
   * has loaded the solver. Throws {@link SolverThreadError} when one does not start.
   */
  static async start(threads: number): Promise<SolverPool> {
    const count = threadCount(threads) - 1;
    const helpers: Helper[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const { port1, port2 } = new MessageChannel();
        const worker = startSiblingWorker(import.meta.url, 'solver-thread', { workerData: { answers: port2 }, transferList: [port2] });
        // A helper must never keep a finished CLI alive; close() ends them anyway.
        worker.unref();
        port1.unref();
        helpers.push({ worker, answers: port1 });
      }
      await Promise.all(helpers.map((h, i) => ready(h.worker, i + 1)));
    } catch (err) {
      await Promise.all(helpers.map((h) => h.worker.terminate()));
      helpers.forEach((h) => h.answers.close());
      throw err;
    }
    return new SolverPool(helpers);
  }

  /** Threads solving a batch: the helpers and the calling thread. */
  get threads(): number {
    return this.helpers.length + 1;
  }

  /**
   * A {@link ClassRunner} solving on every thread of the pool, with the same results as the
   * serial runner. Synchronous: it blocks the calling thread until the batch is solved.
   */
  readonly runClasses: ClassRunner = (problems, onProgress) => this.run(problems, onProgress);

  /** Ends the helper threads. Batches after this throw. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.helpers.map((h) => h.worker.terminate()));
    this.helpers.forEach((h) => h.answers.close());
  }

  private run(problems: readonly OneVsRestProblem[], onProgress?: (done: number, total: number) => void): ClassSolution[][] {
    if (this.closed) throw new SolverThreadError('the solver pool is closed');
    const results = problems.map((p) => new Array<ClassSolution>(p.classes));
    const taskList: number[] = [];
    problems.forEach((p, i) => {
      for (let c = 0; c < p.classes; c++) taskList.push(i, c);
    });
    const tasks = Int32Array.from(taskList);
    const total = tasks.length / 2;
    if (total === 0) return results;
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
    // With a single task the helpers would only add a copy of the rows.
    const helpers = total > 1 ? this.helpers : [];
    let posted = 0;
    let failure: unknown = null;
    let failedTask = -1;
    if (helpers.length > 0) {
      try {
        const batch: SolverBatch = { problems: problems.map(shareProblem), tasks, control };
        for (const h of helpers) {
          h.worker.postMessage(batch);
          posted++;
        }
      } catch (err) {
        // E.g. options that cannot be cloned. Helpers that got the batch stop at once (below).
        failure = new SolverThreadError(`could not send the batch to the solver threads: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        Atomics.store(control, CONTROL.next, total);
      }
    }

    // This thread takes tasks too, from the same counter.
    let reported = 0;
    const report = () => {
      const done = Atomics.load(control, CONTROL.finished);
      if (done === reported || !onProgress) return;
      try {
        onProgress((reported = done), total);
      } catch (err) {
        // A failing listener fails the batch, but only after the helpers have answered.
        if (failure === null) failure = err;
        Atomics.store(control, CONTROL.next, total);
      }
    };
    while (failure === null) {
      const t = Atomics.add(control, CONTROL.next, 1);
      if (t >= total) break;
      try {
        results[tasks[2 * t]][tasks[2 * t + 1]] = solveClass(problems[tasks[2 * t]], tasks[2 * t + 1]);
      } catch (err) {
        failure = err;
        failedTask = t;
        // Stop the helpers taking more work; the batch has failed.
        Atomics.store(control, CONTROL.next, total);
        break;
      }
      Atomics.add(control, CONTROL.finished, 1);
      report();
    }

    // Wait for every helper's answer (also after a failure here: a helper still solving must not
    // answer into the next batch).
    for (let seen = Atomics.load(control, CONTROL.answered); seen < posted; seen = Atomics.load(control, CONTROL.answered)) {
      Atomics.wait(control, CONTROL.answered, seen, PROGRESS_EVERY_MS);
      report();
    }
    const errors: string[] = [];
    helpers.slice(0, posted).forEach((h, i) => {
      const received = receiveMessageOnPort(h.answers);
      if (!received) {
        errors.push(`solver thread ${i + 1} finished without an answer`);
        return;
      }
      const answer = received.message as SolverAnswer;
      for (const { task, solution } of answer.solved) results[tasks[2 * task]][tasks[2 * task + 1]] = solution;
      if (answer.error) errors.push(`solver thread ${i + 1} failed on class ${tasks[2 * answer.error.task + 1]} of problem ${tasks[2 * answer.error.task]}: ${answer.error.message}`);
    });
    if (failure instanceof SolverThreadError || (failure !== null && failedTask < 0)) throw failure;
    if (failure !== null) {
      const message = failure instanceof Error ? failure.message : String(failure);
      throw new SolverThreadError(`solving class ${tasks[2 * failedTask + 1]} of problem ${tasks[2 * failedTask]} failed: ${message}`, { cause: failure });
    }
    if (errors.length) throw new SolverThreadError(errors.join('; '));
    results.forEach((r, p) => {
      for (let c = 0; c < r.length; c++) if (!r[c]) throw new SolverThreadError(`class ${c} of problem ${p} was not solved by any thread`);
    });
    report();
    if (failure !== null) throw failure;
    return results;
  }
}

/**
 * Runs `fn` with a pool of `threads` (the calling thread included) and closes the pool after.
 * With one thread there is no pool: `fn` gets undefined, which means "solve here, serially".
 */
export async function withSolverPool<T>(threads: number, fn: (runClasses: ClassRunner | undefined) => T | Promise<T>): Promise<T> {
  if (threadCount(threads) === 1) return fn(undefined);
  const pool = await SolverPool.start(threads);
  try {
    return await fn(pool.runClasses);
  } finally {
    await pool.close();
  }
}

function ready(worker: Worker, n: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new SolverThreadError(`solver thread ${n} did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    const onMessage = (m: SolverThreadMessage) => done(m.kind === 'ready' ? null : new SolverThreadError(`solver thread ${n} sent ${JSON.stringify(m)} while starting`));
    const onError = (err: Error) => done(new SolverThreadError(`solver thread ${n} could not start: ${err.message}`, { cause: err }));
    const onExit = (code: number) => done(new SolverThreadError(`solver thread ${n} stopped while starting (exit code ${code})`));
    function done(err: SolverThreadError | null) {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/** The problem with its large arrays in shared memory, so every helper reads one copy. */
function shareProblem(p: OneVsRestProblem): OneVsRestProblem {
  const rw = p.opts.rowWeights;
  return {
    ...p,
    x: { ...p.x, indptr: share(p.x.indptr), indices: share(p.x.indices), values: share(p.x.values) },
    labels: ArrayBuffer.isView(p.labels) ? share(p.labels as Int32Array) : Int32Array.from(p.labels),
    opts: { ...p.opts, ...(rw ? { rowWeights: ArrayBuffer.isView(rw) ? share(rw as Float64Array) : Float64Array.from(rw) } : {}) },
    ...(p.start ? { start: p.start.map((a) => (ArrayBuffer.isView(a) ? share(a as Float64Array) : Float64Array.from(a))) } : {}),
  };
}

type NumericArray = Int32Array | Float32Array | Float64Array | Int8Array;

function share<T extends NumericArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const copy = new Ctor(new SharedArrayBuffer(a.byteLength));
  copy.set(a as never);
  return copy;
}
