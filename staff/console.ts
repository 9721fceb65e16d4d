/**
 * The staff web console: a static single-page app (plain ES modules, no build step) served by the
 * bot server itself.
 *
 * - `GET /console` (and `/console/`) → `staff/console/index.html`;
 * - `GET /console/<file>` for a fixed allow-list of files under `staff/console/` (scripts, the
 *   style sheet): nothing outside the list is ever read, so no path can reach another file;
 * - `GET /console/vendor/echarts.min.js` → Apache ECharts' browser bundle from the `echarts`
 *   package (`dist/echarts.min.js`), no CDN.
 *
 * The files are found from the project root (the nearest folder with package.json and data/, as
 * `runtime/datasets.ts` finds it), so the compiled server in dist/ serves the same sources. They are
 * read once at mount (a missing file fails the mount rather than serving a broken console).
 * Caching: the page is `no-cache`; scripts and CSS have strong ETags and `no-cache` (revalidated on
 * each load, 304 when unchanged, because their names carry no content hash); ECharts is versioned
 * by its package and cached for a day.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import type restify from 'restify';
import { PROJECT_ROOT } from '../runtime/datasets.js';

/** Folder of the console's static files. */
export const CONSOLE_DIR = join(PROJECT_ROOT, 'staff', 'console');

/** Every file the console serves, relative to {@link CONSOLE_DIR}; nothing else is reachable. */
export const CONSOLE_FILES = [
  'app.js',
  'api.js',
  'i18n.js',
  'i18n-zh-hant.js',
  'work.js',
  'live-i18n.js',
  'dom.js',
  'format.js',
  'charts.js',
  'events.js',
  'styles.css',
  'pages/login.js',
  'pages/inbox.js',
  'pages/live.js',
  'pages/ticket.js',
  'pages/ticket-attachments.js',
  'pages/reply-settle.js',
  'pages/dashboard.js',
  'pages/customers.js',
  'pages/models.js',
  'pages/keywords.js',
  'pages/admin.js',
  'pages/new-ticket.js',
] as const;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The console's Content-Security-Policy: scripts only from this server; ECharts and the pages set
 * element styles from script (allowed), inline style attributes need 'unsafe-inline' for styles
 * only; charts draw on canvas (data:/blob: images for export).
 */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

/** Where ECharts' browser bundle is: `<package>/dist/echarts.min.js`, found through the package's entry. */
export function echartsBundlePath(): string {
  const entry = createRequire(import.meta.url).resolve('echarts'); // require condition: <package>/dist/echarts.js
  const dir = dirname(entry);
  return basename(dir) === 'dist' ? join(dir, 'echarts.min.js') : join(dir, 'dist', 'echarts.min.js');
}

function load(path: string, cacheControl: string): StaticFile {
  const body = readFileSync(path);
  const ext = path.slice(path.lastIndexOf('.'));
  const type = CONTENT_TYPES[ext];
  if (!type) throw new Error(`console: no content type for ${path}`);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, type, etag, cacheControl };
}

function send(req: restify.Request, res: restify.Response, file: StaticFile, extra: Record<string, string> = {}): void {
  const headers: Record<string, string | number> = {
    'Content-Type': file.type,
    'Cache-Control': file.cacheControl,
    ETag: file.etag,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...extra,
  };
  const match = req.headers['if-none-match'];
  if (typeof match === 'string' && match.split(',').some((m) => m.trim() === file.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': file.body.length });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

/** Mounts the console's routes on `server`. Throws if a file of the allow-list is missing. */
export function mountConsole(server: restify.Server): void {
  const page = load(join(CONSOLE_DIR, 'index.html'), 'no-cache');
  const files = new Map<string, StaticFile>(CONSOLE_FILES.map((f) => [f, load(join(CONSOLE_DIR, f), 'no-cache')]));
  const echarts = load(echartsBundlePath(), 'public, max-age=86400');

  const pageHeaders = { 'Content-Security-Policy': CSP, 'X-Frame-Options': 'DENY' };
  const servePage = async (req: restify.Request, res: restify.Response) => send(req, res, page, pageHeaders);
  server.get('/console', servePage);
  server.get('/console/', servePage);
  for (const [name, file] of files) {
    server.get(`/console/${name}`, async (req: restify.Request, res: restify.Response) => send(req, res, file));
  }
  server.get('/console/vendor/echarts.min.js', async (req: restify.Request, res: restify.Response) => send(req, res, echarts));
}
