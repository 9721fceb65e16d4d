/** Due times, "waiting for the customer" and overdue (store/working-day.ts), DUE_HOURS in the config, and canned-reply variables. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.js';
import { fillCanned, variablesOf } from '../../store/canned-reply-repository.js';
import { DEFAULT_DUE_HOURS, isOverdue, isWaiting, parseDueHours } from '../../store/working-day.js';

const at = (iso: string) => new Date(iso);

describe('due times', () => {
  it('parses DUE_HOURS, keeping defaults for priorities left out', () => {
    expect(parseDueHours('')).toEqual(DEFAULT_DUE_HOURS);
    expect(parseDueHours('urgent=2, low=96')).toEqual({ ...DEFAULT_DUE_HOURS, urgent: 2, low: 96 });
    expect(() => parseDueHours('rush=2')).toThrow(/priority one of low, normal, high, urgent/);
    expect(() => parseDueHours('urgent=0')).toThrow(/above 0/);
    expect(loadConfig({ DUE_HOURS: 'urgent=1,high=3' }).DUE_HOURS).toMatchObject({ urgent: 1, high: 3, normal: 24, low: 72 });
    expect(() => loadConfig({ DUE_HOURS: 'urgent=soon' })).toThrow(/DUE_HOURS: "urgent=soon"/);
  });

  it('is overdue only when open, past due and not waiting for the customer', () => {
    const c = at('2026-12-06T00:00:00Z').getTime();
    const now = c + 5 * 3_600_000;
    expect(isOverdue({ status: 'new', createdAtMs: c, priority: 'urgent', waiting: false }, DEFAULT_DUE_HOURS, now)).toBe(true);
    expect(isOverdue({ status: 'new', createdAtMs: c, priority: 'high', waiting: false }, DEFAULT_DUE_HOURS, now)).toBe(false);
    expect(isOverdue({ status: 'in_progress', createdAtMs: c, priority: 'urgent', waiting: true }, DEFAULT_DUE_HOURS, now)).toBe(false);
    expect(isOverdue({ status: 'resolved', createdAtMs: c, priority: 'urgent', waiting: false }, DEFAULT_DUE_HOURS, now)).toBe(false);
  });

  it('waits for the customer when a staff reply is the last word on an open ticket', () => {
    const reply = (iso: string) => ({ id: 'r', text: 'x', by: 'ann', at: at(iso), delivered: true, error: null });
    const base = { status: 'new' as const, createdAt: at('2026-12-06T01:00:00Z'), messages: [] as { text: string; at: Date }[], replies: [] as ReturnType<typeof reply>[] };
    expect(isWaiting(base)).toBe(false);
    expect(isWaiting({ ...base, replies: [reply('2026-12-06T02:00:00Z')] })).toBe(true);
    expect(isWaiting({ ...base, replies: [reply('2026-12-06T02:00:00Z')], messages: [{ text: '好的', at: at('2026-12-06T03:00:00Z') }] })).toBe(false);
    expect(isWaiting({ ...base, status: 'closed', replies: [reply('2026-12-06T02:00:00Z')] })).toBe(false);
  });
});

describe('canned replies', () => {
  it('fills known variables and lists the ones a text uses', () => {
    const values = { ticketNumber: 'T20261206-0001', customerName: '王女士', agentName: 'ann', topic: '物流配送' };
    expect(fillCanned('{customerName}您好，工单 {ticketNumber}（{topic}）由 {agentName} 跟进。', values)).toBe('王女士您好，工单 T20261206-0001（物流配送）由 ann 跟进。');
    expect(variablesOf('{a} {b} {a}')).toEqual(['a', 'b']);
  });
});
