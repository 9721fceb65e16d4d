/**
 * Everything the bot says, in simplified Chinese first, traditional Chinese and English.
 * Topic and type names come from the taxonomy (simplified names are converted for zh-Hant).
 */
import * as OpenCC from 'opencc-js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { ServiceHours } from '../desk/service-hours.js';

export const REPLY_LANGS = ['zh-Hans', 'zh-Hant', 'en'] as const;
export type ReplyLang = (typeof REPLY_LANGS)[number];

const toTraditional = OpenCC.Converter({ from: 'cn', to: 'hk' });

/** Simplified → traditional (Hong Kong) conversion, as the zh-Hant replies use. */
export function toTraditionalChinese(text: string): string {
  return toTraditional(text);
}

/**
 * Hours told to a customer who asks for a person: the team's own words (`SUPPORT_HOURS`), shown as
 * written, or the parsed schedule (`SERVICE_HOURS`), said in the customer's language.
 */
export type HoursToTell = string | ServiceHours;

/** How each reply language names weekdays and joins days, time spans and groups. */
const HOURS_WORDS: Record<ReplyLang, { days: readonly string[]; through: string; and: string; groups: string }> = {
  'zh-Hans': { days: ['周一', '周二', '周三', '周四', '周五', '周六', '周日'], through: '至', and: '、', groups: '；' },
  'zh-Hant': { days: ['週一', '週二', '週三', '週四', '週五', '週六', '週日'], through: '至', and: '、', groups: '；' },
  en: { days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], through: '–', and: ', ', groups: '; ' },
};

const clock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

/**
 * A parsed service schedule in a reply language: days with the same times together, consecutive
 * days as a range (`周一至周五 09:00–18:00；周六 10:00–16:00`, `Mon–Fri 09:00–18:00; Sat 10:00–16:00`).
 * Overlapping or touching spans of a day are said as one.
 */
export function sayServiceHours(hours: ServiceHours, lang: ReplyLang): string {
  const w = HOURS_WORDS[lang];
  const spans = Array.from({ length: 7 }, (_, d) => {
    const merged: { from: number; to: number }[] = [];
    for (const r of hours.ranges.filter((x) => x.day === d).sort((a, b) => a.from - b.from)) {
      const last = merged.at(-1);
      if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
      else merged.push({ from: r.from, to: r.to });
    }
    return merged.map((r) => `${clock(r.from)}–${clock(r.to)}`).join(w.and);
  });
  // Days with the same times, in weekday order of their first day.
  const groups = new Map<string, number[]>();
  spans.forEach((times, d) => times && groups.set(times, [...(groups.get(times) ?? []), d]));
  return [...groups]
    .map(([times, days]) => {
      const runs: number[][] = [];
      for (const d of days) {
        const run = runs.at(-1);
        if (run && run.at(-1) === d - 1) run.push(d);
        else runs.push([d]);
      }
      // A range that wraps the week (Sat-Mon) is said as one.
      if (runs.length > 1 && runs[0][0] === 0 && runs.at(-1)!.at(-1) === 6) runs.push([...runs.pop()!, ...runs.shift()!]);
      const named = runs.map((r) => (r.length === 1 ? w.days[r[0]] : `${w.days[r[0]]}${w.through}${w.days[r.at(-1)!]}`));
      return `${named.join(w.and)} ${times}`;
    })
    .join(w.groups);
}

/** The hours as a customer in `lang` reads them: the team's words as written, a schedule in the language. */
function tellHours(hours: HoursToTell, lang: ReplyLang): string {
  return typeof hours === 'string' ? hours : sayServiceHours(hours, lang);
}

interface Texts {
  greeting: string;
  help: string;
  cancelled: string;
  nothingToCancel: string;
  tooLong: (max: number) => string;
  rateLimited: string;
  spam: string;
  empty: string;
  confirm: (topic: string, type: string) => string;
  unsure: string;
  yes: string;
  other: string;
  rephrase: string;
  askRephrase: string;
  askOtherTopic: string;
  askContact: string;
  skip: string;
  badContact: string;
  created: (number: string) => string;
  /** Filed into the local outbox while the database is down: received, and will be filed. */
  createdOffline: (number: string) => string;
  /** Status of a ticket that waits in the outbox. */
  statusPending: (number: string) => string;
  /** Status cannot be looked up while the database is down. */
  statusUnavailable: string;
  /** A message that could not be processed or kept while the database is down. */
  retryLater: string;
  /**
   * A message kept (durably) while the database is down, which only the conversation's dialog could
   * interpret: received, and passed to staff when the system is back (store/held-messages.ts).
   */
  heldForLater: string;
  /** A "取消" kept while the database is down: the demand being reported (if any) is cancelled when it is back. */
  cancelHeld: string;
  statusOf: (number: string, status: string, reply: string | null) => string;
  statusNotFound: (number: string) => string;
  /**
   * Added after the answer when the ticket the customer means by `former` was stored under `number`
   * instead (that number was taken while the ticket waited in the outbox): the old one still finds it.
   */
  numberChanged: (former: string, number: string) => string;
  askTicketNumber: string;
  addedDetails: (number: string) => string;
  noOpenTicket: string;
  error: string;
  statuses: Record<string, string>;
  /** Reply to a greeting: greet back and ask what we can help with. */
  greetBack: string;
  thanksBack: string;
  goodbye: string;
  /** Acknowledges a bare yes/no when nothing is being asked. */
  anythingElse: string;
  /**
   * How to reach a person (there is no live handover yet): describe the issue here, it becomes a
   * ticket and staff reply in this conversation; the open ticket and the service hours when known.
   */
  human: (openTicket: string | null, hours: HoursToTell | null) => string;
  /** The pending demand was filed because the customer asked for a person. */
  humanFiled: (number: string, hours: HoursToTell | null) => string;
  /** A message in a script we cannot read: filed for staff, answered politely. */
  unsupportedLanguage: (number: string) => string;
  /** A follow-up after filing, added to the ticket (the assignee is notified). */
  followupAdded: (number: string) => string;
  /** Thanks after filing, added to the ticket too. */
  followupThanks: (number: string) => string;
  /** "新问题" / "new issue" alone: the next message starts a new demand. */
  newIssue: string;
  /** The ticket was resolved: tell the customer and ask for a 1–5 rating with an optional comment. */
  resolved: (number: string) => string;
  /** The rating was recorded on the ticket. */
  ratingThanks: (number: string, score: number) => string;
  /** In the live queue: a person will join; the demand is on the ticket; messages meanwhile are kept. */
  handoverQueued: (number: string) => string;
  /** Asked for a person outside service hours: the demand is on the ticket. */
  handoverClosed: (number: string, hours: HoursToTell | null) => string;
  /**
   * Asked for a person while the database is unreachable: the request is kept (in the outbox, under
   * a reference it may still lose at filing), nobody can take the chat now, staff reply here later.
   */
  handoverOffline: (number: string) => string;
  /**
   * Asked for a person, the request stored on the ticket, but the database went away before the
   * live queue could take the conversation: the ticket is real (unlike handoverOffline's reference),
   * nobody can take the chat now, staff reply here later.
   */
  handoverUnqueued: (number: string) => string;
  /** Nobody took the conversation within the wait: the demand is on the ticket; the bot is back. */
  handoverTimedOut: (number: string) => string;
  /**
   * Nobody took the conversation within the wait, but staff replied on the ticket meanwhile (from the
   * ticket page): the wait is over, no person is promised; what the customer writes goes on the ticket.
   */
  handoverTimedOutAnswered: (number: string) => string;
  /** Nobody took the conversation within the wait, but staff resolved the ticket meanwhile. */
  handoverTimedOutResolved: (number: string) => string;
  /** An agent joined the conversation. */
  handoverTaken: (agent: string) => string;
  /** The agent handed the conversation back to the bot. */
  handoverBack: string;
  /** The agent ended the live conversation. */
  handoverEnded: (number: string) => string;
  /** A voice message without the channel's recognition text: ask for text. */
  voiceNeedsText: string;
  /** Media the bot cannot read or keep (a location, a link, a message type the channel added later). */
  unsupportedMedia: string;
  /** An image (or video, file) added to the customer's open ticket. */
  mediaAdded: (number: string) => string;
  /** An image (or video, file) with no open ticket: filed for staff; please describe it in words. */
  mediaFiled: (number: string) => string;
  /** A voice message the channel kept (no recognition text): kept on the ticket; please write it in text. */
  voiceKept: (number: string) => string;
}

const zh: Texts = {
  greeting: '您好！我是客服小助手。请直接告诉我您遇到的问题或建议（例如物流、质量、退款、账户、网络等），我会为您登记工单并转给专人跟进。输入「帮助」查看用法。',
  // A Markdown list: Web Chat renders single line breaks as spaces, which ran the bullets together.
  help: '您可以：\n\n- 直接描述问题或建议，我会登记工单；\n- 发送「查询工单 T20261125-0042」查看进度；\n- 登记后直接留言，会记录到该工单；发送「新问题」开始另一个问题；\n- 发送「转人工」请客服人员和您对话；\n- 随时发送「取消」重新开始。',
  cancelled: '好的，已取消。您可以随时重新描述您的问题。',
  nothingToCancel: '当前没有进行中的操作。请直接描述您的问题。',
  tooLong: (max) => `您的消息太长了（上限 ${max} 字）。请精简后分几条发送，谢谢！`,
  rateLimited: '您发送得太快了，请稍等几秒再发。',
  spam: '抱歉，这条消息看起来像广告或无效信息，我们无法受理。如有真实问题，请直接描述，谢谢。',
  empty: '我没有看到文字内容。请用文字描述一下您的问题好吗？',
  confirm: (topic, type) => `这是关于「${topic}」的${type}，对吗？`,
  unsure: '我不太确定您的问题属于哪一类，请帮我选一下：',
  yes: '对',
  other: '其他',
  rephrase: '重新描述',
  askRephrase: '好的，请再描述一下您的问题。',
  askOtherTopic: '请选择最接近的一类：',
  askContact: '如需我们回电或发邮件，请留下手机号或邮箱（可跳过）。联系方式仅用于处理本次问题。',
  skip: '跳过',
  badContact: '这个号码或邮箱的格式好像不对，请重新输入，或点「跳过」。',
  created: (n) => `已为您登记工单 ${n}。专人会在 1 个工作日内跟进，您可以随时发送「查询工单 ${n}」查看进度。`,
  createdOffline: (n) => `已收到您的问题，编号 ${n}。系统正在恢复，恢复后会自动登记为工单并转给专人跟进；您可以随时发送「查询工单 ${n}」查看进度。`,
  statusPending: (n) => `工单 ${n} 已收到，正在等待系统恢复后登记，之后会转给专人跟进，请稍候。`,
  statusUnavailable: '抱歉，系统正在恢复，暂时无法查询工单，请一分钟后再试。',
  retryLater: '抱歉，系统正在恢复，这条消息暂时无法处理，也没有保存。请一分钟后重新发送。',
  heldForLater: '已收到并保存您的消息。系统正在恢复，暂时无法继续刚才的对话；恢复后这条消息会转给专人处理（如您有处理中的工单，会补充到该工单），无需重新发送。',
  cancelHeld: '已收到您的取消。系统正在恢复，恢复后会取消您正在登记的问题（如有），无需重新发送。',
  statusOf: (n, s, reply) => `工单 ${n} 当前状态：${s}。${reply ? `最新回复：${reply}` : '暂无客服回复，请耐心等待。'}`,
  statusNotFound: (n) => `没有找到属于您的工单 ${n}。请核对工单号。`,
  numberChanged: (former, n) => `请注意：您的工单编号已由 ${former} 更改为 ${n}，用原编号查询仍可找到。`,
  askTicketNumber: '请告诉我您的工单号（例如 T20261125-0042）。',
  addedDetails: (n) => `已将补充说明添加到工单 ${n}。`,
  noOpenTicket: '您目前没有处理中的工单。请直接描述您的问题，我来为您登记。',
  error: '抱歉，系统出了点问题，这条消息没有处理成功，请稍后重新发送。',
  statuses: { new: '已受理', in_progress: '处理中', resolved: '已解决', closed: '已关闭', reopened: '重新处理中' },
  greetBack: '您好！我是客服小助手，请问有什么可以帮您？请直接描述您遇到的问题或建议。',
  thanksBack: '不客气！还有其他可以帮您的吗？',
  goodbye: '再见，祝您生活愉快！有需要随时来找我。',
  anythingElse: '好的。如果还有其他问题，请直接告诉我。',
  human: (open, hours) =>
    (open
      ? `您的工单 ${open} 已转给工作人员，他们会在这个对话里回复您。如有新的情况，请发送「补充 …」。`
      : '我们的工作人员会处理您的问题：请在这里直接描述您遇到的情况，我会为您登记工单，工作人员会在这个对话里回复您。') +
    (hours ? `人工服务时间：${tellHours(hours, 'zh-Hans')}。` : ''),
  humanFiled: (n, hours) => `好的，已将您的问题登记为工单 ${n} 并转给工作人员，他们会在这个对话里回复您。${hours ? `人工服务时间：${tellHours(hours, 'zh-Hans')}。` : ''}`,
  unsupportedLanguage: (n) => `抱歉，我目前只能读懂中文和英文。您的消息已登记为工单 ${n}，工作人员会查看并在这里回复您；用中文或英文描述可以更快处理。`,
  followupAdded: (n) => `已记录到工单 ${n}，处理人员会看到并在这里回复您。如果是另一个问题，请发送「新问题」。`,
  followupThanks: (n) => `不客气！您的留言已记录到工单 ${n}，有进展我们会在这里回复您。`,
  newIssue: '好的，请描述您的新问题。',
  resolved: (n) => `您的工单 ${n} 已处理完毕。请为本次服务打分：回复 1–5 分（5 分为非常满意），也可以在分数后附上您的意见。`,
  ratingThanks: (n, score) => `感谢您的评价（${score} 分）！已记录到工单 ${n}。`,
  handoverQueued: (n) => `好的，正在为您转接人工客服，请稍候。您的问题已记录在工单 ${n}，等待期间您发的消息都会转给客服。`,
  handoverClosed: (n, hours) => `抱歉，现在不是人工服务时间${hours ? `（${tellHours(hours, 'zh-Hans')}）` : ''}。您的问题已记录在工单 ${n}，工作人员上班后会在这个对话里回复您。`,
  handoverOffline: (n) => `已收到您的请求，编号 ${n}。系统正在恢复，暂时无法为您接通人工客服；恢复后您的问题会自动登记为工单，工作人员会在这个对话里回复您。您也可以稍后再发送「转人工」。`,
  handoverUnqueued: (n) => `您的请求已记录在工单 ${n}，但系统出现故障，现在无法为您接通人工客服。工作人员会查看工单并在这个对话里回复您；您也可以稍后再发送「转人工」。`,
  handoverTimedOut: (n) => `抱歉，现在没有空闲的客服。您的问题已记录在工单 ${n}，工作人员会尽快在这个对话里回复您；您也可以继续和我对话。`,
  handoverTimedOutAnswered: (n) => `工作人员已在这个对话里回复了您（工单 ${n}），不再为您转接人工客服。如还有问题，请直接在这里留言，会记录到工单。`,
  handoverTimedOutResolved: (n) => `您的工单 ${n} 已处理完毕，不再为您转接人工客服。如还有问题，请直接告诉我，也可以再发送「转人工」。`,
  handoverTaken: (agent) => `客服 ${agent} 已接入，请问有什么可以帮您？`,
  handoverBack: '客服已将对话交回智能助手。如还有其他问题，请直接告诉我。',
  handoverEnded: (n) => `人工对话已结束，记录已保存在工单 ${n}。感谢您的耐心！如还有问题，请随时留言。`,
  voiceNeedsText: '抱歉，我暂时听不了这条语音。请用文字描述一下您的问题好吗？',
  unsupportedMedia: '抱歉，这类消息我暂时看不懂。请用文字描述一下您的问题，或发送图片。',
  mediaAdded: (n) => `已收到，已将图片添加到工单 ${n}，工作人员会一并查看。`,
  mediaFiled: (n) => `已收到您的图片，并登记为工单 ${n}，工作人员会查看。请再用文字简单描述一下问题，方便我们更快处理。`,
  voiceKept: (n) => `已收到您的语音，已保存在工单 ${n}。我暂时听不了语音，请用文字描述一下您的问题好吗？`,
};

const en: Texts = {
  greeting: "Hello! I'm the customer-service assistant. Tell me about your problem or suggestion (delivery, quality, refunds, account, network …) and I'll log a ticket for our team. Type \"help\" for more.",
  help: 'You can:\n\n- describe a problem or suggestion and I will log a ticket;\n- send "status T20261125-0042" to check a ticket;\n- after a ticket is logged, just write: your messages are added to it; send "new issue" to start another one;\n- send "talk to a person" to chat with our staff;\n- send "cancel" at any time to start over.',
  cancelled: 'OK, cancelled. Describe your issue whenever you are ready.',
  nothingToCancel: 'There is nothing to cancel. Just describe your issue.',
  tooLong: (max) => `Your message is too long (the limit is ${max} characters). Please shorten it or send it in parts. Thank you!`,
  rateLimited: 'You are sending messages too quickly; please wait a few seconds.',
  spam: 'Sorry, this looks like advertising or an invalid message, so we cannot accept it. If you have a real issue, please describe it.',
  empty: "I didn't see any text. Could you describe your issue in words?",
  confirm: (topic, type) => `This is a ${type.toLowerCase()} about "${topic}", is that right?`,
  unsure: "I'm not sure which kind of issue this is. Please pick one:",
  yes: 'Yes',
  other: 'Other',
  rephrase: 'Rephrase',
  askRephrase: 'OK, please describe your issue again.',
  askOtherTopic: 'Please pick the closest category:',
  askContact: 'If you would like a call or e-mail back, leave a phone number or e-mail address (or skip). We use it only for this issue.',
  skip: 'Skip',
  badContact: "That doesn't look like a phone number or e-mail address. Please try again, or choose Skip.",
  created: (n) => `Your ticket is ${n}. Our team will follow up within one working day; send "status ${n}" at any time to check it.`,
  createdOffline: (n) => `We have received your issue, reference ${n}. Our system is recovering; your issue will be filed as a ticket as soon as it is back, and our team will follow up. Send "status ${n}" to check it.`,
  statusPending: (n) => `Ticket ${n} has been received and is waiting to be filed until our system is back; our team will follow up then.`,
  statusUnavailable: 'Sorry, our system is recovering and cannot look up tickets right now; please try again in a minute.',
  retryLater: 'Sorry, our system is recovering and could not process this message, and it was not saved. Please send it again in a minute.',
  heldForLater: 'We have received and saved your message. Our system is recovering and cannot continue this conversation right now; when it is back, your message will be passed to our team (added to your open ticket, if you have one). There is no need to send it again.',
  cancelHeld: 'We have received your cancellation. Our system is recovering; when it is back, the issue you were reporting (if any) will be cancelled. There is no need to send it again.',
  statusOf: (n, s, reply) => `Ticket ${n} is ${s}. ${reply ? `Latest reply: ${reply}` : 'No reply from our team yet.'}`,
  statusNotFound: (n) => `I could not find a ticket ${n} of yours. Please check the number.`,
  numberChanged: (former, n) => `Please note: your ticket number has changed from ${former} to ${n}; the old number still finds it.`,
  askTicketNumber: 'Please tell me your ticket number (for example T20261125-0042).',
  addedDetails: (n) => `Your details were added to ticket ${n}.`,
  noOpenTicket: 'You have no open ticket. Describe your issue and I will log one.',
  error: 'Sorry, something went wrong on our side and this message was not processed; please send it again in a moment.',
  statuses: { new: 'received', in_progress: 'in progress', resolved: 'resolved', closed: 'closed', reopened: 'reopened' },
  greetBack: "Hello! I'm the customer-service assistant. How can I help you? Just describe your problem or suggestion.",
  thanksBack: "You're welcome! Is there anything else I can help with?",
  goodbye: 'Goodbye, and have a nice day! Come back any time.',
  anythingElse: 'OK. If there is anything else, just tell me.',
  human: (open, hours) =>
    (open
      ? `Your ticket ${open} is with our staff, and they will reply to you in this conversation. To add something, send "add …".`
      : 'Our staff will handle your issue: describe it here, I will log a ticket, and a person will reply to you in this conversation.') +
    (hours ? ` Staff are available ${tellHours(hours, 'en')}.` : ''),
  humanFiled: (n, hours) => `OK, I have logged your issue as ticket ${n} for our staff; a person will reply to you in this conversation.${hours ? ` Staff are available ${tellHours(hours, 'en')}.` : ''}`,
  unsupportedLanguage: (n) => `Sorry, I can only read Chinese and English for now. Your message is logged as ticket ${n}; our staff will look at it and reply here. Writing in Chinese or English gets it handled faster.`,
  followupAdded: (n) => `Noted on ticket ${n}; our staff will see it and reply here. If this is a different issue, send "new issue".`,
  followupThanks: (n) => `You're welcome! Your message is noted on ticket ${n}; we will reply here when there is news.`,
  newIssue: 'OK, please describe your new issue.',
  resolved: (n) => `Your ticket ${n} has been resolved. Please rate our service: reply with a score from 1 to 5 (5 = very satisfied), optionally followed by a comment.`,
  ratingThanks: (n, score) => `Thank you for your rating (${score}/5)! It is recorded on ticket ${n}.`,
  handoverQueued: (n) => `OK, I am connecting you to a person; please wait a moment. Your issue is recorded as ticket ${n}, and anything you write while you wait goes to them.`,
  handoverClosed: (n, hours) => `Sorry, our staff are not available right now${hours ? ` (service hours: ${tellHours(hours, 'en')})` : ''}. Your issue is recorded as ticket ${n}, and a person will reply to you in this conversation when they are back.`,
  handoverOffline: (n) => `We have received your request, reference ${n}. Our system is recovering, so we cannot connect you to a person right now; your issue will be filed as a ticket as soon as it is back, and a person will reply to you in this conversation. You can also ask for a person again in a little while.`,
  handoverUnqueued: (n) => `Your request is recorded on ticket ${n}, but a fault in our system means we cannot connect you to a person right now. Our staff will see it on the ticket and reply to you in this conversation; you can also ask for a person again in a little while.`,
  handoverTimedOut: (n) => `Sorry, no one is free to chat right now. Your issue is recorded as ticket ${n}, and a person will reply to you in this conversation as soon as possible; you can keep talking to me meanwhile.`,
  handoverTimedOutAnswered: (n) => `Our staff have already replied to you in this conversation (ticket ${n}), so you are no longer waiting for a person. If there is anything else, just write here: it is added to the ticket.`,
  handoverTimedOutResolved: (n) => `Your ticket ${n} has been resolved, so you are no longer waiting for a person. If there is anything else, just tell me, or ask for a person again.`,
  handoverTaken: (agent) => `${agent} from our team has joined the conversation. How can I help you?`,
  handoverBack: 'Our staff member has handed the conversation back to the assistant. If there is anything else, just tell me.',
  handoverEnded: (n) => `The chat with our staff has ended; it is kept on ticket ${n}. Thank you for your patience! Write any time if you need anything else.`,
  voiceNeedsText: "Sorry, I can't listen to this voice message. Could you describe your issue in text?",
  unsupportedMedia: "Sorry, I can't read this kind of message yet. Please describe your issue in text, or send a picture.",
  mediaAdded: (n) => `Got it: the picture was added to ticket ${n} for our staff.`,
  mediaFiled: (n) => `We received your picture and logged it as ticket ${n} for our staff. Please also describe the problem in a few words so we can help faster.`,
  voiceKept: (n) => `We received your voice message and kept it on ticket ${n}. I can't listen to voice messages; could you describe your issue in text?`,
};

const NUMBER_SLOT = 'NUMBERSLOT';
const HOURS_SLOT = 'HOURSSLOT';
const AGENT_SLOT = 'AGENTSLOT';
const FORMER_SLOT = 'FORMERSLOT';

function traditional(t: Texts): Texts {
  const c = (s: string) => toTraditional(s);
  // The number goes in after conversion, so it is never converted and nothing around it is lost.
  const slot = (f: (n: string) => string) => (n: string) => c(f(NUMBER_SLOT)).split(NUMBER_SLOT).join(n);
  return {
    ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'string' ? c(v) : v])),
    tooLong: (max: number) => c(t.tooLong(max)),
    confirm: (a: string, b: string) => c(t.confirm(a, b)),
    created: slot(t.created),
    createdOffline: slot(t.createdOffline),
    statusPending: slot(t.statusPending),
    statusOf: (n: string, s: string, r: string | null) => c(t.statusOf(NUMBER_SLOT, s, r)).split(NUMBER_SLOT).join(n),
    statusNotFound: slot(t.statusNotFound),
    numberChanged: (former: string, n: string) => c(t.numberChanged(FORMER_SLOT, NUMBER_SLOT)).split(FORMER_SLOT).join(former).split(NUMBER_SLOT).join(n),
    addedDetails: slot(t.addedDetails),
    followupAdded: slot(t.followupAdded),
    followupThanks: slot(t.followupThanks),
    resolved: slot(t.resolved),
    ratingThanks: (n: string, score: number) => c(t.ratingThanks(NUMBER_SLOT, score)).split(NUMBER_SLOT).join(n),
    // SUPPORT_HOURS are shown as the team wrote them, not converted; a SERVICE_HOURS schedule is said in zh-Hant.
    human: (open: string | null, hours: HoursToTell | null) => c(t.human(open, null)) + (hours ? `人工服務時間：${tellHours(hours, 'zh-Hant')}。` : ''),
    humanFiled: (n: string, hours: HoursToTell | null) => c(t.humanFiled(n, null)) + (hours ? `人工服務時間：${tellHours(hours, 'zh-Hant')}。` : ''),
    unsupportedLanguage: slot(t.unsupportedLanguage),
    // Ticket numbers, agent names and configured hours go in after conversion, unconverted.
    handoverQueued: slot(t.handoverQueued),
    handoverClosed: (n: string, hours: HoursToTell | null) => c(t.handoverClosed(NUMBER_SLOT, hours ? HOURS_SLOT : null)).split(NUMBER_SLOT).join(n).split(HOURS_SLOT).join(hours ? tellHours(hours, 'zh-Hant') : ''),
    handoverOffline: slot(t.handoverOffline),
    handoverUnqueued: slot(t.handoverUnqueued),
    handoverTimedOut: slot(t.handoverTimedOut),
    handoverTimedOutAnswered: slot(t.handoverTimedOutAnswered),
    handoverTimedOutResolved: slot(t.handoverTimedOutResolved),
    handoverTaken: (agent: string) => c(t.handoverTaken(AGENT_SLOT)).split(AGENT_SLOT).join(agent),
    handoverEnded: slot(t.handoverEnded),
    mediaAdded: slot(t.mediaAdded),
    mediaFiled: slot(t.mediaFiled),
    voiceKept: slot(t.voiceKept),
    statuses: Object.fromEntries(Object.entries(t.statuses).map(([k, v]) => [k, c(v)])),
  } as Texts;
}

const TEXTS: Record<ReplyLang, Texts> = { 'zh-Hans': zh, 'zh-Hant': traditional(zh), en };

/** The texts of a reply language. */
export function texts(lang: ReplyLang): Texts {
  return TEXTS[lang];
}

/** Localised topic and type names from the taxonomy. */
export function names(taxonomy: Taxonomy, lang: ReplyLang) {
  const pick = (n: { zh: string; en: string }) => (lang === 'en' ? n.en : lang === 'zh-Hant' ? toTraditional(n.zh) : n.zh);
  return {
    topic: (id: string) => pick(taxonomy.topics.find((t) => t.id === id)?.name ?? { zh: id, en: id }),
    type: (id: string) => pick(taxonomy.types.find((t) => t.id === id)?.name ?? { zh: id, en: id }),
  };
}
