/**
 * What a customer wrote in an e-mail, without the quoted history and the signature: the text the
 * classifier reads and a follow-up adds to its ticket. The full original stays on the ticket for
 * staff; this only decides what is *classified*. Pure (no I/O).
 *
 * Mail clients quote in a handful of ways, in English and Chinese: "On … wrote:" (also wrapped over
 * two lines), "> " lines, Outlook's "-----Original Message-----" and its header block
 * ("From:/发件人:/發件人:/寄件者:" followed by "Sent:/发送时间:/To:/收件人:/Subject:/主题:"),
 * Foxmail/QQ's "------------------ 原始邮件 ------------------", "在 … 写道：" / "在 … 寫道：".
 * Signatures start at the standard "-- " line, at "Sent from my iPhone"-style lines, or at a short
 * sign-off line ("Best regards,", "此致", "谢谢！") followed only by a few short lines (a name, a
 * title, a phone number). Forwarded messages are kept: they are usually what the customer wants us
 * to read.
 */

/** Where a reply's quoted history starts (the line and everything after it is history). */
const QUOTE_HEADERS: readonly RegExp[] = [
  /^\s*On\s.{1,250}\swrote:\s*$/i,
  /^\s*-{2,}\s*Original Message\s*-{2,}\s*$/i,
  /^\s*-{2,}\s*(原始邮件|原始郵件|原邮件|原郵件|回复的原邮件|原始信件)\s*-{2,}\s*$/,
  /^\s*在\s?.{1,250}(写道|寫道)\s*[：:]\s*$/,
  /^\s*.{1,250}\s(于|於)\s.{1,250}(写道|寫道)\s*[：:]\s*$/,
  /^\s*Le\s.{1,250}\sa écrit\s*:\s*$/i,
  /^\s*Am\s.{1,250}\sschrieb\s.{0,250}:\s*$/i,
  /^\s*_{10,}\s*$/,
];
/** The first line of a quoted header block; confirmed by a second header line right after it. */
const HEADER_FROM = /^\s*\*?(From|发件人|發件人|寄件者|寄件人)\*?\s*[:：]/i;
const HEADER_NEXT = /^\s*\*?(Sent|Date|To|Cc|Subject|发送时间|發送時間|日期|时间|時間|收件人|抄送|主题|主題|主旨)\*?\s*[:：]/i;
/** A line that starts a signature outright. */
const SIGNATURE_START: readonly RegExp[] = [
  /^-- ?$/,
  /^\s*(Sent from my|Sent from Mail for|Get Outlook for|Sent via|发自我的|從我的|从我的|發自我的|来自我的|發送自|发送自).{0,60}$/i,
  /^\s*(发自|發自)(网易|網易|QQ|腾讯|騰訊|企业微信|企業微信|Foxmail|手机|手機).{0,40}$/i,
];
/** A short sign-off line; it starts the signature only when little follows it. */
const SIGN_OFF = /^\s*((best|kind|warm|warmest)\s+regards|regards|best wishes|best|cheers|thanks|thank you|many thanks|thanks again|sincerely|yours sincerely|yours truly|此致|此致敬礼|此致敬禮|敬礼|敬禮|祝好|顺祝商祺|順祝商祺|顺颂商祺|順頌商祺|谢谢|謝謝|多谢|多謝|感谢|感謝)\s*[,，!！.。]?\s*$/i;
/** At most this much may follow a sign-off for it to be a signature (a name, title, phone). */
const SIGNATURE_MAX_LINES = 6;
const SIGNATURE_MAX_CHARS = 240;

/** The customer's own text of a message and what was removed. */
export interface StrippedText {
  /** The new text: no quoted history, no signature, trimmed. Empty when the message had none. */
  text: string;
  /** A quoted history was found and removed. */
  quoted: boolean;
  /** A signature was found and removed. */
  signature: boolean;
}

/** Removes quoted history and signature from a plain-text mail body. */
export function stripReply(body: string): StrippedText {
  const lines = body.replace(/\r\n?/g, '\n').split('\n');
  let quoted = false;
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const joined = i + 1 < lines.length ? `${line} ${lines[i + 1]}` : line;
    if (QUOTE_HEADERS.some((r) => r.test(line))) {
      end = i;
      quoted = true;
      break;
    }
    // "On Mon, 6 Dec 2026 at 10:00, Zhang San <z@example.com>" / "wrote:" wrapped by the client.
    if (/^\s*On\s/i.test(line) && /\swrote:\s*$/i.test(joined) && !/wrote:\s*$/i.test(line)) {
      end = i;
      quoted = true;
      break;
    }
    if (HEADER_FROM.test(line) && lines.slice(i + 1, i + 5).some((l) => HEADER_NEXT.test(l))) {
      end = i;
      quoted = true;
      break;
    }
  }
  // Interleaved quotes ("> …") anywhere above the history are history too.
  const kept: string[] = [];
  for (const line of lines.slice(0, end)) {
    if (/^\s*(>|＞)/.test(line)) {
      quoted = true;
      continue;
    }
    kept.push(line);
  }
  let signature = false;
  let stop = kept.length;
  for (let i = 0; i < kept.length; i++) {
    if (SIGNATURE_START.some((r) => r.test(kept[i]))) {
      stop = i;
      signature = true;
      break;
    }
    if (SIGN_OFF.test(kept[i]) && i > 0) {
      const rest = kept.slice(i + 1).filter((l) => l.trim() !== '');
      if (rest.length <= SIGNATURE_MAX_LINES && rest.join('').length <= SIGNATURE_MAX_CHARS && rest.every((l) => l.trim().length <= 60)) {
        stop = i;
        signature = true;
        break;
      }
    }
  }
  const text = kept
    .slice(0, stop)
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return { text, quoted, signature };
}

/** A subject without reply and forward prefixes ("Re:", "回复：", "Fwd:", "答复:" …), repeated ones too. */
export function baseSubject(subject: string): string {
  let s = subject.trim();
  for (;;) {
    const next = s.replace(/^\s*(re|fw|fwd|aw|wg|sv|vs|答复|答覆|回复|回覆|转发|轉寄|转寄)\s*(\[\d+\])?\s*[:：]\s*/i, '');
    if (next === s) return s;
    s = next;
  }
}
