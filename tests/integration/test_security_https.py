"""HTTPS on the REST port, the plain-HTTP listen rule, secret job variables,
file modes and the daemon script's log (docs/security.md).

A test CA and a server certificate for 127.0.0.1 are made with the
`openssl` command. A `pagoda dev` serves HTTPS with them: curl --cacert and
the CLI (--cacert, PAGODA_CACERT) reach it, a client without the CA and a
plain-HTTP client are refused, and the daemon keeps serving. A job with
secret_env: its values never appear in the API's answers (job, job list,
execution record, the define answer), nor in the master's output, while the
job's process sees them; a replace that sends "***" back keeps them. The data
directory is 0700 and its files 0600. A master asked to serve plain HTTP on
0.0.0.0 refuses before it binds anything, starts with --insecure (and says
so), and starts without it when it has a certificate. The daemon script's
log is 0640 and holds neither the cluster secret nor a PostgreSQL password.
"""

import hashlib
import http.client
import os
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "s3cret-Value-4711"
SECRET2 = "second-Secret-0815"


def make_ca(d):
    return harness.make_test_ca(d)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class HttpsDev(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca, cls.cert, cls.key = make_ca(cls.tmp)
        # a data directory the daemon creates itself (the harness makes its own 0755)
        cls.own_data = os.path.join(cls.tmp, "own", "data")
        cls.dev = cls.start("dev", ["--slots", "4", "--http-tls-cert", cls.cert, "--http-tls-key",
                                    cls.key, "--http-ca", cls.ca, "--data", cls.own_data])
        cls.dev.cafile = cls.ca
        cls.api = cls.dev.api()

    def cli(self, *args, env=None):
        e = dict(os.environ)
        e.pop("PAGODA_ADDR", None)
        e.pop("PAGODA_CACERT", None)
        e.update(env or {})
        return subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url] + list(args), env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)

    def test_url_is_https_and_curl_with_cacert(self):
        self.assertTrue(self.dev.url.startswith("https://127.0.0.1:"), self.dev.url)
        self.assertEqual(self.api.health()["status"], "ok")
        harness.require(subprocess.run(["curl", "--version"], stdout=subprocess.DEVNULL).returncode == 0,
                        "the curl command")
        r = subprocess.run(["curl", "-sS", "--cacert", self.ca, self.dev.url + "/api/v1/health"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b'"status":"ok"', r.stdout)
        # without the CA curl refuses the certificate
        r = subprocess.run(["curl", "-sS", self.dev.url + "/api/v1/health"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"certificate", r.stderr)

    def test_cli_cacert_flag_and_env(self):
        r = self.cli("--cacert", self.ca, "job", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"NAME", r.stdout)
        r = self.cli("job", "list", env={"PAGODA_CACERT": self.ca})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("job", "list")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"certificate", r.stderr)

    def test_plain_http_to_tls_port_fails_cleanly(self):
        c = http.client.HTTPConnection(harness.HOST, self.dev.http_port, timeout=10)
        with self.assertRaises((http.client.HTTPException, ConnectionError, socket.timeout)):
            c.request("GET", "/api/v1/health")
            c.getresponse()
        c.close()
        # a client that does not trust the CA is refused by its own check
        ctx = ssl.create_default_context()
        c = http.client.HTTPSConnection(harness.HOST, self.dev.http_port, timeout=10, context=ctx)
        with self.assertRaises(ssl.SSLError):
            c.request("GET", "/api/v1/health")
        c.close()
        # and the daemon still serves
        self.assertEqual(self.api.health()["status"], "ok")
        self.assertTrue(self.dev.alive())

    def test_secret_env_is_masked_and_reaches_the_job(self):
        want = hashlib.sha256(SECRET.encode()).hexdigest()
        script = ('h=$(printf %s "$DB_PASSWORD" | sha256sum | cut -d" " -f1); '
                  'if [ "$h" = "' + want + '" ]; then echo secret-seen; else echo secret-wrong; fi; '
                  'echo plain=$PLAIN')
        job = {"name": "with-secret", "type": "shell", "params": {"script": script},
               "env": {"PLAIN": "visible"}, "secret_env": {"DB_PASSWORD": SECRET}}
        r = self.api.post("/api/v1/jobs", job)
        self.assertIn(r.status, (200, 201), r.text)
        self.assertNotIn(SECRET, r.text)
        self.assertEqual(r.json["secret_env"], {"DB_PASSWORD": "***"})

        got = self.api.get("/api/v1/jobs/with-secret")
        self.assertEqual(got.status, 200)
        self.assertNotIn(SECRET, got.text)
        self.assertEqual(got.json["secret_env"]["DB_PASSWORD"], "***")
        self.assertEqual(got.json["env"]["PLAIN"], "visible")
        lst = self.api.get("/api/v1/jobs")
        self.assertNotIn(SECRET, lst.text)

        eid = self.api.run("with-secret")
        e = self.api.wait_final(eid, timeout=60)
        self.assertEqual(e["state"], "succeeded", e)
        log = self.api.log(eid)
        self.assertIn("secret-seen", log)
        self.assertIn("plain=visible", log)
        detail = self.api.get("/api/v1/executions/%s" % eid)
        self.assertNotIn(SECRET, detail.text)
        self.assertNotIn(SECRET, self.api.get("/api/v1/executions").text)
        r = self.cli("--cacert", self.ca, "job", "show", "with-secret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET.encode(), r.stdout + r.stderr)

        # a replace that sends back what it read keeps the stored value
        back = got.json
        back["env"]["PLAIN"] = "changed"
        r = self.api.post("/api/v1/jobs", back)
        self.assertIn(r.status, (200, 201), r.text)
        eid = self.api.run("with-secret")
        self.assertEqual(self.api.wait_final(eid, timeout=60)["state"], "succeeded")
        log = self.api.log(eid)
        self.assertIn("secret-seen", log)
        self.assertIn("plain=changed", log)

        # "***" where nothing is stored is refused
        r = self.api.post("/api/v1/jobs", {"name": "masked-new", "type": "shell",
                                           "params": {"script": "true"},
                                           "secret_env": {"X": "***"}})
        self.assertEqual(r.status, 400, r.text)
        self.assertIn("secret_env.X", r.json["error"])
        r = self.api.post("/api/v1/jobs", {"name": "bad-secret", "type": "shell",
                                           "params": {"script": "true"}, "secret_env": {"X": 1}})
        self.assertEqual(r.status, 400, r.text)

        # a second secret, shown in no answer and in nothing the daemon printed
        job2 = dict(job, name="with-secret-2", secret_env={"TOKEN": SECRET2})
        self.assertIn(self.api.post("/api/v1/jobs", job2).status, (200, 201))
        eid = self.api.run("with-secret-2")
        self.api.wait_final(eid, timeout=60)
        self.assertNotIn(SECRET2, self.api.get("/api/v1/executions/%s" % eid).text)
        out = self.dev.stdout() + self.dev.stderr()
        self.assertNotIn(SECRET, out)
        self.assertNotIn(SECRET2, out)

    def test_resource_fetched_over_https(self):
        data = b"fetched over https\n"
        r = self.api.request("PUT", "/api/v1/resources/tls-input.txt", raw=data,
                             headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 201, r.text)
        self.api.shell_job("uses-tls-res", script="cat tls-input.txt", resources=["tls-input.txt"])
        eid = self.api.run("uses-tls-res")
        e = self.api.wait_final(eid, timeout=60)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("fetched over https", self.api.log(eid))

    def test_file_modes(self):
        d = self.own_data
        eid = self.api.run(self.api.shell_job("modes", "echo hi")["name"])
        self.api.wait_final(eid, timeout=60)
        self.assertEqual(mode(d), 0o700)
        self.assertEqual(mode(os.path.dirname(d)), 0o755)  # a parent may be shared
        self.assertEqual(mode(os.path.join(d, "worker")), 0o700)
        wid = os.path.join(d, "worker", "worker.id")
        if os.path.exists(wid):
            self.assertEqual(mode(wid), 0o600)
        self.assertEqual(mode(os.path.join(d, "logs")), 0o700)
        for name in ("pagoda.db", "pagoda.db-wal", "pagoda.db-shm"):
            p = os.path.join(d, name)
            if name == "pagoda.db" or os.path.exists(p):
                self.assertEqual(mode(p), 0o600, p)
        logs = os.listdir(os.path.join(d, "logs"))
        self.assertTrue(logs)
        for n in logs:
            self.assertEqual(mode(os.path.join(d, "logs", n)) & 0o077, 0, n)
        blobs = os.path.join(d, "resources", "blobs")
        if os.path.isdir(blobs):
            for n in os.listdir(blobs):
                self.assertEqual(mode(os.path.join(blobs, n)) & 0o077, 0, n)


class ListenRule(unittest.TestCase):
    """A master refuses plain HTTP on a non-loopback address unless --insecure."""

    @classmethod
    def setUpClass(cls):
        harness.require(os.access(harness.pagoda_bin(), os.X_OK), "a built pagoda")
        cls.tmp = tempfile.mkdtemp(prefix="pagoda-it-listen-rule-")
        cls.ca, cls.cert, cls.key = make_ca(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.tmp])

    def master(self, name, *extra):
        d = harness.Daemon("master", self.tmp, name=name,
                           args=["--http", "0.0.0.0:%d" % harness.free_port()] + list(extra))
        return d

    def test_plain_http_on_all_interfaces_is_refused_before_binding(self):
        port = harness.free_port()
        data = os.path.join(self.tmp, "refused-data")
        r = subprocess.run([harness.pagoda_bin(), "master", "--http", "0.0.0.0:%d" % port,
                            "--rpc", "127.0.0.1:%d" % harness.free_port(), "--data", data],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"refusing to serve plain HTTP on 0.0.0.0", r.stderr)
        self.assertIn(b"--insecure", r.stderr)
        self.assertFalse(os.path.exists(data), "nothing was created")
        self.assertTrue(harness.port_is_free(port))

    def test_insecure_starts_and_warns(self):
        d = self.master("insecure", "--insecure")
        try:
            d.start()
            self.assertIn("started with --insecure", d.stderr())
            self.assertIn("plain HTTP to other hosts", d.stderr())
            # the harness made its data directory 0755: said at start
            self.assertIn("has mode 0755", d.stderr())
            api = harness.Api("http://127.0.0.1:%d" % int(d.args[1].rsplit(":", 1)[1]))
            self.assertEqual(api.health()["status"], "ok")
        finally:
            self.assertEqual(d.stop(), 0)

    def test_tls_on_all_interfaces_needs_no_insecure(self):
        d = self.master("tls", "--http-tls-cert", self.cert, "--http-tls-key", self.key)
        try:
            d.start()
            self.assertNotIn("insecure", d.stderr())
            port = int(d.args[1].rsplit(":", 1)[1])
            api = harness.Api("https://127.0.0.1:%d" % port, cafile=self.ca)
            self.assertEqual(api.health()["status"], "ok")
        finally:
            self.assertEqual(d.stop(), 0)

    def test_bad_certificate_files_are_refused(self):
        for extra, words in ((["--http-tls-cert", self.cert], b"both"),
                             (["--http-tls-cert", self.cert, "--http-tls-key", self.ca], b"not a PEM private key"),
                             (["--http-tls-cert", self.cert, "--http-tls-key", "/nonexistent.key"],
                              b"cannot read TLS key")):
            r = subprocess.run([harness.pagoda_bin(), "master", "--http",
                                "127.0.0.1:%d" % harness.free_port(), "--rpc",
                                "127.0.0.1:%d" % harness.free_port(), "--data",
                                os.path.join(self.tmp, "bad-cert")] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(words, r.stderr)


class DaemonScriptSecrets(unittest.TestCase):
    """sbin/pagoda-daemon.sh: its log is 0640 and never holds a secret."""

    def setUp(self):
        harness.require(os.access(harness.pagoda_bin(), os.X_OK), "a built pagoda")
        self.tmp = tempfile.mkdtemp(prefix="pagoda-it-script-secrets-")
        self.env = dict(os.environ)
        for k in ("PAGODA_CONFIG", "PAGODA_ADDR", "PAGODA_INSTANCE"):
            self.env.pop(k, None)
        self.env.update({"PAGODA_BIN": harness.pagoda_bin(),
                         "PAGODA_RUN_DIR": os.path.join(self.tmp, "run"),
                         "PAGODA_LOG_DIR": os.path.join(self.tmp, "log"),
                         "PAGODA_START_TIMEOUT": "20", "PAGODA_STOP_TIMEOUT": "20"})
        self.script_path = os.path.join(harness.source_dir(), "sbin", "pagoda-daemon.sh")

    def tearDown(self):
        self.script("stop", "master")
        subprocess.run(["rm", "-rf", self.tmp])

    def script(self, *args):
        return subprocess.run([self.script_path] + list(args), env=self.env, cwd=self.tmp,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)

    def test_log_mode_and_no_secret(self):
        pg_password = "pg-Pass-9931"
        # a PostgreSQL that is not there: the master exits at start, after the
        # script has written its start line
        r = self.script("start", "master", "--http", "127.0.0.1:%d" % harness.free_port(),
                        "--rpc", "127.0.0.1:%d" % harness.free_port(),
                        "--data", os.path.join(self.tmp, "m1"), "--secret", SECRET,
                        "--store-postgres",
                        "host=127.0.0.1 port=1 dbname=x user=u password=%s connect_timeout=2" % pg_password)
        self.assertNotEqual(r.returncode, 0)
        r = self.script("start", "master", "--http", "127.0.0.1:%d" % harness.free_port(),
                        "--rpc", "127.0.0.1:%d" % harness.free_port(),
                        "--data", os.path.join(self.tmp, "m2"), "--secret", SECRET2)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(self.script("stop", "master").returncode, 0)
        log = os.path.join(self.tmp, "log", "pagoda-master.log")
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        self.assertIn("starting", text)
        self.assertIn("password=***", text)
        self.assertIn("--secret ***", text)
        for s in (SECRET, SECRET2, pg_password):
            self.assertNotIn(s, text)
        self.assertEqual(mode(log), 0o640)
        self.assertEqual(mode(os.path.join(self.tmp, "log")) & 0o007, 0)


if __name__ == "__main__":
    harness.main()
