import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../runtime/config.js';
import { createServices } from '../../desk/services.js';
import { openDatabase } from '../../store/database.js';

describe('opening the database', () => {
  it('uses MONGODB_URI when it is set, and starts no server', async () => {
    const config = loadConfig({ MONGODB_URI: inject('mongoUri') });
    const d = await openDatabase(config);
    try {
      expect(d.server).toBeNull();
      expect(d.db.databaseName).toBe('demand_desk');
      expect(await d.db.command({ ping: 1 })).toMatchObject({ ok: 1 });
    } finally {
      await d.close();
    }
  });

  it('without MONGODB_URI starts the embedded server on disk, and stops it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'open-db-'));
    const config = loadConfig({ DB_DIR: dir, DB_NAME: 'app' });
    const d = await openDatabase(config);
    expect(d.server?.kind).toBe('ferretdb');
    await d.db.collection('x').insertOne({ a: 1 });
    expect(await d.db.collection('x').countDocuments()).toBe(1);
    await d.close();
    // Stopped: a new client cannot reach it.
    const again = await openDatabase({ ...config, MONGODB_URI: d.uri, DB_TIMEOUT_MS: 300 }).catch((e: Error) => e);
    expect(again).toBeInstanceOf(Error);
    // The data is on disk: the next start sees it.
    const d2 = await openDatabase(config);
    expect(await d2.db.collection('x').countDocuments()).toBe(1);
    await d2.close();
  });

  it("a first start of every service on a fresh DB_DIR brings none of the embedded database's messages into the log (DB_LOG_LEVEL default)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'first-start-log-'));
    const config = loadConfig({ DB_DIR: join(dir, 'db'), OUTBOX_PATH: join(dir, 'outbox', 'tickets.jsonl') });
    expect(config.DB_LOG_LEVEL).toBe('warn');
    const logged: { level: string; msg: string }[] = [];
    const at = (level: string) => (_o: object, msg: string) => void logged.push({ level, msg });
    const log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const services = await createServices(config, { log, models: false });
    await services.close();
    // The supervisor's own lines came through, so the logger was wired to the server.
    expect(logged.map((l) => l.msg)).toContain('ferretdb stopped');
    // Before DB_LOG_LEVEL: 150-odd lines of FerretDB's (connections, and five "ns does not exist"
    // replies over 16 lines each, from listing the indexes of collections not made yet).
    expect(logged.filter((l) => l.msg.startsWith('[ferretdb]'))).toEqual([]);
  });

  it('joins the embedded server another process runs on the same folder instead of starting a second one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'join-db-'));
    const config = loadConfig({ DB_DIR: dir, DB_NAME: 'app' });
    const owner = await openDatabase(config);
    try {
      const joined = await openDatabase(config);
      expect(joined.server).toBeNull();
      expect(joined.uri).toBe(owner.uri);
      await joined.db.collection('x').insertOne({ from: 'cli' });
      await joined.close();
      // Closing the joined client left the owner's server running.
      expect(await owner.db.collection('x').countDocuments()).toBe(1);
    } finally {
      await owner.close();
    }
    // The owner stopped its server and removed its marker: the next open starts one again.
    const next = await openDatabase(config);
    expect(next.server?.kind).toBe('ferretdb');
    await next.close();
  });

  it('rejects a malformed MONGODB_URI at start-up, naming the variable', () => {
    expect(() => loadConfig({ MONGODB_URI: 'localhost:27017' })).toThrow(ConfigError);
    expect(() => loadConfig({ MONGODB_URI: 'localhost:27017' })).toThrow(/MONGODB_URI/);
  });
});
