/**
 * Transient database errors: which failures pass by themselves, and a bounded retry for the writes
 * where repeating is safe.
 *
 * What the servers actually answer:
 * - **FerretDB 1.24 (SQLite backend)** waits up to 10 s for SQLite's write lock (`busy_timeout`) and
 *   then fails the command as a generic `InternalError`: `{ok: 0, code: 1, codeName:
 *   "InternalError", errmsg: "[msg_update.go:133 handler.(*Handler).updateDocument] … [collection.go:172
 *   sqlite.(*collection).UpdateAll.func1] database is locked (5) (SQLITE_BUSY)"}` (measured here, with
 *   another process holding the lock: `test/integration/transient-retry.test.ts`). SQLite also
 *   answers `SQLITE_BUSY_SNAPSHOT` (517, "database is locked (517)", no suffix) at once, without
 *   waiting, when a transaction that read must write after another connection committed: the likely
 *   form under load. `SQLITE_LOCKED` ("database table is locked", "database schema is locked") is
 *   the same kind of wait. FerretDB runs each command's write in one SQLite transaction and rolls it
 *   back on such an error, so a single-document write that failed this way was **not applied**.
 *   (A multi-document insert is written in batches, then one by one: it may have stored some.)
 * - **MongoDB** labels its passing failures itself: `RetryableWriteError` (primary stepped down,
 *   shutting down, …) and `TransientTransactionError`. A command error with such a label was not
 *   applied; a write-concern error with it was applied but not yet replicated, so it **may have
 *   been applied**.
 * Not transient here: the database being unreachable (errors.ts `isUnavailable`), which the outbox
 * and the read models' outage retry handle on their own time scale; duplicate keys, validation and
 * every other server error, which would fail again.
 */
import { MongoBulkWriteError, MongoNetworkError, MongoServerError, MongoWriteConcernError } from 'mongodb';
import { isUnavailable } from './errors.js';

/** What a transient failure says about the write: certainly not applied, or possibly applied. */
export type TransientFailure = 'not-applied' | 'may-have-applied';

/** SQLite's lock errors as FerretDB passes them on (errstr of SQLITE_BUSY / SQLITE_LOCKED and their extended codes). */
const SQLITE_LOCK = /\bdatabase (?:schema |table )?is locked\b|\bSQLITE_(?:BUSY|LOCKED)\b/i;
/** MongoDB's own labels for failures that pass (the driver sets them from the server's reply). */
const TRANSIENT_LABELS = ['RetryableWriteError', 'TransientTransactionError'] as const;

/** Whether the server answered with SQLite's lock error (FerretDB: code 1, InternalError). */
function isSqliteLock(err: MongoServerError): boolean {
  return (err.code === 1 || err.codeName === 'InternalError') && SQLITE_LOCK.test(err.message);
}

/**
 * Classifies a database error: null when it is not transient (retrying would fail again, or it
 * is an outage, handled elsewhere); otherwise whether the failed write may still have been applied.
 */
export function transientFailure(err: unknown): TransientFailure | null {
  if (!(err instanceof MongoServerError) || isUnavailable(err)) return null;
  const lock = isSqliteLock(err);
  if (!lock && !TRANSIENT_LABELS.some((l) => err.hasErrorLabel(l))) return null;
  // Applied but unacknowledged (write concern), or partly applied (several documents in one command).
  if (err instanceof MongoWriteConcernError || err instanceof MongoBulkWriteError || 'writeConcernError' in err) return 'may-have-applied';
  return 'not-applied';
}

/**
 * Whether a write that failed may nonetheless be stored, so that the caller must look before
 * reporting it failed or repeating it:
 * - a transient failure that may have applied it ({@link transientFailure});
 * - any write-concern error, labelled or not: the server applied the write and could not
 *   acknowledge it at the concern asked (replication timed out, the node is shutting down);
 * - a network error: the connection failed while the command or its reply was on the wire, so
 *   the server may have applied it (the reply lost; `test/integration/lost-reply.test.ts` makes
 *   one). A server that could not be selected at all is not one: the command was never sent
 *   (though inside a bulk error it cannot be told apart: looking costs a read, nothing more).
 */
export function mayHaveApplied(err: unknown): boolean {
  if (err instanceof MongoNetworkError) return true;
  // `insertMany` wraps either in a bulk error, losing its class: its message and its result tell.
  if (err instanceof MongoBulkWriteError && (isUnavailable(err) || bulkWriteConcernError(err))) return true;
  if (err instanceof MongoWriteConcernError || (err instanceof MongoServerError && 'writeConcernError' in err)) return true;
  return transientFailure(err) === 'may-have-applied';
}

/** Whether a bulk error's result carries a write-concern error (the batch was written). */
function bulkWriteConcernError(err: MongoBulkWriteError): boolean {
  const result = err.result as { getWriteConcernError?: () => unknown } | undefined;
  return typeof result?.getWriteConcernError === 'function' && result.getWriteConcernError() !== undefined;
}

/** How often and how patiently a transient failure is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default {@link DEFAULT_RETRY}). */
  attempts: number;
  /** The pause before the first retry (ms); doubled before each further one, with ±50% jitter. */
  baseMs: number;
  /** Told of each retry before its pause (the store logs it). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Three attempts, 100 then 200 ms apart (±50%). A plain SQLITE_BUSY has already waited 10 s in
 * FerretDB, so more attempts would mostly make a person wait longer; SQLITE_BUSY_SNAPSHOT comes at
 * once and is gone by the next attempt.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseMs: 100 };

/** What a retried operation is. */
export interface RetryOptions {
  /**
   * Repeating it after it was applied changes nothing (a read, an insert whose duplicate key the
   * operation itself recognises as its own, a delete by `_id`): retried after either kind of
   * transient failure. Otherwise only after one that certainly did not apply it.
   */
  idempotent: boolean;
  policy?: RetryPolicy;
}

/**
 * Runs `op`, repeating it after a transient failure that makes a repeat safe (see
 * {@link RetryOptions.idempotent}) up to the policy's attempts; any other error, or the last
 * transient one, is thrown as is.
 */
export async function retryTransient<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const kind = transientFailure(err);
      const safe = kind === 'not-applied' || (kind === 'may-have-applied' && opts.idempotent);
      if (!safe || attempt >= policy.attempts) throw err;
      policy.onRetry?.(err, attempt);
      const ms = policy.baseMs * 2 ** (attempt - 1) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}
