/**
 * The bot server: `createApp(deps)` builds the restify server, the Bot Framework adapter, the
 * in-process web chat channel (Direct Line 3.0 + the Web Chat page), the bot and the staff and
 * trainer routes over the application services (desk/services.ts), without opening a port (tests
 * call it); `bot/main.ts` reads the configuration, calls `createServices`, and listens.
 */
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConversationState,
  type TurnContext,
} from 'botbuilder';
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import restify from 'restify';
import type { Services } from '../desk/services.js';
import type { Config } from '../runtime/config.js';
import { boundChannelCalls, checkActivity } from './channel-guard.js';
import { DemandBot, parseRating, type PendingTickets } from './demand-bot.js';
import { numberGiven } from './intake-dialog.js';
import { heldConversations } from './held-conversations.js';
import { OutageTolerantStorage, StateUnavailableError } from '../store/state-fallback.js';
import { isUnavailable } from '../store/ticket-repository.js';
import type { FileOutbox } from '../store/outbox.js';
import { DIRECT_LINE_CHANNEL_ID, mountDirectLine, type DirectLineHandle } from './directline.js';
import type { DirectLineConversation } from '../store/directline-repository.js';
import { TypingIndicator } from './typing-indicator.js';
import { WebChatAdapter } from './webchat-adapter.js';
import { mountWebChatPage } from './webchat-page.js';
import { REPLY_LANGS, texts, type HoursToTell, type ReplyLang } from './messages.js';
import { LiveHandover } from './live-handover.js';
import type { HandoverNotices, HandoverService } from '../desk/handover.js';
import { CustomerReplies, type HeldMessage } from './proactive.js';
import { mountConsole } from '../staff/console.js';
import { mountStaff, type Staff } from '../staff/index.js';
import { createTermExtractor } from '../staff/terms.js';
import { NO_STOPWORDS } from '../classifier/tokenizer.js';
import { registerTrainerRoutes } from '../trainer/routes.js';
import { createChannels, type Channel } from '../channels/index.js';
import { MemoryGuard } from '../runtime/memory-guard.js';
import { SERVER_NODE_ARGS } from '../runtime/node-flags.js';
import { RequestsInFlight } from './requests-in-flight.js';

export interface AppDeps {
  config: Config;
  /** The application layer (store, live model, tickets, models), from `createServices`. */
  services: Services;
  log: Logger;
  /** The resident-memory guard (default: one sampling this process against MEMORY_CEILING_MB). */
  memory?: MemoryGuard;
  /** The messaging channels to run (default: those the configuration enables, channels/index.ts). */
  channels?: Channel[];
}

export interface App {
  server: restify.Server;
  adapter: CloudAdapter;
  /** Adapter of the in-process web chat channel. */
  webchatAdapter: WebChatAdapter;
  /** Closes the Direct Line and staff event streams and stops the channels' background work (bot/shutdown.ts: after the final outbox replay, which may need them). */
  closeChannels: () => Promise<void>;
  bot: DemandBot;
  replies: CustomerReplies;
  /** The staff API (routes, auth) and console. */
  staff: Staff;
  /** The messaging channels mounted on this server (WeChat, e-mail …). */
  channels: Channel[];
  /** Turns being processed now (graceful shutdown waits for them). */
  inFlight: () => number;
  /** HTTP requests being answered now, and the refusal of new ones once the stop begins (bot/requests-in-flight.ts). */
  requests: Pick<RequestsInFlight, 'count' | 'stopAccepting'>;
  /** Hands the live lines the receipt journal still holds to the web chat channel again (see `DirectLineHandle.replayReceipts`). */
  replayReceipts: (olderThanMs?: number) => Promise<number>;
}

const MAX_BODY_BYTES = 256 * 1024;

/** Builds the server over `deps.services` without listening: the bot on every channel, the web chat channel, health, staff and trainer routes, the console. */
export function createApp(deps: AppDeps): App {
  const { config, log } = deps;
  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: config.MicrosoftAppId,
    MicrosoftAppPassword: config.MicrosoftAppPassword,
    MicrosoftAppTenantId: config.MicrosoftAppTenantId,
    MicrosoftAppType: config.MicrosoftAppType,
  });
  const adapter = new CloudAdapter(auth);
  // Replies to a channel that does not answer are abandoned rather than holding the turn.
  adapter.use(async (context, next) => {
    boundChannelCalls(context.turnState.get(adapter.ConnectorClientKey), config.CHANNEL_TIMEOUT_MS);
    await next();
  });
  // The web chat channel runs in this process: its adapter writes replies straight into the Direct
  // Line conversation (no credentials, no loopback HTTP). `directLine` is mounted below.
  let directLine: DirectLineHandle | null = null;
  const webchatAdapter = new WebChatAdapter(() => directLine!);
  const { services } = deps;
  // A database outage keeps conversation state in memory until it is back (store/state-fallback.ts).
  const stateStorage = new OutageTolerantStorage(services.store.botState, log);
  const conversationState = new ConversationState(stateStorage);
  // A message kept during an outage is replayed with what its conversation's dialog was asking.
  services.tickets.useHeldConversations(heldConversations(stateStorage));
  const { holder, pipelineDeps } = services.runtime;
  const bot = createDemandBot(config, services, conversationState);

  const onTurnError = turnErrorHandler(bot, conversationState, log);
  const channels = deps.channels ?? createChannels(config);
  for (const a of [adapter, webchatAdapter, ...channels.map((c) => c.adapter)]) {
    // A typing indicator at the start of every turn, repeated while the turn runs.
    // None in a live conversation: the bot is silent there, and the indicator would be one more
    // write queued ahead of the customer's next line.
    a.use(new TypingIndicator(2000, (err) => log.debug({ err }, 'typing indicator not sent'), (context) => services.handovers.isLive(context.activity.conversation?.id ?? '')));
    a.onTurnError = onTurnError;
  }

  const server = createHttpServer(log);
  // Counted for the graceful stop, which waits for them; refused (503) once it has begun.
  const requests = new RequestsInFlight();
  server.pre(requests.handler);

  let inFlight = 0;
  server.post('/api/messages', async (req, res) => {
    // Before anything else: a refused activity costs no state, no classification, no outgoing call.
    const refusal = checkActivity(req.body, req.socket?.remoteAddress, { authenticated: config.MicrosoftAppId !== '', allowedServiceHosts: config.LOCAL_SERVICE_URL_HOSTS });
    if (refusal) {
      if (refusal.status === 403) log.warn({ peer: req.socket?.remoteAddress, code: refusal.code }, 'activity refused');
      res.send(refusal.status, { error: { code: refusal.code, message: refusal.message, ...(refusal.field ? { details: [{ field: refusal.field }] } : {}) } });
      return;
    }
    inFlight++;
    try {
      await adapter.process(req, res, (context) => bot.run(context));
    } finally {
      inFlight--;
    }
  });

  // Resident memory under MEMORY_CEILING_MB: caches shed under pressure, new conversations wait when critical.
  const memory = deps.memory ?? new MemoryGuard({ ceilingBytes: config.MEMORY_CEILING_MB * 1024 * 1024 });
  if (memory.flags().gc === 'run-time') {
    log.warn({ launch: `node ${SERVER_NODE_ARGS.join(' ')} dist/bot/main.js` }, 'node was started without --expose-gc: the memory guard will expose V8\'s gc at run time (Node documents flags changed after start as unpredictable); launch with `npm start` or the flags shown');
  }
  memory.onPressure((level) => {
    services.store.directLine.shed(level);
    services.store.botState.shed(level);
  });
  const stopMemoryGuard = memory.start();
  mountHealth(server, { services, channels, memory });

  let inFlightDirect = 0;
  const baseUrl = () => config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${(server.address() as AddressInfo | null)?.port ?? config.PORT}`;
  directLine = mountDirectLine(server, {
    repository: services.store.directLine,
    secret: config.DIRECT_LINE_SECRET,
    limits: {
      idleSeconds: config.CONVERSATION_TTL_HOURS * 3600,
      maxConversationBytes: config.WEBCHAT_MAX_CONVERSATION_BYTES,
      clientBytesPerMinute: config.WEBCHAT_CLIENT_BYTES_PER_MINUTE,
    },
    admitConversation: () => memory.level() !== 'critical',
    // A live conversation's lines go into the next batch insert, not behind the load's waiting ones.
    urgent: (conversationId) => services.handovers.isLive(conversationId),
    // ... and reach the agent on receipt, durable in the local receipt journal first (not behind the
    // database's single writer); the turn then puts them on the ticket without showing them again.
    receipts: {
      journal: services.store.receipts,
      accepts: (conversationId, text) => services.handovers.mayShowOnReceipt(conversationId, text, { readsAsRating: parseRating(text) !== null }) && bot.acceptsLine(conversationId, text),
      show: (conversationId, text) => void services.handovers.showOnReceipt(conversationId, text, { readsAsRating: parseRating(text) !== null }),
    },
    // A returning customer whose conversation expired: continues in the new one, and sees there what
    // staff sent meanwhile (held by `replies` below).
    onReturningCustomer: returningCustomer(services, () => replies, baseUrl, log),
    publicBaseUrl: baseUrl,
    deliverToBot: async (activity) => {
      inFlightDirect++;
      try {
        await webchatAdapter.processActivity(activity, (context) => bot.run(context));
      } finally {
        inFlightDirect--;
      }
    },
    log: { info: (o, m) => log.debug(o, m), warn: (o, m) => log.warn(o, m) },
  });
  mountWebChatPage(server, {});

  for (const c of channels) c.mount({ server, bot: (context) => bot.run(context), services, log: log.child({ channel: c.id }) });
  const channelAdapters = new Map(channels.map((c) => [c.id, c.adapter]));
  const dl = services.store.directLine;
  const replies = new CustomerReplies(
    (channelId) => {
      if (channelId === DIRECT_LINE_CHANNEL_ID) return { adapter: webchatAdapter, appId: '' };
      const own = channelAdapters.get(channelId);
      return own ? { adapter: own, appId: '' } : { adapter, appId: config.MicrosoftAppId };
    },
    bot,
    {
      channelId: DIRECT_LINE_CHANNEL_ID,
      gone: async (id) => (await dl.getConversation(id)) === null,
      successor: async (userId) => (await dl.successor(userId))?._id ?? null,
      hold: (userId, held) => dl.hold(userId, held),
    },
  );
  services.useCustomerChannel(replies);
  services.useHandoverNotices(handoverNotices());
  const staffDeps = {
    services,
    store: services.store,
    taxonomy: services.taxonomy,
    classifier: holder,
    // Every model version loads with the same tokenizer and stopwords (the loader checks it).
    terms: createTermExtractor(pipelineDeps.tokenizer, pipelineDeps.stopwords ?? NO_STOPWORDS),
    config,
    log,
  };
  const staff = mountStaff(server, staffDeps);
  registerTrainerRoutes(staff.router, staffDeps);
  mountConsole(server);
  return {
    server,
    adapter,
    webchatAdapter,
    bot,
    replies,
    staff,
    channels,
    inFlight: () => inFlight + inFlightDirect,
    requests,
    replayReceipts: (olderThanMs) => directLine?.replayReceipts(olderThanMs) ?? Promise.resolve(0),
    closeChannels: async () => {
      staff.streams.closeAll();
      stopMemoryGuard();
      await Promise.all([directLine?.close(), ...channels.map((c) => c.close())]);
    },
  };
}

/**
 * The hours told to a customer who asks for a person: SUPPORT_HOURS as the team wrote them, else the
 * parsed SERVICE_HOURS (said in the customer's language, never as the configuration writes them),
 * else none.
 */
export function hoursToTell(config: Pick<Config, 'SUPPORT_HOURS'>, handovers: Pick<HandoverService, 'serviceHours'>): HoursToTell | null {
  return config.SUPPORT_HOURS ?? handovers.serviceHours();
}

/** The bot over the application services: intake, status, follow-ups, ratings and the live handover. */
function createDemandBot(config: Config, services: Services, conversationState: ConversationState): DemandBot {
  const { holder } = services.runtime;
  const tickets = services.tickets;
  return new DemandBot({
    classifier: holder,
    tickets,
    lookup: { forCustomer: (n, c) => tickets.forCustomer(n, c), latestOpenFor: (c, u) => tickets.latestOpenFor(c, u), list: (q) => tickets.list(q), addCustomerMessage: (n, t, o) => tickets.addCustomerMessage(n, t, o), rate: (n, r, c) => tickets.rate(n, r, c) },
    pending: pendingTickets(services.store.outbox),
    hold: (m) => tickets.hold(m),
    taxonomy: services.taxonomy,
    conversationState,
    maxMessageLength: config.MAX_TEXT_LENGTH,
    rateLimit: config.RATE_LIMIT_PER_10S,
    rateWindowMs: 10_000,
    supportHours: hoursToTell(config, services.handovers),
    live: (state) =>
      new LiveHandover(state, {
        handovers: services.handovers,
        tickets,
        lookup: { latestOpenFor: (c, u) => tickets.latestOpenFor(c, u), addCustomerMessage: (n, t) => tickets.addCustomerMessage(n, t, { live: true }), filedFor: (n, c) => tickets.filedFor(n, c), flagAskedForPerson: (n) => tickets.flagAskedForPerson(n) },
        pending: pendingTickets(services.store.outbox),
        classifier: holder,
      }),
  });
}

/** One failing turn never breaks the conversation: apologise, log, and reset the dialog stack. */
function turnErrorHandler(bot: DemandBot, conversationState: ConversationState, log: Logger) {
  return async (context: TurnContext, error: Error) => {
    log.error({ err: error, conversation: context.activity.conversation?.id, activity: context.activity.type }, 'turn failed');
    try {
      // A customer told a ticket number this turn was told the truth: an apology would contradict it.
      if (numberGiven(context)) return;
      const lang = await bot.replyLang(context).catch(() => 'zh-Hans' as const);
      await context.sendActivity(texts(lang).error);
      // The stack is reset only when the database can take it; otherwise the dialog waits for it.
      if (!isUnavailable(error) && !(error instanceof StateUnavailableError)) await conversationState.delete(context);
    } catch (err) {
      log.error({ err }, 'could not apologise for a failed turn');
    }
  };
}

/** The restify server: bodies parsed only when present and not a channel's own, errors as clear JSON. */
function createHttpServer(log: Logger): restify.Server {
  const server = restify.createServer({ name: 'demand-bot', handleUncaughtExceptions: false });
  server.use(restify.plugins.queryParser());
  // Bodies are parsed only when the request has one: a DELETE without a body and without a
  // Content-Type is not an "unsupported media type".
  const bodyParsers = restify.plugins.bodyParser({ maxBodySize: MAX_BODY_BYTES, mapParams: false, rejectUnknown: true });
  server.use((req, res, next) => {
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return next();
    // Channels read their own bodies: WeChat posts XML, which these parsers refuse, and signs the raw bytes.
    if (req.path().startsWith('/channels/')) return next();
    let i = 0;
    const step = (err?: unknown) => (err !== undefined && err !== null ? next(err as Error) : i < bodyParsers.length ? bodyParsers[i++](req, res, step) : next());
    step();
  });

  // Errors restify raises itself (bad JSON, body too large, unknown route) as clear JSON.
  server.on('restifyError', (req: restify.Request, res: restify.Response, err: Error & { statusCode?: number; toJSON?: () => unknown }, next: () => void) => {
    // An oversized body is a bad request like any other malformed one (400, with the limit named).
    if (err.statusCode === 413) {
      err.statusCode = 400;
      err.message = `request body is larger than ${MAX_BODY_BYTES} bytes`;
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) log.error({ err, url: req.url }, 'request failed');
    err.toJSON = () => ({ error: { code: err.name, message: status >= 500 ? 'internal error' : err.message } });
    next();
  });

  return server;
}

/** `/healthz` (the process answers) and `/readyz` (the database, the model, what waits, capacity, memory, channels). */
function mountHealth(server: restify.Server, { services, channels, memory }: { services: Services; channels: Channel[]; memory: MemoryGuard }): void {
  const { holder } = services.runtime;
  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok' });
  });
  server.get('/readyz', async (_req, res) => {
    const db = await services.databaseReady().catch(() => false);
    const embedded = services.databaseStatus();
    // Capacity is a warning, not readiness: near or over the embedded ceiling still answers 200.
    const capacity = db ? await services.store.capacity.status().catch(() => null) : null;
    // A channel that is down is reported, not fatal: the others and the console keep working.
    const channelHealth = await Promise.all(channels.map((c) => Promise.resolve(c.health()).catch((err: Error) => ({ channel: c.id, status: 'down' as const, detail: err.message }))));
    res.send(db ? 200 : 503, {
      status: db ? 'ready' : 'database unavailable',
      model: holder.version,
      outboxPending: services.store.outbox.pending(),
      // Customer messages kept during an outage, waiting to reach staff (store/held-messages.ts).
      heldPending: services.store.held.pending(),
      ...(embedded ? { database: embedded } : {}),
      capacity,
      memory: memory.status(),
      channels: channelHealth,
    });
  });

}

/**
 * A returning customer whose conversation expired continues in the new one, and sees there what
 * staff sent meanwhile (held for them by the customer replies).
 */
function returningCustomer(services: Services, replies: () => CustomerReplies, baseUrl: () => string, log: Logger) {
  return async (conv: DirectLineConversation): Promise<void> => {
    const dl = services.store.directLine;
    await dl.setSuccessor(conv.userId, conv._id, conv.expiresAt);
    const held = await dl.heldFor(conv.userId);
    const posted: string[] = [];
    const ref = {
      channelId: DIRECT_LINE_CHANNEL_ID,
      serviceUrl: `${baseUrl().replace(/\/+$/, '')}/v3/directline`,
      conversation: { id: conv._id, isGroup: false, conversationType: 'personal', name: '' },
      user: { id: conv.userId, name: conv.userName ?? '', role: 'user' },
      bot: { id: 'bot', name: 'bot', role: 'bot' },
    };
    for (const h of held) {
      const m = h.record as HeldMessage;
      const ticket = await services.tickets.find(m.ticketNumber);
      const error = ticket ? await replies().sendHeld(ticket, m, ref) : null;
      if (error) log.warn({ conversationId: conv._id, ticket: m.ticketNumber, error }, 'held message not posted; kept for the next visit');
      else posted.push(h.id);
    }
    await dl.releaseHeld(posted);
  };
}

/** Status lookups of tickets waiting in the outbox (the outbox keeps whole ticket documents). */
function pendingTickets(outbox: FileOutbox): PendingTickets {
  type Doc = { number?: unknown; customer?: { channelId?: unknown; userId?: unknown } };
  const mine = (d: Doc, channelId: string, userId: string) => d.customer?.channelId === channelId && d.customer?.userId === userId;
  return {
    find: (number, channelId, userId) => {
      const d = outbox.find((doc) => (doc as Doc).number === number && mine(doc as Doc, channelId, userId), number)[0];
      return d ? { number } : null;
    },
    latestFor: (channelId, userId) => {
      // The text filter is exact only for ids JSON writes unescaped.
      const d = outbox.find((doc) => mine(doc as Doc, channelId, userId), /^[\w.:@-]+$/.test(userId) ? userId : undefined).at(-1) as Doc | undefined;
      return typeof d?.number === 'string' ? { number: d.number } : null;
    },
  };
}

/** What the live queue tells a customer, in the conversation's language (bot/messages.ts). */
function handoverNotices(): HandoverNotices {
  const t = (lang: string) => texts((REPLY_LANGS as readonly string[]).includes(lang) ? (lang as ReplyLang) : 'zh-Hans');
  return {
    taken: (lang, agent) => t(lang).handoverTaken(agent),
    handedBack: (lang) => t(lang).handoverBack,
    ended: (lang, n) => t(lang).handoverEnded(n),
    timedOut: (lang, n) => t(lang).handoverTimedOut(n),
    timedOutAnswered: (lang, n) => t(lang).handoverTimedOutAnswered(n),
    timedOutResolved: (lang, n) => t(lang).handoverTimedOutResolved(n),
  };
}
