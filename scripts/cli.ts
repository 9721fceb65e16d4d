/**
 * Shared plumbing of the CLIs: flags, progress on stderr, a JSON result as the last stdout line,
 * and a non-zero exit code with a clear message on failure.
 */
import { AppError } from '../core/app-error.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Parses flags; unknown flags are an error that names them. */
export function flags<T extends NonNullable<ParseArgsConfig['options']>>(options: T, argv = process.argv.slice(2)) {
  return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
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
