/**
 * The WebSocket streams of the web chat channel (`/v3/directline/conversations/{id}/stream`).
 * Each socket has its own position (the watermark it has been sent up to); what it is sent always
 * comes from the activity log, so it makes no difference which process appended an activity:
 * - appended here: pushed at once (read back from the log only when the socket is behind);
 * - appended by another process: that process rings the conversation on the doorbell feed; this
 *   process reads the newest feed entries every `feedPollMs` (one small natural-order read) and
 *   catches its sockets up from the log. While other processes are about, a slower sweep of every
 *   streamed conversation (every 5 s) covers a missed bell.
 * Keep-alives: an empty text message every `heartbeatSeconds` (directlinejs ignores it) and a ping
 * that drops dead connections.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { DirectLineConversation, LoggedActivity, MongoDirectLineRepository } from '../../store/directline-repository.js';
import type { ConversationService } from './conversations.js';
import { DirectLineError, TooManyRequestsError } from './errors.js';
import { errorText, rejectUpgrade, type DirectLineLog } from './http.js';
import type { ResolvedLimits } from './limits.js';

interface Streamed {
  /** Open sockets and the watermark each has been sent up to. */
  sockets: Map<WebSocket, number>;
  /** Catch-ups run one after another per conversation, so messages go out in order. */
  busy: Promise<void>;
}

const SAFETY_SWEEP_MS = 5000;

/** The WebSocket streams this process holds, kept up to date from the activity log. */
export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly streamed = new Map<string, Streamed>();
  private readonly alive = new WeakMap<WebSocket, boolean>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** When the feed last showed another process's news. */
  private othersSeenAt = 0;
  private polling = false;
  private closed = false;

  constructor(
    private readonly repo: MongoDirectLineRepository,
    private readonly conversations: ConversationService,
    private readonly limits: ResolvedLimits,
    private readonly log: DirectLineLog,
  ) {}

  /** Starts keep-alives, the process heartbeat and the feed polling. */
  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.limits.heartbeatSeconds * 1000, () => this.keepAlive());
    // Polled fast while other processes are about, once a second while this one is alone.
    let lastPoll = 0;
    every(this.limits.feedPollMs, () => {
      const alone = Date.now() - this.othersSeenAt > 60_000;
      if (alone && Date.now() - lastPoll < 1000) return;
      lastPoll = Date.now();
      void this.pollFeeds();
    });
    every(SAFETY_SWEEP_MS, () => {
      // Only while other processes are about: alone, every append is pushed here directly.
      if (Date.now() - this.othersSeenAt < 60_000) for (const id of this.streamed.keys()) this.catchUp(id);
    });
  }

  /** Upgrades an authorized request to a stream of `conv` from `watermark` on. */
  open(req: IncomingMessage, socket: Duplex, head: Buffer, conv: DirectLineConversation, watermark: number): void {
    const entry = this.streamed.get(conv._id);
    if (entry && entry.sockets.size >= this.limits.maxSocketsPerConversation) {
      rejectUpgrade(socket, new TooManyRequestsError('too many open streams for this conversation'));
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const s = this.streamed.get(conv._id) ?? { sockets: new Map<WebSocket, number>(), busy: Promise.resolve() };
      this.streamed.set(conv._id, s);
      s.sockets.set(ws, watermark);
      this.alive.set(ws, true);
      ws.on('pong', () => this.alive.set(ws, true));
      ws.on('message', () => this.alive.set(ws, true)); // directlinejs's "" keep-alives
      const forget = () => {
        s.sockets.delete(ws);
        if (s.sockets.size === 0 && this.streamed.get(conv._id) === s) this.streamed.delete(conv._id);
      };
      ws.on('close', forget);
      ws.on('error', forget);
      // Replay what is retained after the watermark (a greeting sent before the socket opened); up
      // to the end this process vouches for when it can (a missed lookup is a scan on FerretDB).
      this.catchUp(conv._id, conv, this.repo.knownEnd(conv._id));
    });
  }

  /** An activity was appended in this process: push it, or catch up if a socket is behind. */
  appended(conversationId: string, entry: LoggedActivity): void {
    const s = this.streamed.get(conversationId);
    if (!s) return;
    s.busy = s.busy.then(async () => {
      let behind = false;
      const message = JSON.stringify({ activities: [entry.activity], watermark: String(entry.seq) });
      for (const [ws, sent] of s.sockets) {
        if (sent >= entry.seq) continue;
        if (sent !== entry.seq - 1) {
          behind = true;
          continue;
        }
        if (ws.readyState === WebSocket.OPEN) ws.send(message);
        s.sockets.set(ws, entry.seq);
      }
      // Up to this entry only: the end of the log need not be looked up (a miss is a scan on FerretDB).
      if (behind) await this.sendFromLog(conversationId, s, undefined, entry.seq);
    });
  }

  /** Brings every socket of a conversation up to the end of the log. */
  catchUp(conversationId: string, conv?: DirectLineConversation, upTo?: number): void {
    const s = this.streamed.get(conversationId);
    if (!s) return;
    s.busy = s.busy.then(() => this.sendFromLog(conversationId, s, conv, upTo));
  }

  private async sendFromLog(conversationId: string, s: Streamed, known?: DirectLineConversation, upTo?: number): Promise<void> {
    if (s.sockets.size === 0) return;
    try {
      const conv = known ?? (await this.repo.getConversation(conversationId));
      if (!conv) {
        for (const ws of s.sockets.keys()) ws.close(1001, 'conversation expired');
        return;
      }
      const from = Math.min(...s.sockets.values());
      const { entries } = await this.conversations.after(conv, from, upTo);
      for (const [ws, sent] of s.sockets) {
        const mine = entries.filter((e) => e.seq > sent);
        if (mine.length === 0) continue;
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ activities: mine.map((e) => e.activity), watermark: String(mine[mine.length - 1].seq) }));
        }
        s.sockets.set(ws, mine[mine.length - 1].seq);
      }
    } catch (err) {
      this.log.warn({ conversationId, err: errorText(err) }, 'direct line: could not bring a stream up to date; will retry');
    }
  }

  private keepAlive(): void {
    for (const ws of this.wss.clients) {
      if (this.alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      this.alive.set(ws, false);
      ws.ping();
      ws.send(''); // Direct Line's keep-alive: an empty message, ignored by clients
    }
  }

  private async pollFeeds(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const { conversations, others } = await this.repo.readFeed();
      if (others) this.othersSeenAt = Date.now();
      for (const id of conversations) this.catchUp(id);
    } catch (err) {
      this.log.warn({ err: errorText(err) }, "direct line: could not read the other processes' news");
    } finally {
      this.polling = false;
    }
  }

  /** Closes every stream and stops the timers. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const ws of this.wss.clients) ws.close(1001, 'server closing');
    this.wss.close();
    this.streamed.clear();
  }
}

/** Answers a refused upgrade with the error's status (internal errors as 500). */
export function refuseUpgrade(socket: Duplex, err: unknown, log: DirectLineLog): void {
  rejectUpgrade(socket, err instanceof DirectLineError ? err : new DirectLineError(500, 'ServiceError', 'internal error'));
  if (!(err instanceof DirectLineError)) log.warn({ err: errorText(err) }, 'direct line: stream upgrade failed');
}
