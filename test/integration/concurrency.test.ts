/**
 * Concurrent writers on one ticket, two OS processes included, against the real database: every
 * note lands exactly once, every change moves the version by exactly one, and ticket numbers are
 * never handed out twice. On FerretDB (the embedded default) this exercises the claims; with
 * MONGODB_URI pointing at MongoDB, the atomic-operator path.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient, Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServices, type CoreServices } from '../../desk/services.js';
import { loadConfig } from '../../runtime/config.js';
import { concurrentTicketInput } from '../helpers/concurrent-input.js';
import { lastJson, runSource } from '../helpers/run.js';
import { createClient } from '../../store/database.js';

const silent = { info() {}, warn() {}, error() {} };
const N = 12;
let client: MongoClient;
let db: Db;
let services: CoreServices;

beforeAll(async () => {
  client = createClient(inject('mongoUri'));
  await client.connect();
  db = client.db(`conc_${randomUUID().slice(0, 8)}`);
  services = await createServices(loadConfig({}), { db, log: silent, models: false, outboxPath: join(mkdtempSync(join(tmpdir(), 'conc-')), 'o.jsonl') });
  // Assignees must be active staff accounts: one per writer's change (they never sign in).
  for (const label of ['pa', 'pb', 'me']) {
    for (let i = 0; i < N; i++) await services.store.users.create({ username: `${label}-${i}`, role: 'agent', passwordHash: 'never-used-for-login', createdBy: 'test' });
  }
});

afterAll(async () => {
  await services?.close();
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

/** Runs a TypeScript entry point from source as its own OS process on the test database. */
const run = (file: string, args: string[]) => runSource(file, args, inject('mongoUri'), db.databaseName);

const writer = (label: string, number: string) => run('test/helpers/concurrent-writer.ts', [label, number, String(N)]);

describe('concurrent writers, two OS processes included', () => {
  it('lose no note or change and duplicate none; ticket numbers stay unique', async () => {
    const { ticket } = await services.tickets.file(concurrentTicketInput('owner'));
    // Two other processes and this one write to the same ticket at the same time.
    const [a, b, here] = await Promise.all([
      writer('pa', ticket.number),
      writer('pb', ticket.number),
      Promise.all([
        ...Array.from({ length: N }, (_, i) => services.tickets.annotate(ticket.number, `me-note-${i}`, 'me').then(() => null)),
        ...Array.from({ length: N }, (_, i) => services.tickets.change(ticket.number, { assignee: `me-${i}` }, 'me').then(() => null)),
        ...Array.from({ length: N }, (_, i) => services.tickets.file(concurrentTicketInput(`me-${i}`)).then((r) => r.ticket.number)),
      ]),
    ]);
    for (const r of [a, b]) expect(r.code, r.stderr).toBe(0);
    const labels = ['pa', 'pb', 'me'];
    const after = await services.tickets.get(ticket.number);
    const expectedNotes = labels.flatMap((l) => Array.from({ length: N }, (_, i) => `${l}-note-${i}`)).sort();
    expect(after.notes.map((n) => n.text).sort()).toEqual(expectedNotes);
    // Every note and every assignee change moved the version by exactly one.
    expect(after.version).toBe(1 + labels.length * 2 * N);
    expect(labels.flatMap((l) => Array.from({ length: N }, (_, i) => `${l}-${i}`))).toContain(after.assignee);
    // Each operation audited once.
    const notesAudited = await services.audit.list({ action: 'ticket.note', target: ticket.number, pageSize: 200 });
    expect(notesAudited.total).toBe(labels.length * N);
    const filed = [...(lastJson(a.stdout).filed as string[]), ...(lastJson(b.stdout).filed as string[]), ...here.filter((n): n is string => n !== null)];
    expect(filed).toHaveLength(labels.length * N);
    expect(new Set(filed).size).toBe(filed.length);
    for (const n of filed) expect((await services.tickets.get(n)).number).toBe(n);
  });

  it('a review confirmation and a spam decision racing on one ticket both land, each with its training example', async () => {
    // Several tickets at once, so the first-example race (two upserts of one new example) happens.
    const tickets = await Promise.all(Array.from({ length: 8 }, (_, i) => services.tickets.file(concurrentTicketInput(`racer-${i}`)).then((r) => r.ticket.number)));
    await Promise.all(tickets.flatMap((n) => [services.tickets.confirmReview(n, 'alice'), services.tickets.decideSpam(n, false, 'bob')]));
    for (const n of tickets) {
      const after = await services.tickets.get(n);
      expect(after.version).toBe(3);
      expect(after.spamDecision).toMatchObject({ spam: false, by: 'bob' });
      expect(['alice', 'bob']).toContain(after.reviewedBy);
      expect(await services.store.training.get(n)).toMatchObject({ topic: 'delivery', type: 'complaint', spam: false });
    }
  });

  it('stats:rebuild (a CLI built by createServices) recounts every ticket written above', async () => {
    const total = (await services.tickets.list({ pageSize: 1 })).total;
    const r = await run('scripts/stats-rebuild.ts', []);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ tickets: total });
  });
});
