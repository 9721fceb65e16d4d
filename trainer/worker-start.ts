/**
 * Starts a worker thread whose entry is a sibling module of the caller. From the compiled dist/ the
 * entry is the sibling .js file; from TypeScript sources (tests, tsx) Node cannot start a .ts
 * worker by itself, and in Node 20 a worker's `--import` hook only applies after its entry module
 * was loaded, so a tiny ES module registers the tsx loader (a devDependency) first and then
 * imports the entry.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker running `<name>.js` (or `<name>.ts` from sources) next to the module at `callerUrl`
 * (pass `import.meta.url`).
 */
export function startSiblingWorker(callerUrl: string, name: string, options: WorkerOptions): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(entry, options);
  const loader = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(loader)}`), options);
}
