/**
 * The CLIs' shared flag parsing (scripts/cli.ts): `--help` answers with the flags a CLI accepts on
 * stdout and exit code 0 (it was "Unknown option '--help'", exit 2), and an unknown flag stays a
 * usage error; a written file's path is printed whole when it is outside the project.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flags, HelpRequested, runCli, shownPath } from '../../scripts/cli.js';

const OPTIONS = { 'older-than-days': { type: 'string' }, apply: { type: 'boolean', default: false } } as const;

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('flags', () => {
  it('answers --help and -h with the flags it accepts, and the commands it is given', () => {
    for (const ask of ['--help', '-h']) {
      const help = (() => {
        try {
          flags(OPTIONS, ['--apply', ask], 'list | show <version>');
        } catch (err) {
          return err;
        }
        return null;
      })();
      expect(help).toBeInstanceOf(HelpRequested);
      const [usage] = (help as HelpRequested).message.split('\n');
      expect(usage).toMatch(/^usage: .+ list \| show <version> \[--older-than-days <value>\] \[--apply\]$/);
    }
  });

  it('leaves a --help after -- to the positionals, and refuses unknown flags', () => {
    expect(flags(OPTIONS, ['--apply', '--', '--help']).positionals).toEqual(['--help']);
    expect(() => flags(OPTIONS, ['--bogus'])).toThrow(/bogus/);
  });
});

describe('runCli', () => {
  it('prints the usage on stdout with exit code 0 for --help; 2 with the reason on stderr for an unknown flag', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    runCli(async () => void flags(OPTIONS, ['--help']));
    await vi.waitFor(() => expect(out.join('')).toContain('[--apply]'));
    expect(err).toEqual([]);
    expect(process.exitCode ?? 0).toBe(0);

    runCli(async () => void flags(OPTIONS, ['--bogus']));
    await vi.waitFor(() => expect(err.join('')).toMatch(/^error: .*bogus/));
    expect(process.exitCode).toBe(2);
  });
});

describe('shownPath', () => {
  it('prints a file inside the project relative to it, and one outside whole', () => {
    expect(shownPath('/work/app/docs/screenshots/a.png', '/work/app')).toBe('docs/screenshots/a.png');
    // `--out /tmp/shots` was printed as "s/a.png" (the project root's length cut off).
    expect(shownPath('/tmp/shots/a.png', '/work/app')).toBe('/tmp/shots/a.png');
    expect(shownPath('/work/application/a.png', '/work/app')).toBe('/work/application/a.png');
  });
});
