/**
 * The receipt journal of live lines (store/receipt-journal.ts): a line is on disk when `record`
 * resolves, settled lines are not offered again, a new process finds what an earlier one left
 * unsettled (and only that), a crash mid-append loses nothing acknowledged, and an emptied journal
 * does not grow.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReceiptJournal, type ReceivedLine } from '../../store/receipt-journal.js';

const line = (i: number, at = Date.now()): ReceivedLine => ({
  key: `conv-1|c-${i}`,
  conversationId: 'conv-1',
  activity: { type: 'message', text: `第${i}条：单号 SF${1000 + i}`, channelData: { clientActivityID: `c-${i}` } },
  bytes: 60,
  at,
});

const path = () => join(mkdtempSync(join(tmpdir(), 'receipts-')), 'o.jsonl.live-lines');

describe('receipt journal', () => {
  it('holds a recorded line on disk until it is settled, and a new process finds only the unsettled ones', async () => {
    const p = path();
    const j = new ReceiptJournal(p);
    await Promise.all([1, 2, 3].map((i) => j.record(line(i))));
    // On disk as soon as record resolved (a process killed now would find them).
    expect(readFileSync(p, 'utf8')).toContain('第2条');
    expect(j.has('conv-1|c-2')).toBe(true);
    j.settle('conv-1|c-2');
    expect(j.has('conv-1|c-2')).toBe(false);
    expect(j.pending().map((l) => l.key)).toEqual(['conv-1|c-1', 'conv-1|c-3']);
    await j.record(line(4)); // written after the settle mark
    const next = new ReceiptJournal(p);
    expect(next.pending().map((l) => l.activity.text)).toEqual(['第1条：单号 SF1001', '第3条：单号 SF1003', '第4条：单号 SF1004']);
    // Rewritten with the unsettled lines only.
    expect(readFileSync(p, 'utf8').trim().split('\n')).toHaveLength(3);
  });

  it('offers lines by age, oldest first', async () => {
    const j = new ReceiptJournal(path());
    const now = Date.now();
    await j.record(line(1, now - 1000));
    await j.record(line(2, now - 60_000));
    expect(j.pending(30_000, now).map((l) => l.key)).toEqual(['conv-1|c-2']);
    expect(j.pending(0, now).map((l) => l.key)).toEqual(['conv-1|c-2', 'conv-1|c-1']);
  });

  it('drops a partial last line (a crash mid-append: never acknowledged) and keeps the rest', async () => {
    const p = path();
    const j = new ReceiptJournal(p);
    await j.record(line(1));
    appendFileSync(p, '{"line":{"key":"conv-1|c-9","conv');
    const next = new ReceiptJournal(p);
    expect(next.pending().map((l) => l.key)).toEqual(['conv-1|c-1']);
  });

  it('rewrites the file with only the waiting lines from 64 KiB, so a busy day (never idle) does not grow it', async () => {
    const p = path();
    const j = new ReceiptJournal(p);
    for (let round = 0; round < 60; round++) {
      const batch = Array.from({ length: 10 }, (_, i) => ({ ...line(round * 10 + i), key: `conv-1|r${round}-${i}` }));
      await Promise.all(batch.map((l) => j.record(l)));
      for (const l of batch) j.settle(l.key);
    }
    await j.record(line(999));
    expect(existsSync(p)).toBe(true);
    // Over 600 lines of ~200 bytes were written: the file stays below the threshold plus one batch.
    expect(statSync(p).size).toBeLessThan(64 * 1024 + 4096);
    expect(new ReceiptJournal(p).pending().map((l) => l.key)).toEqual(['conv-1|c-999']);
  });
});
