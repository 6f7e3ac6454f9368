// Jobs: the list (searched and paged on the server), the JSON editor (the server validates; its
// error is shown under the editor), run with params, delete. Buttons appear
// only for roles that may use them (docs/security.md "Tokens and roles").
import { api, can } from '../api.js';
import { h, fill, errorBox, when } from '../dom.js';
import { schemaForm, paramOfError } from '../schema_form.js';
import { pluginFrame } from '../plugin_view.js';

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

// The list is paged and searched on the server (GET /api/v1/jobs?q&limit&after,
// docs/api.md "Paging"), so it stays fast with any number of jobs; the
// address keeps the search and the page (?q=...&after=NAME).
const PAGE = 50;

function renderList(view, ctx, search) {
  const role = ctx.me.role;
  const q = h('input', { type: 'search', placeholder: 'search name or type', value: search.get('q') || '',
                         'data-testid': 'job-search' });
  const msg = h('div');
  const table = h('div', { 'data-testid': 'jobs' }, h('p', { class: 'muted' }, 'Loading…'));
  let after = search.get('after') || '';
  const pageStarts = []; // the `after` of each page before this one (for Previous)
  let seq = 0; // answers to older requests (a search typed on) are dropped
  const address = () => {
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (after) p.set('after', after);
    return `/jobs${p.toString() ? `?${p}` : ''}`;
  };
  const draw = (jobs, nextAfter) => {
    const pager = h('p', { class: 'toolbar' },
      (after || pageStarts.length > 0) && h('button', { type: 'button', 'data-testid': 'jobs-first',
        onclick: () => { pageStarts.length = 0; after = ''; load(); } }, 'First'),
      pageStarts.length > 0 && h('button', { type: 'button', 'data-testid': 'jobs-prev',
        onclick: () => { after = pageStarts.pop(); load(); } }, 'Previous'),
      nextAfter && h('button', { type: 'button', 'data-testid': 'jobs-next',
        onclick: () => { pageStarts.push(after); after = nextAfter; load(); } }, 'Next'));
    if (!jobs.length) {
      fill(table, h('p', { class: 'muted' }, q.value.trim() || after ? 'No job matches.' : 'No job defined yet.'), pager);
      return;
    }
    fill(table, h('table', null,
      h('tr', null, ['name', 'type', 'description', 'updated', ''].map((t) => h('th', null, t))),
      jobs.map((j) => h('tr', { 'data-job': j.name },
        h('td', null, h('a', { href: `/jobs/${encodeURIComponent(j.name)}` }, j.name)),
        h('td', null, j.type), h('td', null, j.description || ''), h('td', null, when(j.updated_at)),
        h('td', null,
          can(role, 'operator') && h('button', { type: 'button', 'data-testid': 'run',
            onclick: () => runJob(ctx, j.name, '', msg) }, 'Run'), ' ',
          h('a', { class: 'button', href: `/executions?job=${encodeURIComponent(j.name)}` }, 'Executions'), ' ',
          can(role, 'admin') && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete',
            onclick: () => deleteJob(ctx, j.name, msg) }, 'Delete'))))), pager);
  };
  const load = async () => {
    const mine = ++seq;
    history.replaceState(null, '', address());
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (q.value.trim()) p.set('q', q.value.trim());
    if (after) p.set('after', after);
    try {
      const r = await api('GET', `/api/v1/jobs?${p}`);
      if (mine === seq) draw(r.jobs, r.next_after);
    } catch (e) {
      if (mine === seq) fill(table, errorBox(e));
    }
  };
  // Typing searches from the first page, once the typing pauses.
  let typing = null;
  q.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { pageStarts.length = 0; after = ''; load(); }, 200);
  });
  fill(view, h('h1', null, 'Jobs'),
    h('div', { class: 'toolbar' }, q,
      can(role, 'admin') && h('a', { class: 'button', href: '/jobs/new', 'data-testid': 'new-job' }, 'New job')),
    msg, table);
  load();
  return () => clearTimeout(typing);
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
      params.showServerError(e.message);
    }
  };
  const params = paramsPanel(text, can(role, 'admin'));
  fill(view, h('h1', null, isNew ? 'New job' : `Job ${name}`),
    h('p', { class: 'muted' }, 'The definition as JSON (docs/api.md "Jobs"), and a form for its params ',
      'made from the schema its job type declares; each follows the other. ',
      'The server checks it when it is saved; its answer shows here.'),
    h('div', { class: 'editor' }, text, params.el),
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
    params.sync();
    return params.stop;
  }
  api('GET', `/api/v1/jobs/${encodeURIComponent(name)}`).then((job) => {
    for (const k of SERVER_FIELDS) delete job[k];
    text.value = JSON.stringify(job, null, 2);
    params.sync();
  }).catch((e) => fill(msg, errorBox(e)));
  return params.stop;
}

/** The params form beside the JSON `text`: the generated form of the job
 * type's schema, and the plugin's own form view when it ships one
 * (plugin_view.js). The JSON stays the source of truth: the form writes the
 * keys it declares into it, and is redrawn from it on every edit. */
function paramsPanel(text, editable) {
  const el = h('div', { 'data-testid': 'params-panel' }, h('p', { class: 'muted' }, 'Loading the job types…'));
  let plugins = null; // type → plugin entry of GET /api/v1/plugins
  let shownType;      // the type the panel was drawn for
  let form = null;
  let frame = null;
  const parse = () => {
    try {
      const d = JSON.parse(text.value);
      return d && typeof d === 'object' && !Array.isArray(d) ? d : null;
    } catch (e) { return null; }
  };
  const paramsOf = (def) => (def.params && typeof def.params === 'object' && !Array.isArray(def.params) ? def.params : {});
  const frameData = (def) => ({ type: def.type, schema: plugins[def.type].params || [], params: paramsOf(def) });
  const write = (def) => {
    text.value = JSON.stringify(def, null, 2);
    if (form) form.set(paramsOf(def));
    if (frame) frame.update(frameData(def));
  };
  const fromForm = (values) => {
    const def = parse();
    if (!def) return;
    const p = paramsOf(def);
    for (const [k, v] of Object.entries(values)) { if (v === undefined) delete p[k]; else p[k] = v; }
    def.params = p;
    write(def);
  };
  const fromFrame = (p) => {
    const def = parse();
    if (!def || !editable) return;
    def.params = p;
    write(def);
  };
  const draw = (def) => {
    if (frame) { frame.stop(); frame = null; }
    form = null;
    shownType = def.type;
    const p = plugins[def.type];
    if (!p) {
      fill(el, h('p', { class: 'muted', 'data-testid': 'no-schema' },
        typeof def.type === 'string' ? `No loaded job type "${def.type}": edit the params as JSON.` : 'Set "type" to get a params form.'));
      return;
    }
    form = schemaForm(p.params || [], fromForm);
    if ((p.console || []).includes('form')) frame = pluginFrame(def.type, 'form', frameData(def), fromFrame);
    fill(el, h('h2', null, `Params of ${def.type}`),
      h('fieldset', { class: 'plain', disabled: !editable }, form.el),
      frame && [h('h3', null, `The ${def.type} plugin's own form`), frame.el]);
  };
  const sync = () => {
    if (!plugins) return;
    const def = parse();
    if (!def) {
      if (form) form.clearErrors();
      return; // the JSON is being typed: the form keeps its last state
    }
    if (def.type !== shownType) draw(def);
    else if (form) form.clearErrors(); // the JSON changed: a server error may no longer apply
    if (form) form.set(paramsOf(def));
    if (frame) frame.update(frameData(def));
  };
  text.addEventListener('input', sync);
  api('GET', '/api/v1/plugins').then((r) => {
    plugins = {};
    for (const p of r.plugins) if (p.status === 'loaded') plugins[p.type] = p;
    shownType = undefined;
    sync();
  }).catch((e) => fill(el, errorBox(e)));
  return {
    el, sync,
    /** Puts a server message naming params.KEY under that key's field. */
    showServerError(message) {
      const key = paramOfError(message);
      if (form && key) form.showError(key, message);
    },
    stop() { if (frame) frame.stop(); },
  };
}

export function render(view, ctx, params, search) {
  const path = location.pathname;
  if (path === '/jobs') return renderList(view, ctx, search);
  return renderEditor(view, ctx, path === '/jobs/new' ? undefined : params[0]);
}
