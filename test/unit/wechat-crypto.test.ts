import { describe, expect, it } from 'vitest';
import { aesKeyOf, decryptMessage, encryptMessage, signatureMatches, wechatSignature, WeChatDecryptError } from '../../channels/wechat/crypto.js';
import { cdata, parseWeChatXml, WeChatXmlError } from '../../channels/wechat/xml.js';

/**
 * WeChat's safe-mode crypto checked against the sample values Tencent publishes with its
 * WXBizMsgCrypt samples (the Java sample's fixed-random encryption, the Python sample's signed and
 * encrypted push), then round trips and the refusals.
 */
const SAMPLE_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

describe('WeChat safe-mode crypto', () => {
  it('encrypts the Java sample to its published ciphertext', () => {
    const out = encryptMessage(aesKeyOf(SAMPLE_KEY), 'wxb11529c136998cb6', '我是中文abcd123', Buffer.from('aaaabbbbccccdddd'));
    expect(out).toBe('jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==');
  });

  it('verifies the signature of the Python sample push and decrypts it', () => {
    const encrypted =
      'hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=';
    const sig = wechatSignature('spamtest', '1409735669', '1320562132', encrypted);
    expect(sig).toBe('5d197aaffba7e9b25a30732f161a50dee96bd5fa');
    expect(signatureMatches('5d197aaffba7e9b25a30732f161a50dee96bd5fa', sig)).toBe(true);
    expect(signatureMatches('5d197aaffba7e9b25a30732f161a50dee96bd5fb', sig)).toBe(false);
    const xml = decryptMessage(aesKeyOf(SAMPLE_KEY), 'wx2c2769f8efd9abc2', encrypted);
    const fields = parseWeChatXml(xml);
    expect(fields).toMatchObject({ MsgType: 'text', Content: 'abcdteT', MsgId: '6054768590064713728', FromUserName: 'oyORnuP8q7ou2gfYjqLzSIWZf0rs' });
    // The same ciphertext for another account is refused.
    expect(() => decryptMessage(aesKeyOf(SAMPLE_KEY), 'wx0000000000000000', encrypted)).toThrow(WeChatDecryptError);
  });

  it('round trips Chinese text, and refuses a wrong key, a cut or a non-block ciphertext', () => {
    const key = aesKeyOf(SAMPLE_KEY);
    const msg = '<xml><Content><![CDATA[快递三天没到，麻烦查一下]]></Content></xml>';
    const enc = encryptMessage(key, 'wxapp', msg);
    expect(decryptMessage(key, 'wxapp', enc)).toBe(msg);
    const other = aesKeyOf('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg');
    expect(() => decryptMessage(other, 'wxapp', enc)).toThrow(WeChatDecryptError);
    expect(() => decryptMessage(key, 'wxapp', enc.slice(0, 20))).toThrow(WeChatDecryptError);
    expect(() => decryptMessage(key, 'wxapp', '')).toThrow(WeChatDecryptError);
    expect(() => aesKeyOf('short')).toThrow(WeChatDecryptError);
  });
});

describe('WeChat XML', () => {
  it('reads CDATA, text, entities and one level of nesting', () => {
    const f = parseWeChatXml('<?xml version="1.0"?>\n<xml><A><![CDATA[a <b> ]]></A><B>1 &amp; 2</B><C><D>x</D></C><E/></xml>');
    expect(f).toEqual({ A: 'a <b> ', B: '1 & 2', C: { D: 'x' }, E: '' });
  });

  it('refuses malformed documents, DOCTYPE and unknown entities', () => {
    for (const bad of ['', 'hello', '<xml><A>1</A>', '<xml><A>1</B></xml>', '<root></root>', '<!DOCTYPE x [<!ENTITY e "x">]><xml></xml>', '<xml><A>&e;</A></xml>', '<xml><A x="1">1</A></xml>', '<xml></xml>trailing']) {
      expect(() => parseWeChatXml(bad), bad).toThrow(WeChatXmlError);
    }
  });

  it('refuses element names that would reach a prototype, and reads names Object.prototype also has', () => {
    for (const name of ['__proto__', 'constructor', 'prototype']) {
      for (const doc of [`<xml><${name}>x</${name}></xml>`, `<xml><${name}/></xml>`, `<xml><C><${name}><A>1</A></${name}></C></xml>`]) {
        expect(() => parseWeChatXml(doc), doc).toThrow(new RegExp(`<${name}> is not allowed`));
      }
    }
    expect(parseWeChatXml('<xml><toString>a</toString><hasOwnProperty>b</hasOwnProperty></xml>')).toEqual({ toString: 'a', hasOwnProperty: 'b' });
  });

  it('keeps "]]>" inside CDATA', () => {
    const text = 'a]]>b';
    expect(parseWeChatXml(`<xml><T>${cdata(text)}</T></xml>`).T).toBe(text);
  });
});
