/**
 * The access token a channel's API calls carry (WeChat's stable_token, WeCom's gettoken): fetched
 * once and shared by concurrent callers, refreshed a margin before the expiry the channel states,
 * and fetched again when the channel calls the one we hold invalid.
 */

/** What the channel's token endpoint returned. */
export interface IssuedToken {
  token: string;
  /** Seconds until it expires, as the channel says. */
  expiresIn: number;
}

export class AccessToken {
  private current: { token: string; expiresAt: number } | null = null;
  private fetching: Promise<string> | null = null;

  /**
   * @param issue asks the channel for a token (`force`: a new one even if the current is valid).
   * @param marginMs refresh this long before the stated expiry.
   */
  constructor(
    private readonly issue: (force: boolean) => Promise<IssuedToken>,
    private readonly now: () => number = Date.now,
    private readonly marginMs = 5 * 60_000,
  ) {}

  /** A valid token: the cached one, or one fetched (once for all concurrent callers). */
  async get(): Promise<string> {
    if (this.current && this.current.expiresAt - this.marginMs > this.now()) return this.current.token;
    return this.fetch(false);
  }

  /** Fetches a token now (shared with a fetch already running). */
  fetch(force: boolean): Promise<string> {
    this.fetching ??= (async () => {
      try {
        const { token, expiresIn } = await this.issue(force);
        this.current = { token, expiresAt: this.now() + expiresIn * 1000 };
        return token;
      } finally {
        this.fetching = null;
      }
    })();
    return this.fetching;
  }

  /** Forgets `token` if it is the cached one (the channel called it invalid). */
  drop(token: string): void {
    if (this.current?.token === token) this.current = null;
  }
}
