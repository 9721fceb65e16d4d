/**
 * The outbox's replays (store/outbox.ts), with a recording `apply` instead of a database: a whole
 * replay goes in chunks, so one customer's replay queued meanwhile runs after one chunk rather than
 * after every record; each record is applied once; what is not replayed keeps its place. Uses a
 * temporary directory (the outbox is a file).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON } from 'mongodb';
import { afterEach, describe, expect, it } from 'vitest';
import { DRAIN_CHUNK, DRAIN_MAX_CHUNKS, FileOutbox, quarantinePath, type ReplayOutcome } from '../../store/outbox.js';

const silent = { info() {}, warn() {}, error() {} };
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An outbox holding `n` records `{ n: i, user: 'u<i % users>' }` (written as appends would, in one go). */
async function outboxOf(n: number, users: number): Promise<FileOutbox> {
  const dir = mkdtempSync(join(tmpdir(), 'file-outbox-'));
  dirs.push(dir);
  const path = join(dir, 'o.jsonl');
  writeFileSync(path, Array.from({ length: n }, (_, i) => `${BSON.EJSON.stringify({ n: i, user: `u${i % users}` }, { relaxed: false })}\n`).join(''));
  return new FileOutbox(path, silent);
}

/** What a replay applied, in order; `fail` makes the record with that `n` throw. (Records read back hold BSON Int32s.) */
function recorder(log: number[], fail?: number) {
  return async (doc: BSON.Document): Promise<ReplayOutcome> => {
    await new Promise((r) => setImmediate(r));
    if (Number(doc.n) === fail) throw new Error('database went away');
    log.push(Number(doc.n));
    return 'stored';
  };
}

describe('FileOutbox replays', () => {
  it("replays one customer's records only, in order, and leaves the others in place", async () => {
    const outbox = await outboxOf(12, 4);
    const applied: number[] = [];
    const r = await outbox.drainWhere((d) => d.user === 'u1', recorder(applied), '"u1"');
    expect(applied).toEqual([1, 5, 9]);
    expect(r).toEqual({ replayed: 3, duplicates: 0, remaining: 9 });
    expect(outbox.find(() => true).map((d) => Number(d.n))).toEqual([0, 2, 3, 4, 6, 7, 8, 10, 11]);
    // The whole replay then stores the rest, once each.
    const rest: number[] = [];
    expect(await outbox.drain(recorder(rest))).toEqual({ replayed: 9, duplicates: 0, remaining: 0 });
    expect(rest).toEqual([0, 2, 3, 4, 6, 7, 8, 10, 11]);
  });

  it("runs a customer's replay queued during a whole replay after one chunk, and applies every record once", async () => {
    const total = DRAIN_CHUNK * 3;
    const outbox = await outboxOf(total, total);
    const applied: number[] = [];
    const whole = outbox.drain(recorder(applied));
    // Queued once the whole replay has begun (its first record applied).
    while (applied.length === 0) await new Promise((r) => setImmediate(r));
    const last = `u${total - 1}`;
    const mine = await outbox.drainWhere((d) => d.user === last, recorder(applied), `"${last}"`);
    expect(mine.replayed).toBe(1);
    // The customer's record was applied when the first chunk was done, not after every other record.
    expect(applied.indexOf(total - 1)).toBe(DRAIN_CHUNK);
    expect(await whole).toMatchObject({ replayed: total - 1, remaining: 0 });
    expect(applied.slice().sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('cuts a large outbox into at most DRAIN_MAX_CHUNKS chunks (each rewrites the file), so a customer waits for one of them', async () => {
    const chunk = DRAIN_CHUNK + 10;
    const total = chunk * DRAIN_MAX_CHUNKS;
    const outbox = await outboxOf(total, total);
    const applied: number[] = [];
    const whole = outbox.drain(recorder(applied));
    while (applied.length === 0) await new Promise((r) => setImmediate(r));
    const last = `u${total - 1}`;
    await outbox.drainWhere((d) => d.user === last, recorder(applied), `"${last}"`);
    expect(applied.indexOf(total - 1)).toBe(chunk);
    expect(await whole).toMatchObject({ replayed: total - 1, remaining: 0 });
    expect(new Set(applied).size).toBe(total);
  });

  it('stops at the first failure and keeps that record and the rest, in order, for the next replay', async () => {
    const outbox = await outboxOf(DRAIN_CHUNK + 10, 3);
    const applied: number[] = [];
    expect(await outbox.drain(recorder(applied, DRAIN_CHUNK + 2))).toEqual({ replayed: DRAIN_CHUNK + 2, duplicates: 0, remaining: 8 });
    expect(outbox.find(() => true).map((d) => Number(d.n))).toEqual(Array.from({ length: 8 }, (_, i) => DRAIN_CHUNK + 2 + i));
    // A customer's replay failing at their second record keeps it and the others, in order.
    const waiting = Array.from({ length: 8 }, (_, i) => DRAIN_CHUNK + 2 + i);
    const who = `u${(DRAIN_CHUNK + 2) % 3}`;
    const [first, second] = waiting.filter((n) => `u${n % 3}` === who);
    const theirs: number[] = [];
    const r = await outbox.drainWhere((d) => d.user === who, recorder(theirs, second), `"${who}"`);
    expect(theirs).toEqual([first]);
    expect(r.remaining).toBe(7);
    expect(outbox.find(() => true).map((d) => Number(d.n))).toEqual(waiting.filter((n) => n !== first));
    // Appends made after the failure come after what waits.
    await outbox.append({ n: 1000, user: who });
    const rest: number[] = [];
    await outbox.drain(recorder(rest));
    expect(rest).toEqual([...waiting.filter((n) => n !== first), 1000]);
  });

  it('sets a malformed line aside once, in the quarantine file beside the outbox, logged once, and replays the records around it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-outbox-'));
    dirs.push(dir);
    const path = join(dir, 'o.jsonl');
    const record = (n: number) => `${BSON.EJSON.stringify({ n, user: 'u0' }, { relaxed: false })}\n`;
    const broken = '{"n": {"$numberInt": "1"}, "user": "u0"'; // cut short mid-record: not JSON
    writeFileSync(path, `${record(0)}${broken}\n${record(2)}`);
    const warnings: { obj: object; msg: string }[] = [];
    const outbox = new FileOutbox(path, { info() {}, error() {}, warn: (obj, msg) => warnings.push({ obj, msg }) });
    // A status lookup before any replay does not trip over it.
    expect(outbox.find(() => true).map((d) => Number(d.n))).toEqual([0, 2]);
    const applied: number[] = [];
    expect(await outbox.drain(recorder(applied))).toEqual({ replayed: 2, duplicates: 0, remaining: 0 });
    expect(applied).toEqual([0, 2]);
    // Later replays (new records each time) do not meet it again.
    for (const n of [3, 4, 5]) {
      await outbox.append({ n, user: 'u0' });
      await outbox.drain(recorder(applied));
    }
    expect(applied).toEqual([0, 2, 3, 4, 5]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].obj).toMatchObject({ quarantine: quarantinePath(path), lines: 1 });
    expect(warnings[0].msg).toContain(quarantinePath(path));
    // Its text is kept, word for word, and the outbox itself is empty.
    expect(readFileSync(quarantinePath(path), 'utf8')).toBe(`${broken}\n`);
    expect(existsSync(path)).toBe(false);
    expect(outbox.pending()).toBe(0);
  });

  it("sets aside a record its replay does not know (apply answers 'unknown') rather than dropping it", async () => {
    const outbox = await outboxOf(3, 1);
    const applied: number[] = [];
    const r = await outbox.drain(async (doc) => (Number(doc.n) === 1 ? 'unknown' : recorder(applied)(doc)));
    expect(r).toEqual({ replayed: 2, duplicates: 0, remaining: 0 });
    const kept = readFileSync(quarantinePath(outbox.path), 'utf8').trim().split('\n');
    expect(kept.map((l) => Number(BSON.EJSON.parse(l).n))).toEqual([1]);
  });
});
