/**
 * What the outbox tests share: their own embedded database (they stop and restart it, or must not
 * share it with tests that do) with a client whose short time-out notices an outage at once, and
 * the demand each of their customers files.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { clientOptions, createClient } from '../../store/database.js';
import { startEmbeddedServer, type EmbeddedServer } from '../../store/embedded-server.js';
import type { TicketCreate } from '../../store/schemas.js';

/** An embedded database of the test's own and a connected client; `stop()` closes both. */
export interface OutboxDatabase {
  server: EmbeddedServer;
  client: MongoClient;
  stop(): Promise<void>;
}

/**
 * Starts an embedded database in a new folder named `prefix…` (even when MONGODB_URI names an
 * outside server: the test stops this one) and connects to it with an 800 ms time-out.
 */
export async function startOutboxDatabase(prefix: string): Promise<OutboxDatabase> {
  const server = await startEmbeddedServer({ dataDir: mkdtempSync(join(tmpdir(), prefix)) });
  const client = createClient(server.uri, clientOptions(800));
  try {
    await client.connect();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return {
    server,
    client,
    async stop() {
      await client.close();
      await server.stop();
    },
  };
}

/** Customer `user<i>`'s web chat demand (a late delivery), classified: one outboxed ticket each. */
export function deliveryDemand(i: number): TicketCreate {
  return {
    customer: { channelId: 'webchat', userId: `user${i}` },
    conversationRef: null,
    text: { original: `第${i}个问题：快递没到`, normalized: `第${i}个问题:快递没到` },
    classification: { lang: 'zh-Hans', topic: 'delivery', type: 'complaint', spam: false, confidence: 0.9, alternatives: [], keywords: [], modelVersion: 't', needsReview: false, reviewReason: null },
  };
}
