/**
 * The guard in front of `POST /api/messages` (the Bot Framework endpoint), following the Bot
 * Framework's own security model:
 *
 * - every activity is validated first (400 naming the field), so a malformed one never reaches the
 *   adapter and never causes an outgoing call;
 * - with credentials, CloudAdapter checks the channel's signed token (JWT) on every activity, and
 *   the token's `serviceurl` claim vouches for the URL the bot answers to;
 * - without credentials (the Emulator's local mode) nothing vouches for the sender, so the endpoint
 *   takes activities only from loopback peers, and only with a `serviceUrl` on the allow-list
 *   (loopback by default): a stranger can neither impersonate a customer nor make the server call
 *   a URL of their choosing.
 *
 * Outgoing calls to the channel get a timeout, so an unreachable serviceUrl cannot hold a turn.
 */
import { z } from 'zod';
import { isLoopbackAddress } from '../runtime/config.js';
import { findPrototypeKey } from '../store/validation.js';

const Id = (max: number) => z.string().min(1, 'must not be empty').max(max, `at most ${max} characters`);
const Account = z.looseObject({ id: Id(256), name: z.string().max(256).optional() });

/** What the bot relies on in an incoming activity; other fields pass through untouched. */
export const IncomingActivitySchema = z.looseObject({
  type: Id(64),
  id: z.string().max(256).optional(),
  channelId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-" (1 to 64)'),
  serviceUrl: z
    .string()
    .max(2048)
    .refine((u) => {
      try {
        return ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        return false;
      }
    }, 'must be an http(s) URL'),
  conversation: z.looseObject({ id: Id(512) }),
  from: Account,
  recipient: Account,
  text: z.string().optional(),
  locale: z.string().max(32).optional(),
});

/** A refusal: HTTP status, stable code, and a message naming the field. */
export interface Refusal {
  status: 400 | 403;
  code: 'BAD_ACTIVITY' | 'FORBIDDEN_PEER' | 'FORBIDDEN_SERVICE_URL';
  message: string;
  field?: string;
}

export interface GuardOptions {
  /** True when Bot Framework credentials are configured (CloudAdapter then checks each JWT). */
  authenticated: boolean;
  /** Local mode: hosts (`host` or `host:port`) a serviceUrl may name. */
  allowedServiceHosts: readonly string[];
}

/** Validates an activity and, in local mode, its sender and serviceUrl. Null when it may pass. */
export function checkActivity(body: unknown, peer: string | undefined, opts: GuardOptions): Refusal | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 400, code: 'BAD_ACTIVITY', message: 'the body must be a Bot Framework activity (a JSON object)', field: 'body' };
  }
  const forbidden = findPrototypeKey(body, 'body');
  if (forbidden) return { status: 400, code: 'BAD_ACTIVITY', message: `invalid activity: ${forbidden}: key not allowed`, field: forbidden };
  const r = IncomingActivitySchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = ['body', ...issue.path.map(String)].join('.');
    return { status: 400, code: 'BAD_ACTIVITY', message: `invalid activity: ${field}: ${issue.message}`, field };
  }
  if (opts.authenticated) return null;
  // Local mode: the Emulator runs on this machine; nobody else may speak for a customer.
  if (peer === undefined || !isLoopbackAddress(peer)) {
    return { status: 403, code: 'FORBIDDEN_PEER', message: 'without Bot Framework credentials (local mode) this endpoint takes activities from this machine only' };
  }
  if (!serviceUrlAllowed(r.data.serviceUrl, opts.allowedServiceHosts)) {
    return {
      status: 403,
      code: 'FORBIDDEN_SERVICE_URL',
      message: 'invalid activity: body.serviceUrl: not on the allow-list of local mode (LOCAL_SERVICE_URL_HOSTS)',
      field: 'body.serviceUrl',
    };
  }
  return null;
}

/** Whether a serviceUrl's host (and port, when the entry names one) is on the allow-list. */
export function serviceUrlAllowed(serviceUrl: string, allowed: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(serviceUrl);
  } catch {
    return false;
  }
  // URL keeps IPv6 hosts in brackets, as the allow-list writes them.
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return allowed.some((entry) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    return m !== null && m[1] === host && (m[2] === undefined || m[2] === port);
  });
}

/** The slice of a connector client (azure core-client underneath) a timeout needs. */
interface PipelineHolder {
  client?: { pipeline?: { addPolicy(policy: DeadlinePolicy): void; getOrderedPolicies(): { name: string }[] } };
}
interface OutgoingRequest {
  timeout: number;
  abortSignal?: AbortSignal;
}
interface DeadlinePolicy {
  name: string;
  sendRequest(request: OutgoingRequest, next: (request: OutgoingRequest) => Promise<unknown>): Promise<unknown>;
}

const DEADLINE_POLICY = 'demand-desk-channel-deadline';

/**
 * Bounds every outgoing call of a turn's connector client (replies, typing indicators) to
 * `timeoutMs` in all, retries included, so an unreachable serviceUrl (one that never answers, or
 * refuses the connection and is retried) costs a bounded wait instead of holding the turn.
 * CloudAdapter makes a new client per turn and keeps it in the turn state; botbuilder offers no
 * option that reaches that client's pipeline, so the policy is added to it here. Added without a
 * phase, it runs before the retry policy and so wraps every attempt.
 *
 * @returns whether the client had a pipeline to bound
 */
export function boundChannelCalls(connectorClient: unknown, timeoutMs: number): boolean {
  const pipeline = (connectorClient as PipelineHolder | undefined)?.client?.pipeline;
  if (!pipeline) return false;
  if (pipeline.getOrderedPolicies().some((p) => p.name === DEADLINE_POLICY)) return true;
  pipeline.addPolicy({
    name: DEADLINE_POLICY,
    sendRequest: (request, next) => {
      if (!request.timeout || request.timeout > timeoutMs) request.timeout = timeoutMs;
      const deadline = AbortSignal.timeout(timeoutMs);
      request.abortSignal = request.abortSignal ? AbortSignal.any([request.abortSignal, deadline]) : deadline;
      return next(request);
    },
  });
  return true;
}
