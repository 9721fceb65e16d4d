/**
 * A local durable outbox for tickets that could not reach the database: an append-only JSON Lines
 * file, each append fsynced before the customer is told their ticket number. When the database is
 * back, `drain` replays the records (`drainWhere` only one customer's, in their turn); the replay is
 * idempotent because the ticket number (and _id) is unique in the database, so a record stored
 * twice is skipped, never duplicated (one stored under a new number because its own was taken is
 * found by its renumber note: `MongoTicketRepository.replayRecord`).
 *
 * A line that is not a record (not JSON: a file edited by hand, a disk error) or one its replay does
 * not know (`apply` answers `unknown`: a kind a newer version wrote) is set aside, once: appended,
 * fsynced, to the quarantine file beside the outbox ({@link quarantinePath}) and then taken out of
 * the outbox, with one warning naming that file. Kept in place it would stop every replay there (the
 * records behind it never stored) and be logged again at each one; dropped it would be lost.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BSON } from 'mongodb';

export interface OutboxLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface OutboxStats {
  /** Records written to the outbox since start. */
  appended: number;
  /** Records replayed into the database since start. */
  replayed: number;
  /** Replayed records the database already had (idempotent skips). */
  duplicates: number;
}

/**
 * What replay does with one record: store it, report it as already stored, or (`unknown`) say it is
 * no record this replay knows, which sets it aside in the quarantine file rather than dropping it.
 */
export type ReplayOutcome = 'stored' | 'duplicate' | 'unknown';

/** Where an outbox's lines that cannot be replayed are set aside: `tickets.jsonl` → `tickets.jsonl.quarantine`. */
export function quarantinePath(outboxPath: string): string {
  return `${outboxPath}.quarantine`;
}

/** Records one chunk of a whole replay takes (at least) before letting queued appends and replays run. */
export const DRAIN_CHUNK = 50;
/**
 * Chunks a whole replay is cut into at most (larger outboxes take larger chunks): each chunk
 * rewrites the file it took records from, so fixed chunks would write a 10,000-record outbox
 * some 200 times over.
 */
export const DRAIN_MAX_CHUNKS = 20;

export class FileOutbox {
  readonly stats: OutboxStats = { appended: 0, replayed: 0, duplicates: 0 };
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string, private readonly log: OutboxLogger) {
    mkdirSync(dirname(path), { recursive: true });
  }

  /** Appends one document durably (fsync). Appends are serialised, so lines never interleave. */
  append(doc: object): Promise<void> {
    const line = `${BSON.EJSON.stringify(doc, { relaxed: false })}\n`;
    const run = this.chain.then(() => {
      writeDurably(this.path, 'a', line);
      this.stats.appended++;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Number of records waiting (in the outbox and in an interrupted replay). */
  pending(): number {
    return this.files().reduce((n, f) => n + readLines(f).length, 0);
  }

  /**
   * Waiting records that `pick` accepts, oldest first: what a customer was told is filed but the
   * database does not have yet. `contains` skips lines without that text before parsing them.
   */
  find(pick: (doc: BSON.Document) => boolean, contains?: string): BSON.Document[] {
    const out: BSON.Document[] = [];
    for (const file of this.files()) {
      for (const line of readLines(file)) {
        if (contains !== undefined && !line.includes(contains)) continue;
        // A malformed line is no waiting record: the next replay sets it aside.
        const doc = parseRecord(line);
        if (doc && pick(doc)) out.push(doc);
      }
    }
    return out;
  }

  /**
   * Replays every waiting record through `apply`, oldest first. Stops at the first failure (the
   * database went away again) and keeps what was not replayed. Safe to call concurrently.
   *
   * Taken {@link DRAIN_CHUNK} records at a time (a twentieth of a larger outbox), each chunk queued
   * behind the appends and replays already waiting: a customer's turn replaying its own records
   * ({@link drainWhere}) then waits for one chunk, not for the whole outbox after a long outage.
   * Each chunk removes what it applied before the next one reads, so no record is applied twice by
   * concurrent replays.
   */
  async drain(apply: (doc: BSON.Document) => Promise<ReplayOutcome>): Promise<{ replayed: number; duplicates: number; remaining: number }> {
    let replayed = 0;
    let duplicates = 0;
    const chunk = Math.max(DRAIN_CHUNK, Math.ceil(this.pending() / DRAIN_MAX_CHUNKS));
    for (;;) {
      const r = await this.serialised(() => this.takeNow(() => true, apply, chunk));
      replayed += r.replayed;
      duplicates += r.duplicates;
      if (r.failed || r.replayed + r.duplicates < chunk) break;
    }
    if (replayed || duplicates) this.log.info({ replayed, duplicates }, 'outbox replayed into the database');
    return { replayed, duplicates, remaining: this.pending() };
  }

  /**
   * Replays only the waiting records `pick` accepts (one customer's), oldest first, and leaves the
   * rest in place and in order for {@link drain}. `contains` skips lines without that text before
   * parsing them. Serialised with appends and other replays, like a chunk of {@link drain}.
   */
  async drainWhere(pick: (doc: BSON.Document) => boolean, apply: (doc: BSON.Document) => Promise<ReplayOutcome>, contains?: string): Promise<{ replayed: number; duplicates: number; remaining: number }> {
    const r = await this.serialised(() => this.takeNow(pick, apply, Infinity, contains));
    return { replayed: r.replayed, duplicates: r.duplicates, remaining: this.pending() };
  }

  /** Runs `work` after every append and replay queued before it, and before any queued after. */
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies up to `limit` picked records, oldest first, then rewrites each file it took records
   * from without them (the others keep their place). A record applied just before a crash, before
   * its file was rewritten, is applied again at the next replay: `apply` is idempotent (by number,
   * and for a record it stored under a new number, by the note it keeps of that number).
   */
  private async takeNow(pick: (doc: BSON.Document) => boolean, apply: (doc: BSON.Document) => Promise<ReplayOutcome>, limit: number, contains?: string) {
    let replayed = 0;
    let duplicates = 0;
    for (const file of this.files()) {
      if (replayed + duplicates >= limit) break;
      const lines = readLines(file);
      const kept: string[] = [];
      const setAside: string[] = [];
      let failure: Error | null = null;
      for (const line of lines) {
        if (failure || replayed + duplicates >= limit || (contains !== undefined && !line.includes(contains))) {
          kept.push(line);
          continue;
        }
        const doc = parseRecord(line);
        if (!doc) {
          setAside.push(line);
          continue;
        }
        if (!pick(doc)) {
          kept.push(line);
          continue;
        }
        try {
          const outcome = await apply(doc);
          if (outcome === 'unknown') setAside.push(line);
          else if (outcome === 'duplicate') duplicates++;
          else replayed++;
        } catch (err) {
          // Keep this record and the rest (they stay ahead of newer records) and stop; the next replay retries.
          failure = err as Error;
          kept.push(line);
        }
      }
      // Into the quarantine file before out of the outbox: a crash between keeps the line twice, never none.
      if (setAside.length > 0) this.quarantine(setAside, file);
      if (kept.length !== lines.length) this.requeue(kept, file);
      if (failure) {
        this.log.warn({ err: failure.message, remaining: this.pending() }, 'outbox replay interrupted');
        this.count(replayed, duplicates);
        return { replayed, duplicates, failed: true };
      }
    }
    this.count(replayed, duplicates);
    return { replayed, duplicates, failed: false };
  }

  private count(replayed: number, duplicates: number) {
    this.stats.replayed += replayed;
    this.stats.duplicates += duplicates;
  }

  /** Appends lines that cannot be replayed to the quarantine file (fsync), and says so once. */
  private quarantine(lines: string[], file: string) {
    const to = quarantinePath(this.path);
    writeDurably(to, 'a', lines.map((l) => `${l}\n`).join(''));
    this.log.warn({ quarantine: to, from: file, lines: lines.length }, `outbox lines that cannot be replayed (not JSON, or a record this version does not know) set aside in ${to}`);
  }

  /** Rewrites an outbox file with only its unreplayed lines (atomically: temp file, fsync, rename). */
  private requeue(lines: string[], file: string) {
    if (lines.length === 0) {
      if (existsSync(file)) unlinkSync(file);
      return;
    }
    const tmp = `${file}.tmp`;
    writeDurably(tmp, 'w', lines.map((l) => `${l}\n`).join(''));
    renameSync(tmp, file);
  }

  /** Files of a replay an older version interrupted (`.replaying-…`, oldest first), then the live file. */
  private files(): string[] {
    const dir = dirname(this.path);
    const base = basename(this.path);
    const replaying = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.startsWith(`${base}.replaying-`) && !f.endsWith('.tmp'))
          .sort((a, b) => replayOrder(a) - replayOrder(b))
          .map((f) => join(dir, f))
      : [];
    return existsSync(this.path) ? [...replaying, this.path] : replaying;
  }
}

function replayOrder(name: string): number {
  return Number(name.split('.replaying-')[1]?.split('-')[0] ?? 0);
}

/** Writes `text` to `file` (`a`: appended, `w`: replacing it) and fsyncs it before returning. */
function writeDurably(file: string, flags: 'a' | 'w', text: string): void {
  const fd = openSync(file, flags);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A line as a record, or null when it is not a JSON object. */
function parseRecord(line: string): BSON.Document | null {
  try {
    const doc: unknown = BSON.EJSON.parse(line, { relaxed: false });
    return doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as BSON.Document) : null;
  } catch {
    return null;
  }
}

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  // A crash mid-append can leave a partial last line without its newline: it was never
  // acknowledged to anyone (fsync comes first), so it is dropped.
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((l) => l.trim() !== '');
}
