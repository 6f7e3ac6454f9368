"""Retention on PostgreSQL (issue 16, docs/operations.md "Retention"): one
HA master on the harness's PostgreSQL with master.retention.days = 5 and a
fast cleanup interval, logs in the store.

While the master is stopped, the test writes straight into the database,
dated 10 days back: 200 executions of job `old` (no job definition: the
cluster's 5 days apply), each with an attempt and a log chunk; 10 of job
`keeper` (its own retention keeps 30 days); 5 run records of schedule
`pg-runs`. Then, while jobs keep running (load), retention must delete
exactly the 200 old executions with their attempts and log chunks, keep the
keeper's, keep every new execution and its log, trim job `pgtrim`
({"keep_last": 2}) to its newest 2, and keep only the newest run record of
`pg-runs` (the others are older than 5 days).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402

OLD, KEEP, RUNS = 200, 10, 5
DAY_US = 86400 * 1000000


class RetentionOnPg(ha_harness.HaCase):
    MASTERS = 1
    WORKERS = {"rw-1": ["--slots", "4"]}

    @classmethod
    def master_args(cls):
        conf = os.path.join(cls.tmp, "retention-pg.conf")
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write("master = { retention = { days = 5; interval_ms = 100; batch = 40; }; };\n")
        return super().master_args() + ["--config", conf]

    def sql(self, q):
        return self.pg.psql(q, db=self.db).strip()

    def count(self, q):
        return int(self.sql("SELECT count(*) FROM " + q))

    def ids(self, api, job):
        return sorted(e["id"] for e in api.executions(job=job, limit=10000))

    def test_retention_on_postgres(self):
        master = self.leader
        api = master.api()
        self.assertEqual(ha_harness.cluster_view(master)["storage"]["log_backend"], "store")
        api.shell_job("yearly", script="echo yearly")
        api.ok("POST", "/api/v1/schedules", {"name": "pg-runs", "job": "yearly", "cron": "0 0 1 1 *"})
        # defined before the old rows exist: the keeper's own 30 days apply
        # from the first cleanup batch on
        api.shell_job("keeper", script="echo keep", retention={"days": 30})
        api.shell_job("pgtrim", script="echo trim", retention={"keep_last": 2})
        api.shell_job("busy", script="sleep 0.2; echo busy $RANDOM")
        self.assertEqual(self.count("executions"), 0)

        master.stop()
        old_us = int(time.time() * 1e6) - 10 * DAY_US
        total = OLD + KEEP
        self.sql("INSERT INTO executions (id, job, type, state, attempt, submitted_us, finished_us)"
                 " SELECT g, CASE WHEN g <= %d THEN 'old' ELSE 'keeper' END, 'shell', 'succeeded', 1,"
                 " %d + g, %d + g + 1 FROM generate_series(1, %d) g" % (OLD, old_us, old_us, total))
        self.sql("INSERT INTO attempts (execution_id, attempt, state)"
                 " SELECT g, 1, 'succeeded' FROM generate_series(1, %d) g" % total)
        self.sql("INSERT INTO log_chunks (execution_id, attempt, seq, bytes, data)"
                 " SELECT g, 1, 0, length('old output ' || g || E'\\n'), 'old output ' || g || E'\\n'"
                 " FROM generate_series(1, %d) g" % total)
        fires = [old_us + k * 1000000 for k in range(RUNS)]
        for fire in fires:
            self.sql("INSERT INTO docs (kind, id, parent, state, data, created_us, updated_us) VALUES"
                     " ('schedule_run', 'pg-runs:%016d', 'pg-runs', 'started',"
                     " '{\"schedule\": \"pg-runs\", \"fire_us\": %d, \"state\": \"started\"}', %d, %d)"
                     % (fire, fire, fire, fire))

        self.restart_master(master)
        type(self).leader = self.wait_one_leader(timeout=self.SESSION_MS / 1000.0 + 20)
        api = self.leader.api()
        self.wait_workers_alive(self.leader, set(self.WORKERS))
        self.assertEqual(api.log(OLD + 1), "old output %d\n" % (OLD + 1))

        load, trims = [], []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # jobs run while the cleanup runs
            load.append(api.run("busy"))
            if len(trims) < 4:
                trims.append(api.run("pgtrim"))
            if self.count("executions WHERE job = 'old'") == 0 and len(load) >= 10:
                break
            time.sleep(0.1)
        harness.wait_until(lambda: self.count("executions WHERE job = 'old'") == 0, 90, 0.2,
                           "the old executions deleted")
        for eid in load:
            e = api.wait_final(eid, timeout=60)
            self.assertEqual(e["state"], "succeeded", harness._short(e))
        harness.wait_until(lambda: self.ids(api, "pgtrim") == trims[-2:], 60, 0.2,
                           "pgtrim keeps its newest 2 (%s)" % trims[-2:])
        harness.wait_until(lambda: self.count("docs WHERE kind = 'schedule_run' AND parent = 'pg-runs'") == 1,
                           60, 0.2, "pg-runs keeps its newest run record")
        newest = self.sql("SELECT id FROM docs WHERE kind = 'schedule_run' AND parent = 'pg-runs'")
        self.assertEqual(newest, "pg-runs:%016d" % max(fires))

        # exactly the old ones went, with their attempts and log chunks
        self.assertEqual(self.count("attempts WHERE execution_id <= %d" % OLD), 0)
        self.assertEqual(self.count("log_chunks WHERE execution_id <= %d" % OLD), 0)
        self.assertEqual(self.ids(api, "keeper"), list(range(OLD + 1, total + 1)))
        self.assertEqual(self.count("log_chunks WHERE execution_id > %d AND execution_id <= %d"
                                    % (OLD, total)), KEEP)
        self.assertEqual(sorted(set(load) - set(self.ids(api, "busy"))), [])
        for eid in (1, OLD):
            self.assertEqual(api.get("/api/v1/executions/%d" % eid).status, 404)
            self.assertEqual(api.get("/api/v1/executions/%d/log" % eid).status, 404)
        self.assertTrue(api.log(load[-1]).startswith("busy "))
        st = ha_harness.cluster_view(self.leader)["storage"]["retention"]
        self.assertGreaterEqual(st["deleted"], OLD + 2, st)
        self.assertGreaterEqual(st["runs_deleted"], RUNS - 1, st)
        sys.stderr.write("\n[retention-pg] %d deleted, longest batch %.1f ms\n" %
                         (st["deleted"], st["batch_us_max"] / 1000.0))


if __name__ == "__main__":
    harness.main()
