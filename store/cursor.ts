/**
 * Keyset (cursor) pagination of ticket lists: a cursor names the last ticket of a page by its sort
 * key and number, so the next page starts right after it, whatever was filed meanwhile (new tickets
 * never shift a page, unlike `page=N`, which skips N−1 pages from the top). Opaque to clients:
 * base64url of `{ v, m, s, k }` — format version, the list path that made it, the sort and the key.
 */
import { ValidationError } from './errors.js';

/** Which list path made a cursor: the ticket index (`i`), search (`s`) or a database query (`q`). */
export type CursorMode = 'i' | 's' | 'q';

export interface Cursor {
  m: CursorMode;
  s: string;
  /** The last item's sort key, ending with its ticket number. */
  k: (string | number | boolean | null)[];
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, ...c }), 'utf8').toString('base64url');
}

function invalid(message: string): ValidationError {
  return new ValidationError(`invalid cursor: ${message}; use the nextCursor of the previous page, with the same filters and sort`, [{ path: 'cursor', message }]);
}

/** Reads a cursor for `mode` and `sort`; a cursor of another list or sort is refused (400). */
export function decodeCursor(raw: string, mode: CursorMode, sort: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid('not a cursor');
  }
  const c = parsed as Partial<Cursor> & { v?: unknown };
  const keyOk = Array.isArray(c.k) && c.k.length > 0 && c.k.length <= 4 && c.k.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x)) && typeof c.k.at(-1) === 'string';
  if (c === null || typeof c !== 'object' || c.v !== 1 || !keyOk) throw invalid('not a cursor');
  if (c.m !== mode || c.s !== sort) throw invalid('made for another list or sort');
  return { m: c.m, s: c.s, k: c.k! };
}
