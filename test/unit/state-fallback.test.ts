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
});
