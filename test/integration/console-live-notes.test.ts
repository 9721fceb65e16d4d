/**
 * The note a live chat's end adds to its ticket, in the staff console and the staff API, against the
 * whole real app on the embedded test database, in Debian's chromium driven by playwright-core:
 * - the desk's real path writes the notes (an agent takes a conversation and an admin ends it for
 *   them; a wait runs out in the queue's sweep), each with its facts as data (`liveChat`) beside the
 *   English `text` the API always had;
 * - the console words the facts in the reader's language (zh-Hans, zh-Hant, English), and shows a
 *   note stored before the facts existed (text only) and a staff note as written.
 */
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { browserForSuite, consoleSignedIn, hasChromium } from '../helpers/console-browser.js';

const PASSWORD = 'live-notes-test-password';
const OLD_NOTE = 'live chat ended (agent alice): requested 2026-12-01T02:00:00.000Z, 2 customer message(s)';
let A: RunningApp;
let number: string;

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '100' });
  for (const [username, role] of [['notesagent', 'agent'], ['alice', 'agent'], ['root', 'admin']] as const) {
    await A.app.staff.auth.createUser({ username, password: PASSWORD, role, createdBy: 'test' });
  }
  const c = A.services.runtime.holder.classify('我要人工客服，退款一直没到账');
  const { ticket } = await A.services.tickets.fileForCustomer({ channel: 'phone', text: '我要人工客服，退款一直没到账', customer: { phone: '13800000077' } }, c, 'seed');
  number = ticket.number;
  // A note from before notes carried facts (text only), and a staff note.
  await A.store.tickets.addNote(number, { author: 'bot', text: OLD_NOTE });
  await A.services.tickets.annotate(number, '已电话联系客户', 'notesagent');

  // Taken by alice, two customer lines, ended by an admin for her.
  const handovers = A.services.handovers;
  const h = (await handovers.request({ ticketNumber: number, customer: ticket.customer, conversationId: `conv-${randomUUID()}`, lang: 'zh-Hans', reason: 'asked', text: '我要人工客服' }))!;
  await handovers.take(h.id, 'alice');
  for (const text of ['在吗', '退款单号 R123']) await handovers.customerSaid((await handovers.find(h.id))!, text);
  await handovers.release(h.id, 'root', 'ended', { override: true });
  // Taken by alice and handed back by her, the customer silent.
  const back = (await handovers.request({ ticketNumber: number, customer: ticket.customer, conversationId: `conv-${randomUUID()}`, lang: 'zh-Hans', reason: 'asked', text: '转人工' }))!;
  await handovers.take(back.id, 'alice');
  await handovers.release(back.id, 'alice', 'handedBack');

  // A wait that ran out with one customer line (an entry already past its wait, then the sweep).
  const at = new Date(Date.now() - 60_000);
  const waitId = randomUUID();
  await A.store.handovers.create({ id: waitId, state: 'waiting', ticketNumber: number, customer: ticket.customer, conversationId: `conv-${randomUUID()}`, lang: 'en', reason: 'frustration', text: '???', requestedAt: at, waitUntil: new Date(at.getTime() + 1000), takenBy: null, takenAt: null, customerMessages: 0, lastMessageAt: null });
  await A.store.handovers.touch(waitId, new Date());
  expect(await handovers.sweep()).toBe(1);
});

afterAll(async () => {
  await A?.stop();
});

describe('the note a live chat ends with', () => {
  it('is returned by the staff API with its facts as data beside the text it always had', async () => {
    const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'notesagent', password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const res = await fetch(`${A.url}/api/tickets/${number}`, { headers: { authorization: `Bearer ${token}` } });
    const notes = ((await res.json()) as { notes: { author: string; text: string; at: string; liveChat?: Record<string, unknown> }[] }).notes;
    expect(notes.map((n) => n.author)).toEqual(['bot', 'notesagent', 'root', 'alice', 'bot']);
    expect(notes[0]).not.toHaveProperty('liveChat');
    expect(notes[1]).not.toHaveProperty('liveChat');
    expect(notes[2].liveChat).toMatchObject({ how: 'ended', by: 'root', agent: 'alice', customerMessages: 2 });
    expect(notes[2].text).toBe(`live chat ended (agent alice): requested ${notes[2].liveChat!.requestedAt as string}, 2 customer message(s)`);
    expect(notes[3].liveChat).toMatchObject({ how: 'handedBack', by: 'alice', agent: 'alice', customerMessages: 0 });
    expect(notes[4].liveChat).toMatchObject({ how: 'timedOut', by: null, agent: null, customerMessages: 1 });
    expect(notes[4].text).toMatch(/^live chat timedOut: requested \S+Z, 1 customer message\(s\)$/);
  });
});

describe('the message count a live chat ends with', () => {
  it('counts every customer line whose turn has finished, however slow the count is to write (a count written after the turn ended once was missing from the note)', async () => {
    // The count's write made slow, as on a loaded machine: a line's turn used to end before its
    // count was stored, and a chat ended just after the line left the line out of its note.
    const repo = A.store.handovers;
    const touch = repo.touch.bind(repo);
    repo.touch = async (id, at) => {
      await new Promise((r) => setTimeout(r, 300));
      return touch(id, at);
    };
    try {
      const handovers = A.services.handovers;
      const c = A.services.runtime.holder.classify('我要人工客服，快递一直没到');
      const { ticket } = await A.services.tickets.fileForCustomer({ channel: 'phone', text: '我要人工客服，快递一直没到', customer: { phone: '13800000078' } }, c, 'seed');
      const h = (await handovers.request({ ticketNumber: ticket.number, customer: ticket.customer, conversationId: `conv-${randomUUID()}`, lang: 'zh-Hans', reason: 'asked', text: '我要人工客服' }))!;
      await handovers.take(h.id, 'alice');
      for (const text of ['在吗', '单号 SF123']) await handovers.customerSaid((await handovers.find(h.id))!, text);
      await handovers.release(h.id, 'alice', 'ended');
      const notes = (await A.store.tickets.get(ticket.number))!.notes;
      expect(notes.at(-1)).toMatchObject({ author: 'alice', liveChat: { how: 'ended', customerMessages: 2 } });
    } finally {
      repo.touch = touch;
    }
  });
});

describe.skipIf(!hasChromium)('the note a live chat ends with, in the console', () => {
  const browser = browserForSuite();

  /** The texts of the ticket's notes, in order, once the five are shown. */
  async function noteTexts(page: Page): Promise<string[]> {
    const items = page.locator('ul.notes > li .msg-text');
    await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(5);
    return items.allTextContents();
  }

  it('words the facts in the reader’s language (zh-Hans, zh-Hant, English) and shows older and staff notes as written', async () => {
    const { page, errors } = await consoleSignedIn(browser(), A.url, `/tickets/${number}`, 'notesagent', PASSWORD);

    const zh = await noteTexts(page);
    expect(zh.slice(0, 2)).toEqual([OLD_NOTE, '已电话联系客户']);
    expect(zh[2]).toMatch(/^在线对话由 root 结束（接待客服 alice）：.*2026.* 请求人工，客户消息 2 条。$/);
    expect(zh[3]).toMatch(/^在线对话由 alice 交回智能助手：.*2026.* 请求人工，客户消息 0 条。$/);
    expect(zh[4]).toMatch(/^在线对话等待超时，无人接入：.*2026.* 请求人工，客户消息 1 条。$/);
    expect(await page.getByTestId('note-live-chat').count()).toBe(3);

    await page.goto(`${A.url}/console?lang=zh-Hant#/tickets/${number}`);
    await page.getByRole('heading', { name: '內部備註' }).waitFor();
    const hant = await noteTexts(page);
    expect(hant.slice(0, 2)).toEqual([OLD_NOTE, '已电话联系客户']);
    expect(hant[2]).toMatch(/^線上對話由 root 結束（接待客服 alice）：.*2026.* 請求人工，客戶訊息 2 條。$/);
    expect(hant[3]).toMatch(/^線上對話由 alice 交回智能助手：.*2026.* 請求人工，客戶訊息 0 條。$/);
    expect(hant[4]).toMatch(/^線上對話等待逾時，無人接入：.*2026.* 請求人工，客戶訊息 1 條。$/);

    await page.goto(`${A.url}/console?lang=en#/tickets/${number}`);
    await page.getByRole('heading', { name: 'Internal notes' }).waitFor();
    const en = await noteTexts(page);
    expect(en.slice(0, 2)).toEqual([OLD_NOTE, '已电话联系客户']);
    expect(en[2]).toMatch(/^Live chat ended by root \(taken by alice\): requested .*2026.*; 2 customer messages\.$/);
    expect(en[3]).toMatch(/^Live chat handed back to the assistant by alice: requested .*2026.*; 0 customer messages\.$/);
    expect(en[4]).toMatch(/^Live chat: the wait ran out, nobody took it: requested .*2026.*; 1 customer message\.$/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
