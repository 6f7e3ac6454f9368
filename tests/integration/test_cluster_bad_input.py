"""Bad input on a cluster: two workers claiming the same id (the second is
rejected with a clear reason in its log, the first keeps working), a raw
protocol client reporting on an execution the master never had (acked or
ignored, the master stays up), protocol misuse before hello; and run_as
(as root: the job runs as `nobody`; a user not in allowed_users fails with
a clear error)."""

import os
import pwd
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_cluster_base import PROTOCOL, ClusterCase, RawWorker  # noqa: E402


def worker_flag_supported(flag):
    p = subprocess.run([harness.pagoda_bin(), "worker", "--help"], capture_output=True, text=True,
                       timeout=10)
    return flag in p.stdout + p.stderr


class BadInput(ClusterCase):
    WORKERS = {"b-1": ["--slots", "2"], "b-2": ["--slots", "2"], "b-3": ["--slots", "2"]}

    def assertMasterUp(self):
        self.assertTrue(self.master.alive(), "the master died:\n" + harness.tail(self.master.stderr_path))
        self.assertEqual(self.api.health()["role"], "leader")

    def test_duplicate_worker_id_is_rejected(self):
        dup = self.start_worker("b-1", ["--slots", "4"], data=os.path.join(self.tmp, "dup-data"))
        harness.wait_until(lambda: re.search(r"rejected.*already connected", dup.stderr()), 10, 0.05,
                           "the duplicate's log to show the rejection")
        self.assertRegex(dup.stderr(), r"worker id b-1 is already connected")
        self.assertIn("already connected", self.master.stderr())
        w = self.api.ok("GET", "/api/v1/workers/b-1", expect=(200,))
        self.assertEqual(w["state"], "alive")
        self.assertEqual(w["slots"], 2, "the first b-1 (2 slots) must stay registered: %r" % w)
        # The first one keeps working.
        self.api.shell_job("on-b1", "echo ok", labels=[])
        ids = [self.api.run("on-b1") for _ in range(9)]
        seen = {self.api.wait_for_state(i, {"succeeded"}, timeout=20)["worker_id"] for i in ids}
        self.assertIn("b-1", seen)
        self.assertTrue(self.workers["b-1"].alive())
        dup.stop()
        self.assertEqual(self.api.ok("GET", "/api/v1/workers/b-1", expect=(200,))["state"], "alive")

    def test_raw_client_reports_on_unknown_execution(self):
        raw = RawWorker(self.master.rpc_port)
        try:
            welcome = raw.hello("raw-1", slots=0, types=[])
            self.assertEqual(welcome and welcome.get("type"), "welcome", welcome)
            self.assertIn("epoch", welcome)
            raw.send("state", seq=1, execution_id=999999, attempt=1, state="succeeded", exit_code=0,
                     at_us=int(time.time() * 1e6))
            ack = raw.recv_type("ack")
            self.assertIsNotNone(ack, "the master closed the connection instead of acking")
            self.assertEqual(ack["seqs"], [1])
            raw.send("log", seq=2, execution_id=999999, attempt=1, offset=0, data="stray\n")
            raw.send("state", seq=3, execution_id=999999, attempt=1, state="running",
                     at_us=int(time.time() * 1e6))
            acked = set()
            deadline = time.monotonic() + 5
            while acked != {2, 3} and time.monotonic() < deadline:
                m = raw.recv_type("ack")
                self.assertIsNotNone(m, "connection closed")
                acked |= set(m["seqs"])
            self.assertEqual(acked, {2, 3})
            # A heartbeat naming an unknown running attempt: the master asks to kill it.
            raw.send("heartbeat", slots=0, slots_used=0, running=1, types=[], labels=[],
                     running_attempts=[{"execution_id": 999999, "attempt": 1}])
            kill = raw.recv_type("kill")
            self.assertIsNotNone(kill)
            self.assertEqual((kill["execution_id"], kill["attempt"]), (999999, 1))
            # Bad state names and missing seq are ignored, not fatal.
            raw.send("state", seq=4, execution_id=999999, attempt=1, state="exploded")
            raw.send("state", execution_id=999999, attempt=1, state="failed")
            self.assertEqual(raw.recv_type("ack")["seqs"], [4])
        finally:
            raw.close()
        self.assertMasterUp()
        r = self.api.get("/api/v1/executions/999999")
        self.assertEqual(r.status, 404, r)
        # The cluster still runs jobs.
        self.api.shell_job("after-raw", "echo ok")
        self.assertEqual(self.api.wait_for_state(self.api.run("after-raw"), {"succeeded"})["state"],
                         "succeeded")

    def test_raw_client_protocol_misuse(self):
        cases = [
            ("state before hello", lambda r: r.send("state", seq=1, execution_id=1, attempt=1,
                                                    state="running"), "hello"),
            ("wrong protocol", lambda r: r.send("hello", protocol=99, secret="",
                                                worker={"id": "raw-p"}), "protocol"),
            ("no id", lambda r: r.send("hello", protocol=PROTOCOL, nonce="00" * 32, worker={}),
             "id"),
            ("duplicate id", lambda r: r.authenticate("b-2", slots=1), "already connected"),
        ]
        for what, act, word in cases:
            raw = RawWorker(self.master.rpc_port)
            try:
                act(raw)
                m = raw.recv_type("reject")
                self.assertIsNotNone(m, what)
                self.assertIn(word, m["reason"], what)
                self.assertIsNone(raw.recv(timeout=5), "%s: the master should close" % what)
            finally:
                raw.close()
        self.assertMasterUp()
        self.assertEqual(self.api.ok("GET", "/api/v1/workers/b-2", expect=(200,))["state"], "alive")


class RunAs(ClusterCase):
    """run_as needs a worker running as root and allowed_users."""

    WORKERS = {"u-open": ["--slots", "2", "--labels", "runas", "--allowed-users", "nobody"],
               "u-closed": ["--slots", "2", "--labels", "closed"]}

    @classmethod
    def setUpClass(cls):
        harness.require(os.geteuid() == 0, "the run_as tests switch users and need root "
                        "(CI runs them as root)")
        harness.require(worker_flag_supported("--allowed-users"),
                        "pagoda worker has no --allowed-users flag")
        super().setUpClass()

    def test_runs_as_nobody(self):
        uid = pwd.getpwnam("nobody").pw_uid
        self.api.shell_job("as-nobody", "echo uid=$(id -u) user=$(id -un)", run_as="nobody",
                           labels=["runas"])
        eid = self.api.run("as-nobody")
        e = self.api.wait_final(eid, timeout=15)
        self.assertEqual(e["state"], "succeeded", harness._short(e))
        self.assertIn("uid=%d user=nobody" % uid, self.api.log(eid))

    def test_user_not_allowed_fails_clearly(self):
        self.api.shell_job("as-root", "id -u", run_as="root", labels=["runas"])
        eid = self.api.run("as-root")
        e = self.api.wait_final(eid, timeout=15)
        self.assertEqual(e["state"], "failed", harness._short(e))
        self.assertIn("allowed_users", e.get("error") or "", harness._short(e))
        self.api.shell_job("closed-worker", "id -u", run_as="nobody", labels=["closed"])
        eid = self.api.run("closed-worker")
        e = self.api.wait_final(eid, timeout=15)
        self.assertEqual(e["state"], "failed", harness._short(e))
        self.assertIn("allowed_users", e.get("error") or "", harness._short(e))


if __name__ == "__main__":
    harness.main()
