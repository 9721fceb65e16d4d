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
