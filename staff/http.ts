/**
 * The staff API's HTTP layer, used by every route: one declaration per route (method, path, role,
 * zod schemas of params, query and body) gives the restify handler, the authentication and role
 * check, validation with 400s that name the field, the mapping of typed errors to status codes, a
 * per-user rate limit, and the route's entry in the OpenAPI document.
 */
import type restify from 'restify';
import { z } from 'zod';
import { InputTooLongError, InvalidInputError, ModelCompatibilityError, ModelFormatError, TrainingError } from '../classifier/errors.js';
import { AppError } from '../core/app-error.js';
import { ConflictError, DatabaseUnavailableError, isUnavailable, NotFoundError, ValidationError } from '../store/errors.js';
import { ROLES, type Role } from '../store/schemas.js';
import { findPrototypeKey } from '../store/validation.js';
import { TrainingInProgressError } from '../trainer/errors.js';
import { ReplyNotSentError } from '../desk/tickets.js';

export { ROLES, type Role };
const ROLE_RANK: Record<Role, number> = { agent: 1, trainer: 2, admin: 3 };

/** Whether a user with `role` may use a route that needs `needed` (trainer ⊃ agent, admin ⊃ trainer). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/** Who is calling: a logged-in user (session token) or an integration (API token). */
export interface Principal {
  username: string;
  role: Role;
  via: 'session' | 'token';
  /** Id of the session or API token (for logout and audit). */
  tokenId: string;
  /**
   * True when the database could not be reached and the token was accepted from this process's
   * memory of its recent verification (staff/verified-sessions.ts); absent when the database vouched for it now.
   */
  remembered?: boolean;
}

/** An error with an HTTP status, for cases no typed domain error covers. */
export class HttpError extends AppError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ApiContext<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  /** The caller; null only on public routes (`role: null`). */
  principal: Principal | null;
  params: P;
  query: Q;
  body: B;
  req: restify.Request;
  /** Client address (for login throttling and the audit log). */
  ip: string;
}

export interface ApiResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** A file instead of JSON (exports): sent as is with its content type. */
  raw?: { contentType: string; data: Buffer };
  /**
   * The handler writes the response itself (a Server-Sent Events stream): the router sends nothing.
   * Called after authentication and validation, like any handler.
   */
  stream?: (res: restify.Response) => void;
}

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ApiRoute<PS extends z.ZodType = z.ZodType, QS extends z.ZodType = z.ZodType, BS extends z.ZodType = z.ZodType> {
  method: HttpMethod;
  /** OpenAPI-style path: `/api/tickets/{number}`. */
  path: string;
  summary: string;
  /** OpenAPI tag: tickets, stats, customers, auth, users, models, keywords … */
  tag: string;
  /** Least role that may call it; null = public (login). */
  role: Role | null;
  params?: PS;
  query?: QS;
  body?: BS;
  /** Status → description, for the OpenAPI document (errors are added automatically). */
  responses?: Record<number, string>;
  handler: (ctx: ApiContext<z.output<PS>, z.output<QS>, z.output<BS>>) => Promise<ApiResult>;
}

/** Resolves the bearer token of a request to a principal (null when missing, unknown or expired). */
export type Authenticate = (token: string) => Promise<Principal | null>;

export interface RouterOptions {
  authenticate: Authenticate;
  /** Requests per user per minute before 429 (default 600). */
  ratePerMinute?: number;
  log?: { error: (obj: object, msg: string) => void };
}

/**
 * The one mapping of typed errors (store, classifier, trainer, desk) to HTTP statuses, by class:
 * the first entry the error is an instance of wins. Any other error is a 500 without details.
 */
const STATUS_OF_CLASS: readonly (readonly [abstract new (...args: never[]) => AppError, number])[] = [
  [HttpError, 0],
  [ValidationError, 400],
  [InvalidInputError, 400],
  [InputTooLongError, 400],
  [NotFoundError, 404],
  [ConflictError, 409],
  [TrainingInProgressError, 409],
  [ModelFormatError, 422],
  [ModelCompatibilityError, 422],
  [TrainingError, 422],
  [DatabaseUnavailableError, 503],
  [ReplyNotSentError, 503],
];

/** The HTTP status of a typed error, or null for errors the API does not expose (→ 500). */
export function statusOf(err: unknown): number | null {
  if (err instanceof HttpError) return err.status;
  for (const [cls, status] of STATUS_OF_CLASS) if (err instanceof cls) return status;
  return null;
}

function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * Seconds a client should wait before trying again after a 503 (the `Retry-After` header): the
 * supervised embedded database restarts within seconds, and the driver's reconnect follows it.
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** The code and message of a request that failed because the database could not be reached. */
const UNREACHABLE = { code: 'DATABASE_UNAVAILABLE', message: 'the database cannot be reached right now; try again shortly' } as const;

/**
 * The 503 of a request that needs the database now although the caller could be authenticated
 * without it (a token remembered while it is unreachable: staff/verified-sessions.ts).
 */
export function databaseUnreachable(): HttpError {
  return new HttpError(503, UNREACHABLE.code, UNREACHABLE.message);
}

/**
 * Turns any thrown error into a status and a JSON body; unknown errors are 500 without details.
 * A driver error meaning "the database is not reachable" ({@link isUnavailable}) is a 503
 * `DATABASE_UNAVAILABLE`: the request was fine and may simply be sent again, which a generic 500
 * would not tell the console or an integration.
 */
export function toHttpError(err: unknown): { status: number; body: unknown } {
  if (err instanceof HttpError) return { status: err.status, body: errorBody(err.code, err.message, err.details) };
  const status = statusOf(err);
  if (status !== null && err instanceof AppError) {
    return { status, body: errorBody(err.code, err.message, err instanceof ValidationError ? fieldsOf(err) : undefined) };
  }
  if (isUnavailable(err)) return { status: 503, body: errorBody(UNREACHABLE.code, UNREACHABLE.message) };
  return { status: 500, body: errorBody('INTERNAL', 'internal error') };
}

/**
 * A desk or store validation error's issues in the API's one shape, `[{field, message}]`, as the
 * request validation below gives them: they were `[{path, …}]`, so a client (and the console's
 * `badField`) reading `details[].field` found nothing on a 400 for an unknown assignee or topic.
 */
function fieldsOf(err: ValidationError): { field: string; message: string }[] {
  return err.issues.map((i) => ({ field: i.path, message: i.message }));
}

/** Validates one part of a request; the 400 names each bad field as `where.field`. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: 'params' | 'query' | 'body'): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ field: [where, ...i.path.map(String)].join('.'), message: i.message }));
  throw new HttpError(400, 'VALIDATION_FAILED', `invalid ${where}: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, issues);
}

/** The bearer token of a request (Authorization: Bearer …), or null. */
export function bearerToken(req: restify.Request): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]{16,200})$/.exec(h.trim());
  return m ? m[1] : null;
}

export function clientIp(req: restify.Request): string {
  return req.socket?.remoteAddress ?? 'unknown';
}

export class ApiRouter {
  private readonly routes: ApiRoute[] = [];
  private readonly hits = new Map<string, { windowStart: number; count: number }>();

  constructor(
    private readonly server: restify.Server,
    private readonly opts: RouterOptions,
  ) {}

  /** Registers a route on the server and in the OpenAPI document. */
  add<PS extends z.ZodType, QS extends z.ZodType, BS extends z.ZodType>(route: ApiRoute<PS, QS, BS>): void {
    this.routes.push(route as unknown as ApiRoute);
    const restifyPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    const handler = async (req: restify.Request, res: restify.Response) => {
      try {
        const principal = await this.principalFor(req, route.role);
        // Before any schema: a zod record or an object copy would turn `__proto__` into a prototype.
        for (const [where, value] of [['params', req.params], ['query', req.query], ['body', req.body]] as const) {
          const key = findPrototypeKey(value, where);
          if (key) throw new HttpError(400, 'VALIDATION_FAILED', `invalid ${where}: ${key}: key not allowed`, [{ field: key, message: 'key not allowed' }]);
        }
        const params = route.params ? validate(route.params, req.params ?? {}, 'params') : (req.params ?? {});
        const query = route.query ? validate(route.query, req.query ?? {}, 'query') : {};
        let body: unknown = undefined;
        if (route.body) {
          if (req.body === undefined || req.body === null || typeof req.body !== 'object') {
            throw new HttpError(400, 'VALIDATION_FAILED', 'invalid body: a JSON object is required (Content-Type: application/json)', [{ field: 'body', message: 'required' }]);
          }
          body = validate(route.body, req.body, 'body');
        }
        const result = await route.handler({ principal, params, query, body, req, ip: clientIp(req) } as ApiContext<z.output<PS>, z.output<QS>, z.output<BS>>);
        if (result.stream) {
          result.stream(res);
          return;
        }
        for (const [k, v] of Object.entries(result.headers ?? {})) res.header(k, v);
        if (result.raw) {
          res.writeHead(result.status ?? 200, { 'Content-Type': result.raw.contentType, 'Content-Length': String(result.raw.data.length) });
          res.end(result.raw.data);
        } else if (result.body === undefined) {
          res.send(result.status ?? 204);
        } else {
          res.send(result.status ?? 200, result.body);
        }
      } catch (err) {
        const { status, body } = toHttpError(err);
        if (status >= 500) this.opts.log?.error({ err, url: req.url }, 'staff API request failed');
        if (status === 401) res.header('WWW-Authenticate', 'Bearer');
        // Every 503 is the database (unreachable, not configured, or a reply it could not record).
        if (status === 503) res.header('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
        if (err instanceof HttpError && err.status === 429 && typeof err.details === 'object' && err.details && 'retryAfterSeconds' in err.details) {
          res.header('Retry-After', String((err.details as { retryAfterSeconds: number }).retryAfterSeconds));
        }
        res.send(status, body);
      }
    };
    this.server[route.method === 'delete' ? 'del' : route.method](restifyPath, handler);
  }

  private async principalFor(req: restify.Request, role: Role | null): Promise<Principal | null> {
    const token = bearerToken(req);
    if (role === null) return token ? await this.opts.authenticate(token) : null;
    if (!token) throw new HttpError(401, 'UNAUTHENTICATED', 'log in first: send "Authorization: Bearer <token>"');
    const principal = await this.opts.authenticate(token);
    if (!principal) throw new HttpError(401, 'UNAUTHENTICATED', 'the token is unknown or expired; log in again');
    if (!roleAllows(principal.role, role)) throw new HttpError(403, 'FORBIDDEN', `this needs the ${role} role; you are ${principal.role}`);
    this.rateLimit(principal.username);
    return principal;
  }

  private rateLimit(key: string): void {
    const limit = this.opts.ratePerMinute ?? 600;
    const now = Date.now();
    const h = this.hits.get(key);
    if (!h || now - h.windowStart >= 60_000) {
      if (this.hits.size > 10_000) this.hits.clear();
      this.hits.set(key, { windowStart: now, count: 1 });
      return;
    }
    if (++h.count > limit) {
      const retryAfterSeconds = Math.ceil((h.windowStart + 60_000 - now) / 1000);
      throw new HttpError(429, 'RATE_LIMITED', `more than ${limit} requests a minute; wait ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
  }

  /** The OpenAPI 3.1 document of every registered route. */
  openapi(info: { title: string; version: string }): object {
    const paths: Record<string, Record<string, unknown>> = {};
    const schema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });
    for (const r of this.routes) {
      const parameters: unknown[] = [];
      for (const [where, s] of [['path', r.params], ['query', r.query]] as const) {
        if (!s) continue;
        const js = schema(s) as { properties?: Record<string, unknown>; required?: string[] };
        for (const [name, prop] of Object.entries(js.properties ?? {})) {
          parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: prop });
        }
      }
      const responses: Record<string, unknown> = {};
      for (const [code, description] of Object.entries(r.responses ?? { 200: 'OK' })) responses[code] = { description };
      responses['400'] ??= { description: 'invalid input; the error names the field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      // Any route may find the database unreachable (login reads it; a token it did not vouch for recently too).
      responses['503'] ??= { description: 'the database is unavailable (code DATABASE_UNAVAILABLE, or the route\'s own), or the server is stopping (SERVER_STOPPING, with Connection: close); send the request again after Retry-After seconds', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
      if (r.role) {
        responses['401'] = { description: 'no token, or unknown or expired token' };
        responses['403'] = { description: `needs the ${r.role} role` };
        responses['429'] = { description: 'rate limit exceeded' };
      }
      (paths[r.path] ??= {})[r.method] = {
        summary: r.summary,
        tags: [r.tag],
        ...(r.role ? { security: [{ bearer: [] }], 'x-required-role': r.role } : { security: [] }),
        ...(parameters.length ? { parameters } : {}),
        ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(r.body) } } } } : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'session token from POST /api/auth/login, or an API token' } },
        schemas: {
          Error: {
            type: 'object',
            properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} }, required: ['code', 'message'] } },
          },
        },
      },
    };
  }
}
