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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import type { Services } from '../../desk/services.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { startConnector, type FakeConnector } from '../helpers/connector.js';
import { ASK_IN, queueThrough, type QueuedCustomer } from '../helpers/live-queue.js';
import { losingDatabaseAt } from '../helpers/reconnected.js';

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

const LANGS = Object.keys(ASK_IN) as ReplyLang[];

/** A customer in the live queue whose wait has run out (its end moved to the past). */
async function waitedTooLong(lang: ReplyLang): Promise<QueuedCustomer> {
  const c = await queueThrough(connector, url, services.handovers, lang);
  await database.db.collection('handovers').updateOne({ _id: c.handoverId as never }, { $set: { waitUntil: new Date(Date.now() - 1000) } });
  return c;
}

/** Runs `sweep` with the database stopped the first time `method` of the ticket service is called; it is back and reconnected after. */
function sweepLosingDatabaseAt(method: 'find' | 'annotate'): Promise<number> {
  return losingDatabaseAt(database, services.tickets, method, () => services.handovers.sweep());
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
