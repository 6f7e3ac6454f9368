// Starts a real `pagoda master` and N `pagoda worker` processes for the
// browser tests, as tests/integration/test_cluster_base.py does: free
// loopback ports (dev.mjs), a data directory each, the "is running" lines
// awaited with deadlines, the admin token read from the master's
// DATA/admin.token, a port taken between the check and the bind retried.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from './dev.mjs';

const HOST = '127.0.0.1';

/** Spawns `bin args` in `tmp` (stdout and stderr to tmp/NAME.std*): a
 * daemon {name, proc, exited, stdout(), stderr(), stop() → exit status,
 * running(re, ms) → the first group of `re` once stdout matches}. */
export function launch(bin, args, tmp, name) {
  const out = path.join(tmp, `${name}.stdout`);
  const err = path.join(tmp, `${name}.stderr`);
  const env = { ...process.env };
  delete env.PAGODA_CONFIG;
  delete env.PAGODA_ADDR;
  const proc = spawn(bin, args, { cwd: tmp, env, stdio: ['ignore', fs.openSync(out, 'w'), fs.openSync(err, 'w')] });
  const d = { name, proc, exited: null, out, err };
  proc.on('exit', (code, sig) => { d.exited = sig || code; });
  d.stdout = () => fs.readFileSync(out, 'utf8');
  d.stderr = () => fs.readFileSync(err, 'utf8');
  // Resolves to the exit status: 0 after a clean SIGTERM shutdown.
  d.stop = () => new Promise((resolve) => {
    if (d.exited !== null) return resolve(d.exited);
    proc.once('exit', (code, sig) => resolve(sig || code));
    proc.kill('SIGTERM');
    setTimeout(() => { if (d.exited === null) proc.kill('SIGKILL'); }, 15000).unref();
  });
  d.running = (re, timeoutMs) => waitFor(`${name}'s "is running" line`, () => {
    if (d.exited !== null) throw new Error(`${name} exited (${d.exited}) before it was running:\n${d.stderr().slice(-3000)}`);
    const m = d.stdout().match(re);
    return m && m[1];
  }, timeoutMs);
  return d;
}

/**
 * Starts a master (extra flags `masterArgs`) and one worker per entry of
 * `workers` ({id: [flags]}), all with `--plugins plugins`. Resolves to
 * {url, token, master, workers: {id: daemon}, stopAll() → [exit statuses]}.
 */
export async function startCluster(bin, tmp, { plugins, workers, masterArgs = [] }, timeoutMs = 30000) {
  let master;
  let url;
  let rpc;
  for (let attempt = 1; ; attempt++) {
    const http = await freePort();
    rpc = await freePort();
    const data = path.join(tmp, `master-data-${attempt}`);
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    master = launch(bin, ['master', '--http', `${HOST}:${http}`, '--rpc', `${HOST}:${rpc}`, '--data', data,
      '--plugins', plugins, ...masterArgs], tmp, `master-${attempt}`);
    master.data = data;
    try {
      url = (await master.running(/Pagoda master is running: (https?:\/\/\S+)/, timeoutMs)).replace(/\/$/, '');
      break;
    } catch (e) {
      await master.stop();
      if (attempt >= 5 || !/address already in use|EADDRINUSE|bind/i.test(String(e.message))) throw e;
    }
  }
  const tokenFile = path.join(master.data, 'admin.token');
  const token = await waitFor(tokenFile, () => fs.existsSync(tokenFile) && fs.readFileSync(tokenFile, 'utf8').trim(), timeoutMs);
  const started = {};
  const all = [master];
  try {
    for (const [id, flags] of Object.entries(workers)) {
      const data = path.join(tmp, `${id}-data`);
      fs.mkdirSync(data, { recursive: true, mode: 0o700 });
      const w = launch(bin, ['worker', '--master', `${HOST}:${rpc}`, '--data', data, '--id', id,
        '--plugins', plugins, ...flags], tmp, id);
      all.push(w);
      await w.running(/Pagoda worker (\S+) is running/, timeoutMs);
      started[id] = w;
    }
  } catch (e) {
    await Promise.all(all.map((d) => d.stop()));
    throw e;
  }
  // Workers stop first, so the master sees them go rather than lose them mid-run.
  const stopAll = async () => {
    const statuses = await Promise.all(Object.values(started).map((w) => w.stop()));
    statuses.push(await master.stop());
    return statuses;
  };
  return { url, token, master, workers: started, all, stopAll };
}
