/**
 * npm run -s classify < messages.jsonl
 *
 * Reads JSON Lines `{"text": "..."}` (or plain text lines) on stdin and writes one JSON object per
 * input line on stdout, in order, classified by the active default model. Nothing else goes to
 * stdout. Each object is the {@link Classification}: `spam` means refused as unmistakable spam,
 * `suspectedSpam` filed as a ticket but flagged for staff, `act` the dialogue act (greeting,
 * thanks, human, …, demand). A line that cannot be classified (not a string, too long) still gets an object, with
 * `topic: null`, `needsReview: true` and an `error`.
 */
import { createInterface } from 'node:readline';
import type { Classification } from '../classifier/demand-classifier.js';
import { ClassifierError } from '../classifier/errors.js';
import { loadDemandClassifier } from '../runtime/classifier-factory.js';
import { loadConfig } from '../runtime/config.js';
import { flags, runCli } from './cli.js';

runCli(async () => {
  // `--help` answers. Any other argument is named on stderr and ignored, not refused: classify takes
  // none, and outside checks pipe messages into it (it ignored every argument until session 9).
  const args = process.argv.slice(2);
  flags({}, args.filter((a) => a === '--help' || a === '-h'), '< messages.jsonl');
  if (args.length > 0) process.stderr.write(`classify takes no arguments (it reads stdin); ignored: ${args.join(' ')}\n`);
  const classifier = await loadDemandClassifier(loadConfig(process.env));
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const out: string[] = [];
  const flush = () => {
    if (out.length) process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  };
  for await (const line of lines) {
    out.push(JSON.stringify(classifyLine(line)));
    if (out.length >= 256) flush();
  }
  flush();

  function classifyLine(line: string): object {
    let text: unknown = line;
    const trimmed = line.trim();
    if (trimmed.startsWith('{')) {
      try {
        const parsed = JSON.parse(trimmed) as Record<string, unknown>;
        text = parsed.text;
        if (typeof text !== 'string') return failure('INVALID_INPUT', 'the JSON object has no "text" string');
      } catch {
        // Not JSON after all: classify the line as plain text.
      }
    }
    try {
      return classifier.classify(text);
    } catch (err) {
      if (err instanceof ClassifierError) return failure(err.code, err.message);
      throw err;
    }
  }

  function failure(code: string, message: string): object {
    return { topic: null, type: null, spam: false, suspectedSpam: false, act: null, confidence: 0, needsReview: true, lang: null, alternatives: [], keywords: [], reason: 'error', error: { code, message }, modelVersion: classifier.version };
  }
});
