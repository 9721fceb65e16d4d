/**
 * The history of the load benchmarks (`bench:bot --history N`, `bench:live --history N`): past web
 * chat conversations written straight into the database as the server keeps them, so that a
 * benchmark measures a database with history in it rather than an empty one.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from '../store/database.js';
import { bucketCollection, bucketOfId, newBucketedId } from '../store/time-buckets.js';
import { COMPLAINTS } from './bot-load.js';
import { UsageError } from './cli.js';

/** `--history N`: a non-negative integer, or a {@link UsageError} naming the flag. */
export function historyFlag(value: string): number {
  const history = Number(value);
  if (value.trim() === '' || !Number.isInteger(history) || history < 0) throw new UsageError(`--history must be a non-negative integer, got "${value}"`);
  return history;
}

/**
 * Writes `count` past web chat conversations into the database `dbName` as a finished 5-turn
 * conversation leaves them, started at random times over the last 20 hours (all still within the
 * default 24-hour lifetime): the Direct Line conversation, 12 logged activities, 2 markers and 5
 * revisions of the conversation state, each in the bucket collection of its start, where the server
 * keeps them. Progress, and the time it took, on stderr.
 */
export async function fillHistory(uri: string, dbName: string, count: number): Promise<void> {
  const t0 = performance.now();
  const client = await createClient(uri).connect();
  try {
    const db = client.db(dbName);
    const batch = 500;
    const now = Date.now();
    const byBucket = new Map<string, Record<string, unknown>[]>();
    const add = (base: string, id: string, doc: Record<string, unknown>) => {
      const name = bucketCollection(base, bucketOfId(id)!);
      const list = byBucket.get(name) ?? [];
      list.push(doc);
      byBucket.set(name, list);
    };
    const flush = async () => {
      await Promise.all([...byBucket].map(([name, docs]) => db.collection(name).insertMany(docs, { ordered: false })));
      byBucket.clear();
    };
    for (let done = 0; done < count; done += batch) {
      for (let k = 0; k < Math.min(batch, count - done); k++) {
        // Oldest first, evenly over 20 hours ending ten minutes ago (the current bucket holds only
        // the measured conversations); in order, so that each batch fills one or two buckets.
        const at = new Date(now - 600_000 - 20 * 3_600_000 + Math.floor(((done + k) / count) * 20 * 3_600_000));
        const id = newBucketedId(at.getTime());
        add('directlineConversations', id, { _id: id, userId: `webchat:u-${randomBytes(16).toString('hex')}`, createdAt: at, expiresAt: new Date(at.getTime() + 24 * 3_600_000) });
        for (let s = 1; s <= 12; s++) {
          const activity = { type: 'message', id: `${id}|${String(s).padStart(7, '0')}`, text: s % 2 ? COMPLAINTS[s % COMPLAINTS.length] : '已为您登记工单，请记下工单号。', channelId: 'webchat', conversation: { id }, from: { id: s % 2 ? 'webchat:u' : 'bot', role: s % 2 ? 'user' : 'bot' } };
          add('directlineActivities', id, { _id: activity.id, json: JSON.stringify(activity), at });
        }
        add('directlineActivities', id, { _id: `${id}|started`, at });
        add('directlineActivities', id, { _id: `${id}|members`, at });
        for (let r = 1; r <= 5; r++) {
          add('botState', id, { _id: `webchat/conversations/${id}/#${r}`, state: JSON.stringify({ dialogState: { dialogStack: [] }, lang: 'zh-Hans' }), eTag: `${r}.${randomBytes(6).toString('hex')}`, at });
        }
      }
      await flush();
      if ((done / batch) % 20 === 0) process.stderr.write(`history: ${Math.min(count, done + batch)}/${count}\n`);
    }
    process.stderr.write(`wrote ${count} past conversations in ${Math.round((performance.now() - t0) / 1000)} s\n`);
  } finally {
    await client.close();
  }
}
