import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../store/errors.js';
import { normalizeKeywordEdits } from '../../store/keyword-edits.js';

describe('normalizeKeywordEdits', () => {
  it('folds traditional script and case, trims, de-duplicates and sorts, with every field present', () => {
    expect(normalizeKeywordEdits({ set: { ' 發票 ': 2.5, Refund: 1 }, pin: ['物流', '物流', '運費'] })).toEqual({
      set: { refund: 1, 发票: 2.5 },
      pin: ['物流', '运费'],
      remove: [],
    });
  });

  it('refuses a term that is both removed and kept, weights out of range, and empty terms, naming the field', () => {
    expect(() => normalizeKeywordEdits({ pin: ['发票'], remove: ['發票'] })).toThrow(/发票 cannot be both removed and kept/);
    for (const bad of [{ set: { 发票: 21 } }, { set: { ' ': 1 } }, { pin: [''] }, { other: [] }]) {
      let err: unknown;
      try {
        normalizeKeywordEdits(bad as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues[0].path).toMatch(/^(set|pin|remove|\(root\))/);
    }
  });
});
