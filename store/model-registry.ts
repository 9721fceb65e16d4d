/**
 * The model registry: every trained version with its metrics and artifact, and which one is
 * active. Versions are immutable; activation is one atomic write of a pointer document, so every
 * bot process reading it agrees on the active version (the `active` flags follow it for queries).
 */
import { Binary, type Collection, type Db } from 'mongodb';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ConflictError, NotFoundError } from './errors.js';

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
}

type ModelDoc = ModelRecord & { _id: string; artifact: Binary };
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
    try {
      await this.models.insertOne({
        _id: record.version,
        ...record,
        active: false,
        activatedAt: null,
        activatedBy: null,
        artifact: new Binary(gzipSync(JSON.stringify(artifact))),
      });
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new ConflictError(`model version ${record.version} already exists`);
      throw err;
    }
  }

  async list(): Promise<ModelRecord[]> {
    const docs = await this.models.find({}, { projection: { artifact: 0 } }).sort({ createdAt: -1 }).toArray();
    return docs.map(({ _id: _ignored, ...r }) => r as ModelRecord);
  }

  /** The parsed artifact of a version (the caller checks it before use). */
  async artifact(version: string): Promise<unknown> {
    const doc = await this.models.findOne({ _id: version });
    if (!doc) throw new NotFoundError(`model version ${version} not found`);
    return JSON.parse(gunzipSync(doc.artifact.buffer).toString('utf8'));
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
