"""Harness of the high-availability integration tests (test_ha_*.py) and of
bench/ha_failover.py (Python 3 stdlib only).

It starts, on loopback and free ports below 32768:

- ZkServer: a real ZooKeeper server (`java -cp zookeeper.jar:slf4j-simple.jar
  org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg`, tickTime=200,
  admin server off, four-letter words allowed), ready when `srvr` answers a
  line `Mode:`, as tests/unit/support/zk_server.h does. The server dies with
  the Python process (PR_SET_PDEATHSIG) and is stopped by pid.
- PgServer: a real PostgreSQL server through tests/pg_harness.sh (initdb and
  pg_ctl as the postgres user when run as root), with a guardian process
  that stops it by pid if this process dies without cleaning up; one fresh
  database per test class (create_db).
- HaCase: a PagodaTestCase with three `pagoda master --store-postgres ...
  --ha-zookeeper ... --ha-cluster NAME` processes and three HA workers, a
  unique cluster name and database per class, and helpers to find the
  leader, wait for a take-over, submit to whichever master leads, and check
  per-run marker files written by the job scripts.

The two servers are shared by all classes of one process (started on first
use) and stopped at exit; daemons are stopped in tearDownClass (stopped
ones get SIGCONT first) and at exit. Overrides: $PAGODA_TEST_JAVA (java
binary), $PAGODA_TEST_ZK_CP (class path), $PGBIN (PostgreSQL binaries).
"""

import atexit
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HOST = harness.HOST
ZK_DEFAULT_CP = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"


class ServerError(Exception):
    pass


def _pdeathsig():
    """preexec_fn: the child gets SIGKILL when this process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def four_letter(port, word, timeout=1.0):
    """Sends a ZooKeeper four-letter word; returns the answer ('' on error)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- ZooKeeper


class ZkServer:
    """One ZooKeeper server in its own temporary directory."""

    def __init__(self, tick_ms=200):
        self.dir = tempfile.mkdtemp(prefix="pagoda-zk-")
        self.port = None
        self.proc = None
        self.tick_ms = tick_ms  # the server accepts session timeouts of 2-20 ticks

    @property
    def hosts(self):
        return "%s:%d" % (HOST, self.port)

    def _launch(self, timeout):
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=%d\ndataDir=%s\nclientPort=%d\nclientPortAddress=%s\n"
                    "admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n" %
                    (self.tick_ms, data, self.port, HOST))
        java = os.environ.get("PAGODA_TEST_JAVA", "java")
        cp = os.environ.get("PAGODA_TEST_ZK_CP", ZK_DEFAULT_CP)
        log = open(os.path.join(self.dir, "server.log"), "ab")
        try:
            self.proc = subprocess.Popen(
                [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp,
                 "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig)
        except OSError as e:
            raise ServerError("cannot run %s: %s (install the Debian packages `zookeeper` and "
                              "`default-jre-headless`: sbin/setup-deps.sh)" % (java, e))
        finally:
            log.close()
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                self.proc = None
                return False
            if "Mode:" in four_letter(self.port, "srvr"):
                self.ready_s = time.monotonic() - t0
                return True
            time.sleep(0.1)
        self._kill()
        raise ServerError("ZooKeeper did not answer `srvr` within %ss; log:\n%s" %
                          (timeout, harness.tail(os.path.join(self.dir, "server.log"), 20)))

    def start(self, timeout=30):
        for _ in range(10):
            self.port = harness.free_port()
            if self._launch(timeout):
                return self
            if harness.port_is_free(self.port):
                break  # not a port race: the server cannot start at all
        raise ServerError("cannot start a ZooKeeper server (install `zookeeper` and a JRE: "
                          "sbin/setup-deps.sh); log:\n%s" %
                          harness.tail(os.path.join(self.dir, "server.log"), 20))

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------- PostgreSQL


def _psql_bin():
    pgbin = os.environ.get("PGBIN")
    if pgbin and os.access(os.path.join(pgbin, "psql"), os.X_OK):
        return os.path.join(pgbin, "psql")
    cands = sorted((d for d in _glob_pg_bins()), reverse=True)
    for d in cands:
        p = os.path.join(d, "psql")
        if os.access(p, os.X_OK):
            return p
    return shutil.which("psql") or "psql"


def _glob_pg_bins():
    base = "/usr/lib/postgresql"
    try:
        vs = sorted(os.listdir(base), key=lambda v: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", v)])
    except OSError:
        return []
    return [os.path.join(base, v, "bin") for v in vs]


class PgServer:
    """A throw-away PostgreSQL server (tests/pg_harness.sh) with a guardian
    that stops it if this process dies."""

    def __init__(self):
        # Directly under /tmp (not in a 0700 test directory): the postgres
        # user must reach its unix socket directory.
        self.dir = tempfile.mkdtemp(prefix="pagoda-pg-")
        self.port = None
        self.guardian = None
        self.script = os.path.join(harness.source_dir(), "tests", "pg_harness.sh")

    def start(self):
        t0 = time.monotonic()
        p = subprocess.run(["bash", self.script, "start", self.dir], capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0 or not p.stdout.strip().isdigit():
            shutil.rmtree(self.dir, ignore_errors=True)
            raise ServerError("tests/pg_harness.sh start failed (%d): %s %s" %
                              (p.returncode, p.stdout, p.stderr))
        self.port = int(p.stdout.strip())
        self.ready_s = time.monotonic() - t0
        # Guardian: stops the server by its pid file when this process is gone.
        self.guardian = subprocess.Popen(
            ["sh", "-c", "while kill -0 %d 2>/dev/null; do sleep 1; done; exec bash '%s' stop '%s'" %
             (os.getpid(), self.script, self.dir)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        return self

    def conninfo(self, db="postgres"):
        return "host=%s port=%d user=postgres dbname=%s" % (self.dir, self.port, db)

    def psql(self, sql, db="postgres"):
        p = subprocess.run([_psql_bin(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-c", sql], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise ServerError("psql %r: %s" % (sql, p.stderr.strip()))
        return p.stdout

    def create_db(self, name):
        if not re.match(r"^[a-z_][a-z0-9_]{0,62}$", name):
            raise ValueError("bad database name %r" % name)
        self.psql('CREATE DATABASE "%s"' % name)
        return self.conninfo(name)

    def stop(self):
        if self.port is not None:
            subprocess.run(["bash", self.script, "stop", self.dir], capture_output=True, timeout=60)
            self.port = None
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.guardian is not None and self.guardian.poll() is None:
            try:
                os.kill(self.guardian.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.guardian.wait(timeout=5)
        self.guardian = None


# ---------------------------------------------------------------- shared servers

_servers = {}


def _stop_servers():
    harness._kill_leftovers()  # daemons first, then what they use
    for k in ("zk", "pg"):
        s = _servers.pop(k, None)
        if s is not None:
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - last resort on exit
                pass


atexit.register(_stop_servers)


def zk_server(tick_ms=200):
    """The shared ZooKeeper server (tick_ms applies to the first call)."""
    if "zk" not in _servers:
        _servers["zk"] = ZkServer(tick_ms).start()
        sys.stderr.write("[ha] ZooKeeper pid %d on %s, ready in %.2f s\n" %
                         (_servers["zk"].proc.pid, _servers["zk"].hosts, _servers["zk"].ready_s))
    return _servers["zk"]


def pg_server():
    if "pg" not in _servers:
        _servers["pg"] = PgServer().start()
        sys.stderr.write("[ha] PostgreSQL on port %d (%s), ready in %.2f s\n" %
                         (_servers["pg"].port, _servers["pg"].dir, _servers["pg"].ready_s))
    return _servers["pg"]


def pagoda_has_ha():
    """True when `pagoda master --help` lists --ha-zookeeper."""
    try:
        p = subprocess.run([harness.pagoda_bin(), "master", "--help"], capture_output=True, text=True,
                           timeout=10)
    except OSError:
        return False
    return "--ha-zookeeper" in p.stdout + p.stderr


def unique_name(prefix):
    return "%s_%d_%d_%04d" % (prefix, os.getpid(), int(time.time()), random.randint(0, 9999))


# ---------------------------------------------------------------- cluster views


def strip_http(u):
    return re.sub(r"^http://", "", (u or "").rstrip("/"))


def cluster_view(d, timeout=3):
    """GET /api/v1/cluster of daemon d; None when it does not answer 200."""
    if not d.alive() or not d.url:
        return None
    try:
        r = harness.Api(d.url, timeout=timeout).get("/api/v1/cluster")
    except (OSError, harness.http.client.HTTPException):
        return None
    if r.status != 200:
        return None
    try:
        return r.json
    except AssertionError:
        return None


def views(masters):
    return {m.name: cluster_view(m) for m in masters}


def one_leader(masters):
    """The leader Daemon when every master of `masters` answers, exactly one
    says role "leader", the others "standby", and all name the same leader
    (its http address); else None."""
    vs = {}
    for m in masters:
        v = cluster_view(m)
        if v is None:
            return None
        vs[m.name] = v
    leaders = [m for m in masters if vs[m.name].get("role") == "leader"]
    if len(leaders) != 1:
        return None
    lead = leaders[0]
    for m in masters:
        v = vs[m.name]
        if m is not lead and v.get("role") != "standby":
            return None
        if strip_http(named_leader(v)) != strip_http(lead.url):
            return None
    return lead


def named_leader(v):
    """The leader's http address a cluster view names: its "leader" object,
    else the masters entry flagged "leader" (test_ha_cluster checks that the
    "leader" object itself is right; the other tests only need agreement)."""
    ld = v.get("leader") or {}
    if ld.get("http"):
        return ld["http"]
    for x in v.get("masters") or []:
        if x.get("leader"):
            return x.get("http")
    return None


def wait_one_leader(masters, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lead = one_leader(masters)
        if lead is not None:
            return lead
        time.sleep(0.05)
    raise AssertionError("no single agreed leader among %s within %ss; views: %s" %
                         ([m.name for m in masters], timeout, json.dumps(views(masters), default=str)[:2000]))


def wait_new_leader(masters, timeout):
    """Polls only `masters` (e.g. the survivors) until one of them says role
    "leader"; returns (Daemon, seconds waited). Agreement of the others is
    checked separately (wait_one_leader)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for m in masters:
            v = cluster_view(m, timeout=1)
            if v and v.get("role") == "leader":
                return m, time.monotonic() - t0
        time.sleep(0.01)
    raise AssertionError("no leader among %s within %ss; views: %s" %
                         ([m.name for m in masters], timeout, json.dumps(views(masters), default=str)[:2000]))


MARKER_SCRIPT = (
    'echo "$PAGODA_EXECUTION_ID $PAGODA_ATTEMPT $$" >> "$MARKERS/$PAGODA_EXECUTION_ID.start"; '
    'sleep "${SLEEP:-1}"; '
    'echo "$PAGODA_EXECUTION_ID $PAGODA_ATTEMPT $$" >> "$MARKERS/$PAGODA_EXECUTION_ID.end"')


class HaCase(harness.PagodaTestCase):
    """Three HA masters on one PostgreSQL database and one ZooKeeper cluster
    name, and the workers of WORKERS, all fresh per class."""

    MASTERS = 3
    SESSION_MS = 2000
    MASTER_ARGS = ["--kill-grace-ms", "300", "--recovery-grace-ms", "5000"]
    WORKERS = {"hw-1": ["--slots", "3"], "hw-2": ["--slots", "3"], "hw-3": ["--slots", "3"]}

    @classmethod
    def setUpClass(cls):
        harness.require(not os.access(harness.pagoda_bin(), os.X_OK) or pagoda_has_ha(),
                        "`pagoda master --help` does not list --ha-zookeeper: this build has "
                        "no high availability")
        super().setUpClass()
        try:
            cls._set_up_cluster()
        except BaseException:
            # unittest skips tearDownClass after a failed setUpClass: stop
            # what was started now (the temporary directory is kept).
            cls.failed_any = True
            for d in cls.daemons or []:
                if d.stderr_path:
                    sys.stderr.write("\n----- %s stderr tail, %s -----\n%s\n" %
                                     (d.name, d.stderr_path, harness.tail(d.stderr_path, 30)))
            try:
                cls.tearDownClass()
            except AssertionError:
                pass
            raise

    @classmethod
    def _set_up_cluster(cls):
        cls.zk = zk_server()
        cls.pg = pg_server()
        cls.cluster = unique_name(cls.__name__.lower())[:120].replace("_", "-")
        cls.db = unique_name("t_" + cls.__name__.lower())[:60]
        cls.conninfo = cls.pg.create_db(cls.db)
        cls.markers = os.path.join(cls.tmp, "markers")
        os.makedirs(cls.markers, exist_ok=True)
        cls.masters = []
        for i in range(cls.MASTERS):
            cls.masters.append(cls.start_master("m%d" % (i + 1)))
        cls.leader = cls.wait_one_leader(timeout=cls.SESSION_MS / 1000.0 + 15)
        cls.workers = {}
        for wid, flags in cls.WORKERS.items():
            cls.workers[wid] = cls.start_worker(wid, flags)
        cls.wait_workers_alive(cls.leader, set(cls.WORKERS))

    @classmethod
    def tearDownClass(cls):
        for d in cls.daemons or []:
            if d.alive():
                try:
                    os.kill(d.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        super().tearDownClass()

    # -- daemons

    @classmethod
    def master_args(cls):
        return ["--store-postgres", cls.conninfo, "--ha-zookeeper", cls.zk.hosts,
                "--ha-cluster", cls.cluster, "--ha-session-ms", str(cls.SESSION_MS)] + list(cls.MASTER_ARGS)

    @classmethod
    def start_master(cls, name, **kw):
        return cls.start("master", cls.master_args(), name=name, **kw)

    @classmethod
    def restart_master(cls, d):
        """Starts a stopped or killed master again (new ports, same data)."""
        if d not in cls.daemons:
            cls.daemons.append(d)
        d.start()
        return d

    @classmethod
    def start_worker(cls, wid, flags=(), **kw):
        args = ["--ha-zookeeper", cls.zk.hosts, "--ha-cluster", cls.cluster,
                "--ha-session-ms", str(cls.SESSION_MS), "--id", wid] + list(flags)
        return cls.start("worker", args, name=wid, **kw)

    @classmethod
    def alive_masters(cls):
        return [m for m in cls.masters if m.alive()]

    # -- leadership

    @classmethod
    def views(cls, masters=None):
        return views(masters or cls.alive_masters())

    @classmethod
    def one_leader(cls, masters=None):
        return one_leader(masters or cls.alive_masters())

    @classmethod
    def wait_one_leader(cls, masters=None, timeout=15):
        return wait_one_leader(masters or cls.alive_masters(), timeout)

    @classmethod
    def wait_new_leader(cls, masters, timeout):
        return wait_new_leader(masters, timeout)

    # -- workers

    @classmethod
    def worker_map(cls, master):
        return {w["id"]: w for w in master.api().ok("GET", "/api/v1/workers")["workers"]}

    @classmethod
    def wait_workers_alive(cls, master, ids, timeout=20):
        def check():
            try:
                ws = cls.worker_map(master)
            except (OSError, AssertionError):
                return None
            return ws if all(ws.get(i, {}).get("state") == "alive" for i in ids) else None
        return harness.wait_until(check, timeout, 0.05,
                                  "workers %s alive on %s" % (sorted(ids), master.name))

    # -- jobs with markers

    def marker_job(self, api, name, **extra):
        job = {"name": name, "type": "shell",
               "params": {"script": MARKER_SCRIPT, "env": {"MARKERS": self.markers, "SLEEP": "1"}}}
        job.update(extra)
        return api.create_job(job)

    def run_sleep(self, api, name, seconds):
        return api.run(name, {"env": {"MARKERS": self.markers, "SLEEP": str(seconds)}})

    def marker_lines(self, eid, which):
        try:
            with open(os.path.join(self.markers, "%s.%s" % (eid, which))) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def assert_ran_once(self, eid):
        for which in ("start", "end"):
            lines = self.marker_lines(eid, which)
            self.assertEqual(len(lines), 1, "execution %s: marker %s has %d lines (want exactly 1): %r" %
                             (eid, which, len(lines), lines))

    def states(self, api, ids):
        out = {}
        for e in api.executions(limit=10000):
            if e["id"] in ids:
                out[e["id"]] = e["state"]
        return out

    def wait_all_final(self, api, ids, timeout=40):
        ids = set(ids)

        def check():
            st = self.states(api, ids)
            return st if len(st) == len(ids) and all(s in harness.FINAL_STATES for s in st.values()) else None
        return harness.wait_until(check, timeout, 0.2, "executions %s final" % sorted(ids))

    def wait_running(self, api, ids, n, timeout=15):
        def check():
            st = self.states(api, set(ids))
            return st if sum(1 for s in st.values() if s == "running") >= n else None
        return harness.wait_until(check, timeout, 0.05, "%d executions running" % n)

    # -- the CLI

    def cli(self, master, *args, check=True, timeout=30):
        p = subprocess.run([harness.pagoda_bin(), "--addr", master.url] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("pagoda --addr %s %s -> %d\nstdout: %s\nstderr: %s" %
                                 (master.url, " ".join(args), p.returncode, p.stdout, p.stderr))
        return p


def submit_to_leader(masters, path, body=None, timeout=5):
    """POSTs to whichever of `masters` leads: tries each alive one, follows a
    503's "leader". Returns (Response, Daemon-or-url that answered 2xx) or
    (last Response / exception, None)."""
    last = None
    by_addr = {strip_http(m.url): m for m in masters if m.url}
    order = [m for m in masters if m.alive()]
    for m in order:
        try:
            r = harness.Api(m.url, timeout=timeout).post(path, body)
        except (OSError, harness.http.client.HTTPException) as e:
            last = e
            continue
        if r.status in (200, 201, 202):
            return r, m
        last = r
        if r.status == 503:
            try:
                lead = strip_http(r.json.get("leader"))
            except AssertionError:
                lead = ""
            t = by_addr.get(lead)
            if t is not None and t is not m and t.alive():
                try:
                    r2 = harness.Api(t.url, timeout=timeout).post(path, body)
                except (OSError, harness.http.client.HTTPException) as e:
                    last = e
                    continue
                if r2.status in (200, 201, 202):
                    return r2, t
                last = r2
    return last, None
