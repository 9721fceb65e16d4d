/**
 * Reads the mailbox over IMAP (imapflow): every `pollMs`, and at once when the server announces new
 * mail while the connection idles (IMAP IDLE), it fetches the messages above the cursor (the
 * highest UID below which every message is handled, kept in the database per mailbox and
 * UIDVALIDITY), hands each to the processor, flags handled ones `\Seen` and `$DemandDesk`, and
 * moves the cursor. The cursor never passes a message that is not handled yet (database down,
 * another process on it): it is tried again on the next round, and nothing is skipped. Messages
 * larger than the download limit are filed from their headers with a note.
 */
import { ImapFlow } from 'imapflow';
import { isUnavailable } from '../../store/ticket-repository.js';
import type { ChannelHealth } from '../channel.js';
import { EMAIL_CHANNEL_ID } from './channel-id.js';
import { parseInbound } from './inbound.js';
import type { MailStore } from './mail-store.js';
import type { MailProcessor } from './mail-processor.js';
import { staffNotes } from './messages.js';
import type { EmailSettings } from './settings.js';

/** The keyword set on handled messages (beside \Seen), so people reading the mailbox see what the desk took. */
export const HANDLED_KEYWORD = '$DemandDesk';

export interface ReaderDeps {
  settings: EmailSettings;
  store: MailStore;
  processor: MailProcessor;
  log: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void; debug: (obj: object, msg: string) => void };
}

export class MailboxReader {
  private client: ImapFlow | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private lastOk: Date | null = null;
  private lastError: string | null = null;
  /** Rounds completed (tests and /readyz). */
  rounds = 0;

  constructor(private readonly deps: ReaderDeps) {}

  start(): void {
    if (this.loop) return;
    this.loop = this.run();
  }

  /** Stops polling and logs out; a round in progress finishes its current message first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.disconnect();
  }

  health(): ChannelHealth {
    const stale = this.lastOk === null || Date.now() - this.lastOk.getTime() > Math.max(3 * this.deps.settings.pollMs, 60_000);
    if (this.lastError && (stale || this.lastOk === null)) return { channel: EMAIL_CHANNEL_ID, status: this.lastOk ? 'degraded' : 'down', detail: `mailbox: ${this.lastError}` };
    if (this.lastError) return { channel: EMAIL_CHANNEL_ID, status: 'degraded', detail: `last round: ${this.lastError}` };
    return { channel: EMAIL_CHANNEL_ID, status: 'ok', ...(this.lastOk ? { detail: `mailbox read at ${this.lastOk.toISOString()}` } : { detail: 'not read yet' }) };
  }

  /** Runs one round now (tests; the loop runs them on its own). */
  async round(): Promise<{ handled: number; pending: number }> {
    const client = await this.connect();
    const { mailbox, messageMaxBytes } = this.deps.settings;
    const lock = await client.getMailboxLock(mailbox);
    let handled = 0;
    let pending = 0;
    try {
      const box = client.mailbox;
      if (!box) throw new Error(`mailbox ${mailbox} is not open`);
      const validity = String(box.uidValidity);
      const key = `${this.deps.settings.imap.auth.user}@${this.deps.settings.imap.host}/${mailbox}`;
      const cursor = await this.deps.store.cursor(key, validity);
      const found: { uid: number; size: number }[] = [];
      // A mailbox kept open learns of new mail from the server's untagged EXISTS: ask for them.
      await client.noop();
      if (box.exists > 0) {
        for await (const m of client.fetch(`${cursor + 1}:*`, { uid: true, size: true }, { uid: true })) {
          // "n:*" also returns the newest message when it is below n (IMAP semantics).
          if (m.uid > cursor) found.push({ uid: m.uid, size: m.size ?? 0 });
        }
      }
      found.sort((a, b) => a.uid - b.uid);
      this.deps.log.debug({ found: found.length, cursor }, 'mailbox checked');
      let contiguous = cursor;
      let blocked = false;
      for (const { uid, size } of found) {
        if (this.stopped) break;
        const where = { mailbox, uid };
        let raw: Buffer;
        const notes: string[] = [];
        if (size > messageMaxBytes) {
          const m = await client.fetchOne(String(uid), { uid: true, headers: true }, { uid: true });
          raw = Buffer.concat([m && m.headers ? m.headers : Buffer.alloc(0), Buffer.from('\r\n')]);
          notes.push(staffNotes.messageTooLarge(size, messageMaxBytes, `${mailbox}, UID ${uid}`));
        } else {
          const m = await client.fetchOne(String(uid), { uid: true, source: true }, { uid: true });
          if (!m || !m.source) {
            // Expunged meanwhile (someone deleted it): nothing left to handle.
            if (!blocked) contiguous = uid;
            continue;
          }
          raw = m.source;
        }
        const mail = await parseInbound(raw, this.deps.settings.from.address);
        let result;
        try {
          result = await this.deps.processor.process(mail, where, notes);
        } catch (err) {
          if (!isUnavailable(err)) throw err;
          result = { status: 'retry' as const, reason: (err as Error).message };
        }
        if (result.status === 'done') {
          handled++;
          await client.messageFlagsAdd(String(uid), ['\\Seen', HANDLED_KEYWORD], { uid: true });
          if (!blocked) contiguous = uid;
        } else {
          pending++;
          blocked = true;
          if (result.status === 'retry') {
            this.deps.log.warn({ uid, reason: result.reason }, 'e-mail left for the next round');
            // The database is away: the rest would fail the same way.
            break;
          }
        }
      }
      if (contiguous > cursor) await this.deps.store.advanceCursor(key, validity, contiguous);
    } finally {
      lock.release();
    }
    return { handled, pending };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const r = await this.round();
        this.rounds++;
        this.lastOk = new Date();
        this.lastError = r.pending > 0 ? `${r.pending} message(s) waiting to be handled` : null;
        if (r.handled > 0) this.deps.log.info({ handled: r.handled, pending: r.pending }, 'mailbox read');
      } catch (err) {
        this.rounds++;
        this.lastError = (err as Error).message.slice(0, 300);
        this.deps.log.warn({ err: this.lastError }, 'mailbox round failed; retrying');
        await this.disconnect();
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.deps.settings.pollMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = null;
    }
  }

  private async connect(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    await this.disconnect();
    const { imap, timeoutMs } = this.deps.settings;
    const client = new ImapFlow({
      host: imap.host,
      port: imap.port,
      secure: imap.secure,
      auth: imap.auth,
      logger: false,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: 5 * 60_000,
    });
    // New mail announced while idling: read it now rather than at the next poll.
    client.on('exists', () => this.wake?.());
    client.on('error', (err: Error) => {
      this.lastError = err.message.slice(0, 300);
      this.deps.log.debug({ err: err.message }, 'IMAP connection error');
    });
    client.on('close', () => {
      if (this.client === client) this.client = null;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    try {
      await Promise.race([c.logout(), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // Already closed.
    }
    c.close();
  }
}
