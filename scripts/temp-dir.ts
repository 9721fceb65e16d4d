/**
 * The temporary directories of the benchmarks and CLIs (an embedded database, an outbox: tens to
 * hundreds of MB each), removed however a run ends:
 * - success or an error: `remove()` in the caller's `finally`;
 * - SIGINT (Ctrl-C) or SIGTERM: the stops registered with `onInterrupt` run first (servers and the
 *   database write there, and must not be left running), then the directories go and the process
 *   exits 130 / 143. A second signal, or stops taking over {@link STOP_TIMEOUT_MS}, exits at once;
 * - any other exit (`process.exit` somewhere): whatever is left is removed as the process exits.
 * SIGKILL cannot be caught: a run killed that way leaves its directory behind.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long the stops of an interrupted run may take before it exits anyway. */
export const STOP_TIMEOUT_MS = 20_000;

/** A temporary directory of this run. */
export interface TempDir {
  readonly path: string;
  /** Runs `stop` (newest first, awaited) before the directory is removed on SIGINT/SIGTERM. */
  onInterrupt(stop: () => unknown): void;
  /** Removes the directory (again: nothing). */
  remove(): void;
}

const live = new Set<string>();
const stops: (() => unknown)[] = [];
let installed = false;

function removeAll(): void {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
  live.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', removeAll);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping, then removing ${[...live].join(', ')}\n`);
      const exit = () => {
        removeAll();
        process.exit(code);
      };
      process.once(signal, exit);
      setTimeout(exit, STOP_TIMEOUT_MS);
      void (async () => {
        for (const stop of stops.splice(0).reverse()) {
          try {
            await stop();
          } catch (err) {
            process.stderr.write(`while stopping: ${(err as Error).message}\n`);
          }
        }
      })().finally(exit);
    });
  }
}

/** Makes `<tmpdir>/<prefix>XXXXXX`, removed however the run ends (see the module comment). */
export function benchTempDir(prefix: string): TempDir {
  install();
  const path = mkdtempSync(join(tmpdir(), prefix));
  live.add(path);
  return {
    path,
    onInterrupt: (stop) => void stops.push(stop),
    remove: () => {
      if (!live.delete(path)) return;
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Stops a child process (a server writing in a temporary directory): SIGTERM, SIGKILL after 15 s; resolves once it exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
