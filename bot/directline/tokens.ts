/**
 * Credentials of the web chat channel, all HMAC-signed with one key that every process on the
 * database shares (derived from the Direct Line secret when one is configured, otherwise created
 * once in the database), so a token or customer key issued by one process is valid at any other:
 *
 * - **Tokens** are HS256 JWTs (`conv`, `user`, `exp`) bound to one conversation and its user, the
 *   shape Web Chat and directlinejs read (they take the user id from the `user` claim).
 * - **Customer keys** (`<userId>.<signature>`) let a returning customer keep their user id: the
 *   page stores the key it was given and presents it when it opens the next conversation. Only the
 *   server can make one, so a client cannot claim another customer's id.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isRecord } from './http.js';

const TOKEN_ISSUER = 'demand-desk-directline';

/** What a token says. `user` is the client-visible user id (without the `webchat:` prefix). */
export interface TokenClaims {
  iss: string;
  conv: string;
  user: string;
  iat: number;
  exp: number;
  jti: string;
}

/** A fresh server-issued user id: `u-` and 128 random bits in hex. */
export function newUserId(): string {
  return `u-${randomBytes(16).toString('hex')}`;
}

/** Issues and verifies tokens and customer keys; recognises the Direct Line secret. */
export class TokenService {
  private key?: Buffer;
  private readonly secretDigest?: Buffer;

  /**
   * @param loadKey resolves the shared signing key (called once).
   * @param secret the Direct Line secret, if configured (compared in constant time).
   */
  constructor(
    private readonly loadKey: () => Promise<Buffer>,
    private readonly ttlSeconds: number,
    secret: string | undefined,
  ) {
    if (secret) this.secretDigest = createHash('sha256').update(secret).digest();
  }

  /** The signing key for a configured secret: derived, so it never needs storing. */
  static keyFromSecret(secret: string): Buffer {
    return createHmac('sha256', secret).update('direct line token signing key').digest();
  }

  get ttl(): number {
    return this.ttlSeconds;
  }

  isSecret(credential: string): boolean {
    if (!this.secretDigest) return false;
    return timingSafeEqual(createHash('sha256').update(credential).digest(), this.secretDigest);
  }

  async issue(conversationId: string, user: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = { iss: TOKEN_ISSUER, conv: conversationId, user, iat: now, exp: now + this.ttlSeconds, jti: randomBytes(12).toString('base64url') };
    const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${head}.${body}.${await this.sign(`${head}.${body}`)}`;
  }

  async verify(token: string): Promise<TokenClaims | 'invalid' | 'expired'> {
    const parts = token.split('.');
    if (parts.length !== 3 || token.length > 4096) return 'invalid';
    if (!(await this.matches(`${parts[0]}.${parts[1]}`, parts[2]))) return 'invalid';
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return 'invalid';
    }
    if (!isRecord(claims) || claims.iss !== TOKEN_ISSUER || typeof claims.conv !== 'string' || typeof claims.user !== 'string' || typeof claims.exp !== 'number') return 'invalid';
    if (claims.exp * 1000 <= Date.now()) return 'expired';
    return claims as unknown as TokenClaims;
  }

  /** A customer key for `userId` (what the page keeps to be recognised next time). */
  async customerKey(userId: string): Promise<string> {
    return `${userId}.${await this.sign(`customer:${userId}`)}`;
  }

  /**
   * The customer's pseudonymous reference (`c-` and 132 bits of an HMAC of the user id): what the
   * bot, tickets and staff see instead of the id the client holds. The same user id always gives
   * the same reference (so a returning customer finds their tickets), and it cannot be turned back
   * into the id, so knowing it neither names nor lets anyone act as the customer.
   */
  async customerReference(userId: string): Promise<string> {
    return `c-${(await this.sign(`reference:${userId}`)).slice(0, 22)}`;
  }

  /** The user id inside a genuine customer key, or null. */
  async customerOf(key: string): Promise<string | null> {
    const dot = key.lastIndexOf('.');
    if (dot <= 0 || key.length > 512) return null;
    const userId = key.slice(0, dot);
    if (!/^u-[0-9a-f]{32}$/.test(userId)) return null;
    return (await this.matches(`customer:${userId}`, key.slice(dot + 1))) ? userId : null;
  }

  private async matches(data: string, signature: string): Promise<boolean> {
    const expected = Buffer.from(await this.sign(data));
    const actual = Buffer.from(signature);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  private async sign(data: string): Promise<string> {
    this.key ??= await this.loadKey();
    return createHmac('sha256', this.key).update(data).digest('base64url');
  }
}
