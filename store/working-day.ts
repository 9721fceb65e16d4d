/**
 * The agent's working day as data: when a ticket is due (hours after filing, per priority), whether
 * it waits for the customer (the last word on it is a staff reply) and whether it is overdue. Pure:
 * the ticket index applies it to its summaries, the desk to whole tickets, so a view and the
 * highlighting in the console agree.
 */
import { PRIORITIES, type Priority, type Ticket, type TicketStatus } from './schemas.js';

/** Hours from filing until a ticket is due, per priority. */
export type DueHours = Readonly<Record<Priority, number>>;

/** The default due times (DUE_HOURS="urgent=4,high=8,normal=24,low=72"). */
export const DEFAULT_DUE_HOURS: DueHours = { urgent: 4, high: 8, normal: 24, low: 72 };

/** Statuses in which someone still has to act (the views list only these). */
export const OPEN_STATUSES: readonly TicketStatus[] = ['new', 'in_progress', 'reopened'];

/**
 * Parses `urgent=4,high=8,normal=24,low=72`; priorities left out keep their default. Throws with a
 * message naming the bad part (config.ts turns it into a start-up error naming DUE_HOURS).
 */
export function parseDueHours(text: string): DueHours {
  const out: Record<Priority, number> = { ...DEFAULT_DUE_HOURS };
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([a-z]+)\s*=\s*(\d+(?:\.\d+)?)$/.exec(part);
    if (!m || !(PRIORITIES as readonly string[]).includes(m[1])) throw new Error(`"${part}": expected <priority>=<hours> with priority one of ${PRIORITIES.join(', ')}`);
    const hours = Number(m[2]);
    if (!(hours > 0 && hours <= 24 * 365)) throw new Error(`"${part}": hours must be above 0 and at most a year`);
    out[m[1] as Priority] = hours;
  }
  return out;
}

/** When a ticket filed at `createdAtMs` with `priority` is due (ms since the epoch). */
export function dueAtMs(createdAtMs: number, priority: Priority, hours: DueHours): number {
  return createdAtMs + hours[priority] * 3_600_000;
}

/**
 * Whether the ticket waits for the customer: open, and a staff reply came after the customer's
 * last words (the filing text or a later message).
 */
export function isWaiting(t: Pick<Ticket, 'status' | 'createdAt' | 'messages' | 'replies'>): boolean {
  if (!OPEN_STATUSES.includes(t.status) || t.replies.length === 0) return false;
  const lastCustomer = Math.max(new Date(t.createdAt).getTime(), ...t.messages.map((m) => new Date(m.at).getTime()));
  const lastReply = Math.max(...t.replies.map((r) => new Date(r.at).getTime()));
  return lastReply >= lastCustomer;
}

/**
 * Overdue: still open past its due time and not waiting for the customer (the clock is on the
 * agent only while the next move is theirs).
 */
export function isOverdue(s: { status: TicketStatus; createdAtMs: number; priority: Priority; waiting: boolean }, hours: DueHours, nowMs: number): boolean {
  return OPEN_STATUSES.includes(s.status) && !s.waiting && dueAtMs(s.createdAtMs, s.priority, hours) < nowMs;
}

/** The working-day fields the staff API adds to a ticket. */
export interface WorkingDayFields {
  dueAt: Date;
  waiting: boolean;
  overdue: boolean;
}

export function workingDayOf(t: Ticket, hours: DueHours, now: Date): WorkingDayFields {
  const waiting = isWaiting(t);
  return {
    dueAt: new Date(dueAtMs(t.createdAt.getTime(), t.priority, hours)),
    waiting,
    overdue: isOverdue({ status: t.status, createdAtMs: t.createdAt.getTime(), priority: t.priority, waiting }, hours, now.getTime()),
  };
}
