/**
 * The WeCom customer-service botbuilder adapter. A WeCom callback carries no message and expects no
 * reply in its HTTP answer: every message, the bot's and staff's, goes out through `send_msg`.
 *
 * WeCom allows at most 5 messages per customer message (within 48 hours), so the texts the bot
 * says in one turn are joined into one message (a blank line between them; split only above
 * WeCom's 2048-byte text limit) and sent when the turn ends, rather than one API message each.
 * Suggested actions become a line of text, as on the Official Account (channels/wechat/adapter.ts).
 * The greeting of an `enter_session` event goes through `send_msg_on_event` with the event's
 * welcome_code, the only way WeCom lets the account speak before the customer has.
 */
import { TurnContext, type Activity, type ResourceResponse } from 'botbuilder';
import { ProactiveAdapter } from '../proactive-adapter.js';
import { renderText } from '../wechat/adapter.js';
import type { WeComApi } from './api.js';

/** WeCom's limit on a text message is 2048 bytes. */
const MAX_TEXT_BYTES = 2000;
const COLLECT = Symbol('wecomTurnTexts');

/** What one customer message's turn sent, for the channel's log and tests. */
export interface TurnOutcome {
  /** Texts delivered. */
  sent: number;
  /** Texts WeCom refused or that could not be sent, with the reason. */
  failed: string[];
}

export class WeComAdapter extends ProactiveAdapter {
  constructor(private readonly api: WeComApi) {
    super('wecom');
  }

  /**
   * Runs the bot for one message from sync_msg and sends what it said, joined, when the turn ends.
   * With `welcomeCode` (an enter_session event) the reply goes through send_msg_on_event.
   */
  async processMessage(activity: Activity, logic: (context: TurnContext) => Promise<void>, welcomeCode?: string): Promise<{ context: TurnContext; outcome: TurnOutcome }> {
    const context = new TurnContext(this, activity);
    const texts: string[] = [];
    context.turnState.set(COLLECT, texts);
    await this.runMiddleware(context, logic);
    const outcome: TurnOutcome = { sent: 0, failed: [] };
    const openKfid = activity.recipient.id;
    const user = activity.from.id;
    const parts = joinForWeCom(texts);
    for (const [i, part] of parts.entries()) {
      try {
        if (welcomeCode && i === 0) await this.api.sendOnEvent(welcomeCode, part);
        else await this.api.sendText(openKfid, user, part);
        outcome.sent++;
      } catch (err) {
        outcome.failed.push((err as Error).message.slice(0, 500));
      }
    }
    return { context, outcome };
  }

  async sendActivities(context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    const collect = context.turnState.get(COLLECT) as string[] | undefined;
    const out: ResourceResponse[] = [];
    for (const a of activities) {
      if (a.type === 'message' || a.type === undefined) {
        const text = renderText(a);
        // WeCom refuses empty texts; a reply with nothing to say is a bot bug, not the customer's problem.
        if (text.trim() !== '') {
          if (collect) collect.push(text);
          else {
            // A proactive message (a staff reply): sent now, and a refusal reaches the caller, which records it for staff.
            const user = a.recipient?.id ?? context.activity.from?.id;
            const openKfid = a.from?.id ?? context.activity.recipient?.id;
            if (!user || !openKfid) throw new Error('wecom: an outgoing message has no customer or customer-service account');
            await this.api.sendText(openKfid, user, text);
          }
        }
      }
      // Typing indicators, delays and other activity types have no WeCom equivalent here.
      out.push({ id: '' });
    }
    return out;
  }

  async updateActivity(): Promise<void> {
    throw new Error('wecom: messages cannot be edited');
  }

  async deleteActivity(): Promise<void> {
    throw new Error('wecom: messages cannot be recalled by the bot');
  }
}

/** The texts of one turn as few WeCom messages as fit the length limit, in order. */
export function joinForWeCom(texts: string[]): string[] {
  const out: string[] = [];
  for (const t of texts) {
    const last = out.at(-1);
    if (last !== undefined && Buffer.byteLength(`${last}\n\n${t}`) <= MAX_TEXT_BYTES) out[out.length - 1] = `${last}\n\n${t}`;
    else out.push(t);
  }
  return out;
}
