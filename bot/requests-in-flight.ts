/**
 * The HTTP requests the server is answering now, for the graceful stop (bot/shutdown.ts): a staff
 * request in flight (a reply being delivered and recorded, a ticket change) finishes with its normal
 * answer before the database closes under it, and a request that arrives once the stop has begun
 * (on a kept-alive connection: the listener no longer accepts new ones) is refused with 503,
 * `Retry-After` and `Connection: close`, what a load balancer expects of a server going away, so it
 * is sent again to another process or after the restart.
 *
 * Streams are not requests to wait for: a staff event stream (`Accept: text/event-stream`, GET
 * /api/events) lasts as long as the console is open, and is closed by the stop with the other
 * channels; Direct Line streams are WebSocket upgrades, which never pass here.
 */
import type { Request, Response, Next } from 'restify';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../staff/http.js';

/** The 503 body of a request refused because the server is stopping (staff/console/format.js words it for people). */
export const STOPPING = { code: 'SERVER_STOPPING', message: 'the server is restarting; send the request again in a few seconds' } as const;

export class RequestsInFlight {
  private readonly open = new Set<Response>();
  private stopping = false;

  /** The restify `pre` handler: counts a request until its response is finished or its connection closes; refuses one once stopping. */
  readonly handler = (req: Request, res: Response, next: Next): void => {
    if (this.stopping) {
      res.header('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      res.header('Connection', 'close');
      res.send(503, { error: STOPPING });
      next(false);
      return;
    }
    if (!(req.headers.accept ?? '').includes('text/event-stream')) {
      this.open.add(res);
      res.once('close', () => this.open.delete(res));
    }
    next();
  };

  /** Requests being answered now. */
  count(): number {
    return this.open.size;
  }

  /**
   * Refuses requests from now on, and asks the clients of those in flight to close their
   * connections after the answer (no keep-alive: the next request goes to a listening server).
   */
  stopAccepting(): void {
    this.stopping = true;
    for (const res of this.open) if (!res.headersSent) res.shouldKeepAlive = false;
  }
}
