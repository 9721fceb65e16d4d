import { describe, expect, it } from 'vitest';
import { parseSearch, phoneForms, ticketTerms, type SearchableTicket } from '../../store/search-terms.js';

function ticket(text: string, over: Partial<SearchableTicket> = {}): SearchableTicket {
  return { number: 'T20261125-0042', text: { original: text, normalized: text }, contact: {}, customer: { channelId: 'webchat', userId: 'u1' }, messages: [], ...over };
}

/** Whether a query finds the ticket: every query term is among the ticket's terms. */
function finds(query: string, t: SearchableTicket): boolean {
  const q = parseSearch(query);
  const terms = ticketTerms(t);
  return q.terms.length > 0 && q.terms.every((x) => terms.has(x));
}

describe('search terms', () => {
  it('finds a phone number written in any format, in the text or the contact', () => {
    const inText = ticket('我的电话是138-0013-8000，请回电');
    const inContact = ticket('请回电', { contact: { phone: '+86 138 0013 8000' } });
    const plain = ticket('电话13800138000');
    for (const q of ['138-0013-8000', '+86 138 0013 8000', '13800138000', '138 0013 8000', '+8613800138000', '0086 13800138000']) {
      expect(finds(q, inText), q).toBe(true);
      expect(finds(q, inContact), q).toBe(true);
      expect(finds(q, plain), q).toBe(true);
    }
    expect(finds('13800138001', inText)).toBe(false);
  });

  it('finds Hong Kong and Taiwan numbers with or without the country code', () => {
    expect(finds('9123 4567', ticket('電話 +852 9123 4567'))).toBe(true);
    expect(finds('+852 9123-4567', ticket('電話 91234567'))).toBe(true);
    expect(finds('0912-345-678', ticket('手機 +886 912 345 678'))).toBe(true);
    expect(finds('+886 912 345 678', ticket('手機 0912345678'))).toBe(true);
    expect(phoneForms('12345')).toEqual([]);
  });

  it('folds traditional and simplified characters: 漫游 finds 漫遊 and the other way round', () => {
    expect(finds('漫游', ticket('國際漫遊費用太高'))).toBe(true);
    expect(finds('漫遊', ticket('国际漫游费用太高'))).toBe(true);
    expect(finds('漫遊費', ticket('国际漫游费用太高'))).toBe(true);
    expect(finds('漫画', ticket('国际漫游费用太高'))).toBe(false);
  });

  it('finds English words by stem and in any case, full-width letters included', () => {
    const t = ticket('My REFUND for the roaming charges never arrived');
    expect(finds('refunds', t)).toBe(true);
    expect(finds('Roaming charge', t)).toBe(true);
    expect(finds('ｒｅｆｕｎｄ', t)).toBe(true);
    expect(finds('refund delivery', t)).toBe(false);
  });

  it('finds e-mail addresses, customer names and follow-up messages', () => {
    const t = ticket('退款', { contact: { email: 'Li.Ming@Example.com' }, customer: { channelId: 'webchat', userId: 'u1', name: '李明' }, messages: [{ text: '发票还没开', at: new Date() }] });
    expect(finds('li.ming@example.com', t)).toBe(true);
    expect(finds('李明', t)).toBe(true);
    expect(finds('发票', t)).toBe(true);
    expect(finds('李明 发票', t)).toBe(true);
  });

  it('reads a ticket number in any case, with or without the T', () => {
    expect(parseSearch('t20261125-0042')).toEqual({ number: 'T20261125-0042', terms: [] });
    expect(parseSearch(' 20261125-0042 ')).toEqual({ number: 'T20261125-0042', terms: [] });
    expect(parseSearch('退款').number).toBeNull();
  });

  it('a single Chinese character finds the texts that have it', () => {
    expect(finds('网', ticket('网络很慢'))).toBe(true);
    expect(parseSearch('，。！').terms).toEqual([]);
  });
});
