/**
 * The agent's working day over real HTTP against the whole app and the real embedded database
 * (issue 12, items 6–8): assignees from the active staff accounts, tickets filed by staff for a
 * caller, the views (mine, unassigned, waiting, overdue, review) and the navigation counts, due
 * times from DUE_HOURS, canned replies with variables, bulk actions with per-ticket outcomes,
 * CSV and Excel exports that parse, notifications and the review that can be finished.
 */
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hashPassword } from '../../staff/auth.js';
import { startApp, type RunningApp } from '../helpers/app-server.js';

type Json = Record<string, any>;
const PASSWORD = 'correct horse battery';
let A: RunningApp;
const tok: Record<string, string> = {};

async function api(method: string, path: string, opts: { as?: string; body?: unknown } = {}): Promise<{ status: number; body: Json; headers: Headers; raw: Buffer }> {
  const headers: Record<string, string> = {};
  if (opts.as) headers.authorization = `Bearer ${tok[opts.as]}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${A.url}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const raw = Buffer.from(await res.arrayBuffer());
  let body: Json = {};
  if ((res.headers.get('content-type') ?? '').includes('json') && raw.length) body = JSON.parse(raw.toString('utf8')) as Json;
  return { status: res.status, body, headers: res.headers, raw };
}

/** A ticket filed by staff as from a phone call. */
async function phoneTicket(text: string, customer: Json, priority?: string): Promise<Json> {
  const r = await api('POST', '/api/tickets', { as: 'ann', body: { channel: 'phone', text, customer, ...(priority ? { priority } : {}) } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.ticket as Json;
}

/** A minimal RFC 4180 parser (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      (row = []), (cell = ''), i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows;
}

beforeAll(async () => {
  // Urgent tickets are due after about a second here, so "overdue" can be seen within a test.
  A = await startApp(inject('mongoUri'), { DUE_HOURS: 'urgent=0.0003,high=8' });
  for (const [username, role] of [['root', 'admin'], ['ann', 'agent'], ['ben', 'agent'], ['gone', 'agent']] as const) {
    await A.store.users.create({ username, role, createdBy: 'test', passwordHash: await hashPassword(PASSWORD) });
  }
  for (const u of ['root', 'ann', 'ben']) {
    const r = await api('POST', '/api/auth/login', { body: { username: u, password: PASSWORD } });
    expect(r.status).toBe(200);
    tok[u] = r.body.token as string;
  }
  expect((await api('PATCH', '/api/users/gone', { as: 'root', body: { disabled: true } })).status).toBe(200);
});

afterAll(async () => {
  await A?.stop();
});

describe('tickets from calls, visits and letters', () => {
  it('files a phone ticket classified like any other, and the customer profile and channel preference count it', async () => {
    const t = await phoneTicket('快递寄出五天了还没送到，物流信息一直没有更新', { name: '王女士', phone: '138 1234 5678' });
    expect(t.number).toMatch(/^T\d{8}-\d{4}$/);
    expect(t.customer).toEqual({ channelId: 'phone', userId: 'tel:13812345678', name: '王女士' });
    expect(t.contact).toEqual({ phone: '138 1234 5678' });
    expect(t.topic).toBe('delivery');
    expect(t.modelVersion).toBeTruthy();
    expect(t.dueAt).toBeTruthy();

    const customers = await api('GET', `/api/customers?search=${encodeURIComponent('13812345678')}`, { as: 'ann' });
    expect(customers.status).toBe(200);
    expect(customers.body.items.some((c: Json) => c.identities.some((i: Json) => i.channelId === 'phone'))).toBe(true);
    const prefs = await api('GET', '/api/customers/channel-preferences', { as: 'ann' });
    expect(prefs.body.channels.find((c: Json) => c.channelId === 'phone')?.customers).toBeGreaterThanOrEqual(1);

    // Staff vouch for the customer: a text that reads as spam is filed for review, never refused.
    const spammy = await api('POST', '/api/tickets', { as: 'ann', body: { channel: 'walk-in', text: '加微信领取免费礼品，点击链接 http://x.cn 领取', customer: { name: '访客' } } });
    expect(spammy.status).toBe(201);
    expect(spammy.body.ticket.spam).toBe(false);
    // (What a spam reading turns into is checked with a fixed reading in test/unit/desk-tickets.test.ts.)

    const letter = await api('POST', '/api/tickets', { as: 'ann', body: { channel: 'letter', text: '收到的商品有质量问题，要求退货退款', customer: {} } });
    expect(letter.status).toBe(201);
    expect(letter.body.ticket.customer.channelId).toBe('letter');

    const audit = await api('GET', `/api/audit?action=ticket.file&target=${t.number}`, { as: 'root' });
    expect(audit.body.items[0]).toMatchObject({ actor: 'ann', action: 'ticket.file', details: { channel: 'phone' } });
  });

  it('refuses an unknown channel or a bad phone number with a 400 naming the field', async () => {
    const bad = await api('POST', '/api/tickets', { as: 'ann', body: { channel: 'fax', text: '你好', customer: {} } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('body.channel');
    const phone = await api('POST', '/api/tickets', { as: 'ann', body: { channel: 'phone', text: '你好', customer: { phone: 'abc' } } });
    expect(phone.status).toBe(400);
    expect(phone.body.error.details[0].field).toBe('body.customer.phone');
  });
});

describe('assignees, views, due times and notifications', () => {
  it('accepts only active staff accounts as assignees, and notifies the new assignee', async () => {
    const list = await api('GET', '/api/assignees', { as: 'ann' });
    expect(list.body.items.map((u: Json) => u.username).sort()).toEqual(['ann', 'ben', 'root']);

    const t = await phoneTicket('我的订单一直没发货，请帮忙查一下', { phone: '13900001111' });
    for (const who of ['nobody', 'gone']) {
      const r = await api('PATCH', `/api/tickets/${t.number}`, { as: 'ann', body: { assignee: who } });
      expect(r.status, who).toBe(400);
      expect(r.body.error.message).toContain('not an active staff account');
    }
    const before = (await api('GET', '/api/notifications', { as: 'ben' })).body.unread as number;
    const ok = await api('PATCH', `/api/tickets/${t.number}`, { as: 'ann', body: { assignee: 'Ben' } });
    expect(ok.status).toBe(200);
    // Stored as the account is named, so "assigned to me" finds it.
    expect(ok.body.assignee).toBe('ben');
    const after = await api('GET', '/api/notifications', { as: 'ben' });
    expect(after.body.unread).toBe(before + 1);
    expect(after.body.items[0]).toMatchObject({ kind: 'assigned', ticket: t.number, by: 'ann', read: false });

    // The customer writes again on ben's ticket: ben is told.
    await A.services.tickets.addCustomerMessage(t.number, '请问有进展吗？');
    const replied = await api('GET', '/api/notifications', { as: 'ben' });
    expect(replied.body.items[0]).toMatchObject({ kind: 'customer-replied', ticket: t.number, by: null });
    expect(replied.body.unread).toBe(before + 2);
    const read = await api('POST', '/api/notifications/read', { as: 'ben', body: { ids: [replied.body.items[0].id] } });
    expect(read.body.unread).toBe(before + 1);
    expect((await api('POST', '/api/notifications/read', { as: 'ben', body: {} })).body.unread).toBe(0);
  });

  it('lists mine, unassigned, waiting and overdue from the views, with matching navigation counts', async () => {
    const mine = await phoneTicket('退款申请提交一周了还没到账', { phone: '13700002222' }, 'high');
    await api('PATCH', `/api/tickets/${mine.number}`, { as: 'ann', body: { assignee: 'ann' } });
    const waiting = await phoneTicket('包裹显示已签收但我没有收到', { phone: '13700003333' });
    const reply = await api('POST', `/api/tickets/${waiting.number}/replies`, { as: 'ann', body: { text: '我们已联系快递核实，请稍候。' } });
    expect(reply.status).toBe(201);
    const urgent = await phoneTicket('商品有安全隐患，充电时冒烟', { phone: '13700004444' }, 'urgent');
    expect(new Date(urgent.dueAt).getTime() - new Date(urgent.createdAt).getTime()).toBeCloseTo(0.0003 * 3_600_000, -1);
    await new Promise((r) => setTimeout(r, 1300));

    const view = async (v: string) => (await api('GET', `/api/tickets?view=${v}&pageSize=200`, { as: 'ann' })).body as Json;
    const [m, u, w, o] = [await view('mine'), await view('unassigned'), await view('waiting'), await view('overdue')];
    expect(m.items.map((t: Json) => t.number)).toEqual([mine.number]);
    expect(m.items.every((t: Json) => t.assignee === 'ann')).toBe(true);
    expect(u.items.map((t: Json) => t.number)).toContain(urgent.number);
    expect(u.items.every((t: Json) => t.assignee === null)).toBe(true);
    expect(w.items.map((t: Json) => t.number)).toEqual([waiting.number]);
    expect(w.items[0].waiting).toBe(true);
    expect(o.items.map((t: Json) => t.number)).toEqual([urgent.number]);
    expect(o.items[0].overdue).toBe(true);
    expect(m.items[0].overdue).toBe(false);

    const counts = await api('GET', '/api/tickets/counts', { as: 'ann' });
    expect(counts.body).toMatchObject({ mine: m.total, unassigned: u.total, waiting: w.total, overdue: o.total });
    const review = await view('review');
    expect(counts.body.review).toBe(review.total);
    expect(review.items.every((t: Json) => t.needsReview)).toBe(true);

    // Text search (the search index) filters every view on the same per-day summaries.
    const searched = (await api('GET', `/api/tickets?view=mine&search=${encodeURIComponent('退款')}`, { as: 'ann' })).body as Json;
    expect(searched.items.map((t: Json) => t.number)).toEqual([mine.number]);
    const unassignedSearch = (await api('GET', `/api/tickets?view=unassigned&search=${encodeURIComponent('退款')}`, { as: 'ann' })).body as Json;
    expect(unassignedSearch.items.every((t: Json) => t.assignee === null)).toBe(true);
    const overdueSearch = await api('GET', `/api/tickets?view=overdue&search=${encodeURIComponent('冒烟')}`, { as: 'ann' });
    expect(overdueSearch.status).toBe(200);
    expect(overdueSearch.body.items.map((t: Json) => t.number)).toEqual([urgent.number]);
    const waitingSearch = await api('GET', `/api/tickets?view=waiting&search=${encodeURIComponent('冒烟')}`, { as: 'ann' });
    expect(waitingSearch.body.items).toEqual([]);

    // The customer answers: no longer waiting for them.
    await A.services.tickets.addCustomerMessage(waiting.number, '好的，谢谢');
    expect((await view('waiting')).total).toBe(0);
  });
});

describe('review that can be finished', () => {
  it('confirms a correctly classified ticket out of the review queue, and decides spam', async () => {
    // A doubtful reading, as the classifier gives for a short text: the ticket goes to review.
    const text = '快递一直没送到';
    const c = { ...A.services.runtime.holder.classify(text), needsReview: true, reason: 'low-confidence' as const };
    const { ticket: t } = await A.services.tickets.fileForCustomer({ channel: 'phone', text, customer: { phone: '13300009999' } }, c, 'ann');
    expect(t.needsReview).toBe(true);
    const queue = async () => (await api('GET', '/api/tickets?view=review&pageSize=200', { as: 'ann' })).body as Json;
    const before = await queue();
    expect(before.items.some((x: Json) => x.number === t.number)).toBe(true);
    expect(before.items.every((x: Json) => x.needsReview)).toBe(true);
    expect((await api('GET', '/api/tickets/counts', { as: 'ann' })).body.review).toBe(before.total);
    // Confirming the same topic is accepted (correcting to the same value was the only way before, and refused).
    const ok = await api('POST', `/api/tickets/${t.number}/review`, { as: 'ann' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ reviewedBy: 'ann', needsReview: false, topic: t.topic });
    expect((await queue()).items.some((x: Json) => x.number === t.number)).toBe(false);
    expect((await api('GET', '/api/tickets/counts', { as: 'ann' })).body.review).toBe(before.total - 1);
    // Counted as a training signal: the confirmed labels are a training example.
    const examples = await A.store.training.recent(50);
    expect(examples.find((e) => e.ticketNumber === t.number)).toMatchObject({ source: 'review', topic: t.topic });
    const spam = await api('POST', `/api/tickets/${t.number}/spam`, { as: 'ann', body: { spam: true } });
    expect(spam.status).toBe(200);
    expect(spam.body).toMatchObject({ spam: true, needsReview: false, spamDecision: { spam: true, by: 'ann' } });
    const back = await api('POST', `/api/tickets/${t.number}/spam`, { as: 'ann', body: { spam: false } });
    expect(back.body.spam).toBe(false);
  });
});

describe('canned replies', () => {
  it('are managed by admins, refuse unknown variables, and come filled for a ticket in its language', async () => {
    const body = { lang: 'zh-Hans', title: '已受理', text: '{customerName}您好，您的工单 {ticketNumber} 已受理，{agentName} 会跟进。' };
    expect((await api('POST', '/api/canned-replies', { as: 'ann', body })).status).toBe(403);
    const bad = await api('POST', '/api/canned-replies', { as: 'root', body: { ...body, text: '工单 {ticketNo}' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('{ticketNo}');
    const created = await api('POST', '/api/canned-replies', { as: 'root', body });
    expect(created.status).toBe(201);
    const en = await api('POST', '/api/canned-replies', { as: 'root', body: { lang: 'en', title: 'Received', text: 'Dear {customerName}, ticket {ticketNumber} is received.' } });
    expect(en.status).toBe(201);

    const t = await phoneTicket('快递太慢了，一直没送到', { name: '李先生', phone: '13600005555' });
    const filled = await api('GET', `/api/tickets/${t.number}/canned-replies`, { as: 'ann' });
    expect(filled.body.lang).toBe('zh-Hans');
    expect(filled.body.items).toEqual([{ id: created.body.id, title: '已受理', text: `李先生您好，您的工单 ${t.number} 已受理，ann 会跟进。` }]);
    const english = await api('GET', `/api/tickets/${t.number}/canned-replies?lang=en`, { as: 'ann' });
    expect(english.body.items[0].text).toBe(`Dear 李先生, ticket ${t.number} is received.`);

    const changed = await api('PUT', `/api/canned-replies/${created.body.id}`, { as: 'root', body: { ...body, title: '受理通知' } });
    expect(changed.body.title).toBe('受理通知');
    expect((await api('DELETE', `/api/canned-replies/${en.body.id}`, { as: 'root' })).status).toBe(204);
    expect((await api('DELETE', `/api/canned-replies/${en.body.id}`, { as: 'root' })).status).toBe(404);
    expect((await api('GET', '/api/canned-replies', { as: 'ann' })).body.items.map((c: Json) => c.title)).toEqual(['受理通知']);
  });
});

describe('bulk actions and export', () => {
  it('assigns, changes status and marks spam in one request, with an outcome per ticket, audited', async () => {
    const a = await phoneTicket('快递员态度很差，还把包裹扔在门口', { phone: '13500006666' });
    const b = await phoneTicket('申请退货后一直没人处理', { phone: '13500007777' });
    const assign = await api('POST', '/api/tickets/bulk', { as: 'ann', body: { numbers: [a.number, b.number], action: 'assign', assignee: 'ben' } });
    expect(assign.status).toBe(200);
    expect(assign.body).toMatchObject({ ok: 2, failed: 0 });
    expect((await api('GET', `/api/tickets/${b.number}`, { as: 'ann' })).body.assignee).toBe('ben');

    expect((await api('PATCH', `/api/tickets/${a.number}`, { as: 'ann', body: { status: 'closed' } })).status).toBe(200);
    const status = await api('POST', '/api/tickets/bulk', { as: 'ann', body: { numbers: [a.number, b.number], action: 'status', status: 'in_progress' } });
    expect(status.body.results).toEqual([
      expect.objectContaining({ number: a.number, ok: false, code: 'VALIDATION_FAILED' }),
      expect.objectContaining({ number: b.number, ok: true }),
    ]);
    const unknown = await api('POST', '/api/tickets/bulk', { as: 'ann', body: { numbers: [a.number], action: 'assign', assignee: 'nobody' } });
    expect(unknown.status).toBe(400);
    const missing = await api('POST', '/api/tickets/bulk', { as: 'ann', body: { numbers: [a.number], action: 'status' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details[0].field).toBe('body.status');
    const spam = await api('POST', '/api/tickets/bulk', { as: 'ann', body: { numbers: [b.number, 'T20990101-9999'], action: 'spam', spam: true } });
    expect(spam.body.results[1]).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    const audit = await api('GET', '/api/audit?action=ticket.bulk', { as: 'root' });
    expect(audit.body.total).toBe(3);
    expect(audit.body.items[0]).toMatchObject({ actor: 'ann', details: { action: 'spam', ok: 1, failed: 1 } });
  });

  it('exports the current filter as CSV with BOM and as xlsx, both parsed back', async () => {
    await phoneTicket('=HYPERLINK("http://x") 快递, "破损" 了\n第二行', { name: '赵, 先生', phone: '13400008888' });
    const list = await api('GET', '/api/tickets?channelId=phone&pageSize=200', { as: 'ann' });
    const csv = await api('GET', '/api/tickets/export?format=csv&channelId=phone', { as: 'ann' });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="tickets-\d{4}-\d{2}-\d{2}\.csv"/);
    expect([...csv.raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parseCsv(csv.raw.toString('utf8').slice(1));
    expect(rows[0].slice(0, 3)).toEqual(['工单号', '创建时间', '渠道']);
    expect(rows.length - 1).toBe(list.body.total);
    expect(rows.slice(1).map((r) => r[0]).sort()).toEqual(list.body.items.map((t: Json) => t.number).sort());
    const odd = rows.find((r) => r[3] === '赵, 先生')!;
    expect(odd.at(-1)).toBe(`'=HYPERLINK("http://x") 快递, "破损" 了\n第二行`);

    const xlsx = await api('GET', '/api/tickets/export?format=xlsx&channelId=phone&lang=en', { as: 'ann' });
    expect(xlsx.status).toBe(200);
    expect(xlsx.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.raw as unknown as ArrayBuffer);
    const ws = wb.worksheets[0];
    expect(ws.getRow(1).getCell(1).value).toBe('Ticket');
    expect(ws.rowCount - 1).toBe(list.body.total);
    expect(ws.getColumn(1).values.slice(2).map(String).sort()).toEqual(list.body.items.map((t: Json) => t.number).sort());

    const bad = await api('GET', '/api/tickets/export?format=pdf', { as: 'ann' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].field).toBe('query.format');
  });
});
