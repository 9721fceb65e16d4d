import { describe, expect, it } from 'vitest';
import type { TicketFact } from '../../store/ticket-facts.js';
import {
  BANDS,
  bandOf,
  channelPreferences,
  channelsOf,
  customerProfile,
  customerSummary,
  findCustomer,
  linkCustomers,
  phoneKey,
  searchCustomers,
} from '../../staff/customer-profiles.js';

let seq = 0;
function fact(channelId: string, userId: string, hour: number, over: Partial<TicketFact> = {}): TicketFact {
  seq++;
  return {
    number: `T20261125-${String(seq).padStart(4, '0')}`,
    createdAt: new Date(Date.UTC(2026, 10, 25, hour)),
    createdDay: '2026-11-25',
    customer: { channelId, userId },
    contact: {},
    topic: 'delivery',
    type: 'complaint',
    status: 'new',
    spam: false,
    needsReview: false,
    reviewReason: null,
    corrections: 0,
    firstResponseAt: null,
    resolvedAt: null,
    text: `ticket ${seq}`,
    ...over,
  };
}

describe('bands', () => {
  it('grades shares in 20-point bands, lower bound inclusive, 100% in band 5', () => {
    expect(bandOf(0, 5)).toBe(1);
    expect(bandOf(1, 10)).toBe(1); // 10%
    expect(bandOf(199, 1000)).toBe(1); // 19.9%
    expect(bandOf(1, 5)).toBe(2); // exactly 20%
    expect(bandOf(7, 35)).toBe(2); // 20% again, from counts that are not a round fraction
    expect(bandOf(3, 10)).toBe(2);
    expect(bandOf(2, 5)).toBe(3); // 40%
    expect(bandOf(3, 5)).toBe(4); // 60%
    expect(bandOf(4, 5)).toBe(5); // 80%
    expect(bandOf(5, 5)).toBe(5); // 100%
    expect(bandOf(0, 0)).toBe(1); // no contacts at all
    expect(BANDS.map((b) => [b.band, b.range, b.zh])).toEqual([
      [1, '0–20%', '基本不接触'],
      [2, '20–40%', '偶尔接触'],
      [3, '40–60%', '普通依赖'],
      [4, '60–80%', '较依赖'],
      [5, '80–100%', '依赖'],
    ]);
  });
});

describe('linking customers', () => {
  // Li: webchat u1 and msteams m1 share a phone typed two ways; m1 comes back without one.
  // Wang: telegram t9 and webchat u2 share an e-mail in different case.
  // Zhao: webchat u3 alone. A spam ticket carries both Li's phone and Wang's e-mail.
  const facts = [
    fact('webchat', 'u1', 1, { contact: { phone: '+86 138-0013-8000' }, customer: { channelId: 'webchat', userId: 'u1', name: '李' } }),
    fact('msteams', 'm1', 2, { contact: { phone: '13800138000' } }),
    fact('msteams', 'm1', 5),
    fact('telegram', 't9', 3, { contact: { email: 'Wang@Example.com' } }),
    fact('webchat', 'u2', 4, { contact: { email: 'wang@example.com' }, customer: { channelId: 'webchat', userId: 'u2', name: '王' } }),
    fact('webchat', 'u3', 6),
    fact('slack', 's1', 7, { spam: true, contact: { phone: '13800138000', email: 'wang@example.com' } }),
  ];
  const customers = linkCustomers(facts);

  it('links tickets sharing an identity, a phone (digits, +86 dropped) or an e-mail (any case), never through spam', () => {
    expect(phoneKey('+86 138-0013-8000')).toBe('13800138000');
    expect(phoneKey('0086 13800138000')).toBe('13800138000');
    expect(phoneKey('010-6552 8888')).toBe('01065528888');
    expect(customers.map(customerSummary)).toEqual([
      { id: 'webchat:u3', name: null, identities: [{ channelId: 'webchat', userId: 'u3' }], phones: [], emails: [], tickets: 1, lastContactAt: new Date(Date.UTC(2026, 10, 25, 6)) },
      {
        id: 'msteams:m1',
        name: '李',
        identities: [
          { channelId: 'msteams', userId: 'm1' },
          { channelId: 'webchat', userId: 'u1' },
        ],
        phones: ['13800138000'],
        emails: [],
        tickets: 3,
        lastContactAt: new Date(Date.UTC(2026, 10, 25, 5)),
      },
      {
        id: 'telegram:t9',
        name: '王',
        identities: [
          { channelId: 'telegram', userId: 't9' },
          { channelId: 'webchat', userId: 'u2' },
        ],
        phones: [],
        emails: ['wang@example.com'],
        tickets: 2,
        lastContactAt: new Date(Date.UTC(2026, 10, 25, 4)),
      },
    ]);
  });

  it('finds a customer by its id or by any of its identities', () => {
    expect(findCustomer(customers, 'msteams:m1')?.id).toBe('msteams:m1');
    expect(findCustomer(customers, 'webchat:u1')?.id).toBe('msteams:m1');
    expect(findCustomer(customers, 'slack:s1')).toBeNull();
  });

  it('searches id, name, user id, e-mail and phone (ignoring separators)', () => {
    expect(searchCustomers(customers, '138-0013').map((c) => c.id)).toEqual(['msteams:m1']);
    expect(searchCustomers(customers, 'WANG@').map((c) => c.id)).toEqual(['telegram:t9']);
    expect(searchCustomers(customers, '李').map((c) => c.id)).toEqual(['msteams:m1']);
    expect(searchCustomers(customers, 'u3').map((c) => c.id)).toEqual(['webchat:u3']);
    // Identities are searched as written in ids (channel:user), so a channel finds its customers.
    expect(searchCustomers(customers, 'webchat:u1').map((c) => c.id)).toEqual(['msteams:m1']);
    expect(searchCustomers(customers, 'webchat').map((c) => c.id)).toEqual(['webchat:u3', 'msteams:m1', 'telegram:t9']);
  });

  it("profiles a customer's channel shares over every channel seen, with bands", () => {
    const channels = channelsOf(customers);
    expect(channels).toEqual(['msteams', 'telegram', 'webchat']);
    const li = customerProfile(findCustomer(customers, 'webchat:u1')!, channels);
    expect(li).toMatchObject({ id: 'msteams:m1', total: 3, firstContactAt: new Date(Date.UTC(2026, 10, 25, 1)), lastContactAt: new Date(Date.UTC(2026, 10, 25, 5)) });
    expect(li.channels).toEqual([
      { channelId: 'msteams', contacts: 2, share: 2 / 3, band: 4, bandLabel: { zh: '较依赖', en: 'fairly reliant' } },
      { channelId: 'webchat', contacts: 1, share: 1 / 3, band: 2, bandLabel: { zh: '偶尔接触', en: 'occasionally' } },
      { channelId: 'telegram', contacts: 0, share: 0, band: 1, bandLabel: { zh: '基本不接触', en: 'hardly ever' } },
    ]);
    expect(li.tickets.map((t) => [t.channelId, t.createdAt.getUTCHours()])).toEqual([
      ['msteams', 5],
      ['msteams', 2],
      ['webchat', 1],
    ]);
  });

  it('grades exact 40/60 and 20/80 splits at the band boundaries', () => {
    const split = (a: number, b: number, user: string) => [
      ...Array.from({ length: a }, (_, i) => fact('webchat', user, i, { contact: { email: `${user}@example.com` } })),
      ...Array.from({ length: b }, (_, i) => fact('msteams', user, 10 + i, { contact: { email: `${user}@example.com` } })),
    ];
    const both = linkCustomers([...split(3, 2, 'p'), ...split(1, 4, 'q')]);
    const channels = channelsOf(both);
    const p = customerProfile(findCustomer(both, 'webchat:p')!, channels).channels.map((c) => [c.channelId, c.share, c.band]);
    const q = customerProfile(findCustomer(both, 'webchat:q')!, channels).channels.map((c) => [c.channelId, c.share, c.band]);
    expect(p).toEqual([
      ['webchat', 0.6, 4],
      ['msteams', 0.4, 3],
    ]);
    expect(q).toEqual([
      ['msteams', 0.8, 5],
      ['webchat', 0.2, 2],
    ]);
  });

  it('gives the fraction of all customers in each band per channel, non-users in band 1', () => {
    const prefs = channelPreferences(customers);
    expect(prefs.totalCustomers).toBe(3);
    expect(prefs.bands).toBe(BANDS);
    // Li: msteams 2/3 (band 4), webchat 1/3 (band 2). Wang: telegram 1/2, webchat 1/2 (band 3). Zhao: webchat 1/1 (band 5).
    expect(prefs.channels).toEqual([
      { channelId: 'msteams', customers: 1, shares: [2 / 3, 0, 0, 1 / 3, 0] },
      { channelId: 'telegram', customers: 1, shares: [2 / 3, 0, 1 / 3, 0, 0] },
      { channelId: 'webchat', customers: 3, shares: [0, 1 / 3, 1 / 3, 0, 1 / 3] },
    ]);
    expect(channelPreferences([])).toEqual({ bands: BANDS, totalCustomers: 0, channels: [] });
  });
});
