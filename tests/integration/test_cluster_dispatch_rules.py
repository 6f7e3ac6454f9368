"""Dispatch rules the docs promise (docs/cluster.md "Placement"), on a real
master and real workers whose slots make the least-loaded choice favour one
worker (d-1 has 4 slots, the others 1):

- a retry runs on another worker than the attempt that failed, when one
  fits (previous_workers is known to the balancer before it picks);
- the shards of a sharded job go to distinct workers while some hold none;
- after a master restart, when every worker that was connected reconnects,
  a queued run is dispatched as soon as they have reported, well before the
  recovery grace (set to 20 s here) is over."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class DispatchRules(ClusterCase):
    MASTER_ARGS = ["--kill-grace-ms", "300"]
    WORKERS = {"d-1": ["--slots", "4", "--labels", "pair"],
               "d-2": ["--slots", "1", "--labels", "pair"],
               "d-3": ["--slots", "1"]}

    def setUp(self):
        self.wait_idle()

    def test_a_retry_runs_on_the_other_worker(self):
        # Two candidates (label "pair"): d-1 has the most free slots, so
        # without the rule both attempts would land there.
        self.api.shell_job("flaky-pair", '[ "$PAGODA_ATTEMPT" -ge 2 ] || exit 7', retries=1,
                           retry_delay=0.1, labels=["pair"])
        eid = self.api.run("flaky-pair")
        self.api.wait_for_state(eid, {"succeeded", "failed"}, timeout=20)
        e = self.settled(eid)
        atts = e["attempts"]
        self.assertEqual([a["state"] for a in atts], ["failed", "succeeded"], atts)
        first, second = atts[0]["worker_id"], atts[1]["worker_id"]
        self.assertEqual(first, "d-1", "the least-loaded choice for the first attempt: %r" % atts)
        self.assertNotEqual(second, first, "the retry went back to the worker it failed on: %r" % atts)
        self.assertEqual(e["tasks"][0].get("previous_workers"), [first], e["tasks"])

    def test_every_retry_avoids_the_workers_tried(self):
        self.api.shell_job("always-fails", "exit 5", retries=2, retry_delay=0.1)
        eid = self.api.run("always-fails")
        self.api.wait_for_state(eid, {"failed"}, timeout=20)
        atts = self.settled(eid)["attempts"]
        self.assertEqual(len(atts), 3, atts)
        self.assertEqual(sorted(a["worker_id"] for a in atts), ["d-1", "d-2", "d-3"], atts)

    def test_shards_go_to_distinct_idle_workers(self):
        gate = self.gate("shards")
        self.api.shell_job("spread-shards", gate, mode="sharded", shards=3)
        eid = self.api.run("spread-shards")
        try:
            e = harness.wait_until(
                lambda: (lambda x: x if sum(t["state"] == "running" for t in x["tasks"]) == 3
                         else None)(self.api.execution(eid)), 15, 0.05, "three shards running")
            workers = [t["worker_id"] for t in e["tasks"]]
            self.assertEqual(sorted(workers), ["d-1", "d-2", "d-3"],
                             "shards piled up: %r" % e["tasks"])
        finally:
            self.open_gate("shards")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)


class RecoveryGraceEndsEarly(ClusterCase):
    GRACE_MS = 20000
    MASTER_ARGS = ["--kill-grace-ms", "300", "--recovery-grace-ms", str(GRACE_MS)]
    WORKERS = {"g-1": ["--slots", "1"], "g-2": ["--slots", "1"]}

    def test_queued_run_starts_once_every_worker_is_back(self):
        gate = self.gate("busy")
        self.api.shell_job("busy", gate)
        self.api.shell_job("queued", "echo queued-ran")
        busy = [self.api.run("busy") for _ in range(2)]
        for b in busy:
            self.api.wait_for_state(b, {"running"}, timeout=15)
        queued = self.api.run("queued")
        self.assertEqual(self.api.execution(queued)["state"], "pending")

        self.assertStopsCleanly(self.master)
        restarted = time.monotonic()
        self.master.start(fixed_ports=True)
        type(self).api = self.master.api()
        self.api = type(self).api
        self.wait_workers(set(self.WORKERS), timeout=15)
        # The running ones were claimed; the slots free up now.
        self.open_gate("busy")
        # Behaviour, not a benchmark: the queued run must not wait for the
        # end of the 20 s grace (every worker came back and reported).
        e = self.api.wait_for_state(queued, {"succeeded"}, timeout=self.GRACE_MS / 1000 - 5)
        waited = time.monotonic() - restarted
        self.assertLess(waited, self.GRACE_MS / 1000, "queued run waited for the whole grace")
        self.assertEqual(e["exit_code"], 0)
        for b in busy:
            e = self.api.wait_for_state(b, {"succeeded"}, timeout=15)
            self.assertEqual([a["state"] for a in self.settled(b)["attempts"]], ["succeeded"])
        print("queued run finished %.2f s after the master restart (grace %d ms)" %
              (waited, self.GRACE_MS), file=sys.stderr)


if __name__ == "__main__":
    harness.main()
