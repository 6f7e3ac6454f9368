"""Resource uploads stream to disk (issue 13: four uploads held one byte
short grew the master by 400 MB): uploads held open cost the master no
memory for their content, more than max_concurrent_uploads at once or more
than max_upload_bytes_in_flight announced bytes are refused with 503 and
Retry-After before the body is read, a client that goes away leaves no
temporary file, and finished uploads store the right content."""

import hashlib
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MIB = 1 << 20
MAX_UPLOADS = 2
IN_FLIGHT = 20 * MIB


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class Upload:
    """A PUT /api/v1/resources/NAME on a raw socket, sent in parts."""

    def __init__(self, api, name, data):
        self.data = data
        self.sock = socket.create_connection((api.host, api.port), timeout=30)
        extra = "".join("%s: %s\r\n" % kv for kv in getattr(api, "auth_headers", lambda: {})().items())
        head = ("PUT /api/v1/resources/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n%s\r\n" % (name, len(data), extra)).encode()
        self.sock.sendall(head)

    def send(self, upto):
        self.sock.sendall(self.data[:upto])
        self.sent = upto

    def finish(self):
        self.sock.sendall(self.data[self.sent:])
        return self.answer()

    def answer(self, timeout=60):
        self.sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        hdrs = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            hdrs[k.strip().lower().decode()] = v.strip().decode()
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            body += chunk
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else None
        return status, hdrs, body

    def close(self):
        self.sock.close()


class DevUploads(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        conf = os.path.join(cls.tmp, "uploads.conf")
        with open(conf, "w") as f:
            f.write("master = { http = { max_concurrent_uploads = %d; max_upload_bytes_in_flight = %dL; }; };\n"
                    % (MAX_UPLOADS, IN_FLIGHT))
        cls.dev = cls.start("dev", ["--config", conf, "--slots", "1"])
        cls.api = cls.dev.api()
        cls.blobs = os.path.join(cls.dev.data, "resources", "blobs")

    def temp_files(self):
        if not os.path.isdir(self.blobs):
            return []
        return [n for n in os.listdir(self.blobs) if n.startswith(".upload-")]

    def assert_refused(self, up, what):
        status, hdrs, body = up.answer()
        self.assertEqual(status, 503, "%s: %r" % (what, body[:200]))
        self.assertTrue(hdrs.get("retry-after"), hdrs)
        self.assertIsInstance(json.loads(body.decode("utf-8")).get("error"), str, body)

    def assert_stored(self, up, name):
        status, hdrs, body = up.finish()
        self.assertIn(status, (200, 201), body[:300])
        r = self.api.get("/api/v1/resources/%s" % name)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(up.data).hexdigest(), name)

    def test_held_uploads_cost_no_memory_and_caps_refuse(self):
        pid = self.dev.proc.pid
        before = rss_kib(pid)
        a = Upload(self.api, "big-a", os.urandom(8 * MIB))
        b = Upload(self.api, "big-b", os.urandom(8 * MIB))
        try:
            a.send(len(a.data) - 1)
            b.send(len(b.data) - 1)
            harness.wait_until(lambda: len(self.temp_files()) == 2 and
                               sum(os.path.getsize(os.path.join(self.blobs, n)) for n in self.temp_files())
                               == 16 * MIB - 2, timeout=60, what="both uploads spooled to disk")
            grown = rss_kib(pid) - before
            self.assertLess(grown, 6 * 1024, "the master grew by %d KiB holding 16 MiB of uploads" % grown)
            c = Upload(self.api, "small-c", b"x" * 1024)
            try:
                self.assert_refused(c, "a third upload over max_concurrent_uploads")
            finally:
                c.close()
            self.assert_stored(a, "big-a")
            self.assert_stored(b, "big-b")
        finally:
            a.close()
            b.close()
        # Over the bytes in flight: 16 MiB running, 8 more would exceed 20.
        d = Upload(self.api, "big-d", os.urandom(16 * MIB))
        try:
            d.send(MIB)
            harness.wait_until(lambda: len(self.temp_files()) == 1, timeout=60, what="d spooled")
            e = Upload(self.api, "big-e", os.urandom(8 * MIB))
            try:
                self.assert_refused(e, "an upload over max_upload_bytes_in_flight")
            finally:
                e.close()
            self.assert_stored(d, "big-d")
        finally:
            d.close()
        harness.wait_until(lambda: not self.temp_files(), timeout=30, what="temporary files removed")

    def test_client_gone_mid_upload_leaves_nothing(self):
        up = Upload(self.api, "gone", os.urandom(4 * MIB))
        up.send(MIB)
        harness.wait_until(lambda: len(self.temp_files()) == 1, timeout=60, what="spooled")
        up.close()
        harness.wait_until(lambda: not self.temp_files(), timeout=60, what="temporary file removed")
        self.assertEqual(self.api.get("/api/v1/resources/gone").status, 404)
        # The caps were released: two uploads go through again.
        for name in ("after-1", "after-2"):
            u = Upload(self.api, name, os.urandom(MIB))
            try:
                u.send(0)
                self.assert_stored(u, name)
            finally:
                u.close()


if __name__ == "__main__":
    harness.main()
