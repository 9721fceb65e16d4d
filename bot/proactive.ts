/**
 * The sending side of staff replies: deliver a message to the customer on the channel the ticket
 * came from, through the conversation reference stored with the ticket. Recording the reply on the
 * ticket (delivered or not) is the desk's reply operation (desk/tickets.ts).
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import type { CustomerChannel } from '../desk/ports.js';
import type { Ticket } from '../store/schemas.js';

/** Which adapter (and bot app id) reaches a channel. */
export type AdapterFor = (channelId: string) => { adapter: Pick<CloudAdapter, 'continueConversationAsync'>; appId: string };

export class CustomerReplies implements CustomerChannel {
  constructor(private readonly adapterFor: AdapterFor) {}

  async deliver(ticket: Ticket, text: string): Promise<string | null> {
    if (!ticket.conversationRef) return 'no conversation reference on this ticket';
    let error: string | null = null;
    try {
      const ref = JSON.parse(ticket.conversationRef) as Partial<ConversationReference>;
      const { adapter, appId } = this.adapterFor(ref.channelId ?? ticket.customer.channelId);
      await adapter.continueConversationAsync(appId, ref, async (context) => {
        // Caught here: the adapter would otherwise hand the error to onTurnError and resolve.
        try {
          await context.sendActivity(text);
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
