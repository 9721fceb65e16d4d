/**
 * Loading the project's own data: taxonomy, labelled corpus, stopwords, jieba user dictionary,
 * trainers' keyword edits. Every file is validated; errors name the file and line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CorpusRow } from '../classifier/demand-classifier.js';
import type { KeywordOverrides } from '../classifier/models/keyword.js';
import { toSimplifiedChinese } from '../classifier/normalize.js';
import { DEMAND_TYPES, parseTaxonomy, type Taxonomy } from '../classifier/taxonomy.js';
import { parseWordList, type Stopwords } from '../classifier/tokenizer.js';
import { readJsonl } from './jsonl.js';

export function loadTaxonomy(dataDir: string): Taxonomy {
  return parseTaxonomy(JSON.parse(readFileSync(join(dataDir, 'taxonomy.json'), 'utf8')));
}

export function loadStopwords(dataDir: string): Stopwords {
  return {
    zh: parseWordList(readFileSync(join(dataDir, 'stopwords-zh.txt'), 'utf8')),
    en: parseWordList(readFileSync(join(dataDir, 'stopwords-en.txt'), 'utf8')),
  };
}

export function userDictPath(dataDir: string): string {
  return join(dataDir, 'userdict.txt');
}

export function loadUserDict(dataDir: string): string {
  return readFileSync(userDictPath(dataDir), 'utf8');
}

const CorpusRowSchema = z
  .object({
    text: z.string().min(1),
    topic: z.string().nullable().optional(),
    type: z.enum(DEMAND_TYPES).nullable().optional(),
    spam: z.boolean().optional(),
    lang: z.string().optional(),
    kind: z.string().optional(),
  })
  // Other fields (ids, sources, a `label` for evaluate) are allowed and ignored.
  .strip();

/** Reads and validates training rows from a JSONL file (topic/type/spam labels). */
export function readCorpusFile(file: string, taxonomy: Taxonomy): CorpusRow[] {
  const topics = new Set(taxonomy.topics.map((t) => t.id));
  return readJsonl(file).map((raw, i) => {
    const r = CorpusRowSchema.safeParse(raw);
    if (!r.success) throw new Error(`${file}:${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    if (r.data.topic && !topics.has(r.data.topic)) throw new Error(`${file}:${i + 1}: unknown topic "${r.data.topic}"`);
    return { text: r.data.text, topic: r.data.topic ?? null, type: r.data.type ?? null, spam: r.data.spam };
  });
}

/** A corpus folder (by default `data/corpus`): every `*.jsonl` in it, in file-name order. */
export function loadCorpus(dir: string, taxonomy: Taxonomy): CorpusRow[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => readCorpusFile(join(dir, f), taxonomy));
}

/**
 * The frozen held-out set (`data/holdout/holdout.jsonl`): written independently of the corpus and
 * never trained on, so every model version is evaluated on the same rows.
 */
export function loadHoldout(dataDir: string, taxonomy: Taxonomy): CorpusRow[] {
  return readCorpusFile(join(dataDir, 'holdout', 'holdout.jsonl'), taxonomy);
}

const EditsSchema = z
  .object({
    set: z.record(z.string(), z.number().finite()).optional(),
    pin: z.array(z.string()).optional(),
    remove: z.array(z.string()).optional(),
  })
  .strict();
const OverridesSchema = z.record(z.string(), z.record(z.string(), EditsSchema));

/**
 * Trainers' keyword edits (`data/keywords.json`): per head, per label. Terms are normalised the
 * way messages are (traditional → simplified, lower case), so trainers may type either script.
 */
export function loadKeywordOverrides(dataDir: string): Record<string, KeywordOverrides> {
  const file = join(dataDir, 'keywords.json');
  if (!existsSync(file)) return {};
  const parsed = OverridesSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const norm = (t: string) => toSimplifiedChinese(t.trim());
  const out: Record<string, KeywordOverrides> = {};
  for (const [head, labels] of Object.entries(parsed)) {
    out[head] = {};
    for (const [label, e] of Object.entries(labels)) {
      out[head][label] = {
        set: e.set ? Object.fromEntries(Object.entries(e.set).map(([t, w]) => [norm(t), w])) : undefined,
        pin: e.pin?.map(norm),
        remove: e.remove?.map(norm),
      };
    }
  }
  return out;
}
