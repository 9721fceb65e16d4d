/**
 * Turning the embedded database's own output into the server's log: one record per database
 * message, at the database's level, marked as the database's. FerretDB runs with
 * `--log-format=json` (one JSON object a line, multi-line bodies escaped) so a message never spans
 * lines; mongod writes JSON lines by itself. Anything else (a Go panic's trace, a shell script
 * standing in for the server) is kept as plain text at `warn`: output outside the log format is
 * how a dying process explains itself.
 *
 * Pure: no I/O, no configuration (the caller passes the level).
 */

/** How much of the embedded database's own log reaches the server's log (`DB_LOG_LEVEL`). */
export const DB_LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type DbLogLevel = (typeof DB_LOG_LEVELS)[number];

/** The default: only what needs an operator's eye. FerretDB's `info` is a line per connection. */
export const DEFAULT_DB_LOG_LEVEL: DbLogLevel = 'warn';

/** One message of the database, ready for the server's log. */
export interface DatabaseLogRecord {
  level: DbLogLevel;
  /** One line: the message, its error if any; no newlines. */
  text: string;
  /** The database's own level as it wrote it (`WARN`, `ERROR+3`, `E` …), or `text` for plain output. */
  dbLevel: string;
  /** The message's other attributes (connection, source file …), for the JSON log. */
  attrs: Record<string, unknown>;
}

const RANK: Record<DbLogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Whether a record at `level` reaches the log when `DB_LOG_LEVEL` is `threshold`. */
export function shownAt(level: DbLogLevel, threshold: DbLogLevel): boolean {
  return RANK[level] <= RANK[threshold];
}

/** FerretDB's `--log-level` for a threshold (it drops the rest before writing them). */
export function ferretdbLogLevelFlag(threshold: DbLogLevel): string {
  return threshold.toUpperCase();
}

/** Collapses a multi-line message (FerretDB's indented reply dumps) to one line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** slog's level names (`DEBUG-4`, `ERROR+3` …) and mongod's severities (`F`, `E`, `W`, `I`, `D1`…). */
function levelOf(raw: string): DbLogLevel {
  if (/^(ERROR|FATAL|PANIC|F$|E$)/i.test(raw)) return 'error';
  if (/^(WARN|W$)/i.test(raw)) return 'warn';
  if (/^(INFO|I$)/i.test(raw)) return 'info';
  return 'debug';
}

/**
 * A reply FerretDB logs at `warn` because it carries an error for the client, condensed to its
 * code and message ("NamespaceNotFound (26): ns does not exist: demand_desk.audit").
 */
function condenseErrorReply(msg: string): string | undefined {
  if (!msg.startsWith('Response message:')) return undefined;
  const codeName = /"codeName":\s*"([^"]*)"/.exec(msg)?.[1];
  const code = /"code":\s*(-?\d+)/.exec(msg)?.[1];
  const errmsg = /"errmsg":\s*"((?:[^"\\]|\\.)*)"/.exec(msg)?.[1];
  if (errmsg === undefined) return undefined;
  return `error reply to a client: ${codeName ?? 'error'}${code ? ` (${code})` : ''}: ${errmsg}`;
}

/**
 * Warnings FerretDB 1.24 writes on this product's normal path, logged one level lower so the
 * default log shows none of them (each with why it is routine).
 */
function routineLevel(msg: string, attrs: Record<string, unknown>, level: DbLogLevel): DbLogLevel {
  if (level !== 'warn') return level;
  // The header (length, request ids) of an error reply whose body is the next record.
  if (msg.startsWith('Response header:')) return 'debug';
  // The driver ends its sessions when a client closes; FerretDB 1.24 has no endSessions and the
  // driver ignores the reply.
  if (msg.startsWith('Response message:') && /no such command: 'endSessions'/.test(msg)) return 'debug';
  // A client that resets its connection between two messages (nothing of the next header read)
  // loses nothing: the driver closes pooled connections that way. A reset mid-message stays a warning.
  if (msg === 'Connection stopped' && /expected 16, read 0: .*connection reset by peer/.test(String(attrs.error ?? ''))) return 'info';
  // The start-up probe (a TCP connect, then close) and clients closing an idle connection. FerretDB
  // writes the error into the message itself (conn.go: "Failed to set deadline: %s").
  if (msg.startsWith('Failed to set deadline') && /use of closed network connection/.test(`${msg} ${String(attrs.error ?? '')}`)) return 'info';
  return level;
}

/** A FerretDB JSON record (`--log-format=json`), or undefined when the line is not one. */
function fromFerretdb(line: string): DatabaseLogRecord | undefined {
  const parsed = parseObject(line);
  if (parsed === undefined || typeof parsed.level !== 'string' || typeof parsed.msg !== 'string') return undefined;
  const { time: _time, level: dbLevel, msg, source, ...attrs } = parsed;
  const level = routineLevel(msg, attrs, levelOf(dbLevel));
  const error = typeof attrs.error === 'string' ? `: ${oneLine(attrs.error)}` : '';
  const where = sourceOf(source);
  return {
    level,
    dbLevel,
    text: `${condenseErrorReply(msg) ?? oneLine(msg)}${error}`,
    attrs: where ? { ...attrs, source: where } : attrs,
  };
}

/** mongod's structured log line (`{"t":…,"s":"W","c":"NETWORK","msg":…,"attr":{…}}`). */
function fromMongod(line: string): DatabaseLogRecord | undefined {
  const parsed = parseObject(line);
  if (parsed === undefined || typeof parsed.s !== 'string' || typeof parsed.msg !== 'string') return undefined;
  const attr = typeof parsed.attr === 'object' && parsed.attr !== null ? (parsed.attr as Record<string, unknown>) : {};
  const error = attr.error === undefined ? '' : `: ${oneLine(typeof attr.error === 'string' ? attr.error : JSON.stringify(attr.error))}`;
  return {
    level: levelOf(parsed.s),
    dbLevel: parsed.s,
    text: `${oneLine(parsed.msg)}${error}`,
    attrs: { ...(typeof parsed.c === 'string' ? { component: parsed.c } : {}), ...attr },
  };
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** slog's `source` ({function, file, line}) as `file:line`. */
function sourceOf(source: unknown): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const { file, line } = source as { file?: unknown; line?: unknown };
  return typeof file === 'string' ? `${file}${typeof line === 'number' ? `:${line}` : ''}` : undefined;
}

/** One line of the database's output as a log record (plain text at `warn` when it is not a log record). */
export function parseDatabaseLogLine(kind: 'ferretdb' | 'mongod', line: string): DatabaseLogRecord {
  const record = kind === 'ferretdb' ? fromFerretdb(line) : fromMongod(line);
  return record ?? { level: 'warn', dbLevel: 'text', text: line, attrs: {} };
}
