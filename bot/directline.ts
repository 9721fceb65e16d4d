/**
 * A Direct Line 3.0-compatible channel inside the bot's own restify process, so the standard Bot
 * Framework Web Chat component and the unmodified `botframework-directlinejs` client talk to the bot
 * with no cloud service. It plays both parts Azure plays:
 *
 * - **Direct Line 3.0** (the client side): conversations, tokens, activities with watermarks, and
 *   the WebSocket stream at `streamUrl`, under `/v3/directline`.
 * - **Bot Connector** (the bot side): the bot receives each user activity through `deliverToBot`
 *   with `serviceUrl = <publicBaseUrl>/v3/directline/connector`; its CloudAdapter sends replies,
 *   typing and updates back to `{serviceUrl}/v3/conversations/{id}/activities[/{activityId}]` over
 *   real HTTP, and they go into the conversation log and out to the WebSocket subscribers.
 *
 * The conversation logs are **transient channel state**, like Azure Direct Line's message
 * retention: held in memory, capped (the last 500 activities of a conversation, at most 10,000
 * conversations, the least recently used evicted first), and dropped after an hour without use or
 * on restart. They are not bot state: dialog state, tickets and customers live in the store.
 *
 * Compatibility notes (checked against botframework-directlinejs 0.15.8 and Web Chat 4.18):
 * - Tokens are HS256 JWTs (`conv`, optional `user`, `exp`), so Web Chat's and directlinejs's token
 *   parsing (they read a `user` claim) works. A missing, malformed, forged or foreign token gets
 *   401; a well-signed but expired one gets **403 `TokenExpired`**, because that is the status
 *   directlinejs treats as "token expired" (it stops refreshing and reports ExpiredToken).
 * - The user's own activities are echoed into the log and the stream (Web Chat marks a message as
 *   sent when the echo with its `channelData.clientActivityID` arrives), ids are
 *   `<conversationId>|<seq as 7 digits>`, and the watermark is the sequence number.
 * - The stream sends `{activities, watermark}` messages, an empty text message as keep-alive every
 *   30 s (directlinejs ignores empty messages, as it does the empty strings it sends itself), and
 *   WebSocket pings to drop dead connections. On connect it replays the retained activities after
 *   the `watermark` query parameter (all of them without one), so nothing the bot said between
 *   starting the conversation and opening the socket (a greeting) is lost.
 * - `streamUrl` is built from the request's `Host` (and `X-Forwarded-Proto`), so it works under
 *   whatever name the browser used; `serviceUrl` uses `publicBaseUrl`, the bot's view.
 * - User ids come from the client and are namespaced as `webchat:<id>` before the bot sees them;
 *   a conversation is bound to its first user id (from the token, the start request, or the first
 *   activity) and later activities cannot switch it.
 * - The connector endpoints take no credentials: an anonymous CloudAdapter (no app id, the only
 *   kind that can work offline) sends none. They act only on existing conversations, whose ids are
 *   128-bit random values.
 * - Not implemented: attachment upload (`/upload` answers 501; the page hides the upload button),
 *   the streaming extensions (`DirectLineStreaming`), CORS (the page is served from the same origin).
 *
 * Mount it on a restify server created without `handleUpgrades` (the default): the WebSocket
 * upgrade is taken from `server.server`'s `'upgrade'` event. A global `bodyParser` is fine (the
 * parsed body is used and its size checked); without one the body is read here.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Activity } from 'botbuilder';
import type { Request, Response, Server } from 'restify';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';

/** The channel id stamped on every activity of this channel (Web Chat's own id). */
export const DIRECT_LINE_CHANNEL_ID = 'webchat';
/** Prefix of the user ids the bot sees: a web client cannot pose as another channel's user. */
export const WEBCHAT_USER_PREFIX = 'webchat:';
/** Largest JSON body a client may post (an activity, a start or token request). */
export const MAX_CLIENT_BODY_BYTES = 64 * 1024;
/** Largest JSON body the bot may post to the connector endpoints (cards can be large). */
export const MAX_BOT_BODY_BYTES = 256 * 1024;
/** Default token lifetime, as Azure's: 30 minutes (directlinejs refreshes every 15). */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 60;

const DIRECT_LINE_PREFIX = '/v3/directline';
const CONNECTOR_PREFIX = `${DIRECT_LINE_PREFIX}/connector`;
const STREAM_PATH = /^\/v3\/directline\/conversations\/([^/]+)\/stream$/;
const TOKEN_ISSUER = 'demand-desk-directline';

/** Minimal logger shape (pino's fits). */
export interface DirectLineLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

/** Caps of the in-memory conversation logs; the defaults suit production. */
export interface DirectLineLimits {
  /** Activities kept per conversation (older ones drop off; watermarks stay valid). Default 500. */
  maxActivities?: number;
  /** A conversation unused this long is forgotten. Default 3600. */
  idleSeconds?: number;
  /** Conversations kept at once; the least recently used is evicted beyond it. Default 10,000. */
  maxConversations?: number;
  /** Open WebSocket streams per conversation. Default 8. */
  maxSocketsPerConversation?: number;
  /** Seconds between keep-alives (an empty message and a ping) on every stream. Default 30. */
  heartbeatSeconds?: number;
}

export interface DirectLineOptions {
  /** The base URL at which the bot reaches this server, e.g. `http://127.0.0.1:3978`. */
  publicBaseUrl: () => string;
  /** Hands a stamped user activity to the bot (the server POSTs it to its `/api/messages`). */
  deliverToBot: (activity: Activity) => Promise<void>;
  /**
   * The Direct Line secret. When set, `tokens/generate` and starting a conversation without a
   * token require `Authorization: Bearer <secret>`, the secret is accepted wherever a token is,
   * and tokens are signed with a key derived from it. When unset, those two calls are open and the
   * signing key is random per process. `GET /api/webchat/token` is always open: it serves the page.
   */
  secret?: string;
  /** Token lifetime in seconds (default 1800). */
  tokenTtlSeconds?: number;
  /** The bot's id as the channel names it (`recipient.id` of user activities). Default `bot`. */
  botId?: string;
  limits?: DirectLineLimits;
  log?: DirectLineLog;
}

/** Handle returned by {@link mountDirectLine}. */
export interface DirectLineHandle {
  /** Stops timers, closes every stream and forgets every conversation. Routes stay mounted. */
  close(): void;
  /**
   * Posts a bot activity (JSON wire form) straight into a conversation, as the connector route
   * does over HTTP: for the in-process adapter. Returns the activity's id.
   */
  postFromBot(conversationId: string, activity: Record<string, unknown>, replyTo?: string): string;
  /** Replaces a bot activity (same id), as PUT on the connector route does. */
  updateFromBot(conversationId: string, activityId: string, activity: Record<string, unknown>): void;
}

/** An activity in its JSON wire form (dates are ISO strings), as it travels over HTTP. */
type WireActivity = Record<string, unknown> & { type: string; id?: string };

interface LoggedActivity {
  seq: number;
  activity: WireActivity;
}

interface Conversation {
  id: string;
  /** The bot-facing user id (`webchat:<client id>`) once known. */
  userId?: string;
  userName?: string;
  locale?: string;
  started: boolean;
  membersAddedSent: boolean;
  seq: number;
  log: LoggedActivity[];
  sockets: Set<WebSocket>;
  lastUsedAt: number;
  /** Deliveries to the bot run one after another per conversation (ordered turns, no eTag races). */
  delivery: Promise<void>;
}

interface TokenClaims {
  iss: string;
  conv: string;
  user?: string;
  iat: number;
  exp: number;
  jti: string;
}

type Caller = { kind: 'secret' } | { kind: 'token'; token: string; claims: TokenClaims } | { kind: 'anonymous' };

/** An error answered as `{error: {code, message}}`, Direct Line's error shape. */
class DirectLineHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DirectLineHttpError';
  }
}

// ---------------------------------------------------------------------------------------------
// Request shapes (zod: unknown fields are dropped, so a client cannot set channel-owned fields
// such as serviceUrl, channelId, recipient, callerId or deliveryMode).

const ChannelAccountInput = z.object({
  id: z.string().min(1).max(256),
  name: z.string().max(256).optional(),
});

const ClientActivitySchema = z.object({
  type: z.enum(['message', 'event', 'typing', 'messageReaction']),
  from: ChannelAccountInput.optional(),
  text: z.string().optional(),
  textFormat: z.enum(['plain', 'markdown', 'xml']).optional(),
  locale: z.string().max(64).optional(),
  localTimestamp: z.string().max(64).optional(),
  localTimezone: z.string().max(128).optional(),
  attachments: z
    .array(
      z.object({
        contentType: z.string().max(256),
        contentUrl: z.string().max(2048).optional(),
        content: z.unknown().optional(),
        name: z.string().max(256).optional(),
        thumbnailUrl: z.string().max(2048).optional(),
      }),
    )
    .max(20)
    .optional(),
  attachmentLayout: z.string().max(32).optional(),
  channelData: z.record(z.string(), z.unknown()).optional(),
  value: z.unknown().optional(),
  valueType: z.string().max(256).optional(),
  name: z.string().max(256).optional(),
  entities: z.array(z.record(z.string(), z.unknown())).max(50).optional(),
  speak: z.string().optional(),
  inputHint: z.string().max(32).optional(),
  summary: z.string().optional(),
  replyToId: z.string().max(512).optional(),
  reactionsAdded: z.array(z.object({ type: z.string().max(64) })).max(20).optional(),
  reactionsRemoved: z.array(z.object({ type: z.string().max(64) })).max(20).optional(),
});

const StartConversationSchema = z.object({
  user: z.object({ id: z.string().min(1).max(256).optional(), name: z.string().max(256).optional() }).optional(),
  locale: z.string().max(64).optional(),
});

const GenerateTokenSchema = z.object({
  user: z.object({ id: z.string().min(1).max(256), name: z.string().max(256).optional() }).optional(),
});

const BotActivitySchema = z.looseObject({
  type: z.string().min(1).max(64),
  from: z.looseObject({ id: z.string().max(256).optional() }).optional(),
});

// ---------------------------------------------------------------------------------------------

/**
 * Mounts the Direct Line 3.0 endpoints, the Bot Connector endpoints the bot replies to, the
 * WebSocket stream and `GET /api/webchat/token` on `server`.
 *
 * Client side (`Authorization: Bearer <token or secret>`):
 * - `GET  /api/webchat/token` → `{token, conversationId, expires_in}` (for the page)
 * - `POST /v3/directline/tokens/generate` `{user?: {id}}` → `{conversationId, token, expires_in}`
 * - `POST /v3/directline/tokens/refresh` → `{conversationId, token, expires_in}`
 * - `POST /v3/directline/conversations` `{user?, locale?}` → 201 `{conversationId, token, expires_in, streamUrl}`
 * - `GET  /v3/directline/conversations/{id}?watermark=` → `{conversationId, token, expires_in, streamUrl}`
 * - `POST /v3/directline/conversations/{id}/activities` → `{id}`
 * - `GET  /v3/directline/conversations/{id}/activities?watermark=` → `{activities, watermark}`
 * - WebSocket `/v3/directline/conversations/{id}/stream?t=<token>[&watermark=]` → `{activities, watermark}` messages
 *
 * Bot side (no credentials): `POST|PUT /v3/directline/connector/v3/conversations/{id}/activities[/{activityId}]` → `{id}`.
 */
export function mountDirectLine(server: Server, opts: DirectLineOptions): DirectLineHandle {
  const log: DirectLineLog = opts.log ?? { info: () => undefined, warn: () => undefined };
  const ttlSeconds = opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError('tokenTtlSeconds must be a positive number');
  const botId = opts.botId ?? 'bot';
  const maxActivities = opts.limits?.maxActivities ?? 500;
  const idleMs = (opts.limits?.idleSeconds ?? 3600) * 1000;
  const maxConversations = opts.limits?.maxConversations ?? 10_000;
  const maxSockets = opts.limits?.maxSocketsPerConversation ?? 8;
  const heartbeatMs = (opts.limits?.heartbeatSeconds ?? 30) * 1000;

  const tokens = new TokenService(opts.secret, ttlSeconds);
  const conversations = new ConversationStore(maxConversations, idleMs, (conv) => closeSockets(conv, 1001, 'conversation expired'));

  const serviceUrl = (): string => `${opts.publicBaseUrl().replace(/\/+$/, '')}${CONNECTOR_PREFIX}`;

  // ---- authentication -------------------------------------------------------------------

  function bearer(req: IncomingMessage): string | undefined {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new DirectLineHttpError(401, 'Unauthorized', 'the Authorization header must be "Bearer <token>"');
    return match[1];
  }

  /** Who is calling: the secret holder, a token holder, or nobody (when `allowAnonymous`). */
  function identify(credential: string | undefined, allowAnonymous: boolean): Caller {
    if (credential === undefined) {
      if (allowAnonymous) return { kind: 'anonymous' };
      throw new DirectLineHttpError(401, 'Unauthorized', 'a Direct Line token is required (Authorization: Bearer <token>)');
    }
    if (tokens.isSecret(credential)) return { kind: 'secret' };
    const verified = tokens.verify(credential);
    if (verified === 'expired') throw new DirectLineHttpError(403, 'TokenExpired', 'the token has expired; get a new one');
    if (verified === 'invalid') throw new DirectLineHttpError(401, 'Unauthorized', 'the token is not valid');
    return { kind: 'token', token: credential, claims: verified };
  }

  /** The conversation `id`, if the caller may use it (401 otherwise, 404 when it does not exist). */
  function authorizeConversation(credential: string | undefined, id: string): { conv: Conversation; caller: Caller } {
    const caller = identify(credential, false);
    if (caller.kind === 'token' && caller.claims.conv !== id) {
      throw new DirectLineHttpError(401, 'Unauthorized', 'the token is not valid for this conversation');
    }
    const conv = conversations.get(id);
    if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
    return { conv, caller };
  }

  // ---- conversation log and stream --------------------------------------------------------

  function activityId(conv: Conversation, seq: number): string {
    return `${conv.id}|${String(seq).padStart(7, '0')}`;
  }

  /** Appends an activity (its `id` already set) and pushes it to the open streams. */
  function append(conv: Conversation, activity: WireActivity, seq: number): void {
    conv.log.push({ seq, activity });
    if (conv.log.length > maxActivities) conv.log.splice(0, conv.log.length - maxActivities);
    const message = JSON.stringify({ activities: [activity], watermark: String(seq) });
    for (const ws of conv.sockets) {
      if (ws.readyState === WebSocket.OPEN) ws.send(message);
    }
  }

  function nextSeq(conv: Conversation): number {
    conv.seq += 1;
    return conv.seq;
  }

  function closeSockets(conv: Conversation, code: number, reason: string): void {
    for (const ws of conv.sockets) ws.close(code, reason);
    conv.sockets.clear();
  }

  function parseWatermark(raw: string | null): number {
    if (raw === null || raw === '') return 0;
    if (!/^\d{1,15}$/.test(raw)) throw new DirectLineHttpError(400, 'BadArgument', 'watermark must be a non-negative integer');
    return Number(raw);
  }

  function activitiesAfter(conv: Conversation, watermark: number): LoggedActivity[] {
    return conv.log.filter((entry) => entry.seq > watermark);
  }

  function streamUrl(req: IncomingMessage, conv: Conversation, token: string, watermark?: number): string {
    const forwarded = firstHeader(req.headers['x-forwarded-proto']);
    const secure = forwarded ? forwarded.toLowerCase() === 'https' : Boolean((req.socket as TLSSocket).encrypted);
    let host = firstHeader(req.headers.host);
    if (!host || !/^[A-Za-z0-9.\-:[\]]{1,300}$/.test(host)) host = new URL(opts.publicBaseUrl()).host;
    const query = new URLSearchParams({ t: token });
    if (watermark !== undefined && watermark > 0) query.set('watermark', String(watermark));
    return `${secure ? 'wss' : 'ws'}://${host}${DIRECT_LINE_PREFIX}/conversations/${encodeURIComponent(conv.id)}/stream?${query}`;
  }

  // ---- delivery to the bot -----------------------------------------------------------------

  function enqueueDelivery(conv: Conversation, activity: WireActivity): Promise<void> {
    // The wire form is what the bot's /api/messages receives; the cast only names it.
    const run = conv.delivery.then(() => opts.deliverToBot(activity as unknown as Activity));
    conv.delivery = run.catch(() => undefined);
    return run;
  }

  /** Tells the bot, once, that it and the user joined (bots greet in `onMembersAdded`). */
  function announceMembers(conv: Conversation): void {
    if (conv.membersAddedSent || !conv.userId) return;
    conv.membersAddedSent = true;
    const user = { id: conv.userId, ...(conv.userName ? { name: conv.userName } : {}), role: 'user' };
    const update: WireActivity = {
      type: 'conversationUpdate',
      id: `${conv.id}|update-${randomBytes(6).toString('hex')}`,
      timestamp: new Date().toISOString(),
      channelId: DIRECT_LINE_CHANNEL_ID,
      serviceUrl: serviceUrl(),
      conversation: { id: conv.id },
      from: user,
      recipient: { id: botId, role: 'bot' },
      membersAdded: [{ id: botId }, { id: user.id, ...(user.name ? { name: user.name } : {}) }],
      ...(conv.locale ? { locale: conv.locale } : {}),
    };
    enqueueDelivery(conv, update).catch((err: unknown) => {
      log.warn({ conversationId: conv.id, err: errorText(err) }, 'direct line: the bot did not take the conversationUpdate');
    });
  }

  function bindUser(conv: Conversation, clientId: string | undefined, name: string | undefined): void {
    if (conv.userId || clientId === undefined) return;
    conv.userId = WEBCHAT_USER_PREFIX + clientId;
    if (name) conv.userName = name;
  }

  function newConversation(): Conversation {
    return conversations.create(randomId());
  }

  function tokenResponse(conv: Conversation, token: string): { conversationId: string; token: string; expires_in: number } {
    return { conversationId: conv.id, token, expires_in: ttlSeconds };
  }

  function clientUserOf(conv: Conversation): string | undefined {
    return conv.userId?.slice(WEBCHAT_USER_PREFIX.length);
  }

  // ---- routes: client side -----------------------------------------------------------------

  const route =
    (handler: (req: Request, res: Response) => Promise<void>) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        await handler(req, res);
      } catch (err) {
        sendError(res, err, log);
      }
    };

  server.get('/api/webchat/token', route(async (_req, res) => {
    const conv = newConversation();
    noStore(res);
    res.send(200, tokenResponse(conv, tokens.issue(conv.id)));
  }));

  server.post(`${DIRECT_LINE_PREFIX}/tokens/generate`, route(async (req, res) => {
    const caller = identify(bearer(req), opts.secret === undefined);
    if (caller.kind === 'token') throw new DirectLineHttpError(401, 'Unauthorized', 'generating a token needs the Direct Line secret, not a token');
    const body = parseWith(GenerateTokenSchema, await readJsonBody(req, MAX_CLIENT_BODY_BYTES, true));
    const conv = newConversation();
    bindUser(conv, body.user?.id, body.user?.name);
    noStore(res);
    res.send(200, tokenResponse(conv, tokens.issue(conv.id, body.user?.id)));
  }));

  server.post(`${DIRECT_LINE_PREFIX}/tokens/refresh`, route(async (req, res) => {
    const caller = identify(bearer(req), false);
    if (caller.kind !== 'token') throw new DirectLineHttpError(401, 'Unauthorized', 'refreshing needs a token');
    const conv = conversations.get(caller.claims.conv);
    if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
    noStore(res);
    res.send(200, tokenResponse(conv, tokens.issue(conv.id, caller.claims.user)));
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations`, route(async (req, res) => {
    const caller = identify(bearer(req), opts.secret === undefined);
    const body = parseWith(StartConversationSchema, await readJsonBody(req, MAX_CLIENT_BODY_BYTES, true));
    let conv: Conversation;
    let token: string;
    if (caller.kind === 'token') {
      const existing = conversations.get(caller.claims.conv);
      if (!existing) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
      conv = existing;
      token = caller.token;
      bindUser(conv, caller.claims.user, undefined);
    } else {
      conv = newConversation();
      token = tokens.issue(conv.id);
    }
    bindUser(conv, body.user?.id, body.user?.name);
    if (body.locale && !conv.locale) conv.locale = body.locale;
    const created = !conv.started;
    conv.started = true;
    if (created) {
      log.info({ conversationId: conv.id }, 'direct line: conversation started');
      announceMembers(conv);
    }
    noStore(res);
    res.send(created ? 201 : 200, { ...tokenResponse(conv, token), streamUrl: streamUrl(req, conv, token) });
  }));

  server.get(`${DIRECT_LINE_PREFIX}/conversations/:conversationId`, route(async (req, res) => {
    const { conv, caller } = authorizeConversation(bearer(req), param(req, 'conversationId'));
    const watermark = parseWatermark(queryOf(req).get('watermark'));
    // Reconnecting renews the token, as Azure does (directlinejs takes the token it returns).
    const token = caller.kind === 'token' ? tokens.issue(conv.id, caller.claims.user) : tokens.issue(conv.id, clientUserOf(conv));
    conv.started = true;
    noStore(res);
    res.send(200, { ...tokenResponse(conv, token), streamUrl: streamUrl(req, conv, token, watermark) });
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/activities`, route(async (req, res) => {
    const { conv } = authorizeConversation(bearer(req), param(req, 'conversationId'));
    const input = parseWith(ClientActivitySchema, await readJsonBody(req, MAX_CLIENT_BODY_BYTES, false));
    if (!conv.userId && !input.from) throw new DirectLineHttpError(400, 'MissingProperty', 'from.id is required');
    bindUser(conv, input.from?.id, input.from?.name);
    const userId = conv.userId as string;
    if (input.from && WEBCHAT_USER_PREFIX + input.from.id !== userId) {
      log.warn({ conversationId: conv.id }, 'direct line: activity from another user id than the conversation\'s; using the conversation\'s');
    }
    conv.started = true;
    announceMembers(conv);

    const seq = nextSeq(conv);
    const { from: _from, ...fields } = input;
    const name = input.from?.name ?? conv.userName;
    const activity: WireActivity = {
      ...fields,
      id: activityId(conv, seq),
      timestamp: new Date().toISOString(),
      channelId: DIRECT_LINE_CHANNEL_ID,
      conversation: { id: conv.id },
      from: { id: userId, ...(name ? { name } : {}), role: 'user' },
      recipient: { id: botId, role: 'bot' },
      ...(fields.locale || conv.locale ? { locale: fields.locale ?? conv.locale } : {}),
    };
    append(conv, activity, seq);
    try {
      await enqueueDelivery(conv, { ...activity, serviceUrl: serviceUrl() });
    } catch (err) {
      log.warn({ conversationId: conv.id, activityId: activity.id, err: errorText(err) }, 'direct line: the bot did not take the activity');
      throw new DirectLineHttpError(502, 'BotError', 'the bot could not process the activity');
    }
    res.send(200, { id: activity.id });
  }));

  server.get(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/activities`, route(async (req, res) => {
    const { conv } = authorizeConversation(bearer(req), param(req, 'conversationId'));
    const watermark = parseWatermark(queryOf(req).get('watermark'));
    const entries = activitiesAfter(conv, watermark);
    const last = entries.length > 0 ? entries[entries.length - 1].seq : Math.max(watermark, conv.seq);
    res.send(200, { activities: entries.map((e) => e.activity), ...(last > 0 ? { watermark: String(last) } : {}) });
  }));

  server.post(`${DIRECT_LINE_PREFIX}/conversations/:conversationId/upload`, route(async (req) => {
    authorizeConversation(bearer(req), param(req, 'conversationId'));
    throw new DirectLineHttpError(501, 'NotImplemented', 'attachment upload is not supported by this channel');
  }));

  // ---- routes: bot side (Bot Connector) ----------------------------------------------------

  const connectorActivities = `${CONNECTOR_PREFIX}/v3/conversations/:conversationId/activities`;

  async function receiveFromBot(req: Request, replyTo: string | undefined): Promise<{ conv: Conversation; activity: WireActivity; seq: number }> {
    const conv = conversations.get(param(req, 'conversationId'));
    if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
    const body = parseWith(BotActivitySchema, await readJsonBody(req, MAX_BOT_BODY_BYTES, false)) as WireActivity;
    return { conv, ...stampFromBot(conv, body, replyTo) };
  }

  function stampFromBot(conv: Conversation, body: WireActivity, replyTo: string | undefined): { activity: WireActivity; seq: number } {
    const { serviceUrl: _serviceUrl, ...rest } = body;
    const seq = nextSeq(conv);
    const from = (rest.from as Record<string, unknown> | undefined) ?? {};
    const activity: WireActivity = {
      ...rest,
      id: activityId(conv, seq),
      timestamp: new Date().toISOString(),
      channelId: DIRECT_LINE_CHANNEL_ID,
      conversation: { ...(isRecord(rest.conversation) ? rest.conversation : {}), id: conv.id },
      from: { ...from, id: typeof from.id === 'string' && from.id ? from.id : botId, role: 'bot' },
      ...(replyTo && !rest.replyToId ? { replyToId: replyTo } : {}),
    };
    return { activity, seq };
  }

  function replaceInLog(conv: Conversation, targetId: string, activity: WireActivity, seq: number): void {
    // The update keeps the activity's id (Web Chat replaces by id) and moves to a new watermark
    // so clients that already passed the old one see it.
    activity.id = targetId;
    const index = conv.log.findIndex((e) => e.activity.id === targetId);
    if (index >= 0) conv.log.splice(index, 1);
    append(conv, activity, seq);
  }

  const fromBot = (withReplyTo: boolean) =>
    route(async (req, res) => {
      const { conv, activity, seq } = await receiveFromBot(req, withReplyTo ? param(req, 'activityId') : undefined);
      append(conv, activity, seq);
      res.send(200, { id: activity.id });
    });
  server.post(connectorActivities, fromBot(false));
  server.post(`${connectorActivities}/:activityId`, fromBot(true));

  server.put(`${connectorActivities}/:activityId`, route(async (req, res) => {
    const targetId = param(req, 'activityId');
    const conv = conversations.get(param(req, 'conversationId'));
    if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
    if (!conv.log.some((e) => e.activity.id === targetId)) throw new DirectLineHttpError(404, 'NotFound', 'activity not found');
    const { activity, seq } = await receiveFromBot(req, undefined);
    replaceInLog(conv, targetId, activity, seq);
    res.send(200, { id: targetId });
  }));

  server.del(`${connectorActivities}/:activityId`, route(async () => {
    throw new DirectLineHttpError(405, 'MethodNotAllowed', 'Direct Line does not support deleting activities');
  }));

  // ---- WebSocket stream ----------------------------------------------------------------------

  // Clients send only empty keep-alive strings; anything large is not a Direct Line client.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const alive = new WeakMap<WebSocket, boolean>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return rejectUpgrade(socket, new DirectLineHttpError(400, 'BadArgument', 'bad request URL'));
    }
    const match = STREAM_PATH.exec(url.pathname);
    if (!match) {
      // Other upgrade paths belong to whoever else listens; ours are answered.
      if (url.pathname.startsWith(`${DIRECT_LINE_PREFIX}/`)) rejectUpgrade(socket, new DirectLineHttpError(404, 'NotFound', 'no such stream'));
      return;
    }
    try {
      const credential = url.searchParams.get('t') ?? bearer(req);
      const { conv } = authorizeConversation(credential ?? undefined, decodeURIComponent(match[1]));
      const watermark = parseWatermark(url.searchParams.get('watermark'));
      if (conv.sockets.size >= maxSockets) throw new DirectLineHttpError(429, 'TooManyRequests', 'too many open streams for this conversation');
      wss.handleUpgrade(req, socket, head, (ws) => openStream(conv, ws, watermark));
    } catch (err) {
      rejectUpgrade(socket, err instanceof DirectLineHttpError ? err : new DirectLineHttpError(500, 'ServiceError', 'internal error'));
      if (!(err instanceof DirectLineHttpError)) log.warn({ err: errorText(err) }, 'direct line: stream upgrade failed');
    }
  };

  function openStream(conv: Conversation, ws: WebSocket, watermark: number): void {
    conv.sockets.add(ws);
    conversations.touch(conv);
    alive.set(ws, true);
    ws.on('pong', () => alive.set(ws, true));
    ws.on('message', () => alive.set(ws, true)); // directlinejs's "" keep-alives
    ws.on('close', () => conv.sockets.delete(ws));
    ws.on('error', () => conv.sockets.delete(ws));
    const backlog = activitiesAfter(conv, watermark);
    if (backlog.length > 0) {
      ws.send(JSON.stringify({ activities: backlog.map((e) => e.activity), watermark: String(backlog[backlog.length - 1].seq) }));
    }
  }

  server.server.on('upgrade', onUpgrade);

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
      ws.send(''); // Direct Line's keep-alive: an empty message, ignored by clients
    }
  }, heartbeatMs);
  heartbeat.unref();
  const sweeper = setInterval(() => conversations.sweep(), Math.min(60_000, Math.max(1000, idleMs / 2)));
  sweeper.unref();

  return {
    close(): void {
      clearInterval(heartbeat);
      clearInterval(sweeper);
      server.server.off('upgrade', onUpgrade);
      for (const ws of wss.clients) ws.close(1001, 'server closing');
      wss.close();
      conversations.clear();
    },
    postFromBot(conversationId, body, replyTo) {
      const conv = conversations.get(conversationId);
      if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
      const { activity, seq } = stampFromBot(conv, parseWith(BotActivitySchema, body) as WireActivity, replyTo);
      append(conv, activity, seq);
      return String(activity.id);
    },
    updateFromBot(conversationId, targetId, body) {
      const conv = conversations.get(conversationId);
      if (!conv) throw new DirectLineHttpError(404, 'NotFound', 'conversation not found (it may have expired)');
      if (!conv.log.some((e) => e.activity.id === targetId)) throw new DirectLineHttpError(404, 'NotFound', 'activity not found');
      const { activity, seq } = stampFromBot(conv, parseWith(BotActivitySchema, body) as WireActivity, undefined);
      replaceInLog(conv, targetId, activity, seq);
    },
  };
}

// ---------------------------------------------------------------------------------------------

/** Signed, expiring tokens bound to one conversation (HS256 JWTs). */
class TokenService {
  private readonly key: Buffer;
  private readonly secretDigest?: Buffer;

  constructor(
    secret: string | undefined,
    private readonly ttlSeconds: number,
  ) {
    this.key = secret ? createHmac('sha256', secret).update('direct line token signing key').digest() : randomBytes(32);
    if (secret) this.secretDigest = createHash('sha256').update(secret).digest();
  }

  isSecret(credential: string): boolean {
    if (!this.secretDigest) return false;
    return timingSafeEqual(createHash('sha256').update(credential).digest(), this.secretDigest);
  }

  issue(conversationId: string, user?: string): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = {
      iss: TOKEN_ISSUER,
      conv: conversationId,
      ...(user ? { user } : {}),
      iat: now,
      exp: now + this.ttlSeconds,
      jti: randomBytes(12).toString('base64url'),
    };
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${head}.${body}.${this.sign(`${head}.${body}`)}`;
  }

  verify(token: string): TokenClaims | 'invalid' | 'expired' {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 4096) return 'invalid';
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`));
    const actual = Buffer.from(parts[2]);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return 'invalid';
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return 'invalid';
    }
    if (!isRecord(claims) || claims.iss !== TOKEN_ISSUER || typeof claims.conv !== 'string' || typeof claims.exp !== 'number') return 'invalid';
    if (claims.exp * 1000 <= Date.now()) return 'expired';
    return claims as unknown as TokenClaims;
  }

  private sign(data: string): string {
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}

/** Conversations by id, least recently used first (a Map keeps insertion order). */
class ConversationStore {
  private readonly byId = new Map<string, Conversation>();

  constructor(
    private readonly max: number,
    private readonly idleMs: number,
    private readonly onDrop: (conv: Conversation) => void,
  ) {}

  create(id: string): Conversation {
    const conv: Conversation = {
      id,
      started: false,
      membersAddedSent: false,
      seq: 0,
      log: [],
      sockets: new Set(),
      lastUsedAt: Date.now(),
      delivery: Promise.resolve(),
    };
    this.byId.set(id, conv);
    while (this.byId.size > this.max) {
      const oldest = this.byId.values().next().value as Conversation;
      this.drop(oldest);
    }
    return conv;
  }

  get(id: string): Conversation | undefined {
    const conv = this.byId.get(id);
    if (!conv) return undefined;
    if (this.isIdle(conv, Date.now())) {
      this.drop(conv);
      return undefined;
    }
    this.touch(conv);
    return conv;
  }

  touch(conv: Conversation): void {
    conv.lastUsedAt = Date.now();
    this.byId.delete(conv.id);
    this.byId.set(conv.id, conv);
  }

  sweep(): void {
    const now = Date.now();
    for (const conv of [...this.byId.values()]) {
      if (this.isIdle(conv, now)) this.drop(conv);
    }
  }

  clear(): void {
    for (const conv of [...this.byId.values()]) this.drop(conv);
  }

  private isIdle(conv: Conversation, now: number): boolean {
    // An open stream keeps a conversation alive even when nobody speaks.
    return conv.sockets.size === 0 && now - conv.lastUsedAt > this.idleMs;
  }

  private drop(conv: Conversation): void {
    this.byId.delete(conv.id);
    this.onDrop(conv);
  }
}

// ---------------------------------------------------------------------------------------------

function randomId(): string {
  return randomBytes(16).toString('base64url');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0]?.trim() || undefined;
}

function param(req: Request, name: string): string {
  const value: unknown = (req.params as Record<string, unknown> | undefined)?.[name];
  if (typeof value !== 'string' || value === '') throw new DirectLineHttpError(400, 'BadArgument', `missing ${name}`);
  return value;
}

function queryOf(req: Request): URLSearchParams {
  return new URL(req.url ?? '/', 'http://localhost').searchParams;
}

function noStore(res: Response): void {
  res.header('Cache-Control', 'no-store');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new DirectLineHttpError(400, 'BadArgument', `${where}: ${issue?.message ?? 'invalid'}`);
}

function sendError(res: Response, err: unknown, log: DirectLineLog): void {
  const e =
    err instanceof DirectLineHttpError ? err : new DirectLineHttpError(500, 'ServiceError', 'internal error');
  if (!(err instanceof DirectLineHttpError)) log.warn({ err: errorText(err) }, 'direct line: request failed');
  if (res.headersSent) return;
  // The rest of an oversized body is not read: close the connection after the answer.
  if (e.code === 'MessageSizeTooBig') res.header('Connection', 'close');
  res.send(e.status, { error: { code: e.code, message: e.message } });
}

function rejectUpgrade(socket: Duplex, err: DirectLineHttpError): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message } });
  socket.end(
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

const tooLarge = (limit: number): DirectLineHttpError =>
  new DirectLineHttpError(400, 'MessageSizeTooBig', `the body is larger than ${limit} bytes`);

/**
 * The request's JSON body: the one a body parser already produced (its size checked), or read
 * here with a size limit. Too large, malformed JSON, a non-object or (unless `optional`) an empty
 * body is a 400 (`MessageSizeTooBig`, `BadSyntax`, `BadArgument`, `MissingProperty`).
 */
async function readJsonBody(req: Request, limit: number, optional: boolean): Promise<unknown> {
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
  if (Buffer.byteLength(text ?? '') > limit) throw tooLarge(limit);
  if (parsed === undefined) {
    if (!text || text.trim() === '') {
      if (optional) return {};
      throw new DirectLineHttpError(400, 'MissingProperty', 'the body must be a JSON object');
    }
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DirectLineHttpError(400, 'BadSyntax', 'the body is not valid JSON');
    }
  }
  if (!isRecord(parsed)) throw new DirectLineHttpError(400, 'BadArgument', 'the body must be a JSON object');
  return parsed;
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
