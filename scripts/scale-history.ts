/**
 * A realistic year of tickets for the capacity benchmark (scripts/bench-scale.ts), written straight
 * into the database in bulk: generation must take seconds, not the hours that filing each ticket
 * through the bot would. The read models are rebuilt from it afterwards (store/read-models.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from 'mongodb';
import { createRng } from '../classifier/random.js';
import { dayOf } from '../store/clock.js';

const CHANNELS: [string, number][] = [
  ['webchat', 0.55],
  ['msteams', 0.2],
  ['directline', 0.15],
  ['telegram', 0.1],
];
const TYPES = ['complaint', 'suggestion', 'inquiry', 'praise'] as const;
const TYPE_WEIGHTS = [0.55, 0.12, 0.28, 0.05];
const REPLIES = ['您好，已收到您的反馈，我们正在处理。', '已为您登记，预计48小时内回复。', '问题已解决，如有疑问请随时联系我们。'];
const NOTES = ['已联系物流确认', '客户要求回电', '转二线处理', '重复反馈，已合并'];
const SPAM = ['加微信领红包，日赚五百', '低价代开发票联系我', '点击链接领取免费流量'];

function pickWeighted<T>(items: readonly T[], weights: readonly number[], r: number): T {
  let acc = 0;
  for (let i = 0; i < items.length; i++) {
    acc += weights[i];
    if (r < acc) return items[i];
  }
  return items[items.length - 1];
}

export interface Texts {
  byTopic: Map<string, string[]>;
}

/** The team's own corpus (data/corpus): realistic texts per topic. */
export function loadTexts(dataDir: string): Texts {
  const byTopic = new Map<string, string[]>();
  const dir = join(dataDir, 'corpus');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as { text: string; topic: string | null; spam?: boolean };
      if (row.spam || !row.topic) continue;
      const list = byTopic.get(row.topic) ?? [];
      list.push(row.text);
      byTopic.set(row.topic, list);
    }
  }
  return { byTopic };
}

/** Generates `n` tickets over the 365 days ending `now` and inserts them in batches. */
export async function generateHistory(db: Db, n: number, opts: { now: Date; timeZone: string; topics: string[]; texts: Texts; seed: number; progress: (done: number) => void }) {
  const random = createRng(opts.seed); // deterministic: two runs generate the same history
  const DAY = 86_400_000;
  const MIN = 60_000;
  const customers = Math.max(10, Math.round(n / 3));
  const home = Array.from({ length: customers }, () => pickWeighted(CHANNELS.map((c) => c[0]), CHANNELS.map((c) => c[1]), random()));
  const phone = Array.from({ length: customers }, (_, i) => (random() < 0.4 ? `138${String(10_000_000 + i).slice(-8)}` : null));
  // Creation times: uniform over the year with more on weekdays, sorted so numbers follow time.
  const times = Array.from({ length: n }, () => {
    for (;;) {
      const t = opts.now.getTime() - random() * 365 * DAY;
      const weekday = new Date(t).getUTCDay();
      if (weekday !== 0 && weekday !== 6) return t;
      if (random() < 0.6) return t;
    }
  }).sort((a, b) => a - b);
  const seqOfDay = new Map<string, number>();
  const collection = db.collection('tickets');
  let batch: Record<string, unknown>[] = [];
  let open = 0;
  const numbers: { number: string; open: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    const createdAt = new Date(times[i]);
    const day = dayOf(createdAt, opts.timeZone);
    const seq = (seqOfDay.get(day) ?? 0) + 1;
    seqOfDay.set(day, seq);
    const number = `T${day.replaceAll('-', '')}-${String(seq).padStart(4, '0')}`;
    const ageDays = (opts.now.getTime() - times[i]) / DAY;
    // Skewed so some customers come back often; 15% of contacts come from another channel under another id.
    const c = Math.floor(customers * random() ** 2);
    const otherChannel = random() < 0.15;
    const channelId = otherChannel ? pickWeighted(CHANNELS.map((x) => x[0]), CHANNELS.map((x) => x[1]), random()) : home[c];
    const userId = otherChannel && channelId !== home[c] ? `alt-${c}` : `cust-${c}`;
    const spam = random() < 0.03;
    const topic = spam ? null : opts.topics[Math.floor(random() * opts.topics.length)];
    const texts = topic ? (opts.texts.byTopic.get(topic) ?? ['我想咨询一下']) : SPAM;
    const text = texts[Math.floor(random() * texts.length)];
    const type = spam ? null : pickWeighted(TYPES, TYPE_WEIGHTS, random());
    const flagged = !spam && random() < 0.12;
    // About 5% open overall: nearly all of the last days, a trickle of older ones.
    const isOpen = random() < 0.015 + 0.9 * Math.exp(-ageDays / 3);
    const reviewed = flagged && (!isOpen || random() < 0.5);
    const corrected = reviewed && random() < 0.4;
    const replied = !spam && (!isOpen || random() < 0.4);
    const firstResponseAt = replied ? new Date(times[i] + Math.round(5 + random() * random() * 600) * MIN) : null;
    const status = spam ? 'closed' : isOpen ? (['new', 'in_progress', 'reopened'] as const)[Math.floor(random() * random() * 3)] : random() < 0.7 ? 'closed' : 'resolved';
    const resolvedAt = !isOpen && !spam ? new Date((firstResponseAt?.getTime() ?? times[i]) + Math.round(30 + random() * 2880) * MIN) : null;
    const closedAt = status === 'closed' ? new Date((resolvedAt?.getTime() ?? times[i]) + DAY) : null;
    const priority = pickWeighted(['low', 'normal', 'high', 'urgent'] as const, [0.1, 0.7, 0.15, 0.05], random());
    const otherTopic = opts.topics[(opts.topics.indexOf(topic ?? opts.topics[0]) + 1) % opts.topics.length];
    const notes = !spam && random() < 0.1 ? [{ id: `n${i}`, author: 'agent1', text: NOTES[i % NOTES.length], at: new Date(times[i] + 20 * MIN) }] : [];
    const doc = {
      _id: number,
      number,
      daySeq: seq,
      customer: { channelId, userId },
      conversationRef: null,
      contact: phone[c] && random() < 0.5 ? { phone: phone[c] } : {},
      text: { original: text, normalized: text },
      lang: 'zh-Hans',
      topic: corrected ? otherTopic : topic,
      type,
      spam,
      confidence: flagged ? 0.3 + random() * 0.2 : 0.6 + random() * 0.4,
      alternatives: topic ? [{ topic, score: 0.7 }, { topic: otherTopic, score: 0.2 }] : [],
      keywords: [],
      modelVersion: 'bench',
      needsReview: flagged && !reviewed,
      reviewReason: flagged ? 'low-confidence' : null,
      status,
      assignee: isOpen && random() < 0.5 ? `agent${1 + Math.floor(random() * 5)}` : null,
      priority,
      priorityRank: { low: 0, normal: 1, high: 2, urgent: 3 }[priority],
      notes,
      corrections: corrected ? [{ field: 'topic', from: topic, to: otherTopic, by: 'agent1', at: new Date(times[i] + 60 * MIN) }] : [],
      messages: random() < 0.05 ? [{ text: '补充：订单号 12345678', at: new Date(times[i] + 10 * MIN) }] : [],
      replies: firstResponseAt ? [{ id: `r${i}`, text: REPLIES[i % REPLIES.length], by: 'agent1', at: firstResponseAt, delivered: true, error: null }] : [],
      createdAt,
      createdDay: day,
      updatedAt: closedAt ?? resolvedAt ?? firstResponseAt ?? createdAt,
      firstResponseAt,
      resolvedAt,
      closedAt,
      version: 1 + (firstResponseAt ? 1 : 0) + (resolvedAt ? 1 : 0) + (closedAt ? 1 : 0) + notes.length + (corrected ? 1 : 0),
    };
    if (isOpen && !spam) open++;
    numbers.push({ number, open: isOpen && !spam });
    batch.push(doc);
    if (batch.length === 1000 || i === n - 1) {
      await collection.insertMany(batch, { ordered: false });
      batch = [];
      opts.progress(i + 1);
    }
  }
  return { open, numbers, customers };
}

