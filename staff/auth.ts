/**
 * Staff authentication: scrypt password hashes (node:crypto), expiring session tokens and API
 * tokens stored only as SHA-256 hashes, login throttling against brute force, and the principal
 * of a request (from the database; while it cannot be reached, from this process's memory of what
 * the database vouched for recently: staff/verified-sessions.ts).
 */
import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { isUnavailable } from '../store/errors.js';
import type { Role } from '../store/schemas.js';
import type { AccessToken, MongoUserRepository, User } from '../store/user-repository.js';
import { HttpError, type Principal } from './http.js';
import { VerifiedSessions } from './verified-sessions.js';

/** Passwords: long enough to resist guessing, short enough to bound hashing work. */
export const Password = z.string().min(10, 'password: at least 10 characters').max(256, 'password: at most 256 characters');

/**
 * scrypt cost N = 2^15, r = 8, p = 1 (32 MB and tens of milliseconds per hash): below OWASP's 2^17 to
 * keep logins quick on a small shared server; the parameters are stored with every hash, so they
 * can be raised later without invalidating existing passwords.
 */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keyLength: 64 } as const;

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$salt$hash` (base64): the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 256 * SCRYPT.N * SCRYPT.r });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(key, expected);
}

/** A hash of a random password: checked when the user does not exist, so timing does not reveal which names exist. */
let dummyHash: Promise<string> | null = null;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Failed logins per key (user name + address, address, user name): after `maxFailures` within the window the
 * key is locked, for a time that doubles with every further failure (capped). In memory: each
 * process protects itself; a restart forgets (the window is short anyway).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; first: number; lockedUntil: number }>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly baseLockMs = 30_000,
    private readonly maxLockMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until `key` may try again; 0 when it may now. */
  retryAfter(key: string): number {
    const f = this.failures.get(key);
    if (!f) return 0;
    return Math.max(0, Math.ceil((f.lockedUntil - this.now()) / 1000));
  }

  fail(key: string): void {
    const now = this.now();
    let f = this.failures.get(key);
    if (!f || now - f.first > this.windowMs) {
      if (this.failures.size > 50_000) this.failures.clear();
      f = { count: 0, first: now, lockedUntil: 0 };
      this.failures.set(key, f);
    }
    f.count++;
    if (f.count >= this.maxFailures) f.lockedUntil = now + Math.min(this.maxLockMs, this.baseLockMs * 2 ** (f.count - this.maxFailures));
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}

export interface AuthOptions {
  sessionTtlMs: number;
  now?: () => Date;
  /** Failed logins per user name and client address (default: lock after 5 in 15 minutes). */
  pairThrottle?: LoginThrottle;
  /**
   * Failed logins per client address, any user name (default 100): an office shares one address,
   * so this bound is high, and it never locks out a user who has signed in from that address before.
   */
  ipThrottle?: LoginThrottle;
  /**
   * Failed logins per user name from any address (default 50): slows a guessing attack spread over
   * many addresses, without locking the user out of an address they have signed in from before.
   */
  accountThrottle?: LoginThrottle;
  /**
   * How long after the database last vouched for a token this process still accepts it while the
   * database cannot be reached (ms; `STAFF_OFFLINE_AUTH_SECONDS`). 0 (the default here) never
   * accepts a token without the database.
   */
  offlineAuthMs?: number;
}

/** How long a successful sign-in vouches for a user name + address pair. */
const KNOWN_PAIR_MS = 30 * 24 * 60 * 60_000;
const KNOWN_PAIRS_MAX = 100_000;
/** Logouts the database has not taken yet, kept at most (a desk has far fewer sessions). */
const PENDING_LOGOUTS_MAX = 10_000;

export class AuthService {
  private readonly now: () => Date;
  private readonly pairThrottle: LoginThrottle;
  private readonly ipThrottle: LoginThrottle;
  private readonly accountThrottle: LoginThrottle;
  /** User name + address pairs that signed in successfully, and when (in memory, bounded). */
  private readonly knownPairs = new Map<string, number>();
  /** Tokens the database vouched for recently: used only while it cannot be reached. */
  private readonly verified: VerifiedSessions;
  /**
   * Hashes of tokens logged out while the database could not delete them: refused here at once,
   * and deleted from the database by the next request that reaches it.
   */
  private readonly pendingLogouts = new Set<string>();

  constructor(
    private readonly users: MongoUserRepository,
    private readonly opts: AuthOptions,
  ) {
    this.now = opts.now ?? (() => new Date());
    const clock = () => this.now().getTime();
    this.pairThrottle = opts.pairThrottle ?? new LoginThrottle(5, undefined, undefined, undefined, clock);
    this.ipThrottle = opts.ipThrottle ?? new LoginThrottle(100, undefined, undefined, undefined, clock);
    this.accountThrottle = opts.accountThrottle ?? new LoginThrottle(50, undefined, undefined, undefined, clock);
    this.verified = new VerifiedSessions(opts.offlineAuthMs ?? 0, clock);
  }

  async createUser(input: { username: string; password: string; role: Role; createdBy: string }): Promise<User> {
    const password = Password.safeParse(input.password);
    if (!password.success) throw new HttpError(400, 'VALIDATION_FAILED', password.error.issues[0].message, [{ field: 'body.password', message: password.error.issues[0].message }]);
    return this.users.create({ username: input.username, role: input.role, createdBy: input.createdBy, passwordHash: await hashPassword(password.data) });
  }

  /** Checks the credentials; returns a new session token. Throws 429 while locked, 401 on bad credentials. */
  async login(username: string, password: string, ip: string): Promise<{ token: string; expiresAt: Date; user: User }> {
    const userKey = username.trim().toLowerCase();
    const pair = `${userKey}\n${ip}`;
    // The per-pair bound always applies; the looser per-address and per-account bounds spare a
    // user who has signed in from this address before, so an attacker behind the same office
    // address (or spraying one name from many addresses) cannot lock colleagues out.
    const known = this.isKnownPair(pair);
    const wait = Math.max(this.pairThrottle.retryAfter(pair), known ? 0 : Math.max(this.ipThrottle.retryAfter(ip), this.accountThrottle.retryAfter(userKey)));
    if (wait > 0) throw new HttpError(429, 'TOO_MANY_ATTEMPTS', `too many failed logins; try again in ${wait} s`, { retryAfterSeconds: wait });
    const user = await this.users.getWithPassword(username);
    const ok = user ? await verifyPassword(password, user.passwordHash) : await verifyPassword(password, await (dummyHash ??= hashPassword(randomUUID())));
    if (!user || !ok || user.disabled) {
      this.pairThrottle.fail(pair);
      this.ipThrottle.fail(ip);
      this.accountThrottle.fail(userKey);
      // One message for every case: the caller cannot learn which user names exist.
      throw new HttpError(401, 'BAD_CREDENTIALS', 'wrong user name or password, or the account is disabled');
    }
    this.pairThrottle.succeed(pair);
    this.rememberPair(pair);
    const at = this.now();
    await this.users.recordLogin(user.username, at);
    const { token, record } = await this.issue({ kind: 'session', username: user.username, name: null, ttlMs: this.opts.sessionTtlMs });
    // The database just vouched for the user and stored the session: as good as a verified request.
    this.verified.remember(tokenHash(token), { username: user.username, role: user.role, via: 'session', tokenId: record.id }, record.expiresAt);
    const { passwordHash: _secret, ...plain } = user;
    return { token, expiresAt: record.expiresAt, user: { ...plain, lastLoginAt: at } };
  }

  private isKnownPair(pair: string): boolean {
    const at = this.knownPairs.get(pair);
    return at !== undefined && this.now().getTime() - at < KNOWN_PAIR_MS;
  }

  private rememberPair(pair: string): void {
    // Oldest first out: a Map iterates in insertion order, and a re-insert moves a pair to the end.
    this.knownPairs.delete(pair);
    this.knownPairs.set(pair, this.now().getTime());
    if (this.knownPairs.size > KNOWN_PAIRS_MAX) this.knownPairs.delete(this.knownPairs.keys().next().value!);
  }

  /**
   * Ends a session. Forgotten here first, so it is refused from this moment even if the database
   * cannot delete it now (the error is thrown all the same: the logout is not complete until the
   * database has it, which the next request reaching the database does).
   */
  async logout(token: string): Promise<void> {
    const hash = tokenHash(token);
    this.verified.forget(hash);
    try {
      await this.users.deleteTokenByHash(hash);
    } catch (err) {
      if (isUnavailable(err)) this.keepLogout(hash);
      throw err;
    }
  }

  /**
   * Forgets what this process remembers of a user's tokens (their role, password or disabled flag
   * changed) or of one token (revoked), so that an outage right after the change cannot let this
   * process accept them as they were.
   */
  forgetVerified(match: { username?: string; tokenId?: string }): void {
    this.verified.forgetWhere(match);
  }

  private keepLogout(hash: string): void {
    if (this.pendingLogouts.size >= PENDING_LOGOUTS_MAX) this.pendingLogouts.delete(this.pendingLogouts.values().next().value!);
    this.pendingLogouts.add(hash);
  }

  /** Deletes the tokens logged out while the database was unreachable (it answers again). */
  private async finishLogouts(): Promise<void> {
    for (const hash of [...this.pendingLogouts]) {
      await this.users.deleteTokenByHash(hash);
      this.pendingLogouts.delete(hash);
    }
  }

  /** An API token for an integration, acting as `username` (with that user's role). */
  async createApiToken(username: string, name: string, ttlMs: number): Promise<{ token: string; record: AccessToken }> {
    const user = await this.users.get(username);
    if (!user) throw new HttpError(404, 'NOT_FOUND', `user ${username} not found`);
    return this.issue({ kind: 'api', username: user.username, name, ttlMs });
  }

  /**
   * The principal of a bearer token: null when unknown, expired, logged out, or its user is gone or
   * disabled. The database decides whenever it can be reached. Only when it cannot is a token it
   * vouched for within `offlineAuthMs` accepted from memory (`remembered: true`); any other token
   * then gets the database's error (a 503), never a guess.
   */
  async authenticate(token: string): Promise<Principal | null> {
    const hash = tokenHash(token);
    if (this.pendingLogouts.has(hash)) {
      await this.finishLogouts().catch(() => undefined);
      return null;
    }
    try {
      const found = await this.verify(hash);
      if (found) this.verified.remember(hash, found.principal, found.expiresAt);
      else this.verified.forget(hash);
      if (this.pendingLogouts.size > 0) await this.finishLogouts().catch(() => undefined);
      return found?.principal ?? null;
    } catch (err) {
      const remembered = isUnavailable(err) ? this.verified.recall(hash) : null;
      if (!remembered) throw err;
      return remembered;
    }
  }

  /** The database's word on a token: its principal and expiry, or null. */
  private async verify(hash: string): Promise<{ principal: Principal; expiresAt: Date } | null> {
    const record = await this.users.tokenByHash(hash);
    if (!record) return null;
    if (record.expiresAt.getTime() <= this.now().getTime()) {
      await this.users.deleteTokenByHash(hash).catch(() => undefined);
      return null;
    }
    // The role is read from the user on every request, so a role change or a disabled account applies at once.
    const user = await this.users.get(record.username);
    if (!user || user.disabled) return null;
    return { principal: { username: user.username, role: user.role, via: record.kind === 'api' ? 'token' : 'session', tokenId: record.id }, expiresAt: record.expiresAt };
  }

  private async issue(t: { kind: AccessToken['kind']; username: string; name: string | null; ttlMs: number }): Promise<{ token: string; record: AccessToken }> {
    const token = randomBytes(32).toString('base64url');
    const at = this.now();
    const record: AccessToken = { id: randomUUID(), kind: t.kind, username: t.username, name: t.name, createdAt: at, expiresAt: new Date(at.getTime() + t.ttlMs) };
    await this.users.addToken(tokenHash(token), record);
    return { token, record };
  }
}
