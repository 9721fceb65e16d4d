/**
 * Which database errors are transient, and the bounded retry (store/transient-errors.ts), with the
 * driver's own error classes built from the replies the servers send. The FerretDB reply is the one
 * the embedded server gave here while another process held SQLite's write lock
 * (test/integration/transient-retry.test.ts provokes it for real).
 */
import { MongoBulkWriteError, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError, MongoServerSelectionError, MongoWriteConcernError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { mayHaveApplied, retryTransient, transientFailure, type RetryPolicy } from '../../store/transient-errors.js';

/** FerretDB 1.24's reply to an update while another connection holds the SQLite write lock (verbatim). */
const FERRETDB_BUSY_UPDATE = {
  ok: 0,
  errmsg:
    '[msg_update.go:133 handler.(*Handler).updateDocument] [update.go:114 common.UpdateDocument] [collection.go:186 sqlite.(*collection).UpdateAll] [collection.go:172 sqlite.(*collection).UpdateAll.func1] database is locked (5) (SQLITE_BUSY)',
  code: 1,
  codeName: 'InternalError',
};
/** …and to an insert (verbatim). */
const FERRETDB_BUSY_INSERT = { ok: 0, errmsg: '[msg_insert.go:168 handler.(*Handler).MsgInsert] [collection.go:130 sqlite.(*collection).InsertAll.func1] database is locked (5) (SQLITE_BUSY)', code: 1, codeName: 'InternalError' };
/** SQLITE_BUSY_SNAPSHOT (extended code 517, answered at once): modernc's errstr has no "(SQLITE_BUSY)" suffix then. */
const FERRETDB_BUSY_SNAPSHOT = { ok: 0, errmsg: '[collection.go:172 sqlite.(*collection).UpdateAll.func1] database is locked (517)', code: 1, codeName: 'InternalError' };
const FERRETDB_TABLE_LOCKED = { ok: 0, errmsg: '[collection.go:130 sqlite.(*collection).InsertAll.func1] database table is locked (6)', code: 1, codeName: 'InternalError' };

describe('transientFailure', () => {
  it('recognises FerretDB\'s SQLite lock errors as not applied', () => {
    for (const reply of [FERRETDB_BUSY_UPDATE, FERRETDB_BUSY_INSERT, FERRETDB_BUSY_SNAPSHOT, FERRETDB_TABLE_LOCKED]) {
      expect({ reply: reply.errmsg, kind: transientFailure(new MongoServerError(reply)) }).toEqual({ reply: reply.errmsg, kind: 'not-applied' });
    }
  });

  it('recognises MongoDB\'s transient labels; a write-concern or multi-document error may have applied', () => {
    const stepDown = new MongoServerError({ ok: 0, errmsg: 'not primary', code: 10107, codeName: 'NotWritablePrimary', errorLabels: ['RetryableWriteError'] });
    expect(transientFailure(stepDown)).toBe('not-applied');
    const txn = new MongoServerError({ ok: 0, errmsg: 'Write conflict during plan execution', code: 112, codeName: 'WriteConflict', errorLabels: ['TransientTransactionError'] });
    expect(transientFailure(txn)).toBe('not-applied');
    const wc = new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown in progress' }, errorLabels: ['RetryableWriteError'] });
    expect(transientFailure(wc)).toBe('may-have-applied');
    const bulk = new MongoBulkWriteError({ message: FERRETDB_BUSY_INSERT.errmsg, code: 1, codeName: 'InternalError', writeErrors: [] } as never, {} as never);
    expect(transientFailure(bulk)).toBe('may-have-applied');
  });

  it('never calls a lasting error transient', () => {
    const lasting = [
      new MongoServerError({ ok: 0, errmsg: 'E11000 duplicate key error collection: demand.tickets', code: 11000, codeName: 'DuplicateKey' }),
      new MongoServerError({ ok: 0, errmsg: '[msg_update.go:133] unexpected end of JSON input', code: 1, codeName: 'InternalError' }),
      new MongoServerError({ ok: 0, errmsg: 'database is locked', code: 2, codeName: 'BadValue' }),
      new MongoServerError({ ok: 0, errmsg: 'not primary', code: 10107, codeName: 'NotWritablePrimary' }),
      new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' } }),
      new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'),
      new Error('database is locked (5) (SQLITE_BUSY)'),
      'database is locked',
      null,
    ];
    for (const err of lasting) expect({ err: String(err), kind: transientFailure(err) }).toEqual({ err: String(err), kind: null });
  });
});

describe('retryTransient', () => {
  const quick = (seen: number[] = []): RetryPolicy => ({ attempts: 3, baseMs: 1, onRetry: (_e, attempt) => seen.push(attempt) });
  /** An operation failing with `errors` in turn, then answering 'done'; counts its calls. */
  function failing(...errors: unknown[]) {
    const op = async () => {
      op.calls++;
      if (errors.length) throw errors.shift();
      return 'done';
    };
    op.calls = 0;
    return op;
  }

  it('repeats an operation after a lock error that applied nothing, within the attempts', async () => {
    const seen: number[] = [];
    const op = failing(new MongoServerError(FERRETDB_BUSY_UPDATE), new MongoServerError(FERRETDB_BUSY_SNAPSHOT));
    await expect(retryTransient(op, { idempotent: false, policy: quick(seen) })).resolves.toBe('done');
    expect(op.calls).toBe(3);
    expect(seen).toEqual([1, 2]);
  });

  it('gives up after the last attempt with the server\'s error', async () => {
    const op = failing(...Array.from({ length: 5 }, () => new MongoServerError(FERRETDB_BUSY_UPDATE)));
    await expect(retryTransient(op, { idempotent: true, policy: quick() })).rejects.toThrow(/database is locked \(5\) \(SQLITE_BUSY\)/);
    expect(op.calls).toBe(3);
  });

  it('never repeats a lasting error', async () => {
    const op = failing(new MongoServerError({ ok: 0, errmsg: 'E11000 duplicate key error', code: 11000, codeName: 'DuplicateKey' }));
    await expect(retryTransient(op, { idempotent: true, policy: quick() })).rejects.toMatchObject({ code: 11000 });
    expect(op.calls).toBe(1);
  });

  it('repeats a write that may have been applied only when repeating it is harmless', async () => {
    const wc = () => new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown in progress' }, errorLabels: ['RetryableWriteError'] });
    const push = failing(wc());
    await expect(retryTransient(push, { idempotent: false, policy: quick() })).rejects.toBeInstanceOf(MongoWriteConcernError);
    expect(push.calls).toBe(1);
    const read = failing(wc());
    await expect(retryTransient(read, { idempotent: true, policy: quick() })).resolves.toBe('done');
    expect(read.calls).toBe(2);
  });
});

describe('mayHaveApplied', () => {
  it('says a write may be stored after a lost connection, any write-concern error, or a transient error that may have applied it', () => {
    const maybe = [
      new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'),
      new MongoNetworkTimeoutError('connection 3 to 127.0.0.1:27017 timed out'),
      new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' } }),
      new MongoWriteConcernError({ ok: 1, n: 1, writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'shutdown in progress' }, errorLabels: ['RetryableWriteError'] }),
      new MongoBulkWriteError({ message: FERRETDB_BUSY_INSERT.errmsg, code: 1, codeName: 'InternalError', writeErrors: [] } as never, {} as never),
      // What insertMany throws when its connection closes (the network error's class is lost).
      new MongoBulkWriteError(new MongoNetworkError('connection 1 to 127.0.0.1:38143 closed') as never, {} as never),
    ];
    for (const err of maybe) expect({ err: err.message, maybe: mayHaveApplied(err) }).toEqual({ err: err.message, maybe: true });
  });

  it('says it was not stored when the command failed on the server or never left', () => {
    const not = [
      new MongoServerError(FERRETDB_BUSY_UPDATE),
      new MongoServerError({ ok: 0, errmsg: 'E11000 duplicate key error', code: 11000, codeName: 'DuplicateKey' }),
      new MongoServerError({ ok: 0, errmsg: 'not primary', code: 10107, codeName: 'NotWritablePrimary', errorLabels: ['RetryableWriteError'] }),
      new MongoServerSelectionError('connect ECONNREFUSED 127.0.0.1:27017', { type: 'Unknown', servers: new Map() } as never),
      new Error('anything else'),
      null,
    ];
    for (const err of not) expect({ err: String(err), maybe: mayHaveApplied(err) }).toEqual({ err: String(err), maybe: false });
  });
});
