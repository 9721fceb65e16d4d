/**
 * Issue 14, finding 7, at scale: 3,200 generated malformed activities, half to the Bot Framework
 * endpoint (`POST /api/messages`) and half to the web chat's Direct Line endpoint, against the
 * whole app over real HTTP. Each is built from a valid activity by one to three seeded mutations of
 * fields the server relies on (missing, wrong type, empty, oversized, forbidden keys, bad URLs),
 * so every one is malformed by construction. Each must get a 400 whose message names a field the
 * mutation broke; none may get a 5xx, a 2xx, or make the server call out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, unknown>;

/** mulberry32: a small seeded generator, so a failing case can be replayed by its index. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DELETE = Symbol('delete');
/** Values no validated field accepts (whatever its type), plus values wrong for strings in particular. */
const NOT_A_STRING = [7, -1.5, true, false, null, [], ['x'], {}, { id: 'x' }, { $gt: '' }];
const BAD_STRINGS = ['', 'x'.repeat(5000)];
const BAD_URLS = ['', 'file:///etc/passwd', 'javascript:alert(1)', 'not a url', 'ftp://127.0.0.1/', `http://127.0.0.1/${'a'.repeat(3000)}`, 'gopher://127.0.0.1:9/'];
const BAD_OBJECTS = [7, 'x', true, null, [], [{ id: 'x' }]];
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

interface Mutation {
  /** Dotted path in the activity. */
  path: string;
  value: unknown;
}

/** Sets (or deletes) a dotted path, creating plain objects on the way; `__proto__` is set as an own key. */
function apply(target: Json, { path, value }: Mutation): void {
  const keys = path.split('.');
  let node: Json = target;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) Object.defineProperty(node, k, { value: {}, enumerable: true, writable: true, configurable: true });
    node = node[k] as Json;
  }
  const last = keys.at(-1)!;
  if (value === DELETE) delete node[last];
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
}

/** The field a refusal should name for a mutation: a prototype key is named where it sits. */
function fieldOf(m: Mutation): string {
  return m.path;
}

/** Mutations of the fields `/api/messages` validates (bot/channel-guard.ts). */
function botEndpointMutations(pick: () => number): Mutation {
  const choose = <T>(xs: readonly T[]): T => xs[Math.floor(pick() * xs.length)];
  switch (Math.floor(pick() * 9)) {
    case 0:
      return { path: choose(['type', 'channelId', 'serviceUrl', 'conversation', 'from', 'recipient']), value: DELETE };
    case 1:
      return { path: choose(['type', 'channelId', 'serviceUrl', 'conversation.id', 'from.id', 'recipient.id', 'text', 'locale']), value: choose(NOT_A_STRING) };
    case 2:
      return { path: choose(['type', 'conversation.id', 'from.id', 'recipient.id']), value: choose(BAD_STRINGS) };
    case 3:
      return { path: 'channelId', value: choose(['', '../x', 'a b', 'x'.repeat(65), 'web/chat', '微信', 'emu\u0000lator']) };
    case 4:
      return { path: 'serviceUrl', value: choose(BAD_URLS) };
    case 5:
      return { path: choose(['conversation', 'from', 'recipient']), value: choose(BAD_OBJECTS) };
    case 6:
      return { path: `${choose(['channelData', 'value', 'entities', 'conversation', 'from'])}.${choose(PROTOTYPE_KEYS)}`, value: { admin: true } };
    case 7:
      return { path: choose(['from.name', 'recipient.name']), value: choose([7, true, [], {}, 'x'.repeat(300)]) };
    default:
      return { path: 'locale', value: choose(['x'.repeat(33), 5, {}]) };
  }
}

/** Mutations of the fields the Direct Line endpoint validates (bot/directline/schemas.ts). */
function directLineMutations(pick: () => number): Mutation {
  const choose = <T>(xs: readonly T[]): T => xs[Math.floor(pick() * xs.length)];
  switch (Math.floor(pick() * 8)) {
    case 0:
      return { path: 'type', value: choose([DELETE, '', 'conversationUpdate', 'invoke', 'MESSAGE', 7, null, {}]) };
    case 1:
      return { path: choose(['text', 'locale', 'speak', 'summary', 'replyToId', 'valueType', 'name']), value: choose(NOT_A_STRING) };
    case 2:
      return { path: choose(['from', 'channelData']), value: choose([7, 'x', true, []]) };
    case 3:
      return { path: 'from.id', value: choose(['', 7, null, {}, 'x'.repeat(300)]) };
    case 4:
      return { path: 'attachments', value: choose([7, 'x', {}, [7], [{}], [{ contentType: 7 }], Array.from({ length: 21 }, () => ({ contentType: 'text/plain' }))]) };
    case 5:
      return { path: 'textFormat', value: choose(['html', 'PLAIN', 7, '']) };
    case 6:
      return { path: `${choose(['channelData', 'value', 'from'])}.${choose(PROTOTYPE_KEYS)}`, value: { admin: true } };
    default:
      return { path: choose(['entities', 'reactionsAdded']), value: choose([7, 'x', {}, [7], Array.from({ length: 60 }, () => ({}))]) };
  }
}

/** Up to three mutations on distinct top-level fields (so no mutation undoes another). */
function mutate(base: () => Json, gen: (pick: () => number) => Mutation, pick: () => number): { body: Json; fields: string[] } {
  const body = base();
  const mutations: Mutation[] = [];
  const count = 1 + Math.floor(pick() * 3);
  for (let tries = 0; mutations.length < count && tries < 20; tries++) {
    const m = gen(pick);
    const top = m.path.split('.')[0];
    if (mutations.some((x) => x.path.split('.')[0] === top)) continue;
    mutations.push(m);
  }
  for (const m of mutations) apply(body, m);
  return { body, fields: mutations.map(fieldOf) };
}

const CASES_PER_ENDPOINT = 1600;
let A: RunningApp;
let attacker: { server: Server; url: string; hits: number };

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '1000', WEBCHAT_CLIENT_BYTES_PER_MINUTE: String(1024 ** 3), WEBCHAT_MAX_CONVERSATION_BYTES: String(1024 ** 3) });
  const server = createServer((_req, res) => {
    attacker.hits++;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  attacker = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, hits: 0 };
});

afterAll(async () => {
  attacker?.server.close();
  await A?.stop();
});

/** Posts every case (a few at a time) and returns the outcomes that broke the rule. */
async function replay(cases: { body: Json; fields: string[] }[], post: (body: string) => Promise<{ status: number; text: string }>): Promise<{ statuses: Map<number, number>; failures: string[] }> {
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const { body, fields } = cases[i];
      const r = await post(JSON.stringify(body));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      let message = '';
      try {
        message = String((JSON.parse(r.text) as { error?: { message?: unknown } }).error?.message ?? '');
      } catch {
        message = r.text;
      }
      // The message names one of the broken fields (the first problem found is enough).
      const named = fields.some((f) => message.includes(f));
      if (r.status !== 400 || !named) failures.push(`case ${i} (${fields.join(', ')}): ${r.status} ${message.slice(0, 160)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { statuses, failures };
}

describe('3,200 malformed activities: every one a 400 naming the problem, none a 5xx', () => {
  it(`POST /api/messages: ${CASES_PER_ENDPOINT} mutated activities`, async () => {
    const pick = random(14_007);
    let n = 0;
    const valid = (): Json => ({
      type: 'message',
      id: `fuzz-${n++}`,
      channelId: 'emulator',
      // The attacker's URL would be called if a case slipped through validation and the allow-list.
      serviceUrl: attacker.url,
      from: { id: 'fuzz-customer', name: 'x' },
      recipient: { id: 'bot' },
      conversation: { id: `fuzz-${n}` },
      text: '帮助',
      locale: 'zh-CN',
    });
    const cases = Array.from({ length: CASES_PER_ENDPOINT }, () => mutate(valid, botEndpointMutations, pick));
    const { statuses, failures } = await replay(cases, async (body) => {
      const res = await fetch(`${A.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: res.status, text: await res.text() };
    });
    expect(failures.slice(0, 10)).toEqual([]);
    expect([...statuses.keys()]).toEqual([400]);
    await new Promise((r) => setTimeout(r, 200));
    expect(attacker.hits).toBe(0);
  });

  it(`POST /v3/directline/conversations/{id}/activities: ${CASES_PER_ENDPOINT} mutated activities`, async () => {
    const page = await fetch(`${A.url}/api/webchat/token`);
    const { conversationId, token } = (await page.json()) as { conversationId: string; token: string };
    expect((await fetch(`${A.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' })).status).toBe(201);
    const pick = random(14_014);
    const valid = (): Json => ({ type: 'message', text: '帮助', locale: 'zh-CN', from: { id: 'ignored' }, channelData: { clientActivityID: 'x' }, value: { a: 1 } });
    const cases = Array.from({ length: CASES_PER_ENDPOINT }, () => mutate(valid, directLineMutations, pick));
    const url = `${A.url}/v3/directline/conversations/${conversationId}/activities`;
    const { statuses, failures } = await replay(cases, async (body) => {
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      return { status: res.status, text: await res.text() };
    });
    expect(failures.slice(0, 10)).toEqual([]);
    expect([...statuses.keys()]).toEqual([400]);
    // Nothing malformed reached the conversation: its log holds no client message.
    const log = (await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json()) as { activities: { from: { role?: string }; type: string }[] };
    expect(log.activities.filter((a) => a.type === 'message' && a.from.role !== 'bot')).toEqual([]);
  });
});
