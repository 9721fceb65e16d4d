/**
 * Staff take a live chat, hand it back or end it, and the database goes away right after the change
 * is stored, before the customer is sent the notice: the whole app over real HTTP (the staff API
 * for the agent, the Bot Framework endpoint for the customer) on its own supervised embedded
 * database, stopped at that moment and restarted after.
 *
 * The customer must still be told (who joined; handed back to the assistant; ended, with the ticket
 * number), in their language. On the code before, the desk read the ticket again after the change
 * to find the conversation, the read failed, and the notice was only logged: the customer waited for
 * a person who had joined, or for one who had left.
 * - Bot Framework: the channel needs no database to deliver, so the notice arrives at once (the
 *   ticket was read before the change).
 * - Web chat: delivering needs the database (the conversation is looked up and written there), so
 *   the notice is kept in the spool beside the outbox and delivered by the replay once the database
 *   is back (here the test calls the replay; the server runs it every few seconds).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import { DirectLineClient } from '../../scripts/directline-client.js';
import type { Services } from '../../desk/services.js';
import type { OpenDatabase } from '../../store/database.js';
import { startAppOnOwnDatabase, type AppOnOwnDatabase } from '../helpers/app-on-own-database.js';
import { startConnector, type FakeConnector } from '../helpers/connector.js';
import { ASK_IN, queueThrough, TICKET_NUMBER } from '../helpers/live-queue.js';
import { losingDatabaseAt } from '../helpers/reconnected.js';
import { staffRequest } from '../helpers/staff-api.js';

const PASSWORD = 'handover notice outage password';
const SECRET = 'handover-notice-outage-direct-line-secret';
let own: AppOnOwnDatabase;
let database: OpenDatabase;
let services: Services;
let url: string;
let connector: FakeConnector;
let token: string;

beforeAll(async () => {
  own = await startAppOnOwnDatabase('handover-notice-outage-', { RATE_LIMIT_PER_10S: '100', HANDOVER_WAIT_SECONDS: '600', DIRECT_LINE_SECRET: SECRET });
  ({ database, services, url } = own);
  connector = await startConnector();
  await own.app.staff.auth.createUser({ username: 'alice', password: PASSWORD, role: 'agent', createdBy: 'test' });
  const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: PASSWORD }) });
  token = ((await login.json()) as { token: string }).token;
});

afterAll(async () => {
  connector?.close();
  await own?.stop();
});

const LANGS = Object.keys(ASK_IN) as ReplyLang[];
const queued = (lang: ReplyLang) => queueThrough(connector, url, services.handovers, lang);

/**
 * Runs `request` with the database stopped the moment the change is stored: at the change's audit
 * entry (`auditAfterChange`, which the desk writes once the entry is live or has left the queue,
 * before the notice). The database is back and reconnected after.
 */
const losingDatabaseAfterChange = <T>(request: () => Promise<T>): Promise<T> => losingDatabaseAt(database, services.tickets, 'auditAfterChange', request);

const api = (method: string, path: string) => staffRequest(url, token, method, path);

describe('the database lost right after a live chat changed, before the customer is told', () => {
  it.each(LANGS)('taken: the customer still hears who joined (%s)', async (lang) => {
    const c = await queued(lang);
    const r = await losingDatabaseAfterChange(() => api('POST', `/api/live/${c.handoverId}/take`));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'live', takenBy: 'alice' });
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverTaken('alice'));
    expect(await services.handovers.find(c.handoverId)).toMatchObject({ state: 'live', takenBy: 'alice' });
  });

  it.each(LANGS)('handed back: the customer still hears the assistant is back (%s)', async (lang) => {
    const c = await queued(lang);
    expect((await api('POST', `/api/live/${c.handoverId}/take`)).status).toBe(200);
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverTaken('alice'));
    const r = await losingDatabaseAfterChange(() => api('POST', `/api/live/${c.handoverId}/hand-back`));
    expect(r.status).toBe(204);
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverBack);
    expect(await services.handovers.find(c.handoverId)).toBeNull();
  });

  it.each(LANGS)('ended: the customer still hears it ended, with the ticket number (%s)', async (lang) => {
    const c = await queued(lang);
    expect((await api('POST', `/api/live/${c.handoverId}/take`)).status).toBe(200);
    const r = await losingDatabaseAfterChange(() => api('POST', `/api/live/${c.handoverId}/end`));
    expect(r.status).toBe(204);
    expect(connector.messagesTo(c.conversation).at(-1)).toBe(texts(lang).handoverEnded(c.number));
    expect(await services.handovers.find(c.handoverId)).toBeNull();
  });
});

describe('web chat: a notice the channel cannot take while the database is away is kept and delivered once it is back', () => {
  const CASES: { lang: ReplyLang; action: 'take' | 'hand-back' | 'end' }[] = [
    { lang: 'zh-Hans', action: 'take' },
    { lang: 'zh-Hant', action: 'hand-back' },
    { lang: 'en', action: 'end' },
  ];

  it.each(CASES)('$action ($lang)', async ({ lang, action }) => {
    const t = texts(lang);
    const c = await DirectLineClient.open(url, `wc-${lang}-${randomUUID().slice(0, 6)}`, SECRET);
    try {
      const reply = (await c.replyTo(await c.send(ASK_IN[lang].human, undefined, { locale: ASK_IN[lang].locale }))).text ?? '';
      const number = TICKET_NUMBER.exec(reply)?.[0] ?? '';
      expect(reply).toBe(t.handoverQueued(number));
      const id = (await services.handovers.list()).find((h) => h.ticketNumber === number)!.id;
      if (action !== 'take') {
        expect((await api('POST', `/api/live/${id}/take`)).status).toBe(200);
        await c.waitForMessage((m) => m.text === t.handoverTaken('alice'));
      }
      const notice = action === 'take' ? t.handoverTaken('alice') : action === 'hand-back' ? t.handoverBack : t.handoverEnded(number);
      const before = services.tickets.heldPending();
      const r = await losingDatabaseAfterChange(() => api('POST', `/api/live/${id}/${action}`));
      expect(r.status).toBe(action === 'take' ? 200 : 204);
      // Kept (with the change's audit entry), not lost; nothing reached the customer yet.
      expect(services.tickets.heldPending()).toBeGreaterThan(before);
      expect(c.botMessages().filter((m) => m.text === notice)).toHaveLength(0);
      await services.tickets.flushOutbox();
      expect(services.tickets.heldPending()).toBe(0);
      await c.waitForMessage((m) => m.text === notice);
      // Delivered once: a second replay has nothing to send.
      await services.tickets.flushOutbox();
      await new Promise((r) => setTimeout(r, 300));
      expect(c.botMessages().filter((m) => m.text === notice)).toHaveLength(1);
    } finally {
      c.close();
    }
  });
});
