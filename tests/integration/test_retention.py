"""Retention and execution delete (issue 16, docs/operations.md "Retention").

`pagoda dev` (SQLite: logs are local files) with master.retention.days = 5
and a fast cleanup interval. Before it starts, executions are written
straight into its database, dated 10 days back: 300 of job `old` (no job
definition: the cluster's 5 days apply; each with a log file) and 20 of job
`keeper`, whose own retention keeps 30 days. Then, while jobs keep running
(load), retention must delete exactly the 300 old ones with their attempts
and log files, keep the keeper's, keep every new execution, and trim job
`trim` ({"keep_last": 3}) to its newest 3 final executions without touching
its running one.

Delete: `DELETE /api/v1/executions/{id}` answers 409 while the execution
runs, 200 once it is final (its log file goes), 404 after; `pagoda exec
delete ID` does the same from the CLI; a viewer token is refused.
"""

import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

OLD, KEEP = 300, 20
DAY_US = 86400 * 1000000


class Retention(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = os.path.join(cls.tmp, "retention.conf")
        with open(conf, "w") as f:
            f.write("master = { retention = { days = 5; interval_ms = 100; batch = 50; "
                    "resource_versions = 1; }; };\n")
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "4"])
        api = cls.dev.api()
        api.shell_job("yearly", script="echo yearly")
        for name in ("runs-mixed", "runs-old"):
            api.ok("POST", "/api/v1/schedules", {"name": name, "job": "yearly", "cron": "0 0 1 1 *"})
        cls.dev.stop()  # the database exists now: write the old executions into it
        db = os.path.join(cls.dev.data, "pagoda.db")
        logs = os.path.join(cls.dev.data, "logs")
        old_us = int(time.time() * 1e6) - 10 * DAY_US
        with sqlite3.connect(db) as c:
            for i in range(1, OLD + KEEP + 1):
                job = "old" if i <= OLD else "keeper"
                c.execute("INSERT INTO executions (id, job, type, state, attempt, submitted_us, finished_us,"
                          " idempotency_key) VALUES (?, ?, 'shell', 'succeeded', 1, ?, ?, ?)",
                          (i, job, old_us + i, old_us + i + 1, "key-%d" % i))
                c.execute("INSERT INTO attempts (execution_id, attempt, state) VALUES (?, 1, 'succeeded')", (i,))
                with open(os.path.join(logs, "%d-1.log" % i), "w") as f:
                    f.write("old output %d\n" % i)
            # schedule run records: runs-mixed has 8 from 10 days back and 2
            # from yesterday, runs-old only 3 from 10 days back
            now_us = int(time.time() * 1e6)
            cls.runs = {"runs-mixed": [old_us + k * 1000000 for k in range(8)] +
                        [now_us - DAY_US + k * 1000000 for k in range(2)],
                        "runs-old": [old_us + k * 1000000 for k in range(3)]}
            for name, fires in cls.runs.items():
                for fire in fires:
                    doc = '{"schedule": "%s", "fire_us": %d, "state": "started"}' % (name, fire)
                    c.execute("INSERT INTO docs (kind, id, parent, state, data, created_us, updated_us)"
                              " VALUES ('schedule_run', ?, ?, 'started', ?, ?, ?)",
                              ("%s:%016d" % (name, fire), name, doc, fire, fire))
        cls.dev.start()
        cls.api = cls.dev.api()
        cls.logs = logs

    def ids(self, job):
        return sorted(e["id"] for e in self.api.executions(job=job, limit=10000))

    def test_retention_under_load(self):
        api = self.api
        api.shell_job("keeper", script="echo keep", retention={"days": 30})
        api.shell_job("trim", script="echo trim $N", retention={"keep_last": 3})
        api.shell_job("busy", script="sleep 0.2; echo busy")
        long_trim = api.run("trim", {"script": "sleep 6; echo long", "env": {}})
        api.wait_for_state(long_trim, {"running"}, timeout=20)
        load = []
        trims = []
        deadline = time.monotonic() + 60
        # Jobs run while the cleanup runs.
        while time.monotonic() < deadline:
            load.append(api.run("busy"))
            if len(trims) < 6:
                trims.append(api.run("trim"))
            if not self.ids("old") and len(load) >= 10:
                break
            time.sleep(0.1)
        harness.wait_until(lambda: not self.ids("old"), 60, 0.2, "the old executions deleted")
        for eid in load:
            e = api.wait_final(eid, timeout=60)
            self.assertEqual(e["state"], "succeeded", harness._short(e))
        # keep_last 3: while the long trim runs, it stays beside the newest 3
        # final ones; once it ends it is the oldest and goes too.
        self.assertEqual(len(trims), 6)
        harness.wait_until(lambda: self.ids("trim") in (sorted([long_trim] + trims[-3:]), trims[-3:]),
                           30, 0.1, "trim keeps its running one and its newest 3")
        if self.ids("trim") != trims[-3:]:
            self.assertEqual(api.execution(long_trim)["state"], "running")
        harness.wait_until(lambda: self.ids("trim") == trims[-3:], 30, 0.2,
                           "trim keeps its newest 3 (%s)" % trims[-3:])
        self.assertEqual(api.get("/api/v1/executions/%d" % long_trim).status, 404)
        for eid in trims[-3:]:
            self.assertEqual(api.execution(eid)["state"], "succeeded")

        # exactly the old ones went: attempts, log files, idempotency keys
        self.assertEqual(self.ids("keeper"), list(range(OLD + 1, OLD + KEEP + 1)))
        self.assertEqual(sorted(set(load) - set(self.ids("busy"))), [])
        for i in (1, OLD // 2, OLD):
            self.assertEqual(api.get("/api/v1/executions/%d" % i).status, 404)
            self.assertFalse(os.path.exists(os.path.join(self.logs, "%d-1.log" % i)), i)
        self.assertTrue(os.path.exists(os.path.join(self.logs, "%d-1.log" % (OLD + 1))))
        with sqlite3.connect(os.path.join(self.dev.data, "pagoda.db")) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM attempts WHERE execution_id <= ?",
                                       (OLD,)).fetchone()[0], 0)
            # idempotency keys are a column of the execution's row: gone with it
            self.assertEqual(c.execute("SELECT count(*) FROM executions WHERE id <= ?", (OLD,))
                             .fetchone()[0], 0)
            self.assertEqual(c.execute("SELECT count(*) FROM executions WHERE job = 'keeper' AND id <= ?",
                                       (OLD + KEEP,)).fetchone()[0], KEEP)
        st = api.ok("GET", "/api/v1/cluster")["storage"]
        self.assertEqual(st["log_backend"], "files")
        self.assertGreater(st["store_bytes"], 0)
        self.assertGreaterEqual(st["retention"]["deleted"], OLD + 3, st)
        sys.stderr.write("\n[retention] %d deleted, longest batch %.1f ms\n" %
                         (st["retention"]["deleted"], st["retention"]["batch_us_max"] / 1000.0))

    def test_schedule_run_records(self):
        """Run records older than `days` go, except each schedule's newest
        one (its catch-up reads it); younger ones stay."""
        api = self.api

        def fires(name):
            runs = api.ok("GET", "/api/v1/schedules/%s?runs=100" % name)["runs"]
            return sorted(r["fire_us"] for r in runs)
        mixed = self.runs["runs-mixed"]
        harness.wait_until(lambda: fires("runs-mixed") == sorted(mixed[-2:]), 60, 0.2,
                           "runs-mixed keeps its 2 young records")
        harness.wait_until(lambda: fires("runs-old") == [max(self.runs["runs-old"])], 60, 0.2,
                           "runs-old keeps its newest record")
        st = api.ok("GET", "/api/v1/cluster")["storage"]["retention"]
        self.assertGreaterEqual(st["runs_deleted"], 8 + 2, st)

    def test_resource_versions(self):
        """resource_versions = 1: the newest version stays, and so does one a
        job pins; the others go (their blob files too)."""
        api = self.api
        hashes = []
        for i in range(3):
            r = api.request("PUT", "/api/v1/resources/res.txt", raw=b"version %d\n" % i)
            self.assertIn(r.status, (200, 201), r.text)
            hashes.append(r.json["hash"])
            if i == 0:  # pinned before a newer version exists: retention never sees it unpinned
                api.shell_job("pinner", script="cat res.txt", resources=["res.txt@" + hashes[0]])

        def versions():
            v = api.ok("GET", "/api/v1/resources/res.txt/versions")
            return sorted(x["hash"] for x in v["versions"])
        harness.wait_until(lambda: versions() == sorted([hashes[0], hashes[2]]), 30, 0.1,
                           "the middle version removed")
        blobs = os.path.join(self.dev.data, "resources", "blobs")
        self.assertFalse(os.path.exists(os.path.join(blobs, hashes[1])))
        self.assertTrue(os.path.exists(os.path.join(blobs, hashes[0])))
        self.assertTrue(os.path.exists(os.path.join(blobs, hashes[2])))
        rid = api.run("pinner")
        self.assertEqual(api.wait_final(rid, timeout=30)["state"], "succeeded")
        self.assertEqual(api.log(rid), "version 0\n")

    def test_exec_delete(self):
        api = self.api
        api.shell_job("deleteme", script="echo started; sleep 30")
        eid = api.run("deleteme")
        api.wait_for_state(eid, {"running"}, timeout=20)
        harness.wait_until(lambda: api.log(eid) == "started\n", 20, 0.05, "the first line")
        r = api.delete("/api/v1/executions/%d" % eid)
        self.assertEqual(r.status, 409, r.text)
        self.assertEqual(api.execution(eid)["state"], "running")
        api.ok("POST", "/api/v1/executions/%d/kill" % eid)
        api.wait_final(eid, timeout=20)
        log = os.path.join(self.logs, "%d-1.log" % eid)
        self.assertTrue(os.path.exists(log))
        # a viewer may not delete
        viewer = api.ok("POST", "/api/v1/tokens", {"name": "retention-viewer", "role": "viewer"})["token"]
        r = harness.Api(self.dev.url, token=viewer).delete("/api/v1/executions/%d" % eid)
        self.assertEqual(r.status, 403, r.text)
        r = api.delete("/api/v1/executions/%d" % eid)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json, {"deleted": eid})
        self.assertEqual(api.get("/api/v1/executions/%d" % eid).status, 404)
        self.assertEqual(api.get("/api/v1/executions/%d/log" % eid).status, 404)
        self.assertFalse(os.path.exists(log))
        self.assertEqual(api.delete("/api/v1/executions/%d" % eid).status, 404)

        # the CLI
        api.shell_job("cli-delete", script="echo bye")
        cid = api.run("cli-delete")
        api.wait_final(cid, timeout=20)

        def cli_delete():
            # 409 "not final yet" until the final state is durable (the API
            # may show it a moment before): try again then
            p = subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url, "exec", "delete",
                                str(cid)], capture_output=True, text=True, timeout=30)
            return None if "not final yet" in p.stderr else p
        p = harness.wait_until(cli_delete, 20, 0.05, "the CLI delete past 409")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("execution %d deleted" % cid, p.stdout)
        p = subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url, "exec", "delete", str(cid)],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not found", p.stderr)


if __name__ == "__main__":
    harness.main()
