"""Clean starts (issue 16, docs/operations.md "Clean starts and stops"): a
daemon that cannot bind its HTTP or RPC port, open its store or read its
configuration exits non-zero at once with one clear line; SIGHUP rereads
the configuration's live keys; `--version` after any command; the CLI with
a list of addresses skips one that does not answer."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Generous: the daemon gives up before anything slow happens (the issue
# asks for 2 s; a loaded CI machine gets more, and the time is printed).
EXIT_DEADLINE_S = 20


class CleanStart(harness.PagodaTestCase):
    def busy_port(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((harness.HOST, 0))
        s.listen(1)
        self.addCleanup(s.close)
        return s.getsockname()[1]

    def start_failing(self, *args):
        """Runs `pagoda ARGS` and returns (exit code, stderr, seconds)."""
        t0 = time.monotonic()
        p = subprocess.Popen([harness.pagoda_bin()] + list(args), cwd=self.tmp,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("pagoda %s still running after %d s; stderr:\n%s" %
                      (" ".join(args), EXIT_DEADLINE_S, err))
        took = time.monotonic() - t0
        sys.stderr.write("[clean-start] pagoda %s: exit %d after %.2f s\n" % (args[0], p.returncode, took))
        self.assertNotIn("is running", out)
        return p.returncode, err, took

    def one_line(self, err, mode, what):
        lines = [l for l in err.splitlines() if l.startswith("pagoda %s:" % mode)]
        self.assertEqual(len(lines), 1, err)
        self.assertIn(what, lines[0])

    def test_busy_http_port(self):
        port = self.busy_port()
        for mode in ("dev", "master"):
            rc, err, _ = self.start_failing(mode, "--http", "%s:%d" % (harness.HOST, port),
                                            "--rpc", "%s:0" % harness.HOST,
                                            "--data", os.path.join(self.tmp, mode + "-http"))
            self.assertNotEqual(rc, 0, err)
            self.one_line(err, mode, "cannot listen on %s:%d: Address already in use" %
                          (harness.HOST, port))

    def test_busy_rpc_port(self):
        port = self.busy_port()
        for mode in ("dev", "master"):
            rc, err, _ = self.start_failing(mode, "--http", "%s:0" % harness.HOST,
                                            "--rpc", "%s:%d" % (harness.HOST, port),
                                            "--data", os.path.join(self.tmp, mode + "-rpc"))
            self.assertNotEqual(rc, 0, err)
            self.one_line(err, mode, "cannot listen for workers on %s:%d" % (harness.HOST, port))

    def test_store_that_cannot_open(self):
        blocker = os.path.join(self.tmp, "a-file")
        with open(blocker, "w"):
            pass
        rc, err, _ = self.start_failing("master", "--http", "%s:0" % harness.HOST, "--rpc",
                                        "%s:0" % harness.HOST, "--data", os.path.join(blocker, "x"))
        self.assertNotEqual(rc, 0, err)
        self.one_line(err, "master", "cannot create data directory")
        rc, err, _ = self.start_failing("master", "--http", "%s:0" % harness.HOST, "--rpc",
                                        "%s:0" % harness.HOST, "--data", os.path.join(self.tmp, "pg"),
                                        "--store-postgres", "host=127.0.0.1 port=1 dbname=x connect_timeout=2")
        self.assertNotEqual(rc, 0, err)
        self.one_line(err, "master", "cannot connect to postgresql")

    def test_configuration_that_cannot_load(self):
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("master = { http = { port = ; }; };\n")
        for mode in ("dev", "master", "worker"):
            rc, err, _ = self.start_failing(mode, "--config", bad)
            self.assertEqual(rc, 2, err)
            self.assertRegex(err.strip(), r"^pagoda: .*bad\.conf:1: ")
        rc, err, _ = self.start_failing("master", "--config", os.path.join(self.tmp, "missing.conf"))
        self.assertEqual(rc, 2, err)
        self.assertIn("cannot read config file", err)

    def test_sighup_rereads_the_log_level(self):
        conf = os.path.join(self.tmp, "live.conf")
        with open(conf, "w") as f:
            f.write('log_level = "info";\n')
        d = self.start("dev", ["--config", conf], name="hup")
        with open(conf, "w") as f:
            f.write('log_level = "debug";\n')
        os.kill(d.proc.pid, signal.SIGHUP)
        harness.wait_until(lambda: "SIGHUP: log level is now debug" in d.stderr(), 20, 0.05,
                           "the new log level")
        self.assertIn("rescanning plugins", d.stderr())
        with open(conf, "w") as f:
            f.write('log_level = "loud";\n')
        os.kill(d.proc.pid, signal.SIGHUP)
        harness.wait_until(lambda: "is not debug, info, warn or error: kept 'debug'" in d.stderr(),
                           20, 0.05, "the bad level refused")
        self.assertTrue(d.alive())
        self.assertStopsCleanly(d)

    def test_the_start_hint_works_as_printed(self):
        # `pagoda dev` prints a CLI command to try; with a data directory of
        # its own (not the default) it must name the token file too
        d = self.start("dev", [], name="hint")
        m = re.search(r"^Try: (.*?) pagoda job list ", d.stdout(), re.M)
        self.assertIsNotNone(m, d.stdout())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAGODA_")}
        for assignment in m.group(1).split():
            name, _, value = assignment.partition("=")
            self.assertIn(name, ("PAGODA_ADDR", "PAGODA_TOKEN_FILE"), m.group(0))
            env[name] = value
        self.assertEqual(env.get("PAGODA_TOKEN_FILE"), os.path.join(d.data, "admin.token"))
        p = subprocess.run([harness.pagoda_bin(), "job", "list"], env=env, capture_output=True,
                           text=True, timeout=30, cwd=self.tmp, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertStopsCleanly(d)

    def test_version_after_any_command(self):
        for args in (["--version"], ["job", "list", "--version"], ["master", "--version"],
                     ["worker", "--version"], ["exec", "logs", "1", "-V"],
                     ["resource", "get", "x", "--version"]):
            p = subprocess.run([harness.pagoda_bin()] + args, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, (args, p.stderr))
            self.assertRegex(p.stdout, r"^pagoda \d+\.\d+\.\d+\n$", args)

    def test_cli_skips_an_address_that_does_not_answer(self):
        d = self.start("dev", name="cli")
        dead = "http://%s:%d" % (harness.HOST, self.closed_port())
        env = dict(os.environ, PAGODA_TOKEN_FILE=d.token_file())
        for addr_args, env_addr in ((["--addr", "%s,%s" % (dead, d.url)], None),
                                    ([], "%s, %s" % (dead, d.url))):
            e = dict(env)
            if env_addr:
                e["PAGODA_ADDR"] = env_addr
            else:
                e.pop("PAGODA_ADDR", None)
            p = subprocess.run([harness.pagoda_bin()] + addr_args + ["job", "list"],
                               capture_output=True, text=True, env=e, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([harness.pagoda_bin(), "--addr", "%s,%s" % (dead, dead), "job", "list"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot reach the Pagoda API at any of %s,%s" % (dead, dead), p.stderr)
        p = subprocess.run([harness.pagoda_bin(), "--addr", "zk://%s:1" % harness.HOST, "job", "list"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("zk://HOST:PORT[,HOST:PORT...]/CLUSTER", p.stderr)

    def closed_port(self):
        """A loopback port nothing listens on (connections are refused)."""
        return harness.free_port()


if __name__ == "__main__":
    harness.main()
