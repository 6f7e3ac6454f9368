"""Lost workers: kill -9 of a worker during a job (the connection-close
path) and SIGSTOP of a worker (the heartbeat-timeout path, --heartbeat-ms
200) both make the job run again on another worker and succeed, with the
lost attempt in the history; after SIGCONT the stopped worker's stale
attempt is killed and its late result recorded without changing the
execution's result."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


class Failover(ClusterCase):
    MASTER_ARGS = ["--kill-grace-ms", "300", "--heartbeat-ms", "200"]
    WORKERS = {"w-1": ["--slots", "2"], "w-2": ["--slots", "2"], "w-3": ["--slots", "2"]}

    def tearDown(self):
        for wid, w in self.workers.items():
            if w.proc is not None and w.alive():
                try:
                    os.kill(w.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass

    def restart_worker(self, wid):
        w = self.workers[wid]
        if not w.alive():
            w.start()
        self.wait_workers({wid})

    def test_1_kill9_worker_job_runs_again_elsewhere(self):
        self.wait_workers(set(self.WORKERS))
        self.api.shell_job("k9", "echo attempt-$PAGODA_ATTEMPT; sleep 1; echo done-$PAGODA_ATTEMPT")
        eid = self.api.run("k9")
        e = self.api.wait_for_state(eid, {"running"})
        victim = e["worker_id"]
        t0 = time.monotonic()
        self.workers[victim].kill9()
        e = self.wait_attempts(eid, lambda a: len(a) >= 2 and a[-1].get("state") == "running",
                               timeout=5, what="second attempt running")
        self.assertLess(time.monotonic() - t0, 3.0)
        self.api.wait_for_state(eid, {"succeeded"}, timeout=15)
        e = self.settled(eid)
        atts = e["attempts"]
        self.assertEqual([a["attempt"] for a in atts], [1, 2], atts)
        self.assertEqual(atts[0]["state"], "lost", atts)
        self.assertEqual(atts[0]["worker_id"], victim)
        # The lost attempt's process died with its worker (it must not run
        # on while the attempt runs again elsewhere).
        pid = atts[0].get("pid")
        self.assertIsInstance(pid, int, atts[0])

        def dead():
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True
        harness.wait_until(dead, timeout=5, what="the lost attempt's process to be gone")
        self.assertIn("lost", atts[0].get("error") or "", atts)
        self.assertEqual(atts[1]["state"], "succeeded", atts)
        self.assertNotEqual(atts[1]["worker_id"], victim)
        self.assertEqual(e["worker_id"], atts[1]["worker_id"])
        self.assertEqual(e["exit_code"], 0)
        task = e["tasks"][0]
        self.assertEqual(task["relaunches_used"], 1, task)
        self.assertEqual(task["retries_used"], 0, task)
        self.assertIn(victim, task.get("previous_workers", []), task)
        log = self.api.log(eid)
        self.assertIn("attempt-2\n", log)
        self.assertIn("done-2\n", log)
        ws = self.worker_map()
        self.assertEqual(ws[victim]["state"], "lost", ws[victim])
        self.restart_worker(victim)

    def test_2_sigstop_worker_heartbeat_timeout_then_sigcont(self):
        self.wait_workers(set(self.WORKERS))
        # Attempt 1 sleeps long (it is still running when its worker resumes);
        # the relaunched attempt is quick.
        self.api.shell_job("stopped", 'echo attempt-$PAGODA_ATTEMPT; '
                                      'if [ "$PAGODA_ATTEMPT" = 1 ]; then sleep 20; else sleep 0.3; fi; '
                                      'echo done-$PAGODA_ATTEMPT')
        eid = self.api.run("stopped")
        e = self.api.wait_for_state(eid, {"running"})
        victim = e["worker_id"]
        vproc = self.workers[victim]
        os.kill(vproc.proc.pid, signal.SIGSTOP)
        try:
            self.api.wait_for_state(eid, {"succeeded"}, timeout=15)
            e = self.settled(eid)
            ws = self.worker_map()
            self.assertEqual(ws[victim]["state"], "lost", ws[victim])
        finally:
            os.kill(vproc.proc.pid, signal.SIGCONT)
        atts = e["attempts"]
        self.assertEqual([(a["attempt"], a["state"]) for a in atts], [(1, "lost"), (2, "succeeded")],
                         atts)
        self.assertEqual(atts[0]["worker_id"], victim)
        self.assertIn("heartbeat", atts[0].get("error") or "", atts)
        self.assertNotEqual(atts[1]["worker_id"], victim)
        # The worker comes back, lists attempt 1 as running, and the master
        # kills it: the late result lands on attempt 1's row.
        self.wait_workers({victim})
        e = self.wait_attempts(eid, lambda a: a[0].get("late") is True, timeout=10,
                               what="late result of attempt 1")
        a1 = e["attempts"][0]
        self.assertEqual(a1["state"], "killed", a1)
        self.assertEqual(a1["worker_id"], victim)
        self.assertEqual(e["state"], "succeeded")
        self.assertEqual(e["worker_id"], atts[1]["worker_id"])
        self.assertEqual(e["exit_code"], 0)
        self.assertEqual(len(e["attempts"]), 2)
        self.assertIn("execution %d attempt 1" % eid, vproc.stderr())
        self.assertIn("killing execution %d attempt 1" % eid, vproc.stderr())
        # The stopped worker's process is gone: no "done-1" ever.
        time.sleep(0.5)
        self.assertNotIn("done-1", self.api.log(eid))
        w = self.worker_map()[victim]
        self.assertEqual(w["running"], 0, w)

    def test_3_late_success_while_stopped_is_recorded_not_taken(self):
        self.wait_workers(set(self.WORKERS))
        # Attempt 1 ends (exit 7) while its worker is stopped; the relaunch
        # succeeds. The late "failed" result must not change the outcome.
        self.api.shell_job("late-fail", 'echo a-$PAGODA_ATTEMPT; '
                                        'if [ "$PAGODA_ATTEMPT" = 1 ]; then sleep 1.5; exit 7; fi')
        eid = self.api.run("late-fail")
        e = self.api.wait_for_state(eid, {"running"})
        victim = e["worker_id"]
        vproc = self.workers[victim]
        os.kill(vproc.proc.pid, signal.SIGSTOP)
        try:
            e = self.api.wait_for_state(eid, {"succeeded"}, timeout=15)
            time.sleep(1.6)  # attempt 1's process has exited meanwhile
        finally:
            os.kill(vproc.proc.pid, signal.SIGCONT)
        self.wait_workers({victim})
        e = self.wait_attempts(eid, lambda a: a[0].get("late") is True, timeout=10,
                               what="late result of attempt 1")
        a1 = e["attempts"][0]
        self.assertEqual(a1["state"], "failed", a1)
        self.assertEqual(a1.get("exit_code"), 7, a1)
        self.assertEqual(e["state"], "succeeded")
        self.assertEqual(e["exit_code"], 0)
        self.assertEqual(e["attempts"][1]["state"], "succeeded")

    def test_4_relaunch_off_means_lost(self):
        self.wait_workers(set(self.WORKERS))
        self.api.shell_job("no-relaunch", "sleep 2", relaunch_on_lost=False)
        eid = self.api.run("no-relaunch")
        e = self.api.wait_for_state(eid, {"running"})
        victim = e["worker_id"]
        self.workers[victim].kill9()
        e = self.api.wait_final(eid, timeout=10)
        self.assertEqual(e["state"], "lost", harness._short(e))
        self.assertEqual(len(e["attempts"]), 1)
        self.restart_worker(victim)

    def test_5_max_relaunches_caps_relaunches(self):
        self.wait_workers(set(self.WORKERS))
        self.api.shell_job("capped", "sleep 5", max_relaunches=1)
        eid = self.api.run("capped")
        killed = []
        for n in (1, 2):
            e = self.wait_attempts(eid, lambda a, n=n: len(a) == n and a[-1]["state"] == "running",
                                   timeout=10, what="attempt %d running" % n)
            victim = e["attempts"][-1]["worker_id"]
            killed.append(victim)
            self.workers[victim].kill9()
        e = self.api.wait_final(eid, timeout=10)
        self.assertEqual(e["state"], "lost", harness._short(e))
        e = self.settled(eid)
        self.assertEqual([a["state"] for a in e["attempts"]], ["lost", "lost"])
        self.assertNotEqual(killed[0], killed[1])
        self.assertEqual(e["tasks"][0]["relaunches_used"], 1)
        for wid in killed:
            self.restart_worker(wid)

    def test_6_broadcast_task_of_lost_worker_is_not_relaunched(self):
        self.wait_workers(set(self.WORKERS))
        self.api.shell_job("bc-lost", "sleep 1", mode="broadcast")
        eid = self.api.run("bc-lost")
        e = self.wait_attempts(eid, lambda a: len(a) == 3 and all(x["state"] == "running" for x in a),
                               timeout=10, what="three attempts running")
        victim = e["attempts"][0]["worker_id"]
        self.workers[victim].kill9()
        self.api.wait_final(eid, timeout=15)
        e = self.settled(eid)
        self.assertEqual(e["state"], "lost", harness._short(e))
        self.assertEqual(len(e["attempts"]), 3, e["attempts"])
        by_worker = {t["worker_id"]: t["state"] for t in e["tasks"]}
        self.assertEqual(by_worker[victim], "lost", e["tasks"])
        self.assertEqual(sorted(by_worker.values()), ["lost", "succeeded", "succeeded"])
        self.restart_worker(victim)


if __name__ == "__main__":
    harness.main()
