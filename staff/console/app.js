/**
 * The staff console: shell (header, navigation, language switch, user), hash router and session.
 *
 * Routes: #/login, #/inbox (?view=mine|unassigned|waiting|overdue), #/review, #/live, #/live/{id},
 * #/new (a ticket for a caller, visitor or letter), #/tickets/{number}, #/dashboard, #/customers,
 * #/customers/{id}, #/models, #/models/compare?a&b, #/models/{version}, #/keywords,
 * #/keywords/{topic}, #/admin. Each page module exports `render(ctx)`; `ctx.onCleanup` registers
 * what to stop (timers, charts) when the user leaves the page.
 */
import { api, clearSession, onUnauthorized, saveSession, session } from './api.js';
import { h, loading, replace } from './dom.js';
import { onDeskEvent } from './events.js';
import { getLang, htmlLang, initLang, LANGS, setLang, t } from './i18n.js';
import { errorText } from './format.js';
import { followWork, notificationsControl, paint, refreshWork, stopFollowingWork } from './work.js';

const ROLE_RANK = { agent: 1, trainer: 2, admin: 3 };
const allows = (user, role) => !!user && (ROLE_RANK[user.role] ?? 0) >= ROLE_RANK[role];

/** Route table: first path segment → page module, least role, nav key. */
const ROUTES = {
  login: { module: './pages/login.js', role: null },
  inbox: { module: './pages/inbox.js', role: 'agent', nav: 'inbox' },
  live: { module: './pages/live.js', role: 'agent', nav: 'live' },
  review: { module: './pages/inbox.js', role: 'agent', nav: 'review' },
  tickets: { module: './pages/ticket.js', role: 'agent', nav: 'inbox' },
  new: { module: './pages/new-ticket.js', role: 'agent', nav: 'newTicket' },
  dashboard: { module: './pages/dashboard.js', role: 'agent', nav: 'dashboard' },
  customers: { module: './pages/customers.js', role: 'agent', nav: 'customers' },
  models: { module: './pages/models.js', role: 'trainer', nav: 'models' },
  keywords: { module: './pages/keywords.js', role: 'trainer', nav: 'keywords' },
  admin: { module: './pages/admin.js', role: 'admin', nav: 'admin' },
};

const NAV = [
  { key: 'inbox', href: '#/inbox', role: 'agent' },
  { key: 'review', href: '#/review', role: 'agent' },
  { key: 'live', href: '#/live', role: 'agent' },
  { key: 'newTicket', href: '#/new', role: 'agent' },
  { key: 'dashboard', href: '#/dashboard', role: 'agent' },
  { key: 'customers', href: '#/customers', role: 'agent' },
  { key: 'models', href: '#/models', role: 'trainer' },
  { key: 'keywords', href: '#/keywords', role: 'trainer' },
  { key: 'admin', href: '#/admin', role: 'admin' },
];

const LAST_HASH_KEY = 'demand-desk.console.afterLogin';

let cleanups = [];
let generation = 0;
let notices;
let lastPath = null;

/** Parses location.hash: '#/tickets/T1?x=1' → {parts: ['tickets', 'T1'], query: URLSearchParams}. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, qs] = raw.split('?', 2);
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query: new URLSearchParams(qs ?? '') };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** A message in the live region at the top of the page (role=status, or alert for errors). */
export function notify(message, kind = 'info') {
  if (!notices) return;
  const el = h('div', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' }, h('span', null, message), h('button', { type: 'button', class: 'link', 'aria-label': t('common.dismiss'), onclick: () => el.remove() }, '×'));
  notices.appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 12_000 : 5000);
}

function shell(user, navKey) {
  const langSwitch = h(
    'div',
    { class: 'lang-switch', role: 'group', 'aria-label': t('app.language') },
    LANGS.map((l) =>
      h(
        'button',
        {
          type: 'button',
          class: ['chip', getLang() === l.id && 'active'],
          lang: l.htmlLang,
          'aria-pressed': String(getLang() === l.id),
          'data-lang': l.id,
          onclick: () => {
            if (getLang() === l.id) return;
            setLang(l.id);
            route();
          },
        },
        l.label,
      ),
    ),
  );
  const nav = user
    ? h(
        'nav',
        { class: 'nav', 'aria-label': t('app.navigation') },
        h(
          'ul',
          null,
          NAV.filter((n) => allows(user, n.role)).map((n) =>
            h(
              'li',
              null,
              h(
                'a',
                { href: n.href, class: n.key === navKey ? 'active' : null, 'aria-current': n.key === navKey ? 'page' : null, 'data-nav': n.key },
                t(`nav.${n.key}`),
                n.key === 'live' ? liveBadge() : null,
              ),
            ),
          ),
        ),
      )
    : null;
  const userBox = user
    ? h(
        'div',
        { class: 'user' },
        notificationsControl(),
        h('span', { class: 'user-name', title: t(`role.${user.role}`) }, user.username, h('small', null, t(`role.${user.role}`))),
        h('button', { type: 'button', class: 'btn btn-ghost', 'data-action': 'logout', onclick: logout }, t('app.logout')),
      )
    : null;
  const header = h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', href: user ? '#/inbox' : '#/login' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '诉'), h('span', null, t('app.title'))),
    nav,
    h('div', { class: 'topbar-end' }, langSwitch, userBox),
  );
  // Kept across pages, so a message given just before a navigation stays readable.
  notices ??= h('div', { class: 'notices', 'aria-live': 'polite' });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const root = document.getElementById('app');
  replace(root, h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); } }, t('app.skip')), header, notices, main);
  return main;
}

/** Conversations waiting for a person, shown on the navigation (kept current by the event stream). */
let waitingCount = 0;
let badgeEl = null;
let badgeFollow = null;

function liveBadge() {
  // Empty when nobody waits, so the link reads just "在线客服".
  badgeEl = h('span', { class: 'badge badge-warn nav-count', 'data-testid': 'live-count', hidden: waitingCount === 0, 'aria-label': t('live.waitingCount', { n: waitingCount }) }, waitingCount ? String(waitingCount) : '');
  return badgeEl;
}

async function refreshWaiting() {
  try {
    const data = await api('/api/live');
    waitingCount = (data.items ?? []).filter((x) => x.state === 'waiting').length;
  } catch {
    return; /* the badge is a hint; a failure leaves it as it was */
  }
  if (badgeEl) {
    badgeEl.textContent = waitingCount ? String(waitingCount) : '';
    badgeEl.hidden = waitingCount === 0;
    badgeEl.setAttribute('aria-label', t('live.waitingCount', { n: waitingCount }));
  }
}

/** While signed in, the navigation follows the live queue; a new request is announced. */
function followLiveQueue() {
  if (badgeFollow) return;
  badgeFollow = onDeskEvent((e) => {
    if (!e.type.startsWith('handover.')) return;
    if (e.type === 'handover.requested' && parseHash().parts[0] !== 'live') notify(t('live.requested', { number: e.ticketNumber }));
    void refreshWaiting();
  });
  void refreshWaiting();
}

function stopFollowingLiveQueue() {
  badgeFollow?.();
  badgeFollow = null;
}

/** The last capacity status (admins only), reused for a minute so navigating does not ask each time. */
let capacity = null;

/** A banner for admins when the embedded database nears or passes its measured ceiling. */
async function showCapacity(main) {
  try {
    if (!capacity || Date.now() - capacity.at > 60_000) capacity = { at: Date.now(), status: await api('/api/capacity') };
    const c = capacity.status;
    if (!c || c.level === 'ok' || !main.isConnected) return;
    const params = { tickets: c.tickets.toLocaleString(), ceiling: (c.ceiling ?? 0).toLocaleString() };
    main.before(h('div', { class: 'banner banner-warn capacity-banner', role: 'alert', 'data-testid': 'capacity-banner' }, t(c.level === 'over' ? 'capacity.over' : 'capacity.near', params)));
  } catch {
    /* a warning must never break the page */
  }
}

async function logout() {
  stopFollowingLiveQueue();
  await api('/api/auth/logout', { method: 'POST' }).catch(() => undefined);
  clearSession();
  navigate('#/login');
}

async function route() {
  const gen = ++generation;
  for (const c of cleanups.splice(0)) {
    try {
      c();
    } catch {
      /* a failing cleanup must not block navigation */
    }
  }
  document.documentElement.lang = htmlLang();
  const { parts, query } = parseHash();
  const name = parts[0] ?? '';
  const s = session();
  if (!Object.hasOwn(ROUTES, name)) {
    navigate(s ? '#/inbox' : '#/login');
    return;
  }
  if (name !== 'login' && !s) {
    sessionStorage.setItem(LAST_HASH_KEY, location.hash);
    navigate('#/login');
    return;
  }
  if (name === 'login' && s && !query.get('reason')) {
    navigate('#/inbox');
    return;
  }
  const r = ROUTES[name];
  const user = s?.user ?? null;
  const main = shell(name === 'login' ? null : user, r.nav);
  if (name !== 'login' && user) followLiveQueue();
  else stopFollowingLiveQueue();
  if (name !== 'login' && user?.role === 'admin') void showCapacity(main);
  if (name !== 'login' && user) {
    // The last counts at once, fresh ones when they arrive, and live from then on.
    paint();
    void refreshWork();
    followWork();
  } else stopFollowingWork();
  document.title = `${t(name === 'login' ? 'login.title' : `nav.${r.nav}`)} · ${t('app.title')}`;
  if (r.role && !allows(user, r.role)) {
    replace(main, h('section', { class: 'panel' }, h('h1', null, t('error.forbiddenTitle')), h('p', null, t('error.forbiddenPage', { role: t(`role.${r.role}`) }))));
    return;
  }
  main.appendChild(loading(t('common.loading')));
  const ctx = {
    root: main,
    parts,
    query,
    user,
    name,
    allows: (role) => allows(user, role),
    navigate,
    notify,
    errorText,
    onCleanup: (fn) => cleanups.push(fn),
    /** After a change that moves tickets between views (assign, status, review, spam). */
    refreshWork: () => refreshWork(),
    isCurrent: () => gen === generation,
    setTitle: (title) => {
      document.title = `${title} · ${t('app.title')}`;
    },
    afterLogin: () => {
      const next = sessionStorage.getItem(LAST_HASH_KEY);
      sessionStorage.removeItem(LAST_HASH_KEY);
      navigate(next && !next.startsWith('#/login') ? next : '#/inbox');
    },
  };
  // A new page starts at the top, and keyboard and screen-reader users land in it.
  const path = parts.join('/');
  const newPage = path !== lastPath;
  lastPath = path;
  if (newPage) window.scrollTo(0, 0);
  try {
    const mod = await import(r.module);
    if (gen !== generation) return;
    await mod.render(ctx);
    if (gen === generation && newPage && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  } catch (err) {
    if (gen !== generation) return;
    if (err && err.status === 401) return; // the session ended: the unauthorized handler navigates
    replace(main, h('section', { class: 'panel' }, h('h1', null, t('error.title')), h('p', { role: 'alert', class: 'error-text' }, errorText(err))));
    if (!(err && err.status)) console.error(err);
  }
}

onUnauthorized(() => {
  stopFollowingLiveQueue();
  if (parseHash().parts[0] !== 'login') sessionStorage.setItem(LAST_HASH_KEY, location.hash);
  navigate('#/login?reason=expired');
});

/** Refreshes the stored user from the server (a role changed by an admin applies on the next load). */
async function refreshUser() {
  const s = session();
  if (!s) return;
  try {
    const me = await api('/api/auth/me');
    if (me && (me.role !== s.user.role || me.username !== s.user.username)) {
      saveSession(s.token, me);
      route();
    }
  } catch {
    /* 401 is handled by the API client; anything else: keep the stored user */
  }
}

initLang();
window.addEventListener('hashchange', route);
// Counts and notifications stay fresh while the console is open (the live stream makes it sooner).
setInterval(() => {
  if (session() && parseHash().parts[0] !== 'login' && document.visibilityState === 'visible') void refreshWork();
}, 30_000);
route();
refreshUser();
