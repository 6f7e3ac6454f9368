"""Connections and answers a hostile client gets (issue 13, "Connections"):
malformed HTTP is answered with a JSON error (not an HTML page, not a
silent close), CONNECT and upgrade requests are answered and closed,
idle and stalled HTTP connections and RPC connections that never say hello
are closed, one address cannot hold more than its share of connections,
and every answer (errors echoing invalid UTF-8, a lua job result with
invalid UTF-8) is valid UTF-8 JSON."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

IDLE_S = 2
PER_ADDR = 24
HELLO_MS = 1000


def read_answer(sock, timeout=20):
    """Reads one HTTP answer (headers + content-length body) or until the
    peer closes. Returns (status, headers dict, body bytes, closed)."""
    sock.settimeout(timeout)
    data = b""
    closed = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            hdrs = {}
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                hdrs[k.strip().lower().decode()] = v.strip().decode()
            if len(rest) >= int(hdrs.get("content-length", "-1")) >= 0:
                break
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    if not data.startswith(b"HTTP/1."):
        return None, {}, data, closed
    head, _, rest = data.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    return int(head.split(b" ", 2)[1]), hdrs, rest, closed


def closed_by_peer(sock, timeout):
    """True when the peer closes `sock` within `timeout` s (reading and
    dropping whatever it sends before)."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
        if not chunk:
            return True
    return False


class DevConnections(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = os.path.join(cls.tmp, "conn.conf")
        with open(conf, "w") as f:
            f.write("master = { http = { idle_timeout_s = %d; max_connections_per_address = %d; };\n"
                    "  rpc = { hello_timeout_ms = %d; }; };\n" % (IDLE_S, PER_ADDR, HELLO_MS))
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "2"])
        cls.api = cls.dev.api()

    def connect(self):
        return socket.create_connection((self.api.host, self.api.port), timeout=10)

    def raw(self, request):
        s = self.connect()
        try:
            s.sendall(request)
            return read_answer(s)
        finally:
            s.close()

    def assert_json_error(self, status, hdrs, body, want_status, what):
        self.assertEqual(status, want_status, "%s: %r %r" % (what, status, body[:300]))
        self.assertEqual(hdrs.get("content-type"), "application/json", what)
        doc = json.loads(body.decode("utf-8"))  # strict: invalid UTF-8 raises
        self.assertIsInstance(doc.get("error"), str, what)
        self.assertNotIn("<html", body.decode().lower(), what)

    def wait_healthy(self):
        harness.wait_until(lambda: self.api.health()["status"] == "ok", timeout=30,
                           what="health ok")

    def test_malformed_requests_get_json(self):
        for what, req in (("request line", b"GARBAGE\r\n\r\n"),
                          ("method", b"FOO /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                          ("no space", b"GET/api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")):
            status, hdrs, body, _ = self.raw(req)
            self.assert_json_error(status, hdrs, body, 400, what)
        self.wait_healthy()

    def test_connect_and_upgrade_are_answered(self):
        status, hdrs, body, _ = self.raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.assert_json_error(status, hdrs, body, 405, "CONNECT")
        status, hdrs, body, _ = self.raw(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                         b"Connection: Upgrade\r\n\r\n")
        self.assert_json_error(status, hdrs, body, 400, "upgrade")

    def test_invalid_utf8_is_never_echoed(self):
        for path in (b"/api/v1/jobs/\xff\xfe", b"/api/v1/\xc3\x28x", b"/api/v1/%ff%fe"):
            # With the API's credentials (if it needs any), so that the path reaches the router.
            auth = "".join("%s: %s\r\n" % kv for kv in getattr(self.api, "auth_headers", lambda: {})().items())
            status, hdrs, body, _ = self.raw(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                                             auth.encode() + b"\r\n")
            self.assert_json_error(status, hdrs, body, 404, repr(path))
            self.assertIn("\ufffd", json.loads(body.decode("utf-8"))["error"], path)

    def test_lua_result_with_invalid_utf8_keeps_executions_json(self):
        self.api.ok("POST", "/api/v1/jobs", {"name": "bad-utf8", "type": "lua", "params": {
            "script": "log('\\255\\254 bytes')\nreturn {text = 'a\\255b', ['k\\254'] = 1}"}})
        eid = self.api.run("bad-utf8")
        e = self.api.wait_final(eid, timeout=30)
        self.assertEqual(e["state"], "succeeded", e)
        for path in ("/api/v1/executions", "/api/v1/executions/%d" % eid):
            r = self.api.get(path)
            self.assertEqual(r.status, 200, r)
            doc = json.loads(r.body.decode("utf-8"))  # strict UTF-8
            self.assertTrue(doc, path)
        rec = json.loads(self.api.get("/api/v1/executions/%d" % eid).body.decode("utf-8"))
        self.assertIn("a\ufffdb", json.dumps(rec, ensure_ascii=False), rec)

    def test_idle_and_stalled_connections_are_closed(self):
        idle = self.connect()
        stalled = self.connect()
        stalled.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")  # never finished
        try:
            self.assertTrue(closed_by_peer(idle, 60), "an idle connection was kept")
            self.assertTrue(closed_by_peer(stalled, 60), "a stalled request was kept")
        finally:
            idle.close()
            stalled.close()
        self.wait_healthy()

    def test_rpc_connection_without_hello_is_closed(self):
        port = self.api.health()["rpc_port"]
        s = socket.create_connection((self.api.host, port), timeout=10)
        try:
            self.assertTrue(closed_by_peer(s, 60), "an RPC connection without hello was kept")
        finally:
            s.close()
        self.assertTrue(self.dev.alive())


class DevPerAddressLimit(DevConnections):
    """The per-address limit, on a daemon whose idle timeout is long enough
    that held connections stay held however slow the machine is."""
    IDLE_S = 60

    @classmethod
    def setUpClass(cls):
        super(DevConnections, cls).setUpClass()  # the harness's, not DevConnections' daemon
        conf = os.path.join(cls.tmp, "limit.conf")
        with open(conf, "w") as f:
            f.write("master = { http = { idle_timeout_s = %d; max_connections_per_address = %d; }; };\n"
                    % (cls.IDLE_S, PER_ADDR))
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "2"])
        cls.api = cls.dev.api()

    # DevConnections' tests run once, on its own daemon
    test_malformed_requests_get_json = None
    test_connect_and_upgrade_are_answered = None
    test_invalid_utf8_is_never_echoed = None
    test_lua_result_with_invalid_utf8_keeps_executions_json = None
    test_idle_and_stalled_connections_are_closed = None
    test_rpc_connection_without_hello_is_closed = None

    def test_per_address_limit(self):
        held = []
        try:
            # Each held connection has sent a partial request, so lws has
            # given it a header table (the resource one client must not take).
            for _ in range(PER_ADDR):
                s = self.connect()
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
                held.append(s)

            # The daemon counts a connection once it has read its first
            # bytes; until it has read all the held ones a further client may
            # still fit, so ask until the limit answers (or the deadline).
            def over_limit():
                one_more = self.connect()
                try:
                    one_more.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    got = read_answer(one_more)
                finally:
                    one_more.close()
                return got if got[0] == 429 else None
            status, hdrs, body, _ = harness.wait_until(over_limit, 20, 0.05,
                                                       "a connection over the per-address limit refused")
            self.assert_json_error(status, hdrs, body, 429, "over the per-address limit")
            self.assertTrue(hdrs.get("retry-after"), hdrs)
            # None of the held ones was refused.
            for s in held:
                s.settimeout(0.01)
                try:
                    got = s.recv(64, socket.MSG_PEEK)
                except (socket.timeout, ConnectionResetError):
                    got = b""
                self.assertNotIn(b" 429 ", got, "a connection within the limit was refused")
        finally:
            for s in held:
                s.close()
        self.wait_healthy()


if __name__ == "__main__":
    harness.main()
