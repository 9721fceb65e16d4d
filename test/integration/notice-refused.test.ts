/**
 * A live chat notice (taken, handed back, ended) kept in the spool beside the outbox because the
 * customer's channel could not take it when the change was made, which the channel then refuses at
 * the replay while the database answers: it will not be taken later either, so it is not retried for
 * ever, and, as a refused staff reply is, it is recorded as not delivered so staff know the customer
 * was not told: a note on the ticket with the facts (what the customer was to be told, the channel's
 * error), the audit entry `handover.notice` (delivered: false), the spool emptied. Before, it was
 * only logged and dropped. Against the whole app on the embedded test database, over the staff API,
 * and in the console (chromium) in zh-Hans, zh-Hant and English.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { browserForSuite, consoleSignedIn, hasChromium } from '../helpers/console-browser.js';
import { staffRequest } from '../helpers/staff-api.js';

const PASSWORD = 'notice-refused-test-password';
const NOTICE = 'alice 已接入，正在为您处理。';
const REFUSAL = 'the channel refused the message (test)';
let A: RunningApp;
let number: string;
let token: string;
const handoverId = randomUUID();

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '100' });
  await A.app.staff.auth.createUser({ username: 'noticeagent', password: PASSWORD, role: 'agent', createdBy: 'test' });
  ({ token } = await A.app.staff.auth.login('noticeagent', PASSWORD, '127.0.0.1'));
  const c = A.services.runtime.holder.classify('我要人工客服，退款一直没到账');
  ({ number } = (await A.services.tickets.fileForCustomer({ channel: 'phone', text: '我要人工客服，退款一直没到账', customer: { phone: '13800000079' } }, c, 'seed')).ticket);
  // The notice kept as the desk keeps one its channel could not take (desk/handover.ts notify).
  expect(await A.services.tickets.keepNotice({ ticket: number, text: NOTICE, handoverId })).toBe(true);
  // The customer's channel now refuses it, with the database up.
  A.services.useCustomerChannel({ deliver: async () => REFUSAL, askRating: async () => REFUSAL });
  await A.services.tickets.flushOutbox();
  A.services.useCustomerChannel(A.app.replies);
});

afterAll(async () => {
  await A?.stop();
});

describe('a kept live chat notice the channel refuses at the replay', () => {
  it('is recorded on the ticket and in the audit as not delivered, not dropped silently, and leaves the spool', async () => {
    expect(A.store.held.pending()).toBe(0);
    const r = await staffRequest(A.url, token, 'GET', `/api/tickets/${number}`);
    expect(r.status).toBe(200);
    const notes = r.body.notes as { author: string; text: string; undeliveredNotice?: Record<string, string> }[];
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ author: 'bot', undeliveredNotice: { handoverId, text: NOTICE, error: REFUSAL } });
    expect(notes[0]!.text).toBe(`live chat notice not delivered to the customer (${REFUSAL}); they were not told: ${NOTICE}`);
    expect(new Date(notes[0]!.undeliveredNotice!.triedAt).getTime()).toBeLessThanOrEqual(Date.now());
    const audit = await A.store.audit.list({ action: 'handover.notice' });
    expect(audit.items.filter((e) => e.target === number)).toEqual([expect.objectContaining({ actor: 'bot', details: expect.objectContaining({ handoverId, delivered: false, error: REFUSAL }) })]);
    // Replayed again: nothing more (the record left the spool).
    await A.services.tickets.flushOutbox();
    expect((await A.store.tickets.get(number))!.notes).toHaveLength(1);
  });
});

describe.skipIf(!hasChromium)('the note of a refused notice, in the console', () => {
  const browser = browserForSuite();

  it('tells staff the customer was not told, and what, in zh-Hans, zh-Hant and English', async () => {
    const { page, errors } = await consoleSignedIn(browser(), A.url, `/tickets/${number}`, 'noticeagent', PASSWORD);
    const note = page.getByTestId('note-undelivered-notice');
    const said = async () => {
      await note.waitFor();
      return (await note.textContent()) ?? '';
    };
    expect(await said()).toMatch(new RegExp(`^未能告知客户在线对话的变化：渠道拒收（${REFUSAL.replace(/[()]/g, '\\$&')}，.*2026.*）。客户没有收到：“${NOTICE}”$`));

    await page.goto(`${A.url}/console?lang=zh-Hant#/tickets/${number}`);
    await page.getByRole('heading', { name: '內部備註' }).waitFor();
    expect(await said()).toMatch(new RegExp(`^未能告知客戶線上對話的變化：渠道拒收（${REFUSAL.replace(/[()]/g, '\\$&')}，.*2026.*）。客戶沒有收到：「${NOTICE}」$`));

    await page.goto(`${A.url}/console?lang=en#/tickets/${number}`);
    await page.getByRole('heading', { name: 'Internal notes' }).waitFor();
    expect(await said()).toMatch(new RegExp(`^The customer was not told about their live chat: the channel refused the notice \\(${REFUSAL.replace(/[()]/g, '\\$&')}, .*2026.*\\)\\. Not received: “${NOTICE}”$`));
    expect(errors).toEqual([]);
    await page.close();
  });
});
