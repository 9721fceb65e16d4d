/**
 * The chat page's re-sending of messages the server could not take (issue 14: a message sent while
 * the database is down is kept, and the customer told the truth).
 *
 * The server answers `POST …/activities` with 503 and `Retry-After` when it cannot write the
 * activity log (nothing was stored). Web Chat would show "Send failed", and its "Retry" posts a new
 * activity with a new `clientActivityID`, so the page does not leave re-sending to Web Chat: it
 * replaces the Direct Line object's `postActivity` with {@link RESEND_SCRIPT}'s queue, which
 * - sends one activity at a time, in the order the customer typed them;
 * - on 503, 500, 504, a network failure, or 429 with `Retry-After`, keeps the activity in the page
 *   and sends the very same JSON again (same `channelData.clientActivityID`, header `X-Resend: 1`)
 *   after `Retry-After` seconds (1–60) or a growing pause (2, 4, … 30 s), until it is accepted;
 * - tells the page how many messages are waiting (`onPending(n)`), so it can say, truthfully, that
 *   they have not arrived yet and will be sent when the service is back (while the page stays open):
 *   from the first refused attempt until one is accepted, every message not yet accepted counts;
 * - gives up only on an answer that re-sending cannot change (other 4xx, 502: the bot failed on an
 *   activity that is in the log), which Web Chat then shows as failed.
 * The server stores a re-sent activity once (bot/directline/conversations.ts `fromClient`).
 *
 * The script is plain ES5 text, inlined in the page as is and evaluated as is by the unit test
 * (`test/unit/webchat-resend.test.ts`), so what is tested is what the browser runs.
 */

/** What one attempt to post gave: the HTTP status (0: no answer), `Retry-After` seconds (0: none), the activity id. */
export interface PostOutcome {
  status: number;
  retryAfter: number;
  id?: string;
}

/** What {@link RESEND_SCRIPT}'s `createResender` needs. */
export interface ResenderOptions {
  /** Posts the activity (`resend` true from the second attempt on); never rejects (status 0 on a network failure). */
  post: (activity: unknown, resend: boolean) => Promise<PostOutcome>;
  /** Resolves after `ms` milliseconds. */
  wait: (ms: number) => Promise<void>;
  /** How many messages have not arrived while sending fails (0: none, or sending works again). */
  onPending: (count: number) => void;
}

/** The queue: `send(activity)` resolves with the activity id once the server accepted it. */
export interface Resender {
  send: (activity: unknown) => Promise<string>;
}

/** Defines `createResender(options: ResenderOptions): Resender` (ES5, no dependencies). */
export const RESEND_SCRIPT = `function createResender(o) {
  var queue = Promise.resolve();
  var unsent = 0;
  var failing = false;
  function report() { o.onPending(failing ? unsent : 0); }
  function retryable(r) {
    return r.status === 0 || r.status === 500 || r.status === 503 || r.status === 504 || (r.status === 429 && r.retryAfter > 0);
  }
  function pause(r, n) {
    if (r.retryAfter > 0) return Math.min(60, Math.max(1, r.retryAfter)) * 1000;
    return Math.min(30, Math.pow(2, n)) * 1000;
  }
  function attempt(activity, n) {
    return o.post(activity, n > 0).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        unsent -= 1;
        failing = false;
        report();
        return r.id;
      }
      if (!retryable(r)) {
        unsent -= 1;
        report();
        var err = new Error('the message was refused: HTTP ' + r.status);
        err.status = r.status;
        throw err;
      }
      failing = true;
      report();
      return o.wait(pause(r, n + 1)).then(function () { return attempt(activity, n + 1); });
    });
  }
  function send(activity) {
    unsent += 1;
    report();
    var result = queue.then(function () { return attempt(activity, 0); });
    queue = result.then(function () {}, function () {});
    return result;
  }
  return { send: send };
}`;
