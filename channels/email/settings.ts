/**
 * The e-mail channel's settings, from the validated configuration (runtime/config.ts reads and
 * checks the environment once; this only turns its URLs into connection options).
 */
import type { Config } from '../../runtime/config.js';

export interface EmailSettings {
  imap: { host: string; port: number; secure: boolean; auth: { user: string; pass: string } };
  smtp: { host: string; port: number; secure: boolean; auth?: { user: string; pass: string } };
  /** The desk's address (lower-case) and display name. */
  from: { address: string; name: string | null };
  mailbox: string;
  pollMs: number;
  attachmentMaxBytes: number;
  messageMaxBytes: number;
  /** Longest text classified (the chat's limit); the whole mail is kept on the ticket. */
  maxClassifiedLength: number;
  /** How long one SMTP or IMAP exchange may take before it is abandoned. */
  timeoutMs: number;
}

function parts(url: string, defaultPorts: Record<string, number>) {
  const u = new URL(url);
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  return {
    scheme,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : defaultPorts[scheme],
    user: decodeURIComponent(u.username),
    pass: decodeURIComponent(u.password),
  };
}

/** The e-mail settings, or null when the channel is off (EMAIL_IMAP_URL unset). */
export function emailSettings(config: Config): EmailSettings | null {
  if (!config.EMAIL_IMAP_URL || !config.EMAIL_SMTP_URL || !config.EMAIL_FROM) return null;
  const imap = parts(config.EMAIL_IMAP_URL, { imap: 143, imaps: 993 });
  const smtp = parts(config.EMAIL_SMTP_URL, { smtp: 587, smtps: 465 });
  const m = /^(?:\s*"?([^<>"]*?)"?\s*<([^<>]+)>|([^<>\s]+))\s*$/.exec(config.EMAIL_FROM)!;
  const smtpPass = config.EMAIL_SMTP_PASSWORD ?? smtp.pass;
  return {
    imap: { host: imap.host, port: imap.port, secure: imap.scheme === 'imaps', auth: { user: imap.user, pass: config.EMAIL_IMAP_PASSWORD ?? imap.pass } },
    smtp: { host: smtp.host, port: smtp.port, secure: smtp.scheme === 'smtps', ...(smtp.user ? { auth: { user: smtp.user, pass: smtpPass } } : {}) },
    from: { address: (m[2] ?? m[3]).trim().toLowerCase(), name: m[1]?.trim() || null },
    mailbox: config.EMAIL_MAILBOX,
    pollMs: Math.round(config.EMAIL_POLL_SECONDS * 1000),
    attachmentMaxBytes: config.EMAIL_ATTACHMENT_MAX_BYTES,
    messageMaxBytes: config.EMAIL_MAX_MESSAGE_BYTES,
    maxClassifiedLength: config.MAX_TEXT_LENGTH,
    timeoutMs: Math.max(config.CHANNEL_TIMEOUT_MS, 10_000),
  };
}
