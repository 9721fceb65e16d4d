/** Login: POST /api/auth/login → session token in sessionStorage. */
import { api, saveSession } from '../api.js';
import { field, h, replace } from '../dom.js';
import { t } from '../i18n.js';

export async function render(ctx) {
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, maxlength: 32, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, maxlength: 256 });
  const message = h('p', { class: 'form-message', role: 'alert', 'data-testid': 'login-message' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('login.submit'));
  if (ctx.query.get('reason') === 'expired') {
    message.textContent = t('login.expired');
    message.className = 'form-message warn';
  }
  const form = h(
    'form',
    {
      class: 'login-form',
      novalidate: true,
      'aria-labelledby': 'login-title',
      onsubmit: async (e) => {
        e.preventDefault();
        if (!username.value.trim() || !password.value) {
          message.className = 'form-message error';
          message.textContent = t('login.missing');
          (username.value.trim() ? password : username).focus();
          return;
        }
        submit.disabled = true;
        message.className = 'form-message';
        message.textContent = t('login.signingIn');
        try {
          const res = await api('/api/auth/login', { method: 'POST', body: { username: username.value.trim(), password: password.value }, auth: false });
          saveSession(res.token, res.user);
          ctx.afterLogin();
        } catch (err) {
          message.className = 'form-message error';
          if (err.status === 401) message.textContent = t('login.bad');
          else if (err.status === 429) {
            const s = err.retryAfter ?? err.details?.retryAfterSeconds ?? 60;
            message.textContent = t('login.locked', { s, m: Math.ceil(s / 60) });
          } else if (err.status === 400) message.textContent = t('login.invalid');
          else message.textContent = ctx.errorText(err);
          password.value = '';
          password.focus();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('h1', { id: 'login-title' }, t('login.title')),
    h('p', { class: 'muted' }, t('login.intro')),
    field(t('login.username'), username),
    field(t('login.password'), password),
    message,
    submit,
  );
  replace(ctx.root, h('section', { class: 'login' }, form));
  username.focus();
}
