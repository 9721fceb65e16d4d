/**
 * Trainers' keyword edits per topic (pin, add, remove, re-weight), stored as insert-only revisions:
 * every save inserts revision n + 1 under the `_id` `<topic>:<n+1>`, so two trainers saving the
 * same topic at once cannot both win (FerretDB enforces unique `_id`s but has no atomic
 * read-modify-write), and every earlier revision stays readable. The latest revision of a topic is
 * what the next training run applies; the model registry records which revision each version used.
 */
import type { Collection, Db } from 'mongodb';
import { z } from 'zod';
import { toSimplifiedChinese } from '../classifier/normalize.js';
import { isDuplicateKey } from './claims.js';
import { ConflictError, ValidationError } from './errors.js';
import { ensureIndexes } from './indexes.js';
import { parseInput, PROTOTYPE_KEYS } from './validation.js';

const Term = z.string().trim().min(1, 'a keyword cannot be empty').max(40, 'a keyword has at most 40 characters');
/** Keyword weights are log-likelihood ratios; discovered ones lie within about ±8. */
const Weight = z.number().finite().min(-20).max(20);

/** One topic's edits as a trainer sends them: the whole set, replacing the previous revision. */
export const KeywordEditsSchema = z
  .object({
    /** Add a keyword, or override a discovered keyword's weight. */
    set: z.record(z.string().regex(/\S/, 'a keyword cannot be empty').max(40, 'a keyword has at most 40 characters'), Weight).default({}),
    /** Keep these discovered keywords even when they fall outside the top list. */
    pin: z.array(Term).max(500).default([]),
    /** Never use these as keywords. */
    remove: z.array(Term).max(500).default([]),
  })
  .strict();
export type KeywordEditsInput = z.input<typeof KeywordEditsSchema>;

/** Normalised edits (a classifier `KeywordEdits` with every field present): terms simplified and lower-cased, sorted. */
export interface StoredKeywordEdits {
  set: Record<string, number>;
  pin: string[];
  remove: string[];
}

export interface KeywordEditRevision {
  topic: string;
  /** 1 for the first save of a topic, then +1 per save. */
  revision: number;
  edits: StoredKeywordEdits;
  by: string;
  at: Date;
}

type RevisionDoc = KeywordEditRevision & { _id: string };

/**
 * Validates and normalises edits the way data/keywords.json is read (traditional → simplified,
 * lower case), so trainers may type either script. A term may not be both removed and kept.
 */
export function normalizeKeywordEdits(input: KeywordEditsInput): StoredKeywordEdits {
  const e = parseInput(KeywordEditsSchema, input, 'keyword edits');
  const norm = (t: string) => toSimplifiedChinese(t.trim());
  // A Map, not an object: a term normalised into `__proto__` (e.g. "__PROTO__") must not set a prototype.
  const setMap = new Map<string, number>();
  for (const [term, weight] of Object.entries(e.set)) setMap.set(norm(term), weight);
  const reserved = [...setMap.keys(), ...e.pin.map(norm), ...e.remove.map(norm)].filter((t) => PROTOTYPE_KEYS.has(t));
  if (reserved.length) {
    throw new ValidationError(`keyword edits: ${reserved.join(', ')} cannot be a keyword`, reserved.map((t) => ({ path: 'set', message: `"${t}" is a reserved name` })));
  }
  const set = Object.fromEntries(setMap);
  const pin = [...new Set(e.pin.map(norm))].sort();
  const remove = [...new Set(e.remove.map(norm))].sort();
  const kept = new Set([...Object.keys(set), ...pin]);
  const both = remove.filter((t) => kept.has(t));
  if (both.length) {
    throw new ValidationError(`keyword edits: ${both.join(', ')} cannot be both removed and kept`, both.map((t) => ({ path: 'remove', message: `"${t}" is also in set or pin` })));
  }
  return { set: Object.fromEntries(Object.entries(set).sort(([a], [b]) => (a < b ? -1 : 1))), pin, remove };
}

export class MongoKeywordEdits {
  private readonly revisions: Collection<RevisionDoc>;

  constructor(db: Db) {
    this.revisions = db.collection<RevisionDoc>('keywordEdits');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.revisions, [{ key: { topic: 1, revision: -1 }, name: 'topic_revision' }]);
  }

  /** The latest revision of a topic's edits, or null when trainers never edited it. */
  async latest(topic: string): Promise<KeywordEditRevision | null> {
    const doc = await this.revisions.find({ topic }).sort({ revision: -1 }).limit(1).next();
    return doc ? strip(doc) : null;
  }

  /** The latest revision of every edited topic (what a training run applies). */
  async latestAll(): Promise<Record<string, KeywordEditRevision>> {
    const out: Record<string, KeywordEditRevision> = {};
    for (const doc of await this.revisions.find({}).toArray()) {
      if ((out[doc.topic]?.revision ?? 0) < doc.revision) out[doc.topic] = strip(doc);
    }
    return out;
  }

  /**
   * Saves a topic's whole edit set as a new revision. With `expectedRevision` (the revision the
   * trainer edited; 0 = none yet) a newer stored revision is a conflict; without it, a concurrent
   * save is retried on top of the other one.
   */
  async save(topic: string, input: KeywordEditsInput, by: string, opts: { expectedRevision?: number; at?: Date } = {}): Promise<KeywordEditRevision> {
    const edits = normalizeKeywordEdits(input);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await this.latest(topic))?.revision ?? 0;
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== current) {
        throw new ConflictError(`the keywords of ${topic} were changed by someone else (now revision ${current}, you edited revision ${opts.expectedRevision}); reload them`);
      }
      const rev: KeywordEditRevision = { topic, revision: current + 1, edits, by, at: opts.at ?? new Date() };
      try {
        await this.revisions.insertOne({ _id: `${topic}:${rev.revision}`, ...rev });
        return rev;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        if (opts.expectedRevision !== undefined) throw new ConflictError(`the keywords of ${topic} were changed by someone else; reload them`);
      }
    }
    throw new ConflictError(`the keywords of ${topic} are changing too fast; try again`);
  }
}

function strip({ _id: _ignored, ...rev }: RevisionDoc): KeywordEditRevision {
  return rev;
}
