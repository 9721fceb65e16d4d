/**
 * Everything the shipped model learns from, in one place, so `train`, the retraining job, the
 * reproducibility test and the benchmarks read the same rows in the same order:
 *
 * 1. the project's own corpus (`data/corpus/*.jsonl`, the team's writing);
 * 2. the dialogue-act rows (`data/acts/*.jsonl`: `{"text", "act"}`, the team's writing);
 * 3. real customer text from `../shared/datasets`, never copied into the repository:
 *    the training rows (i % 5 != 0) of `realtext_dev.jsonl`, and the rows of other shared data
 *    sets that `data/references/*.jsonl` relabel into the taxonomy
 *    (`{"dataset": "<file>.jsonl", "row": i, "topic", "type", "spam"}`).
 *
 * When `../shared` is absent, part 3 is skipped with a message on stderr (the model then learns
 * from the project's own writing only). Realtext test rows are never returned for training, and a
 * reference whose text is a realtext test row is dropped, so test figures stay honest.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CorpusRow } from '../classifier/demand-classifier.js';
import { DIALOGUE_ACTS } from '../classifier/dialogue-acts.js';
import { normalize } from '../classifier/normalize.js';
import { DEMAND_TYPES, type Taxonomy } from '../classifier/taxonomy.js';
import { SHARED_MISSING_MESSAGE, sharedDataset } from './datasets.js';
import { readJsonl } from './jsonl.js';
import { loadCorpus } from './project-data.js';

/** The real-text evaluation set of ../shared/datasets (README: "Real customer messages"). */
export const REALTEXT_FILE = 'realtext_dev.jsonl';

/** One row of realtext_dev.jsonl. */
export interface RealtextRow {
  text: string;
  topic: string | null;
  type: string | null;
  spam: boolean;
  lang: string;
  source: string;
}

const RealtextSchema = z.object({
  text: z.string().min(1),
  topic: z.string().nullable(),
  type: z.enum(DEMAND_TYPES).nullable(),
  spam: z.boolean(),
  lang: z.string(),
  source: z.string(),
});

/** realtext_dev.jsonl split by the shared rule (row i is a test row when i % 5 == 0), or null when absent. */
export function loadRealtext(): { train: RealtextRow[]; test: RealtextRow[] } | null {
  const file = sharedDataset(REALTEXT_FILE);
  if (!file) return null;
  const train: RealtextRow[] = [];
  const test: RealtextRow[] = [];
  readJsonl(file).forEach((raw, i) => {
    const r = RealtextSchema.safeParse(raw);
    if (!r.success) throw new Error(`${file}:${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    (i % 5 === 0 ? test : train).push(r.data);
  });
  return { train, test };
}

/** The file row (0-based) of the j-th training row of realtext_dev (training rows skip every i % 5 == 0). */
export function trainRowIndex(j: number): number {
  return Math.floor(j / 4) * 5 + (j % 4) + 1;
}

/** A realtext row as a training row (real customer text). */
export function realtextToCorpusRow(r: RealtextRow): CorpusRow {
  return { text: r.text, topic: r.topic, type: r.type as CorpusRow['type'], spam: r.spam, real: true };
}

const ActRowSchema = z.object({ text: z.string().min(1), act: z.enum(DIALOGUE_ACTS) }).strip();

/** Dialogue-act rows (`data/acts/*.jsonl`), in file-name order; errors name the file and line. */
export function loadActs(dataDir: string): CorpusRow[] {
  const dir = join(dataDir, 'acts');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) =>
      readJsonl(join(dir, f)).map((raw, i): CorpusRow => {
        const r = ActRowSchema.safeParse(raw);
        if (!r.success) throw new Error(`${join(dir, f)}:${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
        return { text: r.data.text, act: r.data.act };
      }),
    );
}

const ReferenceSchema = z
  .object({
    dataset: z.string().regex(/^[a-z0-9_]+\.jsonl$/, 'a file name in ../shared/datasets'),
    row: z.number().int().min(0),
    topic: z.string().nullable().optional(),
    type: z.enum(DEMAND_TYPES).nullable().optional(),
    spam: z.boolean().optional(),
    act: z.enum(DIALOGUE_ACTS).optional(),
  })
  .strip();

export interface ReferenceLoad {
  rows: CorpusRow[];
  /** Reference lines read. */
  references: number;
  /** Dropped: a test row of its data set, a row past the end, or the text of a realtext test row. */
  skipped: { testSplit: number; missing: number; realtextTest: number; noDataset: number };
}

/**
 * Resolves `data/references/*.jsonl` against ../shared/datasets. A reference to a test row of its
 * data set (i % 5 == 0) is an error in the file, reported and dropped, never trained on.
 */
export function loadReferences(dataDir: string, taxonomy: Taxonomy, exclude: ReadonlySet<string> = new Set()): ReferenceLoad {
  const dir = join(dataDir, 'references');
  const out: ReferenceLoad = { rows: [], references: 0, skipped: { testSplit: 0, missing: 0, realtextTest: 0, noDataset: 0 } };
  if (!existsSync(dir)) return out;
  const topics = new Set(taxonomy.topics.map((t) => t.id));
  const texts = new Map<string, Record<string, unknown>[] | null>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.jsonl')).sort()) {
    readJsonl(join(dir, f)).forEach((raw, i) => {
      const where = `${join(dir, f)}:${i + 1}`;
      const r = ReferenceSchema.safeParse(raw);
      if (!r.success) throw new Error(`${where}: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      const ref = r.data;
      if (ref.topic && !topics.has(ref.topic)) throw new Error(`${where}: unknown topic "${ref.topic}"`);
      out.references++;
      if (ref.row % 5 === 0) {
        out.skipped.testSplit++;
        return;
      }
      if (!texts.has(ref.dataset)) {
        const file = sharedDataset(ref.dataset);
        texts.set(ref.dataset, file ? readJsonl(file) : null);
      }
      const rows = texts.get(ref.dataset)!;
      if (rows === null) {
        out.skipped.noDataset++;
        return;
      }
      const text = rows[ref.row]?.text;
      if (typeof text !== 'string' || text.trim() === '') {
        out.skipped.missing++;
        return;
      }
      if (exclude.has(textKey(text))) {
        out.skipped.realtextTest++;
        return;
      }
      out.rows.push({ text, topic: ref.topic ?? null, type: ref.type ?? null, spam: ref.spam, ...(ref.act ? { act: ref.act } : {}), real: true });
    });
  }
  return out;
}

function textKey(text: string): string {
  return normalize(text).text;
}

/** Which sources to read. */
export interface TrainingSourceOptions {
  /** Read ../shared/datasets (realtext training rows and references). Default true. */
  shared?: boolean;
  /**
   * Include the realtext_dev training rows (default true). The learning benchmark's starting model
   * leaves them out, because it then feeds them as staff corrections.
   */
  realtext?: boolean;
  /**
   * realtext_dev file rows (0-based, as in the split rule) to leave out of training, as if they were
   * test rows: references with their texts are dropped too. The learning benchmark's development
   * split scores its curve on them.
   */
  realtextExclude?: readonly number[];
  /** Where to say that ../shared is absent or that references were dropped. Default: stderr. */
  warn?: (message: string) => void;
}

export interface TrainingSources {
  rows: CorpusRow[];
  counts: { corpus: number; acts: number; realtext: number; references: number; referencesSkipped: ReferenceLoad['skipped'] | null };
  /** False when ../shared was asked for but absent. */
  shared: boolean;
}

/** The shipped model's training rows: corpus, acts, then (when present) realtext training rows and references. */
export function loadTrainingSources(dataDir: string, taxonomy: Taxonomy, opts: TrainingSourceOptions = {}): TrainingSources {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const corpus = loadCorpus(join(dataDir, 'corpus'), taxonomy);
  const acts = loadActs(dataDir);
  const counts: TrainingSources['counts'] = { corpus: corpus.length, acts: acts.length, realtext: 0, references: 0, referencesSkipped: null };
  if (opts.shared === false) return { rows: [...corpus, ...acts], counts, shared: false };
  const realtext = loadRealtext();
  if (!realtext) {
    warn(`${SHARED_MISSING_MESSAGE} the real-text training rows and data/references (training on data/corpus and data/acts only)`);
    return { rows: [...corpus, ...acts], counts, shared: false };
  }
  const held = new Set(opts.realtextExclude ?? []);
  const kept = held.size ? realtext.train.filter((_, j) => !held.has(trainRowIndex(j))) : realtext.train;
  const exclude = new Set([...realtext.test, ...realtext.train.filter((_, j) => held.has(trainRowIndex(j)))].map((r) => textKey(r.text)));
  const refs = loadReferences(dataDir, taxonomy, exclude);
  const dropped = refs.skipped.testSplit + refs.skipped.missing + refs.skipped.realtextTest + refs.skipped.noDataset;
  if (dropped) warn(`data/references: ${dropped} of ${refs.references} references not used ${JSON.stringify(refs.skipped)}`);
  const real = opts.realtext === false ? [] : kept.map(realtextToCorpusRow);
  counts.realtext = real.length;
  counts.references = refs.rows.length;
  counts.referencesSkipped = refs.skipped;
  return { rows: [...corpus, ...acts, ...real, ...refs.rows], counts, shared: true };
}
