/** JSON Lines reading with line numbers in errors. */
import { readFileSync } from 'node:fs';
import { AppError } from '../core/app-error.js';

/** A JSON Lines file has a bad line (named with its number). */
export class JsonlError extends AppError {
  readonly code = 'JSONL_INVALID';
  constructor(readonly file: string, readonly line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** Reads a JSON Lines file; every non-empty line must be a JSON object. */
export function readJsonl(file: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (!line.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (err) {
        throw new JsonlError(file, i + 1, `not valid JSON (${(err as Error).message})`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JsonlError(file, i + 1, 'not a JSON object');
      rows.push(value as Record<string, unknown>);
    });
  return rows;
}
