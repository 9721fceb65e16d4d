/**
 * The steps the live-handover tests repeat before what each one tests: a web chat customer asks for
 * a person (转人工) and an agent takes the conversation, over the same Direct Line and staff API a
 * real customer and console use.
 */
import { expect } from 'vitest';
import type { DirectLineClient } from '../../scripts/directline-client.js';
import type { EventStreamClient } from '../../scripts/event-stream-client.js';

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
