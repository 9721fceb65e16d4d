/**
 * Issue 14, finding 6 (memory): near its resident-memory ceiling the server stops opening new web
 * chat conversations (503, Retry-After, a message saying to try again) while conversations already
 * open go on, and /readyz reports the memory level. The flood itself is measured by
 * `npm run bench:memory` (resident memory against the ceiling), not here.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MemoryGuard } from '../../runtime/memory-guard.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

let roomy: RunningApp;
let tight: RunningApp;

beforeAll(async () => {
  // This test process holds a model and a database client: far above 90% of 128 MiB, far below 100 GiB.
  [roomy, tight] = await Promise.all([startApp(inject('mongoUri'), { MEMORY_CEILING_MB: String(100 * 1024) }), startApp(inject('mongoUri'), { MEMORY_CEILING_MB: '128' })]);
});

afterAll(async () => {
  await Promise.all([roomy?.stop(), tight?.stop()]);
});

describe('the memory ceiling', () => {
  it('opens conversations below the ceiling and reports the level', async () => {
    expect((await fetch(`${roomy.url}/api/webchat/token`)).status).toBe(200);
    const ready = (await (await fetch(`${roomy.url}/readyz`)).json()) as { memory: { level: string; ceilingMiB: number; rssMiB: number } };
    expect(ready.memory).toMatchObject({ level: 'ok', ceilingMiB: 100 * 1024 });
    expect(ready.memory.rssMiB).toBeGreaterThan(0);
  });

  it('refuses new conversations near the ceiling with 503 and Retry-After, on every way in', async () => {
    // Critical once a garbage collection has had time to give memory back and did not.
    await expect
      .poll(async () => ((await (await fetch(`${tight.url}/readyz`)).json()) as { memory: { level: string } }).memory.level, { timeout: 30_000, interval: 250 })
      .toBe('critical');
    const page = await fetch(`${tight.url}/api/webchat/token`);
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('5');
    expect(((await page.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'ServiceUnavailable', message: expect.stringMatching(/try again/) });
    for (const path of ['/v3/directline/conversations', '/v3/directline/tokens/generate']) {
      const r = await fetch(`${tight.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.status, path).toBe(503);
    }
    const ready = (await (await fetch(`${tight.url}/readyz`)).json()) as { status: string; memory: { level: string } };
    // Busy is not unready: the database is fine and open conversations go on.
    expect(ready).toMatchObject({ status: 'ready', memory: { level: 'critical' } });
  });

  it('lets conversations opened before the pressure go on, and opens new ones once memory is back', async () => {
    let rss = 100 * 1048576;
    let now = 1_000_000;
    let collected = 0;
    const memory = new MemoryGuard({ ceilingBytes: 512 * 1048576, sample: () => rss, intervalMs: 60_000, now: () => now, collect: () => collected++ });
    const app = await startApp(inject('mongoUri'), {}, { memory });
    try {
      const page = (await (await fetch(`${app.url}/api/webchat/token`)).json()) as { conversationId: string; token: string };
      expect((await fetch(`${app.url}/v3/directline/conversations`, { method: 'POST', headers: { authorization: `Bearer ${page.token}`, 'content-type': 'application/json' }, body: '{}' })).status).toBe(201);
      rss = 500 * 1048576;
      // Garbage is collected first; customers are turned away only if memory stays high after it.
      expect(memory.check()).toBe('pressure');
      expect(collected).toBe(1);
      expect((await fetch(`${app.url}/api/webchat/token`)).status).toBe(200);
      now += 2000;
      expect(memory.check()).toBe('critical');
      expect((await fetch(`${app.url}/api/webchat/token`)).status).toBe(503);
      const url = `${app.url}/v3/directline/conversations/${page.conversationId}/activities`;
      const posted = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${page.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'message', text: '帮助', locale: 'zh-CN' }) });
      expect(posted.status).toBe(200);
      const id = ((await posted.json()) as { id: string }).id;
      await expect
        .poll(async () => ((await (await fetch(url, { headers: { authorization: `Bearer ${page.token}` } })).json()) as { activities: { replyToId?: string; type: string }[] }).activities.some((a) => a.replyToId === id && a.type === 'message'))
        .toBe(true);
      rss = 200 * 1048576;
      expect(memory.check()).toBe('ok');
      expect((await fetch(`${app.url}/api/webchat/token`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});
