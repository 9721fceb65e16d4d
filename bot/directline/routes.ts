/**
 * The client side of Direct Line 3.0 (`Authorization: Bearer <token or secret>`):
 * - `GET  /api/webchat/token?locale=` (+ optional `X-Customer-Key`, `X-Conversation-Id`) → `{token, conversationId, expires_in, userId, customerKey, resumed}`
 *   (for the page: a returning customer's own conversation, still open, is resumed, so the page
 *   shows what was said in it while the page was closed — staff replies included)
 * - `POST /v3/directline/tokens/generate` `{user?: {id}}` → `{conversationId, token, expires_in}`
 * - `POST /v3/directline/tokens/refresh` → `{conversationId, token, expires_in}`
 * - `POST /v3/directline/conversations` `{user?, locale?}` → 201 `{conversationId, token, expires_in, streamUrl}`
 * - `GET  /v3/directline/conversations/{id}?watermark=` → `{conversationId, token, expires_in, streamUrl}`
 * - `POST /v3/directline/conversations/{id}/activities` → `{id}` (503 with `Retry-After` when the log
 *   cannot be written; an activity sent again with the same `channelData.clientActivityID` is
 *   answered with the first copy's id and not stored or handed to the bot twice)
 * - `GET  /v3/directline/conversations/{id}/activities?watermark=` → `{activities, watermark}`
 *
 * Who the user is: the server decides. A conversation gets its user when it is created: the one in
 * a genuine customer key (a returning customer), the one the Direct Line secret's holder names (an
 * embedding site's back end vouches for its user), or a fresh random id. A client naming another
 * user is refused (403) when it starts a conversation, and ignored (the conversation's user is
 * stamped) in the activities it posts.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Request, Response, Server } from 'restify';
import type { DirectLineConversation } from '../../store/directline-repository.js';
import type { ConversationService } from './conversations.js';
import { BadRequestError, ForbiddenError, NotFoundError, TokenExpiredError, UnauthorizedError, UnsupportedError } from './errors.js';
import { bearer, firstHeader, noStore, param, parseWatermark, parseWith, queryOf, readJsonBody, route, type DirectLineLog } from './http.js';
import { NEW_CONVERSATION_COST, type ClientBudget } from './limits.js';
import { ClientActivitySchema, GenerateTokenSchema, StartConversationSchema } from './schemas.js';
import { newUserId, type TokenClaims, type TokenService } from './tokens.js';

export const DIRECT_LINE_PREFIX = '/v3/directline';
/** Largest JSON body a client may post (an activity, a start or token request). */
export const MAX_CLIENT_BODY_BYTES = 64 * 1024;
/** Header in which the page presents the customer key it was given last time. */
export const CUSTOMER_KEY_HEADER = 'x-customer-key';
/** The conversation the page had before a reload; resumed only for the customer it belongs to. */
export const RESUME_HEADER = 'x-conversation-id';
/**
 * Set (to `1`) by a client re-sending an activity it is not sure arrived (after a 503 or a lost
 * answer): the server then also looks for its `channelData.clientActivityID` in the stored log
 * (not only in this process's memory) before storing it.
 */
export const RESEND_HEADER = 'x-resend';
/** A BCP 47 locale as Web Chat names it (en-US, zh-CN, zh-Hant-HK). */
const LOCALE = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}$/;

/** Who made a request: the secret's holder, a token's holder, or nobody. */
export type Caller = { kind: 'secret' } | { kind: 'token'; token: string; claims: TokenClaims } | { kind: 'anonymous' };

/** What the client routes need. */
export interface ClientRouteDeps {
  tokens: TokenService;
  conversations: ConversationService;
  budget: ClientBudget;
  /**
   * A returning customer (a genuine customer key) got a new conversation because theirs is gone:
   * what was held for them while it was gone is posted into the new one (see DirectLineOptions).
   */
  onReturningCustomer: (conv: DirectLineConversation) => Promise<void>;
  /** Throws (503) when the server cannot take a new conversation now (memory near its ceiling). */
  admitConversation: () => void;
  /** Whether a Direct Line secret is configured (then generating and anonymous starts need it). */
  secured: boolean;
  publicBaseUrl: () => string;
  log: DirectLineLog;
}

/** Who is calling: the secret holder, a token holder, or nobody (when `allowAnonymous`). */
export async function identify(tokens: TokenService, credential: string | undefined, allowAnonymous: boolean): Promise<Caller> {
  if (credential === undefined) {
    if (allowAnonymous) return { kind: 'anonymous' };
    throw new UnauthorizedError('a Direct Line token is required (Authorization: Bearer <token>)');
  }
  if (tokens.isSecret(credential)) return { kind: 'secret' };
  const verified = await tokens.verify(credential);
  if (verified === 'expired') throw new TokenExpiredError();
  if (verified === 'invalid') throw new UnauthorizedError('the token is not valid');
  return { kind: 'token', token: credential, claims: verified };
}

/** The conversation `id`, if the caller may use it (401 otherwise, 404 when it does not exist). */
export async function authorize(
  deps: Pick<ClientRouteDeps, 'tokens' | 'conversations'>,
  credential: string | undefined,
  id: string,
): Promise<{ conv: DirectLineConversation; caller: Caller }> {
  const caller = await identify(deps.tokens, credential, false);
  if (caller.kind === 'token' && caller.claims.conv !== id) throw new UnauthorizedError('the token is not valid for this conversation');
  const conv = await deps.conversations.get(id);
  return { conv, caller };
}

/** The client's address, for the per-client budget. */
export function clientOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Mounts the client side of Direct Line 3.0 (listed in this file's header) on `server`. */
export function mountClientRoutes(server: Server, d: ClientRouteDeps): void {
  const { tokens, conversations, log } = d;
  const ttl = tokens.ttl;

  const tokenResponse = (conv: DirectLineConversation, token: string) => ({ conversationId: conv._id, token, expires_in: ttl });

  function streamUrl(req: IncomingMessage, conv: DirectLineConversation, token: string, watermark?: number): string {
    const forwarded = firstHeader(req.headers['x-forwarded-proto']);
    const secure = forwarded ? forwarded.toLowerCase() === 'https' : Boolean((req.socket as TLSSocket).encrypted);
    let host = firstHeader(req.headers.host);
    if (!host || !/^[A-Za-z0-9.\-:[\]]{1,300}$/.test(host)) host = new URL(d.publicBaseUrl()).host;
    const query = new URLSearchParams({ t: token });
    if (watermark !== undefined && watermark > 0) query.set('watermark', String(watermark));
    return `${secure ? 'wss' : 'ws'}://${host}${DIRECT_LINE_PREFIX}/conversations/${encodeURIComponent(conv._id)}/stream?${query}`;
  }

  /** A client-chosen user id is taken only from the secret's holder. */
  function chosenUser(caller: Caller, id: string | undefined): string {
    if (id === undefined) return newUserId();
    if (caller.kind !== 'secret') {
      throw new ForbiddenError('user.id: user ids are issued by the server; only a caller holding the Direct Line secret may choose one');
    }
    return id;
  }

  server.get('/api/webchat/token', route(log, async (req, res) => {
    d.admitConversation();
    d.budget.charge(clientOf(req), NEW_CONVERSATION_COST);
    const presented = firstHeader(req.headers[CUSTOMER_KEY_HEADER]);
    const returning = presented ? await tokens.customerOf(presented) : null;
    const userId = returning ?? newUserId();
    const locale = queryOf(req).get('locale') ?? undefined;
    if (locale !== undefined && !LOCALE.test(locale)) throw new BadRequestError('BadArgument', 'locale must look like en-US or zh-CN');
    // One _id lookup: the customer's own conversation, if it is still open (another's is never resumed).
    const resume = returning ? firstHeader(req.headers[RESUME_HEADER]) : undefined;
    let conv = resume ? await conversations.find(resume) : null;
    if (conv && conversations.clientUserOf(conv) !== userId) conv = null;
    const resumed = conv !== null;
    conv ??= await conversations.create(userId, undefined, locale);
    if (returning && !resumed) {
      // The page must open either way: what was held stays held if posting it fails.
      await d.onReturningCustomer(conv).catch((err: Error) => log.warn({ conversationId: conv._id, err: err.message }, 'direct line: held messages not posted to a returning customer'));
    }
    noStore(res);
    res.send(200, { ...tokenResponse(conv, await tokens.issue(conv._id, userId)), userId, customerKey: await tokens.customerKey(userId), resumed });
  }));

  server.post(`${DIRECT_LINE_PREFIX}/tokens/generate`, route(log, async (req, res) => {
    const caller = await identify(tokens, bearer(req), !d.secured);
    if (caller.kind === 'token') throw new UnauthorizedError('generating a token needs the Direct Line secret, not a token');
    const { body } = await readJsonBody(req, MAX_CLIENT_BODY_BYTES, true);
    const input = parseWith(GenerateTokenSchema, body);
    d.admitConversation();
    d.budget.charge(clientOf(req), NEW_CONVERSATION_COST);
    const userId = chosenUser(caller, input.user?.id);
    const conv = await conversations.create(userId, input.user?.name);
    noStore(res);
    res.send(200, tokenResponse(conv, await tokens.issue(conv._id, userId)));
  }));

  server.post(`${DIRECT_LINE_PREFIX}/tokens/refresh`, route(log, async (req, res) => {
    const caller = await identify(tokens, bearer(req), false);
    if (caller.kind !== 'token') throw new UnauthorizedError('refreshing needs a token');
    const conv = await conversations.get(caller.claims.conv);
    noStore(res);
    res.send(200, tokenResponse(conv, await tokens.issue(conv._id, caller.claims.user)));
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations`, route(log, async (req, res) => {
    const caller = await identify(tokens, bearer(req), !d.secured);
    const { body } = await readJsonBody(req, MAX_CLIENT_BODY_BYTES, true);
    const input = parseWith(StartConversationSchema, body);
    let conv: DirectLineConversation;
    let token: string;
    if (caller.kind === 'token') {
      conv = await conversations.get(caller.claims.conv);
      token = caller.token;
      if (input.user?.id !== undefined && input.user.id !== conversations.clientUserOf(conv)) {
        throw new ForbiddenError("user.id: this conversation belongs to the token's user; another id cannot be used");
      }
    } else {
      d.admitConversation();
      d.budget.charge(clientOf(req), NEW_CONVERSATION_COST);
      const userId = chosenUser(caller, input.user?.id);
      conv = await conversations.create(userId, input.user?.name, input.locale);
      token = await tokens.issue(conv._id, userId);
    }
    // 201 the first time the conversation is started, 200 when a client starts it again.
    const first = await conversations.startOnce(conv);
    if (first) log.info({ conversationId: conv._id }, 'direct line: conversation started');
    noStore(res);
    res.send(first ? 201 : 200, { ...tokenResponse(conv, token), streamUrl: streamUrl(req, conv, token) });
  }));

  server.get(`${DIRECT_LINE_PREFIX}/conversations/:conversationId`, route(log, async (req, res) => {
    const { conv, caller } = await authorize(d, bearer(req), param(req, 'conversationId'));
    const watermark = parseWatermark(queryOf(req).get('watermark'));
    // Reconnecting renews the token, as Azure does (directlinejs takes the token it returns).
    const token = await tokens.issue(conv._id, caller.kind === 'token' ? caller.claims.user : conversations.clientUserOf(conv));
    noStore(res);
    res.send(200, { ...tokenResponse(conv, token), streamUrl: streamUrl(req, conv, token, watermark) });
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/activities`, route(log, async (req: Request, res: Response) => {
    const { conv } = await authorize(d, bearer(req), param(req, 'conversationId'));
    const { body, bytes } = await readJsonBody(req, MAX_CLIENT_BODY_BYTES, false);
    const input = parseWith(ClientActivitySchema, body);
    d.budget.charge(clientOf(req), bytes);
    const id = await conversations.fromClient(conv, input, bytes, firstHeader(req.headers[RESEND_HEADER]) === '1');
    res.send(200, { id });
  }));

  server.get(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/activities`, route(log, async (req, res) => {
    const { conv } = await authorize(d, bearer(req), param(req, 'conversationId'));
    const watermark = parseWatermark(queryOf(req).get('watermark'));
    const { entries, latest } = await conversations.after(conv, watermark);
    const last = entries.length > 0 ? entries[entries.length - 1].seq : Math.max(watermark, latest);
    res.send(200, { activities: entries.map((e) => e.activity), ...(last > 0 ? { watermark: String(last) } : {}) });
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/upload`, route(log, async (req) => {
    await authorize(d, bearer(req), param(req, 'conversationId'));
    throw new UnsupportedError(501, 'attachment upload is not supported by this channel');
  }));

  // The bot's side of the channel runs in process (no connector endpoints): answer clearly.
  server.post(`${DIRECT_LINE_PREFIX}/connector/*`, route(log, async () => {
    throw new NotFoundError('the bot side of this channel runs inside the server; there are no connector endpoints');
  }));
  server.put(`${DIRECT_LINE_PREFIX}/connector/*`, route(log, async () => {
    throw new NotFoundError('the bot side of this channel runs inside the server; there are no connector endpoints');
  }));
}
