// Jobs: the list (searchable), the JSON editor (the server validates; its
// error is shown under the editor), run with params, delete. Buttons appear
// only for roles that may use them (docs/security.md "Tokens and roles").
import { api, can } from '../api.js';
import { h, fill, errorBox, when } from '../dom.js';

const TEMPLATE = { name: 'hello', type: 'shell', params: { script: 'echo hello from pagoda' }, timeout: 60 };

// Fields the server adds to a stored job; not part of what is edited.
const SERVER_FIELDS = ['created_at', 'updated_at', 'created_us', 'updated_us'];

async function runJob(ctx, name, paramsText, msg) {
  fill(msg);
  let body = {};
  if (paramsText && paramsText.trim()) {
    try { body = { params: JSON.parse(paramsText) }; } catch (e) {
      fill(msg, errorBox(new Error(`params: ${e.message}`), 'run-error'));
      return;
    }
  }
  try {
    const r = await api('POST', `/api/v1/jobs/${encodeURIComponent(name)}/run`, body);
    ctx.navigate(`/executions/${r.execution_id}`);
  } catch (e) {
    fill(msg, errorBox(e, 'run-error'));
  }
}

async function deleteJob(ctx, name, msg) {
  if (!confirm(`Delete job ${name}? Its executions stay in the history.`)) return;
  try {
    await api('DELETE', `/api/v1/jobs/${encodeURIComponent(name)}`);
    ctx.navigate('/jobs');
  } catch (e) {
    fill(msg, errorBox(e));
  }
}

function renderList(view, ctx, search) {
  const role = ctx.me.role;
  const q = h('input', { type: 'search', placeholder: 'search name or type', value: search.get('q') || '',
                         'data-testid': 'job-search' });
  const msg = h('div');
  const table = h('div', { 'data-testid': 'jobs' }, h('p', { class: 'muted' }, 'Loading…'));
  let jobs = [];
  const draw = () => {
    const needle = q.value.trim().toLowerCase();
    const shown = jobs.filter((j) => !needle || j.name.toLowerCase().includes(needle) ||
                                     String(j.type).toLowerCase().includes(needle));
    if (!shown.length) {
      fill(table, h('p', { class: 'muted' }, jobs.length ? 'No job matches.' : 'No job defined yet.'));
      return;
    }
    fill(table, h('table', null,
      h('tr', null, ['name', 'type', 'description', 'updated', ''].map((t) => h('th', null, t))),
      shown.map((j) => h('tr', { 'data-job': j.name },
        h('td', null, h('a', { href: `/jobs/${encodeURIComponent(j.name)}` }, j.name)),
        h('td', null, j.type), h('td', null, j.description || ''), h('td', null, when(j.updated_at)),
        h('td', null,
          can(role, 'operator') && h('button', { type: 'button', 'data-testid': 'run',
            onclick: () => runJob(ctx, j.name, '', msg) }, 'Run'), ' ',
          h('a', { class: 'button', href: `/executions?job=${encodeURIComponent(j.name)}` }, 'Executions'), ' ',
          can(role, 'admin') && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete',
            onclick: () => deleteJob(ctx, j.name, msg) }, 'Delete'))))));
  };
  q.addEventListener('input', draw);
  fill(view, h('h1', null, 'Jobs'),
    h('div', { class: 'toolbar' }, q,
      can(role, 'admin') && h('a', { class: 'button', href: '/jobs/new', 'data-testid': 'new-job' }, 'New job')),
    msg, table);
  api('GET', '/api/v1/jobs').then((r) => { jobs = r.jobs; draw(); })
    .catch((e) => fill(table, errorBox(e)));
}

function renderEditor(view, ctx, name) {
  const role = ctx.me.role;
  const isNew = name === undefined;
  const text = h('textarea', { spellcheck: 'false', 'data-testid': 'job-json', readonly: !can(role, 'admin') });
  const msg = h('div', { 'data-testid': 'editor-message' });
  const runParams = h('input', { type: 'text', size: 50, placeholder: '{"key": "value"} (optional)',
                                 'data-testid': 'run-params' });
  const runMsg = h('div');
  const save = async () => {
    fill(msg);
    let def;
    try { def = JSON.parse(text.value); } catch (e) {
      fill(msg, errorBox(new Error(`not valid JSON: ${e.message}`), 'editor-error'));
      return;
    }
    try {
      const stored = await api('POST', '/api/v1/jobs', def);
      const saved = `Saved job ${stored.name}.`;
      if (isNew || stored.name !== name) {
        ctx.flash = saved; // shown by the page navigated to
        ctx.navigate(`/jobs/${encodeURIComponent(stored.name)}`, true);
      } else {
        fill(msg, h('p', { 'data-testid': 'saved' }, saved));
      }
    } catch (e) {
      fill(msg, errorBox(e, 'editor-error'));
    }
  };
  fill(view, h('h1', null, isNew ? 'New job' : `Job ${name}`),
    h('p', { class: 'muted' }, 'The definition as JSON (docs/api.md "Jobs"). ',
      'The server checks it when it is saved; its answer shows here.'),
    text,
    h('div', { class: 'toolbar' },
      can(role, 'admin') && h('button', { type: 'button', class: 'primary', 'data-testid': 'save', onclick: save }, 'Save'),
      !isNew && can(role, 'admin') && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete',
        onclick: () => deleteJob(ctx, name, msg) }, 'Delete'),
      !isNew && h('a', { class: 'button', href: `/executions?job=${encodeURIComponent(name)}` }, 'Executions')),
    msg,
    !isNew && can(role, 'operator') && h('div', null, h('h2', null, 'Run'),
      h('div', { class: 'toolbar' }, h('label', null, 'params '), runParams,
        h('button', { type: 'button', class: 'primary', 'data-testid': 'run',
          onclick: () => runJob(ctx, name, runParams.value, runMsg) }, 'Run now')), runMsg));
  if (ctx.flash) {
    fill(msg, h('p', { 'data-testid': 'saved' }, ctx.flash));
    ctx.flash = null;
  }
  if (isNew) {
    text.value = JSON.stringify(TEMPLATE, null, 2);
    return;
  }
  api('GET', `/api/v1/jobs/${encodeURIComponent(name)}`).then((job) => {
    for (const k of SERVER_FIELDS) delete job[k];
    text.value = JSON.stringify(job, null, 2);
  }).catch((e) => fill(msg, errorBox(e)));
}

export function render(view, ctx, params, search) {
  const path = location.pathname;
  if (path === '/jobs') return renderList(view, ctx, search);
  return renderEditor(view, ctx, path === '/jobs/new' ? undefined : params[0]);
}
