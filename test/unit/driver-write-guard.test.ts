import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
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
});
