// Resources: named, versioned files jobs list in `resources`
// (docs/resources.md). The list pages on the server (?limit&after); a
// resource's page shows its versions with download links; admins upload a
// new version and delete a version or the whole resource.
import { api, apiUpload, can } from '../api.js';
import { h, fill, when, errorBox } from '../dom.js';

const PAGE = 50;

function size(n) {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function uploadForm(ctx, fixedName, msg, done) {
  const name = h('input', { type: 'text', placeholder: 'name (e.g. etl.jar)', value: fixedName || '',
                            readonly: !!fixedName, 'data-testid': 'resource-name' });
  const file = h('input', { type: 'file', 'data-testid': 'resource-file' });
  const form = h('form', { class: 'toolbar' }, h('strong', null, fixedName ? 'New version ' : 'Upload '), name, file,
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'upload' }, 'Upload'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fill(msg);
    const n = name.value.trim();
    if (!n || !file.files.length) { fill(msg, errorBox(new Error('choose a name and a file'))); return; }
    try {
      const r = await apiUpload('PUT', `/api/v1/resources/${encodeURIComponent(n)}`, file.files[0]);
      fill(msg, h('p', { 'data-testid': 'uploaded' }, `Uploaded ${r.name}, version ${r.version.slice(0, 12)}… (${size(r.size)}).`));
      done(r);
    } catch (e) { fill(msg, errorBox(e, 'upload-error')); }
  });
  return form;
}

function renderList(view, ctx, search) {
  const msg = h('div');
  const table = h('div', { 'data-testid': 'resources' }, h('p', { class: 'muted' }, 'Loading…'));
  const after = search.get('after');
  fill(view, h('h1', null, 'Resources'),
    can(ctx.me.role, 'admin') && uploadForm(ctx, null, msg, (r) => ctx.navigate(`/resources/${encodeURIComponent(r.name)}`)),
    msg, table);
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (after) q.set('after', after);
  api('GET', `/api/v1/resources?${q}`).then((r) => {
    const rows = r.resources;
    fill(table, rows.length ? h('table', null,
      h('tr', null, ['name', 'latest version', 'size', 'versions', 'updated'].map((t) => h('th', null, t))),
      rows.map((x) => h('tr', { 'data-resource': x.name },
        h('td', null, h('a', { href: `/resources/${encodeURIComponent(x.name)}` }, x.name)),
        h('td', null, h('code', null, String(x.latest || '').slice(0, 12))), h('td', null, size(x.size)),
        h('td', null, String(x.versions_count ?? '')), h('td', null, when(x.updated_at))))) :
      h('p', { class: 'muted' }, 'No resource uploaded yet.'),
    h('div', { class: 'toolbar' },
      after && h('a', { class: 'button', href: '/resources' }, 'First page'),
      r.next_after && h('a', { class: 'button', 'data-testid': 'next', href: `/resources?after=${encodeURIComponent(r.next_after)}` }, 'Next')));
  }).catch((e) => fill(table, errorBox(e)));
}

function renderOne(view, ctx, name) {
  const admin = can(ctx.me.role, 'admin');
  const msg = h('div');
  const body = h('div', { 'data-testid': 'resource' }, h('p', { class: 'muted' }, 'Loading…'));
  const path = `/api/v1/resources/${encodeURIComponent(name)}`;
  const load = () => api('GET', `${path}/versions`).then((r) => {
    fill(body, h('dl', { class: 'props' },
      h('dt', null, 'latest'), h('dd', null, h('code', null, r.latest)),
      h('dt', null, 'size'), h('dd', null, size(r.size)),
      h('dt', null, 'versions'), h('dd', null, String(r.versions_count))),
    h('h2', null, 'Versions'),
    h('table', null,
      h('tr', null, ['version', 'size', 'uploaded', ''].map((t) => h('th', null, t))),
      r.versions.map((v) => h('tr', { 'data-version': v.version },
        h('td', null, h('code', null, v.version.slice(0, 16)), v.latest ? ' (latest)' : ''),
        h('td', null, size(v.size)), h('td', null, when(v.uploaded_at)),
        h('td', null,
          h('a', { class: 'button', 'data-testid': 'download', download: name,
                   href: `${path}?version=${v.version}` }, 'Download'), ' ',
          admin && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-version',
            onclick: () => remove(`${path}?version=${v.version}`, `version ${v.version.slice(0, 12)}… of ${name}`) }, 'Delete'))))));
  }).catch((e) => fill(body, errorBox(e)));
  const remove = async (target, what) => {
    if (!confirm(`Delete ${what}?`)) return;
    fill(msg);
    try {
      await api('DELETE', target);
      if (target === path) ctx.navigate('/resources'); else await load();
    } catch (e) {
      if (e.status === 404 && target !== path) ctx.navigate('/resources'); // its last version
      else fill(msg, errorBox(e));
    }
  };
  fill(view, h('h1', null, `Resource ${name}`),
    h('div', { class: 'toolbar' }, h('a', { class: 'button', href: '/resources' }, 'All resources'),
      admin && h('button', { type: 'button', class: 'danger', 'data-testid': 'delete',
        onclick: () => remove(path, `${name} and all its versions`) }, 'Delete resource')),
    admin && uploadForm(ctx, name, msg, () => load()),
    msg, body);
  load();
}

export function render(view, ctx, params, search) {
  if (params[0] !== undefined) return renderOne(view, ctx, params[0]);
  return renderList(view, ctx, search);
}
