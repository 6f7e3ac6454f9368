"""`pagoda dev`'s own worker talks to its master over a local stream (a
Unix-domain socketpair inside the process, docs/architecture.md), not over
loopback TCP: the worker shows `addr` "local", jobs run and their logs
arrive, the daemon holds no TCP connection to or from its RPC port, and the
RPC port still listens for other workers."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"
UNIX_STREAM = "0001"
UNIX_CONNECTED = "03"


def socket_inodes(pid):
    """The inodes of every socket the process holds open."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def tcp_sockets(pid, inodes):
    """(local port, remote port, state) of the process's TCP sockets."""
    out = []
    for name in ("tcp", "tcp6"):
        path = "/proc/%d/net/%s" % (pid, name)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[9] not in inodes:
                    continue
                local_port = int(fields[1].rsplit(":", 1)[1], 16)
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                out.append((local_port, remote_port, fields[3]))
    return out


def connected_unix_streams(pid, inodes):
    """Inodes of the process's connected, unnamed Unix-domain stream sockets."""
    out = []
    with open("/proc/%d/net/unix" % pid) as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]
            if (fields[6] in inodes and fields[4] == UNIX_STREAM and fields[5] == UNIX_CONNECTED
                    and len(fields) == 7):
                out.append(fields[6])
    return out


class DevLocalTransport(harness.PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "2"])
        cls.api = cls.dev.api()

    def own_worker(self):
        def alive():
            ws = self.api.ok("GET", "/api/v1/workers")["workers"]
            return ws if len(ws) == 1 and ws[0]["state"] == "alive" else None
        return harness.wait_until(alive, timeout=30, what="the dev worker alive")[0]

    def test_own_worker_runs_jobs_over_a_local_stream(self):
        w = self.own_worker()
        self.assertEqual(w["addr"], "local", w)
        self.api.shell_job("local-echo", script="echo over the local stream; echo $PAGODA_RUN_INDEX")
        ids = [self.api.run("local-echo") for _ in range(5)]
        for eid in ids:
            e = self.api.wait_final(eid, timeout=60)
            self.assertEqual(e["state"], "succeeded", e)
            self.assertEqual(e["worker_id"], w["id"], e)
            self.assertIn("over the local stream\n", self.api.log(eid))

        pid = self.dev.proc.pid
        inodes = socket_inodes(pid)
        tcp = tcp_sockets(pid, inodes)
        rpc = self.dev.rpc_port
        # The RPC port still listens (other workers may connect to `pagoda
        # dev`), but no connection of the daemon goes to or from it.
        self.assertIn((rpc, 0, TCP_LISTEN), tcp, tcp)
        over_rpc = [s for s in tcp if s[2] == TCP_ESTABLISHED and rpc in (s[0], s[1])]
        self.assertEqual(over_rpc, [], "TCP connections on the RPC port: %r" % over_rpc)
        # Both ends of the worker's stream are in the process.
        self.assertGreaterEqual(len(connected_unix_streams(pid, inodes)), 2)

        # The worker is still the same one, connected once (no reconnects).
        w2 = self.own_worker()
        self.assertEqual(w2["id"], w["id"])
        self.assertEqual(w2["connected_at"], w["connected_at"])


if __name__ == "__main__":
    harness.main()
