// Editors of flows and schedules (docs/console.md "Editing flows and
// schedules"): the definition as JSON, saved with POST (create, or replace
// by name); the master validates it and its error is shown under the editor,
// as in the job editor. A flow's DAG is drawn again as its JSON is edited
// (graph_layout.js + flow_graph.js). Save and Delete are for admins; other
// roles see the definition read-only.
import { api, can } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { drawFlowGraph } from '../flow_graph.js';

const FLOW_TEMPLATE = {
  name: 'my-flow',
  description: 'a → (b, c) → d',
  nodes: [
    { id: 'a', job: 'hello' },
    { id: 'b', job: 'hello', depends_on: ['a'] },
    { id: 'c', job: 'hello', depends_on: ['a'] },
    { id: 'd', job: 'hello', depends_on: ['b', 'c'] },
  ],
};
const SCHEDULE_TEMPLATE = { name: 'nightly', job: 'hello', cron: '0 2 * * *', timezone: 'UTC' };

// Fields of the API's views that are not part of a definition (docs/api.md
// "Schedules": "The view adds to the definition ...").
const FLOW_VIEW_FIELDS = ['created_us', 'created_at', 'updated_us', 'updated_at'];
const SCHEDULE_VIEW_FIELDS = ['next_fire_us', 'next_fire_at', 'last_fired_us', 'last_fired_at',
  'last_execution_id', 'checkpoint_us', 'created_us', 'created_at', 'updated_us', 'updated_at', 'running',
  'next', 'next_us', 'runs'];

const PREVIEW_DELAY_MS = 150; // redraw once typing pauses

/** The DAG of the flow JSON in `text`, drawn into `box` (a note instead
 * when the JSON cannot be drawn yet; the last good drawing stays). */
function flowPreview(text) {
  const note = h('p', { class: 'muted', 'data-testid': 'preview-note' });
  const graph = h('div', { 'data-testid': 'flow-preview' });
  const el = h('div', { class: 'flow-preview' }, h('h2', null, 'Preview'), note, graph);
  let timer = null;
  const draw = () => {
    timer = null;
    let def;
    try { def = JSON.parse(text.value); } catch (e) {
      fill(note, `Not valid JSON yet: ${e.message}`);
      return;
    }
    const nodes = def && Array.isArray(def.nodes) ? def.nodes : null;
    if (!nodes || !nodes.every((n) => n && typeof n === 'object' && typeof n.id === 'string' &&
                                     (n.depends_on === undefined || Array.isArray(n.depends_on)))) {
      fill(note, '"nodes" must be a list of {"id": ..., "job": ..., "depends_on": [...]}.');
      return;
    }
    const ids = new Set(nodes.map((n) => n.id));
    const unknown = nodes.flatMap((n) => (n.depends_on || []).filter((d) => !ids.has(d)).map((d) => `${n.id} → ${d}`));
    fill(note, `${nodes.length} node${nodes.length === 1 ? '' : 's'}`,
      unknown.length ? ` · unknown in depends_on: ${unknown.join(', ')}` : '',
      ' · the master checks the rest when it is saved.');
    fill(graph, drawFlowGraph(nodes, null, false).el);
  };
  text.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(draw, PREVIEW_DELAY_MS);
  });
  return { el, draw, stop: () => clearTimeout(timer) };
}

/**
 * One editor page. kind: 'flow' | 'schedule'; name: undefined for a new one.
 * Answers the page's cleanup function.
 */
function renderEditor(view, ctx, kind, name) {
  const admin = can(ctx.me.role, 'admin');
  const isNew = name === undefined;
  const plural = `${kind}s`;
  const base = `/api/v1/${plural}`;
  const text = h('textarea', { spellcheck: 'false', 'data-testid': `${kind}-json`, readonly: !admin });
  const msg = h('div', { 'data-testid': 'editor-message' });
  const preview = kind === 'flow' ? flowPreview(text) : null;
  const after = (stored) => (kind === 'flow' ? `/flows/${encodeURIComponent(stored.name)}` : '/schedules');
  const save = async () => {
    fill(msg);
    let def;
    try { def = JSON.parse(text.value); } catch (e) {
      fill(msg, errorBox(new Error(`not valid JSON: ${e.message}`), 'editor-error'));
      return;
    }
    try {
      const stored = await api('POST', base, def);
      ctx.flash = `Saved ${kind} ${stored.name}.`;
      ctx.navigate(after(stored));
    } catch (e) {
      fill(msg, errorBox(e, 'editor-error'));
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${kind} ${name}? Its history stays.`)) return;
    try {
      await api('DELETE', `${base}/${encodeURIComponent(name)}`);
      ctx.flash = `Deleted ${kind} ${name}.`;
      ctx.navigate(`/${plural}`);
    } catch (e) { fill(msg, errorBox(e)); }
  };
  const doc = kind === 'flow' ? 'docs/flows.md' : 'docs/schedules.md';
  fill(view, h('h1', null, isNew ? `New ${kind}` : `Edit ${kind} ${name}`),
    h('p', { class: 'muted' }, `The definition as JSON (${doc}). Saving with the name of an existing ${kind} `,
      'replaces it; the master checks it and its answer shows here.'),
    h('div', { class: kind === 'flow' ? 'editor' : '' }, text, preview && preview.el),
    h('div', { class: 'toolbar' },
      admin && h('button', { type: 'button', class: 'primary', 'data-testid': 'save', onclick: save }, 'Save'),
      !isNew && admin && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete', onclick: remove }, 'Delete'),
      h('a', { class: 'button', href: isNew || kind === 'schedule' ? `/${plural}` : `/flows/${encodeURIComponent(name)}` }, 'Back')),
    msg);
  const show = (def) => {
    text.value = JSON.stringify(def, null, 2);
    if (preview) preview.draw();
  };
  if (isNew) show(kind === 'flow' ? FLOW_TEMPLATE : SCHEDULE_TEMPLATE);
  else {
    api('GET', `${base}/${encodeURIComponent(name)}`).then((def) => {
      for (const k of kind === 'flow' ? FLOW_VIEW_FIELDS : SCHEDULE_VIEW_FIELDS) delete def[k];
      show(def);
    }).catch((e) => fill(msg, errorBox(e)));
  }
  return () => { if (preview) preview.stop(); };
}

/** /flows/new, /flows/NAME/edit */
export function renderFlowEditor(view, ctx, params) { return renderEditor(view, ctx, 'flow', params[0]); }
/** /schedules/new, /schedules/NAME/edit */
export function renderScheduleEditor(view, ctx, params) { return renderEditor(view, ctx, 'schedule', params[0]); }
/** The two editors as page modules of app.js's route table. */
export const flowEditor = { render: renderFlowEditor };
export const scheduleEditor = { render: renderScheduleEditor };

/** The flash message a saving or deleting editor left for the page it
 * opened (ctx.flash), as an element, or null. */
export function takeFlash(ctx) {
  if (!ctx.flash) return null;
  const el = h('p', { class: 'ok', 'data-testid': 'saved' }, ctx.flash);
  ctx.flash = null;
  return el;
}
