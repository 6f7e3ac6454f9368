// End-to-end test of the web console (docs/console.md) in the system's
// headless Chromium, driven by playwright-core against a real `pagoda dev`.
// Needs: Debian's chromium and `npm ci` here (both by sbin/setup-deps.sh);
// without them it FAILS saying so. PAGODA_SCREENSHOTS=1 writes a screenshot
// of each page to docs/console/ (CI leaves the tree alone).
// Env: PAGODA_BUILD_DIR (the pagoda binary), PAGODA_SOURCE_DIR,
// PAGODA_CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDev } from './dev.mjs';
import { requirements, testPaths, chromiumArgs, login as loginAt, settled as settledShot, until as untilIn, apiAs as apiAt } from './browser_util.mjs';

const { here, sourceDir, buildDir, chromiumPath, shotsDir } = testPaths();
const WAIT = 20000; // ms: the machine is shared and loaded; every wait is a condition with this deadline

const { chromium, bin } = await requirements(here, buildDir, chromiumPath);

let step = 'start';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-browser-'));
let dev, browser;

const settled = (page, name) => settledShot(page, name, shotsDir);

const until = (what, cond, timeoutMs = WAIT) => untilIn(what, cond, timeoutMs);

/** Calls the API with a bearer token from node (not the browser). */
const apiAs = (token, method, p, body) => apiAt(dev.url, token, method, p, body);

const login = (page, token) => loginAt(page, dev.url, token, WAIT);

/** fetch() from inside the page: what a script running on the console's
 * origin (or a forged request riding its cookie) could send. */
function pageFetch(page, method, p, headers, body) {
  return page.evaluate(async ([method, p, headers, body]) => {
    const r = await fetch(p, { method, headers, body, credentials: 'same-origin' });
    return { status: r.status, text: await r.text() };
  }, [method, p, headers, body]);
}

try {
  step = 'starting pagoda dev';
  dev = await startDev(bin, tmp);
  const args = chromiumArgs();
  step = `launching ${chromiumPath}`;
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args });

  // --- static files: types, page fallback, no traversal
  step = 'static files';
  let r = await fetch(dev.url + '/app.js');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/javascript/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  r = await fetch(dev.url + '/executions/12345');
  assert.equal(r.status, 200, 'a page route falls back to index.html');
  assert.match(await r.text(), /<main id="view">/);
  assert.equal((await fetch(dev.url + '/no-such-file.js')).status, 404, 'a missing asset is 404, not the page');
  r = await fetch(dev.url + '/api/v1/no-such-route');
  assert.equal(r.status, 404, '/api/ never falls back to the page');
  assert.match(r.headers.get('content-type'), /json/);

  // --- login
  step = 'login page';
  const admin = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await admin.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(dev.url + '/');
  await page.getByTestId('token').waitFor({ timeout: WAIT });
  await settled(page, 'login');
  await page.getByTestId('token').fill('pgd_not_a_real_token');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').waitFor({ timeout: WAIT });
  assert.match(await page.getByTestId('login-error').textContent(), /unknown token/);
  step = 'login as admin';
  await page.getByTestId('token').fill(dev.token);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('overview').waitFor({ timeout: WAIT });
  const cookies = await admin.cookies();
  const session = cookies.find((c) => c.name === 'pagoda_session');
  assert.ok(session, 'a session cookie was set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.match(await page.getByTestId('who').textContent(), /admin \(admin\)/);

  // --- overview: the dev daemon's own worker shows with its slots
  step = 'overview';
  await page.locator('[data-testid=workers] tr[data-worker]').first().waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('master-role').textContent(), 'leader');
  await page.getByTestId('count-running').waitFor({ timeout: WAIT });

  // --- jobs: a bad definition shows the server's error; a good one saves
  step = 'job editor: bad definition';
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.getByTestId('jobs').waitFor({ timeout: WAIT });
  await page.getByTestId('new-job').click();
  await page.getByTestId('job-json').waitFor({ timeout: WAIT });
  await page.getByTestId('job-json').fill(JSON.stringify({ name: 'console-bad', type: 'no_such_type', params: {} }, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').waitFor({ timeout: WAIT });
  assert.match(await page.getByTestId('editor-error').textContent(), /unknown job type 'no_such_type'/);
  await settled(page, 'job-editor-error');
  await page.getByTestId('job-json').fill(JSON.stringify({ name: 'console-bad', type: 'shell', params: { script: 7 } }, null, 2));
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').filter({ hasText: /script/ }).waitFor({ timeout: WAIT });
  await page.getByTestId('job-json').fill('{"name": "console-bad",');
  await page.getByTestId('save').click();
  await page.getByTestId('editor-error').filter({ hasText: 'not valid JSON' }).waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/jobs/console-bad')).status, 404, 'nothing was stored');

  step = 'job editor: good definition';
  const job = { name: 'console-hello', type: 'shell', params: { script: 'echo "hello from the console: $GREETING"; echo "宝塔 ✓"', env: { GREETING: 'hi' } }, description: 'made in the browser' };
  await page.getByTestId('job-json').fill(JSON.stringify(job, null, 2));
  await page.getByTestId('save').click();
  await page.waitForURL('**/jobs/console-hello', { timeout: WAIT });
  await page.getByTestId('saved').waitFor({ timeout: WAIT });
  assert.equal((await apiAs(dev.token, 'GET', '/api/v1/jobs/console-hello')).body.description, 'made in the browser');
  await page.getByRole('link', { name: 'Jobs' }).click();
  await page.locator('tr[data-job="console-hello"]').waitFor({ timeout: WAIT });
  await page.getByTestId('job-search').fill('nothing-matches-this');
  await page.locator('tr[data-job="console-hello"]').waitFor({ state: 'detached', timeout: WAIT });
  await page.getByTestId('job-search').fill('hello');
  await page.locator('tr[data-job="console-hello"]').waitFor({ timeout: WAIT });
  await settled(page, 'jobs');

  // --- run with params from the job page; watch it succeed and its log
  step = 'run a job';
  await page.locator('tr[data-job="console-hello"] a').first().click();
  await page.getByTestId('run-params').waitFor({ timeout: WAIT });
  await page.getByTestId('run-params').fill('{"env": {"GREETING": "from-params"}}');
  await page.getByTestId('run').click();
  await page.waitForURL(/\/executions\/\d+$/, { timeout: WAIT });
  const execId = page.url().match(/(\d+)$/)[1];
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: 60000 });
  await page.getByTestId('log').filter({ hasText: 'hello from the console: from-params' }).waitFor({ timeout: WAIT });
  await page.getByTestId('log').filter({ hasText: '宝塔 ✓' }).waitFor({ timeout: WAIT });
  await page.locator('[data-testid=attempts] [data-state=succeeded]').waitFor({ timeout: WAIT });
  await page.getByTestId('run-again').waitFor({ timeout: WAIT });
  await settled(page, 'execution');

  step = 'run again';
  await page.getByTestId('run-again').click();
  await page.waitForURL((u) => /\/executions\/\d+$/.test(u.pathname) && !u.pathname.endsWith(`/${execId}`), { timeout: WAIT });
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: 60000 });

  step = 'kill a running execution';
  const sleeper = await apiAs(dev.token, 'POST', '/api/v1/jobs', { name: 'console-sleep', type: 'shell', params: { script: 'echo started; exec sleep 120' } });
  assert.equal(sleeper.status, 201, JSON.stringify(sleeper.body));
  await page.goto(`${dev.url}/jobs/console-sleep`);
  await page.getByTestId('run').click();
  await page.waitForURL(/\/executions\/\d+$/, { timeout: WAIT });
  await page.getByTestId('log').filter({ hasText: 'started' }).waitFor({ timeout: 60000 });
  await page.getByTestId('kill').click();
  await page.locator('h1 [data-state=killed]').waitFor({ timeout: 60000 });
  assert.equal(await page.getByTestId('kill').count(), 0, 'no kill button once it ended');

  step = 'executions list';
  await page.getByRole('link', { name: 'Executions' }).click();
  await page.locator(`tr[data-exec="${execId}"]`).waitFor({ timeout: WAIT });
  await page.getByTestId('filter-state').selectOption('killed');
  await page.waitForURL('**/executions?state=killed', { timeout: WAIT });
  await page.locator('tr[data-exec] [data-state=killed]').first().waitFor({ timeout: WAIT });
  await page.locator(`tr[data-exec="${execId}"]`).waitFor({ state: 'detached', timeout: WAIT });
  await page.getByTestId('filter-state').selectOption('succeeded');
  await page.locator(`tr[data-exec="${execId}"]`).waitFor({ timeout: WAIT });
  await settled(page, 'executions');
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.locator('[data-testid=workers] tr[data-worker]').first().waitFor({ timeout: WAIT });
  await settled(page, 'overview');

  // --- CSRF: a change riding the admin's cookie without X-CSRF-Token is refused
  step = 'csrf';
  r = await pageFetch(page, 'POST', '/api/v1/jobs/console-hello/run', { 'Content-Type': 'application/json' }, '{}');
  assert.equal(r.status, 403, `a cookie change without X-CSRF-Token: ${r.text}`);
  assert.match(r.text, /X-CSRF-Token/);
  r = await pageFetch(page, 'POST', '/api/v1/jobs/console-hello/run', { 'Content-Type': 'application/json', 'X-CSRF-Token': 'f'.repeat(64) }, '{}');
  assert.equal(r.status, 403, `a wrong X-CSRF-Token: ${r.text}`);

  // --- a viewer sees no buttons, and a forged POST with its cookie is refused
  step = 'viewer';
  const made = await apiAs(dev.token, 'POST', '/api/v1/tokens', { name: 'console-viewer', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const viewerCtx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const vpage = await viewerCtx.newPage();
  vpage.on('pageerror', (e) => consoleErrors.push(String(e)));
  await login(vpage, made.body.token);
  assert.match(await vpage.getByTestId('who').textContent(), /console-viewer \(viewer\)/);
  await vpage.getByRole('link', { name: 'Jobs' }).click();
  await vpage.locator('tr[data-job="console-hello"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('run').count(), 0, 'a viewer sees no run button');
  assert.equal(await vpage.getByTestId('delete').count(), 0, 'a viewer sees no delete button');
  assert.equal(await vpage.getByTestId('new-job').count(), 0, 'a viewer sees no new-job button');
  await vpage.locator('tr[data-job="console-hello"] a').first().click();
  await until('the job definition in the viewer\'s editor',
    async () => /console-hello/.test(await vpage.getByTestId('job-json').inputValue()));
  assert.equal(await vpage.getByTestId('save').count(), 0);
  assert.equal(await vpage.getByTestId('run').count(), 0);
  await vpage.goto(`${dev.url}/executions/${execId}`);
  await vpage.locator('h1 [data-state=succeeded]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('run-again').count(), 0, 'a viewer sees no run-again button');
  await settled(vpage, 'viewer-execution');
  const whoami = JSON.parse((await pageFetch(vpage, 'GET', '/api/v1/whoami', {})).text);
  assert.equal(whoami.role, 'viewer');
  r = await pageFetch(vpage, 'POST', '/api/v1/jobs/console-hello/run', { 'Content-Type': 'application/json', 'X-CSRF-Token': whoami.csrf_token }, '{}');
  assert.equal(r.status, 403, `a viewer's POST with its CSRF value: ${r.text}`);
  assert.match(r.text, /role viewer/);
  r = await pageFetch(vpage, 'POST', '/api/v1/jobs/console-hello/run', { 'Content-Type': 'application/json' }, '{}');
  assert.equal(r.status, 403, `a viewer's POST without X-CSRF-Token: ${r.text}`);
  const runs = await apiAs(dev.token, 'GET', '/api/v1/executions?job=console-hello');
  assert.equal(runs.body.executions.length, 2, 'only the two runs from the admin happened');

  // --- log out: the session ends on the server too
  step = 'logout';
  await vpage.locator('#logout').click();
  await vpage.getByTestId('token').waitFor({ timeout: WAIT });
  r = await pageFetch(vpage, 'GET', '/api/v1/whoami', {});
  assert.equal(r.status, 401, 'the session ended');
  assert.deepEqual(consoleErrors, [], 'no uncaught errors in the pages');
  console.log('PASS: console end-to-end (login, overview, jobs, run, executions, roles, CSRF, logout)');
} catch (e) {
  console.error(`FAIL at step "${step}": ${e.stack || e}`);
  if (dev) console.error(`--- pagoda dev stderr (tail) ---\n${dev.stderr().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (dev) {
    const status = await dev.stop();
    if (status !== 0) {
      console.error(`FAIL: pagoda dev exited with ${status} after SIGTERM (a crash or a sanitizer report):\n${dev.stderr().slice(-4000)}`);
      process.exitCode = 1;
    }
  }
  if (!process.exitCode) fs.rmSync(tmp, { recursive: true, force: true });
}
