/**
 * The sending side of staff replies and resolution notices: deliver a message to the customer on
 * the channel the ticket came from, through the conversation reference stored with the ticket.
 * The bot words and sends it (`DemandBot.proactive`), so the conversation then knows the ticket
 * and the customer's answer lands on it. Recording the outcome on the ticket (delivered or not) is
 * the desk's operation (desk/tickets.ts).
 */
import type { CloudAdapter, ConversationReference, TurnContext } from 'botbuilder';
import { PROACTIVE_TICKET } from '../channels/inbound.js';
import type { CustomerChannel } from '../desk/ports.js';
import type { Ticket } from '../store/schemas.js';
import type { ProactiveMessage } from './demand-bot.js';

/** Which adapter (and bot app id) reaches a channel. */
export type AdapterFor = (channelId: string) => { adapter: Pick<CloudAdapter, 'continueConversationAsync'>; appId: string };

/** Who sends into the conversation (the bot; without one the reply text is sent as is). */
export interface ProactiveSender {
  proactive(context: TurnContext, ticket: Ticket, message: ProactiveMessage): Promise<void>;
}

/** A message held for a customer whose conversation expired (see {@link ExpiredConversations}). */
export interface HeldMessage {
  ticketNumber: string;
  message: ProactiveMessage;
}

/**
 * Conversations of a channel that expire while the customer keeps their identity (web chat: the
 * page's signed customer key). A message for an expired conversation goes to the conversation the
 * customer continues in, or is held and posted when they come back.
 */
export interface ExpiredConversations {
  /** The channel this applies to (`webchat`). */
  channelId: string;
  /** Whether the conversation is gone (expired or unknown). */
  gone(conversationId: string): Promise<boolean>;
  /** The open conversation the customer `userId` continues in since, if any. */
  successor(userId: string): Promise<string | null>;
  /** Keeps a message until the customer comes back. */
  hold(userId: string, held: HeldMessage): Promise<void>;
}

export class CustomerReplies implements CustomerChannel {
  constructor(
    private readonly adapterFor: AdapterFor,
    private readonly sender?: ProactiveSender,
    private readonly expired?: ExpiredConversations,
  ) {}

  deliver(ticket: Ticket, text: string): Promise<string | null> {
    return this.send(ticket, { kind: 'reply', text });
  }

  askRating(ticket: Ticket): Promise<string | null> {
    return this.send(ticket, { kind: 'resolved' });
  }

  /**
   * Posts a held message into the conversation a returning customer opened (`ref`); null when the
   * channel took it, else the error. The conversation is then about that ticket (as any delivery).
   */
  sendHeld(ticket: Ticket, held: HeldMessage, ref: Partial<ConversationReference>): Promise<string | null> {
    return this.sendTo(ticket, held.message, ref);
  }

  /**
   * Delivered means the channel took the message: into the ticket's conversation; when that has
   * expired, into the one the customer continues in, or held for their return (taken as well: the
   * customer sees it when they come back, as a message sent to a closed app is seen when it opens).
   */
  private async send(ticket: Ticket, message: ProactiveMessage): Promise<string | null> {
    if (!ticket.conversationRef) return 'no conversation reference on this ticket';
    if (!this.sender && message.kind !== 'reply') return 'no bot to word the message';
    let ref: Partial<ConversationReference>;
    try {
      ref = JSON.parse(ticket.conversationRef) as Partial<ConversationReference>;
    } catch (err) {
      return (err as Error).message.slice(0, 500);
    }
    const e = this.expired;
    const conversationId = ref.conversation?.id;
    const userId = ref.user?.id;
    if (e && (ref.channelId ?? ticket.customer.channelId) === e.channelId && conversationId && userId) {
      try {
        if (await e.gone(conversationId)) {
          const next = await e.successor(userId);
          if (!next) {
            await e.hold(userId, { ticketNumber: ticket.number, message });
            return null;
          }
          ref = { ...ref, conversation: { ...ref.conversation!, id: next } };
        }
      } catch (err) {
        return (err as Error).message.slice(0, 500);
      }
    }
    return this.sendTo(ticket, message, ref);
  }

  private async sendTo(ticket: Ticket, message: ProactiveMessage, ref: Partial<ConversationReference>): Promise<string | null> {
    if (!this.sender && message.kind !== 'reply') return 'no bot to word the message';
    let error: string | null = null;
    try {
      const { adapter, appId } = this.adapterFor(ref.channelId ?? ticket.customer.channelId);
      await adapter.continueConversationAsync(appId, ref, async (context) => {
        context.turnState.set(PROACTIVE_TICKET, ticket.number);
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
