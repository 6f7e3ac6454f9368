#!/usr/bin/env python3
"""Scripts with real limits (issue 13), through a real master and workers.

`string.find(string.rep('a', 600), '.-.-.-b')` used to run ~70 s inside the
C pattern matcher, where the instruction hook never fires: a balancer or a
flow hook doing it stalled the master's loop (health unanswered, SIGTERM
ignored), and a `lua` job doing it ignored kill and timeout. Now the matcher
charges its steps to the budget and reads the clock: the balancer falls
back to the built-in choice with `balancer_error`, the hook fails with a
clear error under its flow's policy, the master keeps answering, stops
promptly on SIGTERM, and the lua job is killed and timed out. A `__gc`
finalizer (the other way a lua job escaped) is refused."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402

STALL = "string.find(string.rep('a', 600), '.-.-.-b')"
# pcall cannot swallow the budget error: this is one overrun per call.
STALL_LOOP = "while true do pcall(string.find, string.rep('a', 600), '.-.-.-b') end"


class HealthProbe(threading.Thread):
    """Asks /api/v1/health over and over until stopped; records failures
    (an unanswered request times out after `timeout` seconds)."""

    def __init__(self, url, timeout=10):
        super().__init__(daemon=True)
        self.api = harness.Api(url, timeout=timeout)
        self.answers = 0
        self.failures = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                r = self.api.get("/api/v1/health")
                if r.status == 200:
                    self.answers += 1
                else:
                    self.failures.append("status %d" % r.status)
            except Exception as e:  # a timeout is the failure this probes for
                self.failures.append(repr(e))
            time.sleep(0.02)

    def stop(self):
        self.halt.set()
        self.join(30)


class ScriptLimits(ClusterCase):
    WORKERS = {"w1": ["--slots", "8"], "w2": ["--slots", "8"]}

    @classmethod
    def setUpClass(cls):
        harness.PagodaTestCase.setUpClass()
        cls.bdir = os.path.join(cls.tmp, "balancers")
        os.makedirs(cls.bdir)
        with open(os.path.join(cls.bdir, "stall.lua"), "w") as f:
            f.write("function pick(job, workers, state)\n  %s\n  return workers[1].id\nend\n" % STALL_LOOP)
        cls.MASTER_ARGS = ["--balancers", cls.bdir, "--kill-grace-ms", "300"]
        super().setUpClass()

    def test_stalling_balancer_falls_back_and_the_master_keeps_serving(self):
        self.api.ok("POST", "/api/v1/jobs", {"name": "stall-bal", "type": "shell",
                                             "params": {"script": "true"}, "balancer": "stall"})
        probe = HealthProbe(self.master.url)
        probe.start()
        try:
            ids = [self.api.run("stall-bal") for _ in range(4)]
            done = [self.api.wait_final(i, timeout=60) for i in ids]
        finally:
            probe.stop()
        for e in done:
            self.assertEqual(e["state"], "succeeded", e)
            self.assertIn("exceeded", e.get("balancer_error") or "", e)
        self.assertEqual(probe.failures, [])
        self.assertGreater(probe.answers, 0)
        bals = {b["name"]: b for b in self.api.ok("GET", "/api/v1/balancers")["balancers"]}
        self.assertIn("exceeded", bals["stall"].get("last_error") or "", bals["stall"])

    def flow(self, name, policy=None):
        hooks = "function on_node_ready(node, flow)\n  if node.id == 'b' then %s end\nend\n" % STALL
        body = {"name": name, "hooks": {"script": hooks},
                "nodes": [{"id": "a", "job": {"type": "shell", "params": {"script": "true"}}},
                          {"id": "b", "job": {"type": "shell", "params": {"script": "true"}},
                           "depends_on": ["a"]}]}
        if policy:
            body["hooks_error"] = policy
            body["failure_strategy"] = "continue"
        self.api.ok("POST", "/api/v1/flows", body, expect=(200, 201))
        r = self.api.ok("POST", "/api/v1/flows/%s/run" % name, None, expect=(201,))
        fid = r["flow_execution_id"]
        return harness.wait_until(
            lambda: (lambda f: f if f["state"] in ("succeeded", "failed", "killed") else None)(
                self.api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))),
            60, 0.05, "flow execution %d ends" % fid)

    def test_stalling_hook_fails_with_a_clear_error(self):
        probe = HealthProbe(self.master.url)
        probe.start()
        try:
            fe = self.flow("stall-hook-run")
            failing = self.flow("stall-hook-fail", policy="fail")
        finally:
            probe.stop()
        # default policy: the error is recorded and the node runs anyway
        self.assertEqual(fe["state"], "succeeded", fe)
        self.assertEqual(len(fe["hook_errors"]), 1, fe)
        self.assertIn("exceeded", fe["hook_errors"][0]["error"], fe)
        # "fail": the node fails without running
        self.assertEqual(failing["state"], "failed", failing)
        self.assertEqual(failing["nodes"]["b"]["state"], "failed", failing)
        self.assertEqual(failing["nodes"]["b"]["execution_id"], 0, failing)
        self.assertEqual(probe.failures, [])

    def lua_job(self, name, script, **extra):
        body = {"name": name, "type": "lua",
                "params": {"script": script, "max_instructions": 10000000000}}
        body.update(extra)
        self.api.create_job(body)
        return self.api.run(name)

    def test_lua_job_stuck_in_the_matcher_times_out(self):
        eid = self.lua_job("lua-stall-timeout", STALL_LOOP, timeout=1)
        e = self.api.wait_for_state(eid, {"timed_out"}, timeout=30)
        self.assertEqual(e["state"], "timed_out", e)

    def test_lua_job_stuck_in_the_matcher_is_killed(self):
        eid = self.lua_job("lua-stall-kill", STALL_LOOP)
        self.api.wait_for_state(eid, {"running"}, timeout=15)
        r = self.api.post("/api/v1/executions/%s/kill" % eid)
        self.assertIn(r.status, (200, 202), r)
        e = self.api.wait_for_state(eid, {"killed"}, timeout=30)
        self.assertEqual(e["state"], "killed", e)

    def test_lua_job_gc_finalizer_is_refused(self):
        eid = self.lua_job("lua-gc", "setmetatable({}, {__gc = function() while true do end end})\n"
                                     "collectgarbage()\nreturn 1")
        e = self.api.wait_final(eid, timeout=30)
        self.assertEqual(e["state"], "failed", e)
        errors = " ".join(str(a.get("error")) for a in e.get("attempts", [])) + str(e.get("error"))
        self.assertIn("__gc metamethods are not allowed", errors, e)


class HookStallShutdown(harness.PagodaTestCase):
    """SIGTERM reaches a master whose flow hooks overrun on every call."""

    def test_sigterm_stops_the_master_promptly(self):
        dev = self.start("dev", ["--slots", "4", "--kill-grace-ms", "300"])
        api = dev.api()
        hooks = "function on_node_ready(node, flow) %s end\n" % STALL_LOOP
        nodes = [{"id": "n%d" % i, "job": {"type": "shell", "params": {"script": "true"}}}
                 for i in range(20)]
        api.ok("POST", "/api/v1/flows", {"name": "stall-all", "hooks": {"script": hooks}, "nodes": nodes},
               expect=(200, 201))
        api.ok("POST", "/api/v1/flows/stall-all/run", None, expect=(201,))
        api.health()  # answers 200 while the hooks overrun
        t0 = time.monotonic()
        self.assertStopsCleanly(dev, timeout=15)
        # each overrunning hook call ends within its 1 s limit: SIGTERM is
        # seen between two calls (before the fix: ~70 s per call)
        self.assertLess(time.monotonic() - t0, 15)


if __name__ == "__main__":
    harness.main()
