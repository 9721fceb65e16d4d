/**
 * The export's rows (staff/ticket-export.ts): local times in the time zone asked for, also when
 * exports in several zones alternate (the formatter is made once per zone and kept); status and
 * priority in the console's words.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseTaxonomy } from '../../classifier/taxonomy.js';
import { exportRows, toCsv } from '../../staff/ticket-export.js';
import type { Ticket } from '../../store/schemas.js';
import type { WorkingDayFields } from '../../store/working-day.js';

const taxonomy = parseTaxonomy({
  version: '1.0.0',
  topics: [{ id: 'billing', name: { zh: '账单发票', en: 'Billing' }, scope: 'invoices' }, { id: 'delivery', name: { zh: '物流配送', en: 'Delivery' }, scope: 'parcels' }],
  types: (['complaint', 'suggestion', 'inquiry', 'praise'] as const).map((id) => ({ id, name: { zh: { complaint: '投诉', suggestion: '建议', inquiry: '咨询', praise: '表扬' }[id], en: id }, scope: id })),
});

function ticket(createdAt: string, dueAt: string, over: Partial<Ticket> = {}): Ticket & WorkingDayFields {
  return {
    number: 'T20261206-0001',
    customer: { channelId: 'webchat', userId: 'u1', name: '李明' },
    conversationRef: null,
    contact: { phone: '+8613800138000' },
    text: { original: '=SUM(A1) 发票, "开错了"', normalized: '' },
    lang: 'zh-Hans',
    topic: 'billing',
    type: 'complaint',
    spam: false,
    confidence: 0.9,
    alternatives: [],
    keywords: [],
    modelVersion: 't',
    needsReview: false,
    reviewReason: null,
    status: 'new',
    assignee: null,
    priority: 'high',
    notes: [],
    corrections: [],
    messages: [],
    replies: [],
    createdAt: new Date(createdAt),
    createdDay: '2026-12-06',
    updatedAt: new Date(createdAt),
    firstResponseAt: null,
    resolvedAt: null,
    closedAt: null,
    suspectedSpam: false,
    spamDecision: null,
    reviewedBy: null,
    reviewedAt: null,
    satisfaction: null,
    version: 1,
    dueAt: new Date(dueAt),
    waiting: false,
    overdue: true,
    ...over,
  } as Ticket & WorkingDayFields;
}

describe('exportRows', () => {
  it('writes local times of the zone asked for, whichever zone was used before', () => {
    const t = ticket('2026-12-06T10:05:00Z', '2026-12-06T23:59:00Z');
    const times = (zone: string) => {
      const [, row] = exportRows([t], taxonomy, 'en', zone);
      return [row[1], row[11]];
    };
    for (let round = 0; round < 2; round++) {
      expect(times('Asia/Shanghai')).toEqual(['2026-12-06 18:05', '2026-12-07 07:59']);
      expect(times('America/New_York')).toEqual(['2026-12-06 05:05', '2026-12-06 18:59']);
      expect(times('UTC')).toEqual(['2026-12-06 10:05', '2026-12-06 23:59']);
    }
    // Midnight is 00, not 24.
    expect(exportRows([ticket('2026-12-06T16:00:00Z', '2026-12-06T16:30:00Z')], taxonomy, 'en', 'Asia/Shanghai')[1][1]).toBe('2026-12-07 00:00');
  });

  it('gives the CSV bytes it gave before: BOM, quoting, defused formula and phone, CRLF', () => {
    const csv = toCsv(exportRows([ticket('2026-12-06T10:05:00Z', '2026-12-06T23:59:00Z')], taxonomy, 'zh-Hans', 'Asia/Shanghai')).toString('utf8');
    expect(csv).toBe(
      '\uFEFF工单号,创建时间,渠道,客户,电话,邮箱,主题,类型,状态,优先级,处理人,应完成时间,已超时,待复核,垃圾信息,内容\r\n' +
        `T20261206-0001,2026-12-06 18:05,webchat,李明,'+8613800138000,,账单发票,投诉,新建,高,,2026-12-07 07:59,是,否,否,"'=SUM(A1) 发票, ""开错了"""\r\n`,
    );
  });
});

describe('exportRows: status and priority', () => {
  type Dict = Record<string, Record<string, string>>;
  let DICT: Dict;
  beforeAll(async () => {
    vi.stubGlobal('location', new URL('http://127.0.0.1/console/'));
    vi.stubGlobal('history', { state: null, replaceState: () => undefined });
    vi.stubGlobal('document', { documentElement: { lang: '' } });
    ({ DICT } = (await import('../../staff/console/i18n.js' as string)) as { DICT: Dict });
  });
  afterAll(() => {
    vi.unstubAllGlobals();
  });

  // Staff read the export beside the console: the spreadsheet once said 已受理 / received (the
  // customer's words) for what the console calls 新建 / New.
  it('are named as the console names them, in zh-Hans, zh-Hant and English', () => {
    const statuses = ['new', 'in_progress', 'resolved', 'closed', 'reopened'] as const;
    const priorities = ['low', 'normal', 'high', 'urgent'] as const;
    for (const lang of ['zh-Hans', 'zh-Hant', 'en'] as const) {
      for (const status of statuses) {
        for (const priority of priorities) {
          const [, row] = exportRows([ticket('2026-12-06T10:05:00Z', '2026-12-06T23:59:00Z', { status, priority })], taxonomy, lang, 'UTC');
          const [statusCell, priorityCell] = row.slice(8, 10);
          expect([statusCell, priorityCell]).toEqual([DICT[lang][`status.${status}`], DICT[lang][`priority.${priority}`]]);
        }
      }
    }
  });
});
