import { describe, expect, it } from 'vitest';
import { IntHashTable } from '../../classifier/int-hash.js';

describe('IntHashTable', () => {
  it('finds every key it was built with, and -1 for others (keys of any sign, 0 included)', () => {
    const keys = new Set<number>([0, -1, 1, 2 ** 31 - 1, -(2 ** 31)]);
    let x = 12345;
    while (keys.size < 5000) {
      x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) | 0;
      keys.add(x);
    }
    const list = [...keys];
    const table = new IntHashTable(list, list.map((_, i) => i));
    list.forEach((k, i) => expect(table.get(k)).toBe(i));
    let absent = 0;
    for (let k = -3000; k < 3000; k++) {
      if (keys.has(k)) continue;
      expect(table.get(k)).toBe(-1);
      absent++;
    }
    expect(absent).toBeGreaterThan(5000);
  });

  it('keys whose slots collide probe on, past the end of the table back to its start', () => {
    // With 8 keys the table has 16 slots: keys 16 apart in their mixed hash share a slot. Many keys
    // into a small table exercise the wrap-around.
    const keys = Array.from({ length: 8 }, (_, i) => i * 65536);
    const table = new IntHashTable(keys, keys.map((_, i) => 100 + i));
    keys.forEach((k, i) => expect(table.get(k)).toBe(100 + i));
    expect(table.get(3)).toBe(-1);
    expect(new IntHashTable([], []).get(0)).toBe(-1);
  });

  it('refuses a negative value (-1 marks an empty slot)', () => {
    expect(() => new IntHashTable([5], [-1])).toThrow(RangeError);
  });
});
