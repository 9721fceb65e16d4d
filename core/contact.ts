/**
 * Contact details as customers type them, checked by the numbering plans the service meets rather
 * than by "some digits": a 10-digit mobile is a typo, not a number anyone can call back. Pure (no
 * I/O), so the bot, the store schema and the console can share it.
 *
 * Accepted phone numbers (spaces, dashes, dots and brackets between digits are allowed):
 * - mainland China mobile: `1[3-9]` + 9 digits, optionally after +86 / 0086;
 * - mainland China landline: 0 + a 2–3 digit area code + a 7–8 digit local number (10–12 digits),
 *   or the same after +86 / 0086 without the 0;
 * - Hong Kong: 8 digits starting 2–9 (mobiles start 4–9, fixed lines 2–3), optionally after
 *   +852 / 00852;
 * - Taiwan: mobile 09 + 8 digits, or +886 / 00886 9 + 8 digits; landline 0[2-8] + 7–8 digits, or
 *   +886 [2-8] + 7–8 digits.
 */

/** Which plan a phone number matched. */
export type PhoneKind = 'cn-mobile' | 'cn-landline' | 'hk' | 'tw-mobile' | 'tw-landline';

/** A contact detail read from a message: a phone number (as typed, brackets and dots as spaces) or an e-mail address. */
export type ParsedContact = { phone: string; kind: PhoneKind } | { email: string };

const PHONE_CHARS = /^\+?\(?[0-9][0-9 ().-]{5,24}$/;
// Local part and domain of the addresses people give for a call back (ASCII; a label may not start
// or end with a dash, and the top-level domain is letters).
const EMAIL = /^[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$/;

const PLANS: [PhoneKind, RegExp][] = [
  ['cn-mobile', /^(?:\+86|0086)?1[3-9]\d{9}$/],
  ['tw-mobile', /^(?:09\d{8}|(?:\+886|00886)9\d{8})$/],
  ['hk', /^(?:\+852|00852)?[2-9]\d{7}$/],
  ['tw-landline', /^(?:\+886|00886)[2-8]\d{7,8}$/],
  ['cn-landline', /^(?:0[1-9]\d{1,2}\d{7,8}|(?:\+86|0086)[1-9]\d{1,2}\d{7,8})$/],
];

/** The plan a phone number belongs to, or null when it is not a number we can call back. */
export function phoneKind(text: string): PhoneKind | null {
  const t = text.trim();
  if (!PHONE_CHARS.test(t)) return null;
  const digits = t.replace(/[ ().-]/g, '');
  for (const [kind, re] of PLANS) if (re.test(digits)) return kind;
  return null;
}

/** True for an e-mail address as above ("abc@qq,com" and "abc@@qq.com" are not). */
export function isEmailAddress(text: string): boolean {
  const t = text.trim();
  return t.length <= 254 && EMAIL.test(t);
}

/** A phone number or e-mail address, or null when the text is neither. */
export function parseContact(text: string): ParsedContact | null {
  const t = text.trim();
  const kind = phoneKind(t);
  // Brackets and dots become spaces: the ticket keeps digits, +, spaces and dashes (store/schemas.ts).
  if (kind) return { phone: t.replace(/[().]/g, ' ').replace(/\s+/g, ' ').trim(), kind };
  if (isEmailAddress(t)) return { email: t };
  return null;
}
