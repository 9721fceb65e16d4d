/** Service hours (SERVICE_HOURS in TIME_ZONE), desk event ids, and the handover configuration. */
import { describe, expect, it } from 'vitest';
import { hoursToTell } from '../../bot/app.js';
import { sayServiceHours, texts } from '../../bot/messages.js';
import { compareEventIds, eventIdTime } from '../../desk/events.js';
import { isOpen, parseServiceHours, ServiceHoursFormatError } from '../../desk/service-hours.js';
import { loadConfig } from '../../runtime/config.js';
import { newEventId } from '../../store/event-log.js';

describe('service hours said to a customer', () => {
  it.each([
    ['Mon-Fri 09:00-18:00', '周一至周五 09:00–18:00', '週一至週五 09:00–18:00', 'Mon–Fri 09:00–18:00'],
    ['Mon-Fri 09:00-12:00,13:30-18:00; Sat 10:00-16:00', '周一至周五 09:00–12:00、13:30–18:00；周六 10:00–16:00', '週一至週五 09:00–12:00、13:30–18:00；週六 10:00–16:00', 'Mon–Fri 09:00–12:00, 13:30–18:00; Sat 10:00–16:00'],
    // Days listed apart, in weekday order; the same times on days written in separate groups go together.
    ['Mon,Wed,Fri 08:00-20:00', '周一、周三、周五 08:00–20:00', '週一、週三、週五 08:00–20:00', 'Mon, Wed, Fri 08:00–20:00'],
    ['Sat 10:00-16:00; Mon-Thu 09:00-18:00; Fri 09:00-18:00', '周一至周五 09:00–18:00；周六 10:00–16:00', '週一至週五 09:00–18:00；週六 10:00–16:00', 'Mon–Fri 09:00–18:00; Sat 10:00–16:00'],
    // A range over the weekend stays one range; overlapping spans of a day are one.
    ['Fri-Mon 10:00-22:00', '周五至周一 10:00–22:00', '週五至週一 10:00–22:00', 'Fri–Mon 10:00–22:00'],
    ['Mon-Sun 00:00-24:00', '周一至周日 00:00–24:00', '週一至週日 00:00–24:00', 'Mon–Sun 00:00–24:00'],
    ['Mon 09:00-12:00; Mon 11:00-14:00,14:00-15:00', '周一 09:00–15:00', '週一 09:00–15:00', 'Mon 09:00–15:00'],
  ])('%s', (text, hans, hant, en) => {
    const hours = parseServiceHours(text);
    expect(sayServiceHours(hours, 'zh-Hans')).toBe(hans);
    expect(sayServiceHours(hours, 'zh-Hant')).toBe(hant);
    expect(sayServiceHours(hours, 'en')).toBe(en);
  });

  it('come from SERVICE_HOURS, parsed, when SUPPORT_HOURS is unset; SUPPORT_HOURS is told as written', () => {
    const handovers = (text?: string) => ({ serviceHours: () => (text ? parseServiceHours(text) : null) });
    const service = loadConfig({ SERVICE_HOURS: 'Mon-Fri 09:00-18:00' });
    const told = hoursToTell(service, handovers(service.SERVICE_HOURS));
    expect(typeof told).toBe('object');
    expect(texts('zh-Hans').human(null, told)).toContain('人工服务时间：周一至周五 09:00–18:00。');
    expect(texts('zh-Hant').human(null, told)).toContain('人工服務時間：週一至週五 09:00–18:00。');
    expect(texts('en').human(null, told)).toContain('Staff are available Mon–Fri 09:00–18:00.');
    const both = loadConfig({ SERVICE_HOURS: 'Mon-Fri 09:00-18:00', SUPPORT_HOURS: '工作日 9:00-18:00（节假日除外）' });
    expect(hoursToTell(both, handovers(both.SERVICE_HOURS))).toBe('工作日 9:00-18:00（节假日除外）');
    expect(hoursToTell(loadConfig({}), handovers())).toBeNull();
  });
});

describe('service hours', () => {
  const weekdays = parseServiceHours('Mon-Fri 09:00-12:00,13:30-18:00; Sat 10:00-16:00');
  // 2026-12-07 is a Monday. Asia/Shanghai is UTC+8 (no daylight saving).
  const at = (iso: string) => new Date(iso);

  it.each([
    ['2026-12-07T01:00:00Z', true], // Mon 09:00 Shanghai: opens
    ['2026-12-07T00:59:00Z', false], // Mon 08:59
    ['2026-12-07T04:00:00Z', false], // Mon 12:00: lunch (the end is exclusive)
    ['2026-12-07T05:30:00Z', true], // Mon 13:30
    ['2026-12-07T09:59:00Z', true], // Mon 17:59
    ['2026-12-07T10:00:00Z', false], // Mon 18:00
    ['2026-12-12T03:00:00Z', true], // Sat 11:00
    ['2026-12-12T08:00:00Z', false], // Sat 16:00
    ['2026-12-13T03:00:00Z', false], // Sun 11:00
    ['2026-12-06T17:00:00Z', false], // Sun 17:00 UTC is Mon 01:00 in Shanghai: closed
    ['2026-12-06T23:30:00Z', false], // Sun 23:30 UTC is Mon 07:30 in Shanghai: closed
  ])('%s in Asia/Shanghai → open %s', (iso, open) => {
    expect(isOpen(weekdays, at(iso), 'Asia/Shanghai')).toBe(open);
  });

  it('reads the same instant in another time zone', () => {
    const h = parseServiceHours('Mon-Fri 09:00-18:00');
    // Mon 2026-12-07 09:30 in New York = 14:30 UTC = 22:30 in Shanghai.
    expect(isOpen(h, at('2026-12-07T14:30:00Z'), 'America/New_York')).toBe(true);
    expect(isOpen(h, at('2026-12-07T14:30:00Z'), 'Asia/Shanghai')).toBe(false);
    expect(isOpen(null, at('2026-12-13T03:00:00Z'), 'Asia/Shanghai')).toBe(true);
  });

  it('takes day lists and wrapping ranges, and keeps the text as written', () => {
    const h = parseServiceHours(' Sat-Mon 10:00-11:00 ');
    expect(h.text).toBe('Sat-Mon 10:00-11:00');
    expect([...new Set(h.ranges.map((r) => r.day))].sort()).toEqual([0, 5, 6]);
    expect(new Set(parseServiceHours('Mon,Wed,Fri 08:00-09:00').ranges.map((r) => r.day))).toEqual(new Set([0, 2, 4]));
  });

  it.each(['', 'weekdays 9-18', 'Mon-Fri 9-18', 'Mon-Fri 18:00-09:00', 'Funday 09:00-10:00', 'Mon-Fri 25:00-26:00'])('refuses %j with a message', (text) => {
    expect(() => parseServiceHours(text)).toThrow(ServiceHoursFormatError);
  });

  it('is validated at start-up, naming the variable', () => {
    expect(loadConfig({ SERVICE_HOURS: 'Mon-Fri 09:00-18:00', HANDOVER_WAIT_SECONDS: '90' })).toMatchObject({ SERVICE_HOURS: 'Mon-Fri 09:00-18:00', HANDOVER_WAIT_SECONDS: 90 });
    expect(() => loadConfig({ SERVICE_HOURS: 'Mon-Fri 9-18' })).toThrow(/SERVICE_HOURS: "9-18" is not a time|SERVICE_HOURS: .*HH:MM/);
    expect(() => loadConfig({ HANDOVER_WAIT_SECONDS: '1' })).toThrow(/HANDOVER_WAIT_SECONDS/);
    expect(loadConfig({}).HANDOVER_WAIT_SECONDS).toBe(180);
  });
});

describe('desk event ids', () => {
  it('order by time, then by their random part, and carry their time', () => {
    const a = newEventId(1_765_000_000_000);
    const b = newEventId(1_765_000_000_001);
    expect(compareEventIds(a, b)).toBe(-1);
    expect(compareEventIds(b, a)).toBe(1);
    expect(compareEventIds(a, a)).toBe(0);
    expect(eventIdTime(a)).toBe(1_765_000_000_000);
    expect(eventIdTime('not-an-id!')).toBeNull();
  });

  it('carry their time whatever random part they drew, also ids with a dash in it (written before hex)', () => {
    for (let i = 0; i < 500; i++) {
      const id = newEventId(1_765_000_000_000 + i);
      expect(eventIdTime(id)).toBe(1_765_000_000_000 + i);
    }
    const older = '1kx2y3z4-ab-Cd_ef-gh';
    expect(eventIdTime(older)).toBe(parseInt('1kx2y3z4', 36));
    expect(compareEventIds(older, '1kx2y3z4-ab-Cd_ef-gi')).toBe(-1);
    expect(compareEventIds(older, older)).toBe(0);
  });
});
