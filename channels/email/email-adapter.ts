/**
 * The e-mail channel's Bot Framework adapter: the bot's replies to an inbound mail and staff's
 * proactive replies (`continueConversationAsync`, from bot/proactive.ts) leave by SMTP in the
 * ticket's thread: to the customer, "Re: <subject> [<ticket number>]", In-Reply-To the thread's
 * newest message and its References chain. A send resolves once the SMTP server accepted the
 * message ("delivered"); a refusal throws with the server's reason, which the desk records on the
 * ticket as undelivered. Typing indicators and other non-message activities mean nothing in mail.
 */
import { randomUUID } from 'node:crypto';
import { TurnContext, type Activity, type ResourceResponse } from 'botbuilder';
import type { MailStore } from './mail-store.js';
import { PROACTIVE_TICKET } from '../inbound.js';
import { ProactiveAdapter } from '../proactive-adapter.js';
import { TICKET_TAGS } from '../../store/schemas.js';

/** One outgoing mail. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  /** An automatic answer (RFC 3834 `Auto-Submitted: auto-replied`), so customers' auto-responders stay quiet. */
  automatic: boolean;
}

/** Sends one mail; resolves when the server accepted it, throws with its reason otherwise. */
export type SendMail = (mail: OutgoingMail) => Promise<void>;

export interface EmailAdapterDeps {
  /** The channel's store (available once the channel is mounted). */
  store: () => MailStore;
  send: SendMail;
  /** Domain of the Message-IDs the desk makes (its sender's domain). */
  domain: string;
  /** Subject of a thread whose first mail had none, in the thread's language. */
  defaultSubject: (lang: string | null) => string;
  log: { warn: (obj: object, msg: string) => void };
}


/** "Re: <subject> [T20261206-0001]": the thread's subject, the ticket number once (mail clients thread by subject too). */
export function replySubject(subject: string, ticketNumber: string | null): string {
  const tagged = ticketNumber && subject.replace(TICKET_TAGS, '') === subject ? `${subject} [${ticketNumber}]` : subject;
  return `Re: ${tagged}`.slice(0, 900);
}

export class EmailAdapter extends ProactiveAdapter {
  constructor(private readonly deps: EmailAdapterDeps) {
    super('e-mail');
  }

  /** Runs the bot's logic for one inbound mail's activity (middleware and onTurnError apply). */
  async processActivity(activity: Partial<Activity>, logic: (context: TurnContext) => Promise<void>): Promise<TurnContext> {
    const context = new TurnContext(this, activity);
    await this.runMiddleware(context, logic);
    return context;
  }

  async sendActivities(context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    const out: ResourceResponse[] = [];
    for (const a of activities) {
      if (a.type !== 'message' || !a.text) {
        out.push({ id: '' });
        continue;
      }
      const conversationId = a.conversation?.id;
      if (!conversationId) throw new Error('e-mail: an outgoing activity has no conversation id');
      const store = this.deps.store();
      const thread = await store.thread(conversationId);
      if (!thread) throw new Error(`e-mail: no mail thread for conversation ${conversationId}`);
      // A staff reply on a ticket stored under a new number at outbox replay: its thread still names
      // the number the ticket lost; the mail (subject, the record a reply threads by) names the new one.
      const about = context.turnState.get(PROACTIVE_TICKET) as string | undefined;
      if (about && about !== thread.ticketNumber) {
        thread.ticketNumber = about;
        await store.linkThread(conversationId, about, thread.lang);
      }
      const messageId = `<${randomUUID()}@${this.deps.domain}>`;
      await this.deps.send({
        to: thread.address,
        subject: replySubject(thread.subject || this.deps.defaultSubject(thread.lang), thread.ticketNumber),
        text: a.text,
        messageId,
        inReplyTo: thread.lastMessageId || null,
        references: thread.references,
        // A reply within a turn answers an inbound mail automatically; a proactive one is a person's.
        automatic: context.activity.type === 'message',
      });
      // The server accepted it: it is delivered whatever happens next. Not knowing it only means an
      // answer to it threads by References or the subject's number instead.
      try {
        await store.recordSent(messageId, thread.ticketNumber, conversationId);
        await store.advanceThread(conversationId, messageId);
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message, messageId }, 'e-mail sent but not recorded in its thread');
      }
      out.push({ id: messageId });
    }
    return out;
  }

  async updateActivity(): Promise<ResourceResponse | void> {
    throw new Error('e-mail: a sent mail cannot be changed');
  }

  async deleteActivity(): Promise<void> {
    throw new Error('e-mail: a sent mail cannot be deleted');
  }

}
