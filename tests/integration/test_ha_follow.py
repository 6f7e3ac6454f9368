"""Following logs in an HA cluster on PostgreSQL (issue 16; docs/ha.md
"Logs on a standby", docs/cli.md "Following a log across a failover").

FollowInHa.test_a_standby_serves_logs: a standby answers GET .../log from the
shared store (no 503), and a follow on a standby (it polls the store) ends
with exactly the job's output once the execution is final.

FollowInHa.test_b_cli_follow_across_kill9: `pagoda --addr <all masters> exec
logs -f ID` follows a job's log; once it has printed the first half, the
leader is killed with `kill -9`. The CLI reconnects by itself (?offset=<bytes
printed>) and exits 0 when the execution is final, having printed exactly
the job's output: no gap, no duplicate.

FollowInHa.test_c_follows_abandoned_and_standby_stopped: follows on a standby
dropped by their clients at various moments (a store read may be running on
the thread pool), then the standby stopped with a follow open: it keeps
serving, then exits 0 and ends the open follow.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402
from test_ha_logs import Follower  # noqa: E402

N = 200
PAD = "y" * 50
SCRIPT = ('for i in $(seq 1 %d); do echo "before $i %s"; done; sleep "$PAUSE"; '
          'for i in $(seq 1 %d); do echo "after $i"; done' % (N, PAD, N))
EXPECTED = "".join("before %d %s\n" % (i, PAD) for i in range(1, N + 1)) + \
    "".join("after %d\n" % i for i in range(1, N + 1))
BEFORE = EXPECTED[:EXPECTED.index("after 1\n")]


class FollowInHa(ha_harness.HaCase):
    MASTERS = 2
    WORKERS = {"hw-1": ["--slots", "2"]}

    def standby(self):
        return [d for d in self.alive_masters() if d is not self.leader][0]

    def test_a_standby_serves_logs(self):
        api = self.leader.api()
        api.shell_job("chatty", script=SCRIPT)
        eid = api.run("chatty", {"env": {"PAUSE": "3"}})
        sb = self.standby()
        sapi = sb.api()
        harness.wait_until(lambda: api.log(eid) == BEFORE, 30, 0.05, "the first half on the leader")
        # a follow on the standby, started mid-run, polls the store
        follower = Follower(sb.url, sapi.token, eid, 0)
        self.assertTrue(follower.wait(90), "the standby's follow did not end")
        self.assertIsNone(follower.error, follower.error)
        self.assertTrue(follower.ended)
        self.assertEqual(bytes(follower.data).decode(), EXPECTED)
        self.assertEqual(api.wait_final(eid, timeout=30)["state"], "succeeded")
        r = sapi.get("/api/v1/executions/%d/log" % eid)
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertEqual(r.text, EXPECTED)
        self.assertEqual(sapi.log(eid, offset=len(BEFORE)), EXPECTED[len(BEFORE):])
        # resuming on the standby from an offset of a finished execution
        resumed = Follower(sb.url, sapi.token, eid, len(BEFORE))
        self.assertTrue(resumed.wait(30))
        self.assertEqual(bytes(resumed.data).decode(), EXPECTED[len(BEFORE):])
        self.assertEqual(sapi.get("/api/v1/executions/999999/log").status, 404)

    def test_b_cli_follow_across_kill9(self):
        old = self.leader
        api = old.api()
        api.shell_job("chatty2", script=SCRIPT)
        eid = api.run("chatty2", {"env": {"PAUSE": "8"}})
        addrs = ",".join([old.url] + [d.url for d in self.alive_masters() if d is not old])
        out_path = os.path.join(self.tmp, "follow-%d.out" % eid)
        err_path = os.path.join(self.tmp, "follow-%d.err" % eid)
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            cli = subprocess.Popen([harness.pagoda_bin(), "--addr", addrs, "exec", "logs", "-f",
                                    str(eid)], stdout=out, stderr=err)
        try:
            def printed():
                with open(out_path, "rb") as f:
                    return f.read()
            harness.wait_until(lambda: len(printed()) >= len(BEFORE), 30, 0.02,
                               "the CLI printed the first half")
            self.assertTrue(EXPECTED.encode().startswith(printed()))
            old.kill9()
            new, took = self.wait_new_leader(self.alive_masters(), self.SESSION_MS / 1000.0 + 20)
            type(self).leader = new
            sys.stderr.write("\n[ha-follow] %s leads %.2f s after the kill\n" % (new.name, took))
            rc = cli.wait(timeout=180)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()
        with open(err_path) as f:
            stderr = f.read()
        self.assertEqual(rc, 0, stderr)
        got = printed()
        self.assertEqual(len(got), len(EXPECTED.encode()),
                         "printed %d bytes, the output has %d; stderr: %s" % (len(got), len(EXPECTED), stderr))
        self.assertEqual(got.decode(), EXPECTED)
        self.assertIn("reconnecting at byte", stderr)
        self.assertEqual(new.api().wait_final(eid, timeout=30)["state"], "succeeded")

    def test_c_follows_abandoned_and_standby_stopped(self):
        """A standby reads the store for its follows on the thread pool:
        clients that go away mid-follow (possibly while a read runs) and a
        stop with a follow still open leave the standby sound (the ASan
        build checks for a use after free) and its stop clean (exit 0)."""
        api = self.leader.api()
        api.shell_job("chatty3", script=SCRIPT)
        eid = api.run("chatty3", {"env": {"PAUSE": "30"}})  # running all along
        sb = self.start_master(ha_harness.unique_name("m-follow"))
        sapi = sb.api()
        harness.wait_until(lambda: sapi.log(eid) == BEFORE, 30, 0.05,
                           "the first half in the store, seen by the new standby")
        host, port = sb.url.split("//")[1].rstrip("/").split(":")
        request = ("GET /api/v1/executions/%d/log?follow=1 HTTP/1.1\r\nHost: %s:%s\r\n"
                   "Authorization: Bearer %s\r\n\r\n" % (eid, host, port, sapi.token)).encode()
        for i in range(12):  # gone after 0 .. 1.1 s: before, during or after a read
            with socket.create_connection((host, int(port)), timeout=30) as s:
                s.sendall(request)
                self.assertTrue(s.recv(65536).startswith(b"HTTP/1.1 200"))
                deadline = time.monotonic() + 0.1 * i
                while time.monotonic() < deadline:  # reading on, to drain the stream
                    s.settimeout(max(0.01, deadline - time.monotonic()))
                    try:
                        if not s.recv(65536):
                            break
                    except socket.timeout:
                        pass
        self.assertTrue(EXPECTED.startswith(sapi.log(eid)))  # still serving
        still_open = Follower(sb.url, sapi.token, eid, 0)
        harness.wait_until(lambda: len(still_open.data) >= len(BEFORE), 30, 0.05,
                           "the open follow got the first half")
        self.assertEqual(sb.stop(timeout=30), 0, harness.tail(sb.stderr_path))
        self.assertTrue(still_open.wait(30), "the follow did not end with its master")
        self.assertTrue(EXPECTED.encode().startswith(bytes(still_open.data)))
        self.assertEqual(api.wait_final(eid, timeout=120)["state"], "succeeded")


if __name__ == "__main__":
    harness.main()
