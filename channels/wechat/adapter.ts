/**
 * The Official Account's botbuilder adapter. A push is one turn: what the bot says while WeChat
 * still waits for the HTTP answer becomes the passive reply; what it says after that, and staff's
 * proactive replies, go through the customer-service message API.
 *
 * Several bot messages in one turn are joined into one passive reply (in order, a blank line
 * between them) rather than one passive and the rest sent through the API: WeChat takes exactly one
 * passive message, and the API adds an access-token round trip, a quota and a failure mode for
 * what is one answer to one message; a joined reply that would pass WeChat's length limit is split,
 * the rest going through the API. Suggested actions become a line of text ("回复：对 / 其他 …"):
 * an Official Account text has no buttons, and the bot reads the typed answer the same way.
 */
import { TurnContext, type Activity, type ResourceResponse } from 'botbuilder';
import * as OpenCC from 'opencc-js';
import type { WeChatApi } from './api.js';
import { ProactiveAdapter } from '../proactive-adapter.js';

const toSimplified = OpenCC.Converter({ from: 'hk', to: 'cn' });

/** WeChat's limit on a text message is 2048 bytes; keep a margin for the XML around it. */
const MAX_PASSIVE_BYTES = 2000;
const PASSIVE = Symbol('wechatPassiveReply');

/** One push's passive reply window. */
interface PassiveWindow {
  open: boolean;
  texts: string[];
  /** Sends that started after the window closed wait for this, so messages keep their order. */
  after: Promise<void>;
}

/** How the turn of a push ended for the HTTP answer. */
export interface PushOutcome {
  /** The passive reply's text (null: answer "success" and send nothing now). */
  passive: string | null;
  /** Whether the turn was still running when the passive window closed. */
  late: boolean;
  /** Settles when everything the turn sends has been sent (tests and graceful shutdown wait for it). */
  done: Promise<void>;
  /** The turn's context: what the bot left in its turn state is read once `done` settles. */
  context: TurnContext;
}

/** The language a bot text is written in, for the few words the channel adds to it. */
export function textLang(text: string | undefined): 'zh-Hans' | 'zh-Hant' | 'en' {
  const t = text ?? '';
  if (!/\p{Script=Han}/u.test(t)) return /[A-Za-z]{3}/.test(t) ? 'en' : 'zh-Hans';
  return toSimplified(t) !== t ? 'zh-Hant' : 'zh-Hans';
}

const REPLY_LABEL = { 'zh-Hans': '回复：', 'zh-Hant': '回覆：', en: 'Reply: ' } as const;

/** The text of a bot message as a WeChat text: suggested actions as a line of choices. */
export function renderText(activity: Partial<Activity>): string {
  const text = typeof activity.text === 'string' ? activity.text : '';
  const choices = (activity.suggestedActions?.actions ?? []).map((a) => String(a.title ?? a.value ?? '')).filter((c) => c !== '');
  if (choices.length === 0) return text;
  return `${text}\n${REPLY_LABEL[textLang(text)]}${choices.join(' / ')}`;
}

export class WeChatAdapter extends ProactiveAdapter {
  constructor(
    private readonly api: WeChatApi,
    private readonly onLateFailure: (err: Error, openid: string) => void,
  ) {
    super('wechat');
  }

  /**
   * Runs the bot for one push. Resolves when the turn has finished or `passiveMs` has passed,
   * whichever is first, with the passive reply to give (if any).
   */
  async processPush(activity: Activity, logic: (context: TurnContext) => Promise<void>, passiveMs: number): Promise<PushOutcome> {
    const context = new TurnContext(this, activity);
    const window: PassiveWindow = { open: true, texts: [], after: Promise.resolve() };
    context.turnState.set(PASSIVE, window);
    // onTurnError answers a failed turn; if even that fails, the push is still answered (and logged).
    const turn = this.runMiddleware(context, logic).catch((err: Error) => this.onLateFailure(err, activity.from.id));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([turn.then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), passiveMs)))]);
    clearTimeout(timer);
    window.open = false;
    const openid = activity.from.id;
    if (finished) {
      const [passive, rest] = splitForPassive(window.texts);
      const done = this.sendLater(openid, rest);
      return { passive, late: false, done, context };
    }
    // Too slow for WeChat's wait: what was said so far goes out first, then the rest of the turn.
    window.after = this.sendLater(openid, window.texts);
    const done = turn.then(() => window.after);
    return { passive: null, late: true, done, context };
  }

  private sendLater(openid: string, texts: string[]): Promise<void> {
    return (async () => {
      for (const t of texts) {
        try {
          await this.api.sendText(openid, t);
        } catch (err) {
          this.onLateFailure(err as Error, openid);
        }
      }
    })();
  }

  async sendActivities(context: TurnContext, activities: Partial<Activity>[]): Promise<ResourceResponse[]> {
    const window = context.turnState.get(PASSIVE) as PassiveWindow | undefined;
    const out: ResourceResponse[] = [];
    for (const a of activities) {
      if (a.type === 'delay') {
        await new Promise((r) => setTimeout(r, typeof a.value === 'number' ? a.value : 1000));
      } else if (a.type === 'message' || a.type === undefined) {
        const openid = a.recipient?.id ?? context.activity.from?.id;
        if (!openid) throw new Error('wechat: an outgoing message has no recipient');
        const text = renderText(a);
        if (text.trim() === '') {
          // WeChat refuses empty texts; a reply with nothing to say is a bot bug, not the customer's problem.
          out.push({ id: '' });
          continue;
        }
        if (window?.open) window.texts.push(text);
        else {
          if (window) {
            // After the passive window: keep the order behind what the window had collected.
            // A failed send before this one must not stop this one (it is reported to the turn that made it).
            const sent = window.after.catch(() => undefined).then(() => this.api.sendText(openid, text));
            window.after = sent.catch(() => undefined);
            await sent;
          } else {
            await this.api.sendText(openid, text);
          }
        }
      }
      // Typing indicators and other activity types have no Official Account equivalent here.
      out.push({ id: '' });
    }
    return out;
  }

  async updateActivity(): Promise<void> {
    throw new Error('wechat: messages cannot be edited');
  }

  async deleteActivity(): Promise<void> {
    throw new Error('wechat: messages cannot be recalled by the bot');
  }

}

/** The passive reply (as many whole messages as fit) and the rest. */
function splitForPassive(texts: string[]): [string | null, string[]] {
  if (texts.length === 0) return [null, []];
  let joined = texts[0];
  let i = 1;
  for (; i < texts.length; i++) {
    const next = `${joined}\n\n${texts[i]}`;
    if (Buffer.byteLength(next) > MAX_PASSIVE_BYTES) break;
    joined = next;
  }
  // A single message longer than the limit still goes passive: WeChat shows it, or the API would refuse it too.
  return [joined, texts.slice(i)];
}
