/**
 * The incrementally linked customer list (staff/customer-directory.ts LinkedDirectory) against a
 * full re-link of every identity after each change: new customers, identities that merge two
 * customers through a shared phone or e-mail, identities that lose the key that linked them (a
 * split), identities that disappear (a rebuild), and shards that vanish.
 */
import { describe, expect, it } from 'vitest';
import { directoryChannels, LinkedDirectory, linkIdentities } from '../../staff/customer-directory.js';
import type { DirectoryShard, IdentitySummary } from '../../store/customer-repository.js';

function entry(channelId: string, userId: string, o: Partial<IdentitySummary> = {}): IdentitySummary {
  return { channelId, userId, name: null, nameAt: null, phones: [], emails: [], tickets: 1, firstContactAt: '2026-01-01T00:00:00.000Z', lastContactAt: '2026-01-02T00:00:00.000Z', ...o };
}

/** Shards as the read cache returns them: a changed shard is a new object, an unchanged one the same. */
class Shards {
  readonly byId = new Map<string, DirectoryShard>();
  set(shard: string, id: string, e: IdentitySummary | undefined): void {
    const identities = { ...(this.byId.get(shard)?.identities ?? {}) };
    if (e) identities[id] = e;
    else delete identities[id];
    this.byId.set(shard, { identities });
  }
  all(): Map<string, IdentitySummary> {
    const out = new Map<string, IdentitySummary>();
    for (const s of this.byId.values()) for (const [id, e] of Object.entries(s.identities)) out.set(id, e);
    return out;
  }
}

function expectFullRelink(linked: LinkedDirectory, shards: Shards): void {
  const full = linkIdentities(shards.all());
  expect(linked.customers).toEqual(full);
  expect(linked.channels).toEqual(directoryChannels(full));
  for (const c of full) for (const id of c.ids) expect(linked.customerOfIdentity(id)).toEqual(c);
}

describe('LinkedDirectory', () => {
  it('equals a full re-link after merges, splits, removals and a vanished shard', () => {
    const shards = new Shards();
    const linked = new LinkedDirectory();
    shards.set('s0', 'webchat:a', entry('webchat', 'a', { phones: ['13800000001'] }));
    shards.set('s1', 'wechat:b', entry('wechat', 'b', { emails: ['b@x.cn'], lastContactAt: '2026-03-01T00:00:00.000Z' }));
    shards.set('s1', 'email:c', entry('email', 'c', { lastContactAt: '2026-02-01T00:00:00.000Z' }));
    linked.sync(shards.byId);
    expectFullRelink(linked, shards);
    expect(linked.customers).toHaveLength(3);

    // An identity sharing a phone with a and an e-mail with b: the three become one customer.
    shards.set('s2', 'msteams:d', entry('msteams', 'd', { phones: ['13800000001'], emails: ['b@x.cn'], lastContactAt: '2026-04-01T00:00:00.000Z' }));
    linked.sync(shards.byId);
    expectFullRelink(linked, shards);
    expect(linked.customers).toHaveLength(2);
    expect(linked.customerOfIdentity('webchat:a')?.ids).toEqual(['msteams:d', 'webchat:a', 'wechat:b']);

    // d loses its e-mail (the link to b): split again.
    shards.set('s2', 'msteams:d', entry('msteams', 'd', { phones: ['13800000001'], lastContactAt: '2026-04-01T00:00:00.000Z' }));
    linked.sync(shards.byId);
    expectFullRelink(linked, shards);
    expect(linked.customers).toHaveLength(3);

    // A changed ticket count only, an identity removed, then a whole shard gone.
    shards.set('s1', 'email:c', entry('email', 'c', { tickets: 5, lastContactAt: '2026-05-01T00:00:00.000Z' }));
    shards.set('s0', 'webchat:a', undefined);
    linked.sync(shards.byId);
    expectFullRelink(linked, shards);
    shards.byId.delete('s2');
    linked.sync(shards.byId);
    expectFullRelink(linked, shards);
    expect(linked.channels).toEqual(['email', 'wechat']);
  });

  it('equals a full re-link over a long random sequence of changes', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const shards = new Shards();
    const linked = new LinkedDirectory();
    const channels = ['webchat', 'wechat', 'email', 'msteams'];
    for (let step = 0; step < 300; step++) {
      // A few changes per sync, in one or two shards, as a burst of tickets would make.
      for (let k = 1 + rand(3); k > 0; k--) {
        const user = rand(60);
        const channelId = channels[user % 4];
        const id = `${channelId}:u${user}`;
        const shard = `s${user % 5}`;
        if (rand(10) === 0) shards.set(shard, id, undefined);
        else {
          const day = String(1 + rand(28)).padStart(2, '0');
          shards.set(shard, id, entry(channelId, `u${user}`, { phones: rand(3) ? [`1390000${rand(25)}`] : [], emails: rand(4) ? [] : [`m${rand(15)}@x.cn`], tickets: 1 + rand(4), lastContactAt: `2026-06-${day}T00:00:00.000Z` }));
        }
      }
      linked.sync(shards.byId);
      expectFullRelink(linked, shards);
    }
    expect(linked.customers.length).toBeGreaterThan(5);
    expect(linked.customers.some((c) => c.ids.length > 2)).toBe(true);
  });
});
