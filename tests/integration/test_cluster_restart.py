"""A master restart while jobs run on three workers: every job finishes
exactly once (running ones are claimed by their workers, queued ones are
dispatched after the recovery grace), none is lost, and no job's output
appears twice."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class MasterRestart(ClusterCase):
    MASTER_ARGS = ["--kill-grace-ms", "300", "--recovery-grace-ms", "3000"]
    WORKERS = {"r-1": ["--slots", "1"], "r-2": ["--slots", "1"], "r-3": ["--slots", "1"]}

    def restart_master(self):
        self.assertStopsCleanly(self.master)
        self.master.start(fixed_ports=True)
        type(self).api = self.master.api()
        self.api = type(self).api

    def test_jobs_running_and_queued_across_restart_finish_once(self):
        marks = os.path.join(self.tmp, "marks")
        os.makedirs(marks, exist_ok=True)
        # Each run appends one line to its own file: a second run would show.
        self.api.shell_job("across", 'echo start-$PAGODA_EXECUTION_ID-$PAGODA_ATTEMPT; '
                                     'echo x >> %s/$PAGODA_EXECUTION_ID; sleep 1.5; '
                                     'echo end-$PAGODA_EXECUTION_ID' % marks)
        ids = [self.api.run("across") for _ in range(6)]  # 3 run, 3 queue
        harness.wait_until(lambda: sum(self.api.execution(i)["state"] == "running" for i in ids) == 3,
                           10, 0.05, "three running")
        queued = [i for i in ids if self.api.execution(i)["state"] == "pending"]
        self.assertEqual(len(queued), 3)
        t0 = time.monotonic()
        self.restart_master()
        self.assertLess(time.monotonic() - t0, 1.5, "restart too slow for the test to mean anything")
        for i in ids:
            e = self.api.wait_for_state(i, {"succeeded"}, timeout=30)
            self.assertEqual(e["exit_code"], 0)
        for i in ids:
            e = self.settled(i)
            self.assertEqual([(a["attempt"], a["state"]) for a in e["attempts"]], [(1, "succeeded")],
                             "execution %d: %r" % (i, e["attempts"]))
            log = self.api.log(i)
            self.assertEqual(log.count("start-%d-1\n" % i), 1, log)
            self.assertEqual(log.count("end-%d\n" % i), 1, log)
            with open(os.path.join(marks, str(i))) as f:
                self.assertEqual(f.read(), "x\n", "execution %d ran more than once" % i)
        self.assertEqual(sorted(os.listdir(marks)), sorted(str(i) for i in ids))
        # No execution appeared besides ours.
        ex = self.api.executions(job="across")
        self.assertEqual(sorted(x["id"] for x in ex), sorted(ids))

    def test_broadcast_across_restart_runs_once_per_worker(self):
        self.wait_workers(set(self.WORKERS))
        marks = os.path.join(self.tmp, "bmarks")
        os.makedirs(marks, exist_ok=True)
        self.api.ok("POST", "/api/v1/jobs", {
            "name": "bcast-restart", "type": "shell", "mode": "broadcast",
            "params": {"script": "echo x >> %s/$PAGODA_ATTEMPT; sleep 1.5" % marks}})
        eid = self.api.run("bcast-restart")
        harness.wait_until(lambda: self.api.execution(eid)["state"] == "running", 10, 0.05, "running")
        self.restart_master()
        e = self.api.wait_for_state(eid, {"succeeded"}, timeout=30)
        self.assertEqual(len(e["tasks"]), 3, e["tasks"])
        # One attempt per worker, each ran once: no task was made again after the restart.
        self.assertEqual(sorted(os.listdir(marks)), ["1", "2", "3"])
        for n in os.listdir(marks):
            with open(os.path.join(marks, n)) as f:
                self.assertEqual(f.read(), "x\n")

    def test_restart_with_idle_cluster_accepts_new_work(self):
        self.restart_master()
        self.wait_workers(set(self.WORKERS))
        self.api.shell_job("after", "echo after")
        ids = [self.api.run("after") for _ in range(6)]
        for i in ids:
            self.assertEqual(self.api.wait_for_state(i, {"succeeded"}, timeout=15)["exit_code"], 0)


if __name__ == "__main__":
    harness.main()
