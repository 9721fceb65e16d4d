/**
 * Issue 14 findings 2, 3, 6 and 7 replayed as attacks on the web chat channel of the real app (real
 * HTTP, real database), each asserting that it now fails safely:
 * - 2: a client claiming another customer's user id is refused (starting a conversation,
 *   generating a token) or isolated (in an activity), cannot read that customer's ticket, and a
 *   forged customer key gets a new id; with a Direct Line secret configured, token generation and
 *   anonymous starts need it.
 * - 3: the connector endpoints that showed any text in a customer's chat are gone.
 * - 6: a flood of 60 KB messages is refused (429) before it is stored, per conversation and per
 *   client, and the stored log stays within the budget.
 * - 7: malformed activities get 400 naming the field, never 5xx or 200.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, any>;

const SECRET = 'security-test-direct-line-secret';
let open: RunningApp; // no secret: the page's way in, small budgets
let secured: RunningApp; // DIRECT_LINE_SECRET set

async function call(method: string, url: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = `Bearer ${opts.token}`;
  const body = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

/** A customer on the page: token, start, and a `say` that waits for the bot's reply in the log. */
async function customer(app: RunningApp, customerKey?: string) {
  const page = await call('GET', `${app.url}/api/webchat/token`, { headers: customerKey ? { 'X-Customer-Key': customerKey } : {} });
  expect(page.status).toBe(200);
  const { conversationId, token } = page.body as { conversationId: string; token: string };
  expect((await call('POST', `${app.url}/v3/directline/conversations`, { token, body: {} })).status).toBe(201);
  const url = `${app.url}/v3/directline/conversations/${conversationId}/activities`;
  const say = async (text: string, from?: string): Promise<string> => {
    const posted = await call('POST', url, { token, body: { type: 'message', text, locale: 'zh-CN', ...(from ? { from: { id: from } } : {}) } });
    expect(posted.status, text).toBe(200);
    const log = await call('GET', url, { token });
    const reply = log.body.activities.find((a: Json) => a.replyToId === posted.body.id && a.type === 'message');
    return String(reply?.text ?? '');
  };
  return { ...page.body, url, token, say } as { conversationId: string; token: string; userId: string; customerKey: string; url: string; say: typeof say };
}

beforeAll(async () => {
  [open, secured] = await Promise.all([
    startApp(inject('mongoUri'), { RATE_LIMIT_PER_10S: '1000', WEBCHAT_MAX_CONVERSATION_BYTES: String(200 * 1024), WEBCHAT_CLIENT_BYTES_PER_MINUTE: String(600 * 1024) }),
    startApp(inject('mongoUri'), { DIRECT_LINE_SECRET: SECRET }),
  ]);
});

afterAll(async () => {
  await Promise.all([open?.stop(), secured?.stop()]);
});

describe('finding 2: the web chat user id is issued by the server', () => {
  it('refuses or isolates a client claiming another customer\'s id, who keeps their ticket to themselves', async () => {
    const victim = await customer(open);
    await victim.say('我的快递三天了还没到，物流信息一直不更新');
    await victim.say('对');
    const filed = await victim.say('跳过');
    const number = filed.match(/T\d{8}-\d{4}/)?.[0];
    expect(number, filed).toBeDefined();
    const victimId = victim.userId;
    // Agents see a pseudonymous reference on the ticket, never the id the customer's page holds.
    const seenByStaff = (await open.store.tickets.get(number!))?.customer.userId;
    expect(seenByStaff).toMatch(/^webchat:c-[\w-]{22}$/);
    expect(seenByStaff).not.toContain(victimId);

    // Starting a conversation or generating a token as the victim: refused, naming the field.
    for (const path of ['/v3/directline/conversations', '/v3/directline/tokens/generate']) {
      const r = await call('POST', `${open.url}${path}`, { body: { user: { id: victimId } } });
      expect(r.status, path).toBe(403);
      expect(r.body.error.message, path).toMatch(/^user\.id: /);
    }
    // With the attacker's own page token, naming the victim at the start: refused.
    const page = await call('GET', `${open.url}/api/webchat/token`);
    const claimed = await call('POST', `${open.url}/v3/directline/conversations`, { token: page.body.token, body: { user: { id: victimId } } });
    expect(claimed.status).toBe(403);

    // Posting activities "from" the victim: isolated, the conversation's own user is stamped, and
    // a status lookup finds nothing of the victim's.
    const attacker = await customer(open);
    const answer = await attacker.say('查询工单', victimId);
    expect(answer).not.toContain(number!);
    const log = await call('GET', attacker.url, { token: attacker.token });
    const mine = log.body.activities.filter((a: Json) => a.from.role === 'user');
    expect(mine.map((a: Json) => a.from.id)).toEqual([expect.stringMatching(/^webchat:c-[\w-]{22}$/)]);
    expect(mine[0].from.id).not.toBe(seenByStaff);
    const supplement = await attacker.say(`补充：${'我要退款'}`, victimId);
    expect(supplement).not.toContain(number!);
    expect((await open.store.tickets.get(number!))?.text.original).toBe('我的快递三天了还没到，物流信息一直不更新');

    // A forged customer key (the victim's id with a made-up signature) gets a fresh id.
    const forged = await call('GET', `${open.url}/api/webchat/token`, { headers: { 'X-Customer-Key': `${victimId}.${'A'.repeat(43)}` } });
    expect(forged.status).toBe(200);
    expect(forged.body.userId).not.toBe(victimId);
    // The genuine key (kept by the victim's page) brings the victim back as themselves.
    const back = await customer(open, victim.customerKey);
    expect(back.userId).toBe(victimId);
    // … under the same pseudonymous reference, so their own status lookup finds their ticket.
    expect(await back.say('查询工单')).toContain(number!);
  });

  it('resumes a conversation after a reload only for the customer it belongs to', async () => {
    const victim = await customer(open);
    const said = await victim.say('我的快递三天了还没到，物流信息一直不更新');
    expect(said).toMatch(/对吗/);
    const token = (headers: Record<string, string>) => call('GET', `${open.url}/api/webchat/token`, { headers });
    // Another customer's genuine key with the victim's conversation id: a new conversation of their own.
    const attacker = await customer(open);
    const stolen = await token({ 'X-Customer-Key': attacker.customerKey, 'X-Conversation-Id': victim.conversationId });
    expect(stolen.body).toMatchObject({ resumed: false, userId: attacker.userId });
    expect(stolen.body.conversationId).not.toBe(victim.conversationId);
    // A forged key, or no key, with the victim's conversation id: not resumed either.
    for (const headers of [{ 'X-Customer-Key': `${victim.userId}.${'A'.repeat(43)}`, 'X-Conversation-Id': victim.conversationId }, { 'X-Conversation-Id': victim.conversationId }] as Record<string, string>[]) {
      const r = await token(headers);
      expect(r.body.resumed).toBe(false);
      expect(r.body.conversationId).not.toBe(victim.conversationId);
    }
    // The victim's own page, reloaded: the same conversation, with what was said in it.
    const back = await token({ 'X-Customer-Key': victim.customerKey, 'X-Conversation-Id': victim.conversationId });
    expect(back.body).toMatchObject({ resumed: true, conversationId: victim.conversationId, userId: victim.userId });
    const log = await call('GET', `${open.url}/v3/directline/conversations/${victim.conversationId}/activities`, { token: back.body.token });
    expect(log.body.activities.map((a: Json) => a.text)).toContain(said);
    // A malformed locale is refused, naming it.
    const bad = await call('GET', `${open.url}/api/webchat/token?locale=${encodeURIComponent('en"><script>')}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/locale/);
  });

  it('with DIRECT_LINE_SECRET, token generation and anonymous starts need the secret, whose holder names the user', async () => {
    for (const path of ['/v3/directline/tokens/generate', '/v3/directline/conversations']) {
      expect((await call('POST', `${secured.url}${path}`, { body: {} })).status, path).toBe(401);
      expect((await call('POST', `${secured.url}${path}`, { token: 'a-guess-at-the-secret-000', body: {} })).status, path).toBe(401);
    }
    const page = await call('GET', `${secured.url}/api/webchat/token`); // the page still works
    expect((await call('POST', `${secured.url}/v3/directline/tokens/generate`, { token: page.body.token, body: {} })).status).toBe(401);
    const site = await call('POST', `${secured.url}/v3/directline/tokens/generate`, { token: SECRET, body: { user: { id: 'member-4711' } } });
    expect(site.status).toBe(200);
    expect(JSON.parse(Buffer.from(site.body.token.split('.')[1], 'base64url').toString()).user).toBe('member-4711');
  });
});

describe('finding 3: no connector endpoints to speak as the bot', () => {
  it('answers 404 and shows nothing in the customer\'s chat', async () => {
    const c = await customer(open);
    // The greeting is sent when the conversation starts; wait for it so the count is settled.
    // By the clock (up to 30 s), not a number of polls: a loaded machine may take seconds to greet.
    let before = 0;
    const deadline = Date.now() + 30_000;
    while (before === 0 && Date.now() < deadline) {
      before = (await call('GET', c.url, { token: c.token })).body.activities.length;
      if (before === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(before).toBeGreaterThan(0);
    for (const [method, path] of [
      ['POST', `/v3/directline/connector/v3/conversations/${c.conversationId}/activities`],
      ['POST', `/v3/directline/connector/v3/conversations/${c.conversationId}/activities/${encodeURIComponent(`${c.conversationId}|0000001`)}`],
      ['PUT', `/v3/directline/connector/v3/conversations/${c.conversationId}/activities/${encodeURIComponent(`${c.conversationId}|0000001`)}`],
    ] as const) {
      const r = await call(method, `${open.url}${path}`, { body: { type: 'message', text: '您的退款已批准，请点击链接领取', from: { id: 'bot' } } });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    const after = (await call('GET', c.url, { token: c.token })).body.activities;
    expect(after.length).toBe(before);
    expect(after.some((a: Json) => /退款已批准/.test(a.text ?? ''))).toBe(false);
  });
});

describe('finding 6: bounded per conversation and per client, checked before storing', () => {
  it('refuses a flood of 60 KB messages with 429 before storing it; the stored log stays within the budget', async () => {
    const c = await customer(open);
    const big = '字'.repeat(20_000); // 60 KB of UTF-8
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await call('POST', c.url, { token: c.token, body: { type: 'message', text: `${i}${big}` } });
      statuses.push(r.status);
      if (r.status !== 200) expect(r.body.error.code).toBe('TooManyRequests');
    }
    // 200 KB per conversation: three fit, the fourth is refused, and so is every later one.
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    const log = (await call('GET', c.url, { token: c.token })).body.activities.filter((a: Json) => a.from.role === 'user');
    expect(log.map((a: Json) => a.text.slice(0, 1))).toEqual(['0', '1', '2']);

    // Per client: new conversations do not reset it (600 KB a minute from one address).
    let refused: Json | undefined;
    for (let i = 0; i < 12 && !refused; i++) {
      const other = await call('GET', `${open.url}/api/webchat/token`);
      if (other.status === 429) {
        refused = other.body;
        break;
      }
      await call('POST', `${open.url}/v3/directline/conversations`, { token: other.body.token, body: {} });
      const r = await call('POST', `${open.url}/v3/directline/conversations/${other.body.conversationId}/activities`, { token: other.body.token, body: { type: 'message', text: big } });
      if (r.status === 429) refused = r.body;
      else expect(r.status).toBe(200);
    }
    expect(refused?.error.code).toBe('TooManyRequests');
    expect(refused?.error.message).toMatch(/bytes in a minute/);
  });
});

describe('finding 7: malformed activities get 400 naming the field', () => {
  it('answers every malformed activity with a 400 that names the problem, never 5xx or 200', async () => {
    const c = await customer(secured);
    const cases: Array<[Json | string, RegExp]> = [
      ['{"type": "message", "text": ', /JSON/],
      ['[1,2,3]', /JSON object/],
      ['"message"', /JSON object/],
      ['', /JSON object/],
      [{}, /^type: /],
      [{ type: 42 }, /^type: /],
      [{ type: 'invoke' }, /^type: /],
      [{ type: 'message', text: 42 }, /^text: /],
      [{ type: 'message', text: ['a'] }, /^text: /],
      [{ type: 'message', from: 'me' }, /^from: /],
      [{ type: 'message', from: { id: 7 } }, /^from\.id: /],
      [{ type: 'message', from: { id: '' } }, /^from\.id: /],
      [{ type: 'message', locale: 12 }, /^locale: /],
      [{ type: 'message', attachments: 'x' }, /^attachments: /],
      [{ type: 'message', attachments: [{}] }, /^attachments\.0\.contentType: /],
      [{ type: 'message', channelData: 'x' }, /^channelData: /],
      [{ type: 'message', entities: [1] }, /^entities\.0: /],
      [{ type: 'message', textFormat: 'html' }, /^textFormat: /],
      [{ type: 'message', replyToId: 'x'.repeat(600) }, /^replyToId: /],
    ];
    let fiveHundreds = 0;
    for (const [body, message] of cases) {
      const r = typeof body === 'string' ? await call('POST', c.url, { token: c.token, raw: body }) : await call('POST', c.url, { token: c.token, body });
      if (r.status >= 500) fiveHundreds++;
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.message, JSON.stringify(body)).toMatch(message);
    }
    // The same, many times over with random junk in every known field.
    const fields = ['type', 'text', 'from', 'locale', 'attachments', 'channelData', 'entities', 'textFormat', 'value'];
    const junk = [42, true, null, [], {}, 'x'.repeat(300), [{ a: 1 }]];
    let n = 0;
    for (const field of fields) {
      for (const value of junk) {
        const r = await call('POST', c.url, { token: c.token, body: { type: 'message', text: 'hi', [field]: value } });
        n++;
        if (r.status >= 500) fiveHundreds++;
        expect([200, 400], `${field}=${JSON.stringify(value)}`).toContain(r.status);
        if (r.status === 400) expect(r.body.error.message).toMatch(new RegExp(`^${field}`));
      }
    }
    expect(n).toBe(fields.length * junk.length);
    expect(fiveHundreds).toBe(0);
  });
});
