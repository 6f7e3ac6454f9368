"""A worker stopped cleanly (issue 16, docs/operations.md "Stopping a
worker"): SIGTERM drains it. It takes no new work (`leaving`), a job that
ends within worker.stop_grace_ms ends there; one that runs past the grace
is handed back to the master and relaunched on another worker; the worker
then exits 0 and is shown `left`, not `lost`. Nothing is lost."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class WorkerStop(ClusterCase):
    MASTER_ARGS = ["--kill-grace-ms", "300"]
    # w-short drains with a long grace (its job ends within it); w-long with
    # a short one (its job is handed back); w-spare takes what is handed back.
    WORKERS = {
        "w-short": ["--slots", "1", "--labels", "short", "--stop-grace-ms", "60000"],
        "w-long": ["--slots", "1", "--labels", "long", "--stop-grace-ms", "500"],
        "w-spare": ["--slots", "2", "--labels", "long,spare"],
    }

    def sigterm(self, wid):
        d = self.workers[wid]
        os.kill(d.proc.pid, signal.SIGTERM)
        return d

    def wait_exit(self, d, timeout=30):
        def check():
            return d.proc.poll() is not None
        harness.wait_until(check, timeout, 0.05, "worker %s exits" % d.name)
        return d.proc.returncode

    def test_1_a_job_within_the_grace_finishes_there(self):
        self.api.shell_job("short-job", self.gate("short") + "; echo done-short", labels=["short"])
        eid = self.api.run("short-job")
        self.wait_attempts(eid, lambda a: len(a) == 1 and a[0].get("state") == "running",
                           what="running on w-short")
        d = self.sigterm("w-short")
        self.wait_workers({"w-short"}, state="leaving")
        # no new work while leaving: a second run stays pending
        eid2 = self.api.run("short-job")
        self.assertEqual(self.api.execution(eid2)["state"], "pending")
        self.assertIsNone(d.proc.poll(), "the worker exited before its job ended")
        self.open_gate("short")
        e = self.settled(self.api.wait_final(eid, timeout=30)["id"])
        self.assertEqual(e["state"], "succeeded", e)
        self.assertEqual([a["worker_id"] for a in e["attempts"]], ["w-short"], e)
        self.assertIn("done-short", self.api.log(eid))
        self.assertEqual(self.wait_exit(d), 0, harness.tail(d.stderr_path))
        self.wait_workers({"w-short"}, state="left")
        self.assertEqual(self.api.execution(eid2)["state"], "pending")
        # it runs once the worker is back
        self.workers["w-short"] = self.start_worker("w-short", self.WORKERS["w-short"])
        self.wait_workers({"w-short"}, state="alive")
        self.assertEqual(self.api.wait_final(eid2, timeout=30)["state"], "succeeded")

    def test_2_a_job_past_the_grace_is_relaunched_elsewhere(self):
        # the spare is busy until the handed-back attempt must go there
        self.api.shell_job("long-job", self.gate("long") + "; echo done-long by $PAGODA_ATTEMPT",
                           labels=["long"])
        self.api.shell_job("spare-hold", self.gate("spare"), labels=["spare"])
        hold = self.api.run("spare-hold")
        self.wait_attempts(hold, lambda a: len(a) == 1 and a[0].get("state") == "running",
                           what="the spare's hold running")
        # w-spare has one free slot and label long too: pin the job to w-long
        # by filling w-spare's second slot first
        hold2 = self.api.run("spare-hold")
        self.wait_attempts(hold2, lambda a: len(a) == 1 and a[0].get("state") == "running",
                           what="the spare's second hold running")
        eid = self.api.run("long-job")
        e = self.wait_attempts(eid, lambda a: len(a) == 1 and a[0].get("state") == "running",
                               what="running on w-long")
        self.assertEqual(e["attempts"][0]["worker_id"], "w-long")
        d = self.sigterm("w-long")
        self.open_gate("spare")  # free the spare for the relaunch
        for h in (hold, hold2):
            self.assertEqual(self.api.wait_final(h, timeout=30)["state"], "succeeded")
        # the grace (500 ms) passes: the attempt is handed back and relaunched on w-spare
        # (the first attempt's row may show its old state for a few ms after
        # the relaunch: its end is stored after the new attempt is in memory)
        e = self.wait_attempts(eid, lambda a: len(a) == 2 and a[1].get("state") == "running"
                               and a[0].get("state") in harness.FINAL_STATES,
                               timeout=30, what="relaunched, the first attempt ended")
        first, second = e["attempts"]
        self.assertEqual(first["worker_id"], "w-long")
        # lost here; the worker's own report of the kill arrives later and
        # is kept on the attempt's row as a late result
        self.assertIn(first["state"], ("lost", "killed"), first)
        self.assertTrue(first["state"] == "lost" or first.get("late"), first)
        self.assertIn("worker w-long left: handed back after its stop grace", self.api.log(eid))
        self.assertEqual(second["worker_id"], "w-spare")
        self.assertEqual(self.wait_exit(d), 0, harness.tail(d.stderr_path))
        self.wait_workers({"w-long"}, state="left")
        self.open_gate("long")
        e = self.settled(self.api.wait_final(eid, timeout=30)["id"])
        self.assertEqual(e["state"], "succeeded", e)
        self.assertIn("done-long by %s" % second["attempt"], self.api.log(eid))


if __name__ == "__main__":
    harness.main()
