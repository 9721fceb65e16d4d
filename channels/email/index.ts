/**
 * The e-mail channel: a mailbox read over IMAP (imapflow), mail parsed with mailparser, replies
 * sent over SMTP (nodemailer). Each inbound mail becomes a Bot Framework activity (channelId
 * `email`, from.id = the sender's address in lower case) run through the channel's adapter; the
 * acknowledgement and staff replies go back by SMTP in the same thread. See README "E-mail".
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Config } from '../../runtime/config.js';
import type { Channel, ChannelHealth, ChannelHost } from '../channel.js';
import { EMAIL_CHANNEL_ID } from './channel-id.js';
import { EmailAdapter, type OutgoingMail, type SendMail } from './email-adapter.js';
import { EmailTurn } from './email-turn.js';
import { MailStore } from './mail-store.js';
import { MailProcessor } from './mail-processor.js';
import { MailboxReader } from './mailbox-reader.js';
import { emailTexts } from './messages.js';
import { emailSettings, type EmailSettings } from './settings.js';

export { EMAIL_CHANNEL_ID } from './channel-id.js';

/** A claim older than this is taken over (its process died or lost the database mid-way). */
const STALE_CLAIM_MS = 10 * 60_000;

/** The running parts, for tests (one round on demand, the store). */
export interface EmailChannel extends Channel {
  readonly settings: EmailSettings;
  /** The reader, once mounted. */
  reader(): MailboxReader | null;
  store(): MailStore | null;
}

/** Sends through nodemailer; resolves when the server accepted the message. */
function smtpSender(settings: EmailSettings): { send: SendMail; close: () => void } {
  const transport = nodemailer.createTransport({
    host: settings.smtp.host,
    port: settings.smtp.port,
    secure: settings.smtp.secure,
    ...(settings.smtp.auth ? { auth: settings.smtp.auth } : {}),
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs * 3,
  });
  const from = settings.from.name ? { name: settings.from.name, address: settings.from.address } : settings.from.address;
  return {
    send: async (mail: OutgoingMail) => {
      const info = await transport.sendMail({
        from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        messageId: mail.messageId,
        ...(mail.inReplyTo ? { inReplyTo: mail.inReplyTo } : {}),
        ...(mail.references.length ? { references: mail.references } : {}),
        headers: mail.automatic ? { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' } : {},
      });
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length > 0) throw new Error(`the mail server refused ${rejected.join(', ')}: ${String(info.response ?? '').slice(0, 300)}`);
    },
    close: () => transport.close(),
  };
}

/** The e-mail channel, or null when EMAIL_IMAP_URL is unset. */
export function createEmailChannel(config: Config, opts: { send?: SendMail } = {}): EmailChannel | null {
  const settings = emailSettings(config);
  if (!settings) return null;
  const smtp = opts.send ? null : smtpSender(settings);
  const send = opts.send ?? smtp!.send;
  let store: MailStore | null = null;
  let reader: MailboxReader | null = null;
  let mountError: string | null = null;
  let log: ChannelHost['log'] | null = null;
  const adapter = new EmailAdapter({
    store: () => {
      if (!store) throw new Error('e-mail channel is not mounted');
      return store;
    },
    send,
    domain: settings.from.address.split('@')[1],
    defaultSubject: (lang) => emailTexts(lang === 'en' || lang === 'zh-Hant' ? lang : 'zh-Hans').defaultSubject,
    log: { warn: (o, m) => log?.warn(o, m) },
  });
  return {
    id: EMAIL_CHANNEL_ID,
    adapter,
    settings,
    reader: () => reader,
    store: () => store,
    mount(host: ChannelHost) {
      log = host.log;
      const { services } = host;
      store = new MailStore(services.db, { owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`, staleMs: STALE_CLAIM_MS });
      const mailStore = store;
      const turn = new EmailTurn({
        classifier: services.runtime.holder,
        tickets: services.tickets,
        linkThread: (conversationId, number, lang) => mailStore.linkThread(conversationId, number, lang),
        log: host.log,
      });
      const processor = new MailProcessor({
        store: mailStore,
        attachments: services.store.attachments,
        tickets: services.tickets,
        outbox: services.store.outbox,
        adapter,
        turn,
        deskAddress: settings.from.address,
        attachmentMaxBytes: settings.attachmentMaxBytes,
        maxClassifiedLength: settings.maxClassifiedLength,
        log: host.log,
      });
      reader = new MailboxReader({ settings, store: mailStore, processor, log: host.log });
      const r = reader;
      // The indexes first; the reader starts either way (a missing index only slows lookups).
      Promise.all([mailStore.ensureIndexes(), services.store.attachments.ensureIndexes()])
        .catch((err: Error) => {
          mountError = err.message;
          host.log.warn({ err: err.message }, 'e-mail indexes not created');
        })
        .finally(() => r.start());
      host.log.info({ mailbox: settings.mailbox, imap: `${settings.imap.host}:${settings.imap.port}`, smtp: `${settings.smtp.host}:${settings.smtp.port}`, pollSeconds: settings.pollMs / 1000 }, 'e-mail channel reading its mailbox');
    },
    health(): ChannelHealth {
      if (!reader) return { channel: EMAIL_CHANNEL_ID, status: 'down', detail: mountError ?? 'not mounted' };
      return reader.health();
    },
    async close() {
      await reader?.stop();
      smtp?.close();
    },
  };
}
