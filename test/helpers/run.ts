/** Runs a project CLI the way users and outside checks do: `npm run -s <script> -- args`. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/datasets.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` in the project root, with `input` on its stdin; its exit code and whole output. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export function runScript(script: string, args: string[] = [], input = '', env: Record<string, string> = {}): Promise<RunResult> {
  return run('npm', ['run', '-s', script, '--', ...args], { ...process.env, ...env }, input);
}

/**
 * Runs a TypeScript entry point from source (`scripts/…`, `test/helpers/…`) as its own OS process on
 * the database `dbName` of `mongoUri`, logging silenced: a second server-side process in a test.
 */
export function runSource(file: string, args: string[], mongoUri: string, dbName: string): Promise<RunResult> {
  return run(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, file), ...args], { ...process.env, MONGODB_URI: mongoUri, DB_NAME: dbName, LOG_LEVEL: 'silent' });
}

/** The last non-empty stdout line, parsed as JSON. */
export function lastJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}
