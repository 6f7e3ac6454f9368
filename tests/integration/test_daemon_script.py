"""sbin/pagoda-daemon.sh: a master and a worker started through the script
with temporary run and log directories and free ports; status, a job through
the API, stop (pids gone); log rotation at start; stale pid files; SIGKILL
after the stop timeout."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRIPT = os.path.join(harness.source_dir(), "sbin", "pagoda-daemon.sh")


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class DaemonScript(unittest.TestCase):
    def setUp(self):
        harness.require(os.access(harness.pagoda_bin(), os.X_OK),
                        "no pagoda executable at %s" % harness.pagoda_bin())
        self.tmp = tempfile.mkdtemp(prefix="pagoda-it-daemon-script-")
        self.run_dir = os.path.join(self.tmp, "run")
        self.log_dir = os.path.join(self.tmp, "log")
        self.env = dict(os.environ)
        for k in ("PAGODA_CONFIG", "PAGODA_ADDR", "PAGODA_INSTANCE", "PAGODA_LOG_MAX_BYTES",
                  "PAGODA_LOG_KEEP", "PAGODA_STOP_TIMEOUT", "PAGODA_START_TIMEOUT"):
            self.env.pop(k, None)
        self.env.update({"PAGODA_BIN": harness.pagoda_bin(), "PAGODA_RUN_DIR": self.run_dir,
                         "PAGODA_LOG_DIR": self.log_dir})
        self.started = []  # (role, env) to stop in tearDown

    def tearDown(self):
        for role, env in reversed(self.started):
            pid = self.pid_of(role, env)
            self.script("stop", role, env=env, check=None)
            if pid and pid_alive(pid):  # last resort, by pid
                os.kill(pid, signal.SIGKILL)
        if not os.environ.get("PAGODA_KEEP_TMP"):
            subprocess.run(["rm", "-rf", self.tmp])

    def script(self, cmd, role, *args, env=None, check=0):
        r = subprocess.run([SCRIPT, cmd, role] + list(args), env=env or self.env, cwd=self.tmp,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90)
        r.out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
        if check is not None:
            self.assertEqual(r.returncode, check, "%s %s %s -> %d:\n%s" %
                             (cmd, role, " ".join(args), r.returncode, r.out))
        return r

    def pid_file(self, role, env=None):
        inst = (env or self.env).get("PAGODA_INSTANCE")
        return os.path.join(self.run_dir, "pagoda-%s%s.pid" % (role, "-" + inst if inst else ""))

    def pid_of(self, role, env=None):
        try:
            with open(self.pid_file(role, env)) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self, role, *args, env=None):
        self.started.append((role, env))
        return self.script("start", role, *args, env=env)

    def test_master_worker_job_stop(self):
        http, rpc = harness.free_port(), harness.free_port()
        self.script("status", "master", check=3)
        r = self.start("master", "--http", "%s:%d" % (harness.HOST, http), "--rpc",
                       "%s:%d" % (harness.HOST, rpc), "--data", os.path.join(self.tmp, "m"))
        self.assertIn("pagoda-master started", r.out)
        self.start("worker", "--master", "%s:%d" % (harness.HOST, rpc), "--id", "w-script",
                   "--data", os.path.join(self.tmp, "w"))
        mpid, wpid = self.pid_of("master"), self.pid_of("worker")
        self.assertTrue(mpid and pid_alive(mpid))
        self.assertTrue(wpid and pid_alive(wpid))
        self.assertIn("running (pid %d)" % mpid, self.script("status", "master", check=0).out)
        self.assertIn("running (pid %d)" % wpid, self.script("status", "worker", check=0).out)

        # a second start is refused and leaves the first alone
        r = self.script("start", "master", "--http", "%s:%d" % (harness.HOST, http), check=1)
        self.assertIn("already running (pid %d" % mpid, r.out)
        self.assertEqual(self.pid_of("master"), mpid)

        api = harness.Api("http://%s:%d" % (harness.HOST, http),
                          token=harness.read_token(os.path.join(self.tmp, "m")))
        harness.wait_until(lambda: any(w["id"] == "w-script" and w["state"] == "alive"
                                       for w in api.ok("GET", "/api/v1/workers")["workers"]),
                           15, 0.1, "worker w-script alive")
        api.shell_job("via-script", "echo hello from $PAGODA_JOB")
        e = api.wait_for_state(api.run("via-script"), {"succeeded"}, timeout=20)
        self.assertEqual(e.get("worker_id"), "w-script")
        self.assertIn("hello from via-script", api.log(e["id"]))

        self.assertIn("pagoda-worker stopped", self.script("stop", "worker", check=0).out)
        self.assertIn("pagoda-master stopped", self.script("stop", "master", check=0).out)
        self.assertFalse(pid_alive(mpid))
        self.assertFalse(pid_alive(wpid))
        self.assertFalse(os.path.exists(self.pid_file("master")))
        self.script("status", "master", check=3)
        self.script("status", "worker", check=3)
        self.script("stop", "master", check=0)  # stopping a stopped daemon is fine
        with open(os.path.join(self.log_dir, "pagoda-master.log")) as f:
            log = f.read()
        self.assertIn("Pagoda master is running", log)
        self.assertIn("connected from", log)

    def test_log_rotation_at_start(self):
        env = dict(self.env, PAGODA_LOG_MAX_BYTES="20000", PAGODA_LOG_KEEP="2", PAGODA_INSTANCE="rot")
        log = os.path.join(self.log_dir, "pagoda-worker-rot.log")
        os.makedirs(self.log_dir)
        # a worker needs no listening port: its master (nobody) is retried
        args = ["--master", "%s:%d" % (harness.HOST, harness.free_port()), "--id", "w-rot",
                "--data", os.path.join(self.tmp, "w")]
        for gen in (1, 2, 3):
            with open(log, "a") as f:
                f.write(("old-%d " % gen) * 5000)  # 30000 bytes > 20000
            r = self.start("worker", *args, env=env)
            self.assertIn("rotated %s" % log, r.out)
            self.assertIn("Pagoda worker w-rot is running", read(log))
            self.assertNotIn("old-", read(log))
            self.script("stop", "worker", env=env, check=0)
        # each rotated file: the previous run's lines, then the filler
        one, two = read(log + ".1"), read(log + ".2")
        self.assertIn("old-3 " * 5000, one)
        self.assertNotIn("old-2", one)
        self.assertIn("old-2 " * 5000, two)
        self.assertNotIn("old-1", two)
        self.assertFalse(os.path.exists(log + ".3"))  # keep 2: old-1 is gone
        # a small log is not rotated
        with open(log, "w") as f:
            f.write("small\n")
        r = self.start("worker", *args, env=env)
        self.assertNotIn("rotated", r.out)
        self.script("stop", "worker", env=env, check=0)
        self.assertEqual(read(log + ".1"), one)

    def test_stale_pid_files(self):
        os.makedirs(self.run_dir)
        p = subprocess.Popen(["true"])
        p.wait()
        with open(self.pid_file("worker"), "w") as f:
            f.write("%d\n" % p.pid)
        self.script("status", "worker", check=1)
        r = self.script("stop", "worker", check=0)
        self.assertIn("stale", r.out)
        self.assertFalse(os.path.exists(self.pid_file("worker")))
        self.script("status", "worker", check=3)
        # a live process that is not a pagoda worker is never signalled
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            with open(self.pid_file("worker"), "w") as f:
                f.write("%d\n" % sleeper.pid)
            r = self.script("stop", "worker", check=1)
            self.assertIn("not a pagoda worker", r.out)
            self.assertIsNone(sleeper.poll())
            self.script("status", "worker", check=1)
        finally:
            sleeper.kill()
            sleeper.wait()
            os.unlink(self.pid_file("worker"))
        # a daemon that exits at once: start fails and says why
        r = self.script("start", "worker", "--no-such-flag", check=1)
        self.assertIn("unknown flag", r.out)
        self.assertFalse(os.path.exists(self.pid_file("worker")))

    def test_sigkill_after_stop_timeout(self):
        fake = os.path.join(self.tmp, "fake-pagoda")
        with open(fake, "w") as f:
            f.write("#!/usr/bin/env python3\n"
                    "import signal, sys, time\n"
                    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                    "print('Pagoda worker fake is running', flush=True)\n"
                    "while True: time.sleep(1)\n")
        os.chmod(fake, 0o755)
        env = dict(self.env, PAGODA_BIN=fake, PAGODA_STOP_TIMEOUT="1")
        self.start("worker", env=env)
        pid = self.pid_of("worker", env)
        self.assertTrue(pid and pid_alive(pid))
        t0 = time.monotonic()
        r = self.script("stop", "worker", env=env, check=0)
        self.assertIn("SIGKILL", r.out)
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        self.assertFalse(pid_alive(pid))
        self.script("status", "worker", env=env, check=3)


if __name__ == "__main__":
    harness.main()
