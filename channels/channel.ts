/**
 * The channel layer: each messaging channel (WeChat Official Account, WeCom customer service,
 * e-mail …) is an adapter in its own folder, `channels/<name>/`, that turns the channel's inbound
 * messages into Bot Framework activities for the one bot, and delivers the bot's replies and staff's
 * proactive replies back on the same channel. The web chat (bot/directline, bot/webchat-adapter.ts)
 * is the in-process channel that predates this layer; Bot Framework channels go through
 * `/api/messages`.
 */
import type { BotAdapter, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import type restify from 'restify';
import type { Services } from '../desk/services.js';

/** A channel's state for `/readyz` (a channel that is down does not make the server unready). */
export interface ChannelHealth {
  /** The channel's Bot Framework channelId. */
  channel: string;
  status: 'ok' | 'degraded' | 'down';
  /** Why it is degraded or down, in English, for operators. */
  detail?: string;
}

/** What the app hands a channel when it mounts it. */
export interface ChannelHost {
  server: restify.Server;
  /** The bot's turn logic; run it through the channel's adapter (`adapter.processActivity`-style) so middleware and `onTurnError` apply. */
  bot: (context: TurnContext) => Promise<void>;
  services: Services;
  log: Logger;
}

/** One messaging channel. */
export interface Channel {
  /** The Bot Framework channelId of its activities and tickets, e.g. `wechat`, `email`. */
  readonly id: string;
  /**
   * Sends the bot's replies on the channel, and proactive staff replies through
   * `continueConversationAsync(appId, conversationReference, logic)`; the app adds its middleware
   * and turn-error handler to it.
   */
  readonly adapter: BotAdapter;
  /** Registers the channel's routes and starts its background work (polling, token refresh). */
  mount(host: ChannelHost): void;
  health(): ChannelHealth | Promise<ChannelHealth>;
  /** Stops background work; turns in flight may finish. */
  close(): Promise<void>;
}
