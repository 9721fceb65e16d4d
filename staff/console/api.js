/**
 * The staff API client: bearer token from sessionStorage, JSON in and out, typed errors.
 * A 401 on any call but login ends the session (the app sends the user back to the login page).
 */

const TOKEN_KEY = 'demand-desk.console.token';
const USER_KEY = 'demand-desk.console.user';

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: network failure)
   * @param {string} code error code of the API ({error: {code}})
   * @param {string} message
   * @param {unknown} [details]
   * @param {number|null} [retryAfter] seconds (Retry-After header)
   */
  constructor(status, code, message, details, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

let unauthorizedHandler = () => {};
/** Called (once per failing request) when the API answers 401 to an authenticated call. */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

export function session() {
  try {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const user = JSON.parse(sessionStorage.getItem(USER_KEY) ?? 'null');
    return token && user ? { token, user } : null;
  } catch {
    return null;
  }
}

export function saveSession(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify({ username: user.username, role: user.role }));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  cache.clear();
}

/** A query string from an object; empty, null and undefined values are left out. */
export function queryString(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Calls the API. `path` starts with /api; `query` is an object; `body` is sent as JSON.
 * Resolves to the parsed JSON (null for 204); rejects with {@link ApiError}.
 */
export async function api(path, { method = 'GET', query, body, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  const s = session();
  if (auth && s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path + queryString(query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err));
  }
  let data = null;
  const text = res.status === 204 ? '' : await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' && data.error ? data.error : {};
    const retry = Number(res.headers.get('Retry-After'));
    const err = new ApiError(res.status, String(e.code ?? `HTTP_${res.status}`), String(e.message ?? res.statusText), e.details, Number.isFinite(retry) && retry > 0 ? retry : null);
    if (res.status === 401 && auth && s) {
      clearSession();
      unauthorizedHandler(err);
    }
    throw err;
  }
  return data;
}

/**
 * The idempotency key of a message submit (a ticket reply, a live-chat message): random, from
 * getRandomValues (randomUUID needs a secure context, and the console may be served over plain HTTP
 * on a local network).
 */
export function newRequestId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

const cache = new Map();
/** A GET whose answer is kept for the session (taxonomy, channel preferences …). */
export function cachedGet(path) {
  if (!cache.has(path)) {
    const p = api(path).catch((err) => {
      cache.delete(path);
      throw err;
    });
    cache.set(path, p);
  }
  return cache.get(path);
}

/** The taxonomy (topics, types, statuses, priorities), once per session. */
export function taxonomy() {
  return cachedGet('/api/taxonomy');
}

/**
 * Fetches a file from the API with the session's token. Resolves to its bytes as a Blob, the file
 * name from Content-Disposition (`filename*=UTF-8''…` first, else `filename="…"`, else `fallback`)
 * and the response headers; rejects with {@link ApiError}.
 */
export async function fetchFile(path, query, fallback = 'download') {
  const s = session();
  let res;
  try {
    res = await fetch(path + queryString(query), { headers: s ? { Authorization: `Bearer ${s.token}` } : {}, cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, 'NETWORK', err instanceof Error ? err.message : String(err));
  }
  if (!res.ok) {
    let e = {};
    try {
      e = (await res.json()).error ?? {};
    } catch {
      /* not JSON */
    }
    const err = new ApiError(res.status, String(e.code ?? `HTTP_${res.status}`), String(e.message ?? res.statusText), e.details);
    if (res.status === 401 && s) {
      clearSession();
      unauthorizedHandler(err);
    }
    throw err;
  }
  const disposition = res.headers.get('Content-Disposition') ?? '';
  let name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallback;
  const encoded = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
  if (encoded) {
    try {
      name = decodeURIComponent(encoded);
    } catch {
      /* keep the ASCII name */
    }
  }
  return { blob: await res.blob(), name, headers: res.headers };
}

/**
 * Saves a Blob as a file through a temporary link (`download` attribute: the browser saves it,
 * never opens it as a page).
 */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * Downloads a file the API makes (exports): fetched with the session's token, then saved through a
 * temporary link. Resolves to the file name and its size in bytes; rejects with {@link ApiError}.
 */
export async function download(path, query) {
  const { blob, name, headers } = await fetchFile(path, query, 'export');
  saveBlob(blob, name);
  return { name, size: blob.size, rows: Number(headers.get('X-Export-Rows') ?? 0) };
}

/** Active staff accounts a ticket can be assigned to, once per session. */
export function assignees() {
  return cachedGet('/api/assignees');
}
