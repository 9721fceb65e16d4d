/**
 * WeCom customer service: the callback crypto checked against the sample WeCom publishes with its
 * WXBizMsgCrypt libraries (the URL verification of the "企业微信 加解密库" samples), the
 * configuration rules, and how one turn's texts become WeCom messages.
 */
import { describe, expect, it } from 'vitest';
import { AccessToken } from '../../channels/access-token.js';
import { createChannels } from '../../channels/index.js';
import { aesKeyOf, decryptMessage, encryptMessage, signatureMatches, wechatSignature, WeChatDecryptError } from '../../channels/wechat/crypto.js';
import { joinForWeCom } from '../../channels/wecom/adapter.js';
import { describeRefusal } from '../../channels/wecom/api.js';
import { wecomSettings } from '../../channels/wecom/index.js';
import { loadConfig } from '../../runtime/config.js';

const FULL = { WECOM_CORP_ID: 'ww5823bf96d3bd56c7', WECOM_SECRET: 'kf-secret-0123456789', WECOM_TOKEN: 'QDG6eK', WECOM_ENCODING_AES_KEY: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C' };

describe('WeCom callback crypto (corp id as receiveid)', () => {
  // WeCom's published sample: token QDG6eK, corp id wx5823bf96d3bd56c7, this EncodingAESKey and this verification request.
  const sample = { token: 'QDG6eK', corpId: 'wx5823bf96d3bd56c7', key: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', timestamp: '1409659589', nonce: '263014780', signature: '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3', echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==' };

  it('verifies the published URL-verification signature and decrypts its echostr', () => {
    expect(signatureMatches(sample.signature, wechatSignature(sample.token, sample.timestamp, sample.nonce, sample.echostr))).toBe(true);
    expect(signatureMatches(sample.signature, wechatSignature(sample.token, sample.timestamp, '263014781', sample.echostr))).toBe(false);
    expect(decryptMessage(aesKeyOf(sample.key), sample.corpId, sample.echostr)).toBe('1616140317555161061');
  });

  it('refuses the sample for another corp, and round-trips a callback for this one', () => {
    expect(() => decryptMessage(aesKeyOf(sample.key), 'ww0000000000000000', sample.echostr)).toThrow(WeChatDecryptError);
    const xml = '<xml><Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCxyz]]></Token><OpenKfId><![CDATA[wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q]]></OpenKfId></xml>';
    expect(decryptMessage(aesKeyOf(sample.key), sample.corpId, encryptMessage(aesKeyOf(sample.key), sample.corpId, xml))).toBe(xml);
  });
});

describe('WeCom configuration', () => {
  it('is off without WECOM_CORP_ID and on with all four settings', () => {
    expect(createChannels(loadConfig({})).map((c) => c.id)).toEqual([]);
    expect(createChannels(loadConfig(FULL)).map((c) => c.id)).toEqual(['wecom']);
    expect(loadConfig(FULL).WECOM_API_BASE).toBe('https://qyapi.weixin.qq.com');
  });

  it('fails at start naming the missing or invalid variable', () => {
    expect(() => loadConfig({ WECOM_CORP_ID: FULL.WECOM_CORP_ID })).toThrow(/WECOM_SECRET: required for the WeCom channel \(WECOM_CORP_ID is set\).*WECOM_TOKEN: required.*WECOM_ENCODING_AES_KEY: required/);
    expect(() => loadConfig({ ...FULL, WECOM_CORP_ID: undefined })).toThrow(/WECOM_CORP_ID: required for the WeCom channel/);
    expect(() => loadConfig({ ...FULL, WECOM_ENCODING_AES_KEY: 'short' })).toThrow(/WECOM_ENCODING_AES_KEY: exactly 43/);
    expect(() => loadConfig({ ...FULL, WECOM_TOKEN: 'x' })).toThrow(/WECOM_TOKEN: WeCom tokens are 3 to 32/);
    expect(() => loadConfig({ ...FULL, WECOM_API_BASE: 'not a url' })).toThrow(/WECOM_API_BASE/);
    // The periodic safety-net sync: every 60 s by default, 0 turns it off, seconds are whole and not negative.
    expect(wecomSettings(loadConfig(FULL))?.syncIntervalMs).toBe(60_000);
    expect(wecomSettings(loadConfig({ ...FULL, WECOM_SYNC_INTERVAL_SECONDS: '0' }))?.syncIntervalMs).toBe(0);
    expect(() => loadConfig({ ...FULL, WECOM_SYNC_INTERVAL_SECONDS: '-5' })).toThrow(/WECOM_SYNC_INTERVAL_SECONDS/);
    expect(() => loadConfig({ ...FULL, WECOM_SYNC_INTERVAL_SECONDS: 'soon' })).toThrow(/WECOM_SYNC_INTERVAL_SECONDS/);
  });
});

describe('WeCom messages', () => {
  it('joins one turn’s texts into one message, splitting only over the length limit', () => {
    expect(joinForWeCom(['a', 'b'])).toEqual(['a\n\nb']);
    expect(joinForWeCom([])).toEqual([]);
    const long = '长'.repeat(600); // 1800 bytes
    expect(joinForWeCom([long, long, 'x'])).toEqual([long, `${long}\n\nx`]);
  });

  it('names WeCom’s refusals for staff', () => {
    expect(describeRefusal(95002, '')).toMatch(/95002.*48 hours/);
    expect(describeRefusal(95001, '')).toMatch(/95001.*at most 5/);
    expect(describeRefusal(95018, '')).toMatch(/95018.*person/);
    expect(describeRefusal(12345, 'odd')).toMatch(/12345: odd/);
  });
});

describe('the channels’ access token', () => {
  it('is fetched once for concurrent callers, reused until the margin before expiry, and fetched again when dropped', async () => {
    let now = 1_000_000;
    const issued: boolean[] = [];
    const token = new AccessToken(async (force) => {
      issued.push(force);
      await new Promise((r) => setTimeout(r, 5));
      return { token: `t${issued.length}`, expiresIn: 7200 };
    }, () => now, 300_000);
    expect(await Promise.all([token.get(), token.get(), token.get()])).toEqual(['t1', 't1', 't1']);
    now += 7200_000 - 300_001;
    expect(await token.get()).toBe('t1');
    now += 2;
    expect(await token.get()).toBe('t2');
    token.drop('t1');
    expect(await token.get()).toBe('t2');
    token.drop('t2');
    expect(await token.get()).toBe('t3');
    expect(await token.fetch(true)).toBe('t4');
    expect(issued).toEqual([false, false, false, true]);
  });
});
