import { describe, expect, it } from 'vitest';
import { MemoryGuard } from '../../runtime/memory-guard.js';

const MiB = 1048576;

describe('MemoryGuard', () => {
  it('reports ok, pressure and critical against the ceiling; collects garbage first, then sheds caches if memory stays high', () => {
    let rss = 100 * MiB;
    let now = 1_000_000;
    let afterCollection: number | null = null;
    const collected: number[] = [];
    const shed: string[] = [];
    const tight: boolean[] = [];
    const guard = new MemoryGuard({
      ceilingBytes: 512 * MiB,
      sample: () => rss,
      now: () => now,
      tightenHeap: (t) => tight.push(t),
      collect: () => {
        collected.push(now);
        if (afterCollection !== null) rss = afterCollection;
      },
    });
    guard.onPressure((level) => shed.push(level));
    expect(guard.check()).toBe('ok');
    rss = 420 * MiB; // 82%: garbage is collected from 80% and V8 asked to keep its heap tight; nothing else happens
    expect(guard.check()).toBe('ok');
    expect(collected).toHaveLength(1);
    expect(tight).toEqual([true]);
    rss = 390 * MiB; // 76%: still tight (it loosens under 72%)
    guard.check();
    expect(tight).toEqual([true]);
    rss = 360 * MiB;
    guard.check();
    expect(tight).toEqual([true, false]);
    expect(guard.status().tightHeap).toBe(false);
    // Garbage was what held memory: collected, no cache dropped, no customer refused.
    now += 10_000;
    rss = 500 * MiB; // 98%
    afterCollection = 300 * MiB;
    expect(guard.check()).toBe('pressure'); // the sample before the pages left: not critical
    expect(collected).toHaveLength(2);
    now += 2000;
    expect(guard.check()).toBe('ok');
    expect(shed).toEqual([]);
    // Memory that a collection does not free: caches shed once it had time to settle, then at most every 30 s.
    now += 10_000;
    rss = 450 * MiB; // 88%
    afterCollection = null;
    expect(guard.check()).toBe('pressure');
    expect(collected).toHaveLength(3);
    now += 1000;
    guard.check();
    expect(shed).toEqual([]); // the collection's pages may not have left yet
    now += 1000;
    guard.check();
    expect(shed).toEqual(['pressure']);
    now += 1000;
    guard.check();
    expect(shed).toEqual(['pressure']);
    expect(collected).toHaveLength(3); // at most every 5 s
    now += 3000;
    guard.check();
    expect(collected).toHaveLength(4);
    // Critical after a collection settled without bringing memory down; the next collection does not reopen the door.
    rss = 500 * MiB;
    now += 2000;
    expect(guard.check()).toBe('critical');
    now += 5000;
    expect(guard.check()).toBe('critical');
    expect(collected).toHaveLength(5);
    now += 30_000;
    guard.check();
    now += 2000;
    guard.check();
    expect(shed).toEqual(['pressure', 'critical']);
    expect(guard.status()).toMatchObject({ rssMiB: 500, ceilingMiB: 512, level: 'critical', collections: 6 });
    rss = 200 * MiB;
    expect(guard.check()).toBe('ok');
    expect(guard.level()).toBe('ok');
  });

  it("collects V8's garbage by default (exposed at run time) and reports the peak's breakdown", () => {
    const guard = new MemoryGuard({ ceilingBytes: 1, intervalMs: 60_000 });
    expect(guard.check()).toBe('pressure'); // just collected: not yet critical
    const s = guard.status();
    expect(s.collections).toBe(1);
    expect(s.peak!.rssMiB).toBeGreaterThan(0);
    expect(s.peak!.heapUsedMiB).toBeLessThanOrEqual(s.peak!.heapTotalMiB);
  });

  it('refuses thresholds that make no sense', () => {
    expect(() => new MemoryGuard({ ceilingBytes: 0 })).toThrow(RangeError);
    expect(() => new MemoryGuard({ ceilingBytes: MiB, pressureAt: 0.9, criticalAt: 0.8 })).toThrow(RangeError);
    expect(() => new MemoryGuard({ ceilingBytes: MiB, collectAt: 0.9, pressureAt: 0.85 })).toThrow(RangeError);
  });
});
