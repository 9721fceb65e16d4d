/**
 * What a channel stand-in received for customers (WeChat's customer-service messages, WeCom's
 * send_msg), with waits for the next one: the tests read the bot's answers from here.
 */
export class SentLog<T extends { touser: string; content: string }> {
  readonly all: T[] = [];
  private waiters: (() => void)[] = [];

  push(m: T): void {
    this.all.push(m);
    for (const w of this.waiters.splice(0)) w();
  }

  to(user: string): T[] {
    return this.all.filter((m) => m.touser === user);
  }

  /** The first message to `user` that matches, waiting up to `timeoutMs`; null on timeout. */
  async waitFor(user: string, match: (content: string) => boolean, timeoutMs: number): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.all.find((m) => m.touser === user && match(m.content));
      if (hit) return hit;
      if (Date.now() > deadline) return null;
      await this.change();
    }
  }

  /** The message to `user` after their first `count`, waiting up to `timeoutMs`; null on timeout. */
  async nextAfter(user: string, count: number, timeoutMs: number): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.to(user).length <= count) {
      if (Date.now() > deadline) return null;
      await this.change();
    }
    return this.to(user)[count];
  }

  /** Resolves on the next message or after 200 ms. */
  private change(): Promise<void> {
    return new Promise<void>((r) => {
      const t = setTimeout(r, 200);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }
}
