/**
 * The chat page's re-sending queue (bot/webchat-resend.ts), evaluated from the very text the page
 * inlines, against a scripted server: what is retried and what is not, with which pause, in which
 * order, and what the page is told. The real outage, over HTTP, is test/security/webchat-outage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RESEND_SCRIPT, type PostOutcome, type Resender, type ResenderOptions } from '../../bot/webchat-resend.js';

const createResender = new Function(`${RESEND_SCRIPT}\nreturn createResender;`)() as (o: ResenderOptions) => Resender;

/** A server that answers each activity's attempts from a script (then 200). */
function scripted(answers: Record<string, PostOutcome[]>) {
  const posts: { text: string; resend: boolean }[] = [];
  const waits: number[] = [];
  const notes: number[] = [];
  const resender = createResender({
    post: async (activity, resend) => {
      const text = (activity as { text: string }).text;
      posts.push({ text, resend });
      return answers[text]?.shift() ?? { status: 200, retryAfter: 0, id: `id-${text}` };
    },
    wait: async (ms) => {
      waits.push(ms);
    },
    onPending: (n) => notes.push(n),
  });
  return { resender, posts, waits, notes };
}

describe('the page re-sending queue', () => {
  it('re-sends the same activity after 503 until accepted, waiting as Retry-After says, and tells the page', async () => {
    const s = scripted({ a: [{ status: 503, retryAfter: 5 }, { status: 503, retryAfter: 5 }] });
    const activity = { text: 'a', channelData: { clientActivityID: 'x1' } };
    await expect(s.resender.send(activity)).resolves.toBe('id-a');
    expect(s.posts).toEqual([{ text: 'a', resend: false }, { text: 'a', resend: true }, { text: 'a', resend: true }]);
    expect(s.waits).toEqual([5000, 5000]);
    expect(s.notes).toEqual([0, 1, 1, 0]);
  });

  it('without Retry-After, and after a network failure, waits longer each time (2, 4, … at most 30 s)', async () => {
    const fail = { status: 0, retryAfter: 0 };
    const s = scripted({ a: [fail, { status: 500, retryAfter: 0 }, { status: 504, retryAfter: 0 }, fail, fail, fail] });
    await s.resender.send({ text: 'a' });
    expect(s.waits).toEqual([2000, 4000, 8000, 16000, 30000, 30000]);
    // A Retry-After beyond a minute is capped (the page checks again within a minute).
    const t = scripted({ b: [{ status: 503, retryAfter: 3600 }] });
    await t.resender.send({ text: 'b' });
    expect(t.waits).toEqual([60000]);
  });

  it('keeps the customer\'s order: a message typed during the outage waits behind the first, and both count as not arrived', async () => {
    const s = scripted({ a: [{ status: 503, retryAfter: 5 }] });
    const first = s.resender.send({ text: 'a' });
    const second = s.resender.send({ text: 'b' });
    await expect(Promise.all([first, second])).resolves.toEqual(['id-a', 'id-b']);
    expect(s.posts.map((p) => p.text)).toEqual(['a', 'a', 'b']);
    // Queued (no note), both not arrived (2), then the first is accepted: sending works again, the
    // note goes (the second is being sent at once), and stays gone when it is accepted.
    expect(s.notes).toEqual([0, 0, 2, 0, 0]);
  });

  it('gives up on answers a re-send cannot change (400, 401, 403, 404, 502, 429 without Retry-After), and goes on with the next', async () => {
    for (const status of [400, 401, 403, 404, 502, 429]) {
      const s = scripted({ a: [{ status, retryAfter: 0 }] });
      const refused = s.resender.send({ text: 'a' });
      const next = s.resender.send({ text: 'b' });
      await expect(refused).rejects.toMatchObject({ status });
      await expect(next).resolves.toBe('id-b');
      expect(s.posts).toEqual([{ text: 'a', resend: false }, { text: 'b', resend: false }]);
      expect(s.waits).toEqual([]);
    }
    // 429 with Retry-After (a rate limit) is waited out.
    const s = scripted({ a: [{ status: 429, retryAfter: 2 }] });
    await expect(s.resender.send({ text: 'a' })).resolves.toBe('id-a');
    expect(s.waits).toEqual([2000]);
  });
});

describe('what the page keeps across a reload, and Web Chat\'s own Retry', () => {
  /** A server that answers from a script per attempt (then 200), with hooks to hold an attempt on the wire. */
  function server(answers: PostOutcome[]) {
    const posts: { id: string; text: string; resend: boolean }[] = [];
    const changes: { id: string; since: number }[][] = [];
    let release: (() => void) | null = null;
    let holdNext = false;
    const waiting: (() => void)[] = [];
    const resender = createResender({
      post: async (activity, resend) => {
        const a = activity as { text: string; channelData: { clientActivityID: string } };
        posts.push({ id: a.channelData.clientActivityID, text: a.text, resend });
        if (holdNext) {
          holdNext = false;
          await new Promise<void>((ok) => (release = ok));
        }
        return answers.shift() ?? { status: 200, retryAfter: 0, id: `srv-${a.channelData.clientActivityID}` };
      },
      // Each pause ends when the test says so.
      wait: () => new Promise<void>((ok) => waiting.push(ok)),
      onPending: () => undefined,
      onChange: (list) => changes.push(list.map((w) => ({ id: (w.activity as { channelData: { clientActivityID: string } }).channelData.clientActivityID, since: w.since }))),
      now: () => 1000,
    });
    const tick = () => new Promise((ok) => setTimeout(ok, 0));
    return {
      resender,
      posts,
      changes,
      tick,
      hold: () => (holdNext = true),
      release: () => release?.(),
      endPause: async () => {
        await tick();
        waiting.shift()?.();
        await tick();
      },
    };
  }
  const msg = (id: string, text: string) => ({ type: 'message', text, channelData: { clientActivityID: id } });

  it('reports what waits (for localStorage) and forgets it once accepted; a restored message keeps its first time', async () => {
    const s = server([{ status: 503, retryAfter: 5 }]);
    const done = s.resender.send(msg('c1', 'a'), 400);
    await s.tick();
    expect(s.changes[0]).toEqual([{ id: 'c1', since: 400 }]);
    await s.endPause();
    await expect(done).resolves.toBe('srv-c1');
    expect(s.changes.at(-1)).toEqual([]);
    // Refused for good: forgotten too (nothing a re-send could change).
    const t = server([{ status: 400, retryAfter: 0 }]);
    await expect(t.resender.send(msg('c2', 'b'))).rejects.toMatchObject({ status: 400 });
    expect(t.changes).toEqual([[{ id: 'c2', since: 1000 }], []]);
  });

  it('a Retry after Web Chat gave up replaces the held message: one copy is sent, under the retry\'s id', async () => {
    const s = server([{ status: 503, retryAfter: 5 }]);
    const first = msg('c1', '跳过');
    const held = s.resender.send(first);
    await s.tick(); // refused once, pausing
    s.resender.abandon(first); // Web Chat's 5 minutes are over: "Send failed", Retry
    const retry = s.resender.send(msg('c2', '跳过'));
    // Kept for a reload: only the retry (the held copy will never be sent).
    expect(s.changes.at(-1)).toEqual([{ id: 'c2', since: 1000 }]);
    await s.endPause();
    await expect(held).rejects.toMatchObject({ superseded: true });
    await expect(retry).resolves.toBe('srv-c2');
    expect(s.posts.map((p) => p.id)).toEqual(['c1', 'c2']);
  });

  it('a Retry while the abandoned copy is on the wire and then accepted is not sent: it resolves with the accepted id', async () => {
    const s = server([]);
    const first = msg('c1', '对');
    s.hold();
    const held = s.resender.send(first);
    await s.tick();
    s.resender.abandon(first);
    const retry = s.resender.send(msg('c2', '对'));
    s.release();
    await expect(held).resolves.toBe('srv-c1');
    await expect(retry).resolves.toBe('srv-c1');
    expect(s.posts.map((p) => p.id)).toEqual(['c1']);
    expect(s.changes.at(-1)).toEqual([]);
  });

  it('a message waiting longer than Web Chat\'s send timeout counts as abandoned (Retry shows from then on); a restored one never does', async () => {
    let clock = 0;
    const posts: string[] = [];
    let answers: PostOutcome[] = [{ status: 503, retryAfter: 5 }];
    const pauses: (() => void)[] = [];
    const r = createResender({
      post: async (a) => {
        posts.push((a as { channelData: { clientActivityID: string } }).channelData.clientActivityID);
        return answers.shift() ?? { status: 200, retryAfter: 0, id: 'ok' };
      },
      wait: () => new Promise<void>((ok) => pauses.push(ok)),
      onPending: () => undefined,
      now: () => clock,
      abandonAfterMs: 300_000,
    });
    const held = r.send(msg('c1', '对'));
    await new Promise((ok) => setTimeout(ok, 0));
    clock = 299_999;
    const early = r.send(msg('c2', '对')); // before the timeout: a message of its own
    clock = 300_000;
    const retry = r.send(msg('c3', '对')); // Retry: takes c1's place
    pauses.shift()!();
    await expect(held).rejects.toMatchObject({ superseded: true });
    await expect(Promise.all([early, retry])).resolves.toEqual(['ok', 'ok']);
    expect(posts).toEqual(['c1', 'c2', 'c3']);
    // Restored from an earlier visit (since given): never replaced by a new message.
    answers = [{ status: 503, retryAfter: 5 }];
    posts.length = 0;
    const old = r.send(msg('c4', '好'), clock - 400_000);
    await new Promise((ok) => setTimeout(ok, 0));
    const again = r.send(msg('c5', '好'));
    pauses.shift()!();
    await expect(Promise.all([old, again])).resolves.toEqual(['ok', 'ok']);
    expect(posts).toEqual(['c4', 'c4', 'c5']);
  });

  it('the same text typed again while the first is still waited for (not abandoned) is a message of its own', async () => {
    const s = server([{ status: 503, retryAfter: 5 }]);
    const one = s.resender.send(msg('c1', '好的'));
    const two = s.resender.send(msg('c2', '好的'));
    await s.endPause();
    await expect(Promise.all([one, two])).resolves.toEqual(['srv-c1', 'srv-c2']);
    expect(s.posts.map((p) => p.id)).toEqual(['c1', 'c1', 'c2']);
    // Another text is never folded into an abandoned message.
    const t = server([{ status: 503, retryAfter: 5 }]);
    const a = msg('c3', 'a');
    const ra = t.resender.send(a);
    await t.tick();
    t.resender.abandon(a);
    const rb = t.resender.send(msg('c4', 'b'));
    await t.endPause();
    await expect(Promise.all([ra, rb])).resolves.toEqual(['srv-c3', 'srv-c4']);
  });
});

describe('the page\'s note while messages wait', () => {
  it('exists in zh-Hans, zh-Hant and English, counts the messages, and says they have not arrived (never that they were received)', async () => {
    const { PENDING_NOTES } = await import('../../bot/webchat-page.js');
    expect(Object.keys(PENDING_NOTES).sort()).toEqual(['en', 'zh-Hans', 'zh-Hant']);
    for (const note of Object.values(PENDING_NOTES)) {
      expect(note).toContain('{n}');
      expect(note).not.toMatch(/已收到|已收到|received|没有丢失|沒有丟失|nothing .* lost/i);
    }
    expect(PENDING_NOTES['zh-Hans']).toMatch(/还没有送达.*自动重新发送.*不要关闭此页面/);
    expect(PENDING_NOTES['zh-Hant']).toMatch(/尚未送達.*自動重新傳送.*不要關閉此頁面/);
    expect(PENDING_NOTES.en).toMatch(/have not arrived yet.*send them again.*keep it open/);
  });
});
