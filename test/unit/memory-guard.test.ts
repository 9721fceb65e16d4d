import { describe, expect, it } from 'vitest';
import { MemoryGuard } from '../../runtime/memory-guard.js';

const MiB = 1048576;

describe('MemoryGuard', () => {
  it('reports ok, pressure and critical against the ceiling, and asks caches to shed only under pressure', () => {
    let rss = 100 * MiB;
    const shed: string[] = [];
    const guard = new MemoryGuard({ ceilingBytes: 512 * MiB, sample: () => rss });
    guard.onPressure((level) => shed.push(level));
    expect(guard.check()).toBe('ok');
    expect(shed).toEqual([]);
    rss = 400 * MiB; // 78%
    expect(guard.check()).toBe('pressure');
    rss = 470 * MiB; // 92%
    expect(guard.check()).toBe('critical');
    expect(shed).toEqual(['pressure', 'critical']);
    expect(guard.status()).toEqual({ rssMiB: 470, ceilingMiB: 512, level: 'critical' });
    rss = 200 * MiB;
    expect(guard.check()).toBe('ok');
    expect(guard.level()).toBe('ok');
  });

  it('refuses thresholds that make no sense', () => {
    expect(() => new MemoryGuard({ ceilingBytes: 0 })).toThrow(RangeError);
    expect(() => new MemoryGuard({ ceilingBytes: MiB, pressureAt: 0.9, criticalAt: 0.8 })).toThrow(RangeError);
  });
});
