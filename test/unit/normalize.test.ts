import { describe, expect, it } from 'vitest';
import { normalize, sanitize, toSimplifiedChinese } from '../../classifier/normalize.js';

describe('normalize', () => {
  it.each([
    ['full-width to half-width and lower case', 'ＡＰＰ闪退了！', 'app闪退了!'],
    ['traditional to simplified', '請問我的帳號為什麼被凍結了', '请问我的帐号为什么被冻结了'],
    ['Taiwan phrases', '網路很慢，軟體一直當機', '网络很慢,软件一直当机'],
    ['simplified text is left alone (no phrase rewriting)', '小程序打不开', '小程序打不开'],
  ])('%s', (_, input, expected) => {
    expect(normalize(input).text).toBe(expected);
  });

  it.each([
    ['url', '看这个 https://t.cn/A6xYz 链接', '<url>'],
    ['url without scheme', '登录 xx123.cc 领取', '<url>'],
    ['email', '发到 zhang.san@example.com 谢谢', '<email>'],
    ['mobile phone', '打我电话13812345678', '<phone>'],
    ['masked phone', '手机 138****5678 收不到', '<phone>'],
    ['ID number', '身份证 11010519491231002X 被人用了', '<idno>'],
    ['bank card', '卡号 6222 0212 3456 7890 123 扣款了', '<card>'],
    ['order number', '订单号 2024****3381 没发货', '<order>'],
    ['amount', '多扣了¥199', '<amount>'],
    ['amount in yuan', '收了我29.9元', '<amount>'],
  ])('masks %s', (kind, input, placeholder) => {
    const n = normalize(input);
    expect(n.text).toContain(placeholder);
    expect(n.masks[placeholder.slice(1, -1) as keyof typeof n.masks]).toBeGreaterThan(0);
    void kind;
  });

  it('counts traditional characters as a language signal', () => {
    expect(normalize('請問訂單幾時到').traditionalCount).toBeGreaterThanOrEqual(2);
    expect(normalize('请问订单几时到').traditionalCount).toBe(0);
  });

  it('replaces lone surrogates and control characters instead of failing', () => {
    const s = sanitize('a\ud800b\u0000c\u200bd');
    expect(s).toBe('a\ufffdb c d');
    expect(() => normalize('\udfff\u0007快递')).not.toThrow();
  });

  it('normalises keyword edits the way it normalises messages', () => {
    expect(toSimplifiedChinese('退貨')).toBe('退货');
    expect(toSimplifiedChinese('ＶＩＰ')).toBe('vip');
  });
});
