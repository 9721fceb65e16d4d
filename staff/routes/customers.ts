/**
 * Customer profiles for staff: customers linked across channels by identity, phone and e-mail,
 * their tickets, and how much each customer (and the customer base) relies on each channel.
 * The linking and the bands live in staff/customer-directory.ts (pure); this module validates
 * requests and reads the customer documents (a few documents by id, never the tickets).
 */
import { z } from 'zod';
import type { MongoCustomerRepository } from '../../store/customer-repository.js';
import { NotFoundError } from '../../store/errors.js';
import type { ApiRouter } from '../http.js';
import {
  directoryPreferences,
  directoryProfile,
  directorySummary,
  LinkedDirectory,
  searchDirectory,
} from '../customer-directory.js';

export interface CustomerRouteDeps {
  /** Customer documents: the directory shards and each identity's ticket summaries, read by id. */
  customers: Pick<MongoCustomerRepository, 'directoryShards' | 'ticketsOf'>;
}

export const CustomerListQuerySchema = z
  .object({
    search: z.string().trim().min(1).max(100).optional(),
    page: z.coerce.number().int().min(1).max(100_000).default(1),
    pageSize: z.coerce.number().int().min(1).max(200).default(20),
  })
  .strict();

/** A customer id as listed (`webchat:u1`), URL-encoded in the path; any identity's id also finds the customer. */
const CustomerParamsSchema = z.object({ id: z.string().min(1).max(600) });

export function registerCustomerRoutes(router: ApiRouter, deps: CustomerRouteDeps): void {
  // The linked directory is work in proportion to every customer ever seen: it is kept, and a
  // changed directory shard (found by a probe of small claim documents, store/read-cache.ts)
  // re-links only the customers its changed identities touch (LinkedDirectory).
  const linked = new LinkedDirectory();
  const load = async () => {
    linked.sync(await deps.customers.directoryShards());
    return linked;
  };

  router.add({
    method: 'get',
    path: '/api/customers',
    summary: 'Customers (identities linked across channels by user id, phone and e-mail), most recent contact first',
    tag: 'customers',
    role: 'agent',
    query: CustomerListQuerySchema,
    handler: async ({ query }) => {
      const { customers: all } = await load();
      const matching = query.search ? searchDirectory(all, query.search) : all;
      const start = (query.page - 1) * query.pageSize;
      return { body: { items: matching.slice(start, start + query.pageSize).map(directorySummary), total: matching.length, page: query.page, pageSize: query.pageSize } };
    },
  });

  // Declared before /{id}; the router also prefers a static segment over a parameter.
  router.add({
    method: 'get',
    path: '/api/customers/channel-preferences',
    summary: 'For each channel, the share of customers in each reliance band (基本不接触 … 依赖)',
    tag: 'customers',
    role: 'agent',
    handler: async () => ({ body: directoryPreferences((await load()).customers) }),
  });

  router.add({
    method: 'get',
    path: '/api/customers/{id}',
    summary: "A customer's profile: identities, contact details, channel shares with bands, and tickets (newest first)",
    tag: 'customers',
    role: 'agent',
    params: CustomerParamsSchema,
    responses: { 200: 'the profile', 404: 'no customer with this id' },
    handler: async ({ params }) => {
      const { channels } = await load();
      const customer = linked.customerOfIdentity(params.id);
      if (!customer) throw new NotFoundError(`customer ${params.id} not found`);
      const tickets = (await Promise.all(customer.identities.map((i) => deps.customers.ticketsOf(i)))).flat();
      return { body: directoryProfile(customer, channels, tickets) };
    },
  });
}
