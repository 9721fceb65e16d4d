/**
 * Service hours: when a person can take a live conversation. Written as the deployment writes them
 * in `SERVICE_HOURS`, e.g. `Mon-Fri 09:00-18:00` or `Mon-Fri 09:00-12:00,13:30-18:00; Sat 10:00-16:00`,
 * read in the service time zone (`TIME_ZONE`). Pure: no clock, no environment.
 */

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Minutes since midnight, [from, to), per weekday (0 = Monday). */
export interface ServiceHours {
  /** The text it was read from (shown to customers as the deployment wrote it). */
  text: string;
  ranges: { day: number; from: number; to: number }[];
}

/** SERVICE_HOURS that cannot be read; the message says what is wrong. */
export class ServiceHoursFormatError extends Error {}

function day(s: string): number {
  const i = DAYS.indexOf(s.toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
  if (i < 0 || s.length < 3) throw new ServiceHoursFormatError(`"${s}" is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun)`);
  return i;
}

function minutes(s: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59 || (Number(m[1]) === 24 && m[2] !== '00')) throw new ServiceHoursFormatError(`"${s}" is not a time (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * Reads service hours: groups separated by `;`, each `<days> <times>` where days are `Mon`,
 * `Mon-Fri` or `Mon,Wed,Fri` (a range may wrap: `Sat-Sun`) and times `HH:MM-HH:MM`, comma-separated.
 * Throws {@link ServiceHoursFormatError} naming the part it cannot read.
 */
export function parseServiceHours(text: string): ServiceHours {
  const ranges: ServiceHours['ranges'] = [];
  for (const group of text.split(';').map((g) => g.trim()).filter(Boolean)) {
    const m = /^([A-Za-z,\s-]+?)\s+(\d.*)$/.exec(group);
    if (!m) throw new ServiceHoursFormatError(`"${group}" should look like "Mon-Fri 09:00-18:00"`);
    const days = new Set<number>();
    for (const part of m[1].split(',').map((p) => p.trim()).filter(Boolean)) {
      const [a, b] = part.split('-').map((x) => x.trim());
      if (b === undefined) days.add(day(a));
      else for (let d = day(a), end = day(b), n = 0; n < 7; d = (d + 1) % 7, n++) {
        days.add(d);
        if (d === end) break;
      }
    }
    for (const span of m[2].split(',').map((p) => p.trim()).filter(Boolean)) {
      const [a, b] = span.split('-').map((x) => x.trim());
      if (b === undefined) throw new ServiceHoursFormatError(`"${span}" should look like "09:00-18:00"`);
      const from = minutes(a);
      const to = minutes(b);
      if (to <= from) throw new ServiceHoursFormatError(`"${span}" ends before it starts`);
      for (const d of days) ranges.push({ day: d, from, to });
    }
  }
  if (ranges.length === 0) throw new ServiceHoursFormatError('no days and times given (e.g. "Mon-Fri 09:00-18:00")');
  return { text: text.trim(), ranges };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday (0 = Monday) and minutes since midnight of an instant in a time zone. */
export function localTime(at: Date, timeZone: string): { day: number; minutes: number } {
  let f = formatters.get(timeZone);
  if (!f) formatters.set(timeZone, (f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const parts = f.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return { day: day(get('weekday')), minutes: Number(get('hour')) * 60 + Number(get('minute')) };
}

/** Whether `at` falls within the service hours (null hours: always open). */
export function isOpen(hours: ServiceHours | null, at: Date, timeZone: string): boolean {
  if (!hours) return true;
  const { day: d, minutes: m } = localTime(at, timeZone);
  return hours.ranges.some((r) => r.day === d && m >= r.from && m < r.to);
}
