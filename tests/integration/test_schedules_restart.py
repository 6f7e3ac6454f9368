"""Schedules across a master stop and start (docs/schedules.md "Misfires"
and "Exactly once"): the misfire policies skip, run_once and run_all, and no
fire time running twice across a clean stop or a SIGKILL."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PERIOD = 4  # seconds between fire times of the misfire schedules


class SchedulesRestart(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "8", "--recovery-grace-ms", "500"])
        cls.api = cls.dev.api()
        cls.api.shell_job("tick", "true")

    def restart(self, down_until=None, kill=False):
        if kill:
            self.dev.kill9()
        else:
            self.assertStopsCleanly(self.dev)
        if down_until:
            time.sleep(max(0, down_until - time.time()))
        self.dev.start()
        self.api = self.dev.api()
        return time.time()

    def fires(self, name):
        return sorted(e["scheduled_for_us"] for e in self.api.executions(job="tick", limit=1000)
                      if e.get("schedule") == name)

    def test_misfire_policies_across_a_stop(self):
        for name, extra in (("mf-skip", {}), ("mf-once", {"misfire": "run_once"}),
                            ("mf-all", {"misfire": "run_all", "max_catchup": 10})):
            body = {"name": name, "job": "tick", "every": "%ds" % PERIOD, "misfire_grace": "1s"}
            body.update(extra)
            r = self.api.post("/api/v1/schedules", body)
            self.assertEqual(r.status, 201, r)
        # Stop 1 s after a fire time, stay down over two fire times, and come
        # back 2 s after the second (older than the 1 s grace: misfires).
        now = time.time()
        t0 = (int(now) // PERIOD + 1) * PERIOD
        time.sleep(t0 + 1 - now)
        before = {n: self.fires(n) for n in ("mf-skip", "mf-once", "mf-all")}
        stop_at = time.time()
        missed = [t0 + PERIOD, t0 + 2 * PERIOD]
        back = self.restart(down_until=missed[-1] + 2)
        self.assertLess(back, missed[-1] + PERIOD - 0.5, "restart too slow for this test")
        time.sleep(0.8)  # before the next fire time (missed[-1] + PERIOD)
        got = {}
        for n in ("mf-skip", "mf-once", "mf-all"):
            got[n] = [t for t in self.fires(n) if t / 1e6 > stop_at]
        us = [t * 1000000 for t in missed]
        self.assertEqual(got["mf-skip"], [], got)
        self.assertEqual(got["mf-once"], us[-1:], got)
        self.assertEqual(got["mf-all"], us, got)
        # nothing that ran before the stop ran again
        for n in before:
            self.assertEqual([t for t in self.fires(n) if t / 1e6 <= stop_at], before[n])
        # and they go on firing on time
        time.sleep(missed[-1] + PERIOD + 0.6 - time.time())
        for n in ("mf-skip", "mf-once", "mf-all"):
            self.assertIn((missed[-1] + PERIOD) * 1000000, self.fires(n), n)
            g = self.api.ok("GET", "/api/v1/schedules/%s?runs=100" % n, expect=(200,))
            fired = [r["fire_us"] for r in g["runs"]]
            self.assertEqual(len(fired), len(set(fired)))
            self.api.delete("/api/v1/schedules/" + n)

    def test_restart_never_fires_twice(self):
        r = self.api.post("/api/v1/schedules", {"name": "exact", "job": "tick", "every": "1s",
                                                "misfire": "run_all"})
        self.assertEqual(r.status, 201, r)
        time.sleep(2.5)
        self.restart()          # clean stop, back at once
        time.sleep(2.2)
        self.restart(kill=True)  # SIGKILL, back at once
        time.sleep(2.2)
        g = self.api.ok("GET", "/api/v1/schedules/exact?runs=100", expect=(200,))
        self.api.delete("/api/v1/schedules/exact")
        fires = self.fires("exact")
        self.assertGreaterEqual(len(fires), 5, fires)
        self.assertEqual(len(fires), len(set(fires)), "a fire time ran twice: %s" % fires)
        # run_all: no fire time between the first and the last was lost
        self.assertEqual(fires, list(range(fires[0], fires[-1] + 1, 1000000)))
        runs = sorted(r["fire_us"] for r in g["runs"])
        self.assertEqual(len(runs), len(set(runs)))
        self.assertLessEqual(set(fires), set(runs) | {fires[-1]})


if __name__ == "__main__":
    harness.main()
