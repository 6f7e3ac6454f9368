"""Retries with backoff on a cluster: fixed and exponential delays (checked
by attempt count and, loosely, by the spacing of attempt start times),
retry_on, a job that succeeds on a later attempt, and the pending_reason
shown while a retry waits."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402


def gaps_s(attempts):
    starts = [a["started_us"] for a in attempts]
    return [(b - a) / 1e6 for a, b in zip(starts, starts[1:])]


class Retries(ClusterCase):
    WORKERS = {"t-1": ["--slots", "2"], "t-2": ["--slots", "2"], "t-3": ["--slots", "2"]}

    def test_fixed_backoff(self):
        self.api.shell_job("fixed", "echo try-$PAGODA_ATTEMPT; exit 3", retries=2,
                           retry_backoff="fixed", retry_delay=0.5)
        eid = self.api.run("fixed")
        self.api.wait_for_state(eid, {"failed"}, timeout=20)
        e = self.settled(eid)
        atts = e["attempts"]
        self.assertEqual([(a["attempt"], a["state"], a.get("exit_code")) for a in atts],
                         [(1, "failed", 3), (2, "failed", 3), (3, "failed", 3)], atts)
        self.assertEqual(e["exit_code"], 3)
        self.assertEqual(e["tasks"][0]["retries_used"], 2)
        for g in gaps_s(atts):
            self.assertGreaterEqual(g, 0.45, "fixed 0.5 s backoff: gaps %r" % gaps_s(atts))
            self.assertLess(g, 3.0, "fixed 0.5 s backoff: gaps %r" % gaps_s(atts))
        log = self.api.log(eid)
        for n in (1, 2, 3):
            self.assertIn("try-%d\n" % n, log)

    def test_exponential_backoff(self):
        self.api.shell_job("expo", "exit 1", retries=3, retry_backoff="exponential",
                           retry_delay=0.25, retry_max_delay=10)
        eid = self.api.run("expo")
        self.api.wait_for_state(eid, {"failed"}, timeout=30)
        atts = self.settled(eid)["attempts"]
        self.assertEqual(len(atts), 4, atts)
        g = gaps_s(atts)
        # Delays 0.25, 0.5, 1 s: each gap at least its delay and growing.
        for got, want in zip(g, (0.25, 0.5, 1.0)):
            self.assertGreaterEqual(got, want * 0.9, "gaps %r" % g)
            self.assertLess(got, want + 2.0, "gaps %r" % g)
        self.assertGreater(g[2], g[0] * 2, "exponential gaps should grow: %r" % g)

    def test_retry_max_delay_caps_exponential(self):
        self.api.shell_job("capped-expo", "exit 1", retries=3, retry_backoff="exponential",
                           retry_delay=0.2, retry_max_delay=0.3)
        eid = self.api.run("capped-expo")
        self.api.wait_for_state(eid, {"failed"}, timeout=30)
        g = gaps_s(self.settled(eid)["attempts"])
        self.assertEqual(len(g), 3)
        self.assertLess(g[2], 1.5, "the third delay is capped at 0.3 s: gaps %r" % g)

    def test_succeeds_on_a_later_attempt_and_shows_pending_reason(self):
        self.api.shell_job("third-time", '[ "$PAGODA_ATTEMPT" -ge 3 ] || exit 9', retries=5,
                           retry_delay=0.6)
        eid = self.api.run("third-time")
        e = harness.wait_until(lambda: (lambda x: x if "retry" in (x.get("pending_reason") or "")
                                        else None)(self.api.execution(eid)), 5, 0.02,
                               "a retry pending_reason")
        self.assertEqual(e["state"], "pending")
        self.assertIn("retry 1 of 5", e["pending_reason"])
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        e = self.settled(eid)
        self.assertEqual([a["state"] for a in e["attempts"]], ["failed", "failed", "succeeded"])
        self.assertEqual(e["attempt"], 3)
        self.assertEqual(e["exit_code"], 0)
        self.assertIsNone(e.get("error"))

    def test_retry_on_excludes_failed(self):
        self.api.shell_job("only-timeouts", "exit 2", retries=3, retry_delay=0.1,
                           retry_on=["timed_out"])
        eid = self.api.run("only-timeouts")
        self.api.wait_for_state(eid, {"failed"}, timeout=10)
        self.assertEqual(len(self.settled(eid)["attempts"]), 1)
        self.api.shell_job("timeouts-retried", "sleep 5", timeout=0.3, retries=1, retry_delay=0.1,
                           retry_on=["timed_out"])
        eid = self.api.run("timeouts-retried")
        self.api.wait_for_state(eid, {"timed_out"}, timeout=15)
        atts = self.settled(eid)["attempts"]
        self.assertEqual([a["state"] for a in atts], ["timed_out", "timed_out"], atts)

    def test_no_retries_by_default(self):
        self.api.shell_job("once", "exit 4")
        eid = self.api.run("once")
        self.api.wait_for_state(eid, {"failed"})
        self.assertEqual(len(self.settled(eid)["attempts"]), 1)

    def test_bad_retry_fields_are_refused(self):
        for bad in ({"retry_backoff": "linear"}, {"retry_on": ["crashed"]}, {"retries": -1},
                    {"relaunch_on_lost": "yes"}, {"mode": "sharded"}, {"mode": "everywhere"},
                    {"labels": "gpu"}, {"slots": 0}):
            job = {"name": "bad-policy", "type": "shell", "params": {"script": "true"}}
            job.update(bad)
            r = self.api.post("/api/v1/jobs", job)
            self.assertEqual(r.status, 400, "%r -> %r" % (bad, r))
            key = next(iter(bad))
            self.assertIn(key if key != "mode" or bad[key] == "everywhere" else "shards",
                          r.json.get("error", ""), r.text)


if __name__ == "__main__":
    harness.main()
