import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.js';
import { NodeRsJiebaTokenizer } from '../../runtime/jieba-tokenizer.js';
import { loadStopwords, loadUserDict } from '../../runtime/project-data.js';
import { createTermExtractor } from '../../staff/terms.js';

const { DATA_DIR } = loadConfig({});
const terms = createTermExtractor(new NodeRsJiebaTokenizer(loadUserDict(DATA_DIR)), loadStopwords(DATA_DIR));

describe('content terms for keyword trends', () => {
  it('keeps segmented words and drops single characters, stopwords, placeholders, emoji and punctuation', () => {
    // 我的 is a stopword, 丢 a single character, the phone and link are masked, 😡 is not a term.
    expect(terms('我的快递丢了 😡 电话13812345678 http://x.com')).toEqual(['快递', '电话']);
    expect(terms('退款什么时候到账？订单号 12345678')).toEqual(['退款', '什么', '时候', '订单号']);
  });

  it('uses the classifier units: simplified Chinese, stemmed lower-case English, no bare numbers', () => {
    expect(terms('發票開錯了')).toEqual(['发票', '开错']);
    expect(terms('The delivery was late!! 2024')).toEqual(['deliveri', 'late']);
    expect(terms('ok a I 99 ab12')).toEqual(['ok', 'ab12']);
  });

  it('lists each term once', () => {
    expect(terms('快递快递，快递')).toEqual(['快递']);
    expect(terms('')).toEqual([]);
  });
});
