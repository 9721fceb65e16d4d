/**
 * A local server standing in for a Bot Framework channel's connector, as the Bot Framework Emulator
 * does: activities name it as their `serviceUrl`, and it records every reply the bot sends there.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';

export interface FakeConnector {
  /** The `serviceUrl` to put on activities. */
  serviceUrl: string;
  /** Every request the bot made, in order. */
  received: { path: string; body: Record<string, unknown> }[];
  /** Texts of the bot's messages (not typing indicators) to a conversation, in order. */
  messagesTo(conversation: string): string[];
  /** While true, the connector refuses messages with 503 (a channel that is down). */
  refuse: boolean;
  close(): void;
}

export async function startConnector(): Promise<FakeConnector> {
  const received: FakeConnector['received'] = [];
  const state = { refuse: false };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (state.refuse) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'ServiceUnavailable', message: 'channel down' } }));
        return;
      }
      received.push({ path: req.url ?? '', body: JSON.parse(body || '{}') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: randomUUID() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    get refuse() {
      return state.refuse;
    },
    set refuse(v: boolean) {
      state.refuse = v;
    },
    serviceUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    received,
    messagesTo: (conversation) =>
      received.filter((r) => r.path.includes(`/v3/conversations/${encodeURIComponent(conversation)}/`) && r.body.type === 'message').map((r) => String(r.body.text)),
    close: () => server.close(),
  };
}

/**
 * One customer message to the bot at `botUrl` over its Bot Framework endpoint (channel `emulator`,
 * replies to `connector`); resolves with the bot's replies to it.
 */
export async function sayThrough(connector: FakeConnector, botUrl: string, conversation: string, user: string, text: string, locale = 'zh-CN'): Promise<string[]> {
  const before = connector.messagesTo(conversation).length;
  const res = await fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'message', id: randomUUID(), channelId: 'emulator', serviceUrl: connector.serviceUrl, from: { id: user }, recipient: { id: 'bot' }, conversation: { id: conversation }, text, locale }),
  });
  expect(res.status).toBeLessThan(300);
  return connector.messagesTo(conversation).slice(before);
}
