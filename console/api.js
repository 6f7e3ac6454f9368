// Pagoda console — the one way pages talk to the API (docs/api.md).
// Requests go to the same origin with the session cookie (HttpOnly: this
// code never sees it); every change repeats the CSRF value given at login in
// X-CSRF-Token, which the master requires of cookie-borne changes
// (docs/security.md "Console sessions").

let csrf = null;

/** Remembers the CSRF value of the session (from login or whoami). */
export function setCsrf(value) { csrf = value || null; }

/** An answer that was not 2xx: `status`, the server's `message`, and its
 * JSON body (`field` when a body schema refused a field). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** Called with the ApiError of any 401 (the session ended): set by app.js. */
export let onUnauthorized = () => {};
export function setOnUnauthorized(fn) { onUnauthorized = fn; }

/** method, path ("/api/v1/..."), optional JSON body → the parsed JSON answer
 * (or text for text/plain). Throws ApiError for non-2xx answers. */
export async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) {
    const err = new ApiError(res.status, typeof data === 'object' ? data : { error: data });
    if (res.status === 401 && path !== '/api/v1/session') onUnauthorized(err);
    throw err;
  }
  return data;
}

/** GET `path` as bytes (a log read by byte offset): a Uint8Array.
 * Throws ApiError like api(). */
export async function apiBytes(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) {
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    const err = new ApiError(res.status, body);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return new Uint8Array(await res.arrayBuffer());
}

/** Roles in order; can(role, need) says whether `role` may do what `need` may. */
const ROLES = ['viewer', 'operator', 'admin'];
export function can(role, need) { return ROLES.indexOf(role) >= ROLES.indexOf(need); }

/** Sends `blob` (a File or Blob) as the raw body of `method path` (a
 * resource upload), with the CSRF value like api(); → the parsed JSON
 * answer. Throws ApiError like api(). */
export async function apiUpload(method, path, blob) {
  const headers = { 'Content-Type': 'application/octet-stream' };
  if (csrf) headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: blob });
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return data;
}
