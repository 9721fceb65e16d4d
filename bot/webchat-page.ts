/**
 * The customer chat page: `GET /` serves a small HTML page that runs the standard Bot Framework
 * Web Chat against this server's own Direct Line channel (`bot/directline.ts`), and
 * `GET /static/webchat.js` serves Web Chat's UMD bundle from `node_modules/botframework-webchat`
 * (`dist/webchat.js`, the full bundle the CDN serves as `webchat.js`). No external network: no CDN,
 * web fonts or analytics; plain CSS.
 *
 * The page is Simplified Chinese by default (`<html lang="zh-CN">`, Web Chat locale `zh-CN`, title
 * 客户服务); `?lang=zh-Hant` gives Traditional Chinese (`zh-TW`, 客戶服務), `?lang=en` English (`en-US`,
 * "Customer service"). It gets a token from
 * `GET /api/webchat/token?locale=<the page's locale>` (so the bot greets in the page's language),
 * presenting the customer key it kept in `localStorage` from last time (header `X-Customer-Key`), so
 * a returning customer keeps their user id, and the conversation id it kept (`X-Conversation-Id`),
 * so a reload resumes the customer's own open conversation and shows what was said in it meanwhile
 * (staff replies); the server issues the id (a new one when the key is missing or not genuine) and
 * the page keeps the key and conversation it is given. It
 * then calls `WebChat.renderWebChat({directLine: WebChat.createDirectLine({token,
 * domain: location.origin + '/v3/directline', webSocket: true}), locale, userID})` with that id.
 *
 * For browser tests, the elements are Web Chat's own (4.18):
 * - send box: `[data-id="webchat-sendbox-input"]` (an `<input>`; `aria-label` 消息输入框 /
 *   "Message input box", placeholder 键入消息 / "Type your message"); Enter sends;
 * - send button: `button.webchat__send-button` (`title` 发送 / "Send");
 * - transcript: `.webchat__basic-transcript` (`role="group"`, `aria-label` 聊天历史记录，按箭头键导航。 /
 *   "Chat history, press arrow keys to navigate."), one `.webchat__basic-transcript__activity`
 *   per activity, message text in `.webchat__bubble__content`;
 * - the page's own: the Web Chat host `#webchat` (`data-testid="webchat"`), the connection
 *   status line `#webchat-status` (`role="status"`; hidden once Web Chat is rendered), and the note
 *   `#webchat-pending` (`role="status"`, {@link PENDING_NOTES}) shown while messages the server could
 *   not store wait to be sent again (the page's `postActivity` is the queue of `webchat-resend.ts`).
 */
import { createReadStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Request, Response, Server } from 'restify';
import { RESEND_SCRIPT } from './webchat-resend.js';

/** Options of {@link mountWebChatPage}. */
export interface WebChatPageOptions {
  /** Page title; default 客户服务 (Chinese page) or "Customer service" (`?lang=en`). */
  title?: string;
}

type PageLang = 'zh' | 'zh-Hant' | 'en';

/**
 * The note shown while messages wait to be sent again (`{n}`: how many). True in every case it is
 * shown: the server has not received them, and the page sends them once it can, if it stays open.
 */
export const PENDING_NOTES: Readonly<Record<'zh-Hans' | 'zh-Hant' | 'en', string>> = {
  'zh-Hans': '服务暂时不可用：您的 {n} 条消息还没有送达。服务恢复后本页会自动重新发送，请不要关闭此页面。',
  'zh-Hant': '服務暫時無法使用：您的 {n} 則訊息尚未送達。服務恢復後本頁會自動重新傳送，請不要關閉此頁面。',
  en: 'The service is unavailable for the moment: {n} of your messages have not arrived yet. This page will send them again when the service is back; please keep it open.',
};

const TEXTS: Record<PageLang, { htmlLang: string; locale: string; title: string; intro: string; connecting: string; failed: string; pending: string; other: { href: string; label: string; lang: string } }> = {
  zh: {
    htmlLang: 'zh-CN',
    locale: 'zh-CN',
    title: '客户服务',
    intro: '请描述您的问题、投诉或建议，我们会尽快处理。',
    connecting: '正在连接客服…',
    failed: '暂时无法连接客服，请稍后刷新页面重试。',
    pending: PENDING_NOTES['zh-Hans'],
    other: { href: '/?lang=en', label: 'English', lang: 'en' },
  },
  en: {
    htmlLang: 'en',
    locale: 'en-US',
    title: 'Customer service',
    intro: 'Tell us about your question, complaint or suggestion and we will look into it.',
    connecting: 'Connecting…',
    failed: 'We could not connect to customer service. Please reload the page in a moment.',
    pending: PENDING_NOTES.en,
    other: { href: '/', label: '中文', lang: 'zh-CN' },
  },
  'zh-Hant': {
    htmlLang: 'zh-Hant',
    locale: 'zh-TW',
    title: '客戶服務',
    intro: '請描述您的問題、投訴或建議，我們會盡快處理。',
    connecting: '正在連線客服…',
    failed: '暫時無法連線客服，請稍後重新整理頁面再試。',
    pending: PENDING_NOTES['zh-Hant'],
    other: { href: '/?lang=en', label: 'English', lang: 'en' },
  },
};

/** The page language a `?lang=` value asks for (Simplified Chinese unless `en` or `zh-Hant`). */
function pageLang(value: string | null): PageLang {
  if (value === 'en') return 'en';
  if (value !== null && /^zh-(?:Hant|TW|HK|MO)$/i.test(value)) return 'zh-Hant';
  return 'zh';
}

/** Where Web Chat's browser bundle is: `<package>/dist/webchat.js`, found through the package's entry. */
export function webChatBundlePath(): string {
  const entry = createRequire(import.meta.url).resolve('botframework-webchat'); // <package>/lib/index.js
  return join(dirname(dirname(entry)), 'dist', 'webchat.js');
}

/**
 * Mounts `GET /` (the chat page) and `GET /static/webchat.js` (Web Chat's bundle) on `server`.
 * Throws at mount time if the bundle is missing, rather than serving a page that cannot work.
 */
export function mountWebChatPage(server: Server, opts: WebChatPageOptions = {}): void {
  const bundlePath = webChatBundlePath();
  const bundle = statSync(bundlePath); // the package is a dependency: missing means a broken install
  const bundleEtag = `"${bundle.size.toString(16)}-${Math.floor(bundle.mtimeMs).toString(16)}"`;

  server.get('/', async (req: Request, res: Response) => {
    const lang = pageLang(new URL(req.url ?? '/', 'http://localhost').searchParams.get('lang'));
    const nonce = randomBytes(16).toString('base64');
    const html = renderPage(lang, opts.title, nonce);
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(html),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      // Web Chat injects its styles at run time (inline <style>), and renders images from data: URLs.
      'Content-Security-Policy':
        `default-src 'self'; script-src 'self' 'nonce-${nonce}'; style-src 'self' 'unsafe-inline'; ` +
        "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self' ws: wss:; " +
        "font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
    });
    res.end(html);
  });

  server.get('/static/webchat.js', async (req: Request, res: Response) => {
    const headers = {
      'Content-Type': 'application/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=3600',
      ETag: bundleEtag,
      'X-Content-Type-Options': 'nosniff',
    };
    if (req.headers['if-none-match'] === bundleEtag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': bundle.size });
    await new Promise<void>((resolve) => {
      const stream = createReadStream(bundlePath);
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON for a <script> block: `<` escaped so no string can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * The chat page in `lang`: the page's own markup and style around the Web Chat host, then the client
 * script (its parts below) inside one function scope, with the page's texts as `config`.
 */
function renderPage(lang: PageLang, customTitle: string | undefined, nonce: string): string {
  const t = TEXTS[lang];
  const title = escapeHtml(customTitle ?? t.title);
  const config = { locale: t.locale, failed: t.failed, pending: t.pending };
  return `<!DOCTYPE html>
<html lang="${t.htmlLang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>
${PAGE_STYLE}
</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <a href="${t.other.href}" lang="${t.other.lang}">${t.other.label}</a>
</header>
<p class="intro">${escapeHtml(t.intro)}</p>
<main class="chat" aria-label="${title}">
  <p id="webchat-status" role="status">${escapeHtml(t.connecting)}</p>
  <p id="webchat-pending" role="status" aria-live="polite" hidden></p>
  <div id="webchat" data-testid="webchat"></div>
</main>
<noscript><p>${lang === 'en' ? 'This page needs JavaScript.' : lang === 'zh-Hant' ? '此頁面需要啟用 JavaScript。' : '此页面需要启用 JavaScript。'}</p></noscript>
<script src="/static/webchat.js"></script>
<script nonce="${nonce}">
${RESEND_SCRIPT}
(function () {
  var config = ${scriptJson(config)};
${STORAGE_SCRIPT}

${UNSENT_SCRIPT}

${CONNECT_SCRIPT}
})();
</script>
</body>
</html>
`;
}

/** The page's CSS (plain, no external fonts). */
const PAGE_STYLE = `  html, body { height: 100%; margin: 0; }
  body {
    display: flex; flex-direction: column; background: #f2f4f7; color: #1f2328;
    font-family: system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Segoe UI", sans-serif;
  }
  header {
    display: flex; align-items: baseline; justify-content: space-between; gap: 1rem;
    padding: 0.75rem 1rem; background: #0b5cab; color: #fff;
  }
  header h1 { margin: 0; font-size: 1.15rem; font-weight: 600; }
  header a { color: #fff; font-size: 0.9rem; }
  .intro { margin: 0; padding: 0.5rem 1rem; font-size: 0.9rem; color: #4a5260; }
  .chat {
    flex: 1; min-height: 0; display: flex; flex-direction: column;
    width: 100%; max-width: 760px; margin: 0 auto 1rem; box-sizing: border-box;
    background: #fff; border: 1px solid #d8dde5; border-radius: 8px; overflow: hidden;
  }
  #webchat { flex: 1; min-height: 0; }
  #webchat-status { margin: 0; padding: 0.75rem 1rem; font-size: 0.9rem; color: #4a5260; }
  #webchat-status.error { color: #b42318; }
  #webchat-status[hidden] { display: none; }
  #webchat-pending { margin: 0; padding: 0.5rem 1rem; font-size: 0.9rem; background: #fff4e5; color: #7a4100; border-bottom: 1px solid #f0d3a8; }
  #webchat-pending[hidden] { display: none; }
  @media (max-width: 760px) { .chat { margin: 0; border-radius: 0; border-left: 0; border-right: 0; } }`;

/**
 * Client script, part 1 (it runs with `config` in scope): the customer key and conversation id kept in
 * localStorage, and the failure line.
 */
export const STORAGE_SCRIPT = `  var status = document.getElementById('webchat-status');
  // The server-signed customer key: presenting it again keeps the same user id (returning customer).
  var KEY = 'demand-desk.webchat.customerKey';
  // The conversation of this page's language: resumed after a reload while it is open, so replies
  // that arrived while the page was closed are shown.
  var CONV = 'demand-desk.webchat.conversation.' + config.locale;

  function storedKey() {
    try {
      var key = window.localStorage.getItem(KEY);
      return key && /^u-[0-9a-f]{32}\\.[A-Za-z0-9_-]{43}$/.test(key) ? key : null;
    } catch (e) {
      return null; // storage blocked: a new id for this visit
    }
  }
  function keep(key) {
    try { window.localStorage.setItem(KEY, key); } catch (e) { /* storage blocked */ }
  }
  function storedConversation() {
    try {
      var id = window.localStorage.getItem(CONV);
      return id && /^[A-Za-z0-9._|-]{1,100}$/.test(id) ? id : null;
    } catch (e) {
      return null;
    }
  }
  function keepConversation(id) {
    try { window.localStorage.setItem(CONV, id); } catch (e) { /* storage blocked */ }
  }
  function fail(err) {
    status.textContent = config.failed;
    status.className = 'error';
    status.hidden = false;
    if (window.console) console.error(err);
  }`;

/**
 * Client script, part 2: messages the server could not take are queued (webchat-resend.ts), kept in
 * localStorage per customer, sent again until accepted, and the customer is told meanwhile.
 */
const UNSENT_SCRIPT = `  // A message the server could not take (503 while its database is down) stays in this page and is
  // sent again, the same activity (same clientActivityID), until accepted; the customer is told.
  var pendingNote = document.getElementById('webchat-pending');
  function showPending(n) {
    pendingNote.textContent = n > 0 ? config.pending.replace('{n}', String(n)) : '';
    pendingNote.hidden = n === 0;
  }
  // What waits to be accepted is kept in localStorage too, per customer: after a reload (or when the
  // customer comes back in this browser) the same activities are sent again, same clientActivityID.
  // Web Chat's longest wait (its hard limit is 5 minutes): before it, "Send failed" would show while this page still re-sends.
  var SEND_TIMEOUT_MS = 300000;
  var UNSENT = 'demand-desk.webchat.unsent.';
  var UNSENT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  var UNSENT_MAX = 50;
  function storedUnsent(userId) {
    try {
      var list = JSON.parse(window.localStorage.getItem(UNSENT + userId) || '[]');
      if (!Array.isArray(list)) return [];
      var fresh = [];
      for (var i = 0; i < list.length && fresh.length < UNSENT_MAX; i++) {
        var e = list[i];
        var ok = e && typeof e.since === 'number' && Date.now() - e.since < UNSENT_MAX_AGE_MS && e.activity && e.activity.channelData && typeof e.activity.channelData.clientActivityID === 'string';
        if (ok) fresh.push(e);
      }
      return fresh;
    } catch (e) {
      return []; // storage blocked or unreadable: nothing to restore
    }
  }
  function keepWaiting(userId, waiting) {
    try {
      if (waiting.length > 0) window.localStorage.setItem(UNSENT + userId, JSON.stringify(waiting.slice(0, UNSENT_MAX)));
      else window.localStorage.removeItem(UNSENT + userId);
    } catch (e) { /* storage blocked or full: the message still waits in this page */ }
  }
  function keepUnsent(directLine, domain, session) {
    var restored = storedUnsent(session.userId);
    var resender = createResender({
      onChange: function (waiting) { keepWaiting(session.userId, waiting); },
      abandonAfterMs: SEND_TIMEOUT_MS,
      post: function (activity, resend) {
        var headers = { 'Content-Type': 'application/json', Authorization: 'Bearer ' + (directLine.token || session.token) };
        if (resend) headers['X-Resend'] = '1';
        return fetch(domain + '/conversations/' + encodeURIComponent(session.conversationId) + '/activities', {
          method: 'POST', cache: 'no-store', headers: headers, body: JSON.stringify(activity)
        }).then(function (res) {
          var retryAfter = Number(res.headers.get('Retry-After')) || 0;
          return res.json().then(function (b) { return b; }, function () { return {}; }).then(function (b) {
            return { status: res.status, retryAfter: retryAfter, id: b && typeof b.id === 'string' ? b.id : undefined };
          });
        }, function () { return { status: 0, retryAfter: 0 }; });
      },
      wait: function (ms) { return new Promise(function (ok) { setTimeout(ok, ms); }); },
      onPending: showPending
    });
    // Web Chat subscribes to what postActivity returns (an observable); it may unsubscribe after its
    // own timeout, but the message stays queued here and is still sent.
    directLine.postActivity = function (activity) {
      return {
        subscribe: function (observer) {
          var open = true;
          var settled = false;
          resender.send(activity).then(function (id) {
            settled = true;
            if (!open) return;
            if (observer.next) observer.next(id);
            if (observer.complete) observer.complete();
          }, function (err) {
            settled = true;
            if (open && observer.error) observer.error(err);
          });
          return {
            unsubscribe: function () {
              // Web Chat stopped waiting before the message was accepted (its 5-minute limit): a
              // Retry of it will replace it in the queue rather than send a second copy.
              if (open && !settled) resender.abandon(activity);
              open = false;
            }
          };
        }
      };
    };
    // Left waiting by an earlier visit (reload, closed tab): sent again, the very same activities.
    for (var i = 0; i < restored.length; i++) resender.send(restored[i].activity, restored[i].since).then(function () {}, function () {});
  }`;

/**
 * Client script, part 3: gets a token and starts the conversation (waiting out an unavailable
 * service), then renders Web Chat on this server's Direct Line.
 */
const CONNECT_SCRIPT = `  if (!window.WebChat) { fail(new Error('Web Chat did not load')); return; }
  var headers = { Accept: 'application/json' };
  var key = storedKey();
  if (key) headers['X-Customer-Key'] = key;
  var previous = key && storedConversation();
  if (previous) headers['X-Conversation-Id'] = previous;
  // Messages an earlier visit left waiting have not arrived: said at once, before connecting.
  if (key) showPending(storedUnsent(key.slice(0, key.lastIndexOf('.'))).length);
  // The page's locale goes to the conversation, so the bot greets in the page's language. While the
  // service is unavailable (503, 504, no answer: its database is down, say) the page keeps trying,
  // as Retry-After says or every few seconds, so messages kept from an earlier visit are sent once it is back.
  // A request the service cannot answer now (503, 504, no answer) is made again, as Retry-After
  // says or after a growing pause (2, 4, … 30 s).
  function untilAvailable(request, what, attempt) {
    var again = function (seconds) {
      var ms = seconds > 0 ? Math.min(60, seconds) * 1000 : Math.min(30, Math.pow(2, attempt + 1)) * 1000;
      return new Promise(function (ok) { setTimeout(ok, ms); }).then(function () { return untilAvailable(request, what, attempt + 1); });
    };
    return request().then(function (res) {
      if (res.ok) return res.json();
      if (res.status === 503 || res.status === 504) return again(Number(res.headers.get('Retry-After')) || 0);
      throw new Error(what + ' failed: ' + res.status);
    }, function () { return again(0); });
  }
  var domain = window.location.origin + '/v3/directline';
  untilAvailable(function () {
    return fetch('/api/webchat/token?locale=' + encodeURIComponent(config.locale), { method: 'GET', cache: 'no-store', headers: headers });
  }, 'token request', 0)
    .then(function (body) {
      keep(body.customerKey);
      keepConversation(body.conversationId);
      // Started here first (the same call Web Chat makes next, answered 200 then): Web Chat gives up
      // for good when its start fails, as it does while the database is down.
      return untilAvailable(function () {
        return fetch(domain + '/conversations', { method: 'POST', cache: 'no-store', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + body.token }, body: '{}' });
      }, 'starting the conversation', 0).then(function () { return body; });
    })
    .then(function (body) {
      var directLine = window.WebChat.createDirectLine({
        token: body.token,
        domain: domain,
        webSocket: true
      });
      keepUnsent(directLine, domain, body);
      window.WebChat.renderWebChat({
        directLine: directLine,
        locale: config.locale,
        userID: body.userId,
        styleOptions: { hideUploadButton: true, sendTimeout: SEND_TIMEOUT_MS }
      }, document.getElementById('webchat'));
      status.hidden = true;
    })
    .catch(fail);`;
