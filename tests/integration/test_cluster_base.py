"""Shared base of the cluster tests (test_cluster_*.py), and its own test:
a master and three workers with different labels and slots register, and
the API and the `pagoda worker` CLI show them as they are.

ClusterCase starts one `pagoda master` and three `pagoda worker` processes on
loopback (ids w-a, w-b, w-c by default, overridable per class), gives helpers
to wait for workers, read attempts, gate jobs on files, and RawWorker: a
client speaking the master <-> worker protocol by hand (docs/protocol.md).
"""

import hashlib
import hmac
import json
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class ClusterCase(harness.PagodaTestCase):
    """One master and the workers of WORKERS: {id: [extra flags]}."""

    MASTER_ARGS = ["--kill-grace-ms", "300"]
    WORKERS = {
        "w-a": ["--slots", "1", "--labels", "gpu"],
        "w-b": ["--slots", "2", "--labels", "cpu"],
        "w-c": ["--slots", "1", "--labels", "cpu,big"],
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gates = os.path.join(cls.tmp, "gates")
        os.makedirs(cls.gates, exist_ok=True)
        cls.master = cls.start("master", list(cls.MASTER_ARGS))
        cls.api = cls.master.api()
        cls.workers = {}
        for wid, flags in cls.WORKERS.items():
            cls.workers[wid] = cls.start_worker(wid, flags)
        cls.wait_workers(set(cls.WORKERS))

    @classmethod
    def start_worker(cls, wid, flags=(), **kw):
        args = ["--master", "%s:%d" % (harness.HOST, cls.master.rpc_port), "--id", wid] + list(flags)
        return cls.start("worker", args, name=wid, **kw)

    @classmethod
    def worker_map(cls):
        return {w["id"]: w for w in cls.api.ok("GET", "/api/v1/workers")["workers"]}

    @classmethod
    def wait_workers(cls, ids, state="alive", timeout=15):
        def check():
            ws = cls.worker_map()
            return ws if all(ws.get(i, {}).get("state") == state for i in ids) else None
        return harness.wait_until(check, timeout, 0.05, "workers %s %s" % (sorted(ids), state))

    @classmethod
    def wait_idle(cls, timeout=15):
        """Every connected worker has no attempt running (slots_used 0)."""
        def check():
            ws = cls.worker_map()
            return all(w["slots_used"] == 0 for w in ws.values() if w["state"] != "lost")
        harness.wait_until(check, timeout, 0.05, "workers idle")

    # -- gates: a job blocks until the test creates a file

    def gate(self, name):
        """A shell snippet that waits (up to 60 s) for the file of `name`."""
        path = os.path.join(self.gates, name)
        return "i=0; while [ ! -e %s ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done" % path

    def open_gate(self, name):
        with open(os.path.join(self.gates, name), "w"):
            pass

    # -- executions

    def attempts(self, eid):
        return self.api.execution(eid)["attempts"]

    def wait_attempts(self, eid, pred, timeout=10, what="attempts"):
        def check():
            e = self.api.execution(eid)
            return e if pred(e["attempts"]) else None
        return harness.wait_until(check, timeout, 0.05, "execution %s: %s" % (eid, what))

    def settled(self, eid, timeout=3):
        """The final execution once every attempt row is final too. (The
        API may show a final execution whose last attempt row is not
        written yet for a few ms: reported to the lead.)"""
        return self.wait_attempts(
            eid, lambda a: all(x.get("state") in harness.FINAL_STATES for x in a), timeout,
            "every attempt row final")

    def cli(self, *args, check=True):
        p = subprocess.run([harness.pagoda_bin(), "--addr", self.master.url] + list(args),
                           capture_output=True, text=True, timeout=20)
        if check and p.returncode != 0:
            raise AssertionError("pagoda %s -> %d\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p


# ---------------------------------------------------------------- raw protocol


PROTOCOL = 2  # core/net/protocol.h PGD_PROTOCOL_VERSION


def proof(secret, role, mnonce, wnonce, wid):
    """A side's proof of the cluster secret (core/net/auth.h):
    HMAC-SHA256(secret, role NUL mnonce wnonce id), nonces as raw bytes."""
    msg = role.encode() + b"\0" + bytes.fromhex(mnonce) + bytes.fromhex(wnonce) + wid.encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


class RawWorker:
    """A worker speaking the wire protocol by hand: 4-byte big-endian length,
    then one JSON object with a "type" field."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection((harness.HOST, port), timeout=timeout)
        self.buf = b""

    def send(self, type_, **body):
        body["type"] = type_
        data = json.dumps(body).encode()
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def recv(self, timeout=5):
        """The next message (dict), or None when the peer closed."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    msg = json.loads(self.buf[4:4 + n].decode())
                    self.buf = self.buf[4 + n:]
                    return msg
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def recv_type(self, type_, timeout=5):
        """Skips other messages until one of `type_` arrives; None if closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.recv(max(0.05, deadline - time.monotonic()))
            if m is None or m.get("type") == type_:
                return m
        raise socket.timeout("no %s message within %ss" % (type_, timeout))

    def authenticate(self, wid, slots=1, types=("shell",), labels=(), running=(), secret=""):
        """The handshake of docs/protocol.md up to the worker's proof: hello,
        wait for the challenge, auth. Returns the challenge (None or a
        reject when the master refused the hello); the master's answer to
        the proof is left to read."""
        self.nonce = os.urandom(32).hex()
        self.send("hello", protocol=PROTOCOL, nonce=self.nonce,
                  worker={"id": wid, "host": "raw", "slots": slots, "types": list(types),
                          "labels": list(labels), "pid": os.getpid()},
                  running=list(running))
        ch = self.recv()
        if not ch or ch.get("type") != "challenge":
            return ch
        self.send("auth", proof=proof(secret, "pagoda-worker", ch["nonce"], self.nonce, wid))
        return ch

    def hello(self, wid, slots=1, types=("shell",), labels=(), running=(), secret=""):
        """The whole handshake; returns the master's last answer (welcome or
        reject; None when it closed)."""
        ch = self.authenticate(wid, slots, types, labels, running, secret)
        if not ch or ch.get("type") != "challenge":
            return ch
        return self.recv()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- its own test


class Registration(ClusterCase):
    def test_workers_show_their_labels_and_slots(self):
        ws = self.worker_map()
        self.assertEqual(set(ws), set(self.WORKERS))
        want = {"w-a": (1, ["gpu"]), "w-b": (2, ["cpu"]), "w-c": (1, ["cpu", "big"])}
        for wid, (slots, labels) in want.items():
            self.assertEqual(ws[wid]["slots"], slots, ws[wid])
            self.assertEqual(ws[wid]["labels"], labels, ws[wid])
            self.assertEqual(ws[wid]["state"], "alive", ws[wid])
            self.assertFalse(ws[wid]["draining"], ws[wid])
            self.assertIn("shell", ws[wid]["types"], ws[wid])
        one = self.api.ok("GET", "/api/v1/workers/w-c", expect=(200,))
        self.assertEqual(one["labels"], ["cpu", "big"])
        r = self.api.get("/api/v1/workers/no-such-worker")
        self.assertEqual(r.status, 404, r)
        self.assertIn("no-such-worker", r.json.get("error", r.text))

    def test_cli_worker_list_and_show(self):
        out = self.cli("worker", "list").stdout
        for wid in self.WORKERS:
            self.assertIn(wid, out)
        js = json.loads(self.cli("worker", "list", "--json").stdout)
        self.assertEqual({w["id"] for w in js["workers"]}, set(self.WORKERS))
        show = json.loads(self.cli("worker", "show", "w-b").stdout)
        self.assertEqual(show["slots"], 2)
        p = self.cli("worker", "show", "nobody-here", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nobody-here", p.stderr + p.stdout)


if __name__ == "__main__":
    harness.main()
