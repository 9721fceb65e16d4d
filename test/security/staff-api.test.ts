/**
 * Issue 14, finding 9, and the staff API's authentication matrix, against the whole app over real
 * HTTP and the real embedded database.
 *
 * - The matrix is generated from the OpenAPI document the server publishes: every declared route is
 *   tried with each kind of bad credential (401), with a role below the one it needs (403), and,
 *   for reads, with the role it needs (neither). A new route is covered without editing this file,
 *   and a route registered outside the OpenAPI document under /api/ fails the test.
 * - Login lock-out: one attacker behind an office's address cannot lock colleagues out (the
 *   throttling logic through AuthService on the real user store; the HTTP 429 path is covered in
 *   test/integration/staff-api.test.ts).
 * - `__proto__`, `constructor`, `prototype` keys in any request are a 400 naming the field, and
 *   nothing is saved.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AuthService, hashPassword, LoginThrottle, tokenHash } from '../../staff/auth.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, any>;
const PASSWORD = 'correct horse battery';
let A: RunningApp;

async function api(method: string, path: string, opts: { auth?: string; token?: string; body?: unknown; rawBody?: string } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.auth) headers.authorization = opts.auth;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method: method.toUpperCase(), headers, body });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

async function login(username: string, password = PASSWORD): Promise<string> {
  const r = await api('post', '/api/auth/login', { body: { username, password } });
  expect(r.status, `login ${username}`).toBe(200);
  return r.body.token as string;
}

const tokens: Record<'agent' | 'trainer' | 'admin' | 'apiAgent', string> = { agent: '', trainer: '', admin: '', apiAgent: '' };
/** Credentials that must all be refused with 401, by name. */
const badCredentials: [string, { auth?: string; token?: string }][] = [];

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { API_RATE_PER_MINUTE: '100000' });
  for (const [username, role] of [['root', 'admin'], ['tom', 'trainer'], ['alice', 'agent'], ['dora', 'agent'], ['eve', 'agent'], ['bob', 'agent'], ['carol', 'agent']] as const) {
    await A.store.users.create({ username, role, createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  }
  tokens.admin = await login('root');
  tokens.trainer = await login('tom');
  tokens.agent = await login('alice');
  const apiToken = await api('post', '/api/tokens', { token: tokens.admin, body: { username: 'alice', name: 'crm' } });
  expect(apiToken.status).toBe(201);
  tokens.apiAgent = apiToken.body.token;

  // Each kind of credential that must not work.
  const loggedOut = await login('alice');
  expect((await api('post', '/api/auth/logout', { token: loggedOut })).status).toBe(204);
  const disabled = await login('dora');
  expect((await api('patch', '/api/users/dora', { token: tokens.admin, body: { disabled: true } })).status).toBe(200);
  const revoked = await api('post', '/api/tokens', { token: tokens.admin, body: { username: 'alice', name: 'revoked' } });
  expect((await api('delete', `/api/tokens/${revoked.body.id}`, { token: tokens.admin })).status).toBe(204);
  const expired = randomBytes(32).toString('base64url');
  await A.store.users.addToken(tokenHash(expired), { id: randomUUID(), kind: 'session', username: 'root', name: null, createdAt: new Date(Date.now() - 7200_000), expiresAt: new Date(Date.now() - 3600_000) });
  const deletedUser = await login('eve');
  await A.db.collection('users').deleteOne({ _id: 'eve' as never });
  badCredentials.push(
    ['no credential', {}],
    ['Basic auth', { auth: `Basic ${Buffer.from(`root:${PASSWORD}`).toString('base64')}` }],
    ['empty bearer', { auth: 'Bearer ' }],
    ['short bearer', { auth: 'Bearer abc' }],
    ['unknown token', { token: randomBytes(32).toString('base64url') }],
    ['token with a space', { auth: `Bearer ${tokens.admin} x` }],
    ['lower-case scheme twice', { auth: `bearer bearer ${tokens.admin}` }],
    ['token hash instead of token', { token: tokenHash(tokens.admin) }],
    ['logged-out session', { token: loggedOut }],
    ['disabled user', { token: disabled }],
    ['revoked API token', { token: revoked.body.token }],
    ['expired session', { token: expired }],
    ['deleted user', { token: deletedUser }],
  );
});

afterAll(async () => {
  await A?.stop();
});

/**
 * /api routes that are not the staff API: the channels' endpoints for customers (the Bot Framework
 * endpoint, the web chat's token), which have their own tests (bot-endpoint, directline).
 */
const CUSTOMER_ROUTES = new Set(['post /api/messages', 'get /api/openapi.json', 'get /api/webchat/token']);

interface Operation {
  method: string;
  path: string;
  role: 'agent' | 'trainer' | 'admin' | null;
}

async function operations(): Promise<Operation[]> {
  const doc = (await api('get', '/api/openapi.json')).body;
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(methods)) ops.push({ method, path, role: op['x-required-role'] ?? null });
  }
  return ops;
}

/** A concrete URL for an OpenAPI path: parameters filled with a value of plausible shape. */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'number' ? 'T20260101-0001' : name === 'id' ? randomUUID() : name === 'username' ? 'nobody' : 'x'));
}

describe('the authentication matrix, generated from the OpenAPI document', () => {
  it('covers every /api route the server registers, and only login is public', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(20);
    expect(ops.filter((o) => o.role === null).map((o) => `${o.method} ${o.path}`)).toEqual(['post /api/auth/login']);
    const declared = new Set(ops.map((o) => `${o.method} ${o.path.replace(/\{(\w+)\}/g, ':$1')}`));
    const routes = Object.values((A.app.server as unknown as { router: { getRoutes(): Record<string, { method: string; path: string }> } }).router.getRoutes());
    const undeclared = routes
      .map((r) => `${r.method.toLowerCase().replace(/^del$/, 'delete')} ${r.path}`)
      .filter((r) => / \/api\//.test(r) && !declared.has(r) && !CUSTOMER_ROUTES.has(r));
    expect(undeclared).toEqual([]);
  });

  it('answers 401 to every bad credential on every protected route', async () => {
    const failures: string[] = [];
    for (const op of await operations()) {
      if (op.role === null) continue;
      for (const [name, cred] of badCredentials) {
        const r = await api(op.method, concrete(op.path), { ...cred, body: op.method === 'get' || op.method === 'delete' ? undefined : {} });
        if (r.status !== 401 || r.body.error?.code !== 'UNAUTHENTICATED') failures.push(`${op.method} ${op.path} with ${name}: ${r.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('answers 403 to every role below the one a route needs', async () => {
    const below: Record<string, (keyof typeof tokens)[]> = { agent: [], trainer: ['agent', 'apiAgent'], admin: ['agent', 'apiAgent', 'trainer'] };
    const failures: string[] = [];
    let checked = 0;
    for (const op of await operations()) {
      if (op.role === null) continue;
      for (const who of below[op.role]) {
        const r = await api(op.method, concrete(op.path), { token: tokens[who], body: op.method === 'get' || op.method === 'delete' ? undefined : {} });
        checked++;
        if (r.status !== 403 || r.body.error?.code !== 'FORBIDDEN') failures.push(`${op.method} ${op.path} as ${who}: ${r.status}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('lets the needed role (and every role above it) read', async () => {
    const atLeast: Record<string, (keyof typeof tokens)[]> = { agent: ['agent', 'apiAgent', 'trainer', 'admin'], trainer: ['trainer', 'admin'], admin: ['admin'] };
    const failures: string[] = [];
    for (const op of await operations()) {
      // Reads only: a write with the right role would act (train a model, log a session out …).
      if (op.role === null || op.method !== 'get') continue;
      for (const who of atLeast[op.role]) {
        const r = await api('get', concrete(op.path), { token: tokens[who] });
        if (r.status === 401 || r.status === 403 || r.status >= 500) failures.push(`${op.path} as ${who}: ${r.status}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('login lock-out cannot be turned against an office', () => {
  it('one address failing many logins does not lock out a colleague who signed in from it before', async () => {
    let now = Date.parse('2026-12-06T08:00:00Z');
    // The per-address bound is 100 by default; 10 here keeps the test short (each login costs an
    // scrypt hash, and the suite shares two cores). Same logic.
    const auth = new AuthService(A.store.users, { sessionTtlMs: 3600_000, now: () => new Date(now), ipThrottle: new LoginThrottle(10, 15 * 60_000, 30_000, 15 * 60_000, () => now) });
    const office = '10.1.2.3';
    expect(await auth.login('bob', PASSWORD, office).then(() => 200)).toBe(200);
    // The attacker shares the office address and sprays names.
    for (let i = 0; i < 10; i++) await auth.login(`guess-${i}`, 'wrong password!', office).catch(() => undefined);
    const stranger = await auth.login('guess-0', 'wrong password!', office).then(() => 200, (e: { status: number }) => e.status);
    expect(stranger).toBe(429);
    // Bob has signed in from here before: he still can. Carol has not: the address bound applies to her.
    expect(await auth.login('bob', PASSWORD, office).then(() => 200, (e: { status: number }) => e.status)).toBe(200);
    expect(await auth.login('carol', PASSWORD, office).then(() => 200, (e: { status: number }) => e.status)).toBe(429);
    now += 16 * 60_000;
    expect(await auth.login('carol', PASSWORD, office).then(() => 200, (e: { status: number }) => e.status)).toBe(200);
  });

  it('keys lock-outs by user name + address, with looser bounds per address and per user name', async () => {
    let now = Date.parse('2026-12-06T08:00:00Z');
    const auth = new AuthService(A.store.users, {
      sessionTtlMs: 3600_000,
      now: () => new Date(now),
      pairThrottle: new LoginThrottle(5, 15 * 60_000, 30_000, 15 * 60_000, () => now),
      ipThrottle: new LoginThrottle(100, 15 * 60_000, 30_000, 15 * 60_000, () => now),
      // Smaller than the default 50 to keep the test short (each login costs an scrypt hash); same logic.
      accountThrottle: new LoginThrottle(12, 15 * 60_000, 30_000, 15 * 60_000, () => now),
    });
    const fail = (user: string, ip: string) => auth.login(user, 'wrong password!', ip).then(() => 200, (e: { status: number }) => e.status);
    const ok = (user: string, ip: string) => auth.login(user, PASSWORD, ip).then(() => 200, (e: { status: number }) => e.status);
    expect(await ok('carol', '10.0.0.7')).toBe(200);
    // Five wrong passwords for carol from the attacker's address lock that pair only.
    for (let i = 0; i < 5; i++) expect(await fail('carol', '10.0.0.66')).toBe(401);
    expect(await ok('carol', '10.0.0.66')).toBe(429);
    expect(await ok('carol', '10.0.0.7')).toBe(200);
    expect(await ok('tom', '10.0.0.66')).toBe(200);
    // A spray over many addresses against one name locks it for new addresses, not known ones.
    for (let i = 0; i < 12; i++) await fail('carol', `198.51.100.${i}`);
    expect(await ok('carol', '203.0.113.1')).toBe(429);
    expect(await ok('carol', '10.0.0.7')).toBe(200);
    // The lock ends.
    now += 16 * 60_000;
    expect(await ok('carol', '10.0.0.66')).toBe(200);
  });
});

describe('prototype keys are refused wherever input becomes object keys', () => {
  it('a keyword edit with __proto__ (in any case) or constructor is a 400 naming the field; nothing is saved', async () => {
    const topic = 'delivery';
    const before = await A.db.collection('keywordEdits').countDocuments();
    for (const raw of ['{"set":{"__proto__":3}}', '{"set":{"constructor":{"x":1}}}', '{"__proto__":{"set":{"a":1}}}', '{"set":{"prototype":1}}']) {
      const r = await api('put', `/api/keywords/${topic}`, { token: tokens.trainer, rawBody: raw });
      expect(r.status, raw).toBe(400);
      expect(r.body.error.details[0].field).toMatch(/^body\.(set\.)?(__proto__|constructor|prototype)$/);
    }
    // Case-folded to "__proto__" by keyword normalisation: refused by the store as well.
    const folded = await api('put', `/api/keywords/${topic}`, { token: tokens.trainer, body: { set: { __PROTO__: 2 } } });
    expect(folded.status).toBe(400);
    expect(folded.body.error.message).toMatch(/__proto__/);
    expect(await A.db.collection('keywordEdits').countDocuments()).toBe(before);
    // A good edit still saves.
    const good = await api('put', `/api/keywords/${topic}`, { token: tokens.trainer, body: { set: { 快递: 2 } } });
    expect(good.status).toBe(200);
  });

  it('other routes and the query string refuse them too', async () => {
    const patch = await api('patch', '/api/users/carol', { token: tokens.admin, rawBody: '{"__proto__":{"role":"admin"}}' });
    expect(patch.status).toBe(400);
    expect(patch.body.error.details[0].field).toBe('body.__proto__');
    // restify's query parser (qs, allowPrototypes off) drops keys Object.prototype has before any
    // code sees them; the others reach the router, which refuses them.
    const plain = await api('get', '/api/tickets', { token: tokens.agent });
    for (const query of ['constructor=1', '__proto__[status]=lost']) {
      const q = await api('get', `/api/tickets?${query}`, { token: tokens.agent });
      expect(q.status, query).toBe(200);
      expect(q.body, query).toEqual(plain.body);
    }
    const proto = await api('get', '/api/tickets?prototype=1', { token: tokens.agent });
    expect(proto.status).toBe(400);
    expect(proto.body.error.details[0].field).toBe('query.prototype');
    expect((await A.store.users.get('carol'))!.role).toBe('agent');
  });
});
