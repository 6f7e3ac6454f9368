"""`pagoda dev`: jobs (create, replace, list, show, delete) and executions
(success, failure, environment, run-time params, timeout, kill, logs with
offset and follow, listing filters), through the REST API."""

import http.client
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import FINAL_STATES  # noqa: E402


class DevJobs(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--kill-grace-ms", "500", "--slots", "4"])
        cls.api = cls.dev.api()

    # ------------------------------------------------------------ health

    def test_health(self):
        h = self.api.health()
        self.assertEqual(h["status"], "ok")
        self.assertEqual(h["store"], "sqlite")
        self.assertIsInstance(h["rpc_port"], int)
        self.assertEqual(h["rpc_port"], self.dev.rpc_port)
        self.assertIn("version", h)

    # ------------------------------------------------------------ jobs

    def test_job_create_replace_show_list_delete(self):
        job = {"name": "crud-job", "type": "shell", "params": {"script": "echo one"},
               "timeout": 30, "description": "kept as is"}
        r = self.api.post("/api/v1/jobs", job)
        self.assertEqual(r.status, 201, r)
        body = r.json
        self.assertEqual(body["name"], "crud-job")
        self.assertEqual(body["params"], {"script": "echo one"})
        self.assertEqual(body["description"], "kept as is")
        self.assertIn("created_at", body)
        self.assertIn("updated_at", body)

        job["params"] = {"script": "echo two"}
        r = self.api.post("/api/v1/jobs", job)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["params"], {"script": "echo two"})

        r = self.api.get("/api/v1/jobs/crud-job")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["params"], {"script": "echo two"})
        self.assertEqual(r.json["type"], "shell")
        self.assertEqual(r.json["timeout"], 30)

        self.api.shell_job("crud-a-first", "true")
        names = [j["name"] for j in self.api.ok("GET", "/api/v1/jobs")["jobs"]]
        self.assertIn("crud-job", names)
        self.assertIn("crud-a-first", names)
        self.assertEqual(names, sorted(names), "jobs must be ordered by name")

        r = self.api.delete("/api/v1/jobs/crud-job")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"deleted": "crud-job"})
        r = self.api.get("/api/v1/jobs/crud-job")
        self.assertEqual(r.status, 404, r)
        self.assertIn("error", r.json)
        self.assertEqual(self.api.delete("/api/v1/jobs/crud-job").status, 404)
        names = [j["name"] for j in self.api.ok("GET", "/api/v1/jobs")["jobs"]]
        self.assertNotIn("crud-job", names)

    def test_run_unknown_job_is_404(self):
        r = self.api.post("/api/v1/jobs/no-such-job/run")
        self.assertEqual(r.status, 404, r)
        self.assertIn("error", r.json)

    def test_deleted_job_keeps_its_executions(self):
        self.api.shell_job("del-hist", "echo kept")
        eid = self.api.run("del-hist")
        self.api.wait_for_state(eid, {"succeeded"})
        self.assertEqual(self.api.delete("/api/v1/jobs/del-hist").status, 200)
        e = self.api.execution(eid)
        self.assertEqual(e["state"], "succeeded")
        self.assertEqual(e["job"], "del-hist")

    # ------------------------------------------------------------ runs

    def test_run_succeeds_with_stdout_and_stderr_in_log(self):
        self.api.shell_job("hello", "echo hello; echo err >&2")
        r = self.api.post("/api/v1/jobs/hello/run")
        self.assertEqual(r.status, 201, r)
        self.assertIn(r.json["state"], ("pending", "dispatched"))
        eid = r.json["execution_id"]
        e = self.api.wait_for_state(eid, {"succeeded"})
        self.assertEqual(e["exit_code"], 0)
        self.assertEqual(e["job"], "hello")
        self.assertEqual(e["type"], "shell")
        self.assertEqual(e["attempt"], 1)
        self.assertEqual(e["trigger"], "api")
        self.assertTrue(e["worker_id"])
        self.assertIsNone(e["error"])
        for k in ("submitted_us", "dispatched_us", "started_us", "finished_us"):
            self.assertIsInstance(e[k], (int, float), k)
            self.assertGreater(e[k], 1.6e15, k)
        self.assertLessEqual(e["submitted_us"], e["dispatched_us"])
        self.assertLessEqual(e["dispatched_us"], e["started_us"])
        self.assertLessEqual(e["started_us"], e["finished_us"])
        self.assertTrue(e["finished_at"].endswith("Z"), e["finished_at"])
        self.assertEqual(len(e["attempts"]), 1)
        self.assertEqual(e["attempts"][0]["state"], "succeeded")
        self.assertEqual(e["definition"]["params"], {"script": "echo hello; echo err >&2"})
        log = self.api.log(eid)
        self.assertIn("hello\n", log)
        self.assertIn("err\n", log)
        r = self.api.get("/api/v1/executions/%d/log" % eid)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r.headers)

    def test_a_final_execution_reads_with_final_attempts(self):
        """Read-after-write: polling until the execution is final must never
        show its attempt still running (the attempt row may not be durable
        yet; the master answers from memory until it is)."""
        self.api.ok("POST", "/api/v1/jobs", {"name": "raw-true", "type": "shell",
                                             "params": {"argv": ["/bin/true"]}})
        for _ in range(60):
            eid = self.api.run("raw-true")
            while True:
                e = self.api.execution(eid)
                if e["state"] in harness.FINAL_STATES:
                    break
            self.assertEqual([a["state"] for a in e["attempts"]], ["succeeded"], e)

    def test_argv_job(self):
        self.api.shell_job("argv-job", argv=["/bin/echo", "from", "argv"])
        eid = self.api.run("argv-job")
        self.api.wait_for_state(eid, {"succeeded"})
        self.assertIn("from argv\n", self.api.log(eid))

    def test_exit_code_3_fails(self):
        self.api.shell_job("exit3", "echo before; exit 3")
        eid = self.api.run("exit3")
        e = self.api.wait_for_state(eid, {"failed"})
        self.assertEqual(e["exit_code"], 3)
        self.assertIn("exit code 3", e["error"] or "")
        self.assertIn("before\n", self.api.log(eid))

    def test_environment(self):
        self.api.create_job({"name": "envjob", "type": "shell",
                             "params": {"script": 'echo "id=$PAGODA_EXECUTION_ID job=$PAGODA_JOB '
                                                  'attempt=$PAGODA_ATTEMPT mine=$MINE"',
                                        "env": {"MINE": "yes"}}})
        eid = self.api.run("envjob")
        self.api.wait_for_state(eid, {"succeeded"})
        self.assertIn("id=%d job=envjob attempt=1 mine=yes\n" % eid, self.api.log(eid))

    def test_run_time_params_override(self):
        self.api.shell_job("override", "echo default-script")
        eid = self.api.run("override", {"script": "echo overridden-script"})
        e = self.api.wait_for_state(eid, {"succeeded"})
        self.assertEqual(e["params"]["script"], "echo overridden-script")
        log = self.api.log(eid)
        self.assertIn("overridden-script", log)
        self.assertNotIn("default-script", log)
        # The job itself is unchanged and a plain run uses its params.
        self.assertEqual(self.api.ok("GET", "/api/v1/jobs/override")["params"],
                         {"script": "echo default-script"})
        eid2 = self.api.run("override")
        self.api.wait_for_state(eid2, {"succeeded"})
        self.assertIn("default-script", self.api.log(eid2))
        # Overrides are validated again.
        r = self.api.post("/api/v1/jobs/override/run", {"params": {"script": ""}})
        self.assertEqual(r.status, 400, r)
        self.assertIn("shell:", r.json["error"])

    def test_timeout(self):
        self.api.shell_job("timeout1", "sleep 30", timeout=1)
        t0 = time.monotonic()
        eid = self.api.run("timeout1")
        e = self.api.wait_for_state(eid, {"timed_out"}, timeout=10)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertIn("timed out", e["error"] or "")
        self.assertLess(e["finished_us"] - e["started_us"], 8_000_000)

    def test_kill_running(self):
        self.api.shell_job("killme", "sleep 30")
        eid = self.api.run("killme")
        self.api.wait_for_state(eid, {"running"})
        r = self.api.post("/api/v1/executions/%d/kill" % eid)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json, {"id": eid, "kill_requested": True})
        e = self.api.wait_for_state(eid, {"killed"}, timeout=8)
        self.assertEqual(e["state"], "killed")
        r = self.api.post("/api/v1/executions/%d/kill" % eid)
        self.assertEqual(r.status, 409, r)
        self.assertIn("error", r.json)

    def test_kill_process_ignoring_sigterm(self):
        # SIGTERM is trapped: the grace period (500 ms) ends with SIGKILL.
        self.api.shell_job("stubborn", "trap '' TERM; echo ready; sleep 30")
        eid = self.api.run("stubborn")
        self.api.wait_for_state(eid, {"running"})
        harness.wait_until(lambda: "ready" in self.api.log(eid), 5, what="job printed ready")
        t0 = time.monotonic()
        self.assertEqual(self.api.post("/api/v1/executions/%d/kill" % eid).status, 202)
        self.api.wait_for_state(eid, {"killed"}, timeout=8)
        self.assertLess(time.monotonic() - t0, 6)

    # ------------------------------------------------------------ logs

    def test_log_offset(self):
        self.api.shell_job("offsets", "printf 'abcdefghij\\n'")
        eid = self.api.run("offsets")
        self.api.wait_for_state(eid, {"succeeded"})
        full = self.api.log(eid)
        self.assertIn("abcdefghij\n", full)
        for off in (0, 4, len(full) - 1, len(full)):
            self.assertEqual(self.api.log(eid, off), full[off:], "offset %d" % off)
        self.assertEqual(self.api.get("/api/v1/executions/999999/log").status, 404)

    def test_log_follow_streams_until_the_end(self):
        self.api.shell_job("follow", "for i in 1 2 3 4 5; do echo line$i; sleep 0.3; done")
        eid = self.api.run("follow")
        c = http.client.HTTPConnection(self.api.host, self.api.port, timeout=15)
        try:
            c.request("GET", "/api/v1/executions/%d/log?follow=1" % eid, headers=self.api.auth_headers())
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            got = b""
            state_at_first_line = None
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                chunk = r.read1(4096)
                if not chunk:
                    break
                got += chunk
                if state_at_first_line is None and b"line1\n" in got:
                    state_at_first_line = self.api.execution(eid)["state"]
            self.assertIsNotNone(state_at_first_line, "line1 never arrived: %r" % got)
            # line1 came while the job was still producing the rest (~1.2 s more).
            self.assertNotIn(state_at_first_line, FINAL_STATES,
                             "the follow stream only delivered line1 after the end")
            text = got.decode()
            for i in range(1, 6):
                self.assertIn("line%d\n" % i, text)
        finally:
            c.close()
        # The stream ended because the execution ended: its final state is
        # visible as soon as the stream is over.
        e = self.api.execution(eid)
        self.assertEqual(e["state"], "succeeded", "the follow stream ended before the execution did")
        self.assertEqual(e["exit_code"], 0)
        # Following a finished execution returns at once with the whole log.
        t0 = time.monotonic()
        r = self.api.get("/api/v1/executions/%d/log?follow=1" % eid, timeout=10)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(r.status, 200)
        self.assertIn("line5\n", r.text)

    # ------------------------------------------------------------ listing

    def test_listing_filters(self):
        self.api.shell_job("list-ok", "true")
        self.api.shell_job("list-bad", "exit 1")
        ok_ids = [self.api.run("list-ok") for _ in range(3)]
        bad_ids = [self.api.run("list-bad") for _ in range(2)]
        for i in ok_ids:
            self.api.wait_for_state(i, {"succeeded"})
        for i in bad_ids:
            self.api.wait_for_state(i, {"failed"})

        ex = self.api.executions(job="list-ok")
        self.assertEqual(sorted(e["id"] for e in ex), sorted(ok_ids))
        self.assertTrue(all(e["job"] == "list-ok" for e in ex))
        ids = [e["id"] for e in ex]
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
        self.assertNotIn("definition", ex[0])
        self.assertNotIn("attempts", ex[0])

        ex = self.api.executions(job="list-bad", state="failed")
        self.assertEqual(sorted(e["id"] for e in ex), sorted(bad_ids))
        self.assertEqual(self.api.executions(job="list-bad", state="succeeded"), [])
        failed_any = self.api.executions(state="failed")
        self.assertTrue(all(e["state"] == "failed" for e in failed_any))
        self.assertTrue(set(bad_ids) <= {e["id"] for e in failed_any})

        ex = self.api.executions(job="list-ok", limit=2)
        self.assertEqual([e["id"] for e in ex], sorted(ok_ids, reverse=True)[:2])
        older = self.api.executions(job="list-ok", before=ex[-1]["id"])
        self.assertEqual([e["id"] for e in older], sorted(ok_ids, reverse=True)[2:])
        self.assertEqual(len(self.api.executions(limit=1)), 1)
        # *_us are documented as integers: no "1.79530858048242e+15" forms
        # (cJSON's %1.15g prints those for values that end in 0).
        raw = self.api.get("/api/v1/executions?limit=100").text
        bad_nums = re.findall(r'"[a-z]+_us":\s*(-?[0-9]+(?:\.[0-9]*)?[eE.][^,}]*)', raw)
        self.assertEqual(bad_nums, [], "times printed as non-integers in %s" % raw[:300])
        for bad in ("0", "10001", "abc"):
            r = self.api.get("/api/v1/executions?limit=" + bad)
            self.assertEqual(r.status, 400, "limit=%s: %r" % (bad, r))


if __name__ == "__main__":
    harness.main()
