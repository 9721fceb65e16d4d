/**
 * Group commit for inserts: concurrent `insert(doc)` calls are written together with one
 * unordered `insertMany`, each caller getting its own document's outcome. With the SQLite-backed
 * FerretDB a batch of 20 costs little more than one insert, so throughput under load rises several
 * times; when idle, a document is written on the next turn of the event loop, alone.
 */
import { MongoBulkWriteError, type Collection, type Document, type OptionalUnlessRequiredId, type WriteConcernSettings } from 'mongodb';

interface Pending<T> {
  doc: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class InsertBatcher<T extends Document> {
  private queue: Pending<T>[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(
    private readonly collection: Collection<T>,
    private readonly writeConcern: () => WriteConcernSettings,
    private readonly maxBatch = 100,
  ) {}

  /**
   * Resolves when this document is acknowledged; rejects with its own error (e.g. duplicate key).
   * `urgent` puts it at the head of the queue, so it goes into the next batch rather than behind
   * the documents already waiting (still one batch at a time: writes of one collection never run
   * concurrently from here).
   */
  insert(doc: T, urgent = false): Promise<void> {
    return new Promise((resolve, reject) => {
      if (urgent) this.queue.unshift({ doc, resolve, reject });
      else this.queue.push({ doc, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      await this.collection.insertMany(
        batch.map((p) => p.doc as OptionalUnlessRequiredId<T>),
        { ordered: false, writeConcern: this.writeConcern() },
      );
      for (const p of batch) p.resolve();
    } catch (err) {
      if (err instanceof MongoBulkWriteError && !isWholeBatchFailure(err)) {
        // Per-document outcomes: the ones with a write error fail, the rest were stored.
        const failed = new Map<number, unknown>();
        for (const we of [err.writeErrors].flat()) failed.set(we.index, Object.assign(new Error(we.errmsg ?? 'write failed'), { code: we.code }));
        batch.forEach((p, i) => (failed.has(i) ? p.reject(failed.get(i)) : p.resolve()));
      } else {
        for (const p of batch) p.reject(err);
      }
    } finally {
      this.flushing = false;
      if (this.queue.length) this.schedule();
    }
  }
}

// A bulk error without per-document write errors (e.g. a write-concern error) fails everyone.
function isWholeBatchFailure(err: MongoBulkWriteError): boolean {
  const errors = [err.writeErrors].flat();
  return errors.length === 0;
}
