/**
 * A second OS process writing to the same database as the test (a second bot or console process):
 * notes, unversioned field changes, review confirmations and new tickets, all at once, through the
 * same `createServices` the server uses. Prints one JSON line: what it wrote.
 *
 * Usage: node --import tsx test/helpers/concurrent-writer.ts <label> <ticket number> <count>
 * (MONGODB_URI and DB_NAME name the database, as for any CLI).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices } from '../../desk/services.js';
import { loadConfig } from '../../runtime/config.js';
import { concurrentTicketInput } from './concurrent-input.js';

const [label, number, countText] = process.argv.slice(2);
const count = Number(countText);
const silent = { info() {}, warn() {}, error() {} };
const services = await createServices(loadConfig({ ...process.env, OUTBOX_PATH: join(mkdtempSync(join(tmpdir(), 'writer-')), 'o.jsonl') }), { log: silent, models: false });
try {
  const results = await Promise.all([
    ...Array.from({ length: count }, (_, i) => services.tickets.annotate(number, `${label}-note-${i}`, label).then(() => null)),
    ...Array.from({ length: count }, (_, i) => services.tickets.change(number, { assignee: `${label}-${i}` }, label).then(() => null)),
    ...Array.from({ length: count }, (_, i) => services.tickets.file(concurrentTicketInput(`${label}-${i}`)).then((r) => r.ticket.number)),
  ]);
  process.stdout.write(`${JSON.stringify({ label, filed: results.filter((n): n is string => n !== null) })}\n`);
} finally {
  await services.close();
}
