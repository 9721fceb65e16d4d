import { describe, expect, it } from 'vitest';
import { createChannels } from '../../channels/index.js';
import { renderText, textLang } from '../../channels/wechat/adapter.js';
import { loadConfig } from '../../runtime/config.js';
import { texts } from '../../bot/messages.js';

const FULL = { WECHAT_TOKEN: 'abcToken123', WECHAT_APP_ID: 'wx1234567890abcdef', WECHAT_APP_SECRET: 'secret-0123456789' };

describe('WeChat configuration', () => {
  it('is off without WECHAT_TOKEN and on with the token, app id and secret', () => {
    expect(createChannels(loadConfig({})).map((c) => c.id)).toEqual([]);
    const on = createChannels(loadConfig(FULL));
    expect(on.map((c) => c.id)).toEqual(['wechat']);
  });

  it('fails at start naming the missing or invalid variable', () => {
    expect(() => loadConfig({ WECHAT_TOKEN: 'abcToken123' })).toThrow(/WECHAT_APP_ID: required when WECHAT_TOKEN is set.*WECHAT_APP_SECRET: required/);
    expect(() => loadConfig({ WECHAT_APP_ID: 'wx1234567890abcdef' })).toThrow(/WECHAT_TOKEN: required when WECHAT_APP_ID is set/);
    expect(() => loadConfig({ ...FULL, WECHAT_ENCODING_AES_KEY: 'tooshort' })).toThrow(/WECHAT_ENCODING_AES_KEY: exactly 43/);
    expect(() => loadConfig({ ...FULL, WECHAT_TOKEN: 'x' })).toThrow(/WECHAT_TOKEN: WeChat tokens are 3 to 32/);
    expect(() => loadConfig({ ...FULL, WECHAT_API_BASE: 'not a url' })).toThrow(/WECHAT_API_BASE/);
    expect(loadConfig({ ...FULL, WECHAT_ENCODING_AES_KEY: 'a'.repeat(43) }).WECHAT_API_BASE).toBe('https://api.weixin.qq.com');
  });
});

describe('bot messages as WeChat texts', () => {
  it('turns suggested actions into a line of choices in the message’s language', () => {
    const choices = (titles: string[]) => ({ actions: titles.map((t) => ({ type: 'imBack', title: t, value: t })), to: [] });
    expect(renderText({ text: texts('zh-Hans').confirm('物流配送', '投诉'), suggestedActions: choices(['对', '其他']) })).toBe('这是关于「物流配送」的投诉，对吗？\n回复：对 / 其他');
    expect(renderText({ text: texts('zh-Hant').confirm('物流配送', '投訴'), suggestedActions: choices(['對', '其他']) })).toMatch(/對嗎？\n回覆：對 \/ 其他$/);
    expect(renderText({ text: texts('en').confirm('Delivery', 'Complaint'), suggestedActions: choices(['Yes', 'Other']) })).toMatch(/is that right\?\nReply: Yes \/ Other$/);
    expect(renderText({ text: texts('zh-Hans').greeting })).toBe(texts('zh-Hans').greeting);
    for (const lang of ['zh-Hans', 'zh-Hant', 'en'] as const) {
      expect(textLang(texts(lang).voiceNeedsText)).toBe(lang);
      expect(textLang(texts(lang).mediaFiled('T20261206-0001'))).toBe(lang);
      expect(texts(lang).mediaFiled('T20261206-0001')).toContain('T20261206-0001');
      expect(texts(lang).mediaAdded('T20261206-O7QX2AB')).toContain('T20261206-O7QX2AB');
    }
  });
});
