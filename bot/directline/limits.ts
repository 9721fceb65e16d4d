/**
 * Limits of the web chat channel, checked before anything is stored: per conversation (activities
 * kept, bytes the client may post over its life, open streams, lifetime) and per client address
 * (bytes per minute, new conversations counted as 1 KiB each). The byte budgets are counted in
 * this process's memory, in maps bounded by entries; with several processes each keeps its own.
 */
import { TooManyRequestsError } from './errors.js';

/** The limits; the defaults suit production. */
export interface DirectLineLimits {
  /** Activities kept per conversation (older ones drop off; watermarks stay valid). Default 500. */
  maxActivities?: number;
  /** A conversation expires this long after it started (its log is dropped with its bucket). Default 24 h. */
  idleSeconds?: number;
  /** Bytes a client may post into one conversation over its life (per process). Default 1 MiB. */
  maxConversationBytes?: number;
  /** Bytes one client address may post per minute, all conversations together. Default 4 MiB. */
  clientBytesPerMinute?: number;
  /** Open WebSocket streams per conversation. Default 8. */
  maxSocketsPerConversation?: number;
  /** Seconds between keep-alives (an empty message and a ping) on every stream. Default 30. */
  heartbeatSeconds?: number;
  /** How often this process looks for other processes' news (the doorbell feed), in ms. Default 150. */
  feedPollMs?: number;
}

/** The limits with every default filled in. */
export type ResolvedLimits = Required<DirectLineLimits>;

/** Fills in the defaults; a non-positive or non-finite limit is a start-up error. */
export function resolveLimits(l: DirectLineLimits = {}): ResolvedLimits {
  const r: ResolvedLimits = {
    maxActivities: l.maxActivities ?? 500,
    idleSeconds: l.idleSeconds ?? 24 * 3600,
    maxConversationBytes: l.maxConversationBytes ?? 1024 * 1024,
    clientBytesPerMinute: l.clientBytesPerMinute ?? 4 * 1024 * 1024,
    maxSocketsPerConversation: l.maxSocketsPerConversation ?? 8,
    heartbeatSeconds: l.heartbeatSeconds ?? 30,
    feedPollMs: l.feedPollMs ?? 150,
  };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isFinite(v) || v <= 0) throw new RangeError(`direct line limit ${k} must be a positive number`);
  }
  return r;
}

/** What opening a conversation costs against the client's byte budget. */
export const NEW_CONVERSATION_COST = 1024;

/**
 * Bytes per client address per minute (a fixed one-minute window). `charge` throws 429 BEFORE the
 * caller stores anything, so a flood costs the server no memory or storage.
 */
export class ClientBudget {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(
    private readonly bytesPerMinute: number,
    private readonly maxClients = 20_000,
  ) {}

  charge(client: string, bytes: number, now = Date.now()): void {
    let w = this.windows.get(client);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, used: 0 };
      this.windows.delete(client);
      this.windows.set(client, w);
      // Bounded memory: the oldest windows go first (a Map keeps insertion order).
      while (this.windows.size > this.maxClients) this.windows.delete(this.windows.keys().next().value as string);
    }
    if (w.used + bytes > this.bytesPerMinute) {
      throw new TooManyRequestsError(
        `this client posted more than ${this.bytesPerMinute} bytes in a minute; try again shortly`,
        Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000)),
      );
    }
    w.used += bytes;
  }
}
