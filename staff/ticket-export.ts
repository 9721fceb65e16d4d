/**
 * Export of a ticket list (the console's current filter) as CSV or Excel. CSV is UTF-8 with a byte
 * order mark, because Excel reads a BOM-less file in the machine's legacy code page and turns
 * Chinese into mojibake; fields are quoted by RFC 4180 and cells that start like a formula are
 * prefixed with an apostrophe (a customer's text must never run as a formula in a colleague's
 * spreadsheet). Excel files are written by exceljs.
 */
import ExcelJS from 'exceljs';
import { names, type ReplyLang } from '../bot/messages.js';
import type { Taxonomy } from '../classifier/taxonomy.js';
import type { Ticket } from '../store/schemas.js';
import type { WorkingDayFields } from '../store/working-day.js';

export const EXPORT_FORMATS = ['csv', 'xlsx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Rows one export may hold; a larger filter is refused with a message (never cut silently). */
export const EXPORT_MAX_ROWS = 10_000;

const COLUMNS = ['number', 'createdAt', 'channel', 'customer', 'phone', 'email', 'topic', 'type', 'status', 'priority', 'assignee', 'dueAt', 'overdue', 'needsReview', 'spam', 'text'] as const;

const HEADERS: Record<'zh-Hans' | 'en', Record<(typeof COLUMNS)[number], string>> = {
  'zh-Hans': { number: '工单号', createdAt: '创建时间', channel: '渠道', customer: '客户', phone: '电话', email: '邮箱', topic: '主题', type: '类型', status: '状态', priority: '优先级', assignee: '处理人', dueAt: '应完成时间', overdue: '已超时', needsReview: '待复核', spam: '垃圾信息', text: '内容' },
  en: { number: 'Ticket', createdAt: 'Created', channel: 'Channel', customer: 'Customer', phone: 'Phone', email: 'E-mail', topic: 'Topic', type: 'Type', status: 'Status', priority: 'Priority', assignee: 'Assignee', dueAt: 'Due', overdue: 'Overdue', needsReview: 'Needs review', spam: 'Spam', text: 'Text' },
};
const HANT_HEADERS: Record<(typeof COLUMNS)[number], string> = { number: '工單號', createdAt: '建立時間', channel: '渠道', customer: '客戶', phone: '電話', email: '電郵', topic: '主題', type: '類型', status: '狀態', priority: '優先級', assignee: '處理人', dueAt: '應完成時間', overdue: '已逾時', needsReview: '待複核', spam: '垃圾訊息', text: '內容' };
/**
 * Status and priority as the console names them (`status.*`, `priority.*` in staff/console/i18n.js):
 * the export is read by staff beside the console, so a ticket the console calls 新建 must not be
 * 已受理 in the spreadsheet (that is the customer's word, bot/messages.ts). A test holds the two equal.
 */
const STATUS_NAMES: Record<ReplyLang, Record<string, string>> = {
  'zh-Hans': { new: '新建', in_progress: '处理中', resolved: '已解决', closed: '已关闭', reopened: '重新打开' },
  'zh-Hant': { new: '新建', in_progress: '處理中', resolved: '已解決', closed: '已關閉', reopened: '重新打開' },
  en: { new: 'New', in_progress: 'In progress', resolved: 'Resolved', closed: 'Closed', reopened: 'Reopened' },
};
const PRIORITY_NAMES: Record<ReplyLang, Record<string, string>> = {
  'zh-Hans': { low: '低', normal: '普通', high: '高', urgent: '紧急' },
  'zh-Hant': { low: '低', normal: '普通', high: '高', urgent: '緊急' },
  en: { low: 'Low', normal: 'Normal', high: 'High', urgent: 'Urgent' },
};
const YES_NO: Record<ReplyLang, [string, string]> = { 'zh-Hans': ['是', '否'], 'zh-Hant': ['是', '否'], en: ['yes', 'no'] };

/**
 * One formatter per time zone, made once: building an `Intl.DateTimeFormat` costs far more than
 * formatting with it, and an export formats two times per row (it was most of the CPU time of an
 * export of 1,250 rows).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local date and time in the service time zone, as spreadsheets read it: 2026-12-06 18:05. */
function localTime(d: Date, timeZone: string): string {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** The export's header and rows as text, in the chosen language. */
export function exportRows(tickets: readonly (Ticket & WorkingDayFields)[], taxonomy: Taxonomy, lang: ReplyLang, timeZone: string): string[][] {
  const n = names(taxonomy, lang);
  const statuses = STATUS_NAMES[lang];
  const [yes, no] = YES_NO[lang];
  const header = COLUMNS.map((c) => (lang === 'zh-Hant' ? HANT_HEADERS[c] : HEADERS[lang][c]));
  const rows = tickets.map((t) => [
    t.number,
    localTime(t.createdAt, timeZone),
    t.customer.channelId,
    t.customer.name ?? t.customer.userId,
    t.contact.phone ?? '',
    t.contact.email ?? '',
    t.topic ? n.topic(t.topic) : '',
    t.type ? n.type(t.type) : '',
    statuses[t.status] ?? t.status,
    PRIORITY_NAMES[lang][t.priority] ?? t.priority,
    t.assignee ?? '',
    localTime(t.dueAt, timeZone),
    t.overdue ? yes : no,
    t.needsReview ? yes : no,
    t.spam ? yes : no,
    t.text.original,
  ]);
  return [header, ...rows];
}

/** A cell a spreadsheet would read as a formula (=, +, -, @, tab, CR) gets a leading apostrophe. */
function defuse(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

/** RFC 4180 CSV, UTF-8 with BOM, CRLF line ends. */
export function toCsv(rows: readonly (readonly string[])[]): Buffer {
  const line = (r: readonly string[]) => r.map((c) => { const v = defuse(c); return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v; }).join(',');
  return Buffer.from(`\uFEFF${rows.map(line).join('\r\n')}\r\n`, 'utf8');
}

/** An Excel workbook with one sheet, the header row bold and frozen. */
export async function toXlsx(rows: readonly (readonly string[])[], sheetName: string): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'demand-desk';
  const ws = wb.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 1 }] });
  for (const r of rows) ws.addRow(r.map(defuse));
  ws.getRow(1).font = { bold: true };
  ws.columns.forEach((c, i) => {
    c.width = i === rows[0].length - 1 ? 60 : 16;
  });
  return Buffer.from(await wb.xlsx.writeBuffer());
}
