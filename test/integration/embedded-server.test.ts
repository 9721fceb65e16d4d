import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  resolveEmbeddedServerBinary,
  startEmbeddedServer,
  type EmbeddedServer,
  type EmbeddedServerLogger,
} from '../../store/embedded-server.js';
import { DatabaseUnavailableError, EmbeddedServerStartError } from '../../store/errors.js';
import { freePort } from '../../scripts/server-process.js';
import { createClient } from '../../store/database.js';

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
  const c = createClient(uri, { serverSelectionTimeoutMS });
  clients.push(c);
  return c;
}

/** One call to a logger: its level, fields and message. */
interface Logged {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps every call, like pino's four levels. */
function capturingLogger(): EmbeddedServerLogger & { logged: Logged[]; database(): Logged[] } {
  const logged: Logged[] = [];
  const at = (level: Logged['level']) => (fields: object, msg: string) => void logged.push({ level, fields: fields as Record<string, unknown>, msg });
  return {
    logged,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    /** The database's own messages (not the supervisor's lifecycle messages). */
    database: () => logged.filter((l) => l.msg.startsWith('[ferretdb] ')),
  };
}

/** Whether anything answers ping at `uri` within a short time. */
async function answersPing(uri: string): Promise<boolean> {
  const c = createClient(uri, { serverSelectionTimeoutMS: 1_000 });
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

  it("passes on only the database's warnings and errors by default, each message as one marked line", async () => {
    const logger = capturingLogger();
    const server = await startEmbeddedServer({ dataDir: join(root, 'log-default'), logger });
    servers.push(server);
    const c = client(server.uri);
    await c.db('t').collection('notes').insertOne({ text: '日志' });
    // An unknown command: FerretDB answers with an error and logs the reply (over 16 lines) as a warning.
    await expect(c.db('t').command({ noSuchCommandHere: 1 })).rejects.toThrow(/noSuchCommandHere/);
    await vi.waitFor(() => expect(logger.database().some((l) => l.msg.includes('noSuchCommandHere'))).toBe(true), { timeout: 10_000 });
    const reply = logger.database().filter((l) => l.msg.includes('noSuchCommandHere'));
    expect(reply).toHaveLength(1);
    expect(reply[0]).toMatchObject({ level: 'warn', msg: "[ferretdb] error reply to a client: CommandNotFound (59): no such command: 'noSuchCommandHere'" });
    expect(reply[0].fields).toMatchObject({ server: 'ferretdb', port: server.port, dbLevel: 'WARN' });
    // Connections were opened (the driver's pool), yet none of FerretDB's info lines came through.
    expect(logger.database().filter((l) => l.level === 'info' || l.level === 'debug')).toEqual([]);
    for (const l of logger.logged) expect(l.msg).not.toContain('\n');
    // The supervisor's own lines still come through.
    expect(logger.logged.some((l) => l.level === 'info' && l.msg === `ferretdb ready at ${server.uri}`)).toBe(true);
  });

  it("passes on the database's info lines with logLevel 'info' (a line per connection)", async () => {
    const logger = capturingLogger();
    const server = await startEmbeddedServer({ dataDir: join(root, 'log-info'), logger, logLevel: 'info' });
    servers.push(server);
    await client(server.uri).db('t').collection('notes').insertOne({ text: 'x' });
    await vi.waitFor(() => expect(logger.database().some((l) => l.level === 'info' && l.msg === '[ferretdb] Connection started')).toBe(true), { timeout: 10_000 });
    expect(logger.database().some((l) => l.level === 'info' && l.msg.startsWith('[ferretdb] Listening on TCP 127.0.0.1:'))).toBe(true);
  });

  it('logs a bind error as the database error it is, and still fails the start with it', async () => {
    const holder = await start('bind-holder');
    const logger = capturingLogger();
    const attempt = startEmbeddedServer({ dataDir: join(root, 'bind-taken'), port: holder.port, supervise: false, logger });
    const error = (await attempt.then((s) => (servers.push(s), 'started'), (e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(EmbeddedServerStartError);
    expect(error.message).toMatch(/exit code 1; last output:\nERROR\+3 Failed to construct listener: .*bind: address already in use/);
    const logged = logger.database().filter((l) => l.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0].msg).toMatch(new RegExp(`^\\[ferretdb\\] Failed to construct listener: .*listen tcp 127\\.0\\.0\\.1:${holder.port}: bind: address already in use$`));
  });

  it('logs a database killed under it, and restarts it, at the default log level', async () => {
    const logger = capturingLogger();
    const server = await startEmbeddedServer({ dataDir: join(root, 'log-killed'), logger });
    servers.push(server);
    const first = server.pid()!;
    process.kill(first, 'SIGKILL');
    await vi.waitFor(() => expect(server.status()).toMatchObject({ state: 'running', restarts: 1, lastExit: 'signal SIGKILL' }), { timeout: 20_000 });
    expect(server.pid()).not.toBe(first);
    expect(logger.logged).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'ferretdb exited unexpectedly; restarting', fields: expect.objectContaining({ pid: first, exit: 'signal SIGKILL' }) }));
    expect(logger.logged).toContainEqual(expect.objectContaining({ level: 'info', msg: 'ferretdb restarted' }));
    expect(await answersPing(server.uri)).toBe(true);
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
    const logger = capturingLogger();
    const attempt = startEmbeddedServer({ dataDir: join(root, 'dies'), binary: fake, logger });
    const error = (await attempt.catch((e: unknown) => e)) as EmbeddedServerStartError;
    expect(error).toBeInstanceOf(EmbeddedServerStartError);
    expect(error.message).toContain('exit code 3');
    expect(error.message).toContain('fatal: cannot open state dir');
    // Output outside the log format (how a crashing process explains itself) reaches the log at warn.
    expect(logger.database()).toEqual([
      expect.objectContaining({ level: 'warn', msg: '[ferretdb] starting' }),
      expect.objectContaining({ level: 'warn', msg: '[ferretdb] fatal: cannot open state dir' }),
    ]);
  });
});
