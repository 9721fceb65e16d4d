/**
 * Configuration, read from the environment once and validated. No other module reads the
 * environment; CLIs apply their flags on top of what this returns.
 */
import { AppError } from '../core/app-error.js';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_EMBEDDED_TICKET_CEILING } from '../store/capacity.js';
import { DB_LOG_LEVELS, DEFAULT_DB_LOG_LEVEL } from '../store/embedded-server-log.js';
import { DEFAULT_ARCHIVE_AFTER_DAYS } from '../store/archive.js';
import { parseDueHours, type DueHours } from '../store/working-day.js';
import { PROJECT_ROOT } from './datasets.js';
import { parseServiceHours } from '../desk/service-hours.js';

/** The most solver threads used by default (TRAIN_THREADS): past this, memory grows for little gain. */
export const DEFAULT_MAX_TRAIN_THREADS = 4;

export const TOKENIZERS = ['node-rs-jieba', 'nodejieba'] as const;
export type TokenizerChoice = (typeof TOKENIZERS)[number];

const ConfigSchema = z.object({
  /** Model artifact used by `classify` and the bot. */
  MODEL_PATH: z.string().min(1).default(resolve(PROJECT_ROOT, 'data/models/default.model.json.gz')),
  /**
   * Pretrained word vectors (`wvec1`, built by `node scripts/install-word-vectors.mjs` into
   * vendor/word-vectors/). Unset: none loaded (the shipped model does not use them). A model
   * trained with them needs them to load; without them it is refused with a clear error.
   */
  WORD_VECTORS_PATH: z.string().min(1).optional(),
  /**
   * Threads that solve the SVMs while training (the one-vs-rest classes and calibration folds run
   * side by side; the model is the same bit for bit with any count). Default: the machine's
   * available parallelism, at most 4. 1: no extra threads.
   */
  TRAIN_THREADS: z.coerce.number().int().min(1).max(64).default(() => Math.min(availableParallelism(), DEFAULT_MAX_TRAIN_THREADS)),
  /** Chinese segmenter implementation. */
  TOKENIZER: z.enum(TOKENIZERS).default('node-rs-jieba'),
  /** Longest message accepted, in characters; longer ones are rejected with a message, never cut. */
  MAX_TEXT_LENGTH: z.coerce.number().int().min(10).max(1_000_000).default(2000),
  /** Where the project's data lives (taxonomy, corpus, dictionaries). */
  DATA_DIR: z.string().min(1).default(resolve(PROJECT_ROOT, 'data')),
  /** A MongoDB-compatible server (MongoDB 6+, FerretDB …). Unset: start the embedded FerretDB. */
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  /** Database name (when MONGODB_URI names none). */
  DB_NAME: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and -').default('demand_desk'),
  /** Data directory of the embedded server (git-ignored). */
  DB_DIR: z.string().min(1).default(resolve(PROJECT_ROOT, 'var/db')),
  /**
   * How much of the embedded database's own log reaches the server's log: `warn` (default) its
   * warnings and errors, `info` also a line per connection, `debug` every request and reply (with
   * their contents; shown only with LOG_LEVEL=debug). Errors: `error`.
   */
  DB_LOG_LEVEL: z.enum(DB_LOG_LEVELS).default(DEFAULT_DB_LOG_LEVEL),
  /** Local durable outbox for tickets written while the database is unreachable. */
  OUTBOX_PATH: z.string().min(1).default(resolve(PROJECT_ROOT, 'var/outbox/tickets.jsonl')),
  /** How long a database operation may wait for a server before the outbox takes the ticket. */
  DB_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** Tickets of history the embedded database serves within the console targets (measured by bench:scale); the server warns from 80%. */
  EMBEDDED_TICKET_CEILING: z.coerce.number().int().min(1).default(DEFAULT_EMBEDDED_TICKET_CEILING),
  /** Resolved and closed tickets untouched this many days leave the working set for the archive (`npm run archive`). */
  ARCHIVE_AFTER_DAYS: z.coerce.number().int().min(1).max(36_500).default(DEFAULT_ARCHIVE_AFTER_DAYS),
  /** Run the archive once a day in the server (true), or only by `npm run archive -- --apply` (false, the default). */
  ARCHIVE_IN_BACKGROUND: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  /** Service time zone: ticket-number dates and per-day statistics. */
  TIME_ZONE: z
    .string()
    .default('Asia/Shanghai')
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'unknown IANA time zone'),
  /** HTTP port of the bot server (Bot Framework tools expect 3978). */
  PORT: z.coerce.number().int().min(0).max(65_535).default(3978),
  /**
   * Address to listen on. Default: 127.0.0.1 in local mode (no Bot Framework credentials), 0.0.0.0
   * with credentials. A non-loopback address in local mode needs ALLOW_PUBLIC_LOCAL_MODE=true.
   */
  HOST: z.string().min(1).optional(),
  /**
   * Explicit opt-in to listen on a non-loopback HOST without Bot Framework credentials (to serve the
   * web chat and the console to other machines). `/api/messages` still takes activities only from
   * loopback peers in local mode.
   */
  ALLOW_PUBLIC_LOCAL_MODE: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  /**
   * Hosts (`host` or `host:port`, comma-separated) a local-mode activity's `serviceUrl` may name:
   * the bot posts its replies there. Default: loopback only. Ignored with credentials, where the
   * channel's signed token vouches for the serviceUrl.
   */
  LOCAL_SERVICE_URL_HOSTS: z
    .string()
    .default('127.0.0.1,localhost,[::1]')
    .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))
    .pipe(z.array(z.string().regex(/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/, 'host or host:port, comma-separated')).min(1)),
  /** How long one outgoing call to a channel (a reply) may take, in ms, before it is abandoned. */
  CHANNEL_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5000),
  /** Public base URL of this server (Direct Line serviceUrl); default http://127.0.0.1:PORT. */
  PUBLIC_BASE_URL: z.string().url().optional(),
  /** Bot Framework credentials; all empty = local mode (Bot Framework Emulator, web chat). */
  MicrosoftAppId: z.string().default(''),
  MicrosoftAppPassword: z.string().default(''),
  MicrosoftAppTenantId: z.string().default(''),
  MicrosoftAppType: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('MultiTenant'),
  /**
   * Direct Line secret for embedding sites: when set, `POST /v3/directline/tokens/generate` and
   * starting a conversation without a token need `Authorization: Bearer <secret>`, and only its
   * holder may name the user. Keep it on the embedding site's server, never in a page.
   */
  DIRECT_LINE_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  /** Conversation state and web chat conversations unused this long expire (tickets keep what staff need). */
  CONVERSATION_TTL_HOURS: z.coerce.number().min(0.01).max(24 * 365).default(24),
  /** Bytes a web chat client may post into one conversation over its life. */
  WEBCHAT_MAX_CONVERSATION_BYTES: z.coerce.number().int().min(4096).max(1024 ** 3).default(1024 * 1024),
  /** Bytes one web chat client address may post per minute (new conversations count 1 KiB). */
  WEBCHAT_CLIENT_BYTES_PER_MINUTE: z.coerce.number().int().min(4096).max(1024 ** 3).default(4 * 1024 * 1024),
  /**
   * Resident memory the server process should stay under, in MiB. From 75% of it caches of idle
   * conversations are dropped (the database keeps them); from 90% new web chat conversations are
   * refused with 503 and Retry-After until memory is back under it.
   */
  MEMORY_CEILING_MB: z.coerce.number().int().min(128).max(1024 * 1024).default(512),
  /** Messages a conversation may send per 10 seconds before the bot asks it to slow down. */
  RATE_LIMIT_PER_10S: z.coerce.number().int().min(1).max(1000).default(10),
  /** When staff answer, told to a customer who asks for a person (free text, e.g. "周一至周五 9:00-18:00"); unset: not mentioned. */
  SUPPORT_HOURS: z.string().trim().min(1).max(100).optional(),
  /**
   * When a person can take a live conversation (handover), in TIME_ZONE: e.g. "Mon-Fri 09:00-18:00"
   * or "Mon-Fri 09:00-12:00,13:30-18:00; Sat 10:00-16:00". Unset: always. Outside these hours a
   * request for a person is answered that staff are away, and the demand is kept on a ticket.
   */
  SERVICE_HOURS: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        parseServiceHours(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  /** How long a conversation waits in the live queue for an agent before the bot says nobody is free (seconds). */
  HANDOVER_WAIT_SECONDS: z.coerce.number().int().min(5).max(24 * 3600).default(180),
  /** How often each process with a console open reads other processes' live events, in ms. */
  EVENTS_POLL_MS: z.coerce.number().int().min(50).max(10_000).default(250),
  /**
   * How long a change to a read-model document (statistics, customer, ticket list and search
   * documents) waits for other changes before it is written, in ms (0: at once). Each write is
   * three round trips, and a new ticket changes a dozen such documents: batching them is what lets
   * the bot take new conversations faster. This process's reads never wait for it; other
   * processes see a change at most this much later.
   */
  READ_MODEL_BATCH_MS: z.coerce.number().int().min(0).max(5_000).default(200),
  /** How often each process checks the live queue for conversations that waited too long, in ms. */
  HANDOVER_SWEEP_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** How often each process checks the database for a newly activated model version, in ms. */
  MODEL_POLL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  /** How long a staff login session lasts, in hours. */
  SESSION_TTL_HOURS: z.coerce.number().min(0.1).max(24 * 30).default(8),
  /**
   * While the database cannot be reached, how long after the database last vouched for a staff
   * session or API token this process still accepts it (so a ticket logged by hand can go to the
   * outbox), in seconds. 0: never without the database.
   */
  STAFF_OFFLINE_AUTH_SECONDS: z.coerce.number().int().min(0).max(3600).default(300),
  /** Staff API requests per user per minute before 429. */
  API_RATE_PER_MINUTE: z.coerce.number().int().min(10).max(100_000).default(600),
  /** Count database round trips by collection and command; printed to stderr at shutdown (profiling, `bench:bot --db-stats`). */
  DB_COMMAND_STATS: z.enum(['true', 'false', '1', '0']).default('false').transform((v) => v === 'true' || v === '1'),
  /**
   * Hours from filing until a ticket is due, per priority (`urgent=4,high=8,normal=24,low=72`);
   * priorities left out keep these defaults. Open tickets past their due time show as overdue.
   */
  DUE_HOURS: z
    .string()
    .default('')
    .transform((v, ctx): DueHours => {
      try {
        return parseDueHours(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /**
   * E-mail channel (channels/email/): the mailbox read over IMAP, `imaps://user:password@host:993`
   * (or `imap://…:143`, STARTTLS when offered). Unset: the e-mail channel is off.
   */
  EMAIL_IMAP_URL: z.string().regex(/^imaps?:\/\/[^/@\s]+@[^/\s]+/i, 'imaps://user:password@host:port (or imap://); URL-encode @ and : in the user or password, or use EMAIL_IMAP_PASSWORD').optional(),
  /** IMAP password, when it should not sit in EMAIL_IMAP_URL (overrides the URL's). */
  EMAIL_IMAP_PASSWORD: z.string().min(1).optional(),
  /** The folder read for customer mail. */
  EMAIL_MAILBOX: z.string().min(1).max(200).default('INBOX'),
  /** Replies are sent here: `smtps://user:password@host:465` or `smtp://…:587` (STARTTLS when offered). */
  EMAIL_SMTP_URL: z.string().regex(/^smtps?:\/\/[^/\s]+/i, 'smtps://user:password@host:port (or smtp://)').optional(),
  /** SMTP password, when it should not sit in EMAIL_SMTP_URL (overrides the URL's). */
  EMAIL_SMTP_PASSWORD: z.string().min(1).optional(),
  /** The desk's sender: `service@example.com` or `客服中心 <service@example.com>`. */
  EMAIL_FROM: z.string().regex(/^(?:[^<>]{0,100}<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+)$/, 'an address, or "Name <address>"').optional(),
  /** Seconds between mailbox checks (IMAP IDLE also wakes the reader as soon as mail arrives). */
  EMAIL_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  /** Largest attachment kept in the database, in bytes; larger ones are listed with a note and stay in the mailbox. */
  EMAIL_ATTACHMENT_MAX_BYTES: z.coerce.number().int().min(1024).max(15 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Largest message downloaded whole, in bytes; larger ones are filed from their headers with a note. */
  EMAIL_MAX_MESSAGE_BYTES: z.coerce.number().int().min(16 * 1024).max(200 * 1024 * 1024).default(25 * 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * WeChat Official Account (公众号) channel: the Token set in the account's server configuration.
   * Unset: the channel is off. Set: WECHAT_APP_ID and WECHAT_APP_SECRET are required.
   */
  WECHAT_TOKEN: z.string().regex(/^[A-Za-z0-9]{3,32}$/, 'WeChat tokens are 3 to 32 letters or digits').optional(),
  /** The Official Account's AppID (wx…), checked against the app id inside every encrypted push. */
  WECHAT_APP_ID: z.string().regex(/^[A-Za-z0-9_-]{4,64}$/, 'an app id such as wx1234567890abcdef').optional(),
  /** The Official Account's AppSecret, for the access token of the customer-service message API. */
  WECHAT_APP_SECRET: z.string().min(8).max(128).optional(),
  /** EncodingAESKey (43 characters) for safe mode (encrypt_type=aes); unset: plaintext pushes only. */
  WECHAT_ENCODING_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, 'exactly 43 letters or digits, as the Official Account shows it').optional(),
  /** WeChat's API base (a local stand-in in tests). */
  WECHAT_API_BASE: z.string().url().default('https://api.weixin.qq.com'),
  /** Pushes one WeChat user (openid) may send per minute; more get a polite "slow down" and are not processed. */
  WECHAT_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  /**
   * How long a WeChat push may wait for the bot before the answer goes out later through the
   * customer-service API, in ms, counted from the request's arrival. WeChat waits 5 s; the margin
   * covers a busy event loop (measured by bench:wechat: at 4000 ms some answers took 4.9 s on a loaded machine).
   */
  WECHAT_PASSIVE_REPLY_MS: z.coerce.number().int().min(100).max(4800).default(3000),
  /**
   * WeCom customer service (企业微信 · 微信客服) channel: the corp id (ww…), also the receiveid inside
   * every encrypted callback. Unset: the channel is off. Set: WECOM_SECRET, WECOM_TOKEN and
   * WECOM_ENCODING_AES_KEY are required.
   */
  WECOM_CORP_ID: z.string().regex(/^[A-Za-z0-9_-]{4,64}$/, 'a corp id such as ww1234567890abcdef').optional(),
  /** The customer-service ("微信客服") Secret, for the access token of sync_msg, send_msg and media/get. */
  WECOM_SECRET: z.string().min(8).max(128).optional(),
  /** The Token set with the callback URL in the customer-service API settings. */
  WECOM_TOKEN: z.string().regex(/^[A-Za-z0-9]{3,32}$/, 'WeCom tokens are 3 to 32 letters or digits').optional(),
  /** The EncodingAESKey set with the callback URL (43 characters); WeCom callbacks are always encrypted. */
  WECOM_ENCODING_AES_KEY: z.string().regex(/^[A-Za-z0-9]{43}$/, 'exactly 43 letters or digits, as the admin console shows it').optional(),
  /** WeCom's API base (a local stand-in in tests). */
  WECOM_API_BASE: z.string().url().default('https://qyapi.weixin.qq.com'),
  /** Messages one WeCom customer (external_userid) may send per minute; more get a polite "slow down" and are not processed. */
  WECOM_RATE_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(30),
  /**
   * Seconds between the safety-net syncs of each known WeCom account while the server runs (0: off).
   * A callback WeCom gives up on would otherwise be made good only by the account's next callback or
   * the next start; the delivery log and the cursor keep a message from being filed twice.
   */
  WECOM_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
});

/** The validated configuration; `HOST` is always resolved. */
export type Config = Omit<z.infer<typeof ConfigSchema>, 'HOST'> & { HOST: string };

/** Whether an address (as given to listen, or a peer's) is a loopback address. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A configuration variable is missing or invalid; the message names it. */
export class ConfigError extends AppError {
  readonly code = 'CONFIG_INVALID';
}

/** Validates the environment; the error names each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const picked = Object.fromEntries(Object.keys(ConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const result = ConfigSchema.superRefine((c, ctx) => {
    if (c.MicrosoftAppId && c.MicrosoftAppType !== 'UserAssignedMSI' && !c.MicrosoftAppPassword) {
      ctx.addIssue({ code: 'custom', path: ['MicrosoftAppPassword'], message: 'required when MicrosoftAppId is set' });
    }
    // The WeChat channel is on with its token; then it needs the account's id and secret to answer later.
    if (c.WECHAT_TOKEN) {
      for (const k of ['WECHAT_APP_ID', 'WECHAT_APP_SECRET'] as const) {
        if (!c[k]) ctx.addIssue({ code: 'custom', path: [k], message: 'required when WECHAT_TOKEN is set (the WeChat channel is on)' });
      }
    } else {
      for (const k of ['WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'WECHAT_ENCODING_AES_KEY'] as const) {
        if (c[k]) ctx.addIssue({ code: 'custom', path: ['WECHAT_TOKEN'], message: `required when ${k} is set (the WeChat channel is off without it)` });
      }
    }
    // The WeCom channel is on with its corp id; a partial configuration is a mistake, not "off".
    const wecom = { WECOM_CORP_ID: c.WECOM_CORP_ID, WECOM_SECRET: c.WECOM_SECRET, WECOM_TOKEN: c.WECOM_TOKEN, WECOM_ENCODING_AES_KEY: c.WECOM_ENCODING_AES_KEY };
    const wecomSet = Object.entries(wecom).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (wecomSet.length > 0 && wecomSet.length < 4) {
      for (const [k, v] of Object.entries(wecom)) {
        if (v === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `required for the WeCom channel (${wecomSet.join(', ')} ${wecomSet.length === 1 ? 'is' : 'are'} set)` });
      }
    }
    // Local mode trusts whoever posts an activity: keep it on this machine unless the operator says otherwise.
    if (!c.MicrosoftAppId && c.HOST !== undefined && !isLoopbackAddress(c.HOST) && !c.ALLOW_PUBLIC_LOCAL_MODE) {
      ctx.addIssue({
        code: 'custom',
        path: ['HOST'],
        message: `${c.HOST} is not a loopback address and no Bot Framework credentials are set (local mode); set MicrosoftAppId and MicrosoftAppPassword, or ALLOW_PUBLIC_LOCAL_MODE=true to serve the web chat and console to other machines`,
      });
    }
    // The e-mail channel needs all three of its settings; a partial one is a mistake, not "off".
    const mail = { EMAIL_IMAP_URL: c.EMAIL_IMAP_URL, EMAIL_SMTP_URL: c.EMAIL_SMTP_URL, EMAIL_FROM: c.EMAIL_FROM };
    const given = Object.entries(mail).filter(([, v]) => v !== undefined).map(([k]) => k);
    const extra = (['EMAIL_IMAP_PASSWORD', 'EMAIL_SMTP_PASSWORD'] as const).filter((k) => c[k] !== undefined);
    if (given.length + extra.length > 0 && given.length < 3) {
      for (const [k, v] of Object.entries(mail)) {
        if (v === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `required for the e-mail channel (${[...given, ...extra].join(', ')} ${given.length + extra.length === 1 ? 'is' : 'are'} set)` });
      }
    }
  }).safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const c = result.data;
  return { ...c, HOST: c.HOST ?? (c.MicrosoftAppId ? '0.0.0.0' : '127.0.0.1') };
}
