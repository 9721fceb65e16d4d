import { describe, expect, it } from 'vitest';
import { countScripts, detectLanguage } from '../../classifier/language.js';
import { normalize } from '../../classifier/normalize.js';

function lang(text: string) {
  const n = normalize(text);
  return detectLanguage(n.text, countScripts(n.text, n.hanCount, n.traditionalCount));
}

describe('detectLanguage', () => {
  it.each([
    ['我的快递三天了还没到', 'zh-Hans'],
    ['退款', 'zh-Hans'],
    ['請問我的帳號為什麼被凍結了？', 'zh-Hant'],
    ['點解仲未退款', 'zh-Hant'],
    ['唔該幫我查下', 'zh-Hant'],
    ['my parcel has not arrived yet and nobody answers the phone', 'en'],
    ['refund?', 'en'],
    ['我的order一直显示pending，搞什么', 'mixed'],
    ['app闪退了', 'zh-Hans'],
    ['Привет, как дела? Когда доставка?', 'other'],
    ["Bonjour, ma commande n'est pas arrivée depuis une semaine", 'other'],
    ['😡😡😡', 'other'],
  ])('%s → %s', (text, expected) => {
    expect(lang(text)).toBe(expected);
  });
});
