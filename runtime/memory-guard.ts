/**
 * Keeps the server's resident memory under its configured ceiling (MEMORY_CEILING_MB). It samples
 * the process's resident set size; from `pressureAt` (85%) of the ceiling it asks the registered
 * caches to shed, at most every 30 s (idle conversations leave memory sooner: they stay in the
 * database), and from `criticalAt` (95%) it reports `critical`, at which the channels refuse to open new conversations
 * (503 with Retry-After and a polite message) while conversations already open go on.
 */

/** How close the process is to its ceiling. */
export type MemoryLevel = 'ok' | 'pressure' | 'critical';

export interface MemoryGuardOptions {
  ceilingBytes: number;
  /** Fraction of the ceiling from which caches shed. Default 0.85. */
  pressureAt?: number;
  /** Fraction of the ceiling from which new conversations are refused. Default 0.95. */
  criticalAt?: number;
  /** Caches shed at most this often, in ms. Default 30 s. */
  shedEveryMs?: number;
  /** Resident set size in bytes (default: `process.memoryUsage.rss()`). */
  sample?: () => number;
  /** How often to sample, in ms. Default 1000. */
  intervalMs?: number;
}

/**
 * A cache that can give memory back: `shed(level)` drops what it can (at `pressure` idle entries,
 * at `critical` everything that the database can give back).
 */
export type Shedder = (level: Exclude<MemoryLevel, 'ok'>) => void;

export class MemoryGuard {
  private readonly shedders: Shedder[] = [];
  private last = 0;
  private lastShedAt = -Infinity;
  private current: MemoryLevel = 'ok';
  private readonly pressureAt: number;
  private readonly criticalAt: number;
  private readonly sample: () => number;

  constructor(private readonly opts: MemoryGuardOptions) {
    this.pressureAt = opts.pressureAt ?? 0.85;
    this.criticalAt = opts.criticalAt ?? 0.95;
    if (!(opts.ceilingBytes > 0) || !(this.pressureAt > 0 && this.pressureAt < this.criticalAt && this.criticalAt <= 1)) {
      throw new RangeError('memory guard: need ceilingBytes > 0 and 0 < pressureAt < criticalAt <= 1');
    }
    this.sample = opts.sample ?? (() => process.memoryUsage.rss());
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
    this.current = f >= this.criticalAt ? 'critical' : f >= this.pressureAt ? 'pressure' : 'ok';
    // Shedding costs database reads (the caches are what keeps a turn off the database), so it
    // happens at most every `shedEveryMs`: dropping them every second would trade a little memory
    // for a server that reads everything back on every turn (measured: 83 → 5 turns/s).
    const now = Date.now();
    if (this.current !== 'ok' && now - this.lastShedAt >= (this.opts.shedEveryMs ?? 30_000)) {
      this.lastShedAt = now;
      for (const shed of this.shedders) shed(this.current);
    }
    return this.current;
  }

  /** For /readyz: resident memory, the ceiling and the level. */
  status(): { rssMiB: number; ceilingMiB: number; level: MemoryLevel } {
    return { rssMiB: Math.round(this.last / 1048576), ceilingMiB: Math.round(this.opts.ceilingBytes / 1048576), level: this.current };
  }

  /** Samples every `intervalMs` until the returned function is called. */
  start(): () => void {
    this.check();
    const timer = setInterval(() => this.check(), this.opts.intervalMs ?? 1000);
    timer.unref();
    return () => clearInterval(timer);
  }
}
