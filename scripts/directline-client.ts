/**
 * A small Direct Line 3.0 client over HTTP + WebSocket, for the load benchmark and tests: it speaks
 * the same protocol as botframework-directlinejs (token → conversation → stream → post activities).
 */
import WebSocket from 'ws';

export interface DlActivity {
  id?: string;
  type: string;
  text?: string;
  from: { id: string; role?: string };
  replyToId?: string;
  suggestedActions?: { actions: { title: string }[] };
}

export class DirectLineClient {
  private readonly activities: DlActivity[] = [];
  /** When each activity arrived on the stream (`performance.now()`), for latency measurements. */
  private readonly arrivals = new WeakMap<DlActivity, number>();
  private waiters: (() => void)[] = [];
  private readonly listeners: ((a: DlActivity) => void)[] = [];

  private constructor(
    private readonly baseUrl: string,
    readonly conversationId: string,
    private readonly token: string,
    private readonly socket: WebSocket,
    readonly userId: string,
  ) {
    socket.on('message', (data) => {
      const text = data.toString();
      if (!text.trim()) return; // keep-alive
      const at = performance.now();
      const msg = JSON.parse(text) as { activities?: DlActivity[] };
      for (const a of msg.activities ?? []) {
        this.activities.push(a);
        this.arrivals.set(a, at);
        for (const l of this.listeners) l(a);
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
  }

  /**
   * Opens a conversation and its WebSocket stream. With the Direct Line `secret` (as an embedding
   * site's server holds it) the conversation is `userId`'s; without, it is the page's way in and
   * the server issues the user id (`userId` is then ignored; see {@link userId}).
   */
  static async open(baseUrl: string, userId: string, secret?: string): Promise<DirectLineClient> {
    let token: string;
    if (secret) {
      const gen = await fetch(`${baseUrl}/v3/directline/tokens/generate`, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body: JSON.stringify({ user: { id: userId } }) });
      if (!gen.ok) throw new Error(`token: HTTP ${gen.status}`);
      token = ((await gen.json()) as { token: string }).token;
    } else {
      const page = await fetch(`${baseUrl}/api/webchat/token`);
      if (!page.ok) throw new Error(`token: HTTP ${page.status}`);
      ({ token, userId } = (await page.json()) as { token: string; userId: string });
    }
    const start = await fetch(`${baseUrl}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ user: { id: userId } }) });
    if (!start.ok) throw new Error(`conversation: HTTP ${start.status}`);
    const conv = (await start.json()) as { conversationId: string; token: string; streamUrl: string };
    const socket = new WebSocket(conv.streamUrl);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new DirectLineClient(baseUrl, conv.conversationId, conv.token, socket, userId);
  }

  /**
   * Sends a message; returns the id the channel gave it. `via` posts it to another server process
   * (on the same database) than the one holding the stream.
   */
  async send(text: string, via = this.baseUrl, fields: Record<string, unknown> = {}): Promise<string> {
    const res = await fetch(`${via}/v3/directline/conversations/${this.conversationId}/activities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'message', from: { id: this.userId }, text, locale: 'zh-CN', ...fields }),
    });
    if (!res.ok) throw new Error(`send: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { id: string }).id;
  }

  /** The bot's first message replying to activity `id` (typing indicators are skipped). */
  async replyTo(id: string, timeoutMs = 15_000): Promise<DlActivity> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.activities.find((a) => a.type === 'message' && a.replyToId === id && a.from.role !== 'user');
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply to ${id} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Calls `listener` with every activity the stream delivers from now on. */
  onActivity(listener: (a: DlActivity) => void): void {
    this.listeners.push(listener);
  }

  /** The bot's messages received so far (proactive ones included), oldest first. */
  botMessages(): DlActivity[] {
    return this.activities.filter((a) => a.type === 'message' && a.from.role !== 'user');
  }

  /** The first bot message (received already or later) that `test` accepts, e.g. a staff reply. */
  async waitForMessage(test: (a: DlActivity) => boolean, timeoutMs = 15_000): Promise<DlActivity> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.botMessages().find(test);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * When `activity` (one this client received) arrived on the stream, in `performance.now()` time:
   * what the customer sees, whenever the caller got round to looking.
   */
  arrivedAt(activity: DlActivity): number {
    const at = this.arrivals.get(activity);
    if (at === undefined) throw new Error('arrivedAt: not an activity this client received');
    return at;
  }

  close(): void {
    this.socket.close();
  }
}
