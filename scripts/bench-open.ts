/**
 * npm run -s bench:open -- [--tickets 5000] [--rounds 2000]
 *
 * What a staff member opening a ticket costs: `GET /api/tickets/{number}` over real HTTP against the
 * whole app on a fresh embedded database holding `--tickets` tickets, with the read of the number's
 * moves (`ticketNumberMoves`, by `_id`, beside the ticket's own read: the `alsoQuotedFor` of the
 * answer) and, as the reference in the same run, without it (the repository's `alsoQuotedFor`
 * answering nothing without asking the database). The two are interleaved, a random ticket a round
 * each, their order alternating; every fifth round also opens a number with a move (its notice's case).
 * Progress on stderr; one JSON line on stdout last (medians in ms).
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../bot/app.js';
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { hashPassword } from '../staff/auth.js';
import { openDatabase } from '../store/database.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { quantile } from './quantile.js';
import { benchTempDir } from './temp-dir.js';

const PASSWORD = 'bench open password';

runCli(async () => {
  const { values } = flags({ tickets: { type: 'string', default: '5000' }, rounds: { type: 'string', default: '2000' } });
  const tickets = Number(values.tickets);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(tickets) || tickets < 2 || !Number.isInteger(rounds) || rounds < 1) throw new UsageError('--tickets (at least 2) and --rounds (at least 1) take whole numbers');
  const tmp = benchTempDir('bench-open-');
  const config = loadConfig({ ...process.env, PORT: '0', DB_DIR: join(tmp.path, 'db'), OUTBOX_PATH: join(tmp.path, 'outbox.jsonl'), API_RATE_PER_MINUTE: '100000' });
  const log = pino({ level: 'silent' });
  const database = await openDatabase(config);
  tmp.onInterrupt(() => database.close());
  const services = await createServices(config, { database, log });
  const app = createApp({ config, services, log });
  try {
    await new Promise<void>((ok) => app.server.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await services.store.users.create({ username: 'bench', role: 'agent', createdBy: 'bench', passwordHash: await hashPassword(PASSWORD) });
    const login = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: PASSWORD }) });
    const token = ((await login.json()) as { token: string }).token;
    const numbers: string[] = [];
    for (let i = 0; i < tickets; i++) {
      numbers.push((await services.tickets.file(input(i))).ticket.number);
      if ((i + 1) % 1000 === 0) process.stderr.write(`${i + 1} tickets filed\n`);
    }
    await services.store.tickets.settled();
    // One number with a move, as an outbox replay notes it (store/ticket-repository.ts noteMove).
    await database.db.collection<{ _id: string; numbers: string[]; at: Date }>('ticketNumberMoves').insertOne({ _id: numbers[0], numbers: [numbers[1]], at: new Date() });
    const repo = services.store.tickets as unknown as { alsoQuotedFor?: unknown };
    const open = async (n: string, read: boolean) => {
      if (read) delete repo.alsoQuotedFor;
      else repo.alsoQuotedFor = async () => [];
      const t0 = performance.now();
      const res = await fetch(`${url}/api/tickets/${n}`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`GET /api/tickets/${n}: ${res.status}`);
      return performance.now() - t0;
    };
    for (let i = 0; i < 200; i++) await open(numbers[i % tickets], i % 2 === 0);
    const withRead: number[] = [];
    const without: number[] = [];
    const moved: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const n = numbers[Math.floor(Math.random() * tickets)];
      for (const read of i % 2 === 0 ? [true, false] : [false, true]) (read ? withRead : without).push(await open(n, read));
      if (i % 5 === 0) moved.push(await open(numbers[0], true));
    }
    delete repo.alsoQuotedFor;
    printJson({ tickets, rounds, withoutMovesMs: quantile(without, 0.5), withMovesMs: quantile(withRead, 0.5), movedNumberMs: quantile(moved, 0.5), movedSamples: moved.length });
  } finally {
    await app.closeChannels();
    app.server.close();
    await services.close();
    await database.close();
    tmp.remove();
  }
});

function input(i: number) {
  return {
    customer: { channelId: 'webchat', userId: `bench-open-${i % 500}` },
    conversationRef: null,
    text: { original: `第${i}单：快递三天没到`, normalized: `第${i}单:快递三天没到` },
    classification: { lang: 'zh-Hans' as const, topic: 'delivery', type: 'complaint' as const, spam: false, confidence: 0.9, alternatives: [{ topic: 'delivery', score: 0.9 }], keywords: [], modelVersion: 'bench', needsReview: false, reviewReason: null },
  };
}
