// Starts a real `pagoda dev` for the browser tests, the way
// tests/integration/harness.py does: free loopback ports below 32768 (the
// shared machine's ephemeral range is for clients), a data directory of its
// own, the "is running" line awaited with a deadline, the admin token read
// from DATA/admin.token. A port taken between the check and the bind is
// retried with new ports.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const HOST = '127.0.0.1';

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await portFree(port)) return port;
  }
  throw new Error('no free port found between 20000 and 32000');
}

export async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts `pagoda dev` (binary `bin`) with its files under `tmp`; resolves
 * to {url, token, data, stop() → exit status, stderr()}. */
export async function startDev(bin, tmp, timeoutMs = 30000) {
  let last;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const http = await freePort();
    const rpc = await freePort();
    const data = path.join(tmp, `dev-data-${attempt}`);
    const out = path.join(tmp, `dev-${attempt}.stdout`);
    const err = path.join(tmp, `dev-${attempt}.stderr`);
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    const env = { ...process.env };
    delete env.PAGODA_CONFIG;
    delete env.PAGODA_ADDR;
    const proc = spawn(bin, ['dev', '--http', `${HOST}:${http}`, '--rpc', `${HOST}:${rpc}`, '--data', data],
      { cwd: tmp, env, stdio: ['ignore', fs.openSync(out, 'w'), fs.openSync(err, 'w')] });
    let exited = null;
    proc.on('exit', (code, sig) => { exited = sig || code; });
    // Resolves to the exit status: 0 after a clean SIGTERM shutdown.
    const stop = () => new Promise((resolve) => {
      if (exited !== null) return resolve(exited);
      proc.once('exit', (code, sig) => resolve(sig || code));
      proc.kill('SIGTERM');
      setTimeout(() => { if (exited === null) proc.kill('SIGKILL'); }, 15000).unref();
    });
    try {
      const url = await waitFor('the "Pagoda dev is running" line', () => {
        if (exited !== null) throw new Error(`pagoda dev exited (${exited}) before it was running:\n${fs.readFileSync(err, 'utf8').slice(-3000)}`);
        const m = fs.readFileSync(out, 'utf8').match(/Pagoda dev is running: (https?:\/\/\S+)/);
        return m && m[1].replace(/\/$/, '');
      }, timeoutMs);
      const tokenFile = path.join(data, 'admin.token');
      const token = await waitFor(tokenFile, () => fs.existsSync(tokenFile) && fs.readFileSync(tokenFile, 'utf8').trim(), timeoutMs);
      return { url, token, data, stop, stderr: () => fs.readFileSync(err, 'utf8') };
    } catch (e) {
      last = e;
      await stop();
      if (!/address already in use|EADDRINUSE|bind/i.test(String(e.message))) throw e;
    }
  }
  throw last;
}
