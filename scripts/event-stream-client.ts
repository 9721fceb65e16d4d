/**
 * A client of the staff API's event stream (`GET /api/events`, Server-Sent Events) for tests and
 * the live benchmark: reads the stream with fetch (as the console does), parses `id`/`event`/`data`
 * fields, and hands each event to the listeners.
 */
import type { DeskEvent } from '../desk/events.js';

export class EventStreamClient {
  readonly events: DeskEvent[] = [];
  /** When each event arrived (`performance.now()`), for latency measurements. */
  private readonly arrivals = new WeakMap<DeskEvent, number>();
  private readonly listeners: ((e: DeskEvent) => void)[] = [];
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  private constructor() {}

  /** Opens the stream; resolves once the server answered 200 (rejects with the status otherwise). */
  static async open(baseUrl: string, token: string, lastEventId?: string): Promise<EventStreamClient> {
    const c = new EventStreamClient();
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${baseUrl}/api/events`, { headers, signal: c.abort.signal });
    if (res.status !== 200 || !res.body) throw new Error(`event stream: HTTP ${res.status} ${await res.text()}`);
    void c.read(res.body);
    return c;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        const at = performance.now();
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (!data) continue;
          const e = JSON.parse(data) as DeskEvent;
          this.events.push(e);
          this.arrivals.set(e, at);
          for (const l of this.listeners) l(e);
          const w = this.waiters;
          this.waiters = [];
          for (const f of w) f();
        }
      }
    } catch {
      /* aborted or the server closed the stream */
    }
  }

  /** Calls `listener` with every event received from now on. */
  onEvent(listener: (e: DeskEvent) => void): void {
    this.listeners.push(listener);
  }

  /** The first event (received already or later) that `test` accepts. */
  async waitFor(test: (e: DeskEvent) => boolean, timeoutMs = 15_000): Promise<DeskEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(test);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** When `event` (one this client received) arrived on the stream, in `performance.now()` time. */
  arrivedAt(event: DeskEvent): number {
    const at = this.arrivals.get(event);
    if (at === undefined) throw new Error('arrivedAt: not an event this client received');
    return at;
  }

  close(): void {
    this.abort.abort();
  }
}
