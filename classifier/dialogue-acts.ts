/**
 * Dialogue acts: what the customer is doing with a message, beside what a demand is about. The bot
 * greets back, thanks, says how to reach a person, answers a status question, or files a demand;
 * a greeting or a thank-you is never filed as a demand.
 */

/**
 * - `greeting`: 你好, 在吗, hello
 * - `thanks`: 谢谢, thank you
 * - `goodbye`: 再见, bye
 * - `human`: asking for a person (转人工, 人工客服, talk to a human)
 * - `yes` / `no`: a short answer to the bot's question
 * - `status`: asking about the status of an existing ticket
 * - `followup`: adding to an existing ticket or answering in the middle of a conversation
 * - `demand`: a new need or complaint (every topic corpus row is one)
 */
export const DIALOGUE_ACTS = ['greeting', 'thanks', 'goodbye', 'human', 'yes', 'no', 'status', 'followup', 'demand'] as const;
export type DialogueAct = (typeof DIALOGUE_ACTS)[number];

/** Acts that are conversation management, not something to file (the bot answers them itself). */
export const SMALL_TALK_ACTS: readonly DialogueAct[] = ['greeting', 'thanks', 'goodbye', 'yes', 'no'];

/** True for a known act id. */
export function isDialogueAct(x: unknown): x is DialogueAct {
  return typeof x === 'string' && (DIALOGUE_ACTS as readonly string[]).includes(x);
}
