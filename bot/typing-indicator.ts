/**
 * Typing indicators while a turn runs: one at the start of every message turn, then one every
 * `periodMs` until the turn ends. botbuilder's own `ShowTypingMiddleware` can crash the process when
 * a repeat is still being sent as the turn ends (its error handler reads the revoked turn context:
 * "Cannot perform 'get' on a proxy that has been revoked", an unhandled rejection), which slow
 * database round trips make likely; this one never touches the context after the turn, and a
 * failed indicator is only logged (it is a courtesy, not part of the answer).
 */
import { ActivityTypes, type Middleware, type TurnContext } from 'botbuilder';

export class TypingIndicator implements Middleware {
  constructor(
    private readonly periodMs = 2000,
    private readonly onError: (err: unknown) => void = () => undefined,
    /** Turns that show no indicator: a conversation a person answers (the bot stays silent there). */
    private readonly skip: (context: TurnContext) => boolean = () => false,
  ) {}

  async onTurn(context: TurnContext, next: () => Promise<void>): Promise<void> {
    if (context.activity.type !== ActivityTypes.Message || this.skip(context)) return next();
    let finished = false;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      if (finished) return;
      context.sendActivity({ type: ActivityTypes.Typing, relatesTo: context.activity.relatesTo }).then(
        () => {
          if (!finished) timer = setTimeout(send, this.periodMs);
        },
        (err: unknown) => {
          if (!finished) this.onError(err);
        },
      );
    };
    send();
    try {
      await next();
    } finally {
      finished = true;
      if (timer) clearTimeout(timer);
    }
  }
}
