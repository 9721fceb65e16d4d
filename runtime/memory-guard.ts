/**
 * Keeps the server's resident memory under its configured ceiling (MEMORY_CEILING_MB). It samples
 * the process's resident set size; from `collectAt` (80%) of the ceiling it has V8 collect its
 * garbage (at most every 5 s) and keep its heap closer to its live size until memory is back under
 * 72% (V8's `--heap-growing-percent`); from `pressureAt` (85%), if a collection did not bring memory down,
 * it asks the registered caches to shed, at most every 30 s (idle conversations leave memory sooner:
 * they stay in the database); and from `criticalAt` (95%), once a collection has had time to give
 * memory back, it reports `critical`, at which the channels refuse to open new conversations (503
 * with Retry-After and a polite message) while conversations already open go on. Memory that is only
 * garbage never turns a customer away.
 *
 * Why garbage first: under 200 busy conversations the server's resident memory reached 633 MiB
 * while a heap snapshot at 546 MiB found 190 MiB alive; V8 lets its heap grow to several times its
 * live size before a full collection when memory is plentiful (a 4 GiB heap limit here), and the
 * caches held a few MiB. A forced full collection stops the process for its duration (0.15–0.33 s
 * for a synthetic 300 MiB heap on this machine), so V8 is mostly asked to collect sooner by itself.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { launchFlags, type LaunchFlags } from './node-flags.js';

/** How close the process is to its ceiling. */
export type MemoryLevel = 'ok' | 'pressure' | 'critical';

export interface MemoryGuardOptions {
  ceilingBytes: number;
  /** Fraction of the ceiling from which V8's garbage is collected. Default 0.8. */
  collectAt?: number;
  /** Fraction of the ceiling from which caches shed. Default 0.85. */
  pressureAt?: number;
  /** Fraction of the ceiling from which new conversations are refused. Default 0.95. */
  criticalAt?: number;
  /** Caches shed at most this often, in ms. Default 30 s. */
  shedEveryMs?: number;
  /**
   * Resident set size in bytes (default: `process.memoryUsage.rss()`, with the heap, external and
   * array-buffer figures taken at each new peak for the breakdown in {@link MemoryGuard.status}).
   */
  sample?: () => number;
  /** How often to sample, in ms. Default 1000. */
  intervalMs?: number;
  /** A full garbage collection (default: V8's, exposed on first use). */
  collect?: () => void;
  /** Garbage is collected at most this often under pressure, in ms. Default 5 s. */
  collectEveryMs?: number;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
  /**
   * Makes V8 keep its heap closer to its live size (`true`) or lets it choose again (`false`).
   * Default: V8's `--heap-growing-percent` (25, or 0 for V8's own choice), which takes effect at
   * its next collection.
   */
  tightenHeap?: (tight: boolean) => void;
  /**
   * The flags this process was launched with (default: read from this process at construction,
   * runtime/node-flags.ts). With `--heap-growing-percent` given at launch the default `tightenHeap`
   * changes nothing; without `--expose-gc` the default `collect` exposes `gc` at run time.
   */
  flags?: LaunchFlags;
}

/** V8's heap limit after a full collection is the live size × (1 + this / 100) while memory is high. */
const TIGHT_HEAP_GROWING_PERCENT = 25;

function v8TightenHeap(tight: boolean): void {
  setFlagsFromString(`--heap-growing-percent=${tight ? TIGHT_HEAP_GROWING_PERCENT : 0}`);
}

/**
 * V8's full collection: `gc`, defined by `node --expose-gc` at launch (runtime/node-flags.ts). The
 * fallback, for a process launched without it, exposes it at run time (a fresh context sees the
 * flag); Node warns that flags changed after start may behave unpredictably, and the server logs a
 * warning at start when it will need this.
 */
function v8Collect(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * A cache that can give memory back: `shed(level)` drops what it can (at `pressure` idle entries,
 * at `critical` everything that the database can give back).
 */
export type Shedder = (level: Exclude<MemoryLevel, 'ok'>) => void;

/** Where the resident memory was at its highest sample (MiB): V8's heap, memory outside it, and the rest. */
export interface MemoryPeak {
  rssMiB: number;
  /** V8 heap in use and reserved. */
  heapUsedMiB: number;
  heapTotalMiB: number;
  /** Memory of C++ objects bound to JavaScript (Buffers included). */
  externalMiB: number;
  /** ArrayBuffers and Buffers (part of `external`). */
  arrayBuffersMiB: number;
}

/** How long after a full collection its freed pages have left the resident set (V8 unmaps them in the background). */
const COLLECTION_SETTLES_MS = 1500;

export class MemoryGuard {
  private readonly shedders: Shedder[] = [];
  private last = 0;
  private lastShedAt = -Infinity;
  private lastCollectAt = -Infinity;
  private collections = 0;
  /** Memory stayed critical after a collection settled. */
  private stuck = false;
  /** V8 is asked to keep its heap close to its live size. */
  private tight = false;
  private collector: (() => void) | null = null;
  private current: MemoryLevel = 'ok';
  private readonly pressureAt: number;
  private readonly collectAt: number;
  private readonly criticalAt: number;
  private readonly sample: () => number;
  private peak: MemoryPeak | null = null;
  private readonly launch: LaunchFlags;
  private readonly tightenHeap: (tight: boolean) => void;

  constructor(private readonly opts: MemoryGuardOptions) {
    this.pressureAt = opts.pressureAt ?? 0.85;
    this.criticalAt = opts.criticalAt ?? 0.95;
    this.collectAt = opts.collectAt ?? Math.min(0.8, this.pressureAt);
    if (!(opts.ceilingBytes > 0) || !(this.pressureAt > 0 && this.pressureAt < this.criticalAt && this.criticalAt <= 1) || !(this.collectAt > 0 && this.collectAt <= this.pressureAt)) {
      throw new RangeError('memory guard: need ceilingBytes > 0 and 0 < collectAt <= pressureAt < criticalAt <= 1');
    }
    this.sample = opts.sample ?? (() => this.sampleProcess());
    this.launch = opts.flags ?? launchFlags();
    // A value fixed at launch is the operator's: no flag changes at run time.
    this.tightenHeap = opts.tightenHeap ?? (this.launch.heapGrowing === 'launch' ? () => undefined : v8TightenHeap);
  }

  /** Where the V8 flags the guard relies on came from (launch, or the run-time fallback). */
  flags(): LaunchFlags {
    return { ...this.launch };
  }

  private sampleProcess(): number {
    const rss = process.memoryUsage.rss();
    // The breakdown walks V8's heap spaces (a CPU profile showed it at 1.4% of a busy server's time
    // when taken every second): only at a new peak.
    if (!this.peak || rss > this.peak.rssMiB * 1048576) {
      const m = process.memoryUsage();
      const mib = (n: number) => Math.round(n / 1048576);
      this.peak = { rssMiB: m.rss / 1048576, heapUsedMiB: mib(m.heapUsed), heapTotalMiB: mib(m.heapTotal), externalMiB: mib(m.external), arrayBuffersMiB: mib(m.arrayBuffers) };
    }
    return rss;
  }

  /** Registers a cache to shed under pressure. */
  onPressure(shed: Shedder): void {
    this.shedders.push(shed);
  }

  /** The level at the last sample. */
  level(): MemoryLevel {
    return this.current;
  }

  /** Samples now, sheds when needed, and returns the level. */
  check(): MemoryLevel {
    this.last = this.sample();
    const f = this.last / this.opts.ceilingBytes;
    const now = (this.opts.now ?? Date.now)();
    // Garbage first: it is most of what grows under load (see the file header), and collecting it
    // costs no database reads. V8 is also asked to grow its heap less past its live size (its own
    // incremental, concurrent collections then come sooner, with no pause of ours), until memory is
    // well under `collectAt` again.
    if ((f >= this.collectAt) !== this.tight && (f >= this.collectAt || f < this.collectAt * 0.9)) {
      this.tight = !this.tight;
      this.tightenHeap(this.tight);
    }
    if (f >= this.collectAt && now - this.lastCollectAt >= (this.opts.collectEveryMs ?? 5000)) {
      this.lastCollectAt = now;
      this.collections++;
      this.collector ??= this.opts.collect ?? v8Collect();
      this.collector();
    }
    // V8 gives the freed pages back within about a second: until then a high sample may be garbage
    // already collected, which neither refuses customers nor drops caches.
    // Once a collection has failed to bring memory under `criticalAt`, the next ones do not reopen
    // the door while they settle.
    const settling = now - this.lastCollectAt < COLLECTION_SETTLES_MS;
    this.current = f >= this.criticalAt && (!settling || this.stuck) ? 'critical' : f >= this.pressureAt ? 'pressure' : 'ok';
    if (!settling || f < this.criticalAt) this.stuck = f >= this.criticalAt;
    if (this.current === 'ok' || settling) return this.current;
    // Shedding costs database reads (the caches are what keeps a turn off the database), so it
    // happens at most every `shedEveryMs`: dropping them every second would trade a little memory
    // for a server that reads everything back on every turn (measured: 83 → 5 turns/s).
    if (now - this.lastShedAt >= (this.opts.shedEveryMs ?? 30_000)) {
      this.lastShedAt = now;
      for (const shed of this.shedders) shed(this.current);
    }
    return this.current;
  }

  /**
   * For /readyz: resident memory, the ceiling and the level, and (when sampling this process) the
   * highest sample since start with its breakdown, for benchmarks that look for what holds memory.
   */
  status(): { rssMiB: number; ceilingMiB: number; level: MemoryLevel; collections: number; tightHeap: boolean; flags: LaunchFlags; peak?: MemoryPeak } {
    return {
      flags: this.flags(),
      rssMiB: Math.round(this.last / 1048576),
      ceilingMiB: Math.round(this.opts.ceilingBytes / 1048576),
      level: this.current,
      collections: this.collections,
      tightHeap: this.tight,
      ...(this.peak ? { peak: { ...this.peak, rssMiB: Math.round(this.peak.rssMiB) } } : {}),
    };
  }

  /** Samples every `intervalMs` until the returned function is called. */
  start(): () => void {
    this.check();
    const timer = setInterval(() => this.check(), this.opts.intervalMs ?? 1000);
    timer.unref();
    return () => clearInterval(timer);
  }
}
