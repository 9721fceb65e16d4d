/** The outage-tolerant conversation state storage, over an inner storage that fails like an unreachable database. */
import type { Storage, StoreItems } from 'botbuilder';
import { MongoNetworkError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { OutageTolerantStorage, StateUnavailableError } from '../../store/state-fallback.js';

class FlakyStorage implements Storage {
  items: StoreItems = {};
  down = false;
  writes = 0;
  private check() {
    if (this.down) throw new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:1');
  }
  async read(keys: string[]) {
    this.check();
    return Object.fromEntries(keys.filter((k) => k in this.items).map((k) => [k, this.items[k]]));
  }
  async write(changes: StoreItems) {
    this.check();
    this.writes++;
    Object.assign(this.items, changes);
  }
  async delete(keys: string[]) {
    this.check();
    for (const k of keys) delete this.items[k];
  }
}

const log = { warn: () => {}, info: () => {} };

describe('OutageTolerantStorage', () => {
  it('keeps a write the database cannot take, serves it, and writes it once the database is back', async () => {
    const inner = new FlakyStorage();
    const s = new OutageTolerantStorage(inner, log);
    await s.write({ a: { step: 1 } });
    inner.down = true;
    await s.write({ a: { step: 2, eTag: '1' } });
    expect(s.pending()).toBe(1);
    expect(await s.read(['a'])).toEqual({ a: { step: 2, eTag: '*' } });
    await s.write({ a: { step: 3, eTag: '*' } });
    expect(await s.read(['a'])).toEqual({ a: { step: 3, eTag: '*' } });
    inner.down = false;
    await new Promise((r) => setTimeout(r, 1100)); // past the retry pause after a failed flush
    expect(await s.read(['a'])).toEqual({ a: { step: 3, eTag: '*' } });
    expect(s.pending()).toBe(0);
    expect(inner.items.a).toMatchObject({ step: 3 });
  });

  it('refuses to guess a state it cannot read', async () => {
    const inner = new FlakyStorage();
    inner.items.b = { step: 5 };
    inner.down = true;
    const s = new OutageTolerantStorage(inner, log);
    await expect(s.read(['b'])).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('keeps a deletion too, and bounds what it keeps', async () => {
    const inner = new FlakyStorage();
    inner.items.c = { step: 1 };
    const s = new OutageTolerantStorage(inner, log, 2);
    inner.down = true;
    await s.delete(['c']);
    expect(await s.read(['c'])).toEqual({});
    await s.write({ d: { x: 1 } });
    await expect(s.write({ e: { x: 1 } })).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('bounds what waits for the database in bytes too, checked before keeping it', async () => {
    const inner = new FlakyStorage();
    const s = new OutageTolerantStorage(inner, log, 100, 1000, 1024 * 1024, 3500);
    inner.down = true;
    await s.write({ a: { text: 'x'.repeat(1000) } }); // 2,022 bytes of a 3,500-byte budget
    await expect(s.write({ b: { text: 'y'.repeat(1000) } })).rejects.toBeInstanceOf(StateUnavailableError);
    expect(s.pending()).toBe(1);
    // Replacing a kept state counts its new size, not both.
    await s.write({ a: { text: 'z'.repeat(1500) } });
    expect(await s.read(['a'])).toEqual({ a: { text: 'z'.repeat(1500), eTag: '*' } });
    await s.write({ c: { n: 1 } });
    expect(s.pending()).toBe(2);
    // Once written, the room is free again.
    inner.down = false;
    await new Promise((r) => setTimeout(r, 1100));
    await s.read(['a']);
    expect(s.pending()).toBe(0);
    inner.down = true;
    await s.write({ b: { text: 'y'.repeat(1000) } });
    expect(s.pending()).toBe(1);
  });

  it('treats a database call that never answers as unreachable', async () => {
    const inner = new FlakyStorage();
    inner.write = () => new Promise(() => {});
    inner.read = () => new Promise(() => {});
    const s = new OutageTolerantStorage(inner, log, 10, 50);
    await s.write({ a: { step: 1 } });
    expect(s.pending()).toBe(1);
    await expect(s.read(['b'])).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('passes other errors through', async () => {
    const inner = new FlakyStorage();
    inner.write = async () => {
      throw new Error('eTag conflict');
    };
    await expect(new OutageTolerantStorage(inner, log).write({ a: {} })).rejects.toThrow('eTag conflict');
  });

  it('serves its last copy of a state the database cannot read, and writes the turn once it is back', async () => {
    const inner = new FlakyStorage();
    inner.items.b = { step: 5, eTag: '7' };
    inner.items.gone = { step: 1 };
    const s = new OutageTolerantStorage(inner, log);
    expect(await s.read(['b'])).toEqual({ b: { step: 5, eTag: '7' } });
    await s.write({ w: { step: 2, eTag: '*' } });
    await s.delete(['gone']);
    inner.down = true;
    // What this process last read or wrote, unconditionally writable: a dialog under way carries on.
    expect(await s.read(['b', 'w', 'gone'])).toEqual({ b: { step: 5, eTag: '*' }, w: { step: 2, eTag: '*' } });
    // A copy is a copy: the turn's change does not alter it until saved.
    const served = (await s.read(['b'])).b as { step: number };
    served.step = 99;
    expect(await s.read(['b'])).toEqual({ b: { step: 5, eTag: '*' } });
    await s.write({ b: { step: 6, eTag: '*' } });
    expect(s.pending()).toBe(1);
    inner.down = false;
    await new Promise((r) => setTimeout(r, 1100));
    await s.read(['b']);
    expect(s.pending()).toBe(0);
    expect(inner.items.b).toMatchObject({ step: 6 });
  });

  it('bounds its copies in bytes, least recently used out first', async () => {
    const inner = new FlakyStorage();
    for (let i = 0; i < 100; i++) inner.items[`k${i}`] = { text: 'x'.repeat(400) };
    const budget = 64 * 1024;
    const s = new OutageTolerantStorage(inner, log, 100, 1000, budget);
    for (let i = 0; i < 100; i++) await s.read([`k${i}`]);
    expect(s.copiedBytes()).toBeLessThanOrEqual(budget);
    expect(s.copiedBytes()).toBeGreaterThan(budget / 2);
    // A state larger than a 64th of the budget is not copied at all.
    inner.items.big = { text: 'y'.repeat(budget / 64) };
    await s.read(['big']);
    inner.down = true;
    await expect(s.read(['k0'])).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(s.read(['big'])).rejects.toBeInstanceOf(StateUnavailableError);
    expect(await s.read(['k99'])).toEqual({ k99: { text: 'x'.repeat(400), eTag: '*' } });
  });
});
