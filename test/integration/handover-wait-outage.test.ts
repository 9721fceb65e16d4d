/**
 * A customer's wait for a person runs out while the database cannot give their ticket, against the
 * whole app over the Bot Framework endpoint on its own supervised embedded database (stopped and
 * restarted here). The notice depends on the ticket (nobody free / staff replied already / resolved)
 * and the channel finds the conversation on it, so the wait must not end untold:
 * - the database goes away as the sweep reads the ticket: the entry stays waiting, and the first
 *   sweep after the database is back ends it and tells the customer, in their language;
 * - the database goes away once the entry has left the queue (while its ticket is noted): the
 *   ticket was read before, and the customer is told what became of the demand, in their language.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import type { Services } from '../../desk/services.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { sayThrough, startConnector, type FakeConnector } from '../helpers/connector.js';
import { reconnected } from '../helpers/reconnected.js';

let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let url: string;
let connector: FakeConnector;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('handover-wait-outage-', { RATE_LIMIT_PER_10S: '100', HANDOVER_WAIT_SECONDS: '600' });
  ({ database, services, url } = own);
  connector = await startConnector();
});

afterAll(async () => {
  connector?.close();
  await own?.stop();
});

/** One customer message over the Bot Framework endpoint; returns the bot's replies to it. */
const say = (conversation: string, user: string, text: string, locale: string) => sayThrough(connector, url, conversation, user, text, locale);

const ASK: Record<ReplyLang, { locale: string; hello: string; human: string }> = {
  'zh-Hans': { locale: 'zh-CN', hello: '你好', human: '转人工' },
  'zh-Hant': { locale: 'zh-TW', hello: '喂，有冇人喺度呀', human: '我要搵真人' },
  en: { locale: 'en-US', hello: 'hello there', human: 'talk to a person please' },
};
const LANGS = Object.keys(ASK) as ReplyLang[];
const NUMBER = /T\d{8}-\d{4,}/;

/** A customer in the live queue whose wait has run out (its end moved to the past). */
async function waitedTooLong(lang: ReplyLang): Promise<{ conversation: string; number: string; handoverId: string }> {
  const user = `u-${lang}-${randomUUID().slice(0, 6)}`;
  const conversation = `c-${randomUUID().slice(0, 8)}`;
  expect(await say(conversation, user, ASK[lang].hello, ASK[lang].locale)).toEqual([texts(lang).greetBack]);
  const queued = await say(conversation, user, ASK[lang].human, ASK[lang].locale);
  const number = NUMBER.exec(queued.join('\n'))?.[0] ?? '';
  expect(queued).toEqual([texts(lang).handoverQueued(number)]);
  const entry = (await services.handovers.list()).find((h) => h.conversationId === conversation)!;
  await database.db.collection('handovers').updateOne({ _id: entry.id as never }, { $set: { waitUntil: new Date(Date.now() - 1000) } });
  return { conversation, number, handoverId: entry.id };
}

/** Runs `sweep` with the database stopped the first time `method` of the ticket service is called; it is back and reconnected after. */
async function sweepLosingDatabaseAt(method: 'find' | 'annotate'): Promise<number> {
  const tickets = services.tickets as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const original = tickets[method];
  let stopped = false;
  tickets[method] = async function (this: unknown, ...args: unknown[]) {
    tickets[method] = original;
    await database.server!.stop();
    stopped = true;
    return original.apply(this, args);
  };
  try {
    return await services.handovers.sweep();
  } finally {
    tickets[method] = original;
    if (database.server!.status().state !== 'running') await database.server!.restart();
    await reconnected(database.db);
    expect(stopped).toBe(true);
  }
}

describe('a wait for a person that runs out while the ticket cannot be read', () => {
  it.each(LANGS)('stays in the queue and is ended, the customer told, once the database is back (%s)', async (lang) => {
    const c = await waitedTooLong(lang);
    await sweepLosingDatabaseAt('find');
    // Nothing ended untold: the entry still waits (an agent could still take it).
    expect((await services.handovers.list()).find((h) => h.id === c.handoverId)?.state).toBe('waiting');
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverQueued(c.number));
    // The database is back: the next sweep ends the wait and tells the customer.
    expect(await services.handovers.sweep()).toBeGreaterThanOrEqual(1);
    expect((await services.handovers.list()).some((h) => h.id === c.handoverId)).toBe(false);
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverTimedOut(c.number));
  });

  it.each(LANGS)('the database lost after the entry left the queue: the customer is still told, as the ticket stood (%s)', async (lang) => {
    const c = await waitedTooLong(lang);
    // Staff answered from the ticket page meanwhile: the notice must not promise a person.
    expect((await services.tickets.reply(c.number, lang === 'en' ? 'Your parcel left the depot today.' : '您的包裹今天已发出。', 'alice')).delivered).toBe(true);
    await sweepLosingDatabaseAt('annotate');
    expect((await services.handovers.list()).some((h) => h.id === c.handoverId)).toBe(false);
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverTimedOutAnswered(c.number));
  });
});
