/**
 * `bot/main.ts` as its own process on the test database server, as `npm start` runs it: PORT=0 (the
 * port it reports), a database of its own name and an outbox in a new temporary folder, its log
 * (stdout, at info unless `env` says otherwise) and Node's own warnings (stderr) kept. Each started process and folder is remembered for `stopBotProcesses`.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { SERVER_NODE_ARGS } from '../../runtime/node-flags.js';
import { spawnBotServer } from '../../scripts/server-process.js';
import { stopChild } from '../../scripts/temp-dir.js';

/** A started server process: the child, its port and base URL, and its log so far. */
export interface BotProcess {
  child: ChildProcess;
  port: number;
  base: string;
  log: string[];
}

const running: ChildProcess[] = [];
const dirs: string[] = [];

/**
 * Starts `bot/main.ts` (folder and database named `prefix…`) with `opts.nodeArgs` (default: the
 * launch flags of `npm start`) and `opts.env` added to the environment; a failed start throws with its log.
 */
export async function startBotProcess(prefix: string, opts: { nodeArgs?: readonly string[]; env?: Record<string, string> } = {}): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  dirs.push(dir);
  const log: string[] = [];
  const launched = await spawnBotServer({
    main: join(PROJECT_ROOT, 'bot/main.ts'),
    nodeArgs: [...(opts.nodeArgs ?? SERVER_NODE_ARGS), '--import', 'tsx'],
    cwd: PROJECT_ROOT,
    env: { ...process.env, MONGODB_URI: inject('mongoUri'), DB_NAME: `${prefix.replace(/\W/g, '_')}_${randomUUID().slice(0, 8)}`, HOST: '127.0.0.1', OUTBOX_PATH: join(dir, 'outbox.jsonl'), LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    onSpawn: (c) => {
      running.push(c);
      c.stdout!.setEncoding('utf8').on('data', (d: string) => log.push(d));
      c.stderr!.setEncoding('utf8').on('data', (d: string) => log.push(d));
    },
  }).catch((err: Error) => {
    throw new Error(`${err.message}: ${log.join('')}`);
  });
  return { ...launched, log };
}

/** Stops every process started here that still runs (SIGTERM) and removes their folders. */
export async function stopBotProcesses(): Promise<void> {
  await Promise.all(running.splice(0).map((c) => stopChild(c)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
