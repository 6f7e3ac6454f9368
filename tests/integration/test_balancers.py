#!/usr/bin/env python3
"""Lua balancers through a real master and three real workers: `pinned`
puts every job on the named worker, `round_robin` spreads 30 jobs evenly, a
script that fails falls back to the built-in choice (the job still runs and
the error is shown), and scripts are reloaded live (REST and CLI)."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class Balancers(ClusterCase):
    WORKERS = {"w1": ["--slots", "40"], "w2": ["--slots", "40"], "w3": ["--slots", "40"]}

    @classmethod
    def setUpClass(cls):
        harness.PagodaTestCase.setUpClass()
        cls.bdir = os.path.join(cls.tmp, "balancers")
        shutil.copytree(os.path.join(harness.source_dir(), "conf", "balancers"), cls.bdir)
        with open(os.path.join(cls.bdir, "broken.lua"), "w") as f:
            f.write("function pick(job, workers, state)\n  error('boom from broken')\nend\n")
        cls.MASTER_ARGS = ["--balancers", cls.bdir]
        super().setUpClass()

    def job(self, name, balancer, **extra):
        body = {"name": name, "type": "shell", "params": {"script": "true"}, "balancer": balancer}
        body.update(extra)
        self.api.ok("POST", "/api/v1/jobs", body)

    def run_all(self, name, n):
        ids = [self.api.run(name) for _ in range(n)]
        return [self.api.wait_final(i, timeout=20) for i in ids]

    def test_pinned_runs_every_job_on_the_named_worker(self):
        self.job("pin", "pinned", balancer_args={"node": "w2"})
        done = self.run_all("pin", 6)
        self.assertEqual({e["worker_id"] for e in done}, {"w2"}, done)
        self.assertTrue(all(e["state"] == "succeeded" for e in done), done)

    def test_pinned_to_a_missing_worker_waits_with_the_reason(self):
        self.job("pin-gone", "pinned", balancer_args={"node": "nosuch"})
        eid = self.api.run("pin-gone")
        e = harness.wait_until(
            lambda: (lambda x: x if x.get("pending_reason") else None)(self.api.execution(eid)),
            timeout=5, what="a pending reason")
        self.assertEqual(e["state"], "pending", e)
        self.assertIn("nosuch", e["pending_reason"], e)
        self.api.ok("POST", "/api/v1/executions/%d/kill" % eid, expect=(202,))

    def test_round_robin_spreads_30_jobs_evenly(self):
        self.job("rr", "round_robin")
        done = self.run_all("rr", 30)
        counts = {}
        for e in done:
            self.assertEqual(e["state"], "succeeded", e)
            counts[e["worker_id"]] = counts.get(e["worker_id"], 0) + 1
        self.assertEqual(counts, {"w1": 10, "w2": 10, "w3": 10})

    def test_a_failing_script_falls_back_and_the_job_runs(self):
        self.job("broken-bal", "broken")
        eid = self.api.run("broken-bal")
        e = self.api.wait_final(eid)
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("boom from broken", e.get("balancer_error") or "", e)
        bals = {b["name"]: b for b in self.api.ok("GET", "/api/v1/balancers")["balancers"]}
        self.assertIn("boom from broken", bals["broken"].get("last_error") or "", bals["broken"])

    def test_unknown_balancer_is_refused_at_create(self):
        r = self.api.post("/api/v1/jobs", {"name": "nob", "type": "shell",
                                           "params": {"script": "true"}, "balancer": "nosuch"})
        self.assertEqual(r.status, 400, r)
        self.assertIn("unknown balancer 'nosuch'", r.json["error"])

    def test_live_reload_adds_a_balancer_and_keeps_the_old_version_of_a_broken_edit(self):
        path = os.path.join(self.bdir, "to_w3.lua")
        with open(path, "w") as f:
            f.write("function pick(job, workers, state)\n"
                    "  for _, w in ipairs(workers) do if w.id == 'w3' then return w.id end end\n"
                    "  return nil, 'w3 is not here'\nend\n")
        listed = self.api.ok("POST", "/api/v1/balancers/reload")["balancers"]
        self.assertIn("to_w3", [b["name"] for b in listed])
        self.job("to3", "to_w3")
        done = self.run_all("to3", 3)
        self.assertEqual({e["worker_id"] for e in done}, {"w3"}, done)
        # A compile error: refused with its message; the old version stays.
        with open(path, "w") as f:
            f.write("function pick(job, workers, state\n")
        out = subprocess.run([harness.pagoda_bin(), "--addr", self.master.url, "balancer", "reload"],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        bal = {b["name"]: b for b in self.api.ok("GET", "/api/v1/balancers")["balancers"]}["to_w3"]
        self.assertTrue(bal.get("last_error"), bal)
        done = self.run_all("to3", 2)
        self.assertEqual({e["worker_id"] for e in done}, {"w3"}, done)
        cli = subprocess.run([harness.pagoda_bin(), "--addr", self.master.url, "balancer", "list"],
                             capture_output=True, text=True, timeout=20)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        for name in ("round_robin", "pinned", "least_loaded", "to_w3"):
            self.assertIn(name, cli.stdout)


if __name__ == "__main__":
    harness.main()
