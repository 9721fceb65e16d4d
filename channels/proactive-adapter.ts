/**
 * The proactive half every in-process channel adapter shares (web chat, WeChat, e-mail): a staff
 * reply or a resolution notice is a turn started from a stored conversation reference, run through
 * the adapter's middleware like any other. botbuilder's `continueConversationAsync` has two
 * overloads, `(appId, reference, logic)` and `(claims, reference, audience, logic)`; both land here.
 */
import { BotAdapter, TurnContext, type Activity, type ConversationReference } from 'botbuilder';

export abstract class ProactiveAdapter extends BotAdapter {
  /** @param channelName names the channel in errors (`wechat: …`). */
  protected constructor(private readonly channelName: string) {
    super();
  }

  async continueConversation(reference: Partial<ConversationReference>, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    const activity = TurnContext.applyConversationReference({ type: 'event', name: 'continueConversation' }, reference, true) as Activity;
    await this.runMiddleware(new TurnContext(this, activity), logic);
  }

  override async continueConversationAsync(
    _botAppIdOrClaims: unknown,
    reference: Partial<ConversationReference>,
    logicOrAudience: ((context: TurnContext) => Promise<void>) | string,
    maybeLogic?: (context: TurnContext) => Promise<void>,
  ): Promise<void> {
    const logic = typeof logicOrAudience === 'function' ? logicOrAudience : maybeLogic;
    if (!logic) throw new Error(`${this.channelName}: continueConversationAsync needs a logic callback`);
    await this.continueConversation(reference, logic);
  }
}
