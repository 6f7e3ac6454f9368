#!/usr/bin/env python3
"""In-process executor runs (the `lua` type) happen in a child process
(issue 13, item 2): a run that cannot be stopped in-process is still killed
and timed out.

The test plugin `test_stuck` (tests/plugins-stuck/stuck.so, built from
tests/unit/plugins/test_plugin.c with TP_STUCK) is an in-process executor
whose run() sleeps 300 s in C and ignores the cancellation flag and signal
interruptions: on a worker thread nothing could stop it. With
worker.inproc_isolation = "process" (the default) the worker SIGKILLs its
child after the kill grace: `kill` ends it `killed`, a timeout ends it
`timed_out`, no child is left behind, and the worker keeps running jobs; a
run that crashes fails alone. A `lua` job's result, error and output arrive
intact through the child, and the same in the "thread" mode kept as a
switch. `pagoda __inproc-run` and `pagoda-inproc` are also run directly."""

import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CHILD_ARG = "__inproc-run"


def children_running(marker):
    """Pids of live processes whose command line holds the child mode and
    `marker` (this test's plugins directory)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and CHILD_ARG.encode() in argv and any(marker.encode() in a for a in argv):
            pids.append(int(pid))
    return pids


def attempt_field(e, key):
    """A field of the execution, or of its last attempt."""
    if e.get(key) is not None:
        return e[key]
    attempts = e.get("attempts") or []
    return attempts[-1].get(key) if attempts else None


def plugins_dir(tmp, name):
    pdir = os.path.join(tmp, name)
    os.makedirs(pdir)
    shutil.copy(os.path.join(harness.build_dir(), "plugins", "lua.so"), pdir)
    stuck = os.path.join(harness.build_dir(), "tests", "plugins-stuck", "stuck.so")
    if not os.path.exists(stuck):
        raise AssertionError("test plugin %s is not built" % stuck)
    shutil.copy(stuck, pdir)
    return pdir


class LuaJobChecks:
    """Result, error and output of `lua` jobs, shared by both modes."""

    def run_job(self, job, timeout=30):
        self.api.create_job(job)
        eid = self.api.run(job["name"])
        return eid, self.api.wait_final(eid, timeout=timeout)

    def test_lua_result_and_output_arrive_intact(self):
        name = "lua-ok-" + self.MODE
        eid, e = self.run_job({"name": name, "type": "lua", "params": {
            "script": "log('hi', params.who)\nprint('line two')\nlocal s = 0\n"
                      "for _, v in ipairs(params.n) do s = s + v end\n"
                      "return {sum = s, who = params.who, text = 'caf\\u{e9}'}",
            "args": {"who": "lua", "n": [1, 2, 3]}}})
        self.assertEqual(e["state"], "succeeded", e)
        self.assertEqual(attempt_field(e, "result"), {"sum": 6, "who": "lua", "text": "caf\u00e9"}, e)
        log = self.api.log(eid)
        self.assertIn("hi\tlua\n", log)
        self.assertIn("line two\n", log)
        self.assertNotIn(CHILD_ARG, log)

    def test_lua_error_arrives_intact(self):
        eid, e = self.run_job({"name": "lua-err-" + self.MODE, "type": "lua",
                               "params": {"script": "local x = nil\nerror('bad thing: ' .. tostring(x))"}})
        self.assertEqual(e["state"], "failed", e)
        self.assertEqual(attempt_field(e, "error"), "lua: script:2: bad thing: nil", e)
        self.assertIn("stack traceback", self.api.log(eid))

    def test_cooperative_lua_kill(self):
        self.api.create_job({"name": "lua-kill-" + self.MODE, "type": "lua",
                             "params": {"script": "while true do end", "max_instructions": 10000000000}})
        eid = self.api.run("lua-kill-" + self.MODE)
        self.api.wait_for_state(eid, {"running"}, timeout=30)
        r = self.api.post("/api/v1/executions/%s/kill" % eid)
        self.assertIn(r.status, (200, 202), r)
        e = self.api.wait_for_state(eid, {"killed"}, timeout=30)
        self.assertEqual(e["state"], "killed", e)


class ProcessIsolation(LuaJobChecks, harness.PagodaTestCase):
    MODE = "process"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pdir = plugins_dir(cls.tmp, "plugins")
        # default isolation: no configuration key
        cls.dev = cls.start("dev", ["--plugins", cls.pdir, "--slots", "2", "--kill-grace-ms", "300"])
        cls.api = cls.dev.api()

    def start_stuck(self, name, **extra):
        job = {"name": name, "type": "test_stuck", "params": {}}
        job.update(extra)
        self.api.create_job(job)
        eid = self.api.run(name)
        self.api.wait_for_state(eid, {"running"}, timeout=30)
        harness.wait_until(lambda: "stuck\n" in self.api.log(eid), 30, 0.05, "the stuck run logs")
        return eid

    def assert_worker_healthy(self):
        # both slots free again: two lua jobs at once succeed
        for n in ("a", "b"):
            self.api.create_job({"name": "after-%s-%s" % (self._testMethodName, n), "type": "lua",
                                 "params": {"script": "return 7"}})
        ids = [self.api.run("after-%s-%s" % (self._testMethodName, n)) for n in ("a", "b")]
        for eid in ids:
            e = self.api.wait_final(eid, timeout=30)
            self.assertEqual(e["state"], "succeeded", e)
            self.assertEqual(attempt_field(e, "result"), 7, e)
        self.assertTrue(self.dev.alive())

    def test_run_stuck_in_c_is_killed(self):
        eid = self.start_stuck("stuck-kill")
        kids = children_running(self.pdir)
        self.assertEqual(len(kids), 1)
        self.assertEqual(os.path.basename(os.readlink("/proc/%d/exe" % kids[0])), "pagoda-inproc")
        r = self.api.post("/api/v1/executions/%s/kill" % eid)
        self.assertIn(r.status, (200, 202), r)
        e = self.api.wait_for_state(eid, {"killed"}, timeout=30)
        self.assertEqual(e["state"], "killed", e)
        harness.wait_until(lambda: not children_running(self.pdir), 30, 0.05, "the child is gone")
        self.assert_worker_healthy()

    def test_run_stuck_in_c_times_out(self):
        eid = self.start_stuck("stuck-timeout", timeout=1)
        e = self.api.wait_for_state(eid, {"timed_out"}, timeout=30)
        self.assertEqual(e["state"], "timed_out", e)
        harness.wait_until(lambda: not children_running(self.pdir), 30, 0.05, "the child is gone")
        self.assert_worker_healthy()

    def test_crashing_run_fails_alone(self):
        self.api.create_job({"name": "crash", "type": "test_stuck", "params": {"crash": True}})
        e = self.api.wait_final(self.api.run("crash"), timeout=30)
        self.assertEqual(e["state"], "failed", e)
        self.assertIn("the in-process run's child was killed by signal 6", attempt_field(e, "error") or "", e)
        self.assert_worker_healthy()

    def test_worker_stop_kills_a_stuck_run(self):
        d = self.start("dev", ["--plugins", self.pdir, "--slots", "1", "--kill-grace-ms", "300"],
                       name="dev-stop")
        api = d.api()
        api.create_job({"name": "stuck-stop", "type": "test_stuck", "params": {}})
        eid = api.run("stuck-stop")
        api.wait_for_state(eid, {"running"}, timeout=30)
        harness.wait_until(lambda: "stuck\n" in api.log(eid), 30, 0.05, "the stuck run logs")
        self.assertStopsCleanly(d, timeout=30)
        harness.wait_until(lambda: len(children_running(self.pdir)) == 0, 30, 0.05,
                           "no child outlives the daemon")


class SelfHelper(harness.PagodaTestCase):
    """Without pagoda-inproc next to the executable (a copy of pagoda alone
    in a directory), the child is `pagoda __inproc-run` (/proc/self/exe)."""

    def test_lua_and_kill_through_pagoda_itself(self):
        alone = os.path.join(self.tmp, "alone")
        os.makedirs(alone)
        shutil.copy(harness.pagoda_bin(), alone)
        pdir = plugins_dir(self.tmp, "plugins-self")
        real = harness.pagoda_bin
        harness.pagoda_bin = lambda: os.path.join(alone, "pagoda")
        try:
            d = self.start("dev", ["--plugins", pdir, "--slots", "2", "--kill-grace-ms", "300"],
                           name="dev-self")
        finally:
            harness.pagoda_bin = real
        api = d.api()
        api.create_job({"name": "lua-self", "type": "lua",
                        "params": {"script": "log('from self')\nreturn {n = 3}"}})
        eid = api.run("lua-self")
        e = api.wait_final(eid, timeout=30)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertEqual(attempt_field(e, "result"), {"n": 3}, e)
        self.assertIn("from self\n", api.log(eid))
        api.create_job({"name": "stuck-self", "type": "test_stuck", "params": {}})
        eid = api.run("stuck-self")
        api.wait_for_state(eid, {"running"}, timeout=30)
        harness.wait_until(lambda: "stuck\n" in api.log(eid), 30, 0.05, "the stuck run logs")
        kids = children_running(pdir)
        self.assertEqual(len(kids), 1)
        self.assertEqual(os.readlink("/proc/%d/exe" % kids[0]), os.path.join(alone, "pagoda"))
        api.post("/api/v1/executions/%s/kill" % eid)
        e = api.wait_for_state(eid, {"killed"}, timeout=30)
        self.assertEqual(e["state"], "killed", e)
        harness.wait_until(lambda: not children_running(pdir), 30, 0.05, "the child is gone")


class ThreadIsolation(LuaJobChecks, harness.PagodaTestCase):
    """The switch kept for the old behaviour (a worker thread)."""
    MODE = "thread"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pdir = plugins_dir(cls.tmp, "plugins")
        conf = os.path.join(cls.tmp, "thread.conf")
        with open(conf, "w") as f:
            f.write('worker: { inproc_isolation = "thread"; };\n')
        cls.dev = cls.start("dev", ["--config", conf, "--plugins", cls.pdir, "--slots", "2"])
        cls.api = cls.dev.api()

    def test_lua_runs_in_the_worker(self):
        self.api.create_job({"name": "lua-wait", "type": "lua",
                             "params": {"script": "while true do end", "max_instructions": 10000000000}})
        eid = self.api.run("lua-wait")
        self.api.wait_for_state(eid, {"running"}, timeout=30)
        self.assertEqual(children_running(self.pdir), [])
        self.api.post("/api/v1/executions/%s/kill" % eid)
        self.api.wait_for_state(eid, {"killed"}, timeout=30)


class HiddenMode(harness.PagodaTestCase):
    """The child's side, run directly: `pagoda __inproc-run` and the small
    `pagoda-inproc` helper speak the same protocol (worker/inproc_child.h)."""

    def run_child(self, prog, script):
        d = os.path.join(self.tmp, "child-%d" % len(os.listdir(self.tmp)))
        os.makedirs(d)
        params, result = os.path.join(d, "params.json"), os.path.join(d, "result.json")
        with open(params, "w") as f:
            json.dump({"script": script}, f)
        lua = os.path.join(harness.build_dir(), "plugins", "lua.so")
        p = subprocess.run(prog + [CHILD_ARG, lua, "lua", params, result], capture_output=True,
                           timeout=60)
        with open(result) as f:
            return p, json.load(f)

    def check_both(self, prog):
        p, r = self.run_child(prog, "log('out', 1)\nreturn {a = 'b'}")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout, b"out\t1\n")
        self.assertEqual(r["rc"], 0, r)
        self.assertEqual(json.loads(r["result"]), {"a": "b"}, r)
        p, r = self.run_child(prog, "error('nope')")
        self.assertEqual(p.returncode, 1, p)
        self.assertNotEqual(r["rc"], 0, r)
        self.assertIn("nope", r["error"], r)
        self.assertIsNone(r["result"], r)

    def test_pagoda_hidden_mode(self):
        self.check_both([harness.pagoda_bin()])

    def test_small_helper(self):
        helper = os.path.join(os.path.dirname(harness.pagoda_bin()), "pagoda-inproc")
        self.assertTrue(os.access(helper, os.X_OK), helper)
        self.check_both([helper])

    def test_usage_error(self):
        p = subprocess.run([harness.pagoda_bin(), CHILD_ARG], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn(b"internal to the worker", p.stderr)


class BadIsolationValue(harness.PagodaTestCase):
    def test_unknown_value_is_refused_at_start(self):
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write('worker: { inproc_isolation = "vm"; };\n')
        d = harness.Daemon("dev", self.tmp, ["--config", conf, "--slots", "1"])
        with self.assertRaises(Exception):
            d.start(timeout=10)
        self.assertIn('worker.inproc_isolation must be "process" or "thread"', d.stderr())


if __name__ == "__main__":
    harness.main()
