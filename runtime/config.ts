/**
 * Configuration, read from the environment once and validated. No other module reads the
 * environment; CLIs apply their flags on top of what this returns.
 */
import { AppError } from '../core/app-error.js';
import { resolve } from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from './datasets.js';

export const TOKENIZERS = ['node-rs-jieba', 'nodejieba'] as const;
export type TokenizerChoice = (typeof TOKENIZERS)[number];

const ConfigSchema = z.object({
  /** Model artifact used by `classify` and the bot. */
  MODEL_PATH: z.string().min(1).default(resolve(PROJECT_ROOT, 'data/models/default.model.json.gz')),
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
  /** Local durable outbox for tickets written while the database is unreachable. */
  OUTBOX_PATH: z.string().min(1).default(resolve(PROJECT_ROOT, 'var/outbox/tickets.jsonl')),
  /** How long a database operation may wait for a server before the outbox takes the ticket. */
  DB_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
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
  /** Address to listen on. */
  HOST: z.string().default('0.0.0.0'),
  /** Public base URL of this server (Direct Line serviceUrl); default http://127.0.0.1:PORT. */
  PUBLIC_BASE_URL: z.string().url().optional(),
  /** Bot Framework credentials; all empty = local mode (Bot Framework Emulator, web chat). */
  MicrosoftAppId: z.string().default(''),
  MicrosoftAppPassword: z.string().default(''),
  MicrosoftAppTenantId: z.string().default(''),
  MicrosoftAppType: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('MultiTenant'),
  /** Messages a conversation may send per 10 seconds before the bot asks it to slow down. */
  RATE_LIMIT_PER_10S: z.coerce.number().int().min(1).max(1000).default(10),
  /** How often each process checks the database for a newly activated model version, in ms. */
  MODEL_POLL_MS: z.coerce.number().int().min(100).max(3_600_000).default(5000),
  /** How long a staff login session lasts, in hours. */
  SESSION_TTL_HOURS: z.coerce.number().min(0.1).max(24 * 30).default(8),
  /** Staff API requests per user per minute before 429. */
  API_RATE_PER_MINUTE: z.coerce.number().int().min(10).max(100_000).default(600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema>;

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
  }).safeParse(picked);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return result.data;
}
