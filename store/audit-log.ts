/**
 * The audit log: one insert-only document per change made through the staff API (who, what, when,
 * on which record, with the details of the change). Inserts are the write FerretDB does fastest and
 * an audit trail is never edited.
 */
import { randomUUID } from 'node:crypto';
import type { Collection, Db, Filter } from 'mongodb';
import { z } from 'zod';
import { isDuplicateKey } from './claims.js';
import { ensureIndexes } from './indexes.js';
import { DEFAULT_RETRY, mayHaveApplied } from './transient-errors.js';
import { parseInput } from './validation.js';

export interface AuditEntry {
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

export const AuditQuerySchema = z
  .object({
    actor: z.string().min(1).max(64).optional(),
    // Camel case after the first letter: the live queue's endings are `handover.handedBack` and `handover.timedOut`.
    action: z.string().regex(/^[a-z][a-zA-Z._-]{0,63}$/).optional(),
    target: z.string().min(1).max(256).optional(),
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type AuditQuery = z.input<typeof AuditQuerySchema>;

type AuditDoc = AuditEntry & { _id: string };

export class MongoAuditLog {
  private readonly entries: Collection<AuditDoc>;

  constructor(db: Db) {
    this.entries = db.collection<AuditDoc>('audit');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.entries, [{ key: { at: -1 }, name: 'at' }]);
  }

  /**
   * Records one entry. The entry has its own `_id`, so an insert that failed in a way that may have
   * stored it (its reply lost: transient-errors.ts `mayHaveApplied`) is sent again: a duplicate key
   * then means it is stored. The change it records is stored already, and an error here would tell
   * the person it failed (a staff reply would be sent to the customer again).
   *
   * `id` and `at`: an entry kept while the database was away and written later (desk/tickets.ts,
   * store/held-messages.ts) keeps the id and time it was made with; a duplicate key for it means an
   * earlier write (or replay) stored it.
   */
  async record(entry: { id?: string; at?: Date; actor: string; action: string; target?: string | null; details?: Record<string, unknown> }, at = entry.at ?? new Date()): Promise<void> {
    const doc: AuditDoc = { _id: entry.id ?? randomUUID(), at, actor: entry.actor, action: entry.action, target: entry.target ?? null, details: entry.details ?? {} };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.entries.insertOne({ ...doc });
        return;
      } catch (err) {
        if ((attempt > 1 || entry.id !== undefined) && isDuplicateKey(err)) return;
        if (!mayHaveApplied(err) || attempt >= DEFAULT_RETRY.attempts) throw err;
      }
    }
  }

  async list(query: AuditQuery = {}): Promise<{ items: AuditEntry[]; total: number; page: number; pageSize: number }> {
    const q = parseInput(AuditQuerySchema, query, 'audit query');
    const filter: Filter<AuditDoc> = {};
    if (q.actor) filter.actor = q.actor;
    if (q.action) filter.action = q.action;
    if (q.target) filter.target = q.target;
    const [docs, total] = await Promise.all([
      this.entries.find(filter).sort({ at: -1, _id: 1 }).skip((q.page - 1) * q.pageSize).limit(q.pageSize).toArray(),
      this.entries.countDocuments(filter),
    ]);
    return { items: docs.map(({ _id: _ignored, ...e }) => e), total, page: q.page, pageSize: q.pageSize };
  }
}
