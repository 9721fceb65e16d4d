/**
 * Everything the bot says, in simplified Chinese first, traditional Chinese and English.
 * Topic and type names come from the taxonomy (simplified names are converted for zh-Hant).
 */
import * as OpenCC from 'opencc-js';
import type { Taxonomy } from '../classifier/taxonomy.js';

export const REPLY_LANGS = ['zh-Hans', 'zh-Hant', 'en'] as const;
export type ReplyLang = (typeof REPLY_LANGS)[number];

const toTraditional = OpenCC.Converter({ from: 'cn', to: 'hk' });

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
  statusOf: (number: string, status: string, reply: string | null) => string;
  statusNotFound: (number: string) => string;
  askTicketNumber: string;
  addedDetails: (number: string) => string;
  noOpenTicket: string;
  error: string;
  statuses: Record<string, string>;
}

const zh: Texts = {
  greeting: '您好！我是客服小助手。请直接告诉我您遇到的问题或建议（例如物流、质量、退款、账户、网络等），我会为您登记工单并转给专人跟进。输入「帮助」查看用法。',
  help: '您可以：\n· 直接描述问题或建议，我会登记工单；\n· 发送「查询工单 T20261125-0042」查看进度；\n· 发送「补充 …」为您最近的工单追加说明；\n· 随时发送「取消」重新开始。',
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
  statusOf: (n, s, reply) => `工单 ${n} 当前状态：${s}。${reply ? `最新回复：${reply}` : '暂无客服回复，请耐心等待。'}`,
  statusNotFound: (n) => `没有找到属于您的工单 ${n}。请核对工单号。`,
  askTicketNumber: '请告诉我您的工单号（例如 T20261125-0042）。',
  addedDetails: (n) => `已将补充说明添加到工单 ${n}。`,
  noOpenTicket: '您目前没有处理中的工单。请直接描述您的问题，我来为您登记。',
  error: '抱歉，系统出了点问题，这条消息没有处理成功，请稍后重新发送。',
  statuses: { new: '已受理', in_progress: '处理中', resolved: '已解决', closed: '已关闭', reopened: '重新处理中' },
};

const en: Texts = {
  greeting: "Hello! I'm the customer-service assistant. Tell me about your problem or suggestion (delivery, quality, refunds, account, network …) and I'll log a ticket for our team. Type \"help\" for more.",
  help: 'You can:\n· describe a problem or suggestion and I will log a ticket;\n· send "status T20261125-0042" to check a ticket;\n· send "add …" to add details to your latest ticket;\n· send "cancel" at any time to start over.',
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
  statusOf: (n, s, reply) => `Ticket ${n} is ${s}. ${reply ? `Latest reply: ${reply}` : 'No reply from our team yet.'}`,
  statusNotFound: (n) => `I could not find a ticket ${n} of yours. Please check the number.`,
  askTicketNumber: 'Please tell me your ticket number (for example T20261125-0042).',
  addedDetails: (n) => `Your details were added to ticket ${n}.`,
  noOpenTicket: 'You have no open ticket. Describe your issue and I will log one.',
  error: 'Sorry, something went wrong on our side and this message was not processed; please send it again in a moment.',
  statuses: { new: 'received', in_progress: 'in progress', resolved: 'resolved', closed: 'closed', reopened: 'reopened' },
};

const NUMBER_SLOT = 'NUMBERSLOT';

function traditional(t: Texts): Texts {
  const c = (s: string) => toTraditional(s);
  return {
    ...Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'string' ? c(v) : v])),
    tooLong: (max: number) => c(t.tooLong(max)),
    confirm: (a: string, b: string) => c(t.confirm(a, b)),
    created: (n: string) => c(t.created(n)).replace(/T\d{8}-\S+/g, n),
    // The number goes in after conversion, so it is never converted.
    createdOffline: (n: string) => c(t.createdOffline(NUMBER_SLOT)).split(NUMBER_SLOT).join(n),
    statusPending: (n: string) => c(t.statusPending(NUMBER_SLOT)).split(NUMBER_SLOT).join(n),
    statusOf: (n: string, s: string, r: string | null) => c(t.statusOf(n, s, r)),
    statusNotFound: (n: string) => c(t.statusNotFound(n)),
    addedDetails: (n: string) => c(t.addedDetails(n)),
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
