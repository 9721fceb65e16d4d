/** Validation at the repository boundary: schemas, key safety, document size. */
import { BSON } from 'mongodb';
import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Largest document a repository accepts (MongoDB's own limit is 16 MB; tickets are far smaller). */
export const MAX_DOCUMENT_BYTES = 512 * 1024;

/** Parses input with a schema; the error names every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  assertSafeKeys(value, what);
  const r = schema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
    throw new ValidationError(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

/**
 * Rejects object keys that MongoDB would read as operators or paths (`$…`, `a.b`) and values that
 * are not plain data, anywhere in the value.
 */
export function assertSafeKeys(value: unknown, what: string, path = ''): void {
  if (value === null || typeof value !== 'object') return;
  if (value instanceof Date) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertSafeKeys(v, what, `${path}[${i}]`));
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new ValidationError(`invalid ${what}: ${path || '(root)'} is not a plain object`);
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$') || k.includes('.') || k.includes('\0')) {
      throw new ValidationError(`invalid ${what}: key "${k}" at ${path || '(root)'} may not start with $ or contain a dot`, [{ path: `${path}${path ? '.' : ''}${k}`, message: 'forbidden key' }]);
    }
    assertSafeKeys(v, what, path ? `${path}.${k}` : k);
  }
}

/** Rejects documents above {@link MAX_DOCUMENT_BYTES}, with the size in the message. */
export function assertDocumentSize(doc: object, what: string, max = MAX_DOCUMENT_BYTES): void {
  const size = BSON.calculateObjectSize(doc as BSON.Document);
  if (size > max) throw new ValidationError(`invalid ${what}: document is ${size} bytes, the limit is ${max}`);
}

/** Escapes user text for use inside a regular expression (search boxes). */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
