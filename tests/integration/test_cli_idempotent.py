"""`pagoda job run` sends a fresh Idempotency-Key with every run and retries
a failed attempt (no answer, 5xx, 409) with the same key, so that a retry
never starts a second run (issue 13, item 7). A tiny HTTP server records
what the CLI sends; a real `pagoda dev` shows the key stored and a retried
request answered with the same execution."""

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

KEY_RE = re.compile(r"^cli-[0-9a-f]{32}$")


class Recorder(http.server.ThreadingHTTPServer):
    """Answers each POST with the next entry of `script`: an HTTP status, or
    "drop" (close the connection without an answer). Records every request."""

    daemon_threads = True

    def __init__(self, script):
        super().__init__((harness.HOST, 0), Handler)
        self.script = list(script)
        self.seen = []
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with self.server.lock:
            self.server.seen.append((self.command, self.path, dict(self.headers), body))
            step = self.server.script.pop(0) if self.server.script else 201
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if step == 201:
            out = {"execution_id": 42, "state": "pending"}
        else:
            out = {"error": "scripted failure"}
        data = json.dumps(out).encode()
        self.send_response(step)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class CliIdempotent(harness.PagodaTestCase):
    def cli(self, addr, *args, timeout=60):
        env = dict(os.environ)
        env["PAGODA_ADDR"] = addr
        env.pop("PAGODA_CONFIG", None)
        p = subprocess.run([harness.pagoda_bin()] + list(args), env=env, capture_output=True,
                           timeout=timeout, cwd=self.tmp)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def serve(self, script):
        srv = Recorder(script)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return srv, "http://%s:%d" % (harness.HOST, srv.server_address[1])

    def keys(self, srv):
        return [h.get("Idempotency-Key") for (_, _, h, _) in srv.seen]

    def test_retries_5xx_and_lost_connections_with_the_same_key(self):
        srv, url = self.serve([503, "drop", 500, 201])
        rc, out, err = self.cli(url, "job", "run", "j1", "--param", "n=1")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "42\n")
        self.assertEqual(len(srv.seen), 4, err)
        keys = self.keys(srv)
        self.assertRegex(keys[0], KEY_RE)
        self.assertEqual(set(keys), {keys[0]}, "a retry changed the key")
        self.assertEqual({p for (_, p, _, _) in srv.seen}, {"/api/v1/jobs/j1/run"})
        self.assertEqual({b for (_, _, _, b) in srv.seen}, {srv.seen[0][3]})
        self.assertEqual(err.count("retrying with the same Idempotency-Key"), 3, err)

        # The next `job run` has a key of its own.
        srv2, url2 = self.serve([201])
        rc, out, err = self.cli(url2, "job", "run", "j1")
        self.assertEqual(rc, 0, err)
        self.assertRegex(self.keys(srv2)[0], KEY_RE)
        self.assertNotEqual(self.keys(srv2)[0], keys[0])

    def test_gives_up_after_five_attempts_and_never_retries_4xx(self):
        srv, url = self.serve([503] * 10)
        rc, out, err = self.cli(url, "job", "run", "j1")
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(srv.seen), 5)
        self.assertIn("HTTP 503", err)
        srv2, url2 = self.serve([422, 201])
        rc, out, err = self.cli(url2, "job", "run", "j1")
        self.assertNotEqual(rc, 0)
        self.assertEqual(len(srv2.seen), 1, "a 4xx answer was retried")

    def test_key_reaches_a_real_master_and_a_retry_gets_the_same_run(self):
        dev = self.start("dev", ["--slots", "2"])
        api = dev.api()
        api.shell_job("cli-idem", "true")
        rc, out, err = self.cli(dev.url, "job", "run", "cli-idem")
        self.assertEqual(rc, 0, err)
        eid = int(out)
        key = api.execution(eid).get("idempotency_key")
        self.assertRegex(key, KEY_RE)
        # What a retry of that request gets: the same execution.
        r = api.post("/api/v1/jobs/cli-idem/run", {"params": {}}, headers={"Idempotency-Key": key})
        self.assertEqual((r.status, r.json["execution_id"]), (200, eid))
        self.assertEqual([x["id"] for x in api.executions(job="cli-idem")], [eid])


if __name__ == "__main__":
    harness.main()
