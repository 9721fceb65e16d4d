/**
 * The staff console in Debian's chromium driven by playwright-core, as the console tests open it:
 * the browser (headless, no sandbox, no background traffic), and a page signed in as a staff member
 * on a console route, with the page's script errors collected (a test expects none).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';

/** Whether chromium is installed (the console tests are skipped without it). */
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
}

/**
 * One browser for the tests of the enclosing `describe`: launched before them, closed after them.
 * Returns the getter the tests read it through.
 */
export function browserForSuite(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('chromium was not launched (browserForSuite is called inside a describe)');
    return browser;
  };
}

/**
 * A new page (zh-CN, 1280×900) on `${base}/console#${route}`, signed in through the console's
 * Simplified Chinese login form; `errors` collects the page's script errors.
 */
export async function consoleSignedIn(browser: Browser, base: string, route: string, username: string, password: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/console#${route}`);
  await page.getByLabel('用户名', { exact: true }).fill(username);
  await page.getByLabel('密码', { exact: true }).fill(password);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  return { page, errors };
}
