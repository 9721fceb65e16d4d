/**
 * The channels this deployment runs, chosen by configuration (a channel is off until its required
 * settings are present; present but invalid settings fail at start with the variable named, as all
 * configuration does in runtime/config.ts).
 */
import type { Config } from '../runtime/config.js';
import type { Channel } from './channel.js';

export type { Channel, ChannelHealth, ChannelHost } from './channel.js';

/** Builds the configured channels (none by default). */
export function createChannels(_config: Config): Channel[] {
  return [];
}
