/**
 * A TCP proxy between the driver and the test database that makes one write's outcome uncertain,
 * for real: the write reaches the server (or, on purpose, does not) and the driver hears something
 * other than the server's answer. Used by the lost-reply tests (test/integration/lost-reply.test.ts,
 * may-have-applied.test.ts).
 *
 * What it can do to the next command that opens with an armed `"command": "collection"` pair:
 * - `lose` (the default): forward it, wait for the server's reply and close the driver's connection
 *   instead of relaying it (the driver sees a network error: "connection closed");
 * - `rewrite`: forward it and relay the server's reply changed by a function (a write-concern error
 *   added, as MongoDB answers when it applied a write it could not replicate in time);
 * - `answer`: not forward it at all, and answer with a reply of the test's making (a failure that
 *   did not apply the write, whatever it says);
 * - `drop`: not forward it, and close the driver's connection (a network error; nothing applied);
 * - `hold`: keep it until `until` resolves, then forward it (the writer stalls between what it has
 *   done and this write, for as long as the test wants: a slow process, not a lost one). `onHeld`
 *   is called when it is caught.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { BSON, type Document, type MongoClient } from 'mongodb';
import { clientOptions, createClient } from '../../store/database.js';

/** `"<command>": "<collection>"` as it opens an OP_MSG command document (BSON string element). */
export function commandBytes(command: string, collection: string): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32LE(Buffer.byteLength(collection) + 1);
  return Buffer.concat([Buffer.from([0x02]), Buffer.from(`${command}\0`), len, Buffer.from(`${collection}\0`)]);
}

/** Splits a byte stream into whole wire-protocol messages (16-byte header, messageLength first). */
function framer(onMessage: (msg: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const size = pending.readInt32LE(0);
      onMessage(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  };
}

/** The command document of an OP_MSG (flagBits, then section kind 0 holding it). */
function bodyOf(msg: Buffer): Document {
  return BSON.deserialize(msg.subarray(21, 21 + msg.readInt32LE(21)));
}

/** An OP_MSG reply to request `responseTo` carrying `doc` (no checksum). */
function replyMessage(responseTo: number, doc: Document): Buffer {
  const body = BSON.serialize(doc);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + body.length, 0);
  header.writeInt32LE(Math.floor(Math.random() * 2 ** 30), 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(2013, 12);
  header.writeUInt32LE(0, 16);
  header.writeUInt8(0, 20);
  return Buffer.concat([header, body]);
}

/** What happens to the armed command (see the module comment). */
export type Trap =
  | { kind: 'lose'; thenBlock?: boolean }
  | { kind: 'rewrite'; reply: (server: Document) => Document }
  | { kind: 'answer'; reply: Document }
  | { kind: 'drop' }
  | { kind: 'hold'; until: Promise<void>; onHeld?: () => void };

/** A proxy to the test database that, when armed, makes the next matching write's outcome uncertain. */
export class LosingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private armed: { patterns: Buffer[]; trap: Trap } | null = null;
  private blocked = false;
  /** Replies lost, rewritten or made up so far (a test checks that the trap did fire). */
  lost = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.pipe(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * Traps the next command that starts with one of these `"command": "collection"` pairs. With
   * `lose` and `thenBlock`, the database then stays unreachable through the proxy until {@link release}.
   */
  arm(patterns: Buffer[], trap: Trap = { kind: 'lose' }): void {
    this.armed = { patterns, trap };
  }

  /**
   * Makes the database unreachable through the proxy now (open connections closed, new ones refused)
   * until {@link release}: the database going away at a chosen moment.
   */
  block(): void {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Lets connections through again after {@link block} or a loss armed with `thenBlock`. */
  release(): void {
    this.blocked = false;
  }

  private pipe(client: Socket): void {
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target);
    this.sockets.add(client).add(upstream);
    let trapped: { requestId: number; trap: Trap } | null = null;
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on(
      'data',
      framer((msg) => {
        // OP_MSG (2013): flagBits, then section kind 0 with the command document, whose first element is the command.
        const armed = this.armed;
        if (armed && msg.readInt32LE(12) === 2013 && armed.patterns.some((p) => msg.subarray(21, 21 + 4 + p.length).includes(p))) {
          this.armed = null;
          if (armed.trap.kind === 'answer') {
            // Never reaches the server: the driver gets the made-up reply.
            this.lost++;
            client.write(replyMessage(msg.readInt32LE(4), armed.trap.reply));
            return;
          }
          if (armed.trap.kind === 'drop') {
            // Never reaches the server: the driver's connection closes.
            this.lost++;
            close();
            return;
          }
          if (armed.trap.kind === 'hold') {
            // Reaches the server late: the driver waits on this connection meanwhile, sending nothing else on it.
            armed.trap.onHeld?.();
            void armed.trap.until.then(() => upstream.write(msg));
            return;
          }
          trapped = { requestId: msg.readInt32LE(4), trap: armed.trap };
        }
        upstream.write(msg);
      }),
    );
    upstream.on(
      'data',
      framer((msg) => {
        if (trapped === null || msg.readInt32LE(8) !== trapped.requestId) {
          client.write(msg);
          return;
        }
        // The server has answered, so the write is applied: the driver hears something else.
        const { trap } = trapped;
        trapped = null;
        this.lost++;
        if (trap.kind === 'rewrite') {
          client.write(replyMessage(msg.readInt32LE(8), trap.reply(bodyOf(msg))));
          return;
        }
        if (trap.kind === 'lose' && trap.thenBlock) {
          this.blocked = true;
          for (const s of this.sockets) s.destroy();
        }
        close();
      }),
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A proxy to the test database at `mongoUri` and a driver client connected through it. The client
 * has `retryWrites: false`, so the driver's own retry (a replica set's retryable writes; the test
 * database is a standalone, where it never retries) is not what a test exercises.
 */
export async function connectThroughProxy(mongoUri: string): Promise<{ proxy: LosingProxy; client: MongoClient }> {
  const url = new URL(mongoUri.replace(/^mongodb:/, 'http:'));
  const proxy = new LosingProxy({ host: url.hostname, port: Number(url.port || 27017) });
  const port = await proxy.listen();
  const client = createClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { ...clientOptions(2_000), retryWrites: false });
  await client.connect();
  return { proxy, client };
}
