/**
 * The channels this deployment runs, chosen by configuration (a channel is off until its required
 * settings are present; present but invalid settings fail at start with the variable named, as all
 * configuration does in runtime/config.ts).
 */
import type { Config } from '../runtime/config.js';
import type { Channel } from './channel.js';
import { WeChatChannel, wechatSettings } from './wechat/index.js';
import { createEmailChannel } from './email/index.js';
import { WeComChannel, wecomSettings } from './wecom/index.js';

export type { Channel, ChannelHealth, ChannelHost } from './channel.js';

/** Builds the configured channels (none by default). */
export function createChannels(config: Config): Channel[] {
  const channels: Channel[] = [];
  const wechat = wechatSettings(config);
  if (wechat) channels.push(new WeChatChannel(wechat));
  const wecom = wecomSettings(config);
  if (wecom) channels.push(new WeComChannel(wecom));
  const email = createEmailChannel(config);
  if (email) channels.push(email);
  return channels;
}
