/**
 * This process's memory of the staff tokens (sessions and API tokens) the database vouched for
 * recently: what lets staff still be authenticated while the database cannot be reached, so that a
 * request the product can serve without it (a ticket logged by hand goes to the outbox) is not
 * refused at the door. It is read only when the database is unreachable (staff/auth.ts
 * `AuthService.authenticate`); while the database answers, it decides every request.
 *
 * Keyed by the token's SHA-256 (as the database keys it): the token itself is never kept. A record
 * lasts `ttlMs` from the database's last word on it, never past the token's own expiry, so a
 * logout, a disabled account or a changed role or password made where this process cannot see it
 * (another process, the database directly) is missed for at most `ttlMs` after that word. The ones
 * made through this process are forgotten at once.
 */
import type { Principal } from './http.js';

interface Verified {
  principal: Principal;
  /** When the database last vouched for the token (ms since the epoch). */
  verifiedAt: number;
  /** The token's own expiry (ms since the epoch). */
  expiresAt: number;
}

/** Tokens remembered at most (oldest verification out first): a desk has far fewer staff than this. */
export const VERIFIED_SESSIONS_MAX = 10_000;

export class VerifiedSessions {
  /** Insertion-ordered: a re-verified token is moved to the end, so the first key is the stalest. */
  private readonly entries = new Map<string, Verified>();

  /**
   * @param ttlMs how long after the database's last word a token is still accepted without it; 0
   * remembers nothing (every request needs the database, as before this existed).
   */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = VERIFIED_SESSIONS_MAX,
  ) {}

  /** Records that the database just vouched for the token with this hash, as `principal`. */
  remember(hash: string, principal: Principal, expiresAt: Date): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(hash);
    this.entries.set(hash, { principal, verifiedAt: this.now(), expiresAt: expiresAt.getTime() });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * The principal of a token the database vouched for within `ttlMs` and that has not expired;
   * null otherwise (never verified here, too long ago, expired, or forgotten).
   */
  recall(hash: string): Principal | null {
    const v = this.entries.get(hash);
    if (!v) return null;
    const now = this.now();
    if (now - v.verifiedAt >= this.ttlMs || now >= v.expiresAt) {
      this.entries.delete(hash);
      return null;
    }
    return { ...v.principal, remembered: true };
  }

  /** Forgets one token (its logout, or the database no longer knowing it). */
  forget(hash: string): void {
    this.entries.delete(hash);
  }

  /** Forgets every token of a user (disabled, new role or password) or with a public id (revoked). */
  forgetWhere(match: { username?: string; tokenId?: string }): void {
    for (const [hash, v] of this.entries) {
      if (v.principal.username === match.username || v.principal.tokenId === match.tokenId) this.entries.delete(hash);
    }
  }

  /** Tokens remembered now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}
