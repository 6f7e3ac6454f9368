"""High availability (issue 8): flows and schedules across a failover.

- A flow a -> b -> c whose node b runs when the leader is killed (`kill -9`)
  completes under the new leader: every node succeeded, each node ran
  exactly once (marker files), nothing was started twice.
- An `every: 1s` schedule (misfire run_all, grace 60 s, so no fire time may
  be dropped) keeps firing across a `kill -9` of the leader: each fire time
  from the first to the last ran exactly once (run records, executions'
  scheduled_for_us, marker files), none twice, none skipped.

Each part fails when the master has no such endpoint.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402

FLOW_SCRIPT = ('echo "$PAGODA_EXECUTION_ID $PAGODA_ATTEMPT" >> "$MARKERS/flow-$NODE.start"; '
               'sleep "$SLEEP"; echo "$PAGODA_EXECUTION_ID" >> "$MARKERS/flow-$NODE.end"')
TICK_SCRIPT = 'echo "$PAGODA_EXECUTION_ID $PAGODA_ATTEMPT" >> "$MARKERS/tick-$PAGODA_SCHEDULED_TIME_US"'
SLACK_S = 5.0


class FlowsSchedules(ha_harness.HaCase):
    def lines(self, name):
        try:
            with open(os.path.join(self.markers, name)) as f:
                return f.read().splitlines()
        except OSError:
            return []

    def need(self, path):
        r = self.leader.api().get(path)
        self.assertEqual(r.status, 200, "the master must serve %s: %r" % (path, r))

    def kill_leader(self):
        """kill -9 of the leader; returns (new leader, seconds to take over,
        wall time of the kill); the killed one is restarted as a standby."""
        old = self.leader
        t_wall, t0 = time.time(), time.monotonic()
        old.kill9()
        survivors = self.alive_masters()
        new, took = self.wait_new_leader(survivors, self.SESSION_MS / 1000.0 + SLACK_S + 5)
        self.assertLessEqual(took, self.SESSION_MS / 1000.0 + SLACK_S, "take-over took %.2f s" % took)
        self.assertIs(self.wait_one_leader(survivors, timeout=10), new)
        type(self).leader = new
        sys.stderr.write("\n[ha] kill -9 of %s: %s leads after %.2f s\n" % (old.name, new.name, took))
        self.restart_master(old)
        del t0
        return new, took, t_wall

    def test_flow_across_failover(self):
        self.need("/api/v1/flows")
        api = self.leader.api()
        env = {"MARKERS": self.markers, "NODE": "x", "SLEEP": "1"}
        api.create_job({"name": "fnode", "type": "shell", "params": {"script": FLOW_SCRIPT, "env": env}})
        nodes = [{"id": "a", "job": "fnode", "params": {"env": dict(env, NODE="a", SLEEP="1")}},
                 {"id": "b", "job": "fnode", "depends_on": ["a"],
                  "params": {"env": dict(env, NODE="b", SLEEP="4")}},
                 {"id": "c", "job": "fnode", "depends_on": ["b"],
                  "params": {"env": dict(env, NODE="c", SLEEP="1")}}]
        api.ok("POST", "/api/v1/flows", {"name": "chain", "nodes": nodes}, expect=(200, 201))
        fid = api.ok("POST", "/api/v1/flows/chain/run", {}, expect=(201,))["flow_execution_id"]

        def b_running():
            fe = api.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))
            return fe if fe["nodes"].get("b", {}).get("state") == "running" else None
        harness.wait_until(b_running, 15, 0.05, "node b running")
        # "running" is reported when the process starts, a moment before its
        # script writes the marker: wait for the marker (b sleeps 4 s).
        harness.wait_until(lambda: self.lines("flow-b.start"), 10, 0.02, "node b's script started")
        self.assertEqual(len(self.lines("flow-b.start")), 1)

        new, _, _ = self.kill_leader()
        napi = new.api()

        def finished():
            fe = napi.ok("GET", "/api/v1/flow-executions/%d" % fid, expect=(200,))
            return fe if fe["state"] not in ("running", "killing") else None
        fe = harness.wait_until(finished, 40, 0.1, "flow execution %d finished" % fid)
        self.assertEqual(fe["state"], "succeeded", fe)
        eids = []
        for n in ("a", "b", "c"):
            node = fe["nodes"][n]
            self.assertEqual(node["state"], "succeeded", fe)
            eids.append(node["execution_id"])
            self.assertEqual(len(self.lines("flow-%s.start" % n)), 1, "node %s started %r" %
                             (n, self.lines("flow-%s.start" % n)))
            self.assertEqual(len(self.lines("flow-%s.end" % n)), 1, "node %s ended %r" %
                             (n, self.lines("flow-%s.end" % n)))
            e = napi.execution(node["execution_id"])
            self.assertEqual((e["state"], len(e["attempts"])), ("succeeded", 1), harness._short(e))
        self.assertEqual(len(set(eids)), 3, fe)
        # Exactly one flow execution, and the node jobs ran only for it.
        fes = napi.ok("GET", "/api/v1/flow-executions?flow=chain", expect=(200,))["flow_executions"]
        self.assertEqual([x["id"] for x in fes], [fid], fes)

    def test_schedule_across_failover(self):
        self.need("/api/v1/schedules")
        api = self.leader.api()
        api.create_job({"name": "tick", "type": "shell",
                        "params": {"script": TICK_SCRIPT, "env": {"MARKERS": self.markers}}})
        api.ok("POST", "/api/v1/schedules", {"name": "tick", "job": "tick", "every": "1s",
                                             "misfire": "run_all", "max_catchup": 100,
                                             "misfire_grace": "60s"}, expect=(200, 201))

        def runs(a, n=1):
            rs = a.ok("GET", "/api/v1/schedules/tick?runs=1000", expect=(200,))["runs"]
            return rs if len(rs) >= n else None
        harness.wait_until(lambda: runs(api, 3), 10, 0.1, "three fires")

        new, took, t_kill = self.kill_leader()
        napi = new.api()
        # Fires after the failover, then stop the schedule.
        harness.wait_until(lambda: (lambda rs: rs if rs and max(r["fire_us"] for r in rs) / 1e6 > t_kill + 3
                                    else None)(runs(napi)), 15, 0.1, "fires 3 s after the kill")
        napi.ok("POST", "/api/v1/schedules/tick/pause", {}, expect=(200,))
        time.sleep(0.5)
        rs = runs(napi)
        exec_ids = [r.get("execution_id") for r in rs]
        self.assertNotIn(None, exec_ids, "a fire without an execution: %s" % rs)
        done = self.wait_all_final(napi, set(exec_ids), timeout=20)
        self.assertEqual(set(done.values()), {"succeeded"}, done)

        fires = sorted(int(r["fire_us"]) for r in rs)
        self.assertEqual(len(fires), len(set(fires)), "a fire time recorded twice: %s" % fires)
        gaps = [(a, b) for a, b in zip(fires, fires[1:]) if b - a != 1000000]
        self.assertEqual(gaps, [], "fire times not 1 s apart (skipped) around the failover at %.3f "
                         "(take-over %.2f s): %s" % (t_kill, took, gaps))
        self.assertGreater(fires[-1] / 1e6, t_kill + 2, "no fire by the new leader")
        # One execution per fire time, each run once.
        execs = [napi.execution(e["id"]) for e in napi.executions(job="tick", limit=10000)]
        self.assertEqual(sorted(int(e["scheduled_for_us"]) for e in execs), fires,
                         "executions of the schedule do not match its fire times")
        self.assertEqual(sorted(e["id"] for e in execs), sorted(exec_ids))
        for f in fires:
            self.assertEqual(len(self.lines("tick-%d" % f)), 1, "fire %d ran %r" % (f, self.lines("tick-%d" % f)))
        sys.stderr.write("[ha] schedule: %d fires, 1 s apart, each once, across the failover\n" % len(fires))


if __name__ == "__main__":
    harness.main()
