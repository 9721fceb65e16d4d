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
 * - reports every change of what is waiting (`onChange`), so the page can keep it in `localStorage`
 *   and, after a reload or when the customer comes back, send the very same activities again
 *   (`send(activity, since)`): the server keeps each `clientActivityID` once;
 * - folds Web Chat's own Retry into the message it retries. Web Chat gives up on a message after
 *   5 minutes (its hard limit) and shows "Send failed" with Retry, while this queue still holds
 *   the message; Retry posts it again with a *new* `clientActivityID`, which the server cannot
 *   recognise. So when Web Chat has abandoned a message (`abandon(activity)`: it unsubscribed
 *   before the message was accepted; or the message has waited `abandonAfterMs`, Web Chat's send
 *   timeout, from which it shows Retry) and the customer retries one with the same type, text,
 *   attachments and value, the retry replaces it: the abandoned one is not attempted again (it
 *   stays "Send failed" in the transcript, truthfully: it was never accepted) and the retry is sent
 *   in its place. If an attempt of the abandoned one was already on the wire and is accepted, the
 *   retry is not sent at all and resolves with the accepted id. A message typed anew with the same
 *   text while the first is still pending (not abandoned) is a message of its own and is sent.
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

/** A message waiting to be accepted, as the page keeps it: the activity and when it was first sent (ms since 1970). */
export interface WaitingActivity {
  activity: unknown;
  since: number;
}

/** What {@link RESEND_SCRIPT}'s `createResender` needs. */
export interface ResenderOptions {
  /** Posts the activity (`resend` true from the second attempt on); never rejects (status 0 on a network failure). */
  post: (activity: unknown, resend: boolean) => Promise<PostOutcome>;
  /** Resolves after `ms` milliseconds. */
  wait: (ms: number) => Promise<void>;
  /** How many messages have not arrived while sending fails (0: none, or sending works again). */
  onPending: (count: number) => void;
  /** Everything waiting to be accepted, in order, after each change (to keep it across a reload). */
  onChange?: (waiting: WaitingActivity[]) => void;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
  /**
   * Web Chat's send timeout (ms): from then on it shows a message as failed, with Retry, even before
   * it unsubscribes, so a message waiting this long counts as abandoned too. Default: only `abandon`.
   */
  abandonAfterMs?: number;
}

/** The queue: `send(activity)` resolves with the activity id once the server accepted it. */
export interface Resender {
  /** Queues an activity; `since` is when it was first sent (a message restored after a reload). */
  send: (activity: unknown, since?: number) => Promise<string>;
  /** Web Chat stopped waiting for this activity (the very object given to `send`). */
  abandon: (activity: unknown) => void;
}

/** Defines `createResender(options: ResenderOptions): Resender` (ES5, no dependencies). */
export const RESEND_SCRIPT = `function createResender(o) {
  var queue = Promise.resolve();
  var unsent = 0;
  var failing = false;
  // Messages not yet accepted or refused, in the order they were sent.
  var items = [];
  var now = o.now || function () { return Date.now(); };
  function report() { o.onPending(failing ? unsent : 0); }
  function changed() {
    if (!o.onChange) return;
    var waiting = [];
    for (var i = 0; i < items.length; i++) {
      if (!items[i].superseded) waiting.push({ activity: items[i].activity, since: items[i].since });
    }
    o.onChange(waiting);
  }
  function settle(item) {
    var k = items.indexOf(item);
    if (k >= 0) items.splice(k, 1);
    unsent -= 1;
    changed();
  }
  function same(a, b) {
    if (!a || !b || a.type !== b.type || a.text !== b.text) return false;
    return JSON.stringify(a.attachments || []) === JSON.stringify(b.attachments || []) && JSON.stringify(a.value) === JSON.stringify(b.value);
  }
  function retryable(r) {
    return r.status === 0 || r.status === 500 || r.status === 503 || r.status === 504 || (r.status === 429 && r.retryAfter > 0);
  }
  function pause(r, n) {
    if (r.retryAfter > 0) return Math.min(60, Math.max(1, r.retryAfter)) * 1000;
    return Math.min(30, Math.pow(2, n)) * 1000;
  }
  function attempt(item, n) {
    if (item.superseded) {
      // Web Chat's Retry took its place (see send): never sent again.
      settle(item);
      report();
      var gone = new Error('replaced by a retry of the same message');
      gone.superseded = true;
      return Promise.reject(gone);
    }
    return o.post(item.activity, n > 0).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        item.accepted = r.id;
        settle(item);
        failing = false;
        report();
        return r.id;
      }
      if (!retryable(r)) {
        settle(item);
        report();
        var err = new Error('the message was refused: HTTP ' + r.status);
        err.status = r.status;
        throw err;
      }
      failing = true;
      report();
      return o.wait(pause(r, n + 1)).then(function () { return attempt(item, n + 1); });
    });
  }
  function send(activity, since) {
    var restored = typeof since === 'number';
    var item = { activity: activity, since: restored ? since : now(), restored: restored, abandoned: false, superseded: false, accepted: null, replaces: null };
    for (var i = 0; i < items.length; i++) {
      var held = items[i];
      var given = held.abandoned || (o.abandonAfterMs > 0 && now() - held.since >= o.abandonAfterMs);
      if (given && !held.superseded && !held.restored && same(held.activity, activity)) {
        held.superseded = true;
        item.replaces = held;
        break;
      }
    }
    items.push(item);
    unsent += 1;
    changed();
    report();
    var result = queue.then(function () {
      var replaced = item.replaces;
      if (replaced && replaced.accepted) {
        // The abandoned copy was accepted after all: this retry is the same message, not sent again.
        settle(item);
        report();
        return replaced.accepted;
      }
      return attempt(item, 0);
    });
    queue = result.then(function () {}, function () {});
    return result;
  }
  function abandon(activity) {
    for (var i = 0; i < items.length; i++) if (items[i].activity === activity) items[i].abandoned = true;
  }
  return { send: send, abandon: abandon };
}`;
