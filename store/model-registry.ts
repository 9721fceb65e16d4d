/**
 * The model registry: every trained version with its metrics and artifact, and which one is
 * active. Versions are immutable; activation is one atomic write of a pointer document, so every
 * bot process reading it agrees on the active version (the `active` flags follow it for queries).
 */
import { Binary, type Collection, type Db } from 'mongodb';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { KeywordOverrides } from '../classifier/models/keyword.js';
import { ConflictError, NotFoundError } from './errors.js';

/** What a version was trained from, beyond its data hash (recorded by the trainer). */
export interface ModelProvenance {
  /** Rows of the shipped corpus used (after corrections replaced rows with the same text). */
  corpusRows: number;
  /** Staff corrections merged over the corpus, and those left out (labels not in the taxonomy). */
  corrections: number;
  correctionsSkipped: number;
  /** Corpus rows a correction replaced (same normalised text). */
  replacedCorpusRows: number;
  trainingRows: number;
  /**
   * Trainers' keyword edits the version was trained with, per head and label (data/keywords.json
   * with the database's edits winning per topic), and the database revision of each topic's edits.
   */
  keywordEdits: { overrides: Record<string, KeywordOverrides>; revisions: Record<string, number> };
  /** The SVM C of each head: reused from the version active at training time, or searched. Absent in older records. */
  svmC?: { reusedFrom: string; values: Record<string, number> } | { searched: true };
  trainSeconds: number;
}

export interface ModelRecord {
  version: string;
  createdAt: Date;
  trainedBy: string;
  metrics: Record<string, unknown>;
  trainingDataHash: string;
  taxonomyVersion: string | null;
  seed: number;
  active: boolean;
  activatedAt: Date | null;
  activatedBy: string | null;
  /** Absent on versions registered without training here (the shipped model). */
  provenance?: ModelProvenance;
}

/**
 * The stored document. Metrics and provenance are kept as JSON text: FerretDB 1.24 refuses nested
 * arrays (a confusion matrix) and keys with dots (keyword terms), and both are only ever read whole.
 */
// Asynchronous (libuv thread pool): artifacts are megabytes, and bot processes must keep answering.
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

type ModelDoc = Omit<ModelRecord, 'metrics' | 'provenance'> & { _id: string; artifact: Binary; metricsJson: string; provenanceJson: string | null };
interface PointerDoc {
  _id: 'activeModel';
  version: string;
  at: Date;
  by: string;
}

export class MongoModelRegistry {
  private readonly models: Collection<ModelDoc>;
  private readonly settings: Collection<PointerDoc>;

  constructor(db: Db) {
    this.models = db.collection<ModelDoc>('models');
    this.settings = db.collection<PointerDoc>('settings');
  }

  /** Stores a new version (gzip-compressed artifact). A version is never overwritten. */
  async add(record: Omit<ModelRecord, 'active' | 'activatedAt' | 'activatedBy'>, artifact: object): Promise<void> {
    const { metrics, provenance, ...identity } = record;
    const bytes = await gzipAsync(JSON.stringify(artifact));
    try {
      await this.models.insertOne({
        _id: record.version,
        ...identity,
        metricsJson: JSON.stringify(metrics),
        provenanceJson: provenance ? JSON.stringify(provenance) : null,
        active: false,
        activatedAt: null,
        activatedBy: null,
        artifact: new Binary(bytes),
      });
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new ConflictError(`model version ${record.version} already exists`);
      throw err;
    }
  }

  async list(): Promise<ModelRecord[]> {
    const docs = await this.models.find({}, { projection: { artifact: 0 } }).sort({ createdAt: -1 }).toArray();
    return docs.map(toRecord);
  }

  /** One version's record (without its artifact), or null. */
  async get(version: string): Promise<ModelRecord | null> {
    const doc = await this.models.findOne({ _id: version }, { projection: { artifact: 0 } });
    return doc ? toRecord(doc) : null;
  }

  /** The parsed artifact of a version (the caller checks it before use). */
  async artifact(version: string): Promise<unknown> {
    const doc = await this.models.findOne({ _id: version });
    if (!doc) throw new NotFoundError(`model version ${version} not found`);
    return JSON.parse((await gunzipAsync(doc.artifact.buffer)).toString('utf8'));
  }

  /** Makes a version the active one. */
  async activate(version: string, by: string): Promise<void> {
    const exists = await this.models.countDocuments({ _id: version });
    if (!exists) throw new NotFoundError(`model version ${version} not found`);
    const at = new Date();
    await this.settings.updateOne({ _id: 'activeModel' }, { $set: { version, at, by } }, { upsert: true });
    await this.models.updateMany({ _id: { $ne: version }, active: true }, { $set: { active: false } });
    await this.models.updateOne({ _id: version }, { $set: { active: true, activatedAt: at, activatedBy: by } });
  }

  /** The active version, or null when none was activated (the shipped default model is used). */
  async activeVersion(): Promise<string | null> {
    const p = await this.settings.findOne({ _id: 'activeModel' });
    return p?.version ?? null;
  }
}

/** The one place a stored document becomes a record. */
function toRecord({ _id: _ignored, artifact: _artifact, metricsJson, provenanceJson, ...identity }: Omit<ModelDoc, 'artifact'> & { artifact?: Binary }): ModelRecord {
  const record: ModelRecord = { ...identity, metrics: JSON.parse(metricsJson) as Record<string, unknown> };
  if (provenanceJson) record.provenance = JSON.parse(provenanceJson) as ModelProvenance;
  return record;
}
