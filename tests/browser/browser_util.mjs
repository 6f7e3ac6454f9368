// Helpers of the browser tests (docs/testing.md): finding Chromium and
// playwright-core (failing with a message, never skipping), waits with
// deadlines, API calls from node, logging in, fetch() from inside a page,
// screenshots. Used by every test_console*.mjs and bench/console_render_lists.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

/** Where a browser test finds things, from the environment (docs/testing.md):
 * PAGODA_SOURCE_DIR (default: two levels above tests/browser),
 * PAGODA_BUILD_DIR (default SOURCE/build), PAGODA_CHROMIUM (default
 * /usr/bin/chromium); shotsDir is docs/console when PAGODA_SCREENSHOTS=1. */
export function testPaths() {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const sourceDir = process.env.PAGODA_SOURCE_DIR || path.resolve(here, '../..');
  return {
    here,
    sourceDir,
    buildDir: process.env.PAGODA_BUILD_DIR || path.join(sourceDir, 'build'),
    chromiumPath: process.env.PAGODA_CHROMIUM || '/usr/bin/chromium',
    shotsDir: process.env.PAGODA_SCREENSHOTS === '1' ? path.join(sourceDir, 'docs', 'console') : null,
  };
}

export const WAIT = 20000; // ms: the machine is shared and loaded; every wait is a condition with this deadline

/** Prints FAIL: msg and exits 1 (a missing dependency fails, never skips). */
export function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

/** playwright-core's chromium launcher, the Chromium path and the pagoda
 * binary, or fail() naming what is missing and how to install it. */
export async function requirements(here, buildDir, chromiumPath) {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    fail(`playwright-core is not installed in ${here} (${e.code || e.message}); run: bash sbin/setup-deps.sh (it runs npm ci there)`);
  }
  if (!fs.existsSync(chromiumPath)) fail(`no Chromium at ${chromiumPath}; run: bash sbin/setup-deps.sh (installs Debian's chromium) or set PAGODA_CHROMIUM`);
  const bin = path.join(buildDir, 'pagoda');
  if (!fs.existsSync(bin)) fail(`no pagoda binary at ${bin} (set PAGODA_BUILD_DIR)`);
  if (!fs.existsSync(path.join(buildDir, 'console', 'index.html'))) fail(`no console files in ${buildDir}/console (cmake --build copies them)`);
  return { chromium, bin };
}

/** Chromium's flags: --no-sandbox only when running as root (CI containers). */
export function chromiumArgs() {
  return process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
}

/** Polls `cond` (async, from node: the console's CSP forbids evaluated
 * strings, which page.waitForFunction needs) until it is true. */
export async function until(what, cond, timeoutMs = WAIT) {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Calls the API at `url` with a bearer token from node (not the browser):
 * {status, body (parsed JSON or null)}. */
export async function apiAs(url, token, method, p, body, raw) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (raw !== undefined) headers['Content-Type'] = 'application/octet-stream';
  const res = await fetch(url + p, { method, headers, body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { text }; }
  return { status: res.status, body: parsed };
}

/** Logs `page` in at `url` with `token` and waits for the overview. */
export async function login(page, url, token, timeoutMs = WAIT) {
  await page.goto(url + '/');
  await page.getByTestId('token').waitFor({ timeout: timeoutMs });
  await page.getByTestId('token').fill(token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('overview').waitFor({ timeout: timeoutMs });
}

/** fetch() from inside the page: what a script on the console's origin (or
 * a forged request riding its cookie) could send. → {status, text}. */
export function pageFetch(page, method, p, headers, body) {
  return page.evaluate(async ([method, p, headers, body]) => {
    const r = await fetch(p, { method, headers, body, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  }, [method, p, headers, body]);
}

/** Checks the page shows no stray values (a `false` or `undefined`
 * rendered as text), then writes its screenshot to `shotsDir` (if set). */
export async function settled(page, name, shotsDir) {
  assert.doesNotMatch(await page.locator('main').innerText(), /\b(false|undefined|NaN|\[object Object\])\b/,
    `no stray values on the ${name} page`);
  if (!shotsDir) return;
  fs.mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}
