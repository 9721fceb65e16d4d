import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readArtifact } from '../../runtime/model-store.js';
import { loadCorpus, loadTaxonomy } from '../../runtime/project-data.js';
import { PROJECT_ROOT } from '../../runtime/datasets.js';
import { lastJson, runScript } from '../helpers/run.js';

const REQUIRED = ['topic', 'type', 'spam', 'confidence', 'needsReview', 'lang', 'alternatives', 'keywords', 'suspectedSpam', 'act'];
const tmp = mkdtempSync(join(tmpdir(), 'demand-cli-'));

// A small labelled file cut from the shipped corpus: every 9th row of each topic, plus 60 spam rows.
const taxonomy = loadTaxonomy(join(PROJECT_ROOT, 'data'));
const corpus = loadCorpus(join(PROJECT_ROOT, 'data', 'corpus'), taxonomy);
const small = [
  ...taxonomy.topics.flatMap((t) => corpus.filter((r) => r.topic === t.id).filter((_, i) => i % 9 === 0)),
  ...corpus.filter((r) => r.spam).slice(0, 60),
];
const smallFile = join(tmp, 'small.jsonl');
writeFileSync(smallFile, small.map((r) => JSON.stringify({ ...r, label: r.spam ? 'spam' : r.topic })).join('\n') + '\n');

describe('npm run -s classify', () => {
  it('writes one JSON object per input line, in order, and nothing else', async () => {
    const lines = [
      JSON.stringify({ text: '快递三天没更新了，到底发没发货' }),
      '請問退款幾時到帳？',
      'I was charged twice for the same order',
      JSON.stringify({ text: '' }),
      JSON.stringify({ nottext: 1 }),
      JSON.stringify({ text: '长'.repeat(2001) }),
      '加V信 abc888 日赚500 兼职刷单',
      '{not json at all',
      'hello',
      '배송이 너무 늦어요, 환불해 주세요',
    ];
    const r = await runScript('classify', [], lines.join('\n') + '\n');
    expect(r.code).toBe(0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toHaveLength(lines.length);
    for (const o of out) for (const k of REQUIRED) expect(o).toHaveProperty(k);
    expect(out[0].topic).toBe('delivery');
    expect(out[1].topic).toBe('returns');
    expect(out[1].lang).toBe('zh-Hant');
    expect(out[2].lang).toBe('en');
    expect(out[3]).toMatchObject({ topic: null, needsReview: true, reason: 'empty' });
    expect(out[4]).toMatchObject({ topic: null, needsReview: true, error: { code: 'INVALID_INPUT' } });
    expect(out[5]).toMatchObject({ topic: null, needsReview: true, error: { code: 'INPUT_TOO_LONG' } });
    expect(out[6]).toMatchObject({ spam: true, topic: null });
    expect(out[7].needsReview === true || typeof out[7].topic === 'string').toBe(true);
    // A greeting is a customer saying hello, not a demand and never spam.
    expect(out[8]).toMatchObject({ act: 'greeting', spam: false, suspectedSpam: false });
    // Another script: read by staff, never refused as spam.
    expect(out[9]).toMatchObject({ reason: 'unsupported-language', spam: false, suspectedSpam: false, needsReview: true });
  });

  it('answers --help on stdout, and names other arguments on stderr without refusing the messages piped in', async () => {
    const help = await runScript('classify', ['--help'], '');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: .*classify.*< messages\.jsonl/);
    const r = await runScript('classify', ['--json'], '快递三天没更新了\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('ignored: --json');
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ topic: 'delivery', spam: false });
  });

  it('accepts plain text lines and empty input', async () => {
    const r = await runScript('classify', [], '');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('npm run -s train', () => {
  it('writes a versioned model and prints a JSON summary last; the same seed reproduces it, on any number of solver threads', async () => {
    const a = await runScript('train', ['--data', smallFile, '--out', join(tmp, 'a'), '--seed', '5', '--threads', '3']);
    expect(a.code, a.stderr).toBe(0);
    const sa = lastJson(a.stdout);
    expect(sa).toMatchObject({ seed: 5, rows: small.length, threads: 3 });
    expect(existsSync(sa.file as string)).toBe(true);
    expect(a.stderr).toMatch(/train .*100%/);
    const b = await runScript('train', ['--data', smallFile, '--out', join(tmp, 'b'), '--seed', '5', '--threads', '1']);
    const sb = lastJson(b.stdout);
    expect(sb.threads).toBe(1);
    expect(sb.version).toBe(sa.version);
    expect(sb.trainingDataHash).toBe(sa.trainingDataHash);
    const strip = (f: string) => {
      const { createdAt: _c, ...rest } = readArtifact(f) as Record<string, unknown>;
      return rest;
    };
    expect(strip(sb.file as string)).toEqual(strip(sa.file as string));
  });

  it('fails with a clear message and exit code on a bad flag or bad data', async () => {
    const bad = await runScript('train', ['--seed', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--seed');
    const threads = await runScript('train', ['--threads', '0']);
    expect(threads.code).toBe(2);
    expect(threads.stderr).toContain('--threads must be an integer from 1 to 64, got "0"');
    const file = join(tmp, 'broken.jsonl');
    writeFileSync(file, '{"text":"ok","topic":"nope","type":"complaint"}\n');
    const broken = await runScript('train', ['--data', file]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('unknown topic "nope"');
  });
});

describe('npm run -s evaluate', () => {
  it('prints accuracy, macro-F1, per-class scores and speed, and writes Markdown and HTML reports', async () => {
    const r = await runScript('evaluate', ['--data', smallFile, '--report-dir', join(tmp, 'reports'), '--model', 'svm']);
    expect(r.code, r.stderr).toBe(0);
    const s = lastJson(r.stdout);
    for (const k of ['accuracy', 'macroF1', 'perClass', 'trainSeconds', 'predictPerSecond']) expect(s).toHaveProperty(k);
    // 12 classes of about 27 rows each: chance is 8%.
    expect(s.accuracy as number).toBeGreaterThan(0.3);
    expect(Object.keys(s.perClass as object)).toContain('spam');
    const report = s.report as { markdown: string; html: string };
    expect(readFileSync(report.markdown, 'utf8')).toContain('| class | precision | recall | F1 | support |');
    expect(readFileSync(report.html, 'utf8')).toContain('id="confusion"');
  });

  it('runs k-fold cross-validation with --folds', async () => {
    const r = await runScript('evaluate', ['--data', smallFile, '--folds', '3', '--label', 'topic', '--model', 'keyword', '--report-dir', join(tmp, 'reports')]);
    expect(r.code, r.stderr).toBe(0);
    const s = lastJson(r.stdout);
    expect(s.split).toBe('folds3');
    expect(s.testRows).toBe(small.filter((x) => x.topic).length);
    expect(s.skippedRows).toBe(60);
  });

  it('rejects an unknown scorer', async () => {
    const r = await runScript('evaluate', ['--data', smallFile, '--model', 'magic']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--model must be one of keyword, svm, ensemble');
  });
});
