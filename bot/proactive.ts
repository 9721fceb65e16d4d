/**
 * The sending side of staff replies and resolution notices: deliver a message to the customer on
 * the channel the ticket came from, through the conversation reference stored with the ticket.
 * The bot words and sends it (`DemandBot.proactive`), so the conversation then knows the ticket
 * and the customer's answer lands on it. Recording the outcome on the ticket (delivered or not) is
 * the desk's operation (desk/tickets.ts).
 */
import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import type { CustomerChannel } from '../desk/ports.js';
import type { Ticket } from '../store/schemas.js';
import type { ProactiveMessage } from './demand-bot.js';

/** Which adapter (and bot app id) reaches a channel. */
export type AdapterFor = (channelId: string) => { adapter: Pick<CloudAdapter, 'continueConversationAsync'>; appId: string };

/** Who sends into the conversation (the bot; without one the reply text is sent as is). */
export interface ProactiveSender {
  proactive(context: TurnContext, ticket: Ticket, message: ProactiveMessage): Promise<void>;
}

export class CustomerReplies implements CustomerChannel {
  constructor(
    private readonly adapterFor: AdapterFor,
    private readonly sender?: ProactiveSender,
  ) {}

  deliver(ticket: Ticket, text: string): Promise<string | null> {
    return this.send(ticket, { kind: 'reply', text });
  }

  askRating(ticket: Ticket): Promise<string | null> {
    return this.send(ticket, { kind: 'resolved' });
  }

  private async send(ticket: Ticket, message: ProactiveMessage): Promise<string | null> {
    if (!ticket.conversationRef) return 'no conversation reference on this ticket';
    if (!this.sender && message.kind !== 'reply') return 'no bot to word the message';
    let error: string | null = null;
    try {
      const ref = JSON.parse(ticket.conversationRef) as Partial<ConversationReference>;
      const { adapter, appId } = this.adapterFor(ref.channelId ?? ticket.customer.channelId);
      await adapter.continueConversationAsync(appId, ref, async (context) => {
        // Caught here: the adapter would otherwise hand the error to onTurnError and resolve.
        try {
          if (this.sender) await this.sender.proactive(context, ticket, message);
          else if (message.kind === 'reply') await context.sendActivity(message.text);
        } catch (err) {
          error = (err as Error).message.slice(0, 500);
        }
      });
    } catch (err) {
      error = (err as Error).message.slice(0, 500);
    }
    return error;
  }
}
