/**
 * The sending side of staff replies: deliver a message to the customer on the channel the ticket
 * came from, through the conversation reference stored with the ticket, and record the reply on the
 * ticket (delivered or not, so staff can see a failed delivery).
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import { NotFoundError, ValidationError } from '../store/errors.js';
import type { Ticket } from '../store/index.js';

export interface ReplyStore {
  get(number: string): Promise<Ticket | null>;
  recordReply(number: string, reply: { text: string; by: string; delivered: boolean; error: string | null }): Promise<Ticket>;
}

/** Which adapter (and bot app id) reaches a channel. */
export type AdapterFor = (channelId: string) => { adapter: Pick<CloudAdapter, 'continueConversationAsync'>; appId: string };

export class CustomerReplies {
  constructor(
    private readonly adapterFor: AdapterFor,
    private readonly tickets: ReplyStore,
  ) {}

  /** Sends `text` to the ticket's customer; resolves with the updated ticket either way. */
  async send(number: string, text: string, by: string): Promise<{ ticket: Ticket; delivered: boolean }> {
    const ticket = await this.tickets.get(number);
    if (!ticket) throw new NotFoundError(`ticket ${number} not found`);
    if (!text.trim()) throw new ValidationError('invalid reply: text is empty', [{ path: 'text', message: 'empty' }]);
    if (!ticket.conversationRef) {
      const updated = await this.tickets.recordReply(number, { text, by, delivered: false, error: 'no conversation reference on this ticket' });
      return { ticket: updated, delivered: false };
    }
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
    const updated = await this.tickets.recordReply(number, { text, by, delivered: error === null, error });
    return { ticket: updated, delivered: error === null };
  }
}
