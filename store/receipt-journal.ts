/**
 * The receipt journal of live lines: a local append-only JSON Lines file where a customer's line in
 * a live conversation is made durable (fsync) the moment it is received, so it can be shown to the
 * agent at once, before its write to the database, which under load waits its turn behind every
 * other conversation's writes (the embedded database has a single writer).
 *
 * A record holds what the client sent, so whatever happens to the database write it can be handed
 * to the channel again (`pending`): the channel stores and delivers it as if the client had re-sent
 * it, and a copy already stored is recognised by its client activity id, never stored twice. A
 * record is settled once the bot's turn has taken the line (it is then in the conversation's log
 * and on the ticket); a settle mark is not synced (a lost one only makes the line be offered again,
 * and recognised). From 64 KiB the file is rewritten with only the lines still waiting.
 *
 * One file per process (beside the ticket outbox); appends are grouped: lines received together
 * share one write and one fsync.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A live line as received: what the channel needs to store and deliver it again. */
export interface ReceivedLine {
  /** `<conversationId>|<clientActivityID>`: unique per line. */
  key: string;
  conversationId: string;
  /** The client's activity as received (JSON), with its client activity id. */
  activity: Record<string, unknown>;
  /** Its size as received (the conversation's byte budget counts it). */
  bytes: number;
  /** When it was received (ms since the epoch). */
  at: number;
}

type JournalLine = { line: ReceivedLine } | { settled: string };

interface Queued {
  text: string;
  sync: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Bytes written from which the file is rewritten with only what is waiting (settled history is worth nothing). */
const COMPACT_FROM_BYTES = 64 * 1024;

export interface ReceiptJournalLog {
  warn(obj: object, msg: string): void;
}

export class ReceiptJournal {
  private readonly waiting = new Map<string, ReceivedLine>();
  private queue: Queued[] = [];
  private writing = false;
  private bytes = 0;

  /**
   * Opens the journal at `path`, keeping what an earlier run left unsettled (rewritten alone, so the
   * file does not grow from run to run). A partial last line (a crash mid-append, never fsynced, so
   * never acknowledged) is dropped.
   */
  constructor(readonly path: string, private readonly log?: ReceiptJournalLog) {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) return;
    const lines = readFileSync(path, 'utf8').split('\n');
    lines.pop();
    for (const raw of lines) {
      let parsed: JournalLine;
      try {
        parsed = JSON.parse(raw) as JournalLine;
      } catch {
        this.log?.warn({ path }, 'receipt journal: an unreadable line was skipped');
        continue;
      }
      if ('line' in parsed) this.waiting.set(parsed.line.key, parsed.line);
      else this.waiting.delete(parsed.settled);
    }
    const kept = [...this.waiting.values()].map((line) => `${JSON.stringify({ line })}\n`).join('');
    const fd = openSync(`${path}.tmp`, 'w');
    try {
      writeSync(fd, kept);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(`${path}.tmp`, path);
    this.bytes = Buffer.byteLength(kept);
  }

  /** Whether `key` is recorded and not settled. */
  has(key: string): boolean {
    return this.waiting.has(key);
  }

  /** Records a line durably: resolves once it is on disk (fsync). */
  async record(line: ReceivedLine): Promise<void> {
    // Waiting from now: the file is never emptied while a record is on its way to it.
    this.waiting.set(line.key, line);
    try {
      await this.write(`${JSON.stringify({ line })}\n`, true);
    } catch (err) {
      this.waiting.delete(line.key);
      throw err;
    }
  }

  /** The line went through the bot's turn: it no longer needs the journal. */
  settle(key: string): void {
    if (!this.waiting.delete(key)) return;
    this.write(`${JSON.stringify({ settled: key })}\n`, false).catch((err: Error) => this.log?.warn({ err: err.message }, 'receipt journal: settle mark not written; the line will be offered again and recognised'));
  }

  /** Unsettled lines received at least `olderThanMs` ago, oldest first. */
  pending(olderThanMs = 0, nowMs = Date.now()): ReceivedLine[] {
    return [...this.waiting.values()].filter((l) => nowMs - l.at >= olderThanMs).sort((a, b) => a.at - b.at);
  }

  private write(text: string, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ text, sync, resolve, reject });
      if (!this.writing) void this.flush();
    });
  }

  /** Writes everything queued in one append (one fsync when any of it needs one), until the queue is empty. */
  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        if (this.bytes >= COMPACT_FROM_BYTES) await this.compact();
        else await this.append(batch.map((q) => q.text).join(''), batch.some((q) => q.sync));
        for (const q of batch) q.resolve();
      } catch (err) {
        for (const q of batch) q.reject(err);
      }
    }
    this.writing = false;
  }

  private async append(text: string, sync: boolean): Promise<void> {
    const file = await open(this.path, 'a');
    try {
      await file.write(text);
      if (sync) await file.datasync();
    } finally {
      await file.close();
    }
    this.bytes += Buffer.byteLength(text);
  }

  /**
   * Replaces the file with the lines still waiting (the batch being written among them: a line is
   * waiting from the moment it is recorded), synced and renamed into place: the settled history
   * goes, whether or not the journal is ever idle.
   */
  private async compact(): Promise<void> {
    const text = [...this.waiting.values()].map((line) => `${JSON.stringify({ line })}\n`).join('');
    const tmp = `${this.path}.tmp`;
    const file = await open(tmp, 'w');
    try {
      await file.write(text);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, this.path);
    this.bytes = Buffer.byteLength(text);
  }
}
