import { describe, expect, it } from 'vitest';
import { KeywordModel, trainKeywordModel } from '../../classifier/models/keyword.js';

const docs = [
  ['快递', '没', '到'], ['快递', '丢', '了'], ['物流', '快递', '慢'], ['快递', '员', '态度'],
  ['退款', '没', '到账'], ['退款', '金额', '不对'], ['退货', '退款'], ['退款', '慢'],
];
const labels = ['delivery', 'delivery', 'delivery', 'delivery', 'returns', 'returns', 'returns', 'returns'];

describe('keyword model', () => {
  it('discovers weighted keywords per category and explains predictions', () => {
    const model = new KeywordModel(trainKeywordModel(docs, labels, ['delivery', 'returns'], { minCount: 2 }));
    const terms = model.data.keywords[0].map((k) => k.term);
    expect(terms).toContain('快递');
    expect(terms).not.toContain('退款');
    const p = model.predict(['退款', '还', '没', '到账']);
    expect(model.labels[p.scores.indexOf(Math.max(...p.scores))]).toBe('returns');
    expect(p.matches.map((m) => m.term)).toContain('退款');
  });

  it('applies trainer edits: remove, add with weight, pin', () => {
    const data = trainKeywordModel(docs, labels, ['delivery', 'returns'], {
      minCount: 2,
      topK: 1,
      overrides: { delivery: { remove: ['快递'], set: { 派送: 3 } }, returns: { pin: ['没'] } },
    });
    const delivery = data.keywords[0];
    expect(delivery.find((k) => k.term === '快递')).toBeUndefined();
    expect(delivery.find((k) => k.term === '派送')).toMatchObject({ weight: 3, source: 'manual' });
    const model = new KeywordModel(data);
    expect(model.predict(['派送', '延迟']).matches[0]).toMatchObject({ term: '派送', label: 'delivery' });
  });

  it('matches manual phrases that span several tokens', () => {
    const data = trainKeywordModel(docs, labels, ['delivery', 'returns'], { overrides: { returns: { set: { 运费险: 2 } } } });
    const p = new KeywordModel(data).predict(['运费', '险', '怎么', '赔'], '运费险怎么赔');
    expect(p.matches.some((m) => m.term === '运费险' && m.label === 'returns')).toBe(true);
  });
});
