import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialClassRunner, type ClassRunner, type ClassSolution, type OneVsRestProblem } from '../../classifier/models/linear-svm.js';
import { trainLabelModel } from '../../classifier/models/label-model.js';
import { createRng } from '../../classifier/random.js';
import { toCsr, type SparseVector } from '../../classifier/sparse.js';
import { ConfigError, DEFAULT_MAX_TRAIN_THREADS, loadConfig } from '../../runtime/config.js';
import { SolverThreadError } from '../../trainer/errors.js';
import { CONTROL, SolverPool, withSolverPool, type SolverAnswer, type SolverBatch } from '../../trainer/solver-pool.js';
import { startSiblingWorker } from '../../trainer/worker-start.js';

/** A noisy k-class problem over sparse rows (overlapping classes, so the solver works for its answer). */
function problem(n: number, k: number, seed: number, extra: Partial<OneVsRestProblem> = {}): OneVsRestProblem {
  const rng = createRng(seed);
  const cols = 60;
  const vectors: SparseVector[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    const idx = new Set<number>([c * 3, c * 3 + 1]);
    while (idx.size < 8) idx.add(Math.floor(rng() * cols));
    const sorted = Int32Array.from([...idx].sort((a, b) => a - b));
    vectors.push({ idx: sorted, val: Float32Array.from(sorted, () => 0.2 + rng()) });
    labels[i] = rng() < 0.15 ? Math.floor(rng() * k) : c;
  }
  return { x: toCsr(vectors, cols), labels, classes: k, opts: { C: 0.7, seed, nbAlpha: 0.5, classWeights: Array.from({ length: k }, (_, c) => 1 + c / 10), rowWeights: Float64Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 2 : 1)) }, ...extra };
}

function bits(solutions: ClassSolution[][]): string[][] {
  const hex = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
  return solutions.map((p) => p.map((s) => `${hex(s.w)}|${s.alpha ? hex(s.alpha) : '-'}`));
}

const threads = () => Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

let pool: SolverPool;
beforeAll(async () => {
  pool = await SolverPool.start(3);
});
afterAll(async () => {
  await pool.close();
});

describe('solver pool: the one-vs-rest classes on several threads', () => {
  it('gives the serial solutions bit for bit (weights and dual values, warm starts, several problems)', () => {
    const cold = problem(300, 5, 11, { keepDual: true });
    const [coldSolutions] = serialClassRunner()([cold]);
    const problems = [
      cold,
      problem(250, 4, 12),
      problem(200, 3, 13, { start: coldSolutions.slice(0, 3).map((s) => s.alpha!.subarray(0, 200)), keepDual: true }),
      problem(40, 2, 14),
    ];
    const progress: number[] = [];
    const parallel = pool.runClasses(problems, (done, total) => {
      expect(total).toBe(14);
      progress.push(done);
    });
    expect(bits(parallel)).toEqual(bits(serialClassRunner()(problems)));
    expect(progress.at(-1)).toBe(14);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(pool.threads).toBe(3);
  });

  it('trains the same label model as the serial path (C search and warm-started folds)', () => {
    const p = problem(240, 3, 21);
    const tokens = Array.from({ length: 240 }, (_, i) => [`t${i % 3}`, `w${i % 11}`]);
    const labels = Array.from(p.labels, (c) => `l${c}`);
    for (const cGrid of [[0.3, 1], [1]]) {
      const serial = trainLabelModel(p.x, tokens, labels, ['l0', 'l1', 'l2'], { seed: 4, folds: 3, cGrid });
      const parallel = trainLabelModel(p.x, tokens, labels, ['l0', 'l1', 'l2'], { seed: 4, folds: 3, cGrid, runClasses: pool.runClasses });
      expect(JSON.stringify(parallel)).toBe(JSON.stringify(serial));
    }
  });

  it('surfaces a failed class as a SolverThreadError naming it, and keeps working afterwards', () => {
    // A warm start of the wrong length makes every class of the second problem fail, on whichever thread takes it.
    const good = problem(120, 3, 31);
    const bad = problem(120, 3, 32, { start: [new Float64Array(7), new Float64Array(7), new Float64Array(7)] });
    let caught: unknown;
    try {
      pool.runClasses([good, bad, problem(120, 3, 33)]);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SolverThreadError);
    expect((caught as Error).message).toMatch(/class \d of problem 1.*initialAlpha has 7 values for 120 rows/);
    // No answer of the failed batch is left behind for the next one.
    expect(bits(pool.runClasses([good]))).toEqual(bits(serialClassRunner()([good])));
  });

  it('passes on an error of the progress listener after the helpers have answered, and keeps working', () => {
    const ps = [problem(150, 3, 35), problem(150, 3, 36)];
    expect(() =>
      pool.runClasses(ps, () => {
        throw new Error('listener broke');
      }),
    ).toThrow('listener broke');
    expect(bits(pool.runClasses(ps))).toEqual(bits(serialClassRunner()(ps)));
  });

  it('refuses a batch it cannot send to its threads, with a clear error', () => {
    const p = problem(60, 2, 41);
    const unclonable = { ...p, opts: { ...p.opts, classWeights: [1, 1], extra: () => 1 } } as OneVsRestProblem;
    expect(() => pool.runClasses([unclonable, p])).toThrow(/could not send the batch to the solver threads/);
    expect(bits(pool.runClasses([p]))).toEqual(bits(serialClassRunner()([p])));
  });

  it('a closed pool refuses batches, and withSolverPool closes its pool after use and after a failure', async () => {
    const p = problem(80, 2, 51);
    const solved = await withSolverPool(2, (run) => run!([p]));
    expect(bits(solved)).toEqual(bits(serialClassRunner()([p])));
    let captured: ClassRunner | undefined;
    await expect(
      withSolverPool(2, (run) => {
        captured = run;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(captured).toBeDefined();
    expect(() => captured!([p, p])).toThrow(/the solver pool is closed/);
    // One thread: no pool, the caller solves serially.
    expect(await withSolverPool(1, (run) => run)).toBeUndefined();
    await expect(withSolverPool(0, () => 1)).rejects.toThrow(RangeError);
  });

  it('ends its threads when closed', async () => {
    const before = threads();
    const extra = await SolverPool.start(3);
    expect(threads()).toBeGreaterThanOrEqual(before + 2);
    await extra.close();
    await expect.poll(threads).toBe(before);
  });
});

describe('a pool whose thread is stopped', () => {
  it('ends with it: a training thread terminated while it waits for a batch takes its solver threads along', async () => {
    const before = threads();
    // A training thread that starts a pool and solves a problem that never converges (eps 0): it is
    // then inside a class or waiting for the helper (Atomics.wait, which termination interrupts too).
    const owner = new Worker(
      new URL(
        `data:text/javascript,${encodeURIComponent(`
          import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register();
          const { parentPort } = await import('node:worker_threads');
          const { SolverPool } = await import(${JSON.stringify(new URL('../../trainer/solver-pool.ts', import.meta.url).href)});
          const { toCsr } = await import(${JSON.stringify(new URL('../../classifier/sparse.ts', import.meta.url).href)});
          const rows = Array.from({ length: 4000 }, (_, i) => ({ idx: Int32Array.from([i % 50, 50 + (i % 7)]), val: Float32Array.from([1, 1]) }));
          const problem = { x: toCsr(rows, 60), labels: Int32Array.from(rows, (_, i) => (i * 7919) % 3), classes: 3, opts: { C: 10, eps: 0, maxIter: 1e9 } };
          const pool = await SolverPool.start(2);
          parentPort.postMessage('solving');
          pool.runClasses([problem]);
          parentPort.postMessage('finished');
        `)}`,
      ),
    );
    await new Promise((resolve, reject) => owner.once('message', resolve).once('error', reject));
    expect(threads()).toBeGreaterThanOrEqual(before + 2);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await owner.terminate();
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect.poll(threads).toBe(before);
  });
});

describe('solver thread', () => {
  let worker: Worker;
  afterAll(async () => {
    await worker?.terminate();
  });

  it('answers a class that throws with the error and the task, and raises the answered count', async () => {
    const { port1, port2 } = new MessageChannel();
    worker = startSiblingWorker(new URL('../../trainer/solver-pool.ts', import.meta.url).href, 'solver-thread', { workerData: { answers: port2 }, transferList: [port2] });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    const bad = problem(50, 2, 61, { start: [new Float64Array(3), new Float64Array(3)] });
    const control = new Int32Array(new SharedArrayBuffer(12));
    worker.postMessage({ problems: [bad], tasks: Int32Array.from([0, 0, 0, 1]), control } satisfies SolverBatch);
    await Atomics.waitAsync(control, CONTROL.answered, 0, 60_000).value;
    const answer = receiveMessageOnPort(port1)!.message as SolverAnswer;
    expect(answer).toMatchObject({ solved: [], error: { task: 0, message: 'initialAlpha has 3 values for 50 rows' } });
    // It stopped the batch: nobody takes the second class.
    expect(Atomics.load(control, CONTROL.next)).toBeGreaterThanOrEqual(2);
    expect(Atomics.load(control, CONTROL.answered)).toBe(1);
    port1.close();
  });
});

describe('TRAIN_THREADS', () => {
  it('defaults to the available parallelism, at most 4, and refuses anything but 1 to 64 threads, naming the variable', () => {
    expect(loadConfig({}).TRAIN_THREADS).toBe(Math.min(availableParallelism(), DEFAULT_MAX_TRAIN_THREADS));
    expect(DEFAULT_MAX_TRAIN_THREADS).toBe(4);
    expect(loadConfig({ TRAIN_THREADS: '3' }).TRAIN_THREADS).toBe(3);
    for (const bad of ['0', '1.5', 'two', '65']) {
      expect(() => loadConfig({ TRAIN_THREADS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ TRAIN_THREADS: bad }), bad).toThrow(/TRAIN_THREADS/);
    }
  });
});
