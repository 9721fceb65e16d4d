/**
 * Write-behind queues per document: batching and outage retry for the read models (json-docs.ts).
 * This is not concurrency machinery — correctness across processes is the compare-and-set's
 * (json-docs.ts, claims.ts); this decides when, and how many changes at once, it runs.
 *
 * - Changes queued while one write of a document is in flight are applied together by the next,
 *   so a busy counter costs one compare-and-set per round trip, not one per ticket.
 * - With `batchMs` a document's first queued change also waits that long for company: a new ticket
 *   changes a dozen read-model documents, so under a steady stream of tickets each document is
 *   written once per `batchMs` instead of once per ticket.
 * - A batch that fails for want of the database (or, after that, on a claim the failed write left
 *   behind, which turns stale after 30 s) is kept and tried again for up to `outageRetryMs`: the
 *   ticket write it follows is already stored, and a change dropped here stays missing until
 *   `stats:rebuild`. A transient error (transient-errors.ts: SQLite's lock on FerretDB, a MongoDB
 *   retryable label, a write-concern error among them) is kept and tried again the same way.
 *   A write that fails for want of the database, or with a write-concern error, may still have been
 *   applied (the server applied it and the reply was lost): `apply` must recognise changes already
 *   stored, which json-docs.ts does by the per-writer mark in each document, so a retried batch is
 *   never applied twice (and it looks at once, so that such a batch is settled without waiting).
 * - Reads in this process wait for the queued changes of the documents they read ({@link idle}),
 *   so a writer need not await its read-model updates and still reads its own writes.
 */
import { ConflictError, isUnavailable } from './errors.js';
import { transientFailure } from './transient-errors.js';

/**
 * How long the read models keep a change that failed for want of the database (`outageRetryMs`):
 * long enough for the supervised embedded server to come back (seconds) and for a claim the failed
 * write left behind to turn stale (30 s, see claims.ts).
 */
export const OUTAGE_RETRY_MS = 90_000;

/** A queued change: settled when stored (or finally refused). */
export interface QueuedChange {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Options of {@link WriteBehind}. */
export interface WriteBehindOptions {
  /** How long a document's first queued change waits for others (ms; 0: written at once). */
  batchMs?: number;
  /** How long a change whose write failed for want of the database is tried again (ms; 0: fails at once). */
  outageRetryMs?: number;
}

/**
 * `apply` throws this when the batch cannot settle yet for a reason that will pass (a rebuild that
 * may still replace the document, json-docs.ts): it is tried again later, with no deadline.
 */
export class RetryLater extends Error {}

/** Per-document queues feeding `apply(id, batch)`, which resolves when the batch is stored. */
export class WriteBehind<C extends QueuedChange> {
  private readonly queues = new Map<string, C[]>();
  /** The drain in progress per document (reads wait for it). */
  private readonly draining = new Map<string, Promise<void>>();
  /** Per document paused for the database, the call that ends its pause early (a new one each pause). */
  private readonly paused = new Map<string, () => void>();
  /** Reads waiting in {@link idle}, woken when a write pauses for the database. */
  private readonly onPause = new Set<() => void>();
  /** Documents whose batch is waiting `batchMs` before its write starts. */
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private readonly batchMs: number;
  private readonly outageRetryMs: number;

  constructor(
    private readonly apply: (id: string, batch: C[]) => Promise<void>,
    opts: WriteBehindOptions = {},
  ) {
    this.batchMs = opts.batchMs ?? 0;
    this.outageRetryMs = opts.outageRetryMs ?? 0;
  }

  /** Queues a change of document `id`. */
  enqueue(id: string, change: C): void {
    let q = this.queues.get(id);
    if (!q) this.queues.set(id, (q = []));
    q.push(change);
    if (this.draining.has(id) || this.waiting.has(id)) return;
    if (this.batchMs > 0) this.waiting.set(id, setTimeout(() => this.start(id), this.batchMs));
    else this.start(id);
  }

  /** Starts writing the document's queued changes (now, if its batch was waiting). */
  private start(id: string): void {
    const timer = this.waiting.get(id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
    if (!this.draining.has(id)) this.draining.set(id, this.drain(id));
  }

  /**
   * Resolves when this process has no change of these documents queued or being stored. A write
   * waiting to be tried again after the database went away is tried now; if that fails too (the
   * database is still away), the read goes on without it and answers, or fails, at once.
   */
  async idle(ids: readonly string[]): Promise<void> {
    // A read does not wait out a batch's delay: the batch is written now.
    for (const id of ids) if (this.waiting.has(id)) this.start(id);
    // Writes retried for this read, and the pause each was in (a new pause means it failed again).
    const kicked = new Map<string, () => void>();
    for (const id of ids) {
      const pause = this.paused.get(id);
      if (!pause) continue;
      kicked.set(id, pause);
      pause();
    }
    for (;;) {
      for (const [id, pause] of kicked) {
        const current = this.paused.get(id);
        if (current && current !== pause) kicked.delete(id);
      }
      const busy = ids.filter((id) => (kicked.has(id) || !this.paused.has(id)) && this.draining.has(id)).map((id) => this.draining.get(id)!);
      if (busy.length === 0) return;
      // Until they are stored, or until one of them pauses for the database.
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.onPause.delete(wake);
          resolve();
        };
        this.onPause.add(wake);
        void Promise.all(busy).then(wake, wake);
      });
    }
  }

  /** Writes the document's queued changes until none is left (see the module comment on outages). */
  private async drain(id: string): Promise<void> {
    let failingSince: number | null = null;
    try {
      for (let attempt = 0; ; attempt++) {
        const batch = this.queues.get(id);
        if (!batch || batch.length === 0) break;
        this.queues.delete(id);
        try {
          await this.apply(id, batch);
          failingSince = null;
          for (const c of batch) c.resolve();
        } catch (err) {
          if (!(err instanceof RetryLater)) failingSince ??= Date.now();
          // A transient error (a SQLite lock the statement's own retries outlasted, a MongoDB write-concern
          // error labelled retryable) passes like an outage: one that may have applied the batch is safe
          // to try again too, as apply() settles the changes the document already holds (json-docs.ts).
          const passing = isUnavailable(err) || err instanceof ConflictError || transientFailure(err) !== null;
          if (err instanceof RetryLater || (passing && Date.now() - failingSince! < this.outageRetryMs)) {
            // Ahead of changes queued since: they were made after these.
            this.queues.set(id, [...batch, ...(this.queues.get(id) ?? [])]);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, Math.min(5_000, 250 * 2 ** Math.min(attempt, 5)));
              this.paused.set(id, () => {
                clearTimeout(timer);
                resolve();
              });
              for (const wake of [...this.onPause]) wake();
            });
            continue;
          }
          for (const c of batch) c.reject(err);
        } finally {
          this.paused.delete(id);
        }
      }
    } finally {
      this.queues.delete(id);
      this.draining.delete(id);
    }
  }
}
