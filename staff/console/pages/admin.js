/**
 * Administration (#/admin, admin role): users (list, add, change role, enable/disable, set a new
 * password), API tokens for integrations (create — the secret is shown once —, list, revoke),
 * canned replies (快捷回复) per language with their variables, and the audit log.
 */
import { api } from '../api.js';
import { field, h, replace, select } from '../dom.js';
import * as f from '../format.js';
import { t } from '../i18n.js';

const ROLES = ['agent', 'trainer', 'admin'];
const CANNED_LANGS = ['zh-Hans', 'zh-Hant', 'en'];
const listOf = (res) => (Array.isArray(res) ? res : Array.isArray(res?.items) ? res.items : Array.isArray(res?.tokens) ? res.tokens : []);

export async function render(ctx) {
  const fail = failureNotice(ctx);
  const audit = auditSection(ctx, fail);
  // Every change is audited: the log shows it at once.
  const changed = () => audit.load().catch(fail);
  const tokens = tokensSection(ctx, fail, changed);
  const users = usersSection(ctx, fail, changed, tokens.setUsers);
  const canned = cannedSection(ctx, fail);
  replace(
    ctx.root,
    h(
      'section',
      { class: 'page' },
      h('div', { class: 'page-head' }, h('h1', null, t('nav.admin')), h('p', { class: 'muted' }, t('admin.intro'))),
      users.section,
      tokens.section,
      canned.section,
      audit.section,
    ),
  );
  await Promise.all([users.load(), tokens.load().catch(fail), canned.load().catch(fail), audit.load().catch(fail)]);
}

/** The field a 400 names (details [{field}]), if any. */
const badField = (err) => (Array.isArray(err.details) ? err.details.map((d) => d?.field).find(Boolean) : null);

/** Tells the user why a request failed (a 401 has already sent them to sign in). */
function failureNotice(ctx) {
  return (err) => {
    if (err.status === 401) return;
    if (err.code === 'LAST_ADMIN') ctx.notify(t('admin.lastAdmin'), 'error');
    else if (err.status === 400 && badField(err) === 'body.password') ctx.notify(t('admin.passwordInvalid'), 'error');
    else if (err.status === 400 && badField(err) === 'body.username') ctx.notify(t('admin.usernameInvalid'), 'error');
    else ctx.notify(ctx.errorText(err), 'error');
  };
}

/** Users: the list (role, enabled, new password) and the form to add one. */
function usersSection(ctx, fail, changed, onUsers) {
  const usersSlot = h('div', { class: 'table-wrap' });
  let users = [];
  async function loadUsers() {
    users = listOf(await api('/api/users'));
    if (!ctx.isCurrent()) return;
    replace(
      usersSlot,
      h(
        'table',
        { class: 'table', 'data-testid': 'users' },
        h('thead', null, h('tr', null, ['username', 'role', 'state', 'createdAt', 'lastLoginAt', 'actions'].map((k) => h('th', { scope: 'col' }, t(`admin.${k}`))))),
        h(
          'tbody',
          null,
          users.map((u) => {
            const self = u.username === ctx.user.username;
            const role = select({ 'aria-label': t('admin.roleOf', { user: u.username }), disabled: self }, ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })), u.role);
            role.addEventListener('change', async () => {
              try {
                await api(`/api/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: { role: role.value } });
                ctx.notify(t('admin.roleChanged', { user: u.username, role: t(`role.${role.value}`) }));
                await loadUsers();
                changed();
              } catch (err) {
                role.value = u.role;
                fail(err);
              }
            });
            const toggle = h(
              'button',
              {
                type: 'button',
                class: ['btn', 'btn-small', u.disabled ? null : 'btn-danger'],
                disabled: self,
                onclick: async () => {
                  if (!u.disabled && !window.confirm(t('admin.disableConfirm', { user: u.username }))) return;
                  try {
                    await api(`/api/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: { disabled: !u.disabled } });
                    ctx.notify(t(u.disabled ? 'admin.enabled' : 'admin.disabled', { user: u.username }));
                    await loadUsers();
                    changed();
                  } catch (err) {
                    fail(err);
                  }
                },
              },
              u.disabled ? t('admin.enable') : t('admin.disable'),
            );
            const pw = h(
              'button',
              {
                type: 'button',
                class: 'btn btn-small btn-ghost',
                onclick: async () => {
                  const p = window.prompt(t('admin.newPasswordFor', { user: u.username }));
                  if (!p) return;
                  try {
                    await api(`/api/users/${encodeURIComponent(u.username)}`, { method: 'PATCH', body: { password: p } });
                    ctx.notify(t('admin.passwordSet', { user: u.username }));
                    changed();
                  } catch (err) {
                    fail(err);
                  }
                },
              },
              t('admin.setPassword'),
            );
            return h(
              'tr',
              { class: u.disabled ? 'disabled-row' : null, 'data-user': u.username },
              h('th', { scope: 'row', 'data-label': t('admin.username') }, u.username, self ? h('small', { class: 'muted' }, ` (${t('admin.you')})`) : null),
              h('td', { 'data-label': t('admin.role') }, role),
              h('td', { 'data-label': t('admin.state') }, h('span', { class: ['badge', u.disabled ? 'badge-error' : 'badge-ok'] }, u.disabled ? t('admin.stateDisabled') : t('admin.stateActive'))),
              h('td', { 'data-label': t('admin.createdAt') }, f.dateTime(u.createdAt)),
              h('td', { 'data-label': t('admin.lastLoginAt') }, f.dateTime(u.lastLoginAt)),
              h('td', { 'data-label': t('admin.actions') }, h('div', { class: 'btn-row' }, toggle, pw)),
            );
          }),
        ),
      ),
    );
    onUsers(users);
  }

  // Add-user form.
  const nu = {
    username: h('input', { type: 'text', name: 'username', required: true, maxlength: 32, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{1,31}', autocomplete: 'off', autocapitalize: 'none' }),
    password: h('input', { type: 'password', name: 'password', required: true, minlength: 10, maxlength: 256, autocomplete: 'new-password', placeholder: t('admin.passwordHint') }),
    role: select({ name: 'role' }, ROLES.map((r) => ({ value: r, label: t(`role.${r}`) })), 'agent'),
  };
  const addUser = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': t('admin.addUser'),
      onsubmit: async (e) => {
        e.preventDefault();
        if (!e.target.reportValidity()) return;
        try {
          await api('/api/users', { method: 'POST', body: { username: nu.username.value.trim(), password: nu.password.value, role: nu.role.value } });
          ctx.notify(t('admin.userAdded', { user: nu.username.value.trim() }));
          nu.username.value = '';
          nu.password.value = '';
          await loadUsers();
          changed();
        } catch (err) {
          if (err.status === 409) ctx.notify(t('admin.userExists', { user: nu.username.value.trim() }), 'error');
          else fail(err);
        }
      },
    },
    field(t('admin.username'), nu.username),
    field(t('admin.password'), nu.password),
    field(t('admin.role'), nu.role),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.addUser')),
  );

  const section = h('section', { class: 'panel', 'aria-labelledby': 'users-title' }, h('h2', { id: 'users-title' }, t('admin.users')), addUser, usersSlot);
  return { section, load: loadUsers };
}

/** API tokens for integrations: create (the secret is shown once), list, revoke. */
function tokensSection(ctx, fail, changed) {
  const tokensSlot = h('div', { class: 'table-wrap' });
  const newToken = h('div', { 'aria-live': 'polite' });
  async function loadTokens() {
    const items = listOf(await api('/api/tokens'));
    if (!ctx.isCurrent()) return;
    replace(
      tokensSlot,
      items.length
        ? h(
            'table',
            { class: 'table', 'data-testid': 'tokens' },
            h('thead', null, h('tr', null, ['tokenName', 'username', 'createdAt', 'expiresAt', 'actions'].map((k) => h('th', { scope: 'col' }, t(`admin.${k}`))))),
            h(
              'tbody',
              null,
              items.map((tk) =>
                h(
                  'tr',
                  null,
                  h('th', { scope: 'row', 'data-label': t('admin.tokenName') }, tk.name ?? '—'),
                  h('td', { 'data-label': t('admin.username') }, tk.username ?? '—'),
                  h('td', { 'data-label': t('admin.createdAt') }, f.dateTime(tk.createdAt)),
                  h('td', { 'data-label': t('admin.expiresAt') }, f.dateTime(tk.expiresAt)),
                  h(
                    'td',
                    { 'data-label': t('admin.actions') },
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'btn btn-small btn-danger',
                        onclick: async () => {
                          if (!window.confirm(t('admin.revokeConfirm', { name: tk.name ?? tk.id }))) return;
                          try {
                            await api(`/api/tokens/${encodeURIComponent(tk.id)}`, { method: 'DELETE' });
                            ctx.notify(t('admin.revoked'));
                            await loadTokens();
                            changed();
                          } catch (err) {
                            fail(err);
                          }
                        },
                      },
                      t('admin.revoke'),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('admin.noTokens')),
    );
  }

  // New-token form.
  const tokenUser = h('select', { name: 'username' });
  const tokenName = h('input', { type: 'text', name: 'name', required: true, maxlength: 64, placeholder: 'crm-sync', autocomplete: 'off' });
  const tokenDays = h('input', { type: 'number', name: 'expiresInDays', min: 1, max: 3650, value: 90, class: 'num-input' });
  const addToken = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': t('admin.newToken'),
      onsubmit: async (e) => {
        e.preventDefault();
        if (!e.target.reportValidity()) return;
        try {
          const res = await api('/api/tokens', { method: 'POST', body: { username: tokenUser.value, name: tokenName.value.trim(), expiresInDays: Number(tokenDays.value) || undefined } });
          const secret = h('input', { type: 'text', readonly: true, value: res?.token ?? '', class: 'mono secret', 'aria-label': t('admin.tokenSecret') });
          replace(
            newToken,
            h(
              'div',
              { class: 'banner banner-ok', role: 'status' },
              h('strong', null, t('admin.tokenCreated')),
              h('span', null, t('admin.tokenOnce')),
              secret,
              h('button', { type: 'button', class: 'btn btn-small', onclick: () => { secret.select(); navigator.clipboard?.writeText(secret.value).then(() => ctx.notify(t('admin.copied')), () => undefined); } }, t('admin.copy')),
            ),
          );
          secret.select();
          tokenName.value = '';
          await loadTokens();
          changed();
        } catch (err) {
          fail(err);
        }
      },
    },
    field(t('admin.tokenUser'), tokenUser),
    field(t('admin.tokenName'), tokenName),
    field(t('admin.expiresInDays'), tokenDays),
    h('button', { type: 'submit', class: 'btn btn-primary' }, t('admin.createToken')),
  );

  const section = h('section', { class: 'panel', 'aria-labelledby': 'tokens-title' }, h('h2', { id: 'tokens-title' }, t('admin.tokens')), h('p', { class: 'muted small' }, t('admin.tokensIntro')), addToken, newToken, tokensSlot);
  /** The token form's user list follows the users (enabled ones). */
  const setUsers = (users) => replace(tokenUser, ...users.filter((u) => !u.disabled).map((u) => h('option', { value: u.username, selected: u.username === ctx.user.username }, u.username)));
  return { section, load: loadTokens, setUsers };
}

/** Canned replies (快捷回复) per language: a list with edit and delete, and one form to add or change one. */
function cannedSection(ctx, fail) {
  const cannedSlot = h('div', { class: 'table-wrap' });
  const cf = {
    lang: select({ name: 'lang', 'data-testid': 'canned-lang' }, CANNED_LANGS.map((l) => ({ value: l, label: t(`langs.${l}`) })), 'zh-Hans'),
    title: h('input', { type: 'text', name: 'title', required: true, maxlength: 60, autocomplete: 'off', 'data-testid': 'canned-title' }),
    text: h('textarea', { name: 'text', rows: 3, required: true, maxlength: 2000, 'data-testid': 'canned-text' }),
  };
  let editing = null;
  const cannedSubmit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-action': 'canned-save' }, t('canned.add'));
  const cancelEdit = h('button', { type: 'button', class: 'btn', hidden: true }, t('canned.cancel'));
  const resetCanned = () => {
    editing = null;
    cf.title.value = '';
    cf.text.value = '';
    cannedSubmit.textContent = t('canned.add');
    cancelEdit.hidden = true;
  };
  cancelEdit.onclick = resetCanned;
  async function loadCanned() {
    const items = listOf(await api('/api/canned-replies'));
    if (!ctx.isCurrent()) return;
    replace(
      cannedSlot,
      items.length
        ? h(
            'table',
            { class: 'table', 'data-testid': 'canned-list' },
            h('thead', null, h('tr', null, ['lang', 'title', 'text', 'actions'].map((k) => h('th', { scope: 'col' }, t(`canned.${k}`))))),
            h(
              'tbody',
              null,
              items.map((c) =>
                h(
                  'tr',
                  null,
                  h('td', { 'data-label': t('canned.lang') }, t(`langs.${c.lang}`)),
                  h('td', { 'data-label': t('canned.title') }, c.title),
                  h('td', { 'data-label': t('canned.text'), class: 'break' }, c.text),
                  h(
                    'td',
                    { 'data-label': t('canned.actions'), class: 'nowrap' },
                    h('button', { type: 'button', class: 'btn btn-small', onclick: () => { editing = c.id; cf.lang.value = c.lang; cf.title.value = c.title; cf.text.value = c.text; cannedSubmit.textContent = t('canned.save'); cancelEdit.hidden = false; cf.title.focus(); } }, t('canned.edit')),
                    h(
                      'button',
                      {
                        type: 'button',
                        class: 'btn btn-small btn-danger',
                        onclick: async () => {
                          if (!window.confirm(t('canned.confirmDelete', { title: c.title }))) return;
                          try {
                            await api(`/api/canned-replies/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
                            ctx.notify(t('canned.deleted', { title: c.title }));
                            await loadCanned();
                          } catch (err) {
                            fail(err);
                          }
                        },
                      },
                      t('canned.delete'),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('canned.empty')),
    );
  }
  const cannedForm = h(
    'form',
    {
      class: 'stack',
      'aria-label': t('canned.add'),
      onsubmit: async (e) => {
        e.preventDefault();
        if (!e.target.reportValidity()) return;
        const body = { lang: cf.lang.value, title: cf.title.value.trim(), text: cf.text.value.trim() };
        try {
          if (editing) await api(`/api/canned-replies/${encodeURIComponent(editing)}`, { method: 'PUT', body });
          else await api('/api/canned-replies', { method: 'POST', body });
          ctx.notify(t('canned.saved', { title: body.title }));
          resetCanned();
          await loadCanned();
        } catch (err) {
          fail(err);
        }
      },
    },
    h('div', { class: 'filter-grid' }, field(t('canned.lang'), cf.lang), field(t('canned.title'), cf.title)),
    field(t('canned.text'), cf.text, t('canned.variables')),
    h('div', { class: 'actions' }, cannedSubmit, cancelEdit),
  );

  const section = h('section', { class: 'panel', 'aria-labelledby': 'canned-title' }, h('h2', { id: 'canned-title' }, t('canned.heading')), h('p', { class: 'muted small' }, t('canned.intro')), cannedForm, cannedSlot);
  return { section, load: loadCanned };
}

/** The audit log, 20 entries a page. */
function auditSection(ctx, fail) {
  const auditSlot = h('div', { class: 'table-wrap' });
  let auditPage = 1;
  async function loadAudit() {
    const res = await api('/api/audit', { query: { page: auditPage, pageSize: 20 } });
    if (!ctx.isCurrent()) return;
    const items = listOf(res);
    const total = Number(res?.total ?? items.length);
    const pages = Math.max(1, Math.ceil(total / 20));
    replace(
      auditSlot,
      items.length
        ? h(
            'table',
            { class: 'table compact', 'data-testid': 'audit' },
            h('thead', null, h('tr', null, ['at', 'actor', 'action', 'target', 'details'].map((k) => h('th', { scope: 'col' }, t(`admin.audit.${k}`))))),
            h(
              'tbody',
              null,
              items.map((e) =>
                h(
                  'tr',
                  null,
                  h('td', { 'data-label': t('admin.audit.at'), class: 'nowrap' }, f.dateTime(e.at)),
                  h('td', { 'data-label': t('admin.audit.actor') }, e.actor ?? '—'),
                  h('td', { 'data-label': t('admin.audit.action'), class: 'mono small' }, e.action ?? '—'),
                  h('td', { 'data-label': t('admin.audit.target') }, e.target && /^T\d{8}-/.test(e.target) ? h('a', { href: `#/tickets/${encodeURIComponent(e.target)}` }, e.target) : (e.target ?? '—')),
                  h('td', { 'data-label': t('admin.audit.details'), class: 'mono small break' }, e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : '—'),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, t('admin.audit.none')),
      pages > 1
        ? h(
            'nav',
            { class: 'pager', 'aria-label': t('pager.label') },
            h('button', { type: 'button', class: 'btn', disabled: auditPage <= 1, onclick: () => { auditPage--; loadAudit().catch(fail); } }, t('pager.prev')),
            h('span', { class: 'pager-info' }, t('pager.info', { page: auditPage, pages, total })),
            h('button', { type: 'button', class: 'btn', disabled: auditPage >= pages, onclick: () => { auditPage++; loadAudit().catch(fail); } }, t('pager.next')),
          )
        : null,
    );
  }

  const section = h('section', { class: 'panel', 'aria-labelledby': 'audit-title' }, h('h2', { id: 'audit-title' }, t('admin.auditLog')), auditSlot);
  return { section, load: loadAudit };
}
