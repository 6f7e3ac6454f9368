"""Placement on a cluster of three workers: labels and slots are hard
filters, jobs queue when there is no capacity (with a pending_reason) and
are dispatched in priority order when capacity appears, labels nobody has
keep a job pending with a reason, and a draining worker gets no new jobs but
finishes its running one.

Workers: w-a (1 slot, gpu), w-b (2 slots, cpu), w-c (1 slot, cpu+big)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class Placement(ClusterCase):
    def setUp(self):
        self.wait_idle()
        for wid in self.WORKERS:
            self.api.ok("POST", "/api/v1/workers/%s/undrain" % wid, expect=(200,))

    def test_labels_are_hard_filters(self):
        self.api.shell_job("gpu-job", "echo gpu", labels=["gpu"])
        self.api.shell_job("big-job", "echo big", labels=["cpu", "big"])
        self.api.shell_job("cpu-job", "echo cpu", labels=["cpu"])
        ids = {n: [self.api.run(n) for _ in range(4)] for n in ("gpu-job", "big-job", "cpu-job")}
        seen = {}
        for name, eids in ids.items():
            for eid in eids:
                e = self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
                seen.setdefault(name, set()).add(e["worker_id"])
        self.assertEqual(seen["gpu-job"], {"w-a"})
        self.assertEqual(seen["big-job"], {"w-c"})
        self.assertTrue(seen["cpu-job"] <= {"w-b", "w-c"}, seen)

    def test_slots_are_honoured(self):
        # A 2-slot job fits only w-b; two of them at once cannot run together.
        self.api.shell_job("two-slots", "echo start; %s; echo end" % self.gate("two-slots"),
                           slots=2)
        first = self.api.run("two-slots")
        second = self.api.run("two-slots")
        e1 = self.api.wait_for_state(first, {"running"}, timeout=10)
        self.assertEqual(e1["worker_id"], "w-b")
        w = self.api.ok("GET", "/api/v1/workers/w-b", expect=(200,))
        self.assertEqual(w["slots_used"], 2, w)
        e2 = self.api.execution(second)
        self.assertEqual(e2["state"], "pending", harness._short(e2))
        self.assertIn("busy", e2.get("pending_reason", ""), harness._short(e2))
        self.open_gate("two-slots")
        for eid in (first, second):
            e = self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
            self.assertEqual(e["worker_id"], "w-b")
        a1 = self.attempts(first)[0]
        a2 = self.attempts(second)[0]
        self.assertGreaterEqual(a2["started_us"], a1["finished_us"],
                                "the second 2-slot job started before the first ended")

    def test_queue_when_full_then_priority_order(self):
        # w-a (the only gpu worker, one slot) is busy: gpu jobs queue.
        self.api.shell_job("gpu-blocker", self.gate("gpu-blocker"), labels=["gpu"])
        blocker = self.api.run("gpu-blocker")
        self.api.wait_for_state(blocker, {"running"})
        order = []
        for prio in (0, 5, 1, 5, -3):
            name = "gpu-p%d-%d" % (prio, len(order))
            self.api.shell_job(name, "echo %s" % name, labels=["gpu"], priority=prio)
            order.append((prio, self.api.run(name)))
        for _, eid in order:
            e = self.api.execution(eid)
            self.assertEqual(e["state"], "pending", harness._short(e))
            self.assertIn("busy", e.get("pending_reason", ""), harness._short(e))
        self.open_gate("gpu-blocker")
        starts = []
        for prio, eid in order:
            e = self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
            self.assertEqual(e["worker_id"], "w-a")
            self.assertNotIn("pending_reason", e)
            starts.append((self.attempts(eid)[0]["started_us"], prio, eid))
        got = [(prio, eid) for _, prio, eid in sorted(starts)]
        # Higher priority first; equal priorities in submission order.
        want = sorted(order, key=lambda pe: (-pe[0], pe[1]))
        self.assertEqual(got, want)

    def test_labels_nobody_has_stay_pending_with_reason(self):
        self.api.shell_job("needs-tpu", "echo never", labels=["tpu"])
        eid = self.api.run("needs-tpu")
        e = harness.wait_until(lambda: (lambda x: x if x.get("pending_reason") else None)(
            self.api.execution(eid)), 5, 0.05, "a pending_reason")
        self.assertEqual(e["state"], "pending")
        self.assertIn("label", e["pending_reason"])
        # Still pending a little later, and killable.
        import time
        time.sleep(0.5)
        self.assertEqual(self.api.execution(eid)["state"], "pending")
        self.api.ok("POST", "/api/v1/executions/%d/kill" % eid)
        e = self.api.wait_final(eid)
        self.assertEqual(e["state"], "killed")

    def test_drain_and_undrain(self):
        # A cpu job runs on w-c (cpu+big only) when w-c is drained it finishes there;
        # new cpu jobs go to w-b only.
        self.api.shell_job("big-running", "echo on-$PAGODA_ATTEMPT; %s; echo done" %
                           self.gate("big-running"), labels=["big"])
        running = self.api.run("big-running")
        e = self.api.wait_for_state(running, {"running"})
        self.assertEqual(e["worker_id"], "w-c")
        out = self.cli("worker", "drain", "w-c").stdout
        self.assertIn("w-c", out)
        w = self.api.ok("GET", "/api/v1/workers/w-c", expect=(200,))
        self.assertEqual(w["state"], "draining", w)
        self.assertTrue(w["draining"], w)
        self.api.shell_job("cpu-while-drained", "echo cpu", labels=["cpu"])
        ids = [self.api.run("cpu-while-drained") for _ in range(6)]
        for eid in ids:
            self.assertEqual(self.api.wait_for_state(eid, {"succeeded"}, timeout=20)["worker_id"],
                             "w-b")
        # A job only w-c could run waits, with a reason.
        later = self.api.run("big-running")
        e2 = harness.wait_until(lambda: (lambda x: x if x.get("pending_reason") else None)(
            self.api.execution(later)), 5, 0.05, "a pending_reason")
        self.assertEqual(e2["state"], "pending")
        self.assertIn("label", e2["pending_reason"])
        # The running one finishes on the draining worker.
        self.open_gate("big-running")
        e = self.api.wait_for_state(running, {"succeeded"}, timeout=20)
        self.assertEqual(e["worker_id"], "w-c")
        self.assertEqual(len(e["attempts"]), 1)
        self.assertEqual(self.api.execution(later)["state"], "pending")
        # Undrain: the waiting job runs on w-c.
        self.cli("worker", "undrain", "w-c")
        self.assertEqual(self.api.ok("GET", "/api/v1/workers/w-c", expect=(200,))["state"], "alive")
        e2 = self.api.wait_for_state(later, {"succeeded"}, timeout=20)
        self.assertEqual(e2["worker_id"], "w-c")
        r = self.api.post("/api/v1/workers/no-such/drain")
        self.assertEqual(r.status, 404, r)


if __name__ == "__main__":
    harness.main()
