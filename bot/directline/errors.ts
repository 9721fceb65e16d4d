/**
 * Typed errors of the web chat channel. Each carries the HTTP status and the Direct Line error code
 * it is answered with (`{error: {code, message}}`, Direct Line's error shape); the routes match them
 * by class, never by message.
 */

/** Base of every error the Direct Line endpoints answer with a status of their own. */
export class DirectLineError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: a request the channel cannot take (the message names the field or limit). */
export class BadRequestError extends DirectLineError {
  constructor(code: 'BadArgument' | 'BadSyntax' | 'MissingProperty' | 'MessageSizeTooBig', message: string) {
    super(400, code, message);
  }
}

/** 401: no credential, or one that is not valid here. */
export class UnauthorizedError extends DirectLineError {
  constructor(message: string) {
    super(401, 'Unauthorized', message);
  }
}

/** 403: a well-signed token that has expired (directlinejs's "expired token" status). */
export class TokenExpiredError extends DirectLineError {
  constructor() {
    super(403, 'TokenExpired', 'the token has expired; get a new one');
  }
}

/** 403: the caller may not do this (for example choose a user id without the secret). */
export class ForbiddenError extends DirectLineError {
  constructor(message: string) {
    super(403, 'Forbidden', message);
  }
}

/** 404: no such conversation (it may have expired) or activity. */
export class NotFoundError extends DirectLineError {
  constructor(message = 'conversation not found (it may have expired)') {
    super(404, 'NotFound', message);
  }
}

/** 429: a size or rate budget is used up; `retryAfterSeconds` says when to try again, if ever. */
export class TooManyRequestsError extends DirectLineError {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(429, 'TooManyRequests', message);
  }
}

/** 503: the server is too busy to open a conversation now (memory near its ceiling); try again after `retryAfterSeconds`. */
export class ServiceBusyError extends DirectLineError {
  constructor(readonly retryAfterSeconds: number) {
    super(503, 'ServiceUnavailable', 'the service is busy; please try again in a moment');
  }
}

/** Seconds a client waits before re-sending after a {@link StorageUnavailableError}. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

/**
 * 503: the database behind the activity log cannot be reached, so nothing was stored: the client
 * should send the same activity again (same `channelData.clientActivityID`) after
 * `retryAfterSeconds`; a re-sent activity that did reach the log is answered with its id, not stored
 * twice.
 */
export class StorageUnavailableError extends DirectLineError {
  readonly retryAfterSeconds = STORAGE_RETRY_AFTER_SECONDS;
  constructor() {
    super(503, 'ServiceUnavailable', 'the service cannot store messages right now, so this one was not received; send it again in a few seconds (with the same channelData.clientActivityID)');
  }
}

/** 502: the bot failed on the activity (it stays in the log). */
export class BotFailedError extends DirectLineError {
  constructor() {
    super(502, 'BotError', 'the bot could not process the activity');
  }
}

/** 501 / 405: a Direct Line feature this channel does not offer. */
export class UnsupportedError extends DirectLineError {
  constructor(status: 405 | 501, message: string) {
    super(status, status === 405 ? 'MethodNotAllowed' : 'NotImplemented', message);
  }
}
