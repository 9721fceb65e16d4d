/**
 * A proactive turn (what a staff reply or a resolution does) into the conversation of a bot under a
 * `TestAdapter` whose conversation is `conv-1` with `customer-1` on channel `test` (the fast bot
 * tests' adapter): returns what the bot sent.
 */
import { TurnContext, type Activity, type TestAdapter } from 'botbuilder';
import type { DemandBot } from '../../bot/demand-bot.js';
import type { Ticket } from '../../store/index.js';

export async function proactive(bot: DemandBot, adapter: TestAdapter, ticket: Ticket, message: Parameters<DemandBot['proactive']>[2]): Promise<Partial<Activity>> {
  const ref = { channelId: 'test', serviceUrl: 'http://127.0.0.1:1/', conversation: { id: 'conv-1', isGroup: false, conversationType: 'personal', name: '' }, user: { id: 'customer-1', name: 'Customer' }, bot: { id: 'bot', name: 'Bot' } };
  const context = new TurnContext(adapter, TurnContext.applyConversationReference({ type: 'event', name: 'continueConversation' }, ref, true));
  await bot.proactive(context, ticket, message);
  return adapter.activeQueue.shift()!;
}
