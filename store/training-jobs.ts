/**
 * Training runs across processes: a lock document so that one run at a time happens in the whole
 * deployment (not only in one process), its live progress for every process to show, and the
 * outcome of the last run.
 *
 * The lock is the `_id` `trainingLock` in `settings`: inserting it succeeds for exactly one
 * process (FerretDB enforces unique `_id`s but has no atomic read-modify-write). The holder
 * refreshes `heartbeatAt` while it trains; a lock whose heartbeat is older than `staleMs` belongs to
 * a process that died and is taken over.
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './claims.js';

/** The run holding the lock, with its progress. */
export interface TrainingLock {
  jobId: string;
  by: string;
  seed: number;
  startedAt: Date;
  heartbeatAt: Date;
  stage: string;
  /** 0..1 */
  progress: number;
}

/** How the last finished run ended. */
export interface TrainingOutcome {
  jobId: string;
  by: string;
  seed: number;
  startedAt: Date;
  finishedAt: Date;
  state: 'succeeded' | 'failed';
  /** The stage it ended in (where it failed, for a failed run). */
  stage: string;
  /** The version it added to the registry (succeeded only). */
  version: string | null;
  error: { code: string; message: string } | null;
}

type LockDoc = TrainingLock & { _id: 'trainingLock' };
type OutcomeDoc = TrainingOutcome & { _id: 'trainingLast' };

export class MongoTrainingJobs {
  private readonly locks: Collection<LockDoc>;
  private readonly outcomes: Collection<OutcomeDoc>;

  constructor(db: Db, private readonly staleMs = 60_000) {
    this.locks = db.collection<LockDoc>('settings');
    this.outcomes = db.collection<OutcomeDoc>('settings');
  }

  /** Takes the lock for a run; returns the run holding it when someone else does. */
  async acquire(lock: Omit<TrainingLock, 'heartbeatAt' | 'stage' | 'progress'>): Promise<{ acquired: true } | { acquired: false; holder: TrainingLock }> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.locks.insertOne({ _id: 'trainingLock', ...lock, heartbeatAt: new Date(), stage: 'starting', progress: 0 });
        return { acquired: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await this.locks.findOne({ _id: 'trainingLock' });
        if (!existing) continue; // released meanwhile
        if (!this.isStale(existing)) return { acquired: false, holder: strip(existing) };
        // Its process died mid-run: remove exactly that lock and try once more.
        await this.locks.deleteOne({ _id: 'trainingLock', jobId: existing.jobId, heartbeatAt: existing.heartbeatAt });
      }
    }
    const holder = await this.current();
    if (holder) return { acquired: false, holder };
    throw new Error('could not take the training lock; try again');
  }

  /** Records progress and proves the holder is alive; false when the lock is no longer this run's. */
  async heartbeat(jobId: string, stage: string, progress: number): Promise<boolean> {
    const r = await this.locks.updateOne({ _id: 'trainingLock', jobId }, { $set: { heartbeatAt: new Date(), stage, progress } });
    return r.matchedCount === 1;
  }

  /** Stores the run's outcome, then releases its lock. */
  async finish(outcome: TrainingOutcome): Promise<void> {
    await this.outcomes.replaceOne({ _id: 'trainingLast' }, outcome, { upsert: true });
    await this.locks.deleteOne({ _id: 'trainingLock', jobId: outcome.jobId });
  }

  /** The run holding the lock now, unless its process stopped heartbeating. */
  async current(): Promise<TrainingLock | null> {
    const doc = await this.locks.findOne({ _id: 'trainingLock' });
    return doc && !this.isStale(doc) ? strip(doc) : null;
  }

  /** The outcome of the last finished run, or null before the first one. */
  async last(): Promise<TrainingOutcome | null> {
    const doc = await this.outcomes.findOne({ _id: 'trainingLast' });
    if (!doc) return null;
    const { _id: _ignored, ...outcome } = doc;
    return outcome;
  }

  private isStale(lock: TrainingLock): boolean {
    return Date.now() - lock.heartbeatAt.getTime() > this.staleMs;
  }
}

function strip({ _id: _ignored, ...lock }: LockDoc): TrainingLock {
  return lock;
}
