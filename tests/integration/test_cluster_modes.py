"""Broadcast and sharded jobs on three workers: a broadcast job runs once on
every eligible worker and succeeds only when all succeed; a sharded job
spreads N shards over the workers with PAGODA_SHARD_INDEX/COUNT in the
environment, and one failing shard is retried on its own."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402

IDS = {"m-1", "m-2", "m-3"}


class Modes(ClusterCase):
    WORKERS = {"m-1": ["--slots", "2", "--labels", "x"], "m-2": ["--slots", "2", "--labels", "x"],
               "m-3": ["--slots", "2", "--labels", "y"]}

    def test_broadcast_runs_on_every_worker(self):
        self.api.shell_job("bc", "echo hello from $PAGODA_EXECUTION_ID", mode="broadcast")
        eid = self.api.run("bc")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        e = self.settled(eid)
        self.assertEqual(e["mode"], "broadcast")
        self.assertEqual(len(e["tasks"]), 3, e["tasks"])
        self.assertEqual({t["worker_id"] for t in e["tasks"]}, IDS)
        self.assertEqual({t["state"] for t in e["tasks"]}, {"succeeded"})
        self.assertEqual(sorted(a["worker_id"] for a in e["attempts"]), sorted(IDS))
        self.assertEqual(self.api.log(eid).count("hello from %d\n" % eid), 3)

    def test_broadcast_respects_labels(self):
        self.api.shell_job("bc-x", "true", mode="broadcast", labels=["x"])
        eid = self.api.run("bc-x")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        e = self.settled(eid)
        self.assertEqual({t["worker_id"] for t in e["tasks"]}, {"m-1", "m-2"})

    def test_broadcast_fails_when_one_worker_fails(self):
        lock = os.path.join(self.tmp, "bc-lock")
        # Exactly one of the three runs takes the lock and fails.
        self.api.shell_job("bc-one-fails", "if mkdir %s 2>/dev/null; then exit 6; fi" % lock,
                           mode="broadcast", retries=0)
        eid = self.api.run("bc-one-fails")
        self.api.wait_for_state(eid, {"failed"}, timeout=20)
        e = self.settled(eid)
        states = sorted(t["state"] for t in e["tasks"])
        self.assertEqual(states, ["failed", "succeeded", "succeeded"], e["tasks"])
        self.assertIn("1 of 3 workers", e.get("error") or "", harness._short(e))

    def test_sharded_env_and_spread(self):
        self.api.shell_job("sh4", "echo shard=$PAGODA_SHARD_INDEX/$PAGODA_SHARD_COUNT; sleep 0.3",
                           mode="sharded", shards=4)
        eid = self.api.run("sh4")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        e = self.settled(eid)
        self.assertEqual(e["mode"], "sharded")
        self.assertEqual(sorted(t["shard"] for t in e["tasks"]), [0, 1, 2, 3])
        self.assertEqual(sorted(a["shard"] for a in e["attempts"]), [0, 1, 2, 3])
        # Four shards over three workers with two slots each: all three used.
        self.assertEqual({t["worker_id"] for t in e["tasks"]}, IDS, e["tasks"])
        log = self.api.log(eid)
        self.assertEqual(sorted(re.findall(r"shard=(\d+)/(\d+)", log)),
                         [("0", "4"), ("1", "4"), ("2", "4"), ("3", "4")], log)

    def test_one_failing_shard_is_retried_alone(self):
        marker = os.path.join(self.tmp, "shard2-failed-once")
        self.api.shell_job("sh-retry", 'echo s$PAGODA_SHARD_INDEX-a$PAGODA_ATTEMPT; '
                                       'if [ "$PAGODA_SHARD_INDEX" = 2 ] && [ ! -e %s ]; then '
                                       'touch %s; exit 5; fi' % (marker, marker),
                           mode="sharded", shards=3, retries=2, retry_delay=0.2)
        eid = self.api.run("sh-retry")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        e = self.settled(eid)
        by_shard = {t["shard"]: t for t in e["tasks"]}
        self.assertEqual(by_shard[2]["retries_used"], 1, by_shard)
        self.assertEqual(by_shard[0]["retries_used"], 0, by_shard)
        self.assertEqual(by_shard[1]["retries_used"], 0, by_shard)
        atts = e["attempts"]
        self.assertEqual(len(atts), 4, atts)
        per_shard = {}
        for a in atts:
            per_shard.setdefault(a["shard"], []).append(a["state"])
        self.assertEqual(per_shard, {0: ["succeeded"], 1: ["succeeded"], 2: ["failed", "succeeded"]})
        self.assertEqual(len({a["attempt"] for a in atts}), 4, "attempt numbers are per execution")

    def test_sharded_fails_when_a_shard_keeps_failing(self):
        self.api.shell_job("sh-bad", '[ "$PAGODA_SHARD_INDEX" != 1 ] || exit 3', mode="sharded",
                           shards=3, retries=1, retry_delay=0.1)
        eid = self.api.run("sh-bad")
        self.api.wait_for_state(eid, {"failed"}, timeout=20)
        e = self.settled(eid)
        self.assertIn("1 of 3 shards", e.get("error") or "", harness._short(e))
        self.assertEqual(len(e["attempts"]), 4)
        self.assertEqual({a["shard"] for a in e["attempts"] if a["state"] == "failed"}, {1})

    def test_sharded_env_keeps_job_env(self):
        self.api.shell_job("sh-env", "echo $GREETING-$PAGODA_SHARD_INDEX", mode="sharded", shards=2,
                           env={"GREETING": "hi", "PAGODA_SHARD_INDEX": "overridden"})
        eid = self.api.run("sh-env")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=20)
        log = self.api.log(eid)
        self.assertEqual(sorted(re.findall(r"hi-(\S+)", log)), ["0", "1"], log)


if __name__ == "__main__":
    harness.main()
