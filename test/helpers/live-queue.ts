/**
 * The steps the live-handover tests repeat before what each one tests: a web chat customer asks for
 * a person (转人工) and an agent takes the conversation, over the same Direct Line and staff API a
 * real customer and console use; or a Bot Framework customer asks in one of the three languages.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { texts, type ReplyLang } from '../../bot/messages.js';
import type { HandoverService } from '../../desk/handover.js';
import type { DirectLineClient } from '../../scripts/directline-client.js';
import type { EventStreamClient } from '../../scripts/event-stream-client.js';
import { sayThrough, type FakeConnector } from './connector.js';

/** How a customer writes in each reply language: their locale, a greeting, and a request for a person. */
export const ASK_IN: Record<ReplyLang, { locale: string; hello: string; human: string }> = {
  'zh-Hans': { locale: 'zh-CN', hello: '你好', human: '转人工' },
  'zh-Hant': { locale: 'zh-TW', hello: '喂，有冇人喺度呀', human: '我要搵真人' },
  en: { locale: 'en-US', hello: 'hello there', human: 'talk to a person please' },
};

/** A ticket number as the bot names it. */
export const TICKET_NUMBER = /T\d{8}-\d{4,}/;

/** A Bot Framework customer waiting in the live queue: their conversation, ticket number and queue entry. */
export interface QueuedCustomer {
  conversation: string;
  number: string;
  handoverId: string;
}

/**
 * A new customer in `lang` greets the bot at `botUrl` over its Bot Framework endpoint (replies to
 * `connector`) and asks for a person (asserted: greeted, then queued with the ticket named).
 */
export async function queueThrough(connector: FakeConnector, botUrl: string, handovers: Pick<HandoverService, 'list'>, lang: ReplyLang): Promise<QueuedCustomer> {
  const ask = ASK_IN[lang];
  const user = `u-${lang}-${randomUUID().slice(0, 6)}`;
  const conversation = `c-${randomUUID().slice(0, 8)}`;
  expect(await sayThrough(connector, botUrl, conversation, user, ask.hello, ask.locale)).toEqual([texts(lang).greetBack]);
  const reply = await sayThrough(connector, botUrl, conversation, user, ask.human, ask.locale);
  const number = TICKET_NUMBER.exec(reply.join('\n'))?.[0] ?? '';
  expect(reply).toEqual([texts(lang).handoverQueued(number)]);
  const entry = (await handovers.list()).find((h) => h.conversationId === conversation)!;
  return { conversation, number, handoverId: entry.id };
}

/** A request for a person: the bot's answer, the ticket number it names, and the queue entry announced for it. */
export interface PersonAsked {
  reply: string;
  number: string;
  handoverId: string;
}

/** The customer `c` says 转人工; resolves when `stream` (an agent's event stream) announces the queue entry. */
export async function askForPerson(c: DirectLineClient, stream: EventStreamClient): Promise<PersonAsked> {
  const reply = (await c.replyTo(await c.send('转人工'))).text ?? '';
  const number = /T\d{8}-\d{4}/.exec(reply)?.[0];
  if (!number) throw new Error(`the bot named no ticket number: ${reply}`);
  const requested = await stream.waitFor((e) => e.type === 'handover.requested' && e.ticketNumber === number);
  if (requested.type !== 'handover.requested') throw new Error('unreachable');
  return { reply, number, handoverId: requested.handoverId };
}

/** {@link askForPerson}, then the agent whose staff token is `token` takes the conversation at `url` (asserted: 200). */
export async function askAndTake(c: DirectLineClient, stream: EventStreamClient, url: string, token: string): Promise<PersonAsked> {
  const asked = await askForPerson(c, stream);
  const took = await fetch(`${url}/api/live/${asked.handoverId}/take`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(took.status).toBe(200);
  return asked;
}
