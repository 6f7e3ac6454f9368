"""A master whose data directory fills up (issue 13, item 5): a small tmpfs
holds pagoda.db; a filler file takes the rest.

While full: a run or a definition that cannot be stored is answered 503 and
leaves no trace (nothing runs, nothing exists, not even in memory), and
health says `degraded` with the reason. An execution whose final report hit
the full disk settles as soon as space is back (the store retries), without
a restart, and health returns to ok.

Needs root (mount -t tmpfs): the test fails, never skips, without it.
"""

import errno
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import ClusterCase  # noqa: E402

TMPFS_SIZE = "4m"


def stored_state(db, exec_id):
    """The execution's state as pagoda.db holds it (not the master's memory)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        row = con.execute("SELECT state FROM executions WHERE id=?", (exec_id,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def stored_count(db, table, where="1=1", args=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM %s WHERE %s" % (table, where), args).fetchone()[0]
    finally:
        con.close()


class DiskFull(ClusterCase):
    WORKERS = {"df-1": ["--slots", "2"]}

    @classmethod
    def setUpClass(cls):
        harness.require(os.geteuid() == 0, "root, to mount a tmpfs for the master's data directory")
        harness.PagodaTestCase.setUpClass.__func__(cls)
        cls.mnt = os.path.join(cls.tmp, "master-data")
        os.makedirs(cls.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", cls.mnt],
                           capture_output=True, text=True)
        harness.require(r.returncode == 0, "mount -t tmpfs refused: %s" % r.stderr.strip())
        cls.mounted = True
        cls.gates = os.path.join(cls.tmp, "gates")
        os.makedirs(cls.gates, exist_ok=True)
        cls.master = cls.start("master", list(cls.MASTER_ARGS), data=cls.mnt)
        cls.api = cls.master.api()
        cls.workers = {}
        for wid, flags in cls.WORKERS.items():
            cls.workers[wid] = cls.start_worker(wid, flags)
        cls.wait_workers(set(cls.WORKERS))
        cls.db = os.path.join(cls.mnt, "pagoda.db")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if getattr(cls, "mounted", False):
                subprocess.run(["umount", "-l", cls.mnt], capture_output=True)

    def fill(self):
        """Writes a filler file until the tmpfs is full; returns its path."""
        path = os.path.join(self.mnt, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (65536, 512, 1):  # then the bytes a bigger write could not take
                while True:
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as e:
                        self.assertEqual(e.errno, errno.ENOSPC)
                        break
        finally:
            os.close(fd)
        return path

    def marker(self, name):
        return os.path.join(self.gates, "ran-" + name)

    def test_disk_full_refuses_leaves_no_trace_and_settles(self):
        # A job that runs across the filling, and one whose runs mark a file.
        self.api.shell_job("df-long", "%s; echo done" % self.gate("df-release"))
        self.api.shell_job("df-mark", "touch %s-$PAGODA_EXECUTION_ID" % self.marker("mark"))
        long_id = self.api.run("df-long")
        self.api.wait_for_state(long_id, {"running"}, timeout=20)
        # The worker's `running` report is a background write: the store
        # holds it up to the group window (docs/store.md) before it is
        # durable. Fill the disk only once it is stored.
        harness.wait_until(lambda: stored_state(self.db, long_id) == "running", 20, 0.01,
                           "the running state stored")
        self.assertEqual(self.api.health()["status"], "ok")

        filler = self.fill()

        # Runs while full: the first writes may still fit in space SQLite
        # holds already; keep submitting until the store refuses one.
        accepted, refused = [], 0
        deadline = time.monotonic() + 30
        while refused < 3 and time.monotonic() < deadline:
            r = self.api.post("/api/v1/jobs/df-mark/run")
            if r.status == 201:
                accepted.append(r.json["execution_id"])
            else:
                self.assertEqual(r.status, 503, r.text)
                self.assertIn("store", r.json["error"])
                refused += 1
        self.assertEqual(refused, 3, "the full disk never refused a run (accepted %r)" % accepted)

        # A keyed run refused while full keeps nothing of its key either.
        r = self.api.post("/api/v1/jobs/df-mark/run", headers={"Idempotency-Key": "df-key"})
        self.assertEqual(r.status, 503, r.text)

        h = self.api.get("/api/v1/health")
        self.assertEqual(h.status, 503, h.text)
        self.assertEqual(h.json["status"], "degraded")
        self.assertIn("No space left on device", h.json["reason"])

        # A definition while full: 503, and the job does not exist.
        r = self.api.post("/api/v1/jobs", {"name": "df-born-full", "type": "shell",
                                           "params": {"script": "touch %s" % self.marker("born")}})
        self.assertEqual(r.status, 503, r.text)
        self.assertEqual(self.api.get("/api/v1/jobs/df-born-full").status, 404)
        self.assertEqual(self.api.post("/api/v1/jobs/df-born-full/run").status, 404)

        # A flow and a schedule while full: 503, and they do not exist (the
        # schedule never fires: it would run df-mark every second).
        r = self.api.post("/api/v1/flows", {"name": "df-flow", "nodes": [
            {"id": "a", "job": {"type": "shell", "params": {"script": "true"}}}]})
        self.assertEqual(r.status, 503, r.text)
        self.assertEqual(self.api.get("/api/v1/flows/df-flow").status, 404)
        r = self.api.post("/api/v1/schedules", {"name": "df-sched", "job": "df-mark", "every": "1s"})
        self.assertEqual(r.status, 503, r.text)
        self.assertEqual(self.api.get("/api/v1/schedules/df-sched").status, 404)

        # The long job ends while the disk is full: its final record cannot
        # be written now.
        self.open_gate("df-release")
        harness.wait_until(lambda: self.worker_map()["df-1"]["slots_used"] == 0, 20, 0.05,
                           "the worker is idle")
        self.assertEqual(stored_state(self.db, long_id), "running")

        # Nothing refused ran or exists: the worker is idle (checked above,
        # after every refused run was answered), no marker of theirs, and
        # the only df-mark executions are the accepted ones.
        listed = sorted(x["id"] for x in self.api.executions(job="df-mark"))
        self.assertEqual(listed, sorted(accepted))
        ran = sorted(int(n.rsplit("-", 1)[1]) for n in os.listdir(self.gates)
                     if n.startswith("ran-mark-"))
        for i in ran:
            self.assertIn(i, accepted, "a refused run ran (execution %d)" % i)
        self.assertFalse(os.path.exists(self.marker("born")))
        self.assertEqual(self.api.get("/api/v1/health").json["status"], "degraded")

        # Space comes back: the final record lands, health is ok, no restart.
        os.unlink(filler)
        harness.wait_until(lambda: stored_state(self.db, long_id) == "succeeded", 30, 0.1,
                           "the long job's final record is stored")
        harness.wait_until(lambda: self.api.get("/api/v1/health").status == 200, 30, 0.1,
                           "health ok again")
        self.assertEqual(self.api.health()["status"], "ok")
        self.assertNotIn("reason", self.api.health())
        e = self.api.wait_final(long_id, timeout=10)
        self.assertEqual(e["state"], "succeeded")
        self.assertEqual(stored_count(self.db, "jobs", "name=?", ("df-born-full",)), 0)
        self.assertEqual(stored_count(self.db, "docs", "id IN (?, ?)", ("df-flow", "df-sched")), 0)
        self.assertEqual(self.api.get("/api/v1/schedules/df-sched").status, 404)
        self.assertEqual(stored_count(self.db, "executions", "job=?", ("df-mark",)), len(accepted))
        self.assertTrue(self.master.alive())
        self.assertEqual(self.master.starts, 1, "the master was restarted")

        # And writes work again; the key refused while full starts a new run.
        r = self.api.post("/api/v1/jobs/df-mark/run", headers={"Idempotency-Key": "df-key"})
        self.assertEqual(r.status, 201, r.text)
        self.assertIs(r.json["replayed"], False)
        i = r.json["execution_id"]
        harness.wait_until(lambda: os.path.exists("%s-%d" % (self.marker("mark"), i)), 20, 0.05,
                           "a run after the disk was freed")
        self.assertEqual(self.api.wait_final(i, timeout=20)["state"], "succeeded")


if __name__ == "__main__":
    harness.main()
