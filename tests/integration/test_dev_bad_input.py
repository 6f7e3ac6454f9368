"""`pagoda dev` facing bad input: malformed or oversized HTTP requests,
invalid definitions, unknown ids and routes, hostile frames on the RPC port,
and broken plugin files. After each, the daemon must keep serving."""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def read_answer(s, data=b"", timeout=10):
    """Reads from `s` until one whole answer (head and content-length body)
    follows the bytes `data` already read, or the server closes; returns
    all bytes read (b"" when the server closed at once)."""
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"\r\n\r\n" in data:
            hdr, _, rest = data.partition(b"\r\n\r\n")
            clen = None
            for line in hdr.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    clen = int(v.strip())
            if clen is not None and len(rest) >= clen:
                break
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def raw_http(host, port, head, body=b"", wait_before_body=2.0, timeout=10):
    """Sends an HTTP request on a raw socket. The headers go first; if the
    server answers within `wait_before_body` s the body is not sent (a server
    may refuse by Content-Length alone). Returns (status, body_bytes)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(head)
        s.settimeout(wait_before_body)
        early = b""
        try:
            early = s.recv(65536)
        except socket.timeout:
            pass
        data = early
        if not early and body:
            s.settimeout(timeout)
            try:
                s.sendall(body)
            except (BrokenPipeError, ConnectionResetError):
                pass
        data = read_answer(s, data, timeout)
    finally:
        s.close()
    if not data.startswith(b"HTTP/1."):
        raise AssertionError("no HTTP answer, got %r" % data[:200])
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


# ---------------------------------------------------------------- RPC frames


def frame(obj):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return struct.pack(">I", len(payload)) + payload


def read_until_closed(sock, timeout=5.0):
    """Reads until the peer closes. Returns (frames, closed): the decoded
    frames received (dicts, or raw bytes when not JSON) and whether the peer
    closed within `timeout`."""
    sock.settimeout(0.2)
    buf = b""
    deadline = time.monotonic() + timeout
    closed = False
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    frames = []
    while len(buf) >= 4:
        (n,) = struct.unpack(">I", buf[:4])
        if len(buf) < 4 + n:
            break
        p = buf[4:4 + n]
        buf = buf[4 + n:]
        try:
            frames.append(json.loads(p))
        except ValueError:
            frames.append(p)
    return frames, closed


class DevBadInput(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "2"])
        cls.api = cls.dev.api()
        cls.api.shell_job("canary", "echo canary-ok")

    def assert_still_serving(self):
        self.assertEqual(self.api.health()["status"], "ok")
        eid = self.api.run("canary")
        self.api.wait_for_state(eid, {"succeeded"}, timeout=10)
        self.assertIn("canary-ok", self.api.log(eid))

    def assert_error(self, r, status):
        self.assertEqual(r.status, status, r)
        body = r.json
        self.assertIsInstance(body.get("error"), str, body)
        self.assertTrue(body["error"], body)
        return body["error"]

    # ------------------------------------------------------------ HTTP

    def test_malformed_json(self):
        for raw in (b"{", b"{\"name\": ", b"not json", b"\xff\xfe", b"[1,2]", b"42", b""):
            r = self.api.request("POST", "/api/v1/jobs", raw=raw)
            self.assert_error(r, 400)
        r = self.api.request("POST", "/api/v1/jobs/canary/run", raw=b"{bad")
        self.assert_error(r, 400)
        self.assert_still_serving()

    def test_invalid_definitions(self):
        for job in ({"type": "shell", "params": {"script": "true"}},
                    {"name": "", "type": "shell", "params": {"script": "true"}},
                    {"name": "bad name/slash", "type": "shell", "params": {"script": "true"}},
                    {"name": "x" * 129, "type": "shell", "params": {"script": "true"}},
                    {"name": "notype", "params": {"script": "true"}},
                    {"name": "badtimeout", "type": "shell", "params": {"script": "true"},
                     "timeout": "soon"},
                    {"name": 5, "type": "shell", "params": {"script": "true"}}):
            r = self.api.post("/api/v1/jobs", job)
            self.assert_error(r, 400)
        self.assertEqual(self.api.get("/api/v1/jobs/notype").status, 404)

    def test_unknown_job_type(self):
        r = self.api.post("/api/v1/jobs", {"name": "t", "type": "bash", "params": {}})
        msg = self.assert_error(r, 400)
        self.assertIn("'bash'", msg)
        self.assertIn("shell", msg, "the message should list the loaded types")

    def test_invalid_shell_params(self):
        r = self.api.post("/api/v1/jobs", {"name": "noscript", "type": "shell", "params": {}})
        self.assertEqual(self.assert_error(r, 400), "shell: params.script or params.argv is required")
        r = self.api.post("/api/v1/jobs", {"name": "noparams", "type": "shell"})
        self.assertEqual(self.assert_error(r, 400), "shell: params.script or params.argv is required")
        r = self.api.post("/api/v1/jobs", {"name": "badargv", "type": "shell",
                                           "params": {"argv": [1, 2]}})
        self.assertIn("shell:", self.assert_error(r, 400))
        self.assertEqual(self.api.get("/api/v1/jobs/noscript").status, 404)

    def test_body_over_1mib_is_413_and_daemon_keeps_serving(self):
        size = (1 << 20) + 4096
        body = b'{"name":"big","type":"shell","params":{"script":"' + b"x" * size + b'"}}'
        head = ("POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        status, resp = raw_http(self.api.host, self.api.port, head, body)
        self.assertEqual(status, 413, resp[:200])
        self.assertIn("error", json.loads(resp.decode() or "{}"))
        self.assertEqual(self.api.get("/api/v1/jobs/big").status, 404)
        # Just under the limit is accepted (the store keeps it).
        ok_body = {"name": "almost-big", "type": "shell",
                   "params": {"script": "true #" + "y" * ((1 << 20) - 200)}}
        r = self.api.post("/api/v1/jobs", ok_body)
        self.assertIn(r.status, (200, 201), r)
        self.assert_still_serving()

    def test_headers_over_8kib_after_a_request_are_431(self):
        # docs/api.md "Errors, limits and timeouts": on a kept-alive
        # connection, headers over the 8 KiB table get a JSON 431.
        pad = b"X-Pad: " + b"a" * 16384 + b"\r\n"
        s = socket.create_connection((self.api.host, self.api.port), timeout=10)
        try:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = read_answer(s)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:200])
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + pad + b"\r\n")
            answer = read_answer(s)
        finally:
            s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 431 "), answer[:200])
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        self.assertIn("headers too large", body["error"])
        self.assert_still_serving()

    def test_headers_over_8kib_as_first_request_close_the_connection(self):
        # The documented limit of lws 4.1 (docs/api.md): a connection's
        # first request with headers over 8 KiB is closed without an answer.
        pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"b" * 100) for i in range(160))
        s = socket.create_connection((self.api.host, self.api.port), timeout=10)
        try:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + pad + b"\r\n")
            answer = read_answer(s)
        finally:
            s.close()
        self.assertEqual(answer, b"")
        self.assert_still_serving()

    def test_unknown_execution(self):
        self.assert_error(self.api.get("/api/v1/executions/999999"), 404)
        self.assert_error(self.api.post("/api/v1/executions/999999/kill"), 404)
        self.assert_error(self.api.get("/api/v1/executions/999999/log"), 404)
        r = self.api.get("/api/v1/executions/not-a-number")
        self.assertIn(r.status, (400, 404), r)

    def test_kill_finished_execution_is_409(self):
        eid = self.api.run("canary")
        self.api.wait_for_state(eid, {"succeeded"})
        msg = self.assert_error(self.api.post("/api/v1/executions/%d/kill" % eid), 409)
        self.assertTrue(msg)
        self.assertEqual(self.api.execution(eid)["state"], "succeeded")

    def test_unknown_route_and_wrong_method(self):
        self.assert_error(self.api.get("/api/v1/nope"), 404)
        self.assert_error(self.api.get("/api/v2/health"), 404)
        self.assert_error(self.api.get("/api/v1/jobs/canary/nothing"), 404)
        r = self.api.request("PUT", "/api/v1/health", raw=b"{}")
        self.assertEqual(r.status, 405, r)
        r = self.api.request("PATCH", "/api/v1/jobs", raw=b"{}")
        self.assertEqual(r.status, 405, r)

    # ------------------------------------------------------------ RPC

    def rpc_connect(self):
        port = self.api.health()["rpc_port"]
        return socket.create_connection((harness.HOST, port), timeout=5)

    def check_closed(self, payload, what, half_close=False):
        s = self.rpc_connect()
        try:
            s.sendall(payload)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            frames, closed = read_until_closed(s)
        finally:
            s.close()
        self.assertTrue(closed, "%s: the master kept the connection open (frames: %r)" % (what, frames))
        for f in frames:
            self.assertIsInstance(f, dict, "%s: the master sent a non-JSON frame %r" % (what, f))
            self.assertIn(f.get("type"), ("error", "reject"), "%s: unexpected %r" % (what, f))
        return frames

    def test_rpc_truncated_frame(self):
        self.check_closed(struct.pack(">I", 100) + b'{"type":"hel', "truncated frame", half_close=True)
        self.assert_still_serving()

    def test_rpc_garbage_frame(self):
        self.check_closed(frame(b"\x00\x01garbage\xff not json"), "garbage frame")
        self.check_closed(frame(b"[1,2,3]"), "JSON array frame")
        self.check_closed(frame({"no_type": 1}), "frame without type")
        self.check_closed(frame({"type": "no-such-type"}), "unknown type")
        self.check_closed(struct.pack(">I", 0), "empty frame")
        self.check_closed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP on the RPC port")
        self.assert_still_serving()

    def test_rpc_oversize_length(self):
        self.check_closed(struct.pack(">I", 0xFFFFFFFF) + b"{}", "4 GiB length")
        self.check_closed(struct.pack(">I", (16 << 20) + 1) + b"{", "16 MiB + 1 length")
        self.assert_still_serving()

    def test_rpc_frame_before_hello(self):
        self.check_closed(frame({"type": "heartbeat", "slots": 1, "running": 0, "types": ["shell"],
                                 "labels": [], "load": {"load1": 0, "mem_free_mb": 1}}),
                          "heartbeat before hello")
        self.check_closed(frame({"type": "state", "seq": 1, "execution_id": 1, "attempt": 1,
                                 "state": "succeeded", "at_us": 1, "exit_code": 0}),
                          "state before hello")
        self.assert_still_serving()

    def test_rpc_hello_with_wrong_protocol_is_rejected(self):
        frames = self.check_closed(frame({"type": "hello", "protocol": 99, "secret": "",
                                          "worker": {"id": "w-intruder", "host": "x", "slots": 1,
                                                     "labels": [], "types": ["shell"], "pid": 1},
                                          "running": []}), "hello protocol 99")
        self.assertTrue(frames, "expected a reject frame")
        self.assertEqual(frames[0].get("type"), "reject", frames)
        self.assertIn("99", frames[0].get("reason", ""))
        ids = [w["id"] for w in self.api.ok("GET", "/api/v1/workers")["workers"]]
        self.assertNotIn("w-intruder", ids)
        self.assert_still_serving()


class BrokenPlugins(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        pdir = os.path.join(cls.tmp, "plugins")
        os.makedirs(pdir)
        shell_so = os.path.join(harness.build_dir(), "plugins", "shell.so")
        if not os.path.exists(shell_so):
            raise AssertionError("no %s" % shell_so)
        shutil.copy(shell_so, pdir)
        with open(os.path.join(pdir, "broken.so"), "w") as f:
            f.write("this is not an ELF file\n")
        src = os.path.join(cls.tmp, "noentry.c")
        with open(src, "w") as f:
            f.write("int pagoda_not_the_entry(void) { return 42; }\n")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", os.path.join(pdir, "noentry.so"), src],
                       check=True)
        cls.dev = cls.start("dev", ["--plugins", pdir, "--slots", "2"])
        cls.api = cls.dev.api()

    def plugins(self):
        return self.api.ok("GET", "/api/v1/plugins")["plugins"]

    def by_file(self, name):
        for p in self.plugins():
            if os.path.basename(p.get("file") or "") == name:
                return p
        self.fail("no plugin entry for %s in %r" % (name, self.plugins()))

    def test_refused_plugins_are_listed_with_reasons(self):
        for name in ("broken.so", "noentry.so"):
            p = self.by_file(name)
            self.assertEqual(p["status"], "refused", p)
            self.assertIsInstance(p.get("reason"), str, p)
            self.assertTrue(p["reason"], p)
        # The reason says what is wrong with the file.
        reason = self.by_file("noentry.so")["reason"]
        self.assertRegex(reason, r"(?i)symbol|entry|undefined", reason)

    def test_shell_loaded_and_runs(self):
        shell = self.by_file("shell.so")
        self.assertEqual(shell["status"], "loaded", shell)
        self.assertEqual(shell["type"], "shell")
        self.assertEqual(shell["executor"], "process")
        self.assertIs(shell["generator"], True)
        self.api.shell_job("still-works", "echo plugins-ok")
        eid = self.api.run("still-works")
        self.api.wait_for_state(eid, {"succeeded"})
        self.assertIn("plugins-ok", self.api.log(eid))
        workers = self.api.ok("GET", "/api/v1/workers")["workers"]
        self.assertEqual(len(workers), 1)
        self.assertEqual(workers[0]["types"], ["shell"])


if __name__ == "__main__":
    harness.main()
