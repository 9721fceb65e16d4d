/**
 * The live console's "outside service hours" banner says `SERVICE_HOURS` in the staff member's
 * interface language, as the bot says it to customers in theirs (bot/messages.ts sayServiceHours):
 * against the whole real app on the embedded test database, in Debian's chromium driven by
 * playwright-core, in zh-Hans, zh-Hant and English. Before, the banner showed the setting as
 * written ("Mon-Fri 09:00-18:00") in every language. The staff API gives the hours as written
 * (`serviceHours`) and said in each language (`serviceHoursSaid`).
 *
 * The hours are the five days after today (UTC), so the queue is closed whenever the test runs.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp, type RunningApp } from '../helpers/app-server.js';
import { browserForSuite, consoleSignedIn, hasChromium } from '../helpers/console-browser.js';
import { staffRequest } from '../helpers/staff-api.js';

const PASSWORD = 'service-hours-test-password';
const DAYS = {
  setting: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
  'zh-Hans': ['周一', '周二', '周三', '周四', '周五', '周六', '周日'],
  'zh-Hant': ['週一', '週二', '週三', '週四', '週五', '週六', '週日'],
  en: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'],
};
// Monday = 0; the hours run from tomorrow for five days, so today (and the day before it) are closed.
const today = (new Date().getUTCDay() + 6) % 7;
const first = (today + 1) % 7;
const last = (today + 5) % 7;
const SERVICE_HOURS = `${DAYS.setting[first]}-${DAYS.setting[last]} 09:00-12:00,13:30-18:00`;
const SAID = {
  'zh-Hans': `${DAYS['zh-Hans'][first]}至${DAYS['zh-Hans'][last]} 09:00–12:00、13:30–18:00`,
  'zh-Hant': `${DAYS['zh-Hant'][first]}至${DAYS['zh-Hant'][last]} 09:00–12:00、13:30–18:00`,
  en: `${DAYS.en[first]}–${DAYS.en[last]} 09:00–12:00, 13:30–18:00`,
};
let A: RunningApp;

beforeAll(async () => {
  A = await startApp(inject('mongoUri'), { SERVICE_HOURS, TIME_ZONE: 'UTC' });
  await A.app.staff.auth.createUser({ username: 'hoursagent', password: PASSWORD, role: 'agent', createdBy: 'test' });
});

afterAll(async () => {
  await A?.stop();
});

describe('service hours for staff', () => {
  it('the live queue API gives them as written and said in each interface language', async () => {
    const login = await fetch(`${A.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'hoursagent', password: PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const r = await staffRequest(A.url, token, 'GET', '/api/live');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ staffed: false, serviceHours: SERVICE_HOURS, serviceHoursSaid: SAID });
  });
});

describe.skipIf(!hasChromium)('service hours in the live console', () => {
  const browser = browserForSuite();

  it('are said in the reader’s language (zh-Hans, zh-Hant, English), not as the setting is written', async () => {
    const { page, errors } = await consoleSignedIn(browser(), A.url, '/live', 'hoursagent', PASSWORD);
    const banner = page.locator('.banner-warn', { hasText: '人工服务时间' });
    await banner.waitFor({ timeout: 15_000 });
    expect(await banner.textContent()).toBe(`现在不是人工服务时间（${SAID['zh-Hans']}），新的请求会登记为工单。`);

    await page.goto(`${A.url}/console?lang=zh-Hant#/live`);
    const hant = page.locator('.banner-warn', { hasText: '人工服務時間' });
    await hant.waitFor({ timeout: 15_000 });
    expect(await hant.textContent()).toBe(`現在不是人工服務時間（${SAID['zh-Hant']}），新的請求會登記為工單。`);

    await page.goto(`${A.url}/console?lang=en#/live`);
    const en = page.locator('.banner-warn', { hasText: 'Outside service hours' });
    await en.waitFor({ timeout: 15_000 });
    expect(await en.textContent()).toBe(`Outside service hours (${SAID.en}): new requests are filed as tickets.`);
    expect(await en.textContent()).not.toContain(SERVICE_HOURS);
    expect(errors).toEqual([]);
    await page.close();
  });
});
