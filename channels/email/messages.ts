/**
 * What the desk writes to customers by e-mail, in simplified Chinese first, traditional Chinese
 * and English (the chat's texts are in bot/messages.ts; a mail is answered in one message, so it
 * says more at once), and the notes staff see on an e-mail ticket (zh-Hans with English).
 */
import type { ReplyLang } from '../../bot/messages.js';

export interface EmailTexts {
  /** The acknowledgement of a new demand: its ticket number and how to add to it. */
  filed: (number: string) => string;
  /** The database was unreachable: received, kept, and will be filed under this number. */
  filedOffline: (number: string) => string;
  /**
   * A reply in the thread was added to the ticket; `former` is the number the customer was given
   * when the ticket was stored under a new one (that number was taken while it waited in the outbox).
   */
  joined: (number: string, former?: string | null) => string;
  /** A mail with no text and no attachments: nothing filed, please describe the problem. */
  empty: string;
  /** The subject of a thread whose first mail had none. */
  defaultSubject: string;
}

const zhHans: EmailTexts = {
  filed: (n) => `您好！\n\n我们已收到您的邮件，并登记为工单 ${n}。客服人员会尽快在这封邮件的往来中回复您。\n如需补充说明或附件，直接回复本邮件即可（请保留主题中的工单号）。\n\n此邮件由系统自动发送。`,
  filedOffline: (n) => `您好！\n\n我们已收到您的邮件，编号 ${n}，系统正在登记，稍后即可查询。客服人员会在这封邮件的往来中回复您。\n如需补充，直接回复本邮件即可。\n\n此邮件由系统自动发送。`,
  joined: (n, former) => `您好！\n\n您的补充内容已添加到工单 ${n}，客服人员会一并处理。${former ? `\n请注意：您的工单编号已由 ${former} 更改为 ${n}，用原编号查询仍可找到。` : ''}\n\n此邮件由系统自动发送。`,
  empty: '您好！\n\n我们收到了您的邮件，但其中没有文字内容或附件，因此未能登记。请直接回复本邮件，描述您遇到的问题或建议。\n\n此邮件由系统自动发送。',
  defaultSubject: '您的咨询',
};

const zhHant: EmailTexts = {
  filed: (n) => `您好！\n\n我們已收到您的郵件，並登記為工單 ${n}。客服人員會盡快在這封郵件的往來中回覆您。\n如需補充說明或附件，直接回覆本郵件即可（請保留主旨中的工單號）。\n\n此郵件由系統自動發送。`,
  filedOffline: (n) => `您好！\n\n我們已收到您的郵件，編號 ${n}，系統正在登記，稍後即可查詢。客服人員會在這封郵件的往來中回覆您。\n如需補充，直接回覆本郵件即可。\n\n此郵件由系統自動發送。`,
  joined: (n, former) => `您好！\n\n您的補充內容已加入工單 ${n}，客服人員會一併處理。${former ? `\n請注意：您的工單編號已由 ${former} 更改為 ${n}，用原編號查詢仍可找到。` : ''}\n\n此郵件由系統自動發送。`,
  empty: '您好！\n\n我們收到了您的郵件，但其中沒有文字內容或附件，因此未能登記。請直接回覆本郵件，描述您遇到的問題或建議。\n\n此郵件由系統自動發送。',
  defaultSubject: '您的諮詢',
};

const en: EmailTexts = {
  filed: (n) => `Hello,\n\nWe have received your e-mail and filed it as ticket ${n}. Our staff will answer you in this e-mail thread as soon as possible.\nTo add details or files, simply reply to this e-mail (please keep the ticket number in the subject).\n\nThis message was sent automatically.`,
  filedOffline: (n) => `Hello,\n\nWe have received your e-mail under number ${n}; it is being filed and can be looked up shortly. Our staff will answer you in this e-mail thread.\nTo add details, simply reply to this e-mail.\n\nThis message was sent automatically.`,
  joined: (n, former) => `Hello,\n\nYour additional message has been added to ticket ${n}; our staff will take it into account.${former ? `\nPlease note: your ticket number has changed from ${former} to ${n}; the old number still finds it.` : ''}\n\nThis message was sent automatically.`,
  empty: 'Hello,\n\nWe received your e-mail, but it has no text and no attachments, so nothing was filed. Please reply to this e-mail and describe your problem or suggestion.\n\nThis message was sent automatically.',
  defaultSubject: 'Your request',
};

/** The e-mail texts in a language. */
export function emailTexts(lang: ReplyLang): EmailTexts {
  return lang === 'zh-Hant' ? zhHant : lang === 'en' ? en : zhHans;
}

/** Notes staff read on an e-mail ticket (zh-Hans first, English after, as the console's users may be either). */
export const staffNotes = {
  /** The body was longer than a ticket holds: what is shown, the whole size, and where the rest is. */
  bodyCapped: (shown: number, total: number, file: string | null) =>
    file
      ? `[邮件正文共 ${total} 字，此处显示前 ${shown} 字，全文见附件 ${file}。The body has ${total} characters; the first ${shown} are shown here, the whole text is attachment ${file}.]`
      : `[邮件正文共 ${total} 字，此处显示前 ${shown} 字，全文超过附件上限，请在邮箱中查看原邮件。The body has ${total} characters; the first ${shown} are shown here; the whole text is over the attachment limit, see the original in the mailbox.]`,
  /** The message was larger than the download limit: filed from its headers. */
  messageTooLarge: (size: number, limit: number, where: string) =>
    `[邮件大小 ${formatBytes(size)}，超过 ${formatBytes(limit)} 的上限，未下载正文和附件；原邮件在邮箱中：${where}。The message is ${formatBytes(size)}, over the ${formatBytes(limit)} limit: body and attachments were not downloaded; the original is in the mailbox: ${where}.]`,
  /** An attachment over the cap. */
  attachmentOverCap: (size: number, limit: number, where: string) =>
    `超过 ${formatBytes(limit)} 上限（${formatBytes(size)}），未保存；原邮件在邮箱中：${where}。Over the ${formatBytes(limit)} limit (${formatBytes(size)}), not stored; the original is in the mailbox: ${where}.`,
  /** The attachments line appended to the ticket text. */
  attachments: (list: string[]) => `[附件 Attachments: ${list.join('; ')}]`,
  /** The mail had no text of its own. */
  noText: '[邮件无正文 No text in the message]',
  /** Problems met while reading the mail. */
  problems: (list: string[]) => `[读取邮件时的问题 Problems reading this message: ${list.join('; ')}]`,
};

/** A size for people: 512 B, 12.3 KB, 8 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MB`;
}
