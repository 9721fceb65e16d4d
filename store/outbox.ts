/**
 * A local durable outbox for tickets that could not reach the database: an append-only JSON Lines
 * file, each append fsynced before the customer is told their ticket number. When the database is
 * back, `drain` replays the records; the replay is idempotent because the ticket number (and _id)
 * is unique in the database, so a record stored twice is skipped, never duplicated.
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

/** What replay does with one record: store it, or report it as already stored. */
export type ReplayOutcome = 'stored' | 'duplicate';

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
      const fd = openSync(this.path, 'a');
      try {
        writeSync(fd, line);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
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
        const doc = BSON.EJSON.parse(line, { relaxed: false }) as BSON.Document;
        if (pick(doc)) out.push(doc);
      }
    }
    return out;
  }

  /**
   * Replays every waiting record through `apply`. Stops at the first failure (the database went
   * away again) and keeps what was not replayed. Safe to call concurrently: calls are serialised.
   */
  drain(apply: (doc: BSON.Document) => Promise<ReplayOutcome>): Promise<{ replayed: number; duplicates: number; remaining: number }> {
    const run = this.chain.then(() => this.drainNow(apply));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async drainNow(apply: (doc: BSON.Document) => Promise<ReplayOutcome>) {
    let replayed = 0;
    let duplicates = 0;
    // Move the live file aside first, so appends during the replay go to a fresh file.
    if (existsSync(this.path)) renameSync(this.path, `${this.path}.replaying-${Date.now()}-${process.pid}`);
    for (const file of this.files().filter((f) => f !== this.path)) {
      const lines = readLines(file);
      let i = 0;
      try {
        for (; i < lines.length; i++) {
          const outcome = await apply(BSON.EJSON.parse(lines[i], { relaxed: false }) as BSON.Document);
          if (outcome === 'duplicate') duplicates++;
          else replayed++;
        }
      } catch (err) {
        // Keep the rest (it stays ahead of newer records) and stop; the next drain retries.
        this.requeue(lines.slice(i), file);
        this.log.warn({ err: (err as Error).message, remaining: lines.length - i }, 'outbox replay interrupted');
        this.count(replayed, duplicates);
        return { replayed, duplicates, remaining: this.pending() };
      }
      unlinkSync(file);
    }
    this.count(replayed, duplicates);
    if (replayed || duplicates) this.log.info({ replayed, duplicates }, 'outbox replayed into the database');
    return { replayed, duplicates, remaining: this.pending() };
  }

  private count(replayed: number, duplicates: number) {
    this.stats.replayed += replayed;
    this.stats.duplicates += duplicates;
  }

  /** Rewrites a replay file with only its unreplayed lines (atomically: temp file, fsync, rename). */
  private requeue(lines: string[], file: string) {
    if (lines.length === 0) {
      if (existsSync(file)) unlinkSync(file);
      return;
    }
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, lines.map((l) => `${l}\n`).join(''));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  /** Replay files (oldest first), then the live file. */
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

function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  // A crash mid-append can leave a partial last line without its newline: it was never
  // acknowledged to anyone (fsync comes first), so it is dropped.
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines.filter((l) => l.trim() !== '');
}
