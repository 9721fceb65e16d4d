import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { guardDriverWrites } from '../../store/driver-write-guard.js';
import { DriverGuardError } from '../../store/errors.js';

/** The driver's (internal) connection class, as the guard finds it. */
const proto = (createRequire(import.meta.url)('mongodb/lib/cmap/connection.js') as { Connection: { prototype: Record<string, unknown> } }).Connection.prototype;

describe('the driver write guard (store/driver-write-guard.ts)', () => {
  it('wraps the driver connection’s command write, once however often it is installed', () => {
    guardDriverWrites();
    const wrapped = proto.writeCommand;
    expect((wrapped as { name: string }).name).toBe('guardedWriteCommand');
    guardDriverWrites();
    expect(proto.writeCommand).toBe(wrapped);
  });

  it('refuses to start, with DRIVER_GUARD_UNAVAILABLE, on a driver whose connection has no command write to guard', () => {
    const saved = proto.writeCommand;
    try {
      proto.writeCommand = undefined;
      let thrown: unknown;
      try {
        guardDriverWrites();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(DriverGuardError);
      expect((thrown as DriverGuardError).code).toBe('DRIVER_GUARD_UNAVAILABLE');
      expect((thrown as Error).message).toMatch(/writeCommand/);
    } finally {
      proto.writeCommand = saved;
    }
  });

  it('is on every client the project makes: no source file but createClient (store/database.ts) and the embedded server’s probe makes a driver client itself', () => {
    // A client made with `new MongoClient` in a process that has not yet called createClient has no
    // guard: a test cutting the network could hang in a helper's client. The probe installs it first.
    const allowed = ['store/database.ts', 'store/embedded-server.ts', 'test/unit/driver-write-guard.test.ts' /* names them */];
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (['node_modules', 'dist', 'vendor', 'deps', 'data', 'docs'].includes(e.name) || e.name.startsWith('.') ? [] : sources(join(dir, e.name))) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    const makers = sources(PROJECT_ROOT)
      .map((f) => relative(PROJECT_ROOT, f))
      .filter((f) => !allowed.includes(f) && /new MongoClient\b|MongoClient\.connect\(/.test(readFileSync(join(PROJECT_ROOT, f), 'utf8')));
    expect(makers).toEqual([]);
  });
});
