/**
 * npm run -s profile:ticket-ops -- [--tickets 3000] [--seed 1]
 *
 * Lists the database commands each staff operation on one ticket sends (status change, priority,
 * assignment, reply, note, correction, review confirmation), from the driver's command monitoring,
 * on a fresh embedded database holding a generated history (scripts/scale-history.ts). A command
 * is marked `SCAN` when the embedded FerretDB cannot hand its filter to SQLite's `_id` index — a
 * filter without a top-level `_id` equality (with the build's `id-prefilter` patch; stock 1.24 needs
 * the `_id` equality to be the whole filter) — so it reads the whole collection: that is what makes
 * an operation slow as history grows. Read-model updates run after the request returns; they are
 * listed after it, apart.
 * Prints the listing on stderr and one JSON line on stdout (commands and scans per operation).
 */
import { join } from 'node:path';
import type { CommandStartedEvent, CommandSucceededEvent, Document } from 'mongodb';
import { createServices } from '../desk/services.js';
import { loadConfig } from '../runtime/config.js';
import { rebuildReadModels } from '../store/read-models.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { generateHistory, loadTexts } from './scale-history.js';
import { benchTempDir } from './temp-dir.js';

interface Seen {
  collection: string;
  command: string;
  filter: string;
  scan: boolean;
  ms: number;
}

/** True when the embedded FerretDB (SQLite, patched as scripts/install-ferretdb.mjs builds it) reads the whole collection for this filter. */
function scans(filter: Document | undefined): boolean {
  const id: unknown = filter?._id;
  return !(typeof id === 'string' || (typeof id === 'object' && id !== null && '_bsontype' in id));
}

/** The filters of a command (find, count, aggregate's first $match, each update and delete). */
function filtersOf(e: CommandStartedEvent): Document[] | null {
  const c = e.command;
  switch (e.commandName) {
    case 'find':
    case 'count':
      return [c.filter ?? c.query ?? {}];
    case 'findAndModify':
      return [c.query ?? {}];
    case 'update':
      return (c.updates as Document[]).map((u) => u.q ?? {});
    case 'delete':
      return (c.deletes as Document[]).map((d) => d.q ?? {});
    case 'aggregate': {
      const first = (c.pipeline as Document[])[0];
      return [first?.$match ?? {}];
    }
    default:
      return null;
  }
}

runCli(async () => {
  const { values } = flags({ tickets: { type: 'string', default: '3000' }, seed: { type: 'string', default: '1' } });
  const n = Number(values.tickets);
  if (!Number.isInteger(n) || n < 100) throw new UsageError(`--tickets must be an integer of at least 100, got "${values.tickets}"`);
  const tmp = benchTempDir('profile-ops-');
  const dir = tmp.path;
  const config = loadConfig({ ...process.env, DB_DIR: join(dir, 'db'), DB_NAME: 'profile', OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'warn', DB_COMMAND_STATS: 'true', MONGODB_URI: process.env.MONGODB_URI });
  const quiet = { info: () => {}, warn: () => {}, error: (o: object, m?: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`), debug: () => {} };
  const services = await createServices(config, { log: quiet as never, models: false });
  const report: Record<string, { commands: number; scans: number; ms: number; scanned: string[]; after: { commands: number; scans: number } }> = {};
  try {
    const client = services.database!.client;
    const started = new Map<number, Seen[]>();
    let log: Seen[] = [];
    client.on('commandStarted', (e: CommandStartedEvent) => {
      const filters = filtersOf(e);
      const collection = String(e.command[e.commandName] ?? e.command.collection ?? '-');
      const seen = (filters ?? [null]).map((f) => ({ collection, command: e.commandName, filter: f ? JSON.stringify(f).slice(0, 120) : '', scan: f !== null && scans(f), ms: 0 }));
      started.set(e.requestId, seen);
      log.push(...seen);
    });
    client.on('commandSucceeded', (e: CommandSucceededEvent) => {
      for (const s of started.get(e.requestId) ?? []) s.ms = e.duration;
      started.delete(e.requestId);
    });

    const taxonomy = services.taxonomy;
    const gen = await generateHistory(services.db, n, { now: new Date(), timeZone: config.TIME_ZONE, topics: taxonomy.topics.map((t) => t.id), texts: loadTexts(config.DATA_DIR), seed: Number(values.seed), progress: () => {} });
    await rebuildReadModels(services.db);
    await services.auth.createUser({ username: 'agent1', password: 'profile-Pw1!-agent', role: 'agent', createdBy: 'profile' });
    const open = gen.numbers.filter((x) => x.open).map((x) => x.number);
    const pick = (i: number) => open[(i * 7919) % open.length];
    const t = services.tickets;
    const ops: [string, (number: string) => Promise<unknown>][] = [
      ['status change', (x) => t.change(x, { status: 'in_progress' }, 'bench')],
      ['priority', (x) => t.change(x, { priority: 'high' }, 'bench')],
      ['assignment', (x) => t.change(x, { assignee: 'agent1' }, 'bench')],
      ['reply', (x) => t.reply(x, '您好，已为您处理。', 'bench')],
      ['note', (x) => t.annotate(x, '已电话联系', 'bench')],
      [
        'correction',
        async (x) => {
          const topic = (await t.get(x)).topic;
          const next = taxonomy.topics[(taxonomy.topics.findIndex((tp) => tp.id === topic) + 1) % taxonomy.topics.length].id;
          return t.correct(x, { field: 'topic', to: next }, 'bench');
        },
      ],
      ['confirm review', (x) => t.confirmReview(x, 'bench')],
      ['view one ticket', (x) => t.open(x)],
    ];
    for (const [i, [name, run]] of ops.entries()) {
      await services.store.tickets.settled();
      log = [];
      const t0 = performance.now();
      await run(pick(i));
      const ms = performance.now() - t0;
      const during = log;
      log = [];
      await services.store.tickets.settled();
      const after = log;
      process.stderr.write(`\n== ${name}: ${Math.round(ms)} ms, ${during.length} commands, ${during.filter((s) => s.scan).length} scans\n`);
      for (const s of during) process.stderr.write(`  ${s.scan ? 'SCAN' : '    '} ${Math.round(s.ms).toString().padStart(5)} ms ${s.collection} ${s.command} ${s.filter}\n`);
      process.stderr.write(`  -- after the request (read models): ${after.length} commands, ${after.filter((s) => s.scan).length} scans\n`);
      for (const s of after) process.stderr.write(`  ${s.scan ? 'SCAN' : '    '} ${Math.round(s.ms).toString().padStart(5)} ms ${s.collection} ${s.command} ${s.filter}\n`);
      report[name] = { commands: during.length, scans: during.filter((s) => s.scan).length, ms: Math.round(ms), scanned: [...new Set(during.filter((s) => s.scan).map((s) => `${s.collection} ${s.command}`))], after: { commands: after.length, scans: after.filter((s) => s.scan).length } };
    }
  } finally {
    await services.close();
    tmp.remove();
  }
  printJson({ tickets: n, operations: report });
});
