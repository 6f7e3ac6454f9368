"""Logs and resources across a failover (issue 16, docs/ha.md "Logs across a
failover"): three HA masters share PostgreSQL, so logs and resource contents
live in the store.

LogsAcrossKill9.test_delete_removes_log_chunks: DELETE of an execution
removes its log chunks from the store; a running one is refused (409).

LogsAcrossKill9.test_log_and_resource_survive_kill9: a job writes 300 lines, sleeps, then writes 300 more. A
client follows its log on the leader; once the leader has streamed the first
300 lines, the leader and a resource uploaded to it are gone with `kill -9`.
 - the new leader serves the first 300 lines in full (no gap, no duplicate);
 - the follower reconnects to the new leader with ?follow=1&offset=<bytes
   received> and gets the rest: what it received in total is exactly the
   job's output, byte for byte, and equals the final log;
 - the resource uploaded to the old leader downloads from the new one, and a
   job that uses it runs on a worker that had never fetched it.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import ha_harness  # noqa: E402

N = 300
PAD = "x" * 60
SCRIPT = ('for i in $(seq 1 %d); do echo "before $i %s"; done; sleep "$PAUSE"; '
          'for i in $(seq 1 %d); do echo "after $i"; done' % (N, PAD, N))
EXPECTED = "".join("before %d %s\n" % (i, PAD) for i in range(1, N + 1)) + \
    "".join("after %d\n" % i for i in range(1, N + 1))
BEFORE = EXPECTED[:EXPECTED.index("after 1\n")]
RESOURCE = bytes(range(256)) * 512 + b"end of the resource\n"  # 128 KiB + a line, binary


class Follower:
    """GET .../log?follow=1&offset=N on a raw socket: the chunked body is
    decoded as it arrives, so every payload byte received counts (a client
    that resumes counts what it got, even from a chunk cut short)."""

    def __init__(self, url, token, exec_id, offset):
        self.host, self.port = url.split("//")[1].rstrip("/").split(":")
        self.path = "/api/v1/executions/%d/log?follow=1&offset=%d" % (exec_id, offset)
        self.token = token
        self.data = bytearray()
        self.ended = False   # the stream ended cleanly (terminating chunk)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            with socket.create_connection((self.host, int(self.port)), timeout=60) as s:
                self._read(s)
        except (OSError, AssertionError, ValueError) as e:
            self.error = e

    def _read(self, s):
        if True:
            req = "GET %s HTTP/1.1\r\nHost: %s:%s\r\n" % (self.path, self.host, self.port)
            if self.token:
                req += "Authorization: Bearer %s\r\n" % self.token
            s.sendall((req + "\r\n").encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                more = s.recv(65536)
                if not more:
                    raise OSError("closed before the headers")
                buf += more
            head, buf = buf.split(b"\r\n\r\n", 1)
            if not head.startswith(b"HTTP/1.1 200"):
                raise AssertionError("follow answered %r" % head[:200])
            chunked = b"chunked" in head.lower()
            if not chunked:  # a finished execution: the whole body at once
                length = int([ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")][0].split(b":")[1])
                while len(buf) < length:
                    more = s.recv(65536)
                    if not more:
                        break
                    buf += more
                self.data += buf[:length]
                self.ended = True
                return
            left = 0  # payload bytes left in the current chunk
            while True:
                if left == 0:
                    while b"\r\n" not in buf:
                        more = s.recv(65536)
                        if not more:
                            return
                        buf += more
                    size_line, buf = buf.split(b"\r\n", 1)
                    left = int(size_line.split(b";")[0], 16)
                    if left == 0:
                        self.ended = True
                        return
                    left += 2  # the CRLF after the payload
                if not buf:
                    buf = s.recv(65536)
                    if not buf:
                        return
                take = min(left, len(buf))
                payload = buf[:take]
                # the chunk's trailing CRLF is not payload
                n_payload = max(0, min(take, left - 2))
                self.data += payload[:n_payload]
                left -= take
                buf = buf[take:]

    def wait(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


class LogsAcrossKill9(ha_harness.HaCase):
    WORKERS = {"hw-1": ["--slots", "2"], "hw-2": ["--slots", "2"]}

    def test_delete_removes_log_chunks(self):
        """On PostgreSQL an execution's log is rows of log_chunks: the
        delete takes them (cascade), and a running one is refused."""
        api = self.leader.api()
        api.shell_job("short", script='echo hello; echo "$RUN"')
        eid = api.run("short", {"env": {"RUN": "one"}})
        self.assertEqual(api.wait_final(eid, timeout=30)["state"], "succeeded")
        harness.wait_until(lambda: api.log(eid) == "hello\none\n", 15, 0.05, "the log")
        count = "SELECT count(*) FROM log_chunks WHERE execution_id = %d" % eid
        harness.wait_until(lambda: int(self.pg.psql(count, db=self.db).strip()) > 0, 15, 0.05,
                           "its chunks durable")
        self.assertEqual(api.delete("/api/v1/executions/%d" % eid).status, 200)
        self.assertEqual(int(self.pg.psql(count, db=self.db).strip()), 0)
        self.assertEqual(api.get("/api/v1/executions/%d/log" % eid).status, 404)
        api.shell_job("long", script="echo started; sleep 20")
        lid = api.run("long")
        api.wait_for_state(lid, {"running"}, timeout=30)
        self.assertEqual(api.delete("/api/v1/executions/%d" % lid).status, 409)
        api.ok("POST", "/api/v1/executions/%d/kill" % lid)
        api.wait_final(lid, timeout=30)

    def test_log_and_resource_survive_kill9(self):
        old = self.leader
        api = old.api()
        self.assertEqual(ha_harness.cluster_view(old)["storage"]["log_backend"], "store")
        r = api.request("PUT", "/api/v1/resources/blob.bin", raw=RESOURCE)
        self.assertIn(r.status, (200, 201), r.text[:300])
        api.shell_job("chatty", script=SCRIPT)
        eid = api.run("chatty", {"env": {"PAUSE": "8"}})

        follower = Follower(old.url, api.token, eid, 0)
        harness.wait_until(lambda: api.log(eid) == BEFORE, 30, 0.05,
                           "the leader has the first %d lines" % N)
        harness.wait_until(lambda: len(follower.data) >= len(BEFORE), 15, 0.02,
                           "the follower got the first %d lines" % N)
        old.kill9()
        survivors = self.alive_masters()
        new, took = self.wait_new_leader(survivors, self.SESSION_MS / 1000.0 + 20)
        type(self).leader = new
        sys.stderr.write("\n[ha-logs] %s leads %.2f s after the kill\n" % (new.name, took))
        self.assertTrue(follower.wait(20), "the follow stream of the dead leader did not end")
        got = bytes(follower.data)
        self.assertFalse(follower.ended, "the stream of a killed master cannot end cleanly")
        self.assertTrue(EXPECTED.encode().startswith(got), "followed bytes are not a prefix of the output")

        napi = new.api()
        # The lines written before the kill, in full, from the new leader
        # (the worker re-sends what the old leader had not stored yet).
        harness.wait_until(lambda: napi.log(eid).startswith(BEFORE), 40, 0.1,
                           "the new leader serves the first %d lines" % N)

        # The follower resumes where it stopped.
        resumed = Follower(new.url, napi.token, eid, len(got))
        self.assertTrue(resumed.wait(90), "the resumed follow did not end")
        self.assertIsNone(resumed.error, resumed.error)
        self.assertTrue(resumed.ended)
        total = got + bytes(resumed.data)
        self.assertEqual(len(total), len(EXPECTED.encode()),
                         "followed %d bytes, the output has %d" % (len(total), len(EXPECTED)))
        self.assertEqual(total.decode(), EXPECTED)
        e = napi.wait_final(eid, timeout=60)
        self.assertEqual(e["state"], "succeeded", harness._short(e))
        self.assertEqual(napi.log(eid), EXPECTED)
        self.assertEqual(napi.log(eid, offset=len(BEFORE)), EXPECTED[len(BEFORE):])
        # Every master serves it from the store (a standby answers 503 for
        # logs by design: ask the leader; the bytes are the same).
        st = ha_harness.cluster_view(new)["storage"]
        self.assertGreater(st["log_bytes"], 0, st)

        # The resource uploaded to the dead leader.
        r = napi.get("/api/v1/resources/blob.bin")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, RESOURCE)
        napi.shell_job("reader", script="sha256sum blob.bin; tail -n 1 blob.bin",
                       resources=["blob.bin"])
        rid = napi.run("reader")
        e = napi.wait_final(rid, timeout=60)
        self.assertEqual(e["state"], "succeeded", harness._short(e))
        import hashlib
        self.assertIn(hashlib.sha256(RESOURCE).hexdigest(), napi.log(rid))
        self.assertIn("end of the resource", napi.log(rid))


if __name__ == "__main__":
    harness.main()
