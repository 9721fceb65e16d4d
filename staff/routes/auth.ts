/**
 * Sign-in, users, API tokens and the audit log. Users are managed by admins; the first admin comes
 * from the command line (`npm run -s user:add`), never from a default password.
 */
import { z } from 'zod';
import { AuditQuerySchema } from '../../store/audit-log.js';
import { ROLES } from '../../store/schemas.js';
import { Username } from '../../store/user-repository.js';
import { hashPassword, Password, type AuthService } from '../auth.js';
import type { StaffDeps } from '../deps.js';
import { bearerToken, HttpError, type ApiRouter } from '../http.js';

const LoginBody = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();
const NewUser = z.object({ username: Username, password: Password, role: z.enum(ROLES) }).strict();
const UserChange = z
  .object({ role: z.enum(ROLES).optional(), password: Password.optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'nothing to change');
const UserParams = z.object({ username: Username }).strict();
const NewToken = z.object({ username: Username, name: z.string().trim().min(1).max(64), expiresInDays: z.number().int().min(1).max(730).default(90) }).strict();
const TokenParams = z.object({ id: z.string().uuid() }).strict();

/** Registers sign-in, user management, API tokens and the audit log, in that order (the OpenAPI document's). */
export function registerAuthRoutes(router: ApiRouter, deps: StaffDeps & { auth: AuthService }): void {
  registerSessionRoutes(router, deps);
  registerUserRoutes(router, deps);
  registerTokenRoutes(router, deps);
  registerAuditRoute(router, deps);
}

/** Log in, log out, and who the session is. */
function registerSessionRoutes(router: ApiRouter, deps: StaffDeps & { auth: AuthService }): void {
  const { auth, services } = deps;

  router.add({
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in with user name and password; returns an expiring session token',
    tag: 'auth',
    role: null,
    body: LoginBody,
    responses: { 200: 'session token', 401: 'wrong user name or password', 429: 'too many failed attempts (Retry-After)' },
    handler: async ({ body, ip }) => {
      const r = await auth.login(body.username, body.password, ip);
      await services.tickets.auditAfterChange(r.user.username, 'auth.login', null, { ip });
      return { body: { token: r.token, expiresAt: r.expiresAt, user: { username: r.user.username, role: r.user.role } } };
    },
  });

  router.add({
    method: 'post',
    path: '/api/auth/logout',
    summary: 'Ends the session of the token sent',
    tag: 'auth',
    role: 'agent',
    responses: { 204: 'logged out' },
    handler: async ({ req, principal }) => {
      await auth.logout(bearerToken(req)!);
      await services.tickets.auditAfterChange(principal!.username, 'auth.logout', null);
      return { status: 204 };
    },
  });

  router.add({
    method: 'get',
    path: '/api/auth/me',
    summary: 'Who the token belongs to',
    tag: 'auth',
    role: 'agent',
    handler: async ({ principal }) => ({ body: { username: principal!.username, role: principal!.role, via: principal!.via } }),
  });
}

/** Users (admins only): list, create, change role, password or disabled. */
function registerUserRoutes(router: ApiRouter, deps: StaffDeps & { auth: AuthService }): void {
  const { auth, store, services } = deps;
  const users = store.users;

  router.add({
    method: 'get',
    path: '/api/users',
    summary: 'Staff accounts',
    tag: 'users',
    role: 'admin',
    handler: async () => ({ body: { items: await users.list() } }),
  });

  router.add({
    method: 'post',
    path: '/api/users',
    summary: 'Creates a staff account',
    tag: 'users',
    role: 'admin',
    body: NewUser,
    responses: { 201: 'created', 409: 'the user name is taken' },
    handler: async ({ body, principal }) => {
      const user = await auth.createUser({ ...body, createdBy: principal!.username });
      await services.tickets.auditAfterChange(principal!.username, 'user.create', user.username, { role: user.role });
      return { status: 201, body: user };
    },
  });

  router.add({
    method: 'patch',
    path: '/api/users/{username}',
    summary: "Changes a user's role, password or disabled flag (disabling or a new password ends their sessions)",
    tag: 'users',
    role: 'admin',
    params: UserParams,
    body: UserChange,
    responses: { 200: 'the user', 404: 'no such user', 409: 'would leave no active admin' },
    handler: async ({ params, body, principal }) => {
      const before = await users.get(params.username);
      if (!before) throw new HttpError(404, 'NOT_FOUND', `user ${params.username} not found`);
      const losesAdmin = before.role === 'admin' && !before.disabled && ((body.role !== undefined && body.role !== 'admin') || body.disabled === true);
      if (losesAdmin) {
        const activeAdmins = (await users.list()).filter((u) => u.role === 'admin' && !u.disabled);
        if (activeAdmins.length <= 1) throw new HttpError(409, 'LAST_ADMIN', 'this is the only active admin; make someone else admin first');
      }
      // Before the change: an outage right after it must not let this process accept the old sessions as they were.
      auth.forgetVerified({ username: params.username });
      const user = await users.update(params.username, {
        role: body.role,
        disabled: body.disabled,
        passwordHash: body.password === undefined ? undefined : await hashPassword(body.password),
      });
      if (body.disabled === true || body.password !== undefined) await users.deleteTokensOf(user.username, 'session');
      if (body.disabled === true) await users.deleteTokensOf(user.username, 'api');
      const details = { ...(body.role ? { role: { from: before.role, to: body.role } } : {}), ...(body.disabled !== undefined ? { disabled: body.disabled } : {}), ...(body.password ? { password: 'changed' } : {}) };
      await services.tickets.auditAfterChange(principal!.username, 'user.update', user.username, details);
      return { body: user };
    },
  });
}

/** API tokens (admins only): list, create, revoke. */
function registerTokenRoutes(router: ApiRouter, deps: StaffDeps & { auth: AuthService }): void {
  const { auth, store, services } = deps;
  const users = store.users;

  router.add({
    method: 'get',
    path: '/api/tokens',
    summary: 'API tokens for integrations (the secrets are never shown again)',
    tag: 'users',
    role: 'admin',
    handler: async () => ({ body: { items: await users.listApiTokens() } }),
  });

  router.add({
    method: 'post',
    path: '/api/tokens',
    summary: "Creates an API token acting as a user (with that user's role); the token is shown once",
    tag: 'users',
    role: 'admin',
    body: NewToken,
    responses: { 201: 'the token (shown once)', 404: 'no such user' },
    handler: async ({ body, principal }) => {
      const { token, record } = await auth.createApiToken(body.username, body.name, body.expiresInDays * 86_400_000);
      await services.tickets.auditAfterChange(principal!.username, 'token.create', record.id, { username: record.username, name: record.name });
      return { status: 201, body: { ...record, token } };
    },
  });

  router.add({
    method: 'delete',
    path: '/api/tokens/{id}',
    summary: 'Revokes an API token',
    tag: 'users',
    role: 'admin',
    params: TokenParams,
    responses: { 204: 'revoked', 404: 'no such token' },
    handler: async ({ params, principal }) => {
      auth.forgetVerified({ tokenId: params.id });
      if (!(await users.deleteToken(params.id))) throw new HttpError(404, 'NOT_FOUND', `token ${params.id} not found`);
      await services.tickets.auditAfterChange(principal!.username, 'token.revoke', params.id);
      return { status: 204 };
    },
  });
}

/** The audit log (admins only). */
function registerAuditRoute(router: ApiRouter, deps: StaffDeps & { auth: AuthService }): void {
  const { store } = deps;

  router.add({
    method: 'get',
    path: '/api/audit',
    summary: 'The audit log: who changed what, when (newest first)',
    tag: 'users',
    role: 'admin',
    query: AuditQuerySchema,
    handler: async ({ query }) => ({ body: await store.audit.list(query) }),
  });
}
