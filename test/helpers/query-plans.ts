/**
 * What a piece of work asked the database to select, and whether the server answers it from an
 * index: for the tests that pin a path's reads (FerretDB on SQLite answers a filter from an index
 * only for a top-level `_id` equality; any other filter, sort or count reads the whole collection).
 * The commands come from the driver's command monitoring (`startApp(…, { onCommand })`).
 */
import type { CommandStartedEvent, Db, Document } from 'mongodb';
import { expect } from 'vitest';

/** One command's selection: the collection, the command and its filter. */
export interface CommandFilter {
  collection: string;
  command: string;
  filter: Document;
}

/** The filters of the commands that select documents (find, count, distinct, findAndModify, update, delete, aggregate's first `$match`). */
export function commandFilters(seen: CommandStartedEvent[]): CommandFilter[] {
  const out: CommandFilter[] = [];
  for (const e of seen) {
    const c = e.command;
    const collection = c[e.commandName];
    if (typeof collection !== 'string') continue;
    const add = (filter: Document | undefined) => out.push({ collection, command: e.commandName, filter: filter ?? {} });
    if (e.commandName === 'find' || e.commandName === 'count' || e.commandName === 'distinct') add(c.filter ?? c.query);
    else if (e.commandName === 'findAndModify') add(c.query);
    else if (e.commandName === 'update') for (const u of c.updates as Document[]) add(u.q);
    else if (e.commandName === 'delete') for (const d of c.deletes as Document[]) add(d.q);
    else if (e.commandName === 'aggregate') add((c.pipeline as Document[])[0]?.$match);
  }
  return out;
}

/** Whether a filter names its documents by a top-level `_id` (a value or `$in`), other fields beside it or not. */
export function isIdFilter(filter: Document): boolean {
  const id: unknown = filter._id;
  return typeof id === 'string' || (typeof id === 'object' && id !== null && Array.isArray((id as { $in?: unknown }).$in));
}

/** The plan the server chooses for `filter` on `collection`, as text. */
export async function planOf(db: Db, collection: string, filter: Document): Promise<string> {
  return JSON.stringify(await db.collection(collection).find(filter).explain());
}

const ferretOf = new WeakMap<Db, Promise<boolean>>();

/**
 * Asserts that the server answers `filter` from an index, not by reading every row: on the embedded
 * FerretDB (as scripts/install-ferretdb.mjs builds it) SQLite's `SEARCH … USING INDEX` and no `SCAN`;
 * on MongoDB no COLLSCAN.
 */
export async function expectFromIndex(db: Db, collection: string, filter: Document, label: string): Promise<void> {
  let ferret = ferretOf.get(db);
  if (!ferret) ferretOf.set(db, (ferret = db.admin().command({ buildInfo: 1 }).then((b) => 'ferretdbVersion' in b)));
  const plan = await planOf(db, collection, filter);
  if (await ferret) {
    expect(plan, label).toMatch(/USING (COVERING )?INDEX/);
    expect(plan, label).not.toMatch(/detail=SCAN/);
  } else {
    expect(plan, label).not.toMatch(/COLLSCAN/);
  }
}
