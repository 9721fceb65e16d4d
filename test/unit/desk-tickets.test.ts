/**
 * The desk's ticket operations with fake storage (fast, no database): what each operation writes,
 * in which order, and what a failure between its two writes leaves behind.
 */
import { MongoNetworkError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { AuditTrail, CustomerChannel, TicketStore, TrainingExamples } from '../../desk/ports.js';
import { transcriptOf } from '../../desk/handover.js';
import { ReplyNotSentError, TicketService } from '../../desk/tickets.js';
import { ConflictError, NotFoundError, ValidationError } from '../../store/errors.js';
import type { Ticket } from '../../store/schemas.js';
import { replyToResend, replyToSettle, type ReplyInput } from '../../store/ticket-repository.js';
import type { ExampleLabels } from '../../store/training-repository.js';

const AT = new Date('2026-12-01T08:00:00Z');

function ticket(over: Partial<Ticket> = {}): Ticket {
  return {
    number: 'T20261201-0001',
    customer: { channelId: 'webchat', userId: 'u1' },
    conversationRef: null,
    contact: {},
    text: { original: '快递三天没到', normalized: '快递三天没到' },
    lang: 'zh-Hans',
    topic: 'delivery',
    type: 'complaint',
    spam: false,
    suspectedSpam: false,
    confidence: 0.5,
    alternatives: [],
    keywords: [],
    modelVersion: 't',
    needsReview: true,
    reviewReason: 'low-confidence',
    status: 'new',
    assignee: null,
    priority: 'normal',
    notes: [],
    corrections: [],
    messages: [],
    replies: [],
    satisfaction: null,
    createdAt: AT,
    createdDay: '2026-12-01',
    updatedAt: AT,
    firstResponseAt: null,
    resolvedAt: null,
    closedAt: null,
    spamDecision: null,
    reviewedBy: null,
    reviewedAt: null,
    version: 1,
    ...over,
  };
}

/** Fakes recording every write, in order; `failNext` makes the next ticket write throw. */
function fakes(initial: Ticket, channel: CustomerChannel | null = null) {
  let current = initial;
  const writes: string[] = [];
  const examples = new Map<string, ExampleLabels & { source: string; by: string }>();
  const audit: { action: string; details?: Record<string, unknown> }[] = [];
  // failNext: true throws a plain error; an Error is thrown as it is (a driver's outage error).
  const state: { failNext: boolean | Error } = { failNext: false };
  const ticketWrite = (name: string, change: (t: Ticket) => Ticket) => {
    if (state.failNext) {
      const err = state.failNext === true ? new Error('connection reset') : state.failNext;
      state.failNext = false;
      throw err;
    }
    writes.push(`ticket.${name}`);
    current = { ...change(current), version: current.version + 1 };
    return current;
  };
  const tickets = {
    get: async (n: string) => (n === current.number ? current : null),
    correct: async (_: string, c: { field: 'topic' | 'type'; to: string; by: string }) => {
      const from = current[c.field];
      const t = ticketWrite('correct', (x) => ({ ...x, [c.field]: c.to, needsReview: false }));
      return { ticket: t, correction: { field: c.field, from, to: c.to, by: c.by, at: AT } };
    },
    confirmReview: async (_: string, by: string) => ticketWrite('confirm', (x) => ({ ...x, needsReview: false, reviewedBy: by, reviewedAt: AT })),
    decideSpam: async (_: string, d: { spam: boolean; by: string }) => ticketWrite('spam', (x) => ({ ...x, spam: d.spam, spamDecision: { ...d, at: AT } })),
    recordReply: async (_: string, r: ReplyInput) =>
      ticketWrite('reply', (x) => ({ ...x, replies: [...x.replies, { id: 'r1', ...r, at: AT }] })),
    // The repository's rule for a retry, on the fake's ticket.
    markReplySending: async (_: string, id: string, o: { confirmed?: boolean } = {}) => {
      replyToResend(current, id, o.confirmed === true);
      return ticketWrite('resending', (x) => ({ ...x, replies: x.replies.map((r) => (r.id === id ? { ...r, sending: true, attempts: (r.attempts ?? 1) + 1 } : r)) }));
    },
    recordReplyOutcome: async (_: string, id: string, o: { delivered: boolean; error: string | null }) =>
      ticketWrite('outcome', (x) => ({ ...x, replies: x.replies.map((r) => (r.id === id ? { ...r, ...o, sending: false } : r)) })),
    addCustomerMessage: async (_: string, text: string) => ticketWrite('message', (x) => ({ ...x, messages: [...x.messages, { text, at: AT }] })),
    rate: async (_: string, r: { score: number; comment?: string }) => ticketWrite('rate', (x) => ({ ...x, satisfaction: { score: r.score, comment: r.comment ?? null, at: AT } })),
    update: async (_: string, p: { status?: Ticket['status'] }) => ticketWrite('update', (x) => ({ ...x, ...p })),
  } satisfies Partial<TicketStore>;
  const training: TrainingExamples = {
    async record(e, decided, cur) {
      writes.push('example');
      const before = examples.get(e.ticketNumber);
      // The repository's upsert: decided labels overwrite, the current ones fill a new example.
      examples.set(e.ticketNumber, { ...(before ?? cur), ...decided, source: e.source, by: e.by });
    },
    recent: async () => [],
  };
  const trail: AuditTrail = {
    async record(entry) {
      writes.push('audit');
      audit.push({ action: entry.action, details: entry.details });
    },
    list: async () => ({ items: [], total: 0, page: 1, pageSize: 50 }),
  };
  const notified: { username: string; kind: string; ticket: string; by: string | null }[] = [];
  const service = new TicketService({
    tickets: tickets as unknown as TicketStore,
    topics: ['delivery', 'quality'],
    training,
    audit: trail,
    channel: () => channel,
    notifier: {
      async add(username, n) {
        writes.push('notify');
        notified.push({ username, kind: n.kind, ticket: n.ticket, by: n.by });
      },
    },
    now: () => AT,
  });
  return { service, writes, examples, audit, notified, state, current: () => current };
}

describe('desk: tickets', () => {
  it('a correction writes the example first; a failure before the ticket write leaves the staff decision, and a retry completes it once', async () => {
    const f = fakes(ticket());
    f.state.failNext = true;
    await expect(f.service.correct('T20261201-0001', { field: 'topic', to: 'quality' }, 'alice')).rejects.toThrow('connection reset');
    expect(f.writes).toEqual(['example']);
    expect(f.examples.get('T20261201-0001')).toMatchObject({ topic: 'quality', type: 'complaint', spam: false, source: 'correction' });
    expect(f.current().topic).toBe('delivery');
    expect(f.audit).toEqual([]);

    const r = await f.service.correct('T20261201-0001', { field: 'topic', to: 'quality' }, 'alice');
    expect(r.ticket).toMatchObject({ topic: 'quality', explanation: { reviewReason: 'low-confidence', lang: 'zh-Hans' } });
    expect(f.writes).toEqual(['example', 'example', 'ticket.correct', 'audit']);
    expect(f.examples.size).toBe(1);
    expect(f.audit).toEqual([{ action: 'ticket.correct', details: { field: 'topic', from: 'delivery', to: 'quality' } }]);
  });

  it('an unknown label is refused before anything is written', async () => {
    const f = fakes(ticket());
    await expect(f.service.correct('T20261201-0001', { field: 'topic', to: 'weather' }, 'alice')).rejects.toThrow(ValidationError);
    await expect(f.service.correct('T20261201-0001', { field: 'type', to: 'rant' }, 'alice')).rejects.toThrow(ValidationError);
    expect(f.writes).toEqual([]);
  });

  it('confirming a review records the current labels as an example; a spam ticket or a missing one is refused', async () => {
    const f = fakes(ticket());
    const t = await f.service.confirmReview('T20261201-0001', 'bob');
    expect(t).toMatchObject({ needsReview: false, reviewedBy: 'bob' });
    expect(f.examples.get('T20261201-0001')).toMatchObject({ topic: 'delivery', type: 'complaint', spam: false, source: 'review' });
    expect(f.writes).toEqual(['example', 'ticket.confirm', 'audit']);
    const spam = fakes(ticket({ spam: true, topic: null, type: null }));
    await expect(spam.service.confirmReview('T20261201-0001', 'bob')).rejects.toThrow(ValidationError);
    expect(spam.writes).toEqual([]);
    await expect(f.service.confirmReview('T20261201-0099', 'bob')).rejects.toThrow(NotFoundError);
  });

  it('a spam decision trains the spam head: spam has no labels, "not spam" keeps the ticket\'s', async () => {
    const f = fakes(ticket());
    await f.service.decideSpam('T20261201-0001', true, 'carol');
    expect(f.examples.get('T20261201-0001')).toMatchObject({ topic: null, type: null, spam: true, source: 'spam-decision' });
    expect(f.current()).toMatchObject({ spam: true, spamDecision: { spam: true, by: 'carol' } });
    await f.service.decideSpam('T20261201-0001', false, 'carol');
    expect(f.examples.get('T20261201-0001')).toMatchObject({ topic: 'delivery', type: 'complaint', spam: false });
    expect(f.audit.map((a) => a.details)).toEqual([{ from: false, to: true }, { from: true, to: false }]);
  });

  it('a reply with no channel in this process is recorded as not delivered, with the reason', async () => {
    const f = fakes(ticket());
    const r = await f.service.reply('T20261201-0001', '您好', 'dan');
    expect(r.delivered).toBe(false);
    expect(r.ticket.replies).toEqual([expect.objectContaining({ text: '您好', delivered: false, error: 'no customer channel in this process' })]);
    await expect(f.service.reply('T20261201-0001', '   ', 'dan')).rejects.toThrow(ValidationError);
  });

  it('a customer follow-up and a rating are on the ticket and notify the assignee', async () => {
    const f = fakes(ticket({ assignee: 'erin' }));
    await f.service.addCustomerMessage('T20261201-0001', '好的，那明天我在家等');
    await f.service.rate('T20261201-0001', { score: 4, comment: '很耐心' });
    expect(f.current()).toMatchObject({ messages: [{ text: '好的，那明天我在家等' }], satisfaction: { score: 4, comment: '很耐心' } });
    expect(f.writes).toEqual(['ticket.message', 'notify', 'ticket.rate', 'audit', 'notify']);
    expect(f.audit).toEqual([{ action: 'ticket.rating', details: { score: 4, comment: '很耐心' } }]);
    expect(f.notified).toEqual([
      { username: 'erin', kind: 'customer-replied', ticket: 'T20261201-0001', by: null },
      { username: 'erin', kind: 'rated', ticket: 'T20261201-0001', by: null },
    ]);
  });

  it('resolving asks the customer for a rating; a channel that refuses is audited and never blocks the resolution', async () => {
    const asked: string[] = [];
    const ok = fakes(ticket({ status: 'in_progress' }), { deliver: async () => null, askRating: async (t) => {
      asked.push(t.number);
      return null;
    } });
    await ok.service.change('T20261201-0001', { status: 'resolved' }, 'alice');
    expect(asked).toEqual(['T20261201-0001']);
    expect(ok.audit.at(-1)).toEqual({ action: 'ticket.resolution-notice', details: { delivered: true, error: null } });
    // Another change of a resolved ticket does not ask again.
    await ok.service.change('T20261201-0001', { status: 'resolved' }, 'alice');
    expect(asked).toHaveLength(1);
    const down = fakes(ticket({ status: 'in_progress' }), { deliver: async () => null, askRating: async () => { throw new Error('socket hang up'); } });
    const t = await down.service.change('T20261201-0001', { status: 'resolved' }, 'alice');
    expect(t.status).toBe('resolved');
    expect(down.audit.at(-1)).toEqual({ action: 'ticket.resolution-notice', details: { delivered: false, error: 'socket hang up' } });
  });

  it('retries an undelivered reply once it can be delivered, and never sends a delivered one again', async () => {
    let up = false;
    const sent: string[] = [];
    const f = fakes(ticket(), { deliver: async (_t, text) => (up ? (sent.push(text), null) : 'channel down'), askRating: async () => null });
    const first = await f.service.reply('T20261201-0001', '师傅明天上门', 'dan');
    expect(first.delivered).toBe(false);
    const id = first.replyId;
    const still = await f.service.retryReply('T20261201-0001', id, 'dan');
    expect(still).toMatchObject({ delivered: false, ticket: { replies: [{ id, delivered: false, error: 'channel down', attempts: 2 }] } });
    up = true;
    const done = await f.service.retryReply('T20261201-0001', id, 'dan');
    expect(done).toMatchObject({ delivered: true, ticket: { replies: [{ id, delivered: true, error: null, attempts: 3 }] } });
    expect(sent).toEqual(['师傅明天上门']);
    await expect(f.service.retryReply('T20261201-0001', id, 'dan')).rejects.toThrow(ConflictError);
    await expect(f.service.retryReply('T20261201-0001', 'nope', 'dan')).rejects.toThrow(NotFoundError);
    expect(sent).toHaveLength(1);
  });

  it('a reply is recorded before it is sent: the database failing first sends nothing; failing after the send is no error, and the reply waits as of unknown outcome', async () => {
    const sent: string[] = [];
    let failAfterSend = false;
    const f = fakes(ticket(), {
      deliver: async (_t, text) => {
        sent.push(text);
        f.state.failNext = failAfterSend;
        return null;
      },
      askRating: async () => null,
    });
    // Down before anything is sent: the staff member hears it, the customer got nothing.
    f.state.failNext = true;
    await expect(f.service.reply('T20261201-0001', '已为您退款', 'dan')).rejects.toThrow('connection reset');
    expect({ sent, replies: f.current().replies }).toEqual({ sent: [], replies: [] });
    // Down after the send: no error (the customer has it), recorded: false, the reply still `sending`.
    failAfterSend = true;
    const r = await f.service.reply('T20261201-0001', '已为您退款', 'dan');
    expect(r).toMatchObject({ delivered: true, recorded: false, duplicate: false, ticket: { replies: [{ id: r.replyId, sending: true, delivered: false }] } });
    expect(f.current().replies).toEqual([expect.objectContaining({ id: r.replyId, sending: true, delivered: false })]);
    expect(f.audit.at(-1)).toEqual({ action: 'ticket.reply', details: { length: 5, delivered: true, recorded: false } });
    // Sending it again needs a person's confirmation; with it, it is sent and recorded.
    failAfterSend = false;
    await expect(f.service.retryReply('T20261201-0001', r.replyId, 'dan')).rejects.toThrow(/may already have reached the customer/);
    expect(sent).toEqual(['已为您退款']);
    const again = await f.service.retryReply('T20261201-0001', r.replyId, 'dan', { confirmed: true });
    expect(again).toMatchObject({ delivered: true, recorded: true, ticket: { replies: [{ id: r.replyId, delivered: true, sending: false, attempts: 2 }] } });
    expect(sent).toEqual(['已为您退款', '已为您退款']);
  });

  it('only a reply of unknown outcome, at the attempt the person saw, can be settled by hand (409 otherwise)', () => {
    const t = ticket({
      replies: [
        { id: 'unknown', text: '已退款', by: 'dan', at: AT, delivered: false, error: null, sending: true },
        { id: 'resent', text: '已补发', by: 'dan', at: AT, delivered: false, error: null, sending: true, attempts: 2 },
        { id: 'delivered', text: '在的', by: 'dan', at: AT, delivered: true, error: null },
        { id: 'refused', text: '已查到', by: 'dan', at: AT, delivered: false, error: 'channel down' },
        { id: 'settled', text: '好的', by: 'dan', at: AT, delivered: false, error: null, settledBy: 'erin', settledAt: AT },
      ],
    });
    expect(replyToSettle(t, 'unknown', 1).id).toBe('unknown');
    expect(replyToSettle(t, 'resent', 2).id).toBe('resent');
    expect(() => replyToSettle(t, 'resent', 1)).toThrow(/sent again since you saw it \(attempt 2, you saw attempt 1\)/);
    expect(() => replyToSettle(t, 'delivered', 1)).toThrow(/already recorded as delivered/);
    expect(() => replyToSettle(t, 'refused', 1)).toThrow(/already recorded as not delivered/);
    expect(() => replyToSettle(t, 'settled', 1)).toThrow(/not delivered \(by erin\)/);
    for (const [id, attempts] of [['resent', 1], ['delivered', 1], ['refused', 1], ['settled', 1]] as const) expect(() => replyToSettle(t, id, attempts)).toThrow(ConflictError);
    expect(() => replyToSettle(t, 'nope', 1)).toThrow(NotFoundError);
  });

  it('a resend whose first write (marking it sending) finds the database unreachable is ReplyNotSentError, and sends nothing', async () => {
    const sent: string[] = [];
    let up = false;
    const f = fakes(ticket(), { deliver: async (_t, text) => (up ? (sent.push(text), null) : 'channel down'), askRating: async () => null });
    const first = await f.service.reply('T20261201-0001', '师傅明天上门', 'dan');
    expect(first.delivered).toBe(false);
    up = true;
    f.state.failNext = new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017');
    const failed = await f.service.retryReply('T20261201-0001', first.replyId, 'dan').catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(ReplyNotSentError);
    expect((failed as ReplyNotSentError).message).toMatch(/not sent again \(nothing reached the customer\)/);
    expect((failed as ReplyNotSentError).cause).toBeInstanceOf(MongoNetworkError);
    expect(sent).toEqual([]);
    expect(f.current().replies).toEqual([expect.objectContaining({ id: first.replyId, delivered: false, error: 'channel down' })]);
    // A refusal that is not an outage is not dressed up as one.
    await expect(f.service.retryReply('T20261201-0001', 'nope', 'dan')).rejects.toThrow(NotFoundError);
    // Back: the resend goes out once.
    expect(await f.service.retryReply('T20261201-0001', first.replyId, 'dan')).toMatchObject({ delivered: true, recorded: true });
    expect(sent).toEqual(['师傅明天上门']);
  });

  it("the live chat's transcript tells a reply of unknown outcome from a refused one, in each console language", async () => {
    const at = (s: number) => new Date(AT.getTime() + s * 1000);
    const t = ticket({
      replies: [
        { id: 'a', text: '在的', by: 'dan', at: at(1), delivered: true, error: null },
        { id: 'b', text: '已查到', by: 'dan', at: at(2), delivered: false, error: null, sending: true },
        { id: 'c', text: '明天到', by: 'dan', at: at(3), delivered: false, error: 'channel down' },
      ],
    });
    expect(transcriptOf(t, AT).map((l) => [l.text, l.delivered, l.sending ?? null])).toEqual([
      ['在的', true, null],
      ['已查到', false, true],
      ['明天到', false, null],
    ]);
    const { LIVE_TEXTS } = (await import('../../staff/console/live-i18n.js' as string)) as { LIVE_TEXTS: Record<string, Record<string, string>> };
    expect(['zh-Hans', 'zh-Hant', 'en'].map((l) => [LIVE_TEXTS[l]!['live.unknown'], LIVE_TEXTS[l]!['live.notDelivered']])).toEqual([
      ['送达结果未知', '未送达'],
      ['送達結果未知', '未送達'],
      ['outcome unknown', 'not delivered'],
    ]);
  });

  it('a demand logged by staff is filed under its channel with the caller\'s contact; a spam reading only flags it', async () => {
    const created: unknown[] = [];
    const store = { create: async (input: unknown) => (created.push(input), { ticket: ticket({ number: 'T20261201-0002' }), stored: 'database' as const }) };
    const audit: string[] = [];
    const service = new TicketService({
      tickets: store as unknown as TicketStore,
      topics: ['delivery'],
      training: { record: async () => undefined, recent: async () => [] },
      audit: { record: async (e) => void audit.push(e.action), list: async () => ({ items: [], total: 0, page: 1, pageSize: 50 }) },
      channel: () => null,
    });
    const reading = { normalized: '加微信领礼品', lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: true, suspectedSpam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reason: null } as unknown as Parameters<TicketService['fileForCustomer']>[1];
    await service.fileForCustomer({ channel: 'walk-in', text: '加微信领礼品', customer: { name: '访客', phone: '+86 138-0000-1111' } }, reading, 'ann');
    expect(created[0]).toMatchObject({
      customer: { channelId: 'walk-in', userId: 'tel:+8613800001111', name: '访客' },
      contact: { phone: '+86 138-0000-1111' },
      conversationRef: null,
      classification: { spam: false, suspectedSpam: true, needsReview: true, reviewReason: 'possible-spam', topic: null, type: null },
    });
    expect(audit).toEqual(['ticket.file']);
  });
});

describe('desk: writes kept for the database', () => {
  /** A desk whose audit trail fails with `auditError` until it is cleared, and an in-memory spool (the FileOutbox's contract). */
  function keeping() {
    const spool: object[] = [];
    const stored: { id?: string; action: string; at?: Date }[] = [];
    const state: { auditError: Error | null } = { auditError: null };
    const flags: string[] = [];
    let current = ticket();
    const service = new TicketService({
      tickets: {
        recordReply: async (_: string, r: ReplyInput) => (current = { ...current, replies: [...current.replies, { id: 'r1', ...r, at: AT }] }),
        recordReplyOutcome: async (_: string, id: string, o: { delivered: boolean; error: string | null }) => (current = { ...current, replies: current.replies.map((r) => (r.id === id ? { ...r, ...o, sending: undefined } : r)) }),
        flagForReview: async (n: string, reason: string) => (flags.push(`${n}:${reason}`), current),
        // The staff operations' writes: each one stored (in memory) before its audit entry.
        get: async () => current,
        update: async (_: string, patch: object) => (current = { ...current, ...patch, version: current.version + 1 }),
        addNote: async (_: string, n: { author: string; text: string }) => (current = { ...current, notes: [...current.notes, { id: 'n1', ...n, at: AT }] }),
        correct: async (_: string, c: { field: 'topic' | 'type'; to: string; by: string }) => {
          const correction = { ...c, from: current[c.field], at: AT };
          current = { ...current, [c.field]: c.to, corrections: [...current.corrections, correction] };
          return { ticket: current, correction };
        },
        confirmReview: async () => (current = { ...current, needsReview: false }),
        decideSpam: async (_: string, d: { spam: boolean }) => (current = { ...current, spam: d.spam }),
        rate: async (_: string, r: { score: number }) => (current = { ...current, satisfaction: { score: r.score, comment: null, at: AT } as Ticket['satisfaction'] }),
      } as unknown as TicketStore,
      topics: ['delivery'],
      training: { record: async () => undefined, recent: async () => [] },
      audit: {
        async record(e) {
          if (state.auditError) throw state.auditError;
          if (!stored.some((x) => e.id !== undefined && x.id === e.id)) stored.push({ id: e.id, action: e.action, at: e.at });
        },
        list: async () => ({ items: [], total: 0, page: 1, pageSize: 50 }),
      },
      channel: () => ({ deliver: async () => null, askRating: async () => null }),
      held: {
        append: async (doc) => void spool.push(doc),
        pending: () => spool.length,
        async drain(apply) {
          let replayed = 0;
          while (spool.length) {
            await apply(spool[0] as Record<string, unknown>);
            spool.shift();
            replayed++;
          }
          return { replayed, duplicates: 0, remaining: 0 };
        },
      },
      now: () => AT,
    });
    return { service, spool, stored, state, flags };
  }

  it("a reply's audit entry the database cannot take is kept and written at the replay under its own id; an error that is no outage is not kept", async () => {
    const k = keeping();
    k.state.auditError = new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017');
    expect(await k.service.reply('T20261201-0001', '已为您退款', 'dan')).toMatchObject({ delivered: true, recorded: true });
    expect(k.spool).toEqual([{ kind: 'audit-entry', entry: expect.objectContaining({ id: expect.any(String), at: expect.any(Date), actor: 'dan', action: 'ticket.reply', target: 'T20261201-0001' }) }]);
    const kept = (k.spool[0] as { entry: { id: string; at: Date } }).entry;
    k.state.auditError = null;
    await k.service.replayHeld();
    expect(k.stored).toEqual([{ id: kept.id, action: 'ticket.reply', at: kept.at }]);
    expect(k.spool).toEqual([]);
    // Not an outage (it would fail the replay for good): logged, as before, and not kept.
    k.state.auditError = new ValidationError('bad entry', []);
    await k.service.reply('T20261201-0001', '师傅明天上门', 'dan');
    expect(k.spool).toEqual([]);
  });

  it('every other stored change answers success when only its audit entry fails, keeps the entry, and the replay writes each once', async () => {
    const k = keeping();
    k.state.auditError = new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017');
    const n = 'T20261201-0001';
    // Each resolves (on the code before, each rejected with the audit's error after its change was stored).
    await k.service.change(n, { priority: 'high' }, 'dan');
    await k.service.annotate(n, '客户来电催促', 'dan');
    await k.service.correct(n, { field: 'topic', to: 'delivery' }, 'dan');
    await k.service.confirmReview(n, 'dan');
    await k.service.decideSpam(n, false, 'dan');
    await k.service.rate(n, { score: 5 });
    expect(await k.service.bulk([n], { action: 'status', status: 'in_progress' }, 'dan')).toEqual([{ number: n, ok: true, version: expect.any(Number) }]);
    await k.service.auditAfterChange('admin', 'canned.delete', 'c1');
    const actions = ['ticket.update', 'ticket.note', 'ticket.correct', 'ticket.confirm', 'ticket.spam', 'ticket.rating', 'ticket.update', 'ticket.bulk', 'canned.delete'];
    expect(k.spool.map((d) => (d as { kind: string; entry: { action: string } }).entry.action)).toEqual(actions);
    expect(k.spool.every((d) => (d as { kind: string }).kind === 'audit-entry')).toBe(true);
    expect(k.stored).toEqual([]);
    k.state.auditError = null;
    await k.service.replayHeld();
    expect(k.stored.map((e) => e.action)).toEqual(actions);
    expect(new Set(k.stored.map((e) => e.id)).size).toBe(actions.length);
    expect(k.spool).toEqual([]);
  });

  it('the review flag of a request for a person that could not be queued is kept, and the replay applies it', async () => {
    const k = keeping();
    await k.service.flagAskedForPerson('T20261201-0001');
    expect(k.flags).toEqual([]);
    expect(k.spool).toEqual([{ kind: 'review-flag', ticket: 'T20261201-0001', reason: 'customer-asked-for-person', at: expect.any(Date) }]);
    await k.service.replayHeld();
    expect(k.flags).toEqual(['T20261201-0001:customer-asked-for-person']);
    expect(k.spool).toEqual([]);
  });
});

describe('desk: a ticket quoted by its former number', () => {
  /**
   * A customer with `count` tickets, one a day back from 2026-12-01, newest first; the one `renumberedAt`
   * back was stored under a new number, its former one now another customer's.
   */
  function history(count: number, renumberedAt: number) {
    const mine = Array.from({ length: count }, (_, i) => {
      const day = new Date(Date.parse('2026-12-01T00:00:00Z') - i * 86_400_000).toISOString().slice(0, 10);
      const number = `T${day.replaceAll('-', '')}-0002`;
      return ticket({ number, createdDay: day, ...(i === renumberedAt ? { formerNumber: `T${day.replaceAll('-', '')}-0001` } : {}) });
    });
    const former = mine[renumberedAt].formerNumber!;
    const strangers = ticket({ number: former, customer: { channelId: 'webchat', userId: 'stranger' } });
    const pagesRead: number[] = [];
    const tickets = {
      // Every -0001 number that is not theirs is a stranger's.
      get: async (n: string) => mine.find((t) => t.number === n) ?? (n === former ? strangers : n.endsWith('-0001') ? ticket({ number: n, customer: strangers.customer }) : null),
      // By page, as the store's list of one customer's tickets answers (it gives no cursor).
      list: async (q: { customerUserId?: string; pageSize?: number; page?: number }) => {
        const size = q.pageSize ?? 20;
        const page = q.page ?? 1;
        pagesRead.push(page);
        const theirs = q.customerUserId === 'u1' ? mine : [];
        return { items: theirs.slice((page - 1) * size, page * size), total: theirs.length, page, pageSize: size };
      },
    } satisfies Partial<TicketStore>;
    const none = { record: async () => undefined, recent: async () => [], list: async () => ({ items: [], total: 0, page: 1, pageSize: 50 }) };
    const service = new TicketService({ tickets: tickets as unknown as TicketStore, topics: ['delivery'], training: none, audit: none, channel: () => null, notifier: { add: async () => undefined }, now: () => AT });
    return { service, former, renumbered: mine[renumberedAt].number, strangers, pagesRead };
  }
  const me = { channelId: 'webchat', userId: 'u1' };

  it('finds the customer\'s own renumbered ticket beyond their newest 100, reading pages only down to its day', async () => {
    const h = history(400, 250);
    await expect(h.service.forCustomer(h.former.toLowerCase(), me)).resolves.toMatchObject({ number: h.renumbered, formerNumber: h.former });
    expect(h.pagesRead).toEqual([1, 2, 3]);
  });

  it('never returns another customer\'s ticket, and stops at the quoted number\'s day when none of theirs had it', async () => {
    const h = history(400, 250);
    await expect(h.service.forCustomer(h.former, { channelId: 'webchat', userId: 'u2' })).resolves.toBeNull();
    await expect(h.service.forCustomer(h.former, { channelId: 'webchat', userId: 'stranger' })).resolves.toBe(h.strangers);
    const other = history(400, 50);
    // Quoting another customer's number of day 250: nothing of theirs had it; pages down to that day.
    await expect(other.service.forCustomer(h.former, me)).resolves.toBeNull();
    expect(other.pagesRead).toEqual([1, 2, 3]);
  });
});
