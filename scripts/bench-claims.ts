/**
 * npm run -s bench:claims -- [--json] [--calls 400] [--existing 2000] [--concurrency 1,16]
 *
 * What a claim costs (store/claims.ts) against the embedded server (or MONGODB_URI): a claim taken
 * and released (`Claims.claim` then `Claims.release`: an insert and a delete by `_id` on `claims`),
 * and, as the reference in the same run, the same insert and delete of a document of the same shape
 * in another collection (`claimsRef`). Both collections first get `--existing` documents (the claims
 * an hour of writes leaves before they are pruned). For each `--concurrency` C, C workers run at
 * once, half on claims and half on the reference, until `--calls` of each are done, so both meet the
 * same contention; then a lost claim (another owner holds it: the duplicate-key error and the read
 * of the holder) is timed one at a time, and last the hourly prune with nothing old enough (it reads
 * every claim). Medians, p90 and means per operation, and the load average before and after (the
 * machine is shared).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../runtime/config.js';
import { Claims } from '../store/claims.js';
import { openDatabase } from '../store/database.js';
import { flags, printJson, runCli, UsageError } from './cli.js';
import { benchTempDir } from './temp-dir.js';
import { quantile } from './quantile.js';

interface Timing {
  calls: number;
  /** The mean too: the driver's command monitoring (bench:bot --db-stats) reports means. */
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
}

interface Round {
  concurrency: number;
  claim: Timing;
  release: Timing;
  refInsert: Timing;
  refDelete: Timing;
  loadBefore: number[];
  loadAfter: number[];
}

const OWNER = '00000000-0000-4000-8000-000000000000';

function timing(ms: number[]): Timing {
  return { calls: ms.length, meanMs: round2(ms.reduce((a, b) => a + b, 0) / ms.length), p50Ms: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9) };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const load = () => loadavg().map(round2);

async function timed(f: () => Promise<unknown>, into: number[]): Promise<void> {
  const start = performance.now();
  await f();
  into.push(performance.now() - start);
}

runCli(async () => {
  const { values } = flags({
    json: { type: 'boolean', default: false },
    calls: { type: 'string', default: '400' },
    existing: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '1,16' },
  });
  const calls = Number(values.calls);
  const existing = Number(values.existing);
  const levels = values.concurrency.split(',').map(Number);
  if (!(calls > 0) || !(existing >= 0) || levels.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new UsageError('--calls must be positive, --existing at least 0, --concurrency a list of positive integers');
  }
  const config = loadConfig(process.env);
  const tmp = benchTempDir('bench-claims-');
  const database = await openDatabase({ ...config, DB_DIR: join(tmp.path, 'db') });
  tmp.onInterrupt(() => database.close());
  try {
    const db = database.client.db(`bench_claims_${Date.now()}`);
    const ref = db.collection<{ _id: string; at: Date; owner: string }>('claimsRef');
    for (const name of ['claims', 'claimsRef']) {
      await db.createCollection(name);
      for (let from = 0; from < existing; from += 5000) {
        const docs = [];
        for (let i = from; i < Math.min(existing, from + 5000); i++) docs.push({ _id: `statsMonths:old${i}:v${i + 1}`, at: new Date(), owner: OWNER });
        await db.collection<{ _id: string }>(name).insertMany(docs);
      }
    }
    const claims = new Claims(db);
    const rounds: Round[] = [];
    for (const concurrency of levels) {
      const t = { claim: [] as number[], release: [] as number[], refInsert: [] as number[], refDelete: [] as number[] };
      const loadBefore = load();
      const next = { claims: 0, ref: 0 };
      const worker = async (onClaims: boolean) => {
        for (;;) {
          const i = onClaims ? next.claims++ : next.ref++;
          if (i >= calls) return;
          const id = `statsMonths:c${concurrency}-${i}:v${i + 1}`;
          if (onClaims) {
            await timed(() => claims.claim(id, OWNER), t.claim);
            await timed(() => claims.release(id, OWNER), t.release);
          } else {
            await timed(() => ref.insertOne({ _id: id, at: new Date(), owner: OWNER }), t.refInsert);
            await timed(() => ref.deleteOne({ _id: id, owner: OWNER }), t.refDelete);
          }
        }
      };
      // One worker alone alternates: claims, then the reference, so both run in the same seconds.
      if (concurrency === 1) {
        for (let i = 0; i < calls; i++) {
          const id = `statsMonths:c1-${i}:v${i + 1}`;
          await timed(() => claims.claim(id, OWNER), t.claim);
          await timed(() => claims.release(id, OWNER), t.release);
          await timed(() => ref.insertOne({ _id: id, at: new Date(), owner: OWNER }), t.refInsert);
          await timed(() => ref.deleteOne({ _id: id, owner: OWNER }), t.refDelete);
        }
      } else {
        await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w % 2 === 0)));
      }
      rounds.push({ concurrency, claim: timing(t.claim), release: timing(t.release), refInsert: timing(t.refInsert), refDelete: timing(t.refDelete), loadBefore, loadAfter: load() });
    }
    // A lost claim: the insert's duplicate-key error, then the read of the holder.
    const held = 'statsMonths:held:v1';
    await claims.claim(held, OWNER);
    const lost: number[] = [];
    for (let i = 0; i < Math.min(calls, 200); i++) {
      await timed(async () => {
        if (await claims.claim(held, `other-${i}`)) throw new Error('a claim held by another owner was granted');
      }, lost);
    }
    // The hourly prune with nothing old enough: what it costs to look at every claim.
    const pruneStart = performance.now();
    await claims.prune();
    const pruneMs = round2(performance.now() - pruneStart);
    const claimDocs = await db.collection('claims').countDocuments();
    const result = { server: database.server?.kind ?? 'external', existing, claimDocsAtEnd: claimDocs, rounds, lostClaim: timing(lost), pruneNothingOldMs: pruneMs };
    if (values.json) {
      printJson(result);
      return;
    }
    const rows = rounds.flatMap((r) => [
      `| ${r.concurrency} | claim (insert into claims) | ${r.claim.p50Ms} | ${r.claim.p90Ms} | ${r.claim.meanMs} | ${r.claim.calls} | ${r.loadBefore.join(' ')} → ${r.loadAfter.join(' ')} |`,
      `| ${r.concurrency} | reference insert (claimsRef) | ${r.refInsert.p50Ms} | ${r.refInsert.p90Ms} | ${r.refInsert.meanMs} | ${r.refInsert.calls} | |`,
      `| ${r.concurrency} | release (delete from claims) | ${r.release.p50Ms} | ${r.release.p90Ms} | ${r.release.meanMs} | ${r.release.calls} | |`,
      `| ${r.concurrency} | reference delete (claimsRef) | ${r.refDelete.p50Ms} | ${r.refDelete.p90Ms} | ${r.refDelete.meanMs} | ${r.refDelete.calls} | |`,
    ]);
    process.stdout.write(
      [
        `server: ${result.server}; ${existing} documents in each collection first; ${claimDocs} claims at the end`,
        '| writers at once | operation | p50 ms | p90 ms | mean ms | calls | load average 1/5/15 min before → after |',
        '|---|---|---|---|---|---|---|',
        ...rows,
        `| 1 | lost claim (duplicate key + read) | ${result.lostClaim.p50Ms} | ${result.lostClaim.p90Ms} | ${result.lostClaim.meanMs} | ${result.lostClaim.calls} | |`,
        `prune (hourly) with nothing an hour old: ${pruneMs} ms`,
        '',
      ].join('\n'),
    );
  } finally {
    await database.close();
    tmp.remove();
  }
});
