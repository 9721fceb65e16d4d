/**
 * The round-trip tally behind `bench:bot --db-stats` (store/command-stats.ts), on the real test
 * database: commands are counted per collection (bucket collections under their base name) and
 * per command, with their time.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { CommandTally } from '../../store/command-stats.js';
import { createClient } from '../../store/database.js';

const client = createClient(inject('mongoUri'), { monitorCommands: true });
const db = client.db(`cst_${randomUUID().slice(0, 8)}`);

afterAll(async () => {
  await db.dropDatabase().catch(() => undefined);
  await client.close();
});

describe('command tally', () => {
  it('counts round trips by collection base and command', async () => {
    const tally = new CommandTally(client);
    await db.collection('items_101').insertOne({ _id: 'a' } as never);
    await db.collection('items_102').insertOne({ _id: 'b' } as never);
    await db.collection('items_101').findOne({ _id: 'a' } as never);
    await db.collection('other').findOne({ _id: 'x' } as never);
    const rows = new Map(tally.snapshot().map((r) => [r.key, r]));
    expect(rows.get('items_* insert')?.calls).toBe(2);
    expect(rows.get('items_* find')?.calls).toBe(1);
    expect(rows.get('other find')?.calls).toBe(1);
    expect(tally.snapshot()[0].key).toBe('items_* insert'); // most calls first
    for (const r of rows.values()) expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('adds up the bytes each command sent and received', async () => {
    const tally = new CommandTally(client);
    const big = 'x'.repeat(20_000);
    await db.collection('sized').insertOne({ _id: 'big', big } as never);
    await db.collection('sized').findOne({ _id: 'big' } as never);
    const rows = new Map(tally.snapshot().map((r) => [r.key, r]));
    expect(rows.get('sized insert')!.sentBytes).toBeGreaterThan(20_000);
    expect(rows.get('sized insert')!.receivedBytes).toBeLessThan(1_000);
    expect(rows.get('sized find')!.sentBytes).toBeLessThan(1_000);
    expect(rows.get('sized find')!.receivedBytes).toBeGreaterThan(20_000);
  });
});
