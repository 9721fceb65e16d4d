/**
 * Shared plumbing of the CLIs: flags, progress on stderr, a JSON result as the last stdout line,
 * and a non-zero exit code with a clear message on failure.
 */
import { AppError } from '../core/app-error.js';
import { isAbsolute, relative } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Parses flags; unknown flags are an error that names them. `--help` (or `-h`) before any `--`
 * throws {@link HelpRequested} with the flags this CLI accepts, which {@link runCli} prints on
 * stdout with exit code 0: a new user's first try was answered "Unknown option '--help'" (exit 2).
 */
export function flags<T extends NonNullable<ParseArgsConfig['options']>>(options: T, argv = process.argv.slice(2), commands = '') {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) throw new HelpRequested(usageOf(options, commands));
  return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
}

/** `usage: npm run -s <script> -- [commands] [--flag <value>] [--switch] …`, from the parser's options. */
function usageOf(options: NonNullable<ParseArgsConfig['options']>, commands: string): string {
  const event = process.env.npm_lifecycle_event;
  const shown = Object.entries(options).map(([name, o]) => (o.type === 'boolean' ? `[--${name}]` : `[--${name} <value>]`));
  // npm passes arguments on after `--`; a CLI without any (classify reads stdin) needs none.
  const passed = shown.length > 0 || (commands !== '' && !commands.startsWith('<'));
  const command = event ? `npm run -s ${event}${passed ? ' --' : ''}` : `node ${process.argv[1] ?? 'script'}`;
  return [`usage: ${command} ${[commands, ...shown].filter(Boolean).join(' ')}`.trimEnd(), 'See "CLIs" in README.md for what each flag does.'].join('\n');
}

/** `--help` was asked for: not a failure; {@link runCli} prints the usage and exits 0. */
export class HelpRequested extends AppError {
  readonly code = 'HELP';
}

/** A progress bar on stderr (only when stderr is a terminal; otherwise a line per 10%). */
export function progressBar(label: string): (fraction: number, stage: string) => void {
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  let lastDraw = 0;
  return (fraction, stage) => {
    const f = Math.max(0, Math.min(1, fraction));
    if (tty) {
      const now = Date.now();
      if (now - lastDraw < 100 && f < 1) return;
      lastDraw = now;
      const width = 30;
      const filled = Math.round(f * width);
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${stage.slice(0, 40).padEnd(40)}`);
      if (f >= 1) process.stderr.write('\n');
    } else {
      const decile = Math.floor(f * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${label} ${(f * 100).toFixed(0)}% ${stage}\n`);
      }
    }
  };
}

/** Runs a CLI body; failures print `error: …` on stderr and exit with code 1 (2 for usage errors). */
export function runCli(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${err.message}\n`);
      return;
    }
    const e = err as Error & { code?: string };
    const usage = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || err instanceof UsageError;
    process.stderr.write(`error: ${e.message ?? String(err)}\n`);
    process.exitCode = usage ? 2 : 1;
  });
}

/** Wrong flags or arguments (exit code 2). */
export class UsageError extends AppError {
  readonly code = 'USAGE';
}

/** A logger for CLIs: warnings and errors on stderr (stdout keeps only the result); info is dropped. */
export function stderrLog() {
  const write = (o: object, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`);
  return { info: () => {}, warn: write, error: write };
}

/** Writes one JSON line to stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * A written file's path as a CLI prints it: relative to `root` when inside it, else absolute. Cutting
 * `root.length + 1` characters off turned `--out /tmp/shots` into "s/console-inbox.png".
 */
export function shownPath(file: string, root: string): string {
  const r = relative(root, file);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : file;
}
