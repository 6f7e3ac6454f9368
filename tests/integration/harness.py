"""Shared harness of Pagoda's integration tests (Python 3 stdlib only).

It starts real `pagoda` processes from $PAGODA_BUILD_DIR/pagoda on loopback
ports below 32768, each with its own temporary data directory, talks to them
over HTTP with http.client, and stops them by pid (SIGTERM, wait, SIGKILL),
always: in tearDown/tearDownClass and, as a last resort, in an atexit hook.

Every daemon's stdout and stderr go to files in its temporary directory; when
a test fails, the tail of each live daemon's stderr is printed.

Authentication: a master writes its first admin token to DATA/admin.token.
When a dev or master daemon is running, the harness reads that file (if it
has one: a second HA master on a shared store has none) and remembers it for
its URL; `Api` sends `Authorization: Bearer <token>` with every request (the
token of its URL, else the last one read; `Api(url, token=False)` sends
none), and PAGODA_TOKEN_FILE is set in this process's environment so that
CLI runs (subprocess) authenticate too.
"""

import atexit
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HOST = "127.0.0.1"
# url -> admin token read from the daemon's DATA/admin.token; "" key = the last one
_tokens = {}
FINAL_STATES = {"succeeded", "failed", "killed", "timed_out", "lost"}


def build_dir():
    d = os.environ.get("PAGODA_BUILD_DIR")
    if d:
        return os.path.abspath(d)
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(os.path.join(here, "..", "..", "build"))


def source_dir():
    d = os.environ.get("PAGODA_SOURCE_DIR")
    if d:
        return os.path.abspath(d)
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(os.path.join(here, "..", ".."))


def pagoda_bin():
    return os.path.join(build_dir(), "pagoda")


# ---------------------------------------------------------------- ports

_used_ports = set()


def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A random free TCP port in 20000-32000 on 127.0.0.1 (not handed out
    before by this process). A race with another program remains possible:
    Daemon.start() retries with other ports when the daemon cannot bind."""
    for _ in range(500):
        p = random.randint(20000, 32000)
        if p in _used_ports:
            continue
        if port_is_free(p):
            _used_ports.add(p)
            return p
    raise RuntimeError("no free port found in 20000-32000")


# ---------------------------------------------------------------- processes

_live = []  # every Daemon not yet stopped, for the atexit hook


def _kill_leftovers():
    for d in list(_live):
        try:
            d.stop(timeout=5)
        except Exception:  # noqa: BLE001 - last resort on exit
            pass


atexit.register(_kill_leftovers)


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no file %s)" % path
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])


class DaemonError(Exception):
    pass


class Daemon:
    """One `pagoda dev|master|worker` process.

    kind: "dev", "master" or "worker"; args: extra flags. The data directory
    is created under `tmp` unless `data` is given (to restart on the same
    one). For dev and master, --http (and --rpc for master) take free ports
    unless given in `http_port` / `rpc_port`.
    """

    def __init__(self, kind, tmp, args=(), data=None, http_port=None, rpc_port=None, name=None,
                 env=None):
        self.kind = kind
        self.tmp = tmp
        self.args = list(args)
        self.name = name or kind
        self.data = data or os.path.join(tmp, self.name + "-data")
        self.http_port = http_port
        self.rpc_port = rpc_port
        self.env = env
        self.proc = None
        self.url = None
        self.starts = 0
        self.stdout_path = None
        self.stderr_path = None
        self.returncode = None

    # -- start / stop

    def _cmd(self):
        cmd = [pagoda_bin(), self.kind]
        if self.kind in ("dev", "master"):
            cmd += ["--http", "%s:%d" % (HOST, self.http_port), "--data", self.data]
        if self.kind in ("dev", "master"):
            # pagoda dev would pick its RPC port itself, in the kernel's
            # ephemeral range: the shared machine wants ports below 32768.
            cmd += ["--rpc", "%s:%d" % (HOST, self.rpc_port)]
        if self.kind == "worker":
            cmd += ["--data", self.data]
        return cmd + self.args

    def start(self, timeout=20, fixed_ports=False):
        """Starts the process and waits for its "is running" line. With
        fixed_ports (a restart on the same ports) there is no port retry."""
        tries = 1 if fixed_ports else 5
        last = None
        for i in range(tries):
            if not fixed_ports:
                if self.kind in ("dev", "master") and (i > 0 or self.http_port is None):
                    self.http_port = free_port()
                if self.kind in ("dev", "master") and (i > 0 or self.rpc_port is None):
                    self.rpc_port = free_port()
            try:
                self._spawn()
                self._wait_running(timeout)
                return self
            except DaemonError as e:
                last = e
                if self.proc and self.proc.poll() is None:
                    self.stop(timeout=5)
                err = tail(self.stderr_path, 20)
                if fixed_ports or not re.search(r"(?i)address already in use|EADDRINUSE|bind", err):
                    raise
                # Someone took our port between the check and the bind: retry.
        raise last

    def _spawn(self):
        os.makedirs(self.data, exist_ok=True)
        self.starts += 1
        base = os.path.join(self.tmp, "%s.%d" % (self.name, self.starts))
        self.stdout_path = base + ".stdout"
        self.stderr_path = base + ".stderr"
        env = dict(os.environ)
        env.pop("PAGODA_CONFIG", None)
        env.pop("PAGODA_ADDR", None)
        if self.env:
            env.update(self.env)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(self._cmd(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.tmp, env=env)
        self.returncode = None
        _live.append(self)

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_running(self, timeout):
        pat = {
            "dev": r"Pagoda dev is running: (https?://\S+)",
            "master": r"Pagoda master is running: (https?://\S+)",
            "worker": r"Pagoda worker (\S+) is running",
        }[self.kind]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pat, self.stdout())
            if m:
                if self.kind == "worker":
                    self.worker_id = m.group(1)
                else:
                    self.url = m.group(1).rstrip("/")
                    self._read_token()
                return
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                _forget(self)
                raise DaemonError("pagoda %s exited with %s before it was running; stderr:\n%s" %
                                  (self.kind, self.proc.returncode, tail(self.stderr_path)))
            time.sleep(0.02)
        raise DaemonError("pagoda %s did not print its 'is running' line within %ss; stderr:\n%s" %
                          (self.kind, timeout, tail(self.stderr_path)))

    def token_file(self):
        # a test may give the daemon its own --data (one it creates itself)
        data = self.data
        for i, a in enumerate(self.args[:-1]):
            if a == "--data":
                data = self.args[i + 1]
        return os.path.join(data, "admin.token")

    def _read_token(self):
        """Remembers the admin token this daemon wrote (first start), for
        Api and, through PAGODA_TOKEN_FILE, for CLI runs."""
        self.token = None
        try:
            with open(self.token_file()) as f:
                self.token = f.read().strip() or None
        except OSError:
            return
        _tokens[self.url] = _tokens[""] = self.token
        os.environ["PAGODA_TOKEN_FILE"] = self.token_file()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15, sig=signal.SIGTERM):
        """Sends `sig` (SIGTERM) to the pid, waits up to `timeout` s, then
        SIGKILLs. Returns the exit code (negative = killed by that signal;
        None if never started). Safe to call twice."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            if self.kind == "worker" and sig == signal.SIGTERM:
                # A worker drains on SIGTERM (worker.stop_grace_ms, 30 s):
                # a stop here does not wait for that; a second SIGTERM stops
                # it at once, killing its jobs (test_worker_stop tests the
                # drain itself).
                try:
                    self.proc.wait(timeout=min(2, timeout))
                except subprocess.TimeoutExpired:
                    try:
                        os.kill(self.proc.pid, sig)
                    except ProcessLookupError:
                        pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
                self.returncode = "SIGKILL after %ss without exiting on %s" % (timeout, sig.name)
                _forget(self)
                return self.returncode
        self.returncode = self.proc.returncode
        _forget(self)
        return self.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode if self.proc else None
        _forget(self)

    def api(self, token=None):
        # cafile: the CA of an HTTPS daemon (set by the test that gave it a certificate)
        return Api(self.url, token=token, cafile=getattr(self, "cafile", None))


def read_token(data_dir):
    """The admin token a master wrote to DATA/admin.token (first start)."""
    with open(os.path.join(data_dir, "admin.token")) as f:
        return f.read().strip()


def _forget(d):
    if d in _live:
        _live.remove(d)


# ---------------------------------------------------------------- HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            raise AssertionError("not JSON (HTTP %d): %r" % (self.status, self.body[:300]))

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:300])


class Api:
    """A small client of the REST API. Each call opens its own connection
    unless `keepalive` is used (one persistent http.client connection)."""

    def __init__(self, url, timeout=15, token=None, cafile=None):
        m = re.match(r"(https?)://([^:/]+):(\d+)", url)
        if not m:
            raise ValueError("bad url %r" % url)
        self.tls = m.group(1) == "https"
        self.host, self.port = m.group(2), int(m.group(3))
        self.timeout = timeout
        self.cafile = cafile  # https: the CA that signed the daemon's certificate
        self._conn = None
        # None: the token the harness read for this URL (else the last one);
        # False: send no Authorization header; a string: that token.
        if token is None:
            token = _tokens.get(url.rstrip("/")) or _tokens.get("")
        self.token = token or None

    def conn(self, timeout=None):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout or self.timeout,
                                               context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)

    def request(self, method, path, body=None, raw=None, headers=None, keepalive=False, timeout=None):
        data = raw
        hdrs = {"Accept": "application/json"}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            # Raw bytes PUT are a resource upload; everything else is JSON.
            upload = method == "PUT" and body is None
            hdrs["Content-Type"] = "application/octet-stream" if upload else "application/json"
        if self.token:
            hdrs["Authorization"] = "Bearer " + self.token
        if headers:
            hdrs.update(headers)
            hdrs = {k: v for k, v in hdrs.items() if v is not None}  # None removes a header
        for attempt in (0, 1):
            if keepalive:
                if self._conn is None:
                    self._conn = self.conn(timeout)
                c = self._conn
            else:
                c = self.conn(timeout)
            try:
                c.request(method, path, body=data, headers=hdrs)
                r = c.getresponse()
                resp = Response(r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read())
                if not keepalive or (r.getheader("connection") or "").lower() == "close":
                    c.close()
                    if keepalive:
                        self._conn = None
                return resp
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                c.close()
                if keepalive:
                    self._conn = None
                if attempt == 1 or not keepalive:
                    raise

    def auth_headers(self):
        """The Authorization header of this client, for a raw http.client
        request (a streamed response)."""
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences that assert success

    def ok(self, method, path, body=None, expect=(200, 201, 202)):
        r = self.request(method, path, body=body)
        if r.status not in expect:
            raise AssertionError("%s %s -> HTTP %d, expected %s: %s" %
                                 (method, path, r.status, expect, r.text[:500]))
        return r.json

    def health(self):
        return self.ok("GET", "/api/v1/health", expect=(200,))

    def create_job(self, job):
        return self.ok("POST", "/api/v1/jobs", job, expect=(200, 201))

    def shell_job(self, name, script=None, argv=None, **extra):
        params = {}
        if script is not None:
            params["script"] = script
        if argv is not None:
            params["argv"] = argv
        job = {"name": name, "type": "shell", "params": params}
        job.update(extra)
        return self.create_job(job)

    def run(self, name, params=None):
        body = {"params": params} if params is not None else None
        r = self.ok("POST", "/api/v1/jobs/%s/run" % name, body, expect=(201,))
        return r["execution_id"]

    def execution(self, exec_id):
        return self.ok("GET", "/api/v1/executions/%s" % exec_id, expect=(200,))

    def executions(self, **q):
        qs = "&".join("%s=%s" % (k, v) for k, v in q.items())
        return self.ok("GET", "/api/v1/executions" + ("?" + qs if qs else ""), expect=(200,))["executions"]

    def log(self, exec_id, offset=None):
        path = "/api/v1/executions/%s/log" % exec_id
        if offset is not None:
            path += "?offset=%d" % offset
        r = self.get(path)
        if r.status != 200:
            raise AssertionError("GET %s -> %r" % (path, r))
        return r.text

    def wait_for_state(self, exec_id, states, timeout=10):
        """Polls the execution until its state is in `states`; returns it.
        Fails if it reaches another final state or the deadline passes."""
        states = set(states)
        deadline = time.monotonic() + timeout
        e = None
        while time.monotonic() < deadline:
            e = self.execution(exec_id)
            if e.get("state") in states:
                return e
            if e.get("state") in FINAL_STATES:
                raise AssertionError("execution %s ended %s, expected %s: %s" %
                                     (exec_id, e.get("state"), sorted(states), _short(e)))
            time.sleep(0.03)
        raise AssertionError("execution %s still %s after %ss, expected %s: %s" %
                             (exec_id, e and e.get("state"), timeout, sorted(states), _short(e)))

    def wait_final(self, exec_id, timeout=10):
        return self.wait_for_state(exec_id, FINAL_STATES, timeout)


def _short(e):
    if not e:
        return e
    e = dict(e)
    e.pop("definition", None)
    return json.dumps(e)[:800]


def wait_until(pred, timeout=10, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s not met within %ss (last: %r)" % (what, timeout, last))


# ---------------------------------------------------------------- test base


class PagodaTestCase(unittest.TestCase):
    """Base class: a temp dir per class, daemons registered with
    `cls.daemons` are stopped in tearDownClass (their SIGTERM exit codes are
    checked there), and the stderr tails of live daemons are printed when a
    test fails."""

    daemons = None
    tmp = None
    keep_tmp = False

    @classmethod
    def setUpClass(cls):
        require(os.access(pagoda_bin(), os.X_OK),
                "no pagoda executable at %s (build it; set PAGODA_BUILD_DIR)" % pagoda_bin())
        cls.tmp = tempfile.mkdtemp(prefix="pagoda-it-%s-" % cls.__name__)
        cls.daemons = []
        cls.failed_any = False

    @classmethod
    def tearDownClass(cls):
        problems = []
        # Reverse start order: workers stop before their master.
        for d in reversed(cls.daemons or []):
            if d.proc is None:
                continue
            was_alive = d.alive()
            rc = d.stop()
            if was_alive and rc != 0:
                problems.append("pagoda %s (%s) exited with %r after SIGTERM; stderr tail:\n%s" %
                                (d.kind, d.name, rc, tail(d.stderr_path, 60)))
        if cls.tmp and not problems and not cls.failed_any and not os.environ.get("PAGODA_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)
        elif cls.tmp:
            sys.stderr.write("\n[harness] kept %s\n" % cls.tmp)
        if problems:
            raise AssertionError("\n\n".join(problems))

    @classmethod
    def start(cls, kind, args=(), **kw):
        d = Daemon(kind, cls.tmp, args, **kw)
        cls.daemons.append(d)
        d.start()
        return d

    def run(self, result=None):
        before = 0
        if result is not None:
            before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self).failed_any = True
            for d in type(self).daemons or []:
                if d.stderr_path:
                    sys.stderr.write("\n----- %s (%s) stderr tail, %s -----\n%s\n" %
                                     (d.name, "alive" if d.alive() else "exited %r" % (d.returncode,),
                                      d.stderr_path, tail(d.stderr_path, 40)))
        return out

    def assertStopsCleanly(self, d, timeout=15):
        rc = d.stop(timeout=timeout)
        self.assertEqual(rc, 0, "pagoda %s exited with %r after SIGTERM; stderr tail:\n%s" %
                         (d.kind, rc, tail(d.stderr_path, 60)))


def make_test_ca(d):
    """A CA and a certificate for 127.0.0.1/localhost signed by it, made with
    the openssl command in directory `d` (docs/security.md shows the same
    steps). Returns the paths (ca.crt, server.crt, server.key)."""
    require(shutil.which("openssl") is not None, "the openssl command")

    def ossl(*args):
        r = subprocess.run(["openssl"] + list(args), cwd=d, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise AssertionError("openssl %s: %s" % (" ".join(args), r.stdout.decode()))

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
         "-days", "2", "-subj", "/CN=Pagoda test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost")
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext")
    return tuple(os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key"))


def test_plugin(subdir, name):
    """A test plugin the build made (build/tests/<subdir>/<name>); fails the
    test, never skips, when it is missing."""
    path = os.path.join(build_dir(), "tests", subdir, name)
    require(os.path.exists(path), "test plugin %s is not built" % path)
    return path


def plugin_dir(tmp, *extra):
    """A plugins directory of the test's own (tmp/plugins) holding the built
    shell.so and the given files; returns its path."""
    pdir = os.path.join(tmp, "plugins")
    os.makedirs(pdir)
    shutil.copy(os.path.join(build_dir(), "plugins", "shell.so"), pdir)
    for path in extra:
        shutil.copy(path, pdir)
    return pdir


def require(condition, message):
    """A missing prerequisite (a binary, a package, root) FAILS the test with
    `message`: an integration test never skips."""
    if not condition:
        raise AssertionError("missing prerequisite: " + message)


def main():
    """Runs the module's tests. A skipped test fails the run: a test that
    cannot run must say so, not pass (see docs/testing.md)."""
    prog = unittest.main(verbosity=2, exit=False)
    result = prog.result
    for test, reason in result.skipped:
        sys.stderr.write("FAILED: %s was skipped (%s); integration tests must not skip\n" %
                         (test.id(), reason))
    ok = result.wasSuccessful() and not result.skipped and result.testsRun > 0
    if result.testsRun == 0:
        sys.stderr.write("FAILED: no test ran\n")
    sys.exit(0 if ok else 1)
