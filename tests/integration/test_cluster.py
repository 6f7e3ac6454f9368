"""A cluster on loopback: one `pagoda master` and two `pagoda worker`
processes with separate data directories. Jobs spread over both workers;
a master restart on the same data directory keeps jobs and executions, the
workers reconnect, and a job running across the restart finishes once."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WORKERS = ("w-it-one", "w-it-two")


class Cluster(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.master = cls.start("master", ["--recovery-grace-ms", "4000", "--kill-grace-ms", "500"])
        cls.api = cls.master.api()
        cls.workers = []
        for wid in WORKERS:
            w = cls.start("worker", ["--master", "%s:%d" % (harness.HOST, cls.master.rpc_port),
                                     "--slots", "2", "--id", wid], name=wid)
            cls.workers.append(w)

    def restart_master(self):
        self.assertStopsCleanly(self.master)
        self.master.start(fixed_ports=True)
        self.api = self.master.api()
        type(self).api = self.api

    def workers_alive(self, timeout=15):
        def check():
            ws = {w["id"]: w for w in self.api.ok("GET", "/api/v1/workers")["workers"]}
            if all(ws.get(i, {}).get("state") == "alive" for i in WORKERS):
                return ws
            return None
        return harness.wait_until(check, timeout, 0.1, "both workers alive")

    def test_1_workers_registered(self):
        ws = self.workers_alive()
        for wid in WORKERS:
            w = ws[wid]
            self.assertEqual(w["slots"], 2, w)
            self.assertIn("shell", w["types"], w)
            self.assertIsInstance(w["last_heartbeat_us"], (int, float), w)
        h = self.api.health()
        self.assertEqual(h["rpc_port"], self.master.rpc_port)
        self.assertEqual(h["role"], "leader")

    def test_2_twenty_jobs_spread_over_both_workers(self):
        self.workers_alive()
        self.api.shell_job("spread", "echo run-$PAGODA_EXECUTION_ID; sleep 0.2")
        ids = [self.api.run("spread") for _ in range(20)]
        self.assertEqual(len(set(ids)), 20)
        seen = set()
        for i in ids:
            e = self.api.wait_for_state(i, {"succeeded"}, timeout=30)
            self.assertIn(e["worker_id"], WORKERS, e)
            seen.add(e["worker_id"])
            self.assertIn("run-%d\n" % i, self.api.log(i))
        self.assertEqual(seen, set(WORKERS), "both workers should have run some of the 20 jobs")

    def test_3_master_restart_keeps_jobs_and_executions(self):
        self.workers_alive()
        self.api.shell_job("before-restart", "echo persisted")
        self.api.shell_job("fails-before-restart", "exit 4")
        ok = self.api.run("before-restart")
        bad = self.api.run("fails-before-restart")
        self.api.wait_for_state(ok, {"succeeded"})
        self.api.wait_for_state(bad, {"failed"})
        jobs_before = {j["name"]: j for j in self.api.ok("GET", "/api/v1/jobs")["jobs"]}
        execs_before = {e["id"]: e for e in self.api.executions(limit=1000)}

        self.restart_master()

        jobs_after = {j["name"]: j for j in self.api.ok("GET", "/api/v1/jobs")["jobs"]}
        self.assertEqual(sorted(jobs_after), sorted(jobs_before))
        for name, j in jobs_before.items():
            self.assertEqual(jobs_after[name]["params"], j["params"], name)
        execs_after = {e["id"]: e for e in self.api.executions(limit=1000)}
        self.assertEqual(sorted(execs_after), sorted(execs_before))
        for i, e in execs_before.items():
            for k in ("job", "state", "exit_code", "worker_id", "submitted_us", "finished_us"):
                self.assertEqual(execs_after[i].get(k), e.get(k), "execution %d field %s" % (i, k))
        self.assertEqual(self.api.execution(bad)["exit_code"], 4)
        # The attempts were stored too, not only kept in the old master's memory.
        for i, state in ((ok, "succeeded"), (bad, "failed")):
            atts = self.api.execution(i)["attempts"]
            self.assertEqual([(a["attempt"], a["state"]) for a in atts], [(1, state)],
                             "execution %d attempts after the restart: %r" % (i, atts))
        self.assertIn("persisted", self.api.log(ok))

        self.workers_alive()
        new_ids = [self.api.run("before-restart") for _ in range(4)]
        self.assertGreater(min(new_ids), max(execs_before), "ids must not be reused after a restart")
        for i in new_ids:
            e = self.api.wait_for_state(i, {"succeeded"}, timeout=15)
            self.assertIn(e["worker_id"], WORKERS)

    def test_4_job_running_across_master_restart_finishes_once(self):
        self.workers_alive()
        self.api.shell_job("across-restart", "echo started-$PAGODA_ATTEMPT; sleep 2; "
                                             "echo finished-$PAGODA_ATTEMPT")
        eid = self.api.run("across-restart")
        before = self.api.wait_for_state(eid, {"running"}, timeout=10)
        t0 = time.monotonic()
        self.restart_master()
        self.assertLess(time.monotonic() - t0, 2.0,
                        "the master restart took too long for this test to mean anything")
        e = self.api.wait_final(eid, timeout=20)
        self.assertEqual(e["state"], "succeeded", harness._short(e))
        self.assertEqual(e["attempt"], 1, harness._short(e))
        self.assertEqual(len(e["attempts"]), 1, harness._short(e))
        self.assertEqual(e["worker_id"], before["worker_id"])
        self.assertEqual(e["exit_code"], 0)
        log = self.api.log(eid)
        self.assertEqual(log.count("started-1\n"), 1, log)
        self.assertEqual(log.count("finished-1\n"), 1, log)
        self.assertNotIn("started-2", log)
        # Nothing ran it a second time later on.
        time.sleep(0.5)
        ex = self.api.executions(job="across-restart")
        self.assertEqual([x["id"] for x in ex], [eid])
        self.assertEqual(self.api.execution(eid)["state"], "succeeded")


if __name__ == "__main__":
    harness.main()
