/**
 * botbuilder's `Storage` on MongoDB, so several bot processes share conversation and user state.
 * Optimistic concurrency with eTags: a write that carries an eTag succeeds only if the stored item
 * still has it; `*` or no eTag writes unconditionally (botbuilder's contract). Each write gives the
 * item a new random eTag.
 *
 * Items are stored as JSON text: dialog state may contain keys that MongoDB would read as
 * operators or paths (`$…`, dots), and nothing ever queries inside it.
 */
import { randomUUID } from 'node:crypto';
import type { Storage, StoreItems } from 'botbuilder';
import type { Collection, Db } from 'mongodb';
import { backoff, Claims, isDuplicateKey } from './claims.js';
import { ConflictError } from './errors.js';

const conflict = (key: string) => new ConflictError(`Storage: error writing "${key}" due to eTag conflict`);

interface StateDoc {
  _id: string;
  state: string;
  eTag: string;
  updatedAt: Date;
}

export class MongoBotStorage implements Storage {
  private readonly items: Collection<StateDoc>;

  private readonly claims: Claims;

  constructor(db: Db, collection = 'botState') {
    this.items = db.collection<StateDoc>(collection);
    this.claims = new Claims(db);
  }

  async read(keys: string[]): Promise<StoreItems> {
    if (!keys.length) return {};
    const docs = await this.items.find({ _id: { $in: keys } }).toArray();
    const out: StoreItems = {};
    for (const d of docs) out[d._id] = { ...(JSON.parse(d.state) as object), eTag: d.eTag };
    return out;
  }

  async write(changes: StoreItems): Promise<void> {
    await Promise.all(Object.entries(changes).map(([key, item]) => this.writeOne(key, (item ?? {}) as { eTag?: string })));
  }

  /**
   * One item: a new item is inserted (the unique `_id` decides between racing creators); an
   * existing one moves from its current eTag to a fresh one by claiming `state:<key>:from:<eTag>`,
   * which exactly one writer can do (see claims.ts). An item written with a stale eTag is a conflict.
   */
  private async writeOne(key: string, item: { eTag?: string }): Promise<void> {
    const { eTag, ...rest } = item;
    const conditional = Boolean(eTag) && eTag !== '*';
    const state = JSON.stringify(rest);
    for (let attempt = 0; attempt < 100; attempt++) {
      const current = await this.items.findOne({ _id: key }, { projection: { eTag: 1 } });
      if (conditional && current && current.eTag !== eTag) throw conflict(key);
      const next = { state, eTag: randomUUID(), updatedAt: new Date() };
      if (!current) {
        try {
          await this.items.insertOne({ _id: key, ...next });
          return;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          if (conditional) throw conflict(key);
          await backoff(attempt);
          continue;
        }
      }
      const claim = `state:${key}:from:${current.eTag}`;
      if (!(await this.claims.claim(claim))) {
        if (conditional) throw conflict(key);
        await backoff(attempt);
        continue;
      }
      const r = await this.items.updateOne({ _id: key, eTag: current.eTag }, { $set: next });
      if (r.matchedCount === 1) return;
      // Our read was stale: nothing was written.
      if (conditional) throw conflict(key);
    }
    throw conflict(key);
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length) await this.items.deleteMany({ _id: { $in: keys } });
  }
}
