/**
 * Reading what the customer is doing (greeting, thanks, goodbye, asking for a person …) from a
 * classification. The classifier's dialogue-act head decides when it is present and confident;
 * a small whole-message lexicon backs it up, for model versions without an act head (older
 * artifacts in the registry) and for the unambiguous short forms a model might still miss.
 *
 * The lexicon only matches a message that is nothing but the act ("你好", "唔該晒", "talk to a
 * human"), never one that carries a demand ("你好，我的快递三天没到"): a demand wrongly read as
 * a greeting would be a customer turned away, so precision comes first here.
 */
import type { Classification, DialogueAct } from '../classifier/demand-classifier.js';
import { toSimplifiedChinese } from '../classifier/normalize.js';

/** The act the bot acts on, and where it came from. */
export interface ActReading {
  act: DialogueAct;
  confidence: number;
  source: 'model' | 'lexicon' | 'none';
}

/** Below this act confidence the model's act is not trusted and the message is a demand. */
export const ACT_MIN_CONFIDENCE = 0.6;

// Phrases by role. A message is an act only when phrases cover it completely (separators and
// emoji aside) and at least one of them is an act phrase; the message is cut by greedy
// longest match, left to right, without backtracking, so the time is linear in its length
// (a regular expression with nested repetition took seconds on "喂喂喂…x").
const GREETING = [
  '你好', '您好', '你们好', '大家好', '哈喽', '哈罗', '哈啰', '哈佬', '嗨', '嗨嗨', 'hi', 'hello', 'helloo', 'hellooo', 'helo', 'hey', 'heyy', 'heyyy',
  'hiya', 'yo', 'howdy', 'greetings', '早上好', '上午好', '中午好', '下午好', '晚上好', '早安', '早晨', '早', '午安', '在吗', '在么', '在嘛',
  '在不在', '在线吗', '在', '有人吗', '有人在吗', '有没有人', '有人在线吗', '喂', '有冇人', '有冇人喺度', '喺唔喺度', '喺度吗', '有人喺度吗',
  '有冇客服', '有客服吗', '是官方客服吗', '是客服吗', '请问', '打扰一下', '打扰了', 'good morning', 'good afternoon', 'good evening', 'good day',
  'morning', 'anyone there', 'anyone here', 'anyone around', 'anyone', 'is anyone there', 'is anybody there', 'is anyone here', 'anybody there',
  'anybody here', 'you there', 'are you there', 'is this customer service', 'is this support', 'is this the help desk',
];
const THANKS = [
  '谢谢', '谢谢你', '谢谢您', '谢谢你们', '谢了', '谢啦', '多谢', '多谢你', '多谢晒', '多谢哂', '感谢', '感谢你', '非常感谢', '太感谢了', '太谢谢了',
  '万分感谢', '感激不尽', '感恩', '辛苦了', '辛苦你了', '辛苦晒', '辛苦你', '麻烦了', '麻烦晒', '唔该', '唔该晒', '唔该哂', '唔该你', '3q', '蟹蟹',
  'xiexie', 'thanks', 'thank you', 'thank u', 'thankyou', 'thx', 'thnx', 'thanx', 'ty', 'tysm', 'tyvm', 'cheers', 'ta', 'many thanks',
  'thanks a lot', 'thanks so much', 'thank you so much', 'thank you very much', 'thanks a million', 'much appreciated', 'appreciate it',
  'i appreciate it', 'appreciated', 'really appreciate it', 'really appreciate your help', 'thank you kindly',
];
const GOODBYE = [
  '再见', '再会', '拜拜', '拜', '掰掰', '88', '886', 'bye', 'byebye', 'bye bye', 'goodbye', 'good bye', 'see ya', 'see you', 'see you later',
  'cya', 'ttyl', 'later', 'take care', 'have a nice day', 'have a good day', 'have a great day', 'have a nice one', 'have a good one',
  'have a good evening', 'have a good night', 'good night', '晚安', '回头聊', '回见', '下次聊', '下次再聊', '下次再倾', '先这样', '就这样',
  '就咁先', '系咁先', '係咁先', '我走先', '下线了', '不聊了', '没事了', '冇嘢喇', '冇其他嘢喇', '没有了', '没别的问题了', '没有别的问题了',
  '没有其他问题了', '没有别的事了', '没别的事了', '就这些', '就这些了', '可以结束了', '结束吧', '再联络', '先唔倾喇', '唔阻你喇', '冇问题喇',
  '冇其他问题喇', "that's all", 'thats all', "that's all for now", 'that is all', 'nothing else', "i'm done", 'im done', "we're done",
  "we're done here", 'that will be all', 'talk later', 'gotta go', 'all good',
];
const HUMAN = [
  '人工客服', '人工服务', '人工', '真人客服', '真人', '活人', '客服人员', '工作人员', '客服专员', 'human', 'real person', 'real human',
  'live person', 'person', 'live agent', 'agent', 'human agent', 'representative', 'rep', 'operator', 'someone', 'somebody', 'manager',
  'customer service rep', "i don't want a bot", 'i dont want a bot', "i don't want the bot",
];
/** Words around a request for a person; they make nothing an act by themselves. */
const HUMAN_FILLER = [
  '请', '麻烦', '请帮我', '帮我', '我要', '我想', '给我', '能不能', '可以', '可唔可以', '快点', '有没有', '有冇', '怎么', '点样', '转', '转接', '接',
  '找', '揾', '搵', '联系', '叫', '换', '同', '跟', '你是机器人吗', '是机器人吗', '机器人听不懂', '机械人唔明', '不要机器人', '我不要机器人', '在哪',
  '在哪里', '回复', '回复我', '讲', '说话', '倾', 'i want to talk to', 'i want to speak to', 'i want to speak with', 'i want to talk with',
  'i want', 'i need', 'can i talk to', 'can i speak to', 'can i chat with', 'can i talk with', 'can i speak with', 'let me talk to',
  'let me speak to', 'let me speak with', 'get me', 'connect me to', 'connect me with', 'transfer me to', 'put me through to', 'speak to',
  'talk to', 'chat with', 'escalate to', 'is this a bot', 'is there', 'a', 'an', 'the', 'your', 'please', 'now', 'pls', 'plz',
];
/** Words that may stand around any act: vocatives, particles, "ok", what the thanks is for. */
const FILLER = [
  '亲亲', '亲', '客服', '客服小姐姐', '小姐姐', '小哥哥', '小二', '老板', '掌柜', '掌柜的', '美女', '帅哥', '师傅', '你们', '你', '您', '大家', 'team',
  'support', 'guys', 'there', 'everyone', 'all', 'mate', '啊', '呀', '呢', '吧', '哈', '啦', '嘛', '喔', '哦', '噢', '嗯', '咯', '呐', '哇', '喇',
  '吖', '啰', ':)', ':d', '好的好的', '好的', '好滴', '好嘞', '好吧', '好', '行', '嗯嗯', 'ok', 'okay', 'okey', '收到', '明白了', '明白', '懂了',
  '知道了', '了解', '得', '得喇', 'yes', 'great', 'perfect', 'awesome', 'got it', 'cool', 'alright', 'all right', '的帮助', '的帮忙', '嘅帮忙',
  '帮手', '的耐心解答', '的耐心', '帮大忙了', '好有用', 'for your help', 'for the help', 'for your assistance', 'for the quick reply',
  'for the reply', 'for your support', 'for your time', 'that helps', 'so much', 'a lot',
];

type Role = 'greeting' | 'thanks' | 'goodbye' | 'human' | 'human-filler' | 'filler';
/** Phrase → role; an act role wins over a filler for the same phrase. */
const PHRASES = new Map<string, Role>();
for (const [role, list] of [['filler', FILLER], ['human-filler', HUMAN_FILLER], ['greeting', GREETING], ['thanks', THANKS], ['goodbye', GOODBYE], ['human', HUMAN]] as const) {
  for (const p of list) PHRASES.set(p, role);
}
const LONGEST = Math.max(...[...PHRASES.keys()].map((p) => p.length));
const SEPARATOR = /[\s,，.。!！?？;；、…~～·:：()（）'"“”-]/u;

/** Cuts a canonical message into known phrases; null when some part is not one. */
function phrases(t: string): Role[] | null {
  const roles: Role[] = [];
  let i = 0;
  while (i < t.length) {
    if (SEPARATOR.test(t[i])) {
      i++;
      continue;
    }
    let found = 0;
    for (let len = Math.min(LONGEST, t.length - i); len > 0; len--) {
      const role = PHRASES.get(t.slice(i, i + len));
      // An English phrase must end at a word boundary ("hi" is not the start of "his").
      if (role && !(/[a-z0-9]/.test(t[i + len - 1]) && /[a-z0-9]/.test(t[i + len] ?? ''))) {
        roles.push(role);
        found = len;
        break;
      }
    }
    if (!found) return null;
    i += found;
  }
  return roles;
}

/** Emoji and symbols say nothing about the act; "谢谢🙏" is thanks. */
const DECORATION = /[\p{Extended_Pictographic}\u{FE0F}\u{200D}\u{1F3FB}-\u{1F3FF}]/gu;

/** Canonical form for matching: simplified script, lower case, single spaces, no decoration. */
export function canonicalAct(text: string): string {
  return toSimplifiedChinese(text.normalize('NFKC'))
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(DECORATION, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The act of a message that is nothing but a greeting, thanks, goodbye or a request for a person.
 * Two acts in one message: a request for a person wins ("谢谢，转人工"), then goodbye
 * ("好的谢谢再见" ends the conversation), then thanks.
 */
export function lexiconAct(text: string): DialogueAct | null {
  const t = canonicalAct(text);
  if (t === '' || t.length > 80) return null;
  const roles = phrases(t);
  if (!roles) return null;
  for (const act of ['human', 'goodbye', 'thanks', 'greeting'] as const) if (roles.includes(act)) return act;
  return null;
}

/**
 * The act the bot follows: the model's when it has an act head and is confident, otherwise the
 * lexicon's; a message neither recognises is a demand.
 */
export function readAct(c: Partial<Pick<Classification, 'act' | 'actConfidence'>>, text: string): ActReading {
  if (c.act && c.act !== 'demand' && (c.actConfidence ?? 0) >= ACT_MIN_CONFIDENCE) return { act: c.act, confidence: c.actConfidence ?? 0, source: 'model' };
  const lex = lexiconAct(text);
  if (lex) return { act: lex, confidence: 1, source: 'lexicon' };
  return { act: 'demand', confidence: c.act === 'demand' ? (c.actConfidence ?? 0) : 0, source: c.act ? 'model' : 'none' };
}
