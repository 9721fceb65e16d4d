#!/usr/bin/env node
/**
 * Writes the console's Traditional Chinese dictionary (staff/console/i18n-zh-hant.js) from the
 * Simplified one, converted character by character by OpenCC (cn → tw: Taiwan standard forms,
 * e.g. 客戶, not the Hong Kong 客户), with reviewed wording in OVERRIDES on top. Run it after
 * adding console texts:
 *   node scripts/console-zh-hant.mjs
 * Prints {"keys": n, "file": …} last. Plain Node (no build): the console files are plain ES modules.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as OpenCC from 'opencc-js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'staff/console/i18n-zh-hant.js');
const { DICT } = await import(pathToFileURL(join(root, 'staff/console/i18n.js')).href);
// The live chat's texts come with their own Traditional wording (live-i18n.js).
const { LIVE_TEXTS } = await import(pathToFileURL(join(root, 'staff/console/live-i18n.js')).href);
const own = new Set(Object.keys(LIVE_TEXTS['zh-Hans'] ?? {}));
const convert = OpenCC.Converter({ from: 'cn', to: 'tw' });

/** Wording a character conversion gets wrong or unidiomatic, by key. */
const OVERRIDES = {
  'langs.zh-Hans': '簡體中文',
  'langs.zh-Hant': '繁體中文',
  'channel.email': '電郵',
  'export.done': '已匯出 {name}（{rows} 行）',
  'export.label': '匯出目前篩選：',
  'export.working': '正在匯出…',
  'error.databaseUnavailable': '暫時無法連線資料庫，請 {s} 秒後再試。',
  'error.serverStopping': '伺服器正在重新啟動，請 {s} 秒後再試。',
  'newTicket.filedOffline': '資料庫暫時無法連線：工單已排隊，臨時編號 {number}，資料庫恢復後自動入庫，請勿重複登記。',
  'newTicket.filedOfflineResent': '資料庫暫時無法連線：工單已排隊，臨時編號 {number}。這張表單之前已提交過：如果上次已登記成功，資料庫恢復後保留原工單，直接開啟臨時編號（點選它，或在搜尋框輸入它）即可看到原工單；否則按此編號自動入庫。請勿重複登記。',
  'ticket.alsoQuotedFor': '資料庫中斷期間以此編號排隊的另一張工單已入庫為 {number}（此編號當時已被本工單佔用）：拿到此編號的客戶或同事要找的可能是那張工單。',
  'ticket.openedProvisional': '臨時編號 {provisional} 是資料庫中斷期間重複提交時排隊的編號；這張表單之前已登記成功，工單編號為 {number}，請使用此編號。',
  'ticket.provisionalQueued': '臨時編號 {number} 的工單尚未入庫：它還在排隊，資料庫恢復後會自動入庫（如果這張表單之前已登記成功，則開啟此編號會看到原工單）。請稍後再開啟此編號。',
  'ticket.openAgain': '再次開啟',
  'files.notKept': '未儲存',
  'files.notKeptNoNote': '檔案未儲存在系統中。',
  'file.bytes': '{n} 位元組',
  // The live console's Taiwan wording (live-i18n.js): 線上客服, 等待逾時.
  'notes.live.handedBack': '線上對話由 {by} 交回智能助手',
  'notes.live.ended': '線上對話由 {by} 結束',
  'notes.live.timedOut': '線上對話等待逾時，無人接入',
  'notes.noticeNotSent': '未能告知客戶線上對話的變化：渠道拒收（{error}，{at}）。客戶沒有收到：「{text}」',
  'notes.live.detail': '：{at} 請求人工，客戶訊息 {n} 條。',
  'notes.live.detailOne': '：{at} 請求人工，客戶訊息 {n} 條。',
  'ticket.formerNumber': '客戶拿到的工單號是 {number}（資料庫中斷期間發放，該號碼後來被另一張工單佔用；客戶用它查詢仍會找到本工單）',
};

const out = {};
for (const [key, text] of Object.entries(DICT['zh-Hans'])) if (!own.has(key)) out[key] = OVERRIDES[key] ?? convert(text);
const body = Object.entries(out)
  .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`)
  .join('\n');
writeFileSync(
  target,
  `/**\n * The console's texts in Traditional Chinese, generated from the Simplified ones by\n * scripts/console-zh-hant.mjs (OpenCC cn→tw characters, plus reviewed overrides). Edit the\n * overrides in the script, not this file.\n */\nexport const ZH_HANT = {\n${body}\n};\n`,
);
console.log(JSON.stringify({ keys: Object.keys(out).length, file: 'staff/console/i18n-zh-hant.js' }));
