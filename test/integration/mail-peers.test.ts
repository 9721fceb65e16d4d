/**
 * The e-mail tests' IMAP server (test/helpers/mail-peers.ts): dovecot cannot bind port 0, so the
 * harness picks a free port and starts again on another when that one is taken before dovecot binds
 * it. Here the first port it is given is taken on purpose, by a listener that never speaks and by
 * another dovecot with the same user and password, and the mail round trip still works on the port
 * it ends up with. Real dovecot (Debian's), as the e-mail channel's tests use it.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/server-process.js';
import { dovecotMissing, startDovecot, type Dovecot } from '../helpers/mail-peers.js';

const missing = dovecotMissing();
const started: Dovecot[] = [];
const listeners: Server[] = [];
const sockets: Socket[] = [];

afterAll(async () => {
  for (const d of started) await d.stop();
  for (const s of sockets) s.destroy();
  for (const l of listeners) l.close();
});

/** A port held by a listener that accepts connections and never answers. */
async function silentListener(): Promise<number> {
  const server = createServer((socket) => sockets.push(socket));
  listeners.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return (server.address() as { port: number }).port;
}

/** Gives `first` to the first attempt, then free ports; remembers what it gave. */
function portsStartingWith(first: number): { pickPort: () => Promise<number>; given: number[] } {
  const given: number[] = [];
  return {
    given,
    pickPort: async () => {
      const port = given.length === 0 ? first : await freePort();
      given.push(port);
      return port;
    },
  };
}

/** Appends one message and reads the mailbox back: the server logs in, stores and serves mail. */
async function roundTrip(d: Dovecot, subject: string): Promise<void> {
  const uid = await d.append(`From: customer@example.com\r\nTo: desk@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.com>\r\n\r\n我的订单还没到。\r\n`);
  expect(uid).toBeTypeOf('number');
  expect([...(await d.flags()).keys()]).toEqual([uid]);
}

describe.skipIf(missing !== null)('the dovecot harness when its port is taken', () => {
  it('starts on another port when the first one is held by something that never answers', async () => {
    const taken = await silentListener();
    const ports = portsStartingWith(taken);
    const d = await startDovecot({ pickPort: ports.pickPort });
    started.push(d);
    expect(ports.given.length).toBe(2);
    expect(ports.given[0]).toBe(taken);
    expect(d.port).toBe(ports.given[1]);
    expect(d.url).toContain(`:${d.port}`);
    await roundTrip(d, 'silent-listener');
  });

  it("does not take another dovecot on its port for its own (same user and password): it starts on another port, with a mailbox of its own", async () => {
    const other = await startDovecot();
    started.push(other);
    const ports = portsStartingWith(other.port);
    const d = await startDovecot({ pickPort: ports.pickPort });
    started.push(d);
    expect(ports.given[0]).toBe(other.port);
    expect(d.port).not.toBe(other.port);
    await roundTrip(d, 'own-mailbox');
    // What was appended went to this dovecot, not to the one on the first port.
    expect((await other.flags()).size).toBe(0);
  });

  it('gives up with a clear error when every port it is given is taken', async () => {
    const taken = await silentListener();
    await expect(startDovecot({ pickPort: async () => taken, attempts: 2 })).rejects.toThrow(`dovecot could not bind port ${taken}`);
  });
});
