import { describe, expect, it } from 'vitest';
import { MemoryGuard } from '../../runtime/memory-guard.js';

const MiB = 1048576;

describe('MemoryGuard', () => {
  it('reports ok, pressure and critical against the ceiling, and asks caches to shed only under pressure', () => {
    let rss = 100 * MiB;
    const shed: string[] = [];
    const guard = new MemoryGuard({ ceilingBytes: 512 * MiB, sample: () => rss });
    const soon = new MemoryGuard({ ceilingBytes: 512 * MiB, sample: () => rss, shedEveryMs: 0 });
    const shedSoon: string[] = [];
    soon.onPressure((level) => shedSoon.push(level));
    guard.onPressure((level) => shed.push(level));
    expect(guard.check()).toBe('ok');
    expect(shed).toEqual([]);
    rss = 450 * MiB; // 88%
    expect(guard.check()).toBe('pressure');
    // The caches shed at most every 30 s (shedding costs database reads): the next check does not shed again.
    expect(guard.check()).toBe('pressure');
    expect(shed).toEqual(['pressure']);
    rss = 500 * MiB; // 98%
    expect(guard.check()).toBe('critical');
    expect(shed).toEqual(['pressure']);
    expect(guard.status()).toEqual({ rssMiB: 500, ceilingMiB: 512, level: 'critical' });
    // With no pause between sheds, each level is passed on as it is met.
    rss = 450 * MiB;
    soon.check();
    rss = 500 * MiB;
    soon.check();
    expect(shedSoon).toEqual(['pressure', 'critical']);
    rss = 200 * MiB;
    expect(guard.check()).toBe('ok');
    expect(guard.level()).toBe('ok');
  });

  it('refuses thresholds that make no sense', () => {
    expect(() => new MemoryGuard({ ceilingBytes: 0 })).toThrow(RangeError);
    expect(() => new MemoryGuard({ ceilingBytes: MiB, pressureAt: 0.9, criticalAt: 0.8 })).toThrow(RangeError);
  });
});
