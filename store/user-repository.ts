/**
 * Staff accounts and their access tokens.
 *
 * Users are keyed by their (lower-case) user name; tokens — login sessions and API tokens for
 * integrations — by the SHA-256 of the token, so the secret itself is never stored and every
 * request is authenticated by one `_id` lookup (the lookup FerretDB answers without a scan).
 */
import type { Collection, Db } from 'mongodb';
import { z } from 'zod';
import { ConflictError, NotFoundError } from './errors.js';
import { ensureIndexes } from './indexes.js';
import { ROLES, type Role } from './schemas.js';
import { parseInput } from './validation.js';

export const Username = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{1,31}$/, 'user name: 2–32 letters, digits, dot, _ or -, starting with a letter or digit');

export interface User {
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  createdBy: string;
  lastLoginAt: Date | null;
}

type UserDoc = User & { _id: string; passwordHash: string };

export type TokenKind = 'session' | 'api';

export interface AccessToken {
  /** Public id (for listing and revoking); not the secret. */
  id: string;
  kind: TokenKind;
  username: string;
  /** Label of an API token ("crm-sync"); null for sessions. */
  name: string | null;
  createdAt: Date;
  expiresAt: Date;
}

type TokenDoc = AccessToken & { _id: string };

export class MongoUserRepository {
  private readonly users: Collection<UserDoc>;
  private readonly tokens: Collection<TokenDoc>;

  constructor(db: Db) {
    this.users = db.collection<UserDoc>('users');
    this.tokens = db.collection<TokenDoc>('accessTokens');
  }

  async ensureIndexes(): Promise<void> {
    await ensureIndexes(this.tokens, [{ key: { id: 1 }, name: 'id_unique', unique: true }]);
  }

  /** Creates a user; a taken name is a conflict (never an overwrite). */
  async create(input: { username: string; role: Role; passwordHash: string; createdBy: string }, at = new Date()): Promise<User> {
    const username = parseInput(Username, input.username, 'user name');
    const role = parseInput(z.enum(ROLES), input.role, 'role');
    const doc: UserDoc = { _id: username, username, role, disabled: false, createdAt: at, createdBy: input.createdBy, lastLoginAt: null, passwordHash: input.passwordHash };
    try {
      await this.users.insertOne(doc);
    } catch (err) {
      if ((err as { code?: number }).code === 11000) throw new ConflictError(`user ${username} already exists`);
      throw err;
    }
    return toUser(doc);
  }

  async get(username: string): Promise<User | null> {
    const doc = await this.getDoc(username);
    return doc ? toUser(doc) : null;
  }

  /** The user with the stored password hash (for login only). */
  async getWithPassword(username: string): Promise<(User & { passwordHash: string }) | null> {
    const doc = await this.getDoc(username);
    return doc ? { ...toUser(doc), passwordHash: doc.passwordHash } : null;
  }

  async list(): Promise<User[]> {
    const docs = await this.users.find({}).sort({ _id: 1 }).toArray();
    return docs.map(toUser);
  }

  async count(): Promise<number> {
    return this.users.countDocuments({});
  }

  /** Changes role, disabled flag or password hash. */
  async update(username: string, change: { role?: Role; disabled?: boolean; passwordHash?: string }): Promise<User> {
    const name = parseInput(Username, username, 'user name');
    const set: Partial<UserDoc> = {};
    if (change.role !== undefined) set.role = change.role;
    if (change.disabled !== undefined) set.disabled = change.disabled;
    if (change.passwordHash !== undefined) set.passwordHash = change.passwordHash;
    const r = await this.users.updateOne({ _id: name }, { $set: set });
    if (r.matchedCount === 0) throw new NotFoundError(`user ${name} not found`);
    const after = await this.get(name);
    if (!after) throw new NotFoundError(`user ${name} not found`);
    return after;
  }

  async recordLogin(username: string, at: Date): Promise<void> {
    await this.users.updateOne({ _id: username }, { $set: { lastLoginAt: at } });
  }

  async addToken(hash: string, token: AccessToken): Promise<void> {
    await this.tokens.insertOne({ _id: hash, ...token });
  }

  /** The token with this hash, if it exists (expiry is the caller's check). */
  async tokenByHash(hash: string): Promise<AccessToken | null> {
    const doc = await this.tokens.findOne({ _id: hash });
    return doc ? toToken(doc) : null;
  }

  async deleteTokenByHash(hash: string): Promise<void> {
    await this.tokens.deleteOne({ _id: hash });
  }

  async deleteToken(id: string): Promise<boolean> {
    const r = await this.tokens.deleteOne({ id });
    return r.deletedCount === 1;
  }

  /** API tokens (sessions are not listed: they are private to their user). */
  async listApiTokens(): Promise<AccessToken[]> {
    const docs = await this.tokens.find({ kind: 'api' }).sort({ createdAt: -1 }).toArray();
    return docs.map(toToken);
  }

  /** Revokes every token of a user (disabled account, changed password). */
  async deleteTokensOf(username: string, kind?: TokenKind): Promise<number> {
    const r = await this.tokens.deleteMany(kind ? { username, kind } : { username });
    return r.deletedCount;
  }

  /** Deletes expired tokens (housekeeping). */
  async pruneExpired(now = new Date()): Promise<number> {
    const r = await this.tokens.deleteMany({ expiresAt: { $lt: now } });
    return r.deletedCount;
  }

  private async getDoc(username: string): Promise<UserDoc | null> {
    const name = Username.safeParse(username);
    if (!name.success) return null;
    return this.users.findOne({ _id: name.data });
  }
}

function toUser(doc: UserDoc): User {
  return { username: doc.username, role: doc.role, disabled: doc.disabled, createdAt: doc.createdAt, createdBy: doc.createdBy, lastLoginAt: doc.lastLoginAt };
}

function toToken(doc: TokenDoc): AccessToken {
  return { id: doc.id, kind: doc.kind, username: doc.username, name: doc.name, createdAt: doc.createdAt, expiresAt: doc.expiresAt };
}
