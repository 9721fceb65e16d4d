import { describe, expect, it } from 'vitest';
import { isEmailAddress, parseContact, phoneKind } from '../../core/contact.js';
import { PHONE_PATTERN } from '../../store/schemas.js';

describe('contact details by real numbering rules', () => {
  it.each([
    ['13812345678', 'cn-mobile'],
    ['138 1234 5678', 'cn-mobile'],
    ['138-1234-5678', 'cn-mobile'],
    ['+86 138 1234 5678', 'cn-mobile'],
    ['008613812345678', 'cn-mobile'],
    ['19912345678', 'cn-mobile'],
    ['010-12345678', 'cn-landline'],
    ['(0755) 8765 4321', 'cn-landline'],
    ['0571-8888888', 'cn-landline'],
    ['9123 4567', 'hk'],
    ['+852 6123 4567', 'hk'],
    ['2345 6789', 'hk'],
    ['0912345678', 'tw-mobile'],
    ['0912-345-678', 'tw-mobile'],
    ['+886 912 345 678', 'tw-mobile'],
    ['+886 2 2345 6789', 'tw-landline'],
  ])('%s is a %s number', (text, kind) => {
    expect(phoneKind(text)).toBe(kind);
    const c = parseContact(text);
    expect(c && 'phone' in c ? PHONE_PATTERN.test(c.phone) : false).toBe(true);
  });

  it.each(['1381234567', '12812345678', '138123456789', '1234 5678', '+852 1234 5678', '0812345678x', '123456', '+86 10 1234', '11111111111', '13812345678910'])('%s is refused', (text) => {
    expect(phoneKind(text)).toBeNull();
  });

  it('accepts e-mail addresses and refuses mistyped ones', () => {
    for (const ok of ['zhangsan@example.com', 'li.si+desk@mail.qq.com', 'a_b@sub-domain.co.uk']) expect(isEmailAddress(ok), ok).toBe(true);
    for (const bad of ['zhangsan@example,com', 'zhangsan@@example.com', 'zhangsan@example', '@example.com', 'zhang san@example.com', 'zhangsan@-x.com', 'x@y.c0m']) expect(isEmailAddress(bad), bad).toBe(false);
    expect(parseContact(' zhangsan@example.com ')).toEqual({ email: 'zhangsan@example.com' });
    expect(parseContact('(0755) 8765 4321')).toEqual({ phone: '0755 8765 4321', kind: 'cn-landline' });
  });
});
