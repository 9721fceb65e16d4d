/**
 * A Direct Line 3.0-compatible channel inside the bot's own restify process, so the standard Bot
 * Framework Web Chat component and the unmodified `botframework-directlinejs` client talk to the bot
 * with no cloud service. This file composes the parts:
 *
 * - `directline/routes.ts`: the client side (conversations, tokens, activities with watermarks);
 * - `directline/streams.ts`: the WebSocket stream at `streamUrl`, fed from the activity log;
 * - `directline/conversations.ts`: conversations, the activity log, delivery to the bot;
 * - `directline/tokens.ts`: tokens and customer keys (who the user is: the server decides);
 * - `directline/limits.ts`: per-conversation and per-client limits, checked before storing;
 * - `store/directline-repository.ts`: all of it in MongoDB, so any number of processes serve any
 *   conversation (a request may reach any process; a reply appended by any process reaches the
 *   streams of all of them).
 *
 * The bot's side runs in process: the bot receives each user activity through `deliverToBot`, and
 * its adapter (`webchat-adapter.ts`) sends replies and updates through the handle's
 * `postFromBot`/`updateFromBot`. There are no Bot Connector HTTP endpoints to forge replies through.
 *
 * Compatibility notes (checked against botframework-directlinejs 0.15.8 and Web Chat 4.18):
 * - Tokens are HS256 JWTs (`conv`, `user`, `exp`); directlinejs and Web Chat read the `user` claim.
 *   A missing, malformed, forged or foreign token gets 401; a well-signed but expired one gets
 *   **403 `TokenExpired`**, the status directlinejs treats as "token expired".
 * - The user's own activities are echoed into the log and the stream (Web Chat marks a message as
 *   sent when the echo with its `channelData.clientActivityID` arrives), ids are
 *   `<conversationId>|<seq as 7 digits>`, and the watermark is the sequence number.
 * - The stream sends `{activities, watermark}` messages and an empty keep-alive message; on connect
 *   it replays the retained activities after the `watermark` query parameter.
 * - `streamUrl` is built from the request's `Host` (and `X-Forwarded-Proto`).
 * - Not implemented: attachment upload (`/upload` answers 501; the page hides the upload button),
 *   the streaming extensions (`DirectLineStreaming`), CORS (the page is served from the same origin).
 *
 * Mount it on a restify server created without `handleUpgrades` (the default): the WebSocket
 * upgrade is taken from `server.server`'s `'upgrade'` event. A global `bodyParser` is fine.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Activity } from 'botbuilder';
import type { Server } from 'restify';
import { MongoDirectLineRepository, type DirectLineConversation } from '../store/directline-repository.js';
import { ConversationService, type ReceiptOptions, type WireActivity } from './directline/conversations.js';
import { BadRequestError, NotFoundError, ServiceBusyError } from './directline/errors.js';
import { bearer, parseWatermark, parseWith, type DirectLineLog } from './directline/http.js';
import { ClientBudget, resolveLimits, type DirectLineLimits } from './directline/limits.js';
import { authorize, DIRECT_LINE_PREFIX, mountClientRoutes } from './directline/routes.js';
import { BotActivitySchema, ClientActivitySchema } from './directline/schemas.js';
import { refuseUpgrade, StreamHub } from './directline/streams.js';
import { TokenService } from './directline/tokens.js';

export { DIRECT_LINE_CHANNEL_ID, WEBCHAT_USER_PREFIX } from './directline/conversations.js';
export { CUSTOMER_KEY_HEADER, MAX_CLIENT_BODY_BYTES } from './directline/routes.js';
export { DirectLineError } from './directline/errors.js';
export type { DirectLineLimits } from './directline/limits.js';
export type { DirectLineLog } from './directline/http.js';

/** Default token lifetime, as Azure's: 30 minutes (directlinejs refreshes every 15). */
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 60;

const STREAM_PATH = /^\/v3\/directline\/conversations\/([^/]+)\/stream$/;

export interface DirectLineOptions {
  /** Where the channel's conversations and logs live (shared by every process on the database). */
  repository: MongoDirectLineRepository;
  /** The base URL at which this server is reached, e.g. `http://127.0.0.1:3978` (stream URL fallback). */
  publicBaseUrl: () => string;
  /** Hands a stamped user activity to the bot. */
  deliverToBot: (activity: Activity) => Promise<void>;
  /**
   * The Direct Line secret. When set, `tokens/generate` and starting a conversation without a
   * token require `Authorization: Bearer <secret>` (and only then may the caller choose the user
   * id), the secret is accepted wherever a token is, and tokens are signed with a key derived from
   * it. When unset, those two calls are open but the server issues the user id, and the signing
   * key is created once in the database. `GET /api/webchat/token` is always open: it serves the page.
   */
  secret?: string;
  /** Token lifetime in seconds (default 1800). */
  tokenTtlSeconds?: number;
  /** The bot's id as the channel names it (`recipient.id` of user activities). Default `bot`. */
  botId?: string;
  limits?: DirectLineLimits;
  /**
   * Conversations whose activities go to the head of the batch-insert queue, into the next batch,
   * rather than behind every other conversation's waiting documents (a live chat with a person:
   * seconds of queueing under load are what the agent and customer would wait). Default: none.
   */
  urgent?: (conversationId: string) => boolean;
  /**
   * A live conversation's lines are shown to the person on receipt rather than after their write to
   * the database (under load that write waits behind every other conversation's): a line `accepts`
   * takes is recorded in `journal` (local, fsynced), then `show`n, then stored and handed to the bot
   * as any other. Lines the journal still holds `replayAfterMs` later (default 30 s: the database
   * write failed and the client did not re-send, or the process stopped) are handed to the channel
   * again, as a client's re-send (recognised by their client activity id when already stored). Without
   * it, the bot's turn shows them once stored. Default: none.
   */
  receipts?: ReceiptOptions & { replayAfterMs?: number };
  /**
   * Called when a returning customer (the page presents their customer key) gets a new
   * conversation because theirs expired or is unknown: the bot posts what was held for them (staff
   * replies sent after the conversation expired). Default: nothing.
   */
  onReturningCustomer?: (conv: DirectLineConversation) => Promise<void>;
  /** Whether a new conversation may open now (false: 503 with Retry-After). Default: always. */
  admitConversation?: () => boolean;
  log?: DirectLineLog;
}

/** Handle returned by {@link mountDirectLine}. */
export interface DirectLineHandle {
  /** Stops timers and closes every stream. Routes stay mounted; the data stays in the database. */
  close(): Promise<void>;
  /** Posts a bot activity (JSON wire form) into a conversation; resolves with its id. */
  postFromBot(conversationId: string, activity: Record<string, unknown>, replyTo?: string): Promise<string>;
  /** Replaces a bot activity (same id). */
  updateFromBot(conversationId: string, activityId: string, activity: Record<string, unknown>): Promise<void>;
  /**
   * Hands the receipt journal's lines received at least `olderThanMs` ago to the channel again (see
   * `DirectLineOptions.receipts`); resolves with how many were settled. Runs by itself at start and
   * on a timer.
   */
  replayReceipts(olderThanMs?: number): Promise<number>;
}

/** Mounts the Direct Line 3.0 client endpoints, the WebSocket stream and `GET /api/webchat/token`. */
export function mountDirectLine(server: Server, opts: DirectLineOptions): DirectLineHandle {
  const log: DirectLineLog = opts.log ?? { info: () => undefined, warn: () => undefined };
  const ttlSeconds = opts.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new RangeError('tokenTtlSeconds must be a positive number');
  const limits = resolveLimits(opts.limits);
  const repo = opts.repository;
  const secret = opts.secret || undefined;
  const tokens = new TokenService(
    async () => (secret ? TokenService.keyFromSecret(secret) : repo.sharedKey('directline-token-signing')),
    ttlSeconds,
    secret,
  );

  let streams: StreamHub | undefined;
  const ringing = new Set<string>();
  const conversations = new ConversationService({
    repo,
    limits,
    botId: opts.botId ?? 'bot',
    serviceUrl: () => `${opts.publicBaseUrl().replace(/\/+$/, '')}${DIRECT_LINE_PREFIX}`,
    deliverToBot: opts.deliverToBot,
    urgent: opts.urgent ?? (() => false),
    receipts: opts.receipts,
    reference: (clientUserId) => tokens.customerReference(clientUserId),
    onAppended: (conversationId, entry) => {
      streams?.appended(conversationId, entry);
      // One bell for a burst (the echo, typing and the reply of one turn): other processes read
      // the whole log after their sockets' watermarks anyway.
      if (ringing.has(conversationId)) return;
      ringing.add(conversationId);
      setTimeout(() => {
        ringing.delete(conversationId);
        repo.ring(conversationId).catch((err: Error) => log.warn({ conversationId, err: err.message }, 'direct line: could not ring the other processes'));
      }, 30).unref();
    },
    log,
  });
  streams = new StreamHub(repo, conversations, limits, log);
  const hub = streams;

  const admitConversation = () => {
    if (opts.admitConversation && !opts.admitConversation()) throw new ServiceBusyError(5);
  };
  mountClientRoutes(server, { tokens, conversations, admitConversation, onReturningCustomer: opts.onReturningCustomer ?? (async () => undefined), budget: new ClientBudget(limits.clientBytesPerMinute), secured: secret !== undefined, publicBaseUrl: opts.publicBaseUrl, log });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return refuseUpgrade(socket, new BadRequestError('BadArgument', 'bad request URL'), log);
    }
    const match = STREAM_PATH.exec(url.pathname);
    if (!match) {
      // Other upgrade paths belong to whoever else listens; ours are answered.
      if (url.pathname.startsWith(`${DIRECT_LINE_PREFIX}/`)) refuseUpgrade(socket, new NotFoundError('no such stream'), log);
      return;
    }
    (async () => {
      const credential = url.searchParams.get('t') ?? bearer(req);
      const { conv } = await authorize({ tokens, conversations }, credential ?? undefined, decodeURIComponent(match[1]));
      hub.open(req, socket, head, conv, parseWatermark(url.searchParams.get('watermark')));
    })().catch((err: unknown) => refuseUpgrade(socket, err, log));
  };
  server.server.on('upgrade', onUpgrade);
  hub.start();

  // Tables for the next bucket are made ahead of time (see store/directline-repository.ts).
  const prepare = () => repo.prepare().catch((err: Error) => log.warn({ err: err.message }, 'direct line: could not create the next collections'));
  void prepare();
  const sweeper = setInterval(() => {
    void prepare();
    repo.sweepExpired(limits.idleSeconds * 1000).catch((err: Error) => log.warn({ err: err.message }, 'direct line: sweeping expired conversations failed'));
  }, Math.min(120_000, Math.max(1000, (limits.idleSeconds * 1000) / 2)));
  sweeper.unref();

  const receipts = opts.receipts;
  const replayAfterMs = receipts?.replayAfterMs ?? 30_000;
  let replaying: Promise<number> | null = null;
  const replayReceipts = (olderThanMs = replayAfterMs): Promise<number> => {
    if (!receipts) return Promise.resolve(0);
    // One replay at a time: a second call waits for it and then looks again.
    const run = (replaying ?? Promise.resolve(0)).catch(() => 0).then(async () => {
      let settled = 0;
      for (const line of receipts.journal.pending(olderThanMs)) {
        if (conversations.isStoring(line.key)) continue; // its first store is still running here
        const conv = await conversations.find(line.conversationId);
        if (!conv) {
          // Expired (hours after it was received): the channel can no longer take it.
          log.warn({ conversationId: line.conversationId, key: line.key }, 'direct line: a journaled live line belongs to a conversation that is gone; dropped from the journal');
          receipts.journal.settle(line.key);
          continue;
        }
        // As the client's re-send: stored and handed to the bot unless the log has it already.
        await conversations.fromClient(conv, parseWith(ClientActivitySchema, line.activity), line.bytes, true);
        receipts.journal.settle(line.key);
        settled++;
      }
      return settled;
    });
    replaying = run;
    return run;
  };
  const replayer = receipts
    ? setInterval(() => {
        replayReceipts().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'direct line: journaled live lines not replayed yet; will retry'));
      }, Math.max(1000, replayAfterMs))
    : null;
  replayer?.unref();
  // What an earlier run left (it stopped between showing a line and storing it).
  if (receipts?.journal.pending().length) {
    setImmediate(() => replayReceipts(0).catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'direct line: journaled live lines not replayed yet; will retry')));
  }

  return {
    replayReceipts,
    async close() {
      if (replayer) clearInterval(replayer);
      clearInterval(sweeper);
      server.server.off('upgrade', onUpgrade);
      await hub.close();
    },
    postFromBot(conversationId, body, replyTo) {
      return conversations.fromBot(conversationId, parseWith(BotActivitySchema, body) as WireActivity, replyTo);
    },
    updateFromBot(conversationId, targetId, body) {
      return conversations.updateFromBot(conversationId, targetId, parseWith(BotActivitySchema, body) as WireActivity);
    },
  };
}
