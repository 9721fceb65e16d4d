/**
 * The staff side of the server, wired in one place: authentication, the REST API (tickets, stats,
 * customers, users, audit; the trainer routes are added by the caller) with its OpenAPI document,
 * and the web console.
 */
import type restify from 'restify';
import type { AuthService } from './auth.js';
import type { StaffDeps } from './deps.js';
import { ApiRouter } from './http.js';
import { registerAttachmentRoutes } from './routes/attachments.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerCustomerRoutes } from './routes/customers.js';
import { registerLiveRoutes, type EventStreams } from './routes/live.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerTicketRoutes } from './routes/tickets.js';
import { registerWorkingDayRoutes } from './routes/working-day.js';

export interface Staff {
  router: ApiRouter;
  auth: AuthService;
  /** Open `GET /api/events` streams (closed on shutdown). */
  streams: EventStreams;
}

export function mountStaff(server: restify.Server, deps: StaffDeps): Staff {
  const auth = deps.services.auth;
  const router = new ApiRouter(server, {
    authenticate: (token) => auth.authenticate(token),
    ratePerMinute: deps.config.API_RATE_PER_MINUTE,
    log: deps.log,
  });
  registerAuthRoutes(router, { ...deps, auth });
  registerTicketRoutes(router, deps);
  registerWorkingDayRoutes(router, deps);
  registerAttachmentRoutes(router, deps);
  registerStatsRoutes(router, { ...deps, counters: deps.store.counters, channelMessages: deps.store.channelMessages });
  registerCustomerRoutes(router, { ...deps, customers: deps.store.customers });
  const streams = registerLiveRoutes(router, { ...deps, authenticate: (token) => auth.authenticate(token) });
  router.add({
    method: 'get',
    path: '/api/capacity',
    summary: "History size against the embedded database's measured ceiling, with what to do (zh-Hans, zh-Hant, en) when near or over it",
    tag: 'admin',
    role: 'admin',
    handler: async () => ({ body: await deps.store.capacity.status() }),
  });
  server.get('/api/openapi.json', async (_req, res) => {
    res.send(200, router.openapi({ title: 'Demand desk staff API', version: '1.0.0' }));
  });
  return { router, auth, streams };
}
