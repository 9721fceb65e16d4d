/**
 * The shared public data sets beside the project (`../shared/datasets`), used by tests and
 * benchmarks only. They are never copied into the repository, and code that needs them skips
 * with a clear message when they are absent.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonl } from './jsonl.js';

/** The project root: the nearest folder above this file with a package.json (works from dist/ too). */
export const PROJECT_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'data'))) return d;
    if (dirname(d) === d) return resolve(dir, '..');
  }
}
export const SHARED_DATASETS = resolve(PROJECT_ROOT, '..', 'shared', 'datasets');

export const SHARED_MISSING_MESSAGE = `shared data sets not found at ${SHARED_DATASETS} (they live beside the project, in ../shared/datasets); skipping`;

/** Path of a shared data set, or null when ../shared/datasets is absent. */
export function sharedDataset(name: string): string | null {
  const p = join(SHARED_DATASETS, name);
  return existsSync(p) ? p : null;
}

export interface Row {
  text: string;
  label: string;
  [field: string]: unknown;
}

/**
 * The split rule of ../shared/datasets/README.md: row i (0-based, file order) is a test row when
 * i % 5 == 0, otherwise a training row.
 */
export function splitMod5<T>(rows: readonly T[]): { train: T[]; test: T[] } {
  const train: T[] = [];
  const test: T[] = [];
  rows.forEach((r, i) => (i % 5 === 0 ? test : train).push(r));
  return { train, test };
}

/** Reads a labelled JSONL file, taking the label from `labelField`. Rows without text or label fail. */
export function readLabelled(file: string, labelField = 'label'): Row[] {
  return readJsonl(file).map((r, i) => {
    if (typeof r.text !== 'string') throw new Error(`${file}: row ${i + 1} has no "text" string`);
    const label = r[labelField];
    if (label === undefined || label === null) throw new Error(`${file}: row ${i + 1} has no "${labelField}"`);
    return { ...r, text: r.text, label: String(label) };
  });
}
