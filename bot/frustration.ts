/**
 * Frustration: a customer who is angry or repeats themselves wants a person, whether or not they
 * ask for one ("我要投诉！！！" twice, "WHY IS NOTHING HAPPENING!!"). The bot counts frustrated
 * messages in a row; two put the conversation in the live queue (bot/live-handover.ts).
 *
 * A message reads as frustrated when it shouts (two or more exclamation marks in a row, or mostly
 * capital letters over several words), uses an angry word or emoji, or repeats the previous message
 * word for word. Pure and cheap: no model, no I/O.
 */
import { createHash } from 'node:crypto';
import { canonicalAct } from './dialogue-acts.js';

const SHOUT = /[!！]{2,}|[!！][?？][!！]|[?？][!！][?？]/u;
const ANGRY_EMOJI = /[\u{1F620}\u{1F621}\u{1F624}\u{1F92C}\u{1F4A2}]/u;
// Canonical (simplified, lower case) forms; matched as substrings.
const ANGRY_WORDS = [
  '气死', '太过分', '过分了', '垃圾', '骗子', '骗人', '坑人', '坑爹', '无语', '受不了', '忍无可忍', '离谱', '太差劲', '什么破', '破玩意', '搞什么',
  '有没有人管', '没人管', '到底什么时候', '到底有没有', '要投诉你们', '我要投诉', '投诉你们', '12315', '曝光你们', '激气', '嬲', '搞乜鬼', '冇人理',
  'ridiculous', 'unacceptable', 'useless', 'worst', 'wtf', 'scam', 'furious', 'fed up', 'sick of', 'terrible service', 'nobody cares', 'no one cares',
  'what the hell', 'this is a joke', 'so angry', 'i am angry', "i'm angry",
];

/**
 * A short key of a message's words (kept in conversation state instead of the text, to notice a
 * repeat); null for messages too short to count as repeated ("好", "yes").
 */
export function repeatKey(text: string): string | null {
  const c = canonicalAct(text);
  return c.length >= 4 ? createHash('sha256').update(c).digest('base64url').slice(0, 16) : null;
}

/** Whether a message reads as frustrated; `previousKey` is the {@link repeatKey} of the customer's previous message. */
export function isFrustrated(text: string, previousKey: string | null = null): boolean {
  const raw = text.trim();
  if (!raw) return false;
  if (SHOUT.test(raw) || ANGRY_EMOJI.test(raw)) return true;
  const words = raw.match(/[A-Za-z]{2,}/g) ?? [];
  if (words.length >= 3 && words.filter((w) => w === w.toUpperCase()).length / words.length >= 0.8) return true;
  const c = canonicalAct(raw);
  if (ANGRY_WORDS.some((w) => c.includes(w))) return true;
  // The same words again: the customer feels unheard (short answers such as "好" or "yes" aside).
  return previousKey !== null && repeatKey(raw) === previousKey;
}
