// End-to-end test of the console's cluster and admin pages (docs/console.md)
// in the system's headless Chromium, against a real `pagoda master` with two
// real `pagoda worker` processes (cluster.mjs): workers (drain, undrain),
// plugins, balancers, resources, audit; the params form of the job editor
// and the server's errors under its fields; plugins' console views in their
// sandboxed frames (a hostile probe view that must not reach the console's
// data, and the spark plugin's Spark UI link); a viewer's pages without
// buttons and its forged POSTs refused.
// Needs: Debian's chromium and `npm ci` here (both by sbin/setup-deps.sh);
// without them it FAILS saying so. PAGODA_SCREENSHOTS=1 writes screenshots
// to docs/console/. Env: PAGODA_BUILD_DIR, PAGODA_SOURCE_DIR, PAGODA_CHROMIUM.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster } from './cluster.mjs';
import { WAIT, requirements, testPaths, chromiumArgs, until, apiAs, login, pageFetch, settled } from './browser_util.mjs';

const { here, sourceDir, buildDir, chromiumPath, shotsDir } = testPaths();
const { chromium, bin } = await requirements(here, buildDir, chromiumPath);

let step = 'start';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgd-browser-admin-'));
let cluster, browser;

/** The test's plugins directory: the built plugins (with the spark plugin's
 * console view) and, as the shell type's result view, the hostile probe. */
function pluginsDir() {
  const dir = path.join(tmp, 'plugins');
  fs.mkdirSync(dir);
  const built = path.join(buildDir, 'plugins');
  for (const f of ['shell.so', 'spark.so']) fs.copyFileSync(path.join(built, f), path.join(dir, f));
  fs.cpSync(path.join(built, 'spark.console'), path.join(dir, 'spark.console'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'shell.console'));
  for (const f of ['result.html', 'form.html']) fs.copyFileSync(path.join(here, 'probe-view', f), path.join(dir, 'shell.console', f));
  return dir;
}

/** A stand-in spark-submit (SPARK_HOME/bin/spark-submit) that prints what
 * a local-mode submission prints about its application id. */
function fakeSparkHome() {
  const home = path.join(tmp, 'spark');
  fs.mkdirSync(path.join(home, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(home, 'bin', 'spark-submit'),
    '#!/bin/sh\necho "INFO SparkContext: Submitted application: local-1796000000123"\nexit 0\n', { mode: 0o755 });
  return home;
}

try {
  step = 'starting a master and two workers';
  cluster = await startCluster(bin, tmp, {
    plugins: pluginsDir(),
    workers: { 'w-one': ['--slots', '2', '--labels', 'gpu,big'], 'w-two': ['--slots', '3', '--labels', 'cpu'] },
  });
  const { url, token } = cluster;
  const admin = (m, p, b, raw) => apiAs(url, token, m, p, b, raw);
  await until('both workers alive', async () => {
    const r = await admin('GET', '/api/v1/workers');
    return r.body.workers.filter((w) => w.state === 'alive').length === 2;
  });
  step = `launching ${chromiumPath}`;
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs() });
  const consoleErrors = [];
  const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await adminCtx.newPage();
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await login(page, url, token);

  // --- workers: both listed with slots and labels; drain one, see it drained, undrain
  step = 'workers page';
  await page.getByRole('link', { name: 'Workers', exact: true }).click();
  const rowOne = page.locator('tr[data-worker="w-one"]');
  await rowOne.waitFor({ timeout: WAIT });
  await page.locator('tr[data-worker="w-two"]').waitFor({ timeout: WAIT });
  assert.match(await rowOne.innerText(), /0 \/ 2/);
  assert.match(await rowOne.innerText(), /gpu, big/);
  assert.match(await page.locator('tr[data-worker="w-two"]').innerText(), /0 \/ 3[\s\S]*cpu/);
  step = 'drain a worker';
  await rowOne.getByTestId('drain').click();
  await page.locator('tr[data-worker="w-one"][data-worker-state="draining"]').waitFor({ timeout: WAIT });
  await rowOne.getByTestId('undrain').waitFor({ timeout: WAIT });
  assert.equal((await admin('GET', '/api/v1/workers/w-one')).body.draining, true, 'the master has it drained');
  await settled(page, 'workers', shotsDir);
  await rowOne.getByTestId('undrain').click();
  await page.locator('tr[data-worker="w-one"][data-worker-state="alive"]').waitFor({ timeout: WAIT });
  assert.equal((await admin('GET', '/api/v1/workers/w-one')).body.draining, false);

  // --- plugins: types, versions, which workers offer them, schemas, views
  step = 'plugins page';
  await page.getByRole('link', { name: 'Plugins', exact: true }).click();
  const shell = page.locator('[data-plugin="shell"]');
  await shell.waitFor({ timeout: WAIT });
  await until('the workers offering shell', async () => /w-one/.test(await shell.getByTestId('plugin-workers').innerText()) &&
    /w-two/.test(await shell.getByTestId('plugin-workers').innerText()));
  await shell.locator('tr[data-param="script"]').waitFor({ timeout: WAIT });
  assert.match(await shell.innerText(), /version \d+\.\d+\.\d+/);
  assert.match(await page.locator('[data-plugin="spark"]').innerText(), /console views\s*result/);
  await page.locator('[data-plugin="spark"] tr[data-param="application"]').waitFor({ timeout: WAIT });
  await page.getByTestId('reload').click();
  await page.getByTestId('reloaded').waitFor({ timeout: WAIT });
  await settled(page, 'plugins', shotsDir);

  // --- the job editor's params form, in sync with the JSON
  step = 'job editor: params form';
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByTestId('new-job').click();
  const json = page.getByTestId('job-json');
  const form = page.getByTestId('schema-form');
  await form.locator('[data-param="script"]').waitFor({ timeout: WAIT });
  assert.equal(await form.locator('[data-param="script"]').inputValue(), 'echo hello from pagoda', 'the form shows the JSON');
  await json.fill(JSON.stringify({ name: 'console-form', type: 'spark', params: {} }, null, 2));
  await page.locator('[data-field="application"] .req').waitFor({ timeout: WAIT }); // the type changed: spark's schema, required marked
  await json.fill(JSON.stringify({ name: 'console-form', type: 'shell', params: { script: 7 } }, null, 2));
  await form.locator('[data-param="env"]').waitFor({ timeout: WAIT });
  step = 'job editor: server error under its field';
  await page.getByTestId('save').click();
  await page.getByTestId('param-error-script').filter({ hasText: /params\.script/ }).waitFor({ timeout: WAIT });
  assert.match(await page.getByTestId('editor-error').textContent(), /params\.script/);
  await settled(page, 'job-editor-field-error', shotsDir);
  step = 'job editor: the plugin\'s own form view';
  const pform = page.frameLocator('[data-testid=plugin-form-frame]');
  await until('the form view to get the params', async () =>
    /"script":7/.test((await pform.locator('#got').textContent()) || ''));
  assert.match(await pform.locator('#got').textContent(), /"schema_keys":\["script","argv","shell","env","cwd"\]/);
  await pform.locator('#set').click();
  await until('the JSON to take the view\'s params', async () =>
    JSON.parse(await json.inputValue()).params.script === 'echo set by the plugin form');
  assert.equal(await form.locator('[data-param="script"]').inputValue(), 'echo set by the plugin form', 'the generated form follows');
  step = 'job editor: create a job with the form';
  await form.locator('[data-param="script"]').fill('echo "form says $GREETING"');
  await form.locator('[data-param="env"]').fill('GREETING=hi from the form');
  const edited = JSON.parse(await json.inputValue());
  assert.deepEqual(edited.params, { script: 'echo "form says $GREETING"', env: { GREETING: 'hi from the form' } }, 'the form wrote the JSON');
  await settled(page, 'job-editor-form', shotsDir);
  await page.getByTestId('save').click();
  await page.waitForURL('**/jobs/console-form', { timeout: WAIT });
  const stored = await admin('GET', '/api/v1/jobs/console-form');
  assert.equal(stored.body.params.env.GREETING, 'hi from the form');

  // --- a plugin's view in its sandboxed frame cannot reach the console's data
  step = 'plugin view: the sandbox';
  await page.getByTestId('run').click();
  await page.waitForURL(/\/executions\/\d+$/, { timeout: WAIT });
  const execId = Number(page.url().match(/(\d+)$/)[1]);
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: 60000 });
  await page.getByTestId('log').filter({ hasText: 'form says hi from the form' }).waitFor({ timeout: WAIT });
  const frameEl = page.getByTestId('plugin-result-frame');
  await frameEl.waitFor({ timeout: WAIT });
  assert.equal(await frameEl.getAttribute('sandbox'), 'allow-scripts', 'scripts only: no same-origin, popups or navigation');
  const probe = page.frameLocator('[data-testid=plugin-result-frame]').locator('#probe');
  let seen;
  await until('the probe view to report', async () => {
    seen = JSON.parse((await probe.textContent()) || '{}');
    return seen.execution !== undefined && seen.fetch !== undefined;
  });
  assert.equal(seen.execution, execId, 'the view got the execution by postMessage');
  assert.match(seen.parent_document, /^blocked/, `the parent page: ${seen.parent_document}`);
  assert.match(seen.parent_location, /^blocked/, `the parent location: ${seen.parent_location}`);
  assert.match(seen.cookie, /^blocked/, `the cookie: ${seen.cookie}`);
  assert.match(seen.local_storage, /^blocked/, `storage: ${seen.local_storage}`);
  assert.match(seen.fetch, /^blocked/, `the API: ${seen.fetch}`);
  assert.equal(seen.origin, 'null', 'an opaque origin');
  assert.ok(!seen.keys.split(',').includes('definition'), 'the view gets only what the page shows');
  await page.getByTestId('plugin-link').first().waitFor({ timeout: WAIT });
  assert.equal(await page.getByTestId('plugin-link').count(), 1, 'a javascript: link is not drawn');
  assert.equal(await page.getByTestId('plugin-link').getAttribute('href'), 'https://example.invalid/probe');
  assert.equal(await page.getByTestId('plugin-link').getAttribute('rel'), 'noopener noreferrer');
  // The view's own headers: sandboxed and network-less even outside the frame.
  const viewRes = await fetch(`${url}/api/v1/plugins/shell/console/result.html`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(viewRes.status, 200);
  assert.match(viewRes.headers.get('content-security-policy'), /sandbox allow-scripts/);
  assert.match(viewRes.headers.get('content-security-policy'), /default-src 'none'/);

  step = 'plugin view: spark UI link';
  const sparkJob = await admin('POST', '/api/v1/jobs', { name: 'console-spark', type: 'spark', params: {
    application: '/opt/jobs/etl.jar', class: 'com.example.Etl', spark_home: fakeSparkHome(),
    conf: { 'spark.yarn.historyServer.address': 'history.example:18080' } } });
  assert.equal(sparkJob.status, 201, JSON.stringify(sparkJob.body));
  const sparkRun = await admin('POST', '/api/v1/jobs/console-spark/run', {});
  assert.equal(sparkRun.status, 201, JSON.stringify(sparkRun.body));
  await page.goto(`${url}/executions/${sparkRun.body.execution_id}`);
  await page.locator('h1 [data-state=succeeded]').waitFor({ timeout: 60000 });
  const sparkLink = page.getByTestId('plugin-link').filter({ hasText: 'Spark history' });
  await sparkLink.waitFor({ timeout: WAIT });
  assert.equal(await sparkLink.getAttribute('href'), 'http://history.example:18080/history/local-1796000000123/');
  await settled(page, 'execution-spark-view', shotsDir);

  // --- resources: upload, versions, download, delete
  step = 'resources';
  await page.getByRole('link', { name: 'Resources', exact: true }).click();
  await page.getByTestId('resource-name').fill('etl.conf');
  await page.getByTestId('resource-file').setInputFiles({ name: 'etl.conf', mimeType: 'text/plain', buffer: Buffer.from('rows=1\n') });
  await page.getByTestId('upload').click();
  await page.waitForURL('**/resources/etl.conf', { timeout: WAIT });
  await page.locator('tr[data-version]').first().waitFor({ timeout: WAIT });
  await page.getByTestId('resource-file').setInputFiles({ name: 'etl.conf', mimeType: 'text/plain', buffer: Buffer.from('rows=2\n') });
  await page.getByTestId('upload').click();
  await until('two versions', async () => (await page.locator('tr[data-version]').count()) === 2);
  const href = await page.getByTestId('download').first().getAttribute('href');
  const dl = await pageFetch(page, 'GET', href, {});
  assert.equal(dl.status, 200);
  assert.equal(dl.text, 'rows=2\n', 'the newest version downloads');
  await settled(page, 'resource', shotsDir);
  page.once('dialog', (d) => d.accept());
  await page.getByTestId('delete-version').first().click();
  await until('one version left', async () => (await page.locator('tr[data-version]').count()) === 1);
  assert.equal((await admin('GET', '/api/v1/resources/etl.conf/versions')).body.versions_count, 1);
  for (let i = 0; i < 3; i++) assert.equal((await admin('PUT', `/api/v1/resources/more-${i}.txt`, undefined, `r${i}`)).status, 201);
  await page.getByRole('link', { name: 'Resources', exact: true }).click();
  await page.locator('tr[data-resource="etl.conf"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-resource]').count(), 4);
  await settled(page, 'resources', shotsDir);
  const paged = await admin('GET', '/api/v1/resources?limit=2');
  assert.deepEqual(paged.body.resources.map((x) => x.name), ['etl.conf', 'more-0.txt']);
  assert.equal(paged.body.next_after, 'more-0.txt');
  const rest = await admin('GET', '/api/v1/resources?limit=2&after=more-0.txt');
  assert.deepEqual(rest.body.resources.map((x) => x.name), ['more-1.txt', 'more-2.txt']);

  // --- balancers: listed, reloaded
  step = 'balancers';
  await page.getByRole('link', { name: 'Balancers', exact: true }).click();
  await page.locator('tr[data-balancer]').first().waitFor({ timeout: WAIT });
  await page.getByTestId('reload').click();
  await page.getByTestId('reloaded').waitFor({ timeout: WAIT });
  await settled(page, 'balancers', shotsDir);

  // --- audit: filtered by method and route, what the admin did above
  step = 'audit';
  await page.getByRole('link', { name: 'Audit', exact: true }).click();
  await page.locator('tr[data-audit]').first().waitFor({ timeout: WAIT });
  await page.getByTestId('audit-method').selectOption('DELETE');
  await page.getByTestId('audit-filter').click();
  await page.waitForURL('**/audit?method=DELETE', { timeout: WAIT });
  await page.locator('tr[data-audit]').filter({ hasText: '/api/v1/resources/etl.conf' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-audit]').filter({ hasText: 'POST' }).count(), 0, 'only DELETEs');
  await page.getByTestId('audit-method').selectOption('');
  await page.getByTestId('audit-route').fill('/api/v1/workers/{id}/drain');
  await page.getByTestId('audit-filter').click();
  await page.locator('tr[data-audit]').filter({ hasText: '/api/v1/workers/w-one/drain' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-audit]').count(), 1);
  await page.goto(`${url}/audit`);
  await page.locator('tr[data-audit]').first().waitFor({ timeout: WAIT });
  await settled(page, 'audit', shotsDir);
  step = 'audit: paging';
  for (let i = 0; i < 55; i++) assert.equal((await admin('POST', `/api/v1/workers/no-such-${i}/drain`)).status, 404);
  await until('the 55 refusals in the audit log', async () =>
    (await admin('GET', '/api/v1/audit?route=/api/v1/workers/{id}/drain&limit=100')).body.audit.length >= 56);
  await page.goto(`${url}/audit?route=${encodeURIComponent('/api/v1/workers/{id}/drain')}`);
  await page.locator('tr[data-audit]').first().waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-audit]').count(), 50, 'a page of 50');
  assert.match(await page.locator('tr[data-audit]').first().innerText(), /no-such-54/, 'newest first');
  await page.getByTestId('older').click();
  await page.locator('tr[data-audit]').filter({ hasText: '/api/v1/workers/w-one/drain' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('tr[data-audit]').count(), 6, 'the rest: 5 refusals and the real drain');
  assert.equal(await page.getByTestId('older').count(), 0, 'no older page');

  // --- a viewer: no action buttons anywhere; its forged POSTs are refused
  step = 'viewer';
  const made = await admin('POST', '/api/v1/tokens', { name: 'console-viewer', role: 'viewer' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const viewerCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const vpage = await viewerCtx.newPage();
  vpage.on('pageerror', (e) => consoleErrors.push(String(e)));
  await login(vpage, url, made.body.token);
  assert.equal(await vpage.getByRole('link', { name: 'Audit', exact: true }).isVisible(), false, 'no audit link for a viewer');
  await vpage.getByRole('link', { name: 'Workers', exact: true }).click();
  await vpage.locator('tr[data-worker="w-one"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('drain').count(), 0, 'a viewer sees no drain button');
  assert.equal(await vpage.getByTestId('undrain').count(), 0);
  await settled(vpage, 'viewer-workers', shotsDir);
  await vpage.getByRole('link', { name: 'Plugins', exact: true }).click();
  await vpage.locator('[data-plugin="shell"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('reload').count(), 0, 'no plugin rescan for a viewer');
  await vpage.getByRole('link', { name: 'Balancers', exact: true }).click();
  await vpage.locator('tr[data-balancer]').first().waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('reload').count(), 0, 'no balancer reload for a viewer');
  await vpage.goto(`${url}/resources/etl.conf`);
  await vpage.locator('tr[data-version]').first().waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('upload').count(), 0);
  assert.equal(await vpage.getByTestId('delete-version').count(), 0);
  assert.equal(await vpage.getByTestId('delete').count(), 0);
  await vpage.goto(`${url}/jobs/console-form`);
  await vpage.getByTestId('schema-form').locator('[data-param="script"]').waitFor({ timeout: WAIT });
  assert.equal(await vpage.getByTestId('schema-form').locator('[data-param="script"]').isEditable(), false, 'the form is read-only for a viewer');
  assert.equal(await vpage.getByTestId('run').count(), 0, 'a viewer sees no run button');
  await vpage.goto(`${url}/audit`);
  await vpage.getByTestId('audit').getByRole('alert').waitFor({ timeout: WAIT }); // the master says 403
  step = 'viewer: forged POSTs';
  const whoami = JSON.parse((await pageFetch(vpage, 'GET', '/api/v1/whoami', {})).text);
  assert.equal(whoami.role, 'viewer');
  let r = await pageFetch(vpage, 'POST', '/api/v1/workers/w-two/drain', { 'X-CSRF-Token': whoami.csrf_token });
  assert.equal(r.status, 403, `a viewer's drain with its CSRF value: ${r.text}`);
  assert.match(r.text, /role viewer/);
  r = await pageFetch(vpage, 'POST', '/api/v1/workers/w-two/drain', {});
  assert.equal(r.status, 403, `a viewer's drain without X-CSRF-Token: ${r.text}`);
  r = await pageFetch(vpage, 'POST', '/api/v1/jobs/console-form/run', { 'Content-Type': 'application/json', 'X-CSRF-Token': whoami.csrf_token }, '{}');
  assert.equal(r.status, 403, `a viewer's run: ${r.text}`);
  r = await pageFetch(vpage, 'POST', '/api/v1/balancers/reload', { 'X-CSRF-Token': whoami.csrf_token });
  assert.equal(r.status, 403, `a viewer's balancer reload: ${r.text}`);
  assert.equal((await admin('GET', '/api/v1/workers/w-two')).body.draining, false, 'nothing was drained');
  // The admin's own cookie without the CSRF value is refused too.
  r = await pageFetch(page, 'POST', '/api/v1/workers/w-two/drain', {});
  assert.equal(r.status, 403, `an admin's cookie drain without X-CSRF-Token: ${r.text}`);
  assert.match(r.text, /X-CSRF-Token/);
  assert.equal((await admin('GET', '/api/v1/workers/w-two')).body.draining, false, 'still not drained');

  assert.deepEqual(consoleErrors, [], 'no uncaught errors in the pages');
  console.log('PASS: console admin pages end-to-end (workers, plugins, params form, plugin views (form and result), resources, balancers, audit, viewer)');
} catch (e) {
  console.error(`FAIL at step "${step}": ${e.stack || e}`);
  if (cluster) for (const d of cluster.all) console.error(`--- ${d.name} stderr (tail) ---\n${d.stderr().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  if (cluster) {
    const statuses = await cluster.stopAll();
    if (statuses.some((s) => s !== 0)) {
      console.error(`FAIL: daemons exited with ${statuses.join(', ')} after SIGTERM (a crash or a sanitizer report)`);
      for (const d of cluster.all) console.error(`--- ${d.name} stderr (tail) ---\n${d.stderr().slice(-3000)}`);
      process.exitCode = 1;
    }
  }
  if (!process.exitCode) fs.rmSync(tmp, { recursive: true, force: true });
}
