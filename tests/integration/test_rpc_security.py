"""The master <-> worker connection as an attacker sees it (issue 12, items 4
and 5; docs/security.md "The worker connection: handshake and TLS").

- With a cluster secret (from a file, or PAGODA_SECRET), real workers prove
  it and run jobs; the secret appears in no log and no command line.
- A fake worker without the secret, one replaying a captured handshake, one
  with an invalid id or an old protocol get nothing (no launch, no job env)
  and are logged.
- A worker reporting on another worker's attempt is refused and changes
  nothing (a running attempt, and a finished execution's attempt row).
- A master listening for workers on a non-loopback address refuses to start
  without a secret; --secret on the command line works, warns, and is
  scrubbed from /proc/PID/cmdline.
- RPC over TLS: a worker trusting the master's CA runs jobs; one with an
  untrusted CA, or speaking plain TCP, is refused while the master keeps
  serving; mutual TLS (configured through a config file) requires a worker
  certificate. Certificates are made at test time with the openssl command.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import PROTOCOL, ClusterCase, RawWorker, proof  # noqa: E402

SECRET = "rpc-test-secret-7Qx9"  # noqa: S105 (a test value)


def write_secret(tmp, secret=SECRET, name="cluster.secret"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


def make_certs(d):
    """A CA, a master certificate for IP 127.0.0.1 and localhost, a worker
    (client) certificate, and an unrelated CA ("evil") with its own master
    certificate, made with the openssl command as docs/security.md shows."""
    harness.require(shutil.which("openssl"), "the openssl command (Debian package openssl)")
    os.makedirs(d, exist_ok=True)
    k = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)

    with open(os.path.join(d, "master.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(os.path.join(d, "worker.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for ca in ("ca", "evil"):
        run("req", "-x509", *k, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
            "-subj", "/CN=Pagoda test %s" % ca)
        run("req", *k, "-keyout", ca + "-master.key", "-out", ca + "-master.csr",
            "-subj", "/CN=pagoda-master")
        run("x509", "-req", "-in", ca + "-master.csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", ca + "-master.crt", "-days", "2", "-extfile", "master.ext")
    run("req", *k, "-keyout", "worker.key", "-out", "worker.csr", "-subj", "/CN=t-worker")
    run("x509", "-req", "-in", "worker.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "worker.crt", "-days", "2", "-extfile", "worker.ext")
    return {n: os.path.join(d, n) for n in os.listdir(d)}


def wait_log(daemon, text, timeout=15):
    return harness.wait_until(lambda: text in daemon.stderr(), timeout, 0.05,
                              "%r in the log of %s" % (text, daemon.name))


def all_messages(raw, timeout=5):
    """Every message until the peer closes (fails if it does not)."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = raw.recv(max(0.05, deadline - time.monotonic()))
        if m is None:
            return out
        out.append(m)
    raise AssertionError("the master did not close the connection; got %r" % out)


class SecretHandshake(ClusterCase):
    """Master and workers share a secret from a file or the environment."""

    WORKERS = {}

    @classmethod
    def setUpClass(cls):
        harness.PagodaTestCase.setUpClass()
        cls.gates = os.path.join(cls.tmp, "gates")
        os.makedirs(cls.gates, exist_ok=True)
        cls.secret_file = write_secret(cls.tmp)
        cls.master = cls.start("master", ["--kill-grace-ms", "300", "--secret-file", cls.secret_file])
        cls.api = cls.master.api()
        cls.workers = {
            "s-file": cls.start_worker("s-file", ["--slots", "2", "--secret-file", cls.secret_file]),
            "s-env": cls.start_worker("s-env", ["--slots", "2"], env={"PAGODA_SECRET": SECRET}),
        }
        cls.wait_workers({"s-file", "s-env"})

    def test_workers_with_the_secret_run_jobs_and_it_is_never_shown(self):
        self.api.shell_job("sec-ok", "echo ran on $PAGODA_WORKER_ID", labels=[],
                           env={"DB_PASSWORD": "hunter2-env"})
        ids = [self.api.run("sec-ok") for _ in range(6)]
        seen = {self.api.wait_for_state(i, {"succeeded"}, timeout=30)["worker_id"] for i in ids}
        self.assertTrue(seen <= {"s-file", "s-env"}, seen)
        for d in [self.master] + list(self.workers.values()):
            self.assertNotIn(SECRET, d.stderr() + d.stdout(), d.name)
            with open("/proc/%d/cmdline" % d.proc.pid, "rb") as f:
                self.assertNotIn(SECRET.encode(), f.read(), d.name)

    def test_fake_worker_without_the_secret_gets_nothing(self):
        self.api.shell_job("sec-env", "echo $DB_PASSWORD", labels=[],
                           env={"DB_PASSWORD": "hunter2-env"})
        raw = RawWorker(self.master.rpc_port)
        try:
            ch = raw.authenticate("intruder-1", slots=1000, secret="")
            self.assertEqual(ch.get("type"), "challenge", ch)
            eid = self.api.run("sec-env")  # work is waiting while it tries
            msgs = all_messages(raw)
        finally:
            raw.close()
        self.assertEqual([m["type"] for m in msgs], ["reject"], msgs)
        self.assertIn("could not prove the cluster secret", msgs[0]["reason"])
        self.assertNotIn("hunter2", repr(msgs))
        self.assertNotIn("intruder-1", self.worker_map())
        self.assertIn(self.api.wait_for_state(eid, {"succeeded"}, timeout=30)["worker_id"],
                      {"s-file", "s-env"})
        line = wait_log(self.master, "could not prove the cluster secret (worker id intruder-1)")
        self.assertTrue(line)
        self.assertNotIn(SECRET, self.master.stderr())

    def test_replayed_handshake_fails(self):
        # A legitimate handshake, recorded as a sniffer would record it.
        legit = RawWorker(self.master.rpc_port)
        try:
            nonce = os.urandom(32).hex()
            hello = {"protocol": PROTOCOL, "nonce": nonce,
                     "worker": {"id": "replay-1", "host": "raw", "slots": 0, "types": [],
                                "labels": []}}
            legit.send("hello", **hello)
            ch = legit.recv()
            self.assertEqual(ch["type"], "challenge", ch)
            auth = {"proof": proof(SECRET, "pagoda-worker", ch["nonce"], nonce, "replay-1")}
            legit.send("auth", **auth)
            welcome = legit.recv()
            self.assertEqual(welcome["type"], "welcome", welcome)
            # The master proved the secret too, over the same nonces.
            self.assertEqual(welcome["proof"],
                             proof(SECRET, "pagoda-master", ch["nonce"], nonce, "replay-1"))
        finally:
            legit.close()
        self.wait_workers({"replay-1"}, state="lost")
        # The same bytes on a new connection: the master's nonce is new.
        replay = RawWorker(self.master.rpc_port)
        try:
            replay.send("hello", **hello)
            ch2 = replay.recv()
            self.assertEqual(ch2["type"], "challenge", ch2)
            self.assertNotEqual(ch2["nonce"], ch["nonce"])
            replay.send("auth", **auth)
            msgs = all_messages(replay)
        finally:
            replay.close()
        self.assertEqual([m["type"] for m in msgs], ["reject"], msgs)
        self.assertIn("could not prove", msgs[0]["reason"])
        self.assertEqual(self.worker_map()["replay-1"]["state"], "lost")
        wait_log(self.master, "could not prove the cluster secret (worker id replay-1)")

    def test_bad_ids_old_protocol_and_skipped_auth_are_refused(self):
        cases = [
            ("id with a space", {"protocol": PROTOCOL, "nonce": "00" * 32,
                                 "worker": {"id": "bad id"}}, "A-Z a-z 0-9"),
            ("id of 65 characters", {"protocol": PROTOCOL, "nonce": "00" * 32,
                                     "worker": {"id": "x" * 65}}, "1 to 64"),
            ("old protocol with the secret in clear",
             {"protocol": 1, "secret": SECRET, "worker": {"id": "old-1"}}, "upgrade the worker"),
            ("short nonce", {"protocol": PROTOCOL, "nonce": "abcd", "worker": {"id": "n-1"}},
             "nonce"),
        ]
        for what, hello, word in cases:
            raw = RawWorker(self.master.rpc_port)
            try:
                raw.send("hello", **hello)
                msgs = all_messages(raw)
            finally:
                raw.close()
            self.assertEqual([m["type"] for m in msgs], ["reject"], what)
            self.assertIn(word, msgs[0]["reason"], what)
        # A heartbeat instead of auth after the challenge.
        raw = RawWorker(self.master.rpc_port)
        try:
            raw.send("hello", protocol=PROTOCOL, nonce="00" * 32, worker={"id": "skip-1"})
            self.assertEqual(raw.recv()["type"], "challenge")
            raw.send("heartbeat", slots=5, slots_used=0, running=0, types=["shell"], labels=[])
            msgs = all_messages(raw)
        finally:
            raw.close()
        self.assertEqual([m["type"] for m in msgs], ["reject"], msgs)
        self.assertIn("must be auth", msgs[0]["reason"])
        ws = self.worker_map()
        for wid in ("old-1", "n-1", "skip-1"):
            self.assertNotIn(wid, ws)

    def test_silent_connection_is_closed_after_the_handshake_deadline(self):
        s = socket.create_connection((harness.HOST, self.master.rpc_port), timeout=30)
        try:
            t0 = time.monotonic()
            s.settimeout(30)
            self.assertEqual(s.recv(4096), b"")  # closed by the master, nothing sent
            self.assertLess(time.monotonic() - t0, 25)
        finally:
            s.close()
        wait_log(self.master, "did not complete the handshake within 10000 ms; closing")

    def test_real_worker_with_another_secret_is_refused(self):
        other = write_secret(self.tmp, "not-the-secret", "other.secret")
        w = self.start_worker("s-wrong", ["--secret-file", other])
        wait_log(self.master, "could not prove the cluster secret (worker id s-wrong)")
        wait_log(w, "rejected worker s-wrong")
        self.assertNotIn("s-wrong", self.worker_map())
        w.stop()

    def test_report_on_another_workers_attempt_is_refused(self):
        raw = RawWorker(self.master.rpc_port)
        try:
            welcome = raw.hello("thief-1", slots=0, types=[], secret=SECRET)
            self.assertEqual(welcome["type"], "welcome", welcome)
            # 1. A finished execution: a forged "late" report must not
            #    rewrite its attempt row.
            self.api.shell_job("sec-done", "echo done", labels=[])
            eid = self.api.run("sec-done")
            e = self.api.wait_for_state(eid, {"succeeded"}, timeout=30)
            done = self.settled(eid, timeout=10)
            before = done["attempts"]
            owner = before[0]["worker_id"]
            self.assertIn(owner, {"s-file", "s-env"})
            raw.send("state", seq=1, execution_id=eid, attempt=before[0]["attempt"], state="failed",
                     exit_code=9, error="forged", at_us=int(time.time() * 1e6))
            self.assertEqual(raw.recv_type("ack")["seqs"], [1])
            wait_log(self.master, "worker thief-1 reported failed on attempt %d of execution %d, "
                     "assigned to %s; refused" % (before[0]["attempt"], eid, owner))
            after = self.api.execution(eid)
            self.assertEqual(after["state"], "succeeded")
            self.assertEqual(after["attempts"], before)
            self.assertEqual(e["worker_id"], after["worker_id"])
            # 2. A running attempt of another worker: the forged final state
            #    and log are ignored; the real worker's outcome stands.
            self.api.shell_job("sec-run", self.gate("sec-run") + "; echo real output", labels=[])
            eid2 = self.api.run("sec-run")
            running = self.api.wait_for_state(eid2, {"running"}, timeout=30)
            att = running["attempts"][0]["attempt"]
            raw.send("log", seq=2, execution_id=eid2, attempt=att, offset=0, data="forged log\n")
            raw.send("state", seq=3, execution_id=eid2, attempt=att, state="succeeded",
                     exit_code=0, at_us=int(time.time() * 1e6))
            acked = set()
            while acked != {2, 3}:
                acked |= set(raw.recv_type("ack")["seqs"])
            wait_log(self.master, "worker thief-1 reported succeeded on attempt %d of execution %d"
                     % (att, eid2))
            self.assertEqual(self.api.execution(eid2)["state"], "running")
            self.open_gate("sec-run")
            final = self.api.wait_for_state(eid2, {"succeeded"}, timeout=30)
            self.assertIn(final["worker_id"], {"s-file", "s-env"})
            log = self.api.log(eid2)
            self.assertIn("real output", log)
            self.assertNotIn("forged", log)
        finally:
            raw.close()


class ListenWithoutSecret(harness.PagodaTestCase):
    def test_non_loopback_rpc_needs_a_secret(self):
        port = harness.free_port()
        # --insecure: plain TCP to other hosts allowed, a secret still required
        d = harness.Daemon("master", self.tmp, ["--rpc", "0.0.0.0:%d" % port, "--insecure"],
                           name="open-master")
        with self.assertRaises(harness.DaemonError):
            d.start(timeout=20)
        self.assertNotEqual(d.returncode, 0)
        self.assertIn("refusing to listen for workers on 0.0.0.0 without a cluster secret",
                      d.stderr())
        # With a secret from the environment it starts.
        ok = self.start("master", ["--rpc", "0.0.0.0:%d" % port, "--insecure"],
                        name="closed-master", env={"PAGODA_SECRET": SECRET})
        self.assertTrue(ok.alive())
        self.assertNotIn(SECRET, ok.stderr() + ok.stdout())
        self.assertStopsCleanly(ok)

    def test_non_loopback_rpc_needs_tls_or_insecure(self):
        port = harness.free_port()
        d = harness.Daemon("master", self.tmp, ["--rpc", "0.0.0.0:%d" % port],
                           name="plain-master", env={"PAGODA_SECRET": SECRET})
        with self.assertRaises(harness.DaemonError):
            d.start(timeout=20)
        self.assertNotEqual(d.returncode, 0)
        self.assertIn("refusing to listen for workers in plain TCP on 0.0.0.0", d.stderr())
        self.assertIn("--insecure", d.stderr())
        self.assertTrue(harness.port_is_free(port), "refused before binding the RPC port")

    def test_secret_on_the_command_line_warns_and_is_scrubbed(self):
        m = self.start("master", ["--secret", SECRET], name="argv-master")
        w = self.start("worker", ["--master", "%s:%d" % (harness.HOST, m.rpc_port), "--id", "argv-w",
                                  "--secret", SECRET], name="argv-w")
        api = m.api()
        harness.wait_until(
            lambda: any(x["id"] == "argv-w" and x["state"] == "alive"
                        for x in api.ok("GET", "/api/v1/workers")["workers"]),
            15, 0.05, "argv-w alive")
        for d in (m, w):
            self.assertIn("--secret puts the cluster secret on the command line", d.stderr())
            with open("/proc/%d/cmdline" % d.proc.pid, "rb") as f:
                cmdline = f.read()
            self.assertNotIn(SECRET.encode(), cmdline, d.name)
            self.assertIn(b"*" * len(SECRET), cmdline, d.name)
            self.assertNotIn(SECRET, d.stderr() + d.stdout())

    def test_secret_file_problems_are_refused(self):
        empty = write_secret(self.tmp, "", "empty.secret")
        for args, word in ((["--secret-file", empty], "is empty"),
                           (["--secret-file", os.path.join(self.tmp, "none")], "cannot read"),
                           (["--secret-file", empty, "--secret", "x"], "not both")):
            d = harness.Daemon("master", self.tmp, args, name="bad-secret")
            with self.assertRaises(harness.DaemonError):
                d.start(timeout=20)
            self.assertIn(word, d.stderr())


class TlsCase(harness.PagodaTestCase):
    """A master serving workers over TLS, with a secret."""

    MASTER_TLS = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = make_certs(os.path.join(cls.tmp, "certs"))
        cls.secret_file = write_secret(cls.tmp)
        cls.master = cls.start("master", ["--secret-file", cls.secret_file] +
                               cls.master_tls_args())
        cls.api = cls.master.api()

    @classmethod
    def master_tls_args(cls):
        c = cls.certs
        return ["--rpc-tls-cert", c["ca-master.crt"], "--rpc-tls-key", c["ca-master.key"]]

    def worker(self, wid, args, **kw):
        return self.start("worker", ["--master", "%s:%d" % (harness.HOST, self.master.rpc_port),
                                     "--id", wid, "--secret-file", self.secret_file] + args,
                          name=wid, **kw)

    def wait_alive(self, wid, timeout=20):
        harness.wait_until(
            lambda: any(x["id"] == wid and x["state"] == "alive"
                        for x in self.api.ok("GET", "/api/v1/workers")["workers"]),
            timeout, 0.05, "%s alive" % wid)

    def run_on(self, wid, name):
        self.api.shell_job(name, "echo over tls", labels=[wid])
        eid = self.api.run(name)
        e = self.api.wait_for_state(eid, {"succeeded"}, timeout=30)
        self.assertEqual(e["worker_id"], wid)
        self.assertIn("over tls", self.api.log(eid))

    def assertNeverAlive(self, wid):
        ids = {x["id"] for x in self.api.ok("GET", "/api/v1/workers")["workers"]}
        self.assertNotIn(wid, ids)


class RpcTls(TlsCase):
    def test_trusted_worker_runs_jobs_untrusted_and_plain_are_refused(self):
        c = self.certs
        self.worker("t-ok", ["--tls-ca", c["ca.crt"], "--labels", "t-ok"])
        self.wait_alive("t-ok")
        self.run_on("t-ok", "tls-job")
        # A worker that does not trust the master's certificate.
        bad = self.worker("t-untrusted", ["--tls-ca", c["evil.crt"]])
        wait_log(bad, "certificate verify failed")
        # A worker expecting a master whose certificate its CA did sign, but
        # reaching one with the evil CA's certificate is the same case; a
        # plain-TCP worker is refused by the master's TLS layer.
        plain = self.worker("t-plain", [])
        wait_log(self.master, "TLS handshake failed")
        self.assertNeverAlive("t-untrusted")
        self.assertNeverAlive("t-plain")
        self.assertNotIn("worker t-plain connected", self.master.stderr())
        # A raw client speaking the framed protocol in clear gets no frame.
        s = socket.create_connection((harness.HOST, self.master.rpc_port), timeout=5)
        try:
            s.sendall(b"\x00\x00\x00\x10" + b'{"type":"hello"}')
            s.settimeout(5)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertNotIn(b"challenge", data)
            self.assertNotIn(b"welcome", data)
        finally:
            s.close()
        # The master kept serving.
        self.run_on("t-ok", "tls-job-2")
        bad.stop()
        plain.stop()


class RpcMutualTlsFromConfig(TlsCase):
    """Mutual TLS and the secret file, configured in a config file."""

    @classmethod
    def master_tls_args(cls):
        c = cls.certs
        conf = os.path.join(cls.tmp, "master.conf")
        with open(conf, "w") as f:
            f.write('cluster = { secret_file = "%s"; };\n' % cls.secret_file)
            f.write('master = { rpc = { tls = { cert = "%s"; key = "%s"; client_ca = "%s"; }; }; };\n'
                    % (c["ca-master.crt"], c["ca-master.key"], c["ca.crt"]))
        return ["--config", conf]

    def test_worker_certificate_required(self):
        c = self.certs
        conf = os.path.join(self.tmp, "worker.conf")
        with open(conf, "w") as f:
            f.write('worker = { tls = { ca = "%s"; cert = "%s"; key = "%s"; }; };\n'
                    % (c["ca.crt"], c["worker.crt"], c["worker.key"]))
        self.worker("m-ok", ["--config", conf, "--labels", "m-ok"])
        self.wait_alive("m-ok")
        self.run_on("m-ok", "mtls-job")
        nocert = self.worker("m-nocert", ["--tls-ca", c["ca.crt"]])
        wait_log(self.master, "TLS handshake failed")
        self.assertNeverAlive("m-nocert")
        self.assertIn("must present a certificate", self.master.stderr())
        self.run_on("m-ok", "mtls-job-2")
        nocert.stop()


if __name__ == "__main__":
    harness.main()
