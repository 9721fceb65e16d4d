import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import {
  resolveEmbeddedServerBinary,
  startEmbeddedServer,
  type EmbeddedServer,
} from '../../store/embedded-server.js';
import { DatabaseUnavailableError, EmbeddedServerStartError } from '../../store/errors.js';
import { freePort } from '../../scripts/server-process.js';

const root = mkdtempSync(join(tmpdir(), 'demand-embedded-'));
const servers: EmbeddedServer[] = [];
const clients: MongoClient[] = [];

/** A server in a fresh directory under `root`, stopped after the file. */
async function start(name: string, port?: number): Promise<EmbeddedServer> {
  const server = await startEmbeddedServer({ dataDir: join(root, name), port });
  servers.push(server);
  return server;
}

function client(uri: string, serverSelectionTimeoutMS = 15_000): MongoClient {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS });
  clients.push(c);
  return c;
}

/** Whether anything answers ping at `uri` within a short time. */
async function answersPing(uri: string): Promise<boolean> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 1_000 });
  try {
    await c.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await c.close();
  }
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(root, { recursive: true, force: true });
});

let binaryProblem: string | undefined;
try {
  resolveEmbeddedServerBinary();
} catch (error) {
  binaryProblem = (error as Error).message;
  process.stderr.write(`embedded-server tests skipped: ${binaryProblem}\n`);
}

describe.skipIf(binaryProblem !== undefined)('startEmbeddedServer (real server)', () => {
  it('starts a server that answers ping at mongodb://127.0.0.1:<port>/', async () => {
    const server = await start('ping');
    expect(['ferretdb', 'mongod']).toContain(server.kind);
    expect(server.uri).toBe(`mongodb://127.0.0.1:${server.port}/`);
    const reply = await client(server.uri).db('admin').command({ ping: 1 });
    expect(reply.ok).toBe(1);
  });

  it('round-trips documents with the official driver', async () => {
    const server = await start('round-trip');
    const tickets = client(server.uri).db('demand').collection<{ ticketId: string; text: string; tags: string[]; at: Date }>('tickets');
    const at = new Date('2024-05-01T08:30:00Z');
    const { insertedId } = await tickets.insertOne({ ticketId: 'T-1', text: '快递三天没更新了', tags: ['物流'], at });
    const found = await tickets.findOne({ _id: insertedId });
    expect(found).toMatchObject({ ticketId: 'T-1', text: '快递三天没更新了', tags: ['物流'], at });
    expect(await tickets.countDocuments({ ticketId: 'T-2' })).toBe(0);
  });

  it('answers each collection from its own table among many, and lists collections by name and in full (patch list-collections-by-name)', async () => {
    const server = await start('many-collections');
    const db = client(server.uri).db('demand');
    const names = Array.from({ length: 40 }, (_, i) => `bucket_${String(i).padStart(3, '0')}`);
    for (const name of names) await db.collection<{ _id: string; name: string }>(name).insertOne({ _id: `${name}|1`, name });
    for (const name of [names[0], names[17], names[39]]) {
      expect(await db.collection(name).find({}).toArray()).toEqual([{ _id: `${name}|1`, name }]);
      expect(await db.collection(name).findOne({ _id: `${name}|1` } as never)).toEqual({ _id: `${name}|1`, name });
    }
    expect(await db.collection('bucket_missing').find({}).toArray()).toEqual([]);
    expect((await db.listCollections({ name: names[17] }).toArray()).map((c) => c.name)).toEqual([names[17]]);
    expect(await db.listCollections({ name: 'bucket_missing' }).toArray()).toEqual([]);
    expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual(names);
    await db.createCollection('capped_one', { capped: true, size: 4096 });
    await expect(db.collection('bucket_001').find({}, { tailable: true }).toArray()).rejects.toThrow(/capped/i);
  });

  it('runs two servers at once in different directories, each with its own data', async () => {
    const [a, b] = await Promise.all([start('two-a'), start('two-b')]);
    expect(a.port).not.toBe(b.port);
    const ca = client(a.uri).db('demand').collection('notes');
    const cb = client(b.uri).db('demand').collection('notes');
    await ca.insertOne({ on: 'a' });
    await cb.insertOne({ on: 'b' });
    expect((await ca.find({}, { projection: { _id: 0 } }).toArray())).toEqual([{ on: 'a' }]);
    expect((await cb.find({}, { projection: { _id: 0 } }).toArray())).toEqual([{ on: 'b' }]);
  });

  it('keeps data across stop() and restart() on the same URI, and a client reconnects', async () => {
    const server = await start('restart');
    const { uri, port } = server;
    const c = client(uri);
    const notes = c.db('demand').collection('notes');
    await notes.insertOne({ n: 1 });

    await server.stop();
    expect(await answersPing(uri)).toBe(false);

    await server.restart();
    expect(server.uri).toBe(uri);
    expect(server.port).toBe(port);
    // the same client object, opened before the stop
    expect(await notes.findOne({ n: 1 }, { projection: { _id: 0 } })).toEqual({ n: 1 });
    await notes.insertOne({ n: 2 });

    // restart() while running stops first
    await server.restart();
    expect(await notes.countDocuments({})).toBe(2);
  });

  it('is not fooled by another server answering on its port: it reports that its own did not start', async () => {
    const holder = await start('port-holder');
    const started = startEmbeddedServer({ dataDir: join(root, 'port-taken'), port: holder.port, supervise: false });
    const outcome = await started.then(
      (server) => {
        servers.push(server);
        return 'started';
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(EmbeddedServerStartError);
    // The holder is untouched.
    expect(await answersPing(holder.uri)).toBe(true);
  });

  it('starts again on another port when the port it picked is taken before the server binds it (here by another server, whose pid gives it away)', async () => {
    const holder = await start('picked-port-holder');
    const given: number[] = [];
    // The first pick is the holder's port, as if it had been taken between the pick and the bind.
    const pickPort = async () => {
      const port = given.length === 0 ? holder.port : await freePort();
      given.push(port);
      return port;
    };
    const server = await startEmbeddedServer({ dataDir: join(root, 'picked-port-taken'), pickPort });
    servers.push(server);
    expect(given[0]).toBe(holder.port);
    expect(given.length).toBe(2);
    expect(server.port).toBe(given[1]);
    // Its own server, with its own data: a write to it does not reach the holder.
    await client(server.uri).db('t').collection('notes').insertOne({ text: '端口' });
    expect(await client(holder.uri).db('t').collection('notes').countDocuments({})).toBe(0);
    expect(await client(server.uri).db('t').collection('notes').countDocuments({})).toBe(1);
  });

  it('gives up, with the bind error, after 3 picked ports all taken', async () => {
    const holder = await start('picked-port-holder-2');
    let picks = 0;
    const outcome = await startEmbeddedServer({ dataDir: join(root, 'always-taken'), supervise: false, pickPort: async () => (picks++, holder.port) }).then(
      (server) => {
        servers.push(server);
        return 'started';
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(EmbeddedServerStartError);
    expect((outcome as Error).message).toMatch(/address already in use/i);
    expect(picks).toBe(3);
  });

  it('stop() is idempotent, also when called concurrently', async () => {
    const server = await start('stop-twice');
    expect(await answersPing(server.uri)).toBe(true);
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(await answersPing(server.uri)).toBe(false);
  });
});

describe('startEmbeddedServer (failures)', () => {
  it('throws DatabaseUnavailableError explaining MONGODB_URI when the binary is missing', async () => {
    const missing = join(root, 'no-such-dir', 'ferretdb');
    const attempt = startEmbeddedServer({ dataDir: join(root, 'missing'), binary: missing });
    await expect(attempt).rejects.toBeInstanceOf(DatabaseUnavailableError);
    const error = (await attempt.catch((e: unknown) => e)) as DatabaseUnavailableError;
    expect(error.code).toBe('DATABASE_UNAVAILABLE');
    expect(error.name).toBe('DatabaseUnavailableError');
    expect(error.message).toContain(missing);
    expect(error.message).toContain('MONGODB_URI=mongodb://127.0.0.1:27017/demand');
    expect(error.message).toContain('npm install');
  });

  it('reports the exit status and last output of a server that dies during start-up', async () => {
    const fake = join(root, 'fake-ferretdb');
    writeFileSync(fake, '#!/bin/sh\necho "starting"\necho "fatal: cannot open state dir" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const attempt = startEmbeddedServer({ dataDir: join(root, 'dies'), binary: fake });
    const error = (await attempt.catch((e: unknown) => e)) as EmbeddedServerStartError;
    expect(error).toBeInstanceOf(EmbeddedServerStartError);
    expect(error.message).toContain('exit code 3');
    expect(error.message).toContain('fatal: cannot open state dir');
  });
});
