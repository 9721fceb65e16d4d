/**
 * Typed errors of the storage layer, on the product's shared base (core/app-error.ts). Callers
 * match them by class; `code` is what API bodies and CLI results show.
 */
import { MongoNetworkError, MongoNotConnectedError, MongoServerSelectionError, MongoTopologyClosedError } from 'mongodb';
import { AppError } from '../core/app-error.js';

/** How to get a database when none can be started here; part of every "unavailable" message. */
export const MONGODB_URI_HINT =
  'Set MONGODB_URI to a MongoDB-compatible server, for example ' +
  '`MONGODB_URI=mongodb://127.0.0.1:27017/demand`, or make Go available (https://go.dev/dl/) and run ' +
  '`npm install` so that the embedded FerretDB is built into vendor/ferretdb/ferretdb.';

/**
 * No database server can be used: MONGODB_URI is not set and no embedded server binary
 * (vendored FerretDB, or `mongod` on PATH) was found.
 */
export class DatabaseUnavailableError extends AppError {
  readonly code = 'DATABASE_UNAVAILABLE';

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`${reason}. ${MONGODB_URI_HINT}`, options);
  }
}

/** An embedded server binary was found but did not start (exited early or never answered a ping). */
export class EmbeddedServerStartError extends AppError {
  readonly code = 'EMBEDDED_SERVER_START_FAILED';
}

/**
 * The MongoDB driver lacks what store/driver-write-guard.ts wraps (an upgraded driver): raised at
 * start-up, so no build runs without the guard, or with a guard that no longer applies, unnoticed.
 */
export class DriverGuardError extends AppError {
  readonly code = 'DRIVER_GUARD_UNAVAILABLE';
}

/** Input that fails a schema: names the field and what is wrong. */
export class ValidationError extends AppError {
  readonly code = 'VALIDATION_FAILED';
  constructor(message: string, readonly issues: { path: string; message: string }[] = []) {
    super(message);
  }
}

export class NotFoundError extends AppError {
  readonly code = 'NOT_FOUND';
}

/** Someone else changed the record since it was read (optimistic concurrency). */
export class ConflictError extends AppError {
  readonly code = 'CONFLICT';
}

/**
 * A ticket still waits in the local outbox: the database has not taken it yet (its replay stopped
 * on an outage), so what belongs on it must wait too, and its number may still change. An outage
 * as far as callers go ({@link isUnavailable}): they keep the work for a later try.
 */
export class TicketNotFiledError extends AppError {
  readonly code = 'TICKET_NOT_FILED';
}

/** Errors that mean "the database is not reachable now", as opposed to "the request is wrong". */
export function isUnavailable(err: unknown): boolean {
  return (
    err instanceof TicketNotFiledError ||
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError ||
    (err instanceof Error && /ECONNREFUSED|ECONNRESET|socket|connection .* closed|Topology is closed/i.test(err.message))
  );
}
