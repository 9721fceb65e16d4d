/**
 * The chat page's kept customer key (bot/webchat-page.ts, STORAGE_SCRIPT), evaluated from the very
 * text the page inlines: a key of the server's shape is presented again, anything else is dropped
 * (the server still decides whether a key is genuine; the check spares it keys that cannot be).
 */
import { describe, expect, it } from 'vitest';
import { STORAGE_SCRIPT } from '../../bot/webchat-page.js';

/** `storedKey` of a page whose localStorage holds `key` under the page's name for it. */
function storedKeyWith(key: string | null): string | null {
  const storage = new Map<string, string>(key === null ? [] : [['demand-desk.webchat.customerKey', key]]);
  const window = { localStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v) } };
  const document = { getElementById: () => ({}) };
  const storedKey = new Function('window', 'document', 'config', `${STORAGE_SCRIPT}\nreturn storedKey;`)(window, document, { locale: 'zh-CN' }) as () => string | null;
  return storedKey();
}

describe('the page\'s kept customer key', () => {
  const user = `u-${'0123456789abcdef'.repeat(2)}`;
  const signature = 'A'.repeat(42) + '_';

  it('is presented again when it has the server\'s shape: user id, a dot, a 43-character signature', () => {
    expect(storedKeyWith(`${user}.${signature}`)).toBe(`${user}.${signature}`);
  });

  it('is dropped when the separator is not a dot, or a part has the wrong shape, or none is kept', () => {
    expect(storedKeyWith(`${user}x${signature}`)).toBeNull();
    expect(storedKeyWith(`${user}.${signature}!`)).toBeNull();
    expect(storedKeyWith(`u-XYZ.${signature}`)).toBeNull();
    expect(storedKeyWith(null)).toBeNull();
  });
});
