/**
 * The Node/V8 flags the server is launched with (issue 14), and what this process actually got.
 *
 * The memory guard (runtime/memory-guard.ts) needs two things from V8:
 * - a full collection on demand (`gc`, which `node --expose-gc` defines). Node documents that
 *   changing V8 flags after start may behave unpredictably, so every launcher passes it
 *   ({@link SERVER_NODE_ARGS}: `npm start`, scripts/server-process.ts and the benchmarks that start
 *   `dist/bot/main.js`). A process started without it (`node dist/bot/main.js` by hand) still works:
 *   the guard exposes `gc` at run time as before, and the server logs a warning at start.
 * - a heap kept close to its live size while memory is high (`--heap-growing-percent`). This one is
 *   a policy the guard switches on and off (25 from 80% of the ceiling, V8's own choice below 72%),
 *   which no launch flag can express: a fixed `--heap-growing-percent=25` would keep V8's heap tight,
 *   and its collections more frequent, under every load, not only near the ceiling. So it stays a run-time
 *   switch, unless the operator fixes it at launch (`node --heap-growing-percent=N …`): the guard
 *   then leaves V8's value alone and changes no flag at run time at all.
 */

/** Arguments to `node` before the server's script, wherever the server is launched. */
export const SERVER_NODE_ARGS: readonly string[] = ['--expose-gc'];

/** Where each flag the memory guard relies on came from. */
export interface LaunchFlags {
  /** `gc` was defined at launch (`--expose-gc`), or will be exposed at run time (fallback). */
  gc: 'launch' | 'run-time';
  /** `--heap-growing-percent` given at launch (the guard leaves it alone), else switched at run time. */
  heapGrowing: 'launch' | 'run-time';
  /** The value given at launch, if any. */
  heapGrowingPercent: number | null;
}

/**
 * The flags this process was launched with, from `process.execArgv` and `NODE_OPTIONS` (as Node
 * reads them) and the presence of `gc`; call it before anything exposes `gc` at run time.
 */
export function launchFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '', gcDefined = typeof (globalThis as { gc?: unknown }).gc === 'function'): LaunchFlags {
  const args = [...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)];
  let percent: number | null = null;
  for (let i = 0; i < args.length; i++) {
    const m = /^--heap[-_]growing[-_]percent(?:=(\d+))?$/.exec(args[i]);
    if (!m) continue;
    const value = m[1] ?? args[i + 1];
    if (value !== undefined && /^\d+$/.test(value)) percent = Number(value);
  }
  return { gc: gcDefined ? 'launch' : 'run-time', heapGrowing: percent === null ? 'run-time' : 'launch', heapGrowingPercent: percent };
}
