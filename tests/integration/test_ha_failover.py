"""High availability (issue 8): the leader fails while jobs run.

KillLeader: `kill -9` of the leader with nine 1-3 s runs running and seven
queued: a standby takes over within the session timeout plus a few seconds,
the workers move to it, and every execution (running, queued, and submitted
after the failover) ends succeeded exactly once: one attempt, and exactly one
line in each of its start and end marker files.

PausedLeader: the leader is stopped with SIGSTOP past its ZooKeeper session
timeout. A standby is elected; the old leader, resumed with SIGCONT, does no
harm: it answers as a standby, a write sent to it right after the resume is
not acknowledged, and it writes nothing (no execution lost or run twice, no
extra attempt or execution in the store, the new leader keeps leading).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402
from ha_harness import strip_http  # noqa: E402

# Take-over bar: session timeout + this many seconds (recovery, scheduling
# noise on a shared 2-core machine).
SLACK_S = 5.0


class FailoverCase(ha_harness.HaCase):
    def check_all_once(self, api, ids, timeout=40):
        done = self.wait_all_final(api, ids, timeout=timeout)
        bad = {i: s for i, s in done.items() if s != "succeeded"}
        self.assertEqual(bad, {}, "executions not succeeded: %s" %
                         {i: harness._short(api.execution(i)) for i in list(bad)[:4]})
        for i in ids:
            e = api.execution(i)
            self.assertEqual(len(e["attempts"]), 1, "execution %s: %s" % (i, harness._short(e)))
            self.assert_ran_once(i)


class KillLeader(FailoverCase):
    def test_kill9_leader_while_jobs_run(self):
        old = self.leader
        api = old.api()
        old_epoch = ha_harness.cluster_view(old)["epoch"]
        self.marker_job(api, "sleepy")
        ids = [self.run_sleep(api, "sleepy", 1 + i % 3) for i in range(16)]  # 9 slots: 9 run, 7 wait
        st = self.wait_running(api, ids, 9, timeout=15)
        self.assertGreaterEqual(sum(1 for s in st.values() if s == "pending"), 3, st)

        pending = [i for i, s in st.items() if s == "pending"]
        t0, t_wall = time.monotonic(), time.time()
        old.kill9()
        survivors = self.alive_masters()
        self.assertEqual(len(survivors), 2)
        new, took = self.wait_new_leader(survivors, self.SESSION_MS / 1000.0 + SLACK_S + 5)
        sys.stderr.write("\n[ha] kill -9: %s leads after %.2f s (session %d ms)\n" %
                         (new.name, took, self.SESSION_MS))
        self.assertLessEqual(took, self.SESSION_MS / 1000.0 + SLACK_S,
                             "take-over took %.2f s" % took)
        self.assertIs(self.wait_one_leader(survivors, timeout=10), new)
        type(self).leader = new
        v = ha_harness.cluster_view(new)
        self.assertGreater(v["epoch"], old_epoch, v)
        self.assertEqual(len(v["masters"]), 2, v)
        self.assertNotIn(strip_http(old.url), [strip_http(x.get("http")) for x in v["masters"]], v)

        napi = new.api()
        self.wait_workers_alive(new, set(self.WORKERS), timeout=self.SESSION_MS / 1000.0 + 10)
        # Runs submitted after the failover, through a standby and the CLI too.
        more = [self.run_sleep(napi, "sleepy", 1) for _ in range(2)]
        sb = [m for m in survivors if m is not new][0]
        p = self.cli(sb, "job", "run", "sleepy")
        more.append(int(p.stdout.strip().splitlines()[0]))
        self.check_all_once(napi, ids + more)
        self.assertEqual(sorted(x["id"] for x in napi.executions(job="sleepy")), sorted(ids + more))
        disp = sorted(int(napi.execution(i)["dispatched_us"]) / 1e6 - t_wall for i in pending)
        sys.stderr.write("[ha] all %d executions succeeded once, %.2f s after the kill; the %d queued "
                         "at the kill were dispatched %.2f-%.2f s after it\n" %
                         (len(ids + more), time.monotonic() - t0, len(pending), disp[0], disp[-1]))

        # The killed master comes back as a standby.
        self.restart_master(old)
        lead = self.wait_one_leader(timeout=10)
        self.assertIs(lead, new)
        self.assertEqual(ha_harness.cluster_view(old)["role"], "standby")
        harness.wait_until(lambda: len(ha_harness.cluster_view(new)["masters"]) == 3, 10, 0.05,
                           "the leader lists the restarted master")


class PausedLeader(FailoverCase):
    def test_sigstop_leader_is_fenced(self):
        old = self.leader
        api = old.api()
        old_epoch = ha_harness.cluster_view(old)["epoch"]
        self.marker_job(api, "sleepy")
        ids = [self.run_sleep(api, "sleepy", 3 + i % 2) for i in range(12)]  # 9 run, 3 wait
        self.wait_running(api, ids, 9, timeout=15)

        os.kill(old.proc.pid, signal.SIGSTOP)
        t_stop = time.monotonic()
        try:
            survivors = [m for m in self.alive_masters() if m is not old]
            new, took = self.wait_new_leader(survivors, self.SESSION_MS / 1000.0 + SLACK_S + 5)
            sys.stderr.write("\n[ha] SIGSTOP: %s leads after %.2f s (session %d ms)\n" %
                             (new.name, took, self.SESSION_MS))
            self.assertLessEqual(took, self.SESSION_MS / 1000.0 + SLACK_S)
            self.assertIs(self.wait_one_leader(survivors, timeout=10), new)
            type(self).leader = new
            new_epoch = ha_harness.cluster_view(new)["epoch"]
            self.assertGreater(new_epoch, old_epoch)
            self.wait_workers_alive(new, set(self.WORKERS), timeout=10)
            napi = new.api()
            more = [self.run_sleep(napi, "sleepy", 1) for _ in range(2)]
            # Keep it stopped for at least two session timeouts in all: its
            # timers (heartbeats, recovery) are all overdue when it resumes.
            time.sleep(max(0.0, 2 * self.SESSION_MS / 1000.0 - (time.monotonic() - t_stop)))
        finally:
            os.kill(old.proc.pid, signal.SIGCONT)

        # A write sent at once to the resumed old leader is not acknowledged.
        oapi = harness.Api(old.url, timeout=15)
        r1 = oapi.post("/api/v1/jobs/sleepy/run", {"params": {"env": {"MARKERS": self.markers,
                                                                      "SLEEP": "0"}}})
        r2 = oapi.post("/api/v1/jobs", {"name": "from-old", "type": "shell", "params": {"script": "true"}})
        sys.stderr.write("[ha] resumed old leader answered a run with %r, a job create with %r\n" % (r1, r2))
        self.assertNotIn(r1.status, (200, 201, 202), "the deposed leader acknowledged a run: %r" % r1)
        self.assertNotIn(r2.status, (200, 201, 202), "the deposed leader acknowledged a job: %r" % r2)

        # It becomes a standby of the new leader.
        def old_is_standby():
            v = ha_harness.cluster_view(old)
            return v if v and v.get("role") == "standby" and \
                strip_http(ha_harness.named_leader(v)) == strip_http(new.url) else None
        harness.wait_until(old_is_standby, self.SESSION_MS / 1000.0 + 8, 0.05, "old leader is a standby")
        self.assertIs(self.wait_one_leader(timeout=10), new)

        napi = new.api()
        self.check_all_once(napi, ids + more)
        self.assertEqual(sorted(x["id"] for x in napi.executions(job="sleepy")), sorted(ids + more))
        self.assertEqual(napi.get("/api/v1/jobs/from-old").status, 404)
        # Still the same leadership: nothing the old one did deposed the new one.
        v = ha_harness.cluster_view(new)
        self.assertEqual((v["role"], v["epoch"]), ("leader", new_epoch), v)
        self.assertEqual(len(v["masters"]), 3, v)
        ws = self.worker_map(new)
        self.assertEqual({i for i, w in ws.items() if w["state"] == "alive"}, set(self.WORKERS), ws)
        # It is still running (no crash, no abort on being fenced).
        self.assertTrue(old.alive(), "the old leader exited: %s" % harness.tail(old.stderr_path))
        fenced = [ln for ln in old.stderr().splitlines() if "FENCED" in ln]
        sys.stderr.write("[ha] the resumed old leader logged %d FENCED line(s) (writes the store refused)%s\n" %
                         (len(fenced), ": " + fenced[0][:160] if fenced else ""))


if __name__ == "__main__":
    harness.main()
