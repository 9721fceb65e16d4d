/**
 * An immutable int32 → int32 hash table with open addressing: character n-gram lookups are the
 * hottest path of feature extraction, and this is several times faster than a `Map<number, number>`.
 */
export class IntHashTable {
  private readonly keys: Int32Array;
  private readonly values: Int32Array;
  private readonly used: Uint8Array;
  private readonly mask: number;

  /** Builds the table from parallel arrays of distinct keys and their values. */
  constructor(keys: ArrayLike<number>, values: ArrayLike<number>) {
    let capacity = 16;
    while (capacity < keys.length * 2) capacity <<= 1;
    this.mask = capacity - 1;
    this.keys = new Int32Array(capacity);
    this.values = new Int32Array(capacity);
    this.used = new Uint8Array(capacity);
    for (let i = 0; i < keys.length; i++) {
      let slot = IntHashTable.slot(keys[i]) & this.mask;
      while (this.used[slot]) slot = (slot + 1) & this.mask;
      this.used[slot] = 1;
      this.keys[slot] = keys[i];
      this.values[slot] = values[i];
    }
  }

  // The mixed key stays a signed 32-bit integer: `>>> 0` made it a heap number for half the keys
  // (an allocation per n-gram lookup). Masked by a capacity below 2^31 it gives the same slot.
  private static slot(key: number): number {
    return Math.imul(key ^ (key >>> 16), 0x45d9f3b);
  }

  /** The value of `key`, or -1 when absent. */
  get(key: number): number {
    let slot = IntHashTable.slot(key) & this.mask;
    while (this.used[slot]) {
      if (this.keys[slot] === key) return this.values[slot];
      slot = (slot + 1) & this.mask;
    }
    return -1;
  }
}
