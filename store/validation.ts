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

/** Keys that would reach an object's prototype where user input becomes object keys. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * The path (`body.a.b`) of the first `__proto__`, `constructor` or `prototype` key anywhere in
 * `value`, or null. JSON.parse makes `__proto__` an own key; copying such an object key by key
 * (a zod record, `obj[key] = …`) would set a prototype instead of a value, so these are refused
 * wherever user input becomes object keys. Structures deeper than 32 levels are reported too.
 */
export function findPrototypeKey(value: unknown, path: string, depth = 0): string | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth > 32) return path;
  for (const key of Object.keys(value)) {
    if (PROTOTYPE_KEYS.has(key)) return `${path}.${key}`;
    const hit = findPrototypeKey((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    if (hit) return hit;
  }
  return null;
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
    if (PROTOTYPE_KEYS.has(k)) {
      throw new ValidationError(`invalid ${what}: key "${k}" at ${path || '(root)'} is not allowed`, [{ path: `${path}${path ? '.' : ''}${k}`, message: 'forbidden key' }]);
    }
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
