/**
 * Local mail peers for the e-mail channel's tests: Debian's dovecot as the IMAP server (started from
 * a temporary configuration on a free port, one passwd-file user, stopped by the test) and
 * smtp-server (by nodemailer's author) as the receiving SMTP server that collects what the desk
 * sends. `.ci/run` installs dovecot (`dovecot-imapd`) when it is missing.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../scripts/server-process.js';

export const DOVECOT = '/usr/sbin/dovecot';

/** Why the IMAP tests cannot run here, or null when they can. */
export function dovecotMissing(): string | null {
  if (!existsSync(DOVECOT)) return `dovecot is not installed (${DOVECOT} missing): apt-get install -y dovecot-imapd, as .ci/run does`;
  return null;
}

function idOf(name: string, flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, name]).toString().trim());
}

export interface Dovecot {
  port: number;
  user: string;
  password: string;
  /** imap://user:password@127.0.0.1:port */
  url: string;
  /** Appends a raw message to a mailbox (as a mail server's delivery would). */
  append(raw: string | Buffer, mailbox?: string): Promise<number | undefined>;
  /** Flags of every message in the mailbox, by UID. */
  flags(mailbox?: string): Promise<Map<number, Set<string>>>;
  stop(): Promise<void>;
}

/** How startDovecot picks its ports (its own test makes the first one taken). */
export interface DovecotOptions {
  /** A port for each attempt (default: one free a moment ago, freePort). */
  pickPort?: () => Promise<number>;
  /** Attempts before giving up when the port is taken each time (default 3). */
  attempts?: number;
}

/** Dovecot could not bind its port: something else listens there. */
class PortTakenError extends Error {}

/**
 * Starts dovecot on a free loopback port with one user (`desk`), mail in a temporary maildir.
 * Dovecot cannot bind port 0 and say which port it got (port 0 turns its listener off), so the port
 * is picked here; it is free when chosen but may be taken before dovecot binds it (test files run in
 * parallel and every outgoing connection takes a port from the same range): then dovecot exits, and
 * it starts again on another. What answers on the port counts only when it is this dovecot (its
 * greeting carries a word of its own): another test's dovecot there has the same user and password.
 */
export async function startDovecot(opts: DovecotOptions = {}): Promise<Dovecot> {
  const pickPort = opts.pickPort ?? freePort;
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDovecotOn(await pickPort());
    } catch (err) {
      if (attempt >= attempts || !(err instanceof PortTakenError)) throw err;
    }
  }
}

async function startDovecotOn(port: number): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), 'dovecot-'));
  const greeting = `desk-test-dovecot-${randomBytes(6).toString('hex')}`;
  // dovecot's own users must reach the mail and the sockets below it.
  chmodSync(dir, 0o755);
  const user = 'desk';
  const password = 'desk-imap-secret';
  // The mail processes run as dovecot's own user (dovecot refuses root for them).
  const uid = idOf('dovecot', '-u');
  const gid = idOf('dovecot', '-g');
  const home = join(dir, 'mail', user);
  mkdirSync(home, { recursive: true });
  chownSync(join(dir, 'mail'), uid, gid);
  chownSync(home, uid, gid);
  writeFileSync(join(dir, 'passwd'), `${user}:{PLAIN}${password}:${uid}:${gid}::${home}\n`);
  writeFileSync(
    join(dir, 'dovecot.conf'),
    `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = imap
login_greeting = ${greeting}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n ${dir}/passwd
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`,
  );
  const child: ChildProcess = spawn(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': its last words on stderr (a bind error) have been read by then.
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const url = `imap://${user}:${password}@127.0.0.1:${port}`;
  const client = () => new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: password }, logger: false });
  const failed = async (why: string): Promise<never> => {
    child.kill('SIGTERM');
    await exited;
    const log = existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8').slice(-800) : '';
    rmSync(dir, { recursive: true, force: true });
    const output = `${stderr.slice(-500)} ${log}`;
    if (/address already in use/i.test(output)) throw new PortTakenError(`dovecot could not bind port ${port}: ${output}`);
    throw new Error(`dovecot did not start: ${why}; ${output}`);
  };
  // Wait until it logs in (a loaded machine may take a while to start it), and is this dovecot.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) await failed(`it exited (${child.signalCode ?? `code ${child.exitCode}`})`);
    // A listener that never answers holds the probe until its greeting timeout; dovecot exiting ends it sooner.
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: password }, logger: false, greetingTimeout: 5_000 });
    const answered = await Promise.race([greetingOf(c), exited.then(() => 'nothing: dovecot exited')]);
    c.close();
    if (answered.includes(greeting)) break;
    if (Date.now() > deadline) await failed(`port ${port} answered "${answered}" (not this dovecot) for 60 s`);
    // Not up yet, or something else holds the port (then this dovecot exits: see the top of the loop).
    await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  return {
    port,
    user,
    password,
    url,
    async append(raw, mailbox = 'INBOX') {
      const c = client();
      await c.connect();
      try {
        const r = await c.append(mailbox, raw);
        return r && typeof r === 'object' ? r.uid : undefined;
      } finally {
        await c.logout();
      }
    },
    async flags(mailbox = 'INBOX') {
      const c = client();
      await c.connect();
      const out = new Map<number, Set<string>>();
      try {
        const lock = await c.getMailboxLock(mailbox);
        try {
          if ((c.mailbox && c.mailbox.exists) || 0) {
            for await (const m of c.fetch('1:*', { uid: true, flags: true })) out.set(m.uid, new Set(m.flags ?? []));
          }
        } finally {
          lock.release();
        }
      } finally {
        await c.logout();
      }
      return out;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A message the SMTP peer received. */
export interface ReceivedMail {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpPeer {
  port: number;
  /** smtp://user:password@127.0.0.1:port */
  url: string;
  received: ReceivedMail[];
  /** Refuse recipients while set (the reason is the server's reply). */
  refuse: string | null;
  stop(): Promise<void>;
}

/** The greeting of the IMAP server `c` reaches once it has logged in, or why it could not. */
async function greetingOf(c: ImapFlow): Promise<string> {
  // A probe closed half-way may also emit 'error'; what went wrong is connect()'s rejection, below.
  c.on('error', () => undefined);
  try {
    await c.connect();
    const greeting = c.greeting ?? '';
    await c.logout();
    return greeting;
  } catch (err) {
    return `no login: ${(err as Error).message}`;
  }
}

/** A receiving SMTP server on a free loopback port that keeps what it accepts (login required). */
export async function startSmtpPeer(): Promise<SmtpPeer> {
  const received: ReceivedMail[] = [];
  const peer: SmtpPeer = { port: 0, url: '', received, refuse: null, stop: async () => {} };
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    logger: false,
    size: 50 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      if (auth.username === 'desk' && auth.password === 'smtp-secret') return cb(null, { user: 'desk' });
      return cb(new Error('invalid login'));
    },
    onRcptTo(address, _session, cb) {
      if (peer.refuse) {
        const err = new Error(peer.refuse) as Error & { responseCode?: number };
        err.responseCode = 550;
        return cb(err);
      }
      cb();
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            received.push({ envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw, parsed });
            cb();
          })
          .catch((err: Error) => cb(err));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.server.address() as AddressInfo).port;
  peer.url = `smtp://desk:smtp-secret@127.0.0.1:${peer.port}`;
  peer.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return peer;
}
