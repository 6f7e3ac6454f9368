"""The live event stream, GET /api/v1/events (issue 14 item 3): execution
states in order ending final, flow node changes, worker drain, schedule
fire/pause/resume, resuming with Last-Event-ID / ?since=, reset for a
position older than the ring, tokens, keep-alive, a client that never reads
is dropped, and filters. The CLI --wait paths are in test_cli.py."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RING = 50            # master.http.events.ring in this test
CLIENT_BUFFER = 65536
KEEPALIVE_MS = 300


class Stream:
    """A streaming GET /api/v1/events read event by event (http.client
    decodes the chunked body)."""

    def __init__(self, api, query="", headers=None, timeout=60):
        self.conn = api.conn(timeout=timeout)
        h = dict(api.auth_headers())
        h.update(headers or {})
        self.conn.request("GET", "/api/v1/events" + query, headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.comments = []

    def next(self):
        """The next event as {"id", "event", "data"}; comments are kept in
        self.comments. None at the end of the stream."""
        ev = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if ev:
                    return ev
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            k, _, v = line.partition(": ")
            if k == "id":
                ev["id"] = int(v)
            elif k == "event":
                ev["event"] = v
            elif k == "data":
                ev["data"] = json.loads(v)

    def until(self, pred, what, timeout=60):
        """Events up to and including the first that pred accepts."""
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            ev = self.next()
            if ev is None:
                raise AssertionError("stream ended before %s; saw %r" % (what, seen[-5:]))
            seen.append(ev)
            if pred(ev):
                return seen
        raise AssertionError("no %s within %d s; saw %r" % (what, timeout, seen[-5:]))

    def close(self):
        self.conn.close()


class RecordingProxy:
    """A TCP proxy in front of the master that notes the request line of
    each connection (the CLI opens one connection per request)."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.lines = []
        self.lsock = socket.socket()
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.url = "http://%s:%d" % (host, self.lsock.getsockname()[1])
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.create_connection(self.target)
            threading.Thread(target=self.pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(u, c, False), daemon=True).start()

    def pipe(self, src, dst, note):
        first = note
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if first:
                    self.lines.append(b.split(b"\r\n", 1)[0].decode())
                    first = False
                dst.sendall(b)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.lsock.close()


STATE_ORDER = ["pending", "dispatched", "running", "succeeded"]


class Events(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = os.path.join(cls.tmp, "events.conf")
        with open(conf, "w") as f:
            f.write("master = { http = { events = { ring = %d; client_buffer = %d; "
                    "keepalive_ms = %d; }; }; };\n" % (RING, CLIENT_BUFFER, KEEPALIVE_MS))
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "8"])
        cls.api = cls.dev.api()
        cls.api.shell_job("ev-short", script="sleep 0.2; echo done")
        cls.worker_id = cls.api.ok("GET", "/api/v1/workers")["workers"][0]["id"]

    def stream(self, query="", **kw):
        s = Stream(self.api, query, **kw)
        self.assertEqual(s.status, 200)
        self.assertTrue(s.resp.getheader("content-type").startswith("text/event-stream"))
        self.addCleanup(s.close)
        return s

    def run_to_final(self, job="ev-short"):
        eid = self.api.run(job)
        self.api.wait_final(eid, timeout=60)
        return eid

    def test_job_states_in_order_ending_final(self):
        s = self.stream("?kinds=execution")
        eid = self.api.run("ev-short")
        evs = s.until(lambda e: e["data"]["id"] == eid and e["data"]["final"], "the final state")
        mine = [e for e in evs if e["data"]["id"] == eid]
        self.assertTrue(all(e["event"] == "execution" for e in evs))
        ids = [e["id"] for e in evs]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))
        states = [e["data"]["state"] for e in mine]
        self.assertEqual(states[-1], "succeeded")
        self.assertEqual(mine[-1]["data"]["execution"]["state"], "succeeded")
        self.assertEqual(mine[-1]["data"]["execution"]["job"], "ev-short")
        ranks = [STATE_ORDER.index(x) for x in states]
        self.assertEqual(ranks, sorted(ranks), states)
        self.assertIn("running", states)
        self.assertFalse(any(e["data"]["final"] for e in mine[:-1]))
        for e in mine:
            self.assertIsInstance(e["data"]["at_us"], int)

    def test_execution_filter(self):
        other = self.api.run("ev-short")
        eid = self.api.run("ev-short")
        s = self.stream("?since=0&execution=%d" % eid)
        evs = s.until(lambda e: e["event"] == "reset" or e["data"].get("final"), "the final state")
        if evs[0]["event"] == "reset":  # the ring no longer had the start: live from here
            evs = s.until(lambda e: e["data"].get("final"), "the final state")
        self.assertTrue(all(e["event"] == "execution" and e["data"]["id"] == eid for e in evs), evs)
        self.api.wait_final(other, timeout=60)

    def test_flow_node_events(self):
        nodes = [{"id": "a", "job": {"type": "shell", "params": {"script": "true"}}},
                 {"id": "b", "job": {"type": "shell", "params": {"script": "true"}}, "depends_on": ["a"]},
                 {"id": "c", "job": {"type": "shell", "params": {"script": "true"}}, "depends_on": ["a"]},
                 {"id": "d", "job": {"type": "shell", "params": {"script": "true"}},
                  "depends_on": ["b", "c"]}]
        self.api.ok("POST", "/api/v1/flows", {"name": "ev-diamond", "nodes": nodes}, expect=(200, 201))
        s = self.stream("?kinds=flow")
        fid = self.api.ok("POST", "/api/v1/flows/ev-diamond/run", None, expect=(201,))["flow_execution_id"]
        evs = s.until(lambda e: e["data"]["flow_execution"]["id"] == fid and e["data"]["change"] == "final",
                      "the flow's final event")
        mine = [e["data"] for e in evs if e["data"]["flow_execution"]["id"] == fid]
        self.assertTrue(all(e["event"] == "flow" for e in evs))
        self.assertEqual(mine[0]["change"], "started")
        self.assertEqual(mine[-1]["flow_execution"]["state"], "succeeded")
        final_nodes = {k: v["state"] for k, v in mine[-1]["flow_execution"]["nodes"].items()}
        self.assertEqual(final_nodes, dict.fromkeys("abcd", "succeeded"))
        # Node by node: d ran only after b and c were done.
        seen_running = set()
        for d in mine:
            ns = {k: v["state"] for k, v in d["flow_execution"]["nodes"].items()}
            seen_running |= {k for k, v in ns.items() if v == "running"}
            if ns.get("d") == "running":
                self.assertEqual((ns["b"], ns["c"]), ("succeeded", "succeeded"), ns)
        self.assertEqual(seen_running, set("abcd"))

    def test_worker_drain_and_undrain(self):
        s = self.stream("?kinds=worker")
        base = "/api/v1/workers/%s/" % self.worker_id
        self.api.ok("POST", base + "drain", expect=(200,))
        try:
            evs = s.until(lambda e: e["data"]["change"] == "drained", "the drained event")
        finally:
            self.api.ok("POST", base + "undrain", expect=(200,))
        self.assertEqual(evs[-1]["event"], "worker")
        self.assertEqual(evs[-1]["data"]["worker"]["id"], self.worker_id)
        self.assertTrue(evs[-1]["data"]["worker"]["draining"])
        evs = s.until(lambda e: e["data"]["change"] == "undrained", "the undrained event")
        self.assertFalse(evs[-1]["data"]["worker"]["draining"])

    def test_schedule_fired_paused_resumed(self):
        s = self.stream("?kinds=schedule")
        self.api.ok("POST", "/api/v1/schedules", {"name": "ev-every", "job": "ev-short", "every": "1s"},
                    expect=(200, 201))
        try:
            evs = s.until(lambda e: e["data"]["schedule"] == "ev-every" and e["data"]["change"] == "fired",
                          "a fire")
            self.assertIsInstance(evs[-1]["data"]["fire_us"], int)
            self.api.ok("POST", "/api/v1/schedules/ev-every/pause", expect=(200,))
            s.until(lambda e: e["data"]["schedule"] == "ev-every" and e["data"]["change"] == "paused",
                    "the pause")
            self.api.ok("POST", "/api/v1/schedules/ev-every/resume", expect=(200,))
            s.until(lambda e: e["data"]["schedule"] == "ev-every" and e["data"]["change"] == "resumed",
                    "the resume")
        finally:
            self.api.ok("DELETE", "/api/v1/schedules/ev-every", expect=(200,))

    def test_resume_gets_only_later_events(self):
        s = self.stream("?kinds=execution")
        first = self.api.run("ev-short")
        evs = s.until(lambda e: e["data"]["id"] == first and e["data"]["final"], "the first's end")
        position = evs[-1]["id"]
        s.close()
        second = self.run_to_final()
        for how in ({"headers": {"Last-Event-ID": str(position)}, "query": "?kinds=execution"},
                    {"query": "?kinds=execution&since=%d" % position}):
            r = self.stream(how["query"], headers=how.get("headers"))
            evs = r.until(lambda e: e["event"] == "reset" or
                          (e["data"]["id"] == second and e["data"]["final"]), "the second's end")
            self.assertNotEqual(evs[0]["event"], "reset", "the ring holds %d events" % RING)
            self.assertTrue(all(e["id"] > position for e in evs), evs)
            self.assertNotIn(first, [e["data"]["id"] for e in evs])
            self.assertIn("running", [e["data"]["state"] for e in evs if e["data"]["id"] == second])

    def test_position_older_than_the_ring_gets_reset(self):
        base = "/api/v1/workers/%s/" % self.worker_id
        for _ in range(RING // 2 + 1):  # two events each: more than the ring holds
            self.api.ok("POST", base + "drain", expect=(200,))
            self.api.ok("POST", base + "undrain", expect=(200,))
        s = self.stream("?since=1")
        ev = s.next()
        self.assertEqual(ev["event"], "reset")
        self.assertIn("older than the event ring", ev["data"]["reason"])
        latest = ev["id"]
        self.assertEqual(ev["data"]["position"], latest)
        # Live events follow the reset.
        self.api.ok("POST", base + "drain", expect=(200,))
        self.api.ok("POST", base + "undrain", expect=(200,))
        ev = s.next()
        self.assertEqual((ev["event"], ev["data"]["change"]), ("worker", "drained"))
        self.assertGreater(ev["id"], latest)
        # A position this master never gave (another master's, say): reset too.
        f = self.stream("?since=%d" % (latest + 10**9))
        ev = f.next()
        self.assertEqual(ev["event"], "reset")

    def test_tokens_keepalive_and_bad_input(self):
        r = self.api.post("/api/v1/tokens", {"name": "ev-viewer", "role": "viewer"})
        self.assertEqual(r.status, 201, r)
        viewer = harness.Api(self.dev.url, token=r.json["token"])
        s = Stream(viewer)
        self.addCleanup(s.close)
        self.assertEqual(s.status, 200)
        # Keep-alive comments arrive every KEEPALIVE_MS while nothing happens
        # (read until two have come; events of other tests may interleave).
        deadline = time.time() + 30
        s.conn.sock.settimeout(30)
        while sum(1 for c in s.comments if "keep-alive" in c) < 2 and time.time() < deadline:
            line = s.resp.readline().decode()
            if line.startswith(":"):
                s.comments.append(line)
        self.assertGreaterEqual(sum(1 for c in s.comments if "keep-alive" in c), 2, s.comments)
        anon = Stream(harness.Api(self.dev.url, token=False))
        self.addCleanup(anon.close)
        self.assertEqual(anon.status, 401)
        r = self.api.get("/api/v1/events", headers={"Accept": "application/json"})
        self.assertEqual(r.status, 406, r)
        self.assertIn("text/event-stream", r.json["error"])
        for q in ("?kinds=execution,cheese", "?execution=abc", "?since=-3", "?execution=5&kinds=worker"):
            self.assertEqual(self.api.get("/api/v1/events" + q).status, 400, q)

    def test_client_that_never_reads_is_dropped(self):
        nodes = [{"id": "n%d" % i, "job": {"type": "shell", "params": {"script": "true"}}}
                 for i in range(40)]
        self.api.ok("POST", "/api/v1/flows", {"name": "ev-wide", "nodes": nodes}, expect=(200, 201))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((self.api.host, self.api.port))
        self.addCleanup(sock.close)
        hdrs = "".join("%s: %s\r\n" % kv for kv in self.api.auth_headers().items())
        sock.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % hdrs).encode())
        rss_before = self.rss_kb()

        def dropped():
            with open(self.dev.stderr_path) as f:
                return "event stream client dropped" in f.read()

        runs = 0
        while not dropped() and runs < 30:
            fid = self.api.ok("POST", "/api/v1/flows/ev-wide/run", None, expect=(201,))["flow_execution_id"]
            harness.wait_until(lambda: self.api.ok("GET", "/api/v1/flow-executions/%d" % fid)["state"]
                               in ("succeeded", "failed"), 120, 0.1, "the wide flow ends")
            runs += 1
        self.assertTrue(dropped(), "the client was not dropped after %d flow runs" % runs)
        # The connection is cut (after the short grace): reading ends.
        sock.settimeout(60)
        got = 0
        try:
            while True:
                b = sock.recv(65536)
                if not b:
                    break
                got += len(b)
        except ConnectionResetError:
            pass
        # The master kept at most its buffer for this client: its memory did
        # not grow with everything it was asked to send.
        self.assertLess(self.rss_kb() - rss_before, 64 * 1024)
        self.api.health()  # and it still serves

    def rss_kb(self):
        with open("/proc/%d/status" % self.dev.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


class CliWait(harness.PagodaTestCase):
    """The CLI's --wait through the event stream, on a master with the
    default keep-alive (15 s: the CLI also looks at each keep-alive)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.api.shell_job("ev-short", script="sleep 0.2; echo done")

    def cli(self, addr, *args):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = addr
        env.pop("PAGODA_CONFIG", None)
        return subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                              text=True, timeout=120, cwd=self.tmp)

    def test_cli_wait_follows_the_stream(self):
        self.api.shell_job("ev-fail", script="sleep 0.5; exit 4")
        self.api.ok("POST", "/api/v1/flows", {"name": "ev-cliflow", "nodes": [
            {"id": "one", "job": {"type": "shell", "params": {"script": "sleep 0.5"}}}]},
            expect=(200, 201))
        proxy = RecordingProxy(self.api.host, self.api.port)
        self.addCleanup(proxy.close)
        p = self.cli(proxy.url, "job", "run", "ev-short", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        eid = int(p.stdout.split()[0])
        self.assertEqual(p.stdout.split()[-1], "succeeded")
        p = self.cli(proxy.url, "job", "run", "ev-fail", "--wait")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout.split()[-1], "failed")
        fail_id = int(p.stdout.split()[0])
        p = self.cli(proxy.url, "flow", "run", "ev-cliflow", "--wait")
        self.assertEqual(p.returncode, 0, p.stderr)
        fid = int(p.stdout.splitlines()[0])
        self.assertEqual(p.stdout.splitlines()[1], "flow execution %d of ev-cliflow: succeeded" % fid)
        lines = proxy.lines
        self.assertIn("GET /api/v1/events?kinds=execution&execution=%d HTTP/1.1" % eid, lines)
        self.assertIn("GET /api/v1/events?kinds=flow HTTP/1.1", lines)
        # A look when the stream opens and one at the final event (one more
        # if the end was not yet visible then), not polling: the 0.5 s runs
        # polled every 100 ms would be read at least 5 times each.
        for path in ("/api/v1/executions/%d " % fail_id, "/api/v1/flow-executions/%d " % fid):
            n = sum(1 for x in lines if x.startswith("GET " + path))
            self.assertGreaterEqual(n, 1, lines)
            self.assertLessEqual(n, 3, lines)



if __name__ == "__main__":
    harness.main()
