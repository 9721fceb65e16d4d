/**
 * HTTP plumbing of the Direct Line endpoints: credentials from headers, JSON bodies read with a size
 * limit before anything is stored, zod validation answered as 400 naming the field, and errors
 * answered in Direct Line's shape (internals hidden on 5xx).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Request, Response } from 'restify';
import type { z } from 'zod';
import { BadRequestError, DirectLineError, ServiceBusyError, StorageUnavailableError, TooManyRequestsError, UnauthorizedError } from './errors.js';
import { isUnavailable } from '../../store/ticket-repository.js';
import { findPrototypeKey } from '../../store/validation.js';

/** Minimal logger shape (pino's fits). */
export interface DirectLineLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

/** The bearer credential of a request, if any (401 when the header is not `Bearer <x>`). */
export function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"');
  return match[1];
}

/** A route parameter (400 when missing). */
export function param(req: Request, name: string): string {
  const value: unknown = (req.params as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || value === '') throw new BadRequestError('BadArgument', `missing ${name}`);
  return value;
}

/** The request's query string. */
export function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

/** The first value of a possibly repeated, possibly comma-separated header. */
export function firstHeader(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

/** Marks a response as not cacheable (it carries a token). */
export function noStore(res: Response): void {
  res.header('Cache-Control', 'no-store');
}

/** An error's message for the log. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `watermark` query parameter as a sequence number (0 when absent; 400 when malformed). */
export function parseWatermark(raw: string | null): number {
  if (raw === null || raw === '') return 0;
  if (!/^\d{1,15}$/.test(raw)) throw new BadRequestError('BadArgument', 'watermark must be a non-negative integer');
  return Number(raw);
}

/** Validates with zod; the 400 names the first offending field (`from.id: …`). */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  // Keys such as __proto__ never become object keys downstream (the bot, the stored log).
  const forbidden = findPrototypeKey(value, 'body');
  if (forbidden) throw new BadRequestError('BadArgument', `${forbidden}: key not allowed`);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new BadRequestError('BadArgument', `${where}: ${issue?.message ?? 'invalid'}`);
}

/** Wraps a handler so that every error is answered, typed ones with their status. */
export function route(log: DirectLineLog, handler: (req: Request, res: Response) => Promise<void>) {
  return async (req: Request, res: Response): Promise<void> => {
    try {
      await handler(req, res);
    } catch (err) {
      sendError(res, err, log);
    }
  };
}

/**
 * Answers an error in Direct Line's shape: the database being unreachable is a 503 with
 * `Retry-After` (nothing was stored; the client may send again), other untyped errors a logged 500
 * without details.
 */
export function sendError(res: Response, err: unknown, log: DirectLineLog): void {
  const e = err instanceof DirectLineError ? err : isUnavailable(err) ? new StorageUnavailableError() : new DirectLineError(500, 'ServiceError', 'internal error');
  if (!(err instanceof DirectLineError)) log.warn({ err: errorText(err) }, 'direct line: request failed');
  if (res.headersSent) return;
  // The rest of an oversized body is not read: close the connection after the answer.
  if (e.code === 'MessageSizeTooBig') res.header('Connection', 'close');
  if ((e instanceof TooManyRequestsError || e instanceof ServiceBusyError || e instanceof StorageUnavailableError) && e.retryAfterSeconds !== undefined) res.header('Retry-After', String(e.retryAfterSeconds));
  res.send(e.status, { error: { code: e.code, message: e.message } });
}

/** Answers a WebSocket upgrade with an HTTP error and closes the socket. */
export function rejectUpgrade(socket: Duplex, err: DirectLineError): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message } });
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

const tooLarge = (limit: number) => new BadRequestError('MessageSizeTooBig', `the body is larger than ${limit} bytes`);

/**
 * The request's JSON body and its size in bytes: the one a body parser already produced (its size
 * checked), or read here with a size limit. Too large, malformed JSON, a non-object or (unless
 * `optional`) an empty body is a 400 (`MessageSizeTooBig`, `BadSyntax`, `BadArgument`,
 * `MissingProperty`).
 */
export async function readJsonBody(req: Request, limit: number, optional: boolean): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);

  const pre = req as Request & { rawBody?: unknown; body?: unknown };
  let text: string | undefined;
  let parsed: unknown;
  if (typeof pre.rawBody === 'string' || Buffer.isBuffer(pre.rawBody)) {
    text = pre.rawBody.toString();
    if (isRecord(pre.body) || Array.isArray(pre.body)) parsed = pre.body;
  } else if (pre.body !== undefined) {
    if (typeof pre.body === 'string' || Buffer.isBuffer(pre.body)) text = pre.body.toString();
    else {
      parsed = pre.body;
      text = JSON.stringify(pre.body);
    }
  } else if (!req.readableEnded) {
    text = await readStream(req, limit);
  } else {
    text = '';
  }
  const bytes = Buffer.byteLength(text ?? '');
  if (bytes > limit) throw tooLarge(limit);
  if (parsed === undefined) {
    if (!text || text.trim() === '') {
      if (optional) return { body: {}, bytes: 0 };
      throw new BadRequestError('MissingProperty', 'the body must be a JSON object');
    }
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BadRequestError('BadSyntax', 'the body is not valid JSON');
    }
  }
  if (!isRecord(parsed)) throw new BadRequestError('BadArgument', 'the body must be a JSON object');
  return { body: parsed, bytes };
}

function readStream(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume(); // discard the rest; the 400 closes the connection
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
