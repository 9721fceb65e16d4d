import { describe, expect, it } from 'vitest';
import { hashPassword, LoginThrottle, tokenHash, verifyPassword } from '../../staff/auth.js';
import { VerifiedSessions } from '../../staff/verified-sessions.js';
import { ApiRouter, roleAllows, toHttpError, validate, HttpError } from '../../staff/http.js';
import { MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import { z } from 'zod';
import { ConflictError, NotFoundError, TicketNotFiledError, ValidationError } from '../../store/errors.js';

describe('password hashing', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'md5$abc')).toBe(false);
  });

  it('stores tokens as SHA-256 hex', () => {
    expect(tokenHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('LoginThrottle', () => {
  it('locks after the limit, doubles the lock with each further failure, and forgets after success', () => {
    let now = 0;
    const t = new LoginThrottle(3, 60_000, 1_000, 8_000, () => now);
    t.fail('k');
    t.fail('k');
    expect(t.retryAfter('k')).toBe(0);
    t.fail('k');
    expect(t.retryAfter('k')).toBe(1);
    t.fail('k');
    expect(t.retryAfter('k')).toBe(2);
    for (let i = 0; i < 5; i++) t.fail('k');
    expect(t.retryAfter('k')).toBe(8); // capped
    now += 8_000;
    expect(t.retryAfter('k')).toBe(0);
    t.succeed('k');
    t.fail('k');
    expect(t.retryAfter('k')).toBe(0);
  });

  it('starts counting again after the window', () => {
    let now = 0;
    const t = new LoginThrottle(2, 10_000, 1_000, 8_000, () => now);
    t.fail('k');
    now = 20_000;
    t.fail('k');
    expect(t.retryAfter('k')).toBe(0);
  });
});

describe('staff HTTP layer', () => {
  it('orders roles: admin ⊃ trainer ⊃ agent', () => {
    expect(roleAllows('admin', 'trainer')).toBe(true);
    expect(roleAllows('trainer', 'agent')).toBe(true);
    expect(roleAllows('agent', 'trainer')).toBe(false);
    expect(roleAllows('trainer', 'admin')).toBe(false);
  });

  it('maps typed errors to statuses and hides unknown ones', () => {
    expect(toHttpError(new ValidationError('bad', [{ path: 'x', message: 'm' }])).status).toBe(400);
    // Every 400 names its fields as `details[].field`, a desk's validation error as the request's does.
    expect(toHttpError(new ValidationError('bad assignee', [{ path: 'assignee', message: 'unknown or disabled user' }])).body).toEqual({
      error: { code: 'VALIDATION_FAILED', message: 'bad assignee', details: [{ field: 'assignee', message: 'unknown or disabled user' }] },
    });
    expect(toHttpError(new NotFoundError('gone')).status).toBe(404);
    expect(toHttpError(new ConflictError('stale')).status).toBe(409);
    expect(toHttpError(new HttpError(429, 'RATE_LIMITED', 'slow down'))).toEqual({ status: 429, body: { error: { code: 'RATE_LIMITED', message: 'slow down' } } });
    expect(toHttpError(new Error('secret internals'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } });
  });

  it('answers 503 DATABASE_UNAVAILABLE, not a generic 500, when the database cannot be reached', () => {
    const unreachable = { status: 503, body: { error: { code: 'DATABASE_UNAVAILABLE', message: 'the database cannot be reached right now; try again shortly' } } };
    expect(toHttpError(new MongoNetworkError('connect ECONNREFUSED 127.0.0.1:27017'))).toEqual(unreachable);
    expect(toHttpError(new MongoServerSelectionError('Server selection timed out after 800 ms', { type: 'Unknown', servers: new Map(), stale: false, compatible: true, heartbeatFrequencyMS: 1, localThresholdMS: 1, setName: null, maxElectionId: null, maxSetVersion: null, commonWireVersion: 0, logicalSessionTimeoutMinutes: null } as never))).toEqual(unreachable);
    expect(toHttpError(new TicketNotFiledError('T20261207-O1234AB waits in the outbox'))).toEqual(unreachable);
    // The driver's message is not shown (it names hosts and ports).
    expect(JSON.stringify(toHttpError(new MongoNetworkError('connect ECONNREFUSED 10.1.2.3:27017')))).not.toContain('10.1.2.3');
  });

  it('names every bad field with where it came from', () => {
    const s = z.object({ a: z.number(), b: z.object({ c: z.string() }) }).strict();
    try {
      validate(s, { a: 'x', b: { c: 1 } }, 'body');
      expect.unreachable();
    } catch (err) {
      expect((err as HttpError).status).toBe(400);
      expect(((err as HttpError).details as { field: string }[]).map((d) => d.field)).toEqual(['body.a', 'body.b.c']);
    }
  });

  it('describes registered routes in the OpenAPI document', () => {
    const routes: string[] = [];
    const fake = { get: (p: string) => routes.push(`GET ${p}`), post: (p: string) => routes.push(`POST ${p}`) } as never;
    const router = new ApiRouter(fake, { authenticate: async () => null });
    router.add({ method: 'get', path: '/api/things/{id}', summary: 's', tag: 't', role: 'trainer', params: z.object({ id: z.string() }), query: z.object({ q: z.string().optional() }), handler: async () => ({}) });
    router.add({ method: 'post', path: '/api/open', summary: 'o', tag: 't', role: null, body: z.object({ x: z.number() }), handler: async () => ({}) });
    expect(routes).toEqual(['GET /api/things/:id', 'POST /api/open']);
    const doc = router.openapi({ title: 'x', version: '1' }) as { paths: Record<string, Record<string, Record<string, unknown>>> };
    expect(doc.paths['/api/things/{id}'].get).toMatchObject({ 'x-required-role': 'trainer', parameters: [{ name: 'id', in: 'path', required: true }, { name: 'q', in: 'query', required: false }] });
    expect(doc.paths['/api/open'].post).toMatchObject({ security: [], requestBody: { required: true } });
    expect(doc.paths['/api/open'].post).toMatchObject({ responses: { 503: { description: expect.stringContaining('DATABASE_UNAVAILABLE') } } });
  });
});

describe('VerifiedSessions (staff tokens while the database is unreachable)', () => {
  const alice = { username: 'alice', role: 'agent' as const, via: 'session' as const, tokenId: 'id-a' };
  const bob = { username: 'bob', role: 'admin' as const, via: 'token' as const, tokenId: 'id-b' };

  it('recalls a token only within the TTL of its last verification and before it expires', () => {
    let now = 1_000_000;
    const v = new VerifiedSessions(60_000, () => now);
    expect(v.recall('h-a')).toBeNull(); // never verified: never accepted
    v.remember('h-a', alice, new Date(now + 3_600_000));
    expect(v.recall('h-a')).toEqual({ ...alice, remembered: true });
    now += 59_999;
    expect(v.recall('h-a')).not.toBeNull();
    now += 1;
    expect(v.recall('h-a')).toBeNull();
    v.remember('h-a', alice, new Date(now + 10_000)); // verified again: the TTL starts again, the token's expiry still bounds it
    now += 10_000;
    expect(v.recall('h-a')).toBeNull();
  });

  it("forgets a token, a user's tokens and a revoked token id; remembers nothing with TTL 0", () => {
    const v = new VerifiedSessions(60_000, () => 0);
    const later = new Date(3_600_000);
    v.remember('h-a', alice, later);
    v.remember('h-b', bob, later);
    v.forgetWhere({ username: 'alice' });
    expect(v.recall('h-a')).toBeNull();
    expect(v.recall('h-b')).not.toBeNull();
    v.forgetWhere({ tokenId: 'id-b' });
    expect(v.recall('h-b')).toBeNull();
    v.remember('h-a', alice, later);
    v.forget('h-a');
    expect(v.recall('h-a')).toBeNull();
    const off = new VerifiedSessions(0, () => 0);
    off.remember('h-a', alice, later);
    expect(off.size).toBe(0);
  });

  it('is bounded: past the limit the stalest verification goes first', () => {
    const v = new VerifiedSessions(60_000, () => 0, 2);
    const later = new Date(3_600_000);
    v.remember('h1', alice, later);
    v.remember('h2', bob, later);
    v.remember('h1', alice, later); // verified again: now the freshest
    v.remember('h3', bob, later);
    expect(v.size).toBe(2);
    expect(v.recall('h2')).toBeNull();
    expect(v.recall('h1')).not.toBeNull();
    expect(v.recall('h3')).not.toBeNull();
  });
});
