/**
 * Customer profiles for staff: customers linked across channels by identity, phone and e-mail,
 * their tickets, and how much each customer (and the customer base) relies on each channel.
 * The linking and the bands live in staff/customer-directory.ts (pure); this module validates
 * requests and reads the customer documents (a few documents by id, never the tickets).
 */
import { z } from 'zod';
import { PROBE_MAX_AGE_MS } from '../../store/json-docs.js';
import type { MongoCustomerRepository } from '../../store/customer-repository.js';
import { NotFoundError } from '../../store/errors.js';
import type { ApiRouter } from '../http.js';
import {
  directoryChannels,
  directoryPreferences,
  directoryProfile,
  directorySummary,
  findDirectoryCustomer,
  linkIdentities,
  searchDirectory,
} from '../customer-directory.js';

export interface CustomerRouteDeps {
  /** Customer documents: the directory shards and each identity's ticket summaries, read by id. */
  customers: Pick<MongoCustomerRepository, 'identitiesVersioned' | 'ticketsOf' | 'directoryChangedSince'>;
  now?: () => Date;
}

/** How long a linked directory is reused at most: the probe of its versions stays valid for this long (store/json-docs.ts). */
const DIRECTORY_MAX_AGE_MS = PROBE_MAX_AGE_MS;
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
  // The linked directory is work in proportion to every customer ever seen (all shards read and
  // parsed, identities linked): it is kept while no shard has changed since it was read (a probe
  // of small claim documents per request, store/json-docs.ts changedSince), so a list or profile
  // costs that probe, not the whole directory.
  const now = () => (deps.now ? deps.now().getTime() : Date.now());
  const link = async () => {
    const { identities, versions, gen } = await deps.customers.identitiesVersioned();
    const customers = linkIdentities(identities);
    return { customers, channels: directoryChannels(customers), versions, gen };
  };
  let memo: { at: number; value: ReturnType<typeof link> } | null = null;
  const load = async () => {
    const current = memo;
    if (current && now() - current.at <= DIRECTORY_MAX_AGE_MS) {
      const value = await current.value.catch(() => null);
      if (value && !(await deps.customers.directoryChangedSince(value.versions, value.gen))) return value;
    }
    if (memo === current) {
      const value = link();
      memo = { at: now(), value };
      value.catch(() => {
        if (memo?.value === value) memo = null;
      });
    }
    return memo!.value;
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
      const { customers, channels } = await load();
      const customer = findDirectoryCustomer(customers, params.id);
      if (!customer) throw new NotFoundError(`customer ${params.id} not found`);
      const tickets = (await Promise.all(customer.identities.map((i) => deps.customers.ticketsOf(i)))).flat();
      return { body: directoryProfile(customer, channels, tickets) };
    },
  });
}
