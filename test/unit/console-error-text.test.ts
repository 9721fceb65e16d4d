/**
 * The console's message for an API error (staff/console/format.js `errorText`), in each language:
 * a request that failed because the database could not be reached (503 DATABASE_UNAVAILABLE with
 * Retry-After) says so and when to try again, instead of the generic "server error". The console's
 * modules are plain browser ES modules: the few browser globals the language switch touches are
 * stubbed here.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Dict = Record<string, Record<string, string>>;
interface ApiErrorLike {
  status: number;
  code: string;
  message: string;
  retryAfter: number | null;
}
let DICT: Dict;
let setLang: (l: string) => void;
let errorText: (err: ApiErrorLike) => string;

beforeAll(async () => {
  vi.stubGlobal('location', new URL('http://127.0.0.1/console/'));
  vi.stubGlobal('history', { state: null, replaceState: () => undefined });
  vi.stubGlobal('document', { documentElement: { lang: '' } });
  ({ DICT, setLang } = (await import('../../staff/console/i18n.js' as string)) as { DICT: Dict; setLang: typeof setLang });
  ({ errorText } = (await import('../../staff/console/format.js' as string)) as { errorText: typeof errorText });
});

afterAll(() => {
  vi.unstubAllGlobals();
});

const internal: ApiErrorLike = { status: 500, code: 'INTERNAL', message: 'internal error', retryAfter: null };

describe('errorText', () => {
  const unavailable: ApiErrorLike = { status: 503, code: 'DATABASE_UNAVAILABLE', message: 'the database cannot be reached right now; try again shortly', retryAfter: 5 };

  it('says the database cannot be reached, and when to try again, in zh-Hans, zh-Hant and English', () => {
    const said: Record<string, string> = {};
    for (const lang of ['zh-Hans', 'zh-Hant', 'en']) {
      setLang(lang);
      said[lang] = errorText(unavailable);
      expect(said[lang], lang).toBe(DICT[lang]!['error.databaseUnavailable']!.replace('{s}', '5'));
      expect(said[lang], lang).not.toBe(errorText(internal));
      expect(errorText(internal), lang).toBe(DICT[lang]!['error.server']);
      // Without a Retry-After header it still says when.
      expect(errorText({ ...unavailable, retryAfter: null }), lang).toContain('5');
    }
    expect(said).toEqual({
      'zh-Hans': '暂时无法连接数据库，请 5 秒后再试。',
      'zh-Hant': '暫時無法連線資料庫，請 5 秒後再試。',
      en: 'The database cannot be reached right now. Try again in 5 s.',
    });
  });

  it('says the server is restarting, and when to try again, in zh-Hans, zh-Hant and English (a request refused during a graceful stop)', () => {
    const stopping: ApiErrorLike = { status: 503, code: 'SERVER_STOPPING', message: 'the server is restarting; send the request again in a few seconds', retryAfter: 5 };
    const said: Record<string, string> = {};
    for (const lang of ['zh-Hans', 'zh-Hant', 'en']) {
      setLang(lang);
      said[lang] = errorText(stopping);
      expect(said[lang], lang).not.toBe(errorText(internal));
      expect(errorText({ ...stopping, retryAfter: null }), lang).toContain('5');
    }
    expect(said).toEqual({
      'zh-Hans': '服务器正在重启，请 5 秒后再试。',
      'zh-Hant': '伺服器正在重新啟動，請 5 秒後再試。',
      en: 'The server is restarting. Try again in 5 s.',
    });
  });
});
