// Login: a token (docs/security.md "Tokens and roles") is exchanged for a
// session cookie; the token is not stored by the browser.
import { api, setCsrf } from '../api.js';
import { h, fill, errorBox } from '../dom.js';

export function render(view, ctx, done) {
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off',
                             placeholder: 'pgd_…', 'data-testid': 'token' });
  const msg = h('div');
  const form = h('form', { class: 'login', 'data-testid': 'login' },
    h('h1', null, 'Pagoda'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { class: 'muted' }, 'The admin token of a dev daemon is in DATA/admin.token; ',
      'other tokens come from "pagoda token create".'),
    msg,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(msg);
    try {
      const s = await api('POST', '/api/v1/session', { token: input.value.trim() });
      setCsrf(s.csrf_token);
      input.value = '';
      await done();
    } catch (e) {
      fill(msg, errorBox(e, 'login-error'));
    }
  });
  fill(view, form);
  input.focus();
}
