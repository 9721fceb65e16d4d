/**
 * Read-model documents kept parsed between reads (store/json-docs.ts getManyCached),
 * on the real database with two clients, as two server processes would have: a reader keeps what
 * it read until a change by either process, a rebuild (install), and an unchanged
 * read probes only the claims collection.
 */
import { randomUUID } from 'node:crypto';
import type { MongoClient, CommandStartedEvent, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JsonDocs } from '../../store/json-docs.js';
import { createClient } from '../../store/database.js';

interface Doc {
  n: number;
}

let clients: MongoClient[] = [];
let dbA: Db;
let dbB: Db;
const commandsB: CommandStartedEvent[] = [];

beforeAll(async () => {
  const name = `jsondocs_${randomUUID().slice(0, 8)}`;
  for (let i = 0; i < 2; i++) {
    const client = createClient(inject('mongoUri'), { monitorCommands: i === 1 });
    await client.connect();
    clients.push(client);
  }
  clients[1].on('commandStarted', (e) => commandsB.push(e));
  dbA = clients[0].db(name);
  dbB = clients[1].db(name);
});

afterAll(async () => {
  await dbA?.dropDatabase().catch(() => undefined);
  for (const c of clients) await c.close();
  clients = [];
});

const fresh = (db: Db, name: string) => new JsonDocs<Doc>(db, name, () => ({ n: 0 }));
const values = (m: Map<string, Doc>) => Object.fromEntries([...m].map(([k, v]) => [k, v.n]));

describe('JsonDocs read cache', () => {
  it('sees every change made by another process, by itself and by a rebuild', async () => {
    const a = fresh(dbA, 'cacheDocs');
    const b = fresh(dbB, 'cacheDocs');
    await a.update('x', (d) => void (d.n = 1));
    await a.update('y', (d) => void (d.n = 10));
    const first = await b.getManyCached(['x', 'y', 'z']);
    expect(values(first)).toEqual({ x: 1, y: 10 });

    // Unchanged: the second read probes the claims and reads no document, and gives the same objects.
    commandsB.length = 0;
    const second = await b.getManyCached(['x', 'y', 'z']);
    expect(values(second)).toEqual({ x: 1, y: 10 });
    expect(second.get('x')).toBe(first.get('x'));
    const reads = commandsB.filter((c) => c.commandName === 'find').map((c) => String(c.command.find));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((n) => n === 'cacheDocs')).toEqual(['cacheDocs']); // only the absent 'z', by _id
    expect(reads.every((n) => n === 'claims' || n === 'cacheDocs')).toBe(true);

    await a.update('x', (d) => void (d.n += 1)); // another process
    const third = await b.getManyCached(['x', 'y']);
    expect(values(third)).toEqual({ x: 2, y: 10 });
    expect(third.get('x')).not.toBe(first.get('x'));
    expect(third.get('y')).toBe(first.get('y'));
    await b.update('y', (d) => void (d.n += 1)); // this process
    expect(values(await b.getManyCached(['x', 'y']))).toEqual({ x: 2, y: 11 });
    await a.update('z', (d) => void (d.n = 5)); // created since
    expect(values(await b.getManyCached(['x', 'y', 'z']))).toEqual({ x: 2, y: 11, z: 5 });

    // A rebuild's bulk writes take no claims: the generation mark tells the reader.
    await a.install(new Map([['x', { n: 100 }], ['y', { n: 11 }]]), 1);
    expect(values(await b.getManyCached(['x', 'y', 'z']))).toEqual({ x: 100, y: 11 });
    await a.update('x', (d) => void (d.n += 1));
    expect(values(await b.getManyCached(['x', 'y']))).toEqual({ x: 101, y: 11 });
    // A document the next rebuild does not write becomes a tombstone: it reads as absent.
    await a.install(new Map([['x', { n: 7 }]]), 2);
    expect(values(await b.getManyCached(['x', 'y']))).toEqual({ x: 7 });
    expect(await b.get('y')).toBeNull();
  });

  it('many concurrent writers and a cached reader: the reader ends on the final value', async () => {
    const writers = [fresh(dbA, 'busyDocs'), fresh(dbB, 'busyDocs')];
    const reader = fresh(dbB, 'busyDocs');
    const seen: number[] = [];
    let done = false;
    const reading = (async () => {
      while (!done) seen.push((await reader.getManyCached(['c'])).get('c')?.n ?? 0);
    })();
    await Promise.all(Array.from({ length: 40 }, (_, i) => writers[i % 2].update('c', (d) => void (d.n += 1))));
    done = true;
    await reading;
    expect((await reader.getManyCached(['c'])).get('c')!.n).toBe(40);
    // Never backwards: a read after a later one never returns an older value.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  });
});
