/**
 * runtime/node-flags.ts and the memory guard's use of it: which flags a process was launched with,
 * and that the guard changes V8's flags at run time only when they were not given at launch.
 * `node:v8` is replaced by a recorder of `setFlagsFromString` calls (nothing else is used from it).
 */
import { describe, expect, it, vi } from 'vitest';

const setFlags = vi.hoisted(() => vi.fn());
vi.mock('node:v8', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:v8')>()), setFlagsFromString: setFlags }));

const { MemoryGuard } = await import('../../runtime/memory-guard.js');
const { launchFlags, SERVER_NODE_ARGS } = await import('../../runtime/node-flags.js');

const MiB = 1048576;

describe('launchFlags', () => {
  it('reads --expose-gc (as gc defined) and --heap-growing-percent from the command line and NODE_OPTIONS', () => {
    expect(launchFlags([], '', false)).toEqual({ gc: 'run-time', heapGrowing: 'run-time', heapGrowingPercent: null });
    expect(launchFlags(SERVER_NODE_ARGS, '', true)).toEqual({ gc: 'launch', heapGrowing: 'run-time', heapGrowingPercent: null });
    expect(launchFlags(['--expose-gc', '--heap-growing-percent=30'], '', true)).toMatchObject({ heapGrowing: 'launch', heapGrowingPercent: 30 });
    expect(launchFlags(['--heap_growing_percent', '15'], '', false)).toMatchObject({ heapGrowing: 'launch', heapGrowingPercent: 15 });
    expect(launchFlags([], '--max-old-space-size=512 --heap-growing-percent=20', false)).toMatchObject({ heapGrowing: 'launch', heapGrowingPercent: 20 });
    // Something that only looks like it is not it.
    expect(launchFlags(['--heap-growing-percentage=20'], '', false).heapGrowing).toBe('run-time');
  });
});

describe('the memory guard and the launch flags', () => {
  const high = (flags: ReturnType<typeof launchFlags>) => {
    let rss = 100 * MiB;
    const collected: number[] = [];
    const guard = new MemoryGuard({ ceilingBytes: 512 * MiB, sample: () => rss, collect: () => collected.push(1), flags });
    guard.check();
    rss = 430 * MiB; // 84%: collect, and keep the heap tight
    guard.check();
    rss = 300 * MiB; // 59%: loosen again
    guard.check();
    return { guard, collected };
  };

  it('switches --heap-growing-percent at run time when it was not given at launch', () => {
    setFlags.mockClear();
    const { guard, collected } = high({ gc: 'launch', heapGrowing: 'run-time', heapGrowingPercent: null });
    expect(collected).toHaveLength(1);
    expect(setFlags.mock.calls.map((c) => c[0])).toEqual(['--heap-growing-percent=25', '--heap-growing-percent=0']);
    expect(guard.status().flags).toEqual({ gc: 'launch', heapGrowing: 'run-time', heapGrowingPercent: null });
  });

  it('changes no flag at run time when --heap-growing-percent was given at launch', () => {
    setFlags.mockClear();
    const { guard, collected } = high({ gc: 'launch', heapGrowing: 'launch', heapGrowingPercent: 25 });
    expect(collected).toHaveLength(1);
    expect(setFlags).not.toHaveBeenCalled();
    expect(guard.status().flags.heapGrowingPercent).toBe(25);
  });
});
