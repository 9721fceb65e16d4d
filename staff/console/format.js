/** Formatting of dates, numbers and taxonomy names in the current language. */
import { getLang, t } from './i18n.js';

const locale = () => (getLang() === 'en' ? 'en-GB' : 'zh-CN');

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Date and time, short. */
export function dateTime(v) {
  const d = toDate(v);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d) : '—';
}

/** Calendar date. */
export function date(v) {
  const d = toDate(v);
  return d ? new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(d) : '—';
}

export function num(v, digits = 0) {
  return Number.isFinite(v) ? new Intl.NumberFormat(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v) : '—';
}

/** A fraction 0..1 as a percentage. */
export function pct(v, digits = 1) {
  return Number.isFinite(v) ? new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v) : '—';
}

/** Minutes as a readable duration. */
export function minutes(v) {
  if (!Number.isFinite(v)) return '—';
  if (v < 1) return t('unit.underMinute');
  if (v < 60) return t('unit.minutes', { n: num(v, v < 10 ? 1 : 0) });
  if (v < 48 * 60) return t('unit.hours', { n: num(v / 60, 1) });
  return t('unit.days', { n: num(v / 1440, 1) });
}

const nameOf = (item) => {
  if (!item) return null;
  const n = item.name;
  if (typeof n === 'string') return n;
  if (n && typeof n === 'object') return (getLang() === 'en' ? n.en : getLang() === 'zh-Hant' ? (n['zh-Hant'] ?? n.zh) : n.zh) ?? n.zh ?? n.en ?? item.id;
  return item.id;
};

export function topicName(tax, id) {
  if (id === null || id === undefined || id === '') return t('common.none');
  return nameOf(tax?.topics?.find((x) => x.id === id)) ?? String(id);
}

export function typeName(tax, id) {
  if (id === null || id === undefined || id === '') return t('common.none');
  return nameOf(tax?.types?.find((x) => x.id === id)) ?? String(id);
}

function known(prefix, v) {
  if (v === null || v === undefined || v === '') return t('common.none');
  const key = `${prefix}.${v}`;
  const s = t(key);
  return s === key ? String(v) : s;
}

export const statusName = (s) => known('status', s);
export const priorityName = (p) => known('priority', p);
export const reasonName = (r) => known('reason', r);
export const channelName = (c) => known('channel', c);
export const roleName = (r) => known('role', r);
export const langName = (l) => known('langs', l);

/** Label of a channel-preference band 1..5 (from the API's bandLabel when given). */
export function bandName(band, label) {
  if (label && typeof label === 'object') {
    const s = getLang() === 'en' ? label.en : label.zh;
    if (s) return s;
  }
  return known('band', band);
}

/** Shortens a text to n characters (by code point). */
export function excerpt(s, n = 80) {
  const chars = Array.from(String(s ?? ''));
  return chars.length > n ? `${chars.slice(0, n).join('')}…` : chars.join('');
}

/** A readable message for an API error. */
export function errorText(err) {
  if (!err) return t('error.generic');
  if (err.status === 0) return t('error.network');
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 404) return t('error.notFound');
  if (err.status === 409 && err.code === 'CONFLICT') return t('error.conflict');
  if (err.status === 429) return t('error.rateLimited', { s: err.retryAfter ?? 60 });
  // Unlike other server errors, this one says what happened: nothing reached the customer.
  if (err.code === 'REPLY_NOT_SENT') return t('reply.notSent');
  // The request was fine; the database was not there (503 with Retry-After): say so, and when to try again.
  if (err.code === 'DATABASE_UNAVAILABLE') return t('error.databaseUnavailable', { s: err.retryAfter ?? 5 });
  // The server is stopping (bot/requests-in-flight.ts): nothing was done; the restarted one takes it.
  if (err.code === 'SERVER_STOPPING') return t('error.serverStopping', { s: err.retryAfter ?? 5 });
  if (err.status >= 500) return t('error.server');
  return err.message || t('error.generic');
}

/**
 * Whether `number` is a provisional ticket number (T20261207-OK3X9Q2): given while the database was
 * unreachable to a ticket queued in a server's outbox, stored under it (or found through it) later.
 */
export function isProvisionalNumber(number) {
  return /^T\d{8}-O[0-9A-Z]+$/i.test(String(number ?? ''));
}
