/** Reading and writing model artifacts: gzip-compressed JSON files, written atomically. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ModelFormatError } from '../classifier/errors.js';
import type { ModelArtifact } from '../classifier/pipeline.js';

/** Reads an artifact file (`.json` or `.json.gz`) into parsed JSON; the caller checks its identity. */
export function readArtifact(file: string): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new ModelFormatError(`cannot read model file ${file}: ${(err as Error).message}`);
  }
  try {
    const text = file.endsWith('.gz') ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
    return JSON.parse(text);
  } catch (err) {
    throw new ModelFormatError(`model file ${file} is damaged: ${(err as Error).message}`);
  }
}

/** Writes an artifact; a temporary file plus rename means readers never see half a model. */
export function writeArtifact(file: string, artifact: ModelArtifact): void {
  mkdirSync(dirname(file), { recursive: true });
  const json = JSON.stringify(artifact);
  const bytes = file.endsWith('.gz') ? gzipSync(json, { level: 9 }) : Buffer.from(json);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}
