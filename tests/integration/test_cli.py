"""The `pagoda` CLI as an API client of a real `pagoda dev` (PAGODA_ADDR):
jobs, executions, logs (with follow), kill, workers, plugins, errors and
exit codes (0 success, 1 failure, 2 usage)."""

import datetime
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Cli(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--kill-grace-ms", "500", "--slots", "4"])
        cls.api = cls.dev.api()

    def cli(self, *args, addr=None, timeout=30, input=None):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = addr or self.dev.url
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                           timeout=timeout, input=input, cwd=self.tmp)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def ok(self, *args, **kw):
        rc, out, err = self.cli(*args, **kw)
        self.assertEqual(rc, 0, "pagoda %s -> %d\nstdout: %s\nstderr: %s" % (" ".join(args), rc, out, err))
        return out

    def job_file(self, job):
        path = os.path.join(self.tmp, job["name"] + ".json")
        with open(path, "w") as f:
            json.dump(job, f)
        return path

    def test_help(self):
        for args in (["--help"], ["help"], ["job", "--help"], ["exec", "--help"]):
            rc, out, err = self.cli(*args)
            self.assertEqual(rc, 0, (args, out, err))
            self.assertIn("Usage", out)
        rc, out, err = self.cli("--help")
        for word in ("job", "exec", "worker", "plugin", "dev", "master"):
            self.assertIn(word, out)

    def test_usage_errors_exit_2(self):
        for args in (["frobnicate"], ["job"], ["job", "show"], ["exec", "show", "notanumber"],
                     ["exec", "list", "--limit", "-3"]):
            rc, out, err = self.cli(*args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertTrue(err.strip(), "a usage error must say something on stderr: %r" % (args,))

    def test_job_create_list_show_delete(self):
        path = self.job_file({"name": "cli-job", "type": "shell", "params": {"script": "echo cli"}})
        out = self.ok("job", "create", path)
        self.assertIn("cli-job", out)
        self.assertIn("created", out)
        out = self.ok("job", "create", path)
        self.assertIn("replaced", out)
        self.assertIn("cli-job", self.ok("job", "list"))
        jobs = json.loads(self.ok("job", "list", "--json"))["jobs"]
        self.assertIn("cli-job", [j["name"] for j in jobs])
        shown = json.loads(self.ok("job", "show", "cli-job"))
        self.assertEqual(shown["name"], "cli-job")
        self.assertEqual(shown["params"], {"script": "echo cli"})
        # From standard input too.
        rc, out, err = self.cli("job", "create", "-",
                                input=json.dumps({"name": "cli-stdin", "type": "shell",
                                                  "params": {"script": "true"}}).encode())
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.api.get("/api/v1/jobs/cli-stdin").status, 200)
        self.ok("job", "delete", "cli-stdin")
        self.assertEqual(self.api.get("/api/v1/jobs/cli-stdin").status, 404)

    def test_job_create_invalid(self):
        path = self.job_file({"name": "cli-bad", "type": "shell", "params": {}})
        rc, out, err = self.cli("job", "create", path)
        self.assertEqual(rc, 1)
        self.assertIn("shell: params.script or params.argv is required", err)
        path = os.path.join(self.tmp, "notjson.json")
        with open(path, "w") as f:
            f.write("{nope")
        rc, out, err = self.cli("job", "create", path)
        self.assertEqual(rc, 1)
        self.assertTrue(err.strip())
        rc, out, err = self.cli("job", "create", os.path.join(self.tmp, "missing.json"))
        self.assertEqual(rc, 1)
        self.assertIn("missing.json", err)

    def test_job_run_wait_exit_codes(self):
        self.api.shell_job("cli-ok", "echo fine")
        self.api.shell_job("cli-fail", "exit 5")
        rc, out, err = self.cli("job", "run", "cli-ok", "--wait")
        self.assertEqual(rc, 0, err)
        lines = out.split()
        eid = int(lines[0])
        self.assertEqual(lines[-1], "succeeded")
        self.assertEqual(self.api.execution(eid)["state"], "succeeded")

        rc, out, err = self.cli("job", "run", "cli-fail", "--wait")
        self.assertEqual(rc, 1, (out, err))
        self.assertEqual(out.split()[-1], "failed")
        self.assertEqual(self.api.execution(int(out.split()[0]))["exit_code"], 5)

        rc, out, err = self.cli("job", "run", "cli-ok")
        self.assertEqual(rc, 0, err)
        self.api.wait_for_state(int(out.strip()), {"succeeded"})

        rc, out, err = self.cli("job", "run", "cli-ok", "--param", "script=echo from-param", "--wait")
        self.assertEqual(rc, 0, err)
        self.assertIn("from-param", self.api.log(int(out.split()[0])))

    def test_exec_list_show_logs(self):
        self.api.shell_job("cli-exec", "echo out-line; echo err-line >&2")
        eid = self.api.run("cli-exec")
        self.api.wait_for_state(eid, {"succeeded"})
        out = self.ok("exec", "list")
        self.assertIn(str(eid), out)
        self.assertIn("succeeded", out)
        ex = json.loads(self.ok("exec", "list", "--job", "cli-exec", "--json"))["executions"]
        self.assertEqual([e["id"] for e in ex], [eid])
        ex = json.loads(self.ok("exec", "list", "--state", "failed", "--json"))["executions"]
        self.assertNotIn(eid, [e["id"] for e in ex])
        ex = json.loads(self.ok("exec", "list", "--limit", "1", "--json"))["executions"]
        self.assertEqual(len(ex), 1)
        shown = json.loads(self.ok("exec", "show", str(eid)))
        self.assertEqual(shown["id"], eid)
        self.assertEqual(shown["state"], "succeeded")
        self.assertEqual(len(shown["attempts"]), 1)
        logs = self.ok("exec", "logs", str(eid))
        self.assertIn("out-line\n", logs)
        self.assertIn("err-line\n", logs)
        self.assertEqual(logs, self.api.log(eid))

    def test_exec_list_since_until(self):
        self.api.shell_job("cli-window", "true")
        first = self.api.run("cli-window")
        self.api.wait_for_state(first, {"succeeded"})
        second = self.api.run("cli-window")
        self.api.wait_for_state(second, {"succeeded"})
        cut = self.api.execution(second)["submitted_us"]
        self.assertGreater(cut, self.api.execution(first)["submitted_us"])

        def ids(*window):
            out = self.ok("exec", "list", "--job", "cli-window", "--json", *window)
            return sorted(e["id"] for e in json.loads(out)["executions"])

        self.assertEqual(ids("--since", str(cut)), [second])
        self.assertEqual(ids("--until", str(cut)), [first])
        rfc = datetime.datetime.fromtimestamp(cut // 1000000, datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (cut % 1000000)
        self.assertEqual(ids("--since", rfc), [second])
        self.assertEqual(ids("--since", "1h"), [first, second])
        self.assertEqual(ids("--until", "1h"), [])
        rc, out, err = self.cli("exec", "list", "--since", "last-tuesday")
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("--since", err)

    def test_exec_logs_follow(self):
        self.api.shell_job("cli-follow", "for i in 1 2 3 4; do echo tick$i; sleep 0.3; done")
        eid = self.api.run("cli-follow")
        env = dict(os.environ, PAGODA_ADDR=self.dev.url)
        p = subprocess.Popen([harness.pagoda_bin(), "exec", "logs", str(eid), "-f"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = p.stdout.readline().decode()
            state_at_first = self.api.execution(eid)["state"]
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        text = first + out.decode()
        for i in range(1, 5):
            self.assertIn("tick%d\n" % i, text)
        self.assertNotIn(state_at_first, harness.FINAL_STATES,
                         "exec logs -f printed nothing before the job ended")
        self.assertIn(self.api.execution(eid)["state"], ("succeeded",))

    def test_exec_kill(self):
        self.api.shell_job("cli-kill", "sleep 30")
        eid = self.api.run("cli-kill")
        self.api.wait_for_state(eid, {"running"})
        out = self.ok("exec", "kill", str(eid))
        self.assertIn(str(eid), out)
        self.api.wait_for_state(eid, {"killed"}, timeout=8)
        rc, out, err = self.cli("exec", "kill", str(eid))
        self.assertEqual(rc, 1)
        self.assertIn("409", err)

    def test_worker_and_plugin_list(self):
        workers = self.api.ok("GET", "/api/v1/workers")["workers"]
        self.assertEqual(len(workers), 1)
        out = self.ok("worker", "list")
        self.assertIn(workers[0]["id"], out)
        self.assertIn("alive", out)
        js = json.loads(self.ok("worker", "list", "--json"))
        self.assertEqual([w["id"] for w in js["workers"]], [workers[0]["id"]])
        out = self.ok("plugin", "list")
        self.assertIn("shell", out)
        self.assertIn("loaded", out)

    def test_errors(self):
        api_msg = self.api.get("/api/v1/jobs/no-such-job").json["error"]
        rc, out, err = self.cli("job", "show", "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn(api_msg, err)
        rc, out, err = self.cli("job", "run", "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-job", err)
        rc, out, err = self.cli("exec", "show", "999999")
        self.assertEqual(rc, 1)
        self.assertIn("404", err)

        dead = "http://127.0.0.1:%d" % harness.free_port()
        t0 = time.monotonic()
        rc, out, err = self.cli("job", "list", addr=dead)
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach", err)
        self.assertIn(dead, err)
        self.assertLess(time.monotonic() - t0, 10)
        # --addr wins over PAGODA_ADDR.
        rc, out, err = self.cli("--addr", self.dev.url, "job", "list", addr=dead)
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    harness.main()
