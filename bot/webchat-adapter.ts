/**
 * The adapter of the in-process web chat channel. Azure's Direct Line hands replies to the bot's
 * connector over HTTP; here the channel lives in the same process, so replies go straight into the
 * Direct Line conversation (no loopback HTTP, no connector client per turn). Middleware, turn
 * errors and proactive `continueConversationAsync` work as with any botbuilder adapter.
 */
import { TurnContext, type Activity, type ResourceResponse } from 'botbuilder';
import type { DirectLineHandle } from './directline.js';
import { ProactiveAdapter } from '../channels/proactive-adapter.js';

export class WebChatAdapter extends ProactiveAdapter {
  constructor(private readonly channel: () => DirectLineHandle) {
    super('web chat');
  }

  /** Runs the bot for one activity the web chat client sent. */
  async processActivity(activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    await this.runMiddleware(new TurnContext(this, activity), logic);
  }

  async sendActivities(_context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    const out: ResourceResponse[] = [];
    for (const a of activities) {
      if (a.type === 'delay') {
        await new Promise((r) => setTimeout(r, typeof a.value === 'number' ? a.value : 1000));
        out.push({ id: '' });
        continue;
      }
      const conversationId = a.conversation?.id;
      if (!conversationId) throw new Error('web chat: an outgoing activity has no conversation id');
      out.push({ id: await this.channel().postFromBot(conversationId, wire(a), a.replyToId) });
    }
    return out;
  }

  async updateActivity(_context: TurnContext, activity: Partial<Activity>): Promise<ResourceResponse | void> {
    if (!activity.conversation?.id || !activity.id) throw new Error('web chat: an update needs a conversation and an activity id');
    await this.channel().updateFromBot(activity.conversation.id, activity.id, wire(activity));
    return { id: activity.id };
  }

  async deleteActivity(): Promise<void> {
    throw new Error('web chat: deleting activities is not supported');
  }

}

/** The JSON wire form of an activity (dates as ISO strings), as the connector would receive it. */
function wire(activity: Partial<Activity>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(activity)) as Record<string, unknown>;
}
