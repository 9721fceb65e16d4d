/**
 * Conversation state that survives a database outage: a botbuilder `Storage` wrapped around the
 * database one (MongoBotStorage).
 *
 * - A write the database cannot take is kept in this process's memory and written (unconditionally,
 *   it is the newest) at the next read or write once the database answers again; reads of that key
 *   meanwhile get the kept version. So a conversation that was under way keeps its dialog (a draft
 *   waiting for "yes", the contact step) and the turn never fails on saving.
 * - A read the database cannot answer is served from this process's last copy of the key: the
 *   state it last read from or wrote to the database (kept as JSON, bounded in bytes, least recently
 *   used dropped first). So a customer in the middle of the dialog when the database goes carries on
 *   (their "yes" or "skip" is answered, and the demand filed into the outbox with its number) rather
 *   than being asked to send it again. With several processes, a copy may be one turn behind when the
 *   conversation's last turn was taken by another process (the dialog then repeats a question).
 * - A read the database cannot answer, for a key with nothing kept and no copy, throws
 *   {@link StateUnavailableError}: the bot then answers that turn without state (and files the
 *   demand into the ticket outbox) rather than guess an empty conversation and overwrite the real one.
 *
 * Kept writes live in memory only (bounded: 20,000 conversations, 32 MiB): they bridge a database restart of seconds, not a crash
 * of this process; tickets, which must survive both, go through the durable outbox instead.
 */
import type { Storage, StoreItems } from 'botbuilder';
import { isUnavailable } from './ticket-repository.js';

/** The database cannot be reached to read a conversation's state. */
export class StateUnavailableError extends Error {
  readonly code = 'STATE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateUnavailableError';
  }
}

export interface StateFallbackLogger {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

/** A database call that has not answered after this long is treated as unreachable. */
const OPERATION_DEADLINE_MS = 15_000;

/** A call to the database storage that did not settle within its deadline. */
class DeadlineError extends Error {}

/**
 * The call's outcome, or a DeadlineError after `ms`: the driver's own timeouts should come first;
 * this is the backstop, so that no turn waits on the database forever.
 */
function withDeadline<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer from the database within ${ms} ms`)), ms);
  });
  return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
}

const unreachable = (err: unknown) => isUnavailable(err) || err instanceof DeadlineError;

/** Wait after a failed flush before the next attempt. */
const FLUSH_RETRY_MS = 1000;

/** Kept item: the state to write, or null for a deletion. */
type Kept = Record<string, unknown> | null;

/** Bytes of last copies kept by default (a dialog state is 1–3 KB: several thousand conversations). */
const COPY_BYTES = 16 * 1024 * 1024;
/** Bytes of states waiting for the database, by default (beyond: the turn is answered without state). */
const KEPT_BYTES = 32 * 1024 * 1024;

export class OutageTolerantStorage implements Storage {
  private readonly kept = new Map<string, Kept>();
  /** Estimated size of each kept state (its JSON, two bytes a character), and their sum. */
  private readonly keptSizes = new Map<string, number>();
  private keptBytes = 0;
  /** Last state read from or written to the database per key, as JSON ('null': none), least recently used first. */
  private readonly copies = new Map<string, string>();
  private copyBytes = 0;
  private flushing: Promise<void> | null = null;
  /** When a flush last found the database unreachable: turns do not each wait for it again at once. */
  private lastFailure = 0;

  constructor(
    private readonly inner: Storage,
    private readonly log: StateFallbackLogger,
    private readonly maxKept = 20_000,
    private readonly deadlineMs = OPERATION_DEADLINE_MS,
    private readonly maxCopyBytes = COPY_BYTES,
    private readonly maxKeptBytes = KEPT_BYTES,
  ) {}

  /** Bytes held by last copies (UTF-16, as JavaScript holds them). */
  copiedBytes(): number {
    return this.copyBytes;
  }

  /** Number of conversation states waiting for the database. */
  pending(): number {
    return this.kept.size;
  }

  async read(keys: string[]): Promise<StoreItems> {
    await this.flush();
    const out: StoreItems = {};
    const missing: string[] = [];
    for (const key of keys) {
      if (!this.kept.has(key)) missing.push(key);
      else if (this.kept.get(key) !== null) out[key] = { ...this.kept.get(key)!, eTag: '*' };
    }
    if (missing.length === 0) return out;
    let read: StoreItems;
    try {
      read = await withDeadline(this.inner.read(missing), this.deadlineMs);
    } catch (err) {
      if (!unreachable(err)) throw err;
      // This process's last copies, when it has one of every key; never a guess.
      const copied: StoreItems = {};
      for (const key of missing) {
        const copy = this.copies.get(key);
        if (copy === undefined) throw new StateUnavailableError(`conversation state cannot be read: ${(err as Error).message}`, { cause: err });
        if (copy !== 'null') copied[key] = { ...(JSON.parse(copy) as object), eTag: '*' };
      }
      this.log.warn({ keys: missing.length, err: (err as Error).message }, 'database unreachable: conversation state served from the last copy');
      return { ...copied, ...out };
    }
    for (const key of missing) this.copy(key, read[key] ?? null);
    return { ...read, ...out };
  }

  async write(changes: StoreItems): Promise<void> {
    await this.flush();
    // Keys with a kept version are written unconditionally: the kept version is the newest.
    const direct: StoreItems = {};
    for (const [key, item] of Object.entries(changes)) {
      if (this.kept.has(key)) this.keep(key, stripETag(item));
      else direct[key] = item;
    }
    if (Object.keys(direct).length === 0) return;
    try {
      await withDeadline(this.inner.write(direct), this.deadlineMs);
      for (const [key, item] of Object.entries(direct)) this.copy(key, item);
    } catch (err) {
      if (!unreachable(err)) throw err;
      for (const [key, item] of Object.entries(direct)) this.keep(key, stripETag(item));
      this.log.warn({ keys: Object.keys(direct).length, kept: this.kept.size, err: (err as Error).message }, 'database unreachable: conversation state kept in memory');
    }
  }

  async delete(keys: string[]): Promise<void> {
    await this.flush();
    const direct = keys.filter((k) => !this.kept.has(k));
    for (const k of keys) if (this.kept.has(k)) this.keep(k, null);
    if (direct.length === 0) return;
    try {
      await withDeadline(this.inner.delete(direct), this.deadlineMs);
      for (const k of direct) this.copy(k, null);
    } catch (err) {
      if (!unreachable(err)) throw err;
      for (const k of direct) this.keep(k, null);
    }
  }

  /**
   * Remembers what the database holds for `key` (bounded in bytes; a state larger than a 64th of
   * the budget is not copied, so one cannot push out many).
   */
  private copy(key: string, item: unknown): void {
    const old = this.copies.get(key);
    if (old !== undefined) {
      this.copies.delete(key);
      this.copyBytes -= old.length * 2;
    }
    const json = item === null || item === undefined ? 'null' : JSON.stringify(stripETag(item));
    if (json.length * 2 > this.maxCopyBytes / 64) return;
    this.copies.set(key, json);
    this.copyBytes += json.length * 2;
    while (this.copyBytes > this.maxCopyBytes) {
      const [oldest, value] = this.copies.entries().next().value as [string, string];
      this.copies.delete(oldest);
      this.copyBytes -= value.length * 2;
    }
  }

  private keep(key: string, item: Kept): void {
    if (!this.kept.has(key) && this.kept.size >= this.maxKept) {
      throw new StateUnavailableError(`conversation state cannot be saved: ${this.maxKept} conversations already wait for the database`);
    }
    // Bounded in bytes too, checked before keeping: one huge state cannot hold the memory.
    const size = item === null ? 8 : JSON.stringify(item).length * 2;
    const before = this.keptSizes.get(key) ?? 0;
    if (this.keptBytes - before + size > this.maxKeptBytes) {
      throw new StateUnavailableError(`conversation state cannot be saved: ${this.maxKeptBytes} bytes of conversation state already wait for the database`);
    }
    this.kept.set(key, item);
    this.keptSizes.set(key, size);
    this.keptBytes += size - before;
  }

  private unkeep(key: string): void {
    this.kept.delete(key);
    this.keptBytes -= this.keptSizes.get(key) ?? 0;
    this.keptSizes.delete(key);
  }

  /** Writes kept states once the database answers; leaves them kept while it does not. One flush at a time. */
  private flush(): Promise<void> {
    if (this.kept.size === 0 || Date.now() - this.lastFailure < FLUSH_RETRY_MS) return Promise.resolve();
    this.flushing ??= (async () => {
      try {
        for (const [key, item] of [...this.kept]) {
          if (item === null) await withDeadline(this.inner.delete([key]), this.deadlineMs);
          else await withDeadline(this.inner.write({ [key]: { ...item, eTag: '*' } }), this.deadlineMs);
          this.copy(key, item);
          // A newer version kept while this one was written stays for the next flush.
          if (this.kept.get(key) === item) this.unkeep(key);
        }
        this.log.info({}, 'conversation states kept during the outage written to the database');
      } catch (err) {
        if (!unreachable(err)) throw err;
        this.lastFailure = Date.now();
      } finally {
        this.flushing = null;
      }
    })();
    return this.flushing;
  }
}

function stripETag(item: unknown): Record<string, unknown> {
  const { eTag: _eTag, ...rest } = (item ?? {}) as Record<string, unknown>;
  return rest;
}
