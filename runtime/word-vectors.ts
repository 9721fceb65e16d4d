/**
 * Reads the pretrained word-vector table (see classifier/word-vectors.ts) from disk, once per
 * path: the bot, the trainer and the CLIs share one copy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { WordVectors } from '../classifier/word-vectors.js';

const cache = new Map<string, WordVectors>();

/** The table at `path`, or undefined when there is no file (not installed). */
export function loadWordVectors(path: string): WordVectors | undefined {
  const hit = cache.get(path);
  if (hit) return hit;
  if (!existsSync(path)) return undefined;
  const table = WordVectors.parse(readFileSync(path));
  cache.set(path, table);
  return table;
}
