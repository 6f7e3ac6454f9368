// Pagoda console — a form generated from a job type's params schema
// (GET /api/v1/plugins: key, type, required, default, description), kept in
// sync with the raw JSON by the job editor (docs/console.md "The params
// form"). One field per declared key; an empty field means the key is left
// out (the type's default applies). Keys the schema does not declare stay
// in the JSON untouched.
import { h, fill } from './dom.js';

// How each schema type is edited and read back. read() returns undefined
// for an empty field, or throws an Error naming what is wrong.
const KINDS = {
  bool: {
    make: () => h('select', null, h('option', { value: '' }, '(not set)'), h('option', { value: 'true' }, 'true'),
      h('option', { value: 'false' }, 'false')),
    show: (v) => (v === true ? 'true' : v === false ? 'false' : ''),
    read: (s) => (s === '' ? undefined : s === 'true'),
  },
  number: { make: () => h('input', { type: 'number', step: 'any' }), show: showScalar,
            read: (s) => (s === '' ? undefined : Number(s)) },
  integer: { make: () => h('input', { type: 'number', step: '1' }), show: showScalar,
             read: (s) => { if (s === '') return undefined; const n = Number(s); if (!Number.isInteger(n)) throw new Error('must be an integer'); return n; } },
  string: { make: () => h('input', { type: 'text' }), show: showScalar, read: (s) => (s === '' ? undefined : s) },
  text: { make: () => h('textarea', { rows: 4, spellcheck: 'false' }), show: showScalar, read: (s) => (s === '' ? undefined : s) },
  strings: {
    make: () => h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'one per line' }),
    show: (v) => (Array.isArray(v) ? v.join('\n') : showJson(v)),
    read: (s) => (s.trim() === '' ? undefined : s.split('\n').filter((x) => x !== '')),
  },
  env: {
    make: () => h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'NAME=value, one per line' }),
    show: (v) => (v && typeof v === 'object' && !Array.isArray(v)
      ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join('\n') : showJson(v)),
    read: (s) => {
      if (s.trim() === '') return undefined;
      const env = {};
      for (const line of s.split('\n')) {
        if (!line.trim()) continue;
        const eq = line.indexOf('=');
        if (eq <= 0) throw new Error(`"${line}" is not NAME=value`);
        env[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return env;
    },
  },
  json: {
    make: () => h('textarea', { rows: 3, spellcheck: 'false', placeholder: 'JSON' }),
    show: showJson,
    read: (s) => { if (s.trim() === '') return undefined; try { return JSON.parse(s); } catch (e) { throw new Error('is not valid JSON'); } },
  },
};

function showScalar(v) { return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v); }
function showJson(v) { return v === undefined ? '' : JSON.stringify(v, null, 2); }
function kindOf(type) { return KINDS[type] || KINDS.json; } // object, array, null, any

/**
 * Builds the form for `schema` (the plugin's params array). `onChange(values)`
 * is called after each edit with {key: value | undefined} for the edited
 * key (undefined: leave the key out). Returns
 * {el, set(params), showError(key, message) → bool, clearErrors()}.
 */
export function schemaForm(schema, onChange) {
  const fields = schema.map((s) => {
    const kind = kindOf(s.type);
    const input = kind.make();
    input.dataset.param = s.key;
    input.id = `param-${s.key}`;
    if (s.default !== null && s.default !== undefined && 'placeholder' in input && !input.placeholder) {
      input.placeholder = `default: ${s.default}`;
    }
    const err = h('div', { class: 'field-error', 'data-testid': `param-error-${s.key}` });
    const box = h('div', { class: 'field', 'data-field': s.key },
      h('label', { for: input.id }, h('code', null, s.key), ' ', h('span', { class: 'muted' }, s.type),
        s.required && h('span', { class: 'req', title: 'required' }, ' *')),
      input,
      (s.description || (s.default !== null && s.default !== undefined)) && h('div', { class: 'desc' },
        s.description || '', s.default !== null && s.default !== undefined && kind !== KINDS.string && kind !== KINDS.text
          ? ` (default: ${s.default})` : ''),
      err);
    return { s, kind, input, err, box };
  });
  const clearErrors = () => {
    for (const f of fields) { fill(f.err); f.box.classList.remove('bad'); }
  };
  const showError = (key, message) => {
    const f = fields.find((x) => x.s.key === key);
    if (!f) return false;
    fill(f.err, message);
    f.box.classList.add('bad');
    return true;
  };
  // Only the edited key is written: a key shown but not touched (even one
  // whose JSON value the field cannot show faithfully) stays as it is.
  const changed = (f) => {
    fill(f.err);
    f.box.classList.remove('bad');
    let value;
    try { value = f.kind.read(f.input.value); } catch (e) { showError(f.s.key, e.message); return; }
    onChange({ [f.s.key]: value });
  };
  for (const f of fields) f.input.addEventListener(f.input.tagName === 'SELECT' ? 'change' : 'input', () => changed(f));
  const el = h('div', { class: 'schema-form', 'data-testid': 'schema-form' },
    fields.length ? fields.map((f) => f.box) : h('p', { class: 'muted' }, 'This job type declares no params.'));
  return {
    el,
    /** Shows `params` (the JSON's params object) in the fields; no onChange. */
    set(params) {
      for (const f of fields) {
        const v = params && typeof params === 'object' ? params[f.s.key] : undefined;
        const text = f.kind.show(v);
        if (f.input.value !== text && document.activeElement !== f.input) f.input.value = text;
      }
    },
    showError,
    clearErrors,
  };
}

/** The params key a server message names ("shell: params.script must be
 * ..." → "script"), or null. */
export function paramOfError(message) {
  const m = /\bparams\.([A-Za-z0-9_-]+)/.exec(message || '');
  return m ? m[1] : null;
}
