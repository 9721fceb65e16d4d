/**
 * The README's CLI section stays true to package.json and the CLIs' flag parsers: every npm script
 * is documented, every flag a CLI accepts is in its documented usage, and every flag the README
 * shows for a CLI is one its parser accepts (an unknown flag is a usage error, exit 2).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/datasets.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The npm scripts that run a CLI of scripts/, with its source file. */
const clis = Object.entries(scripts)
  .map(([name, command]) => ({ name, file: /^node (?:--\S+ )*dist\/scripts\/([\w-]+)\.js$/.exec(command)?.[1] }))
  .filter((c): c is { name: string; file: string } => c.file !== undefined);

/** Flags a CLI's parser accepts: the keys of its `flags({ … })` options. */
function parserFlags(file: string): Set<string> {
  const src = readFileSync(join(PROJECT_ROOT, 'scripts', `${file}.ts`), 'utf8');
  return new Set([...src.matchAll(/['"]?([a-z][a-z0-9-]*)['"]?: \{ type: '(?:string|boolean)'/g)].map((m) => m[1]));
}

/** Flags the README shows in `npm run -s <name> -- …` code spans. */
function documentedFlags(name: string): Set<string> {
  const spans = [...readme.matchAll(new RegExp(`\`npm run(?: -s)? ${escape(name)} --([^\`]*)\``, 'g'))].map((m) => m[1]);
  return new Set(spans.flatMap((s) => [...s.matchAll(/(?:^|[\s[|(])--([a-z][a-z0-9-]*)/g)].map((m) => m[1])));
}

describe('README CLI section', () => {
  it('documents every npm script', () => {
    const missing = Object.keys(scripts)
      .filter((name) => !/^(pre|post)/.test(name) && name !== 'prepare')
      .filter((name) => !new RegExp(`npm (?:run (?:-s )?)?${escape(name)}(?![\\w:-])`).test(readme));
    expect(missing).toEqual([]);
  });

  it('builds before every CLI that runs from dist/ (a `pre` script), as the README\'s commands assume', () => {
    expect(clis.filter(({ name }) => scripts[`pre${name}`] !== 'npm run -s build').map(({ name }) => name)).toEqual([]);
  });

  it.each(clis)('$name: the documented flags are the parser\'s flags', ({ name, file }) => {
    const accepted = parserFlags(file);
    const documented = documentedFlags(name);
    expect([...documented].filter((f) => !accepted.has(f))).toEqual([]);
    expect([...accepted].filter((f) => !documented.has(f))).toEqual([]);
  });
});
