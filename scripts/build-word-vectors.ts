/**
 * node dist/scripts/build-word-vectors.js --words <words.txt> --vectors <vectors.npy> --name <name> --out <file.wvec>
 *
 * Turns distilled word vectors (one word a line, and a float32 .npy of shape words × dim from
 * scripts/word-vectors/distill.py) into the classifier's `wvec1` table, keyed by the pipeline's own
 * tokens: each word goes through the pipeline's tokenizer, and a word that comes out as one token
 * is filed under that token (English words under their Porter stem; words sharing a stem are
 * averaged). Words that split into several tokens are left out: no message token would match them.
 * Run by scripts/install-word-vectors.mjs. Last stdout line: JSON.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tokenize } from '../classifier/tokenizer.js';
import { WordVectors } from '../classifier/word-vectors.js';
import { createTokenizer } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { flags, printJson, runCli, UsageError } from './cli.js';

runCli(async () => {
  const { values } = flags({
    words: { type: 'string' },
    vectors: { type: 'string' },
    name: { type: 'string' },
    out: { type: 'string' },
  });
  if (!values.words || !values.vectors || !values.name || !values.out) throw new UsageError('--words, --vectors, --name and --out are required');
  const words = readFileSync(values.words, 'utf8').split('\n').filter(Boolean);
  const npy = readFileSync(values.vectors);
  const { rows, dim } = readNpyFloat32(npy);
  // A copy, so the float view starts on an aligned offset.
  const data = new Float32Array(Uint8Array.prototype.slice.call(npy, npyDataOffset(npy)).buffer);
  if (rows !== words.length) throw new UsageError(`${values.vectors} has ${rows} rows for ${words.length} words`);
  const config = loadConfig(process.env);
  const tokenizer = await createTokenizer(config.TOKENIZER, config.DATA_DIR);
  const sums = new Map<string, { sum: Float64Array; n: number }>();
  let skipped = 0;
  words.forEach((w, i) => {
    const tokens = tokenize(w.toLowerCase(), tokenizer);
    if (tokens.length !== 1) {
      skipped++;
      return;
    }
    let e = sums.get(tokens[0]);
    if (!e) sums.set(tokens[0], (e = { sum: new Float64Array(dim), n: 0 }));
    for (let k = 0; k < dim; k++) e.sum[k] += data[i * dim + k];
    e.n++;
  });
  const keys = [...sums.keys()].sort();
  const table = WordVectors.encode(values.name, keys, keys.map((k) => {
    const e = sums.get(k)!;
    return Array.from(e.sum, (v) => v / e.n);
  }));
  writeFileSync(values.out, table);
  printJson({ out: values.out, name: values.name, words: keys.length, dim, skipped, bytes: table.length });
});

/** Byte offset of the data in a version 1 or 2 .npy file. */
function npyDataOffset(buf: Buffer): number {
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new UsageError('not a .npy file');
  const major = buf[6];
  return major === 1 ? 10 + buf.readUInt16LE(8) : 12 + buf.readUInt32LE(8);
}

/** Shape of a little-endian float32, C-order, two-dimensional .npy array. */
function readNpyFloat32(buf: Buffer): { rows: number; dim: number } {
  const start = npyDataOffset(buf);
  const header = buf.toString('latin1', 0, start);
  if (!header.includes("'descr': '<f4'") || !header.includes("'fortran_order': False")) throw new UsageError('expected a little-endian float32 C-order array');
  const m = /'shape': \((\d+), (\d+)\)/.exec(header);
  if (!m) throw new UsageError('expected a two-dimensional array');
  const rows = Number(m[1]);
  const dim = Number(m[2]);
  if (buf.length - start !== rows * dim * 4) throw new UsageError('.npy data length does not match its shape');
  return { rows, dim };
}
