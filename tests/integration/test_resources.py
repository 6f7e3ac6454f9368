#!/usr/bin/env python3
"""Resources end to end (docs/resources.md): upload, versions, download,
jobs that list resources, the worker's cache (hits, damaged entries), hash
mismatches, bad input; and a master with two workers, each downloading once.
"""

import hashlib
import http.client
import os
import subprocess
import json
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HOST, PagodaTestCase, wait_until  # noqa: E402


def sha(b):
    return hashlib.sha256(b).hexdigest()


def put(api, name, data):
    return api.request("PUT", "/api/v1/resources/%s" % name, raw=data,
                       headers={"Content-Type": "application/octet-stream"})


def cache_stats(api, worker_id=None):
    ws = api.ok("GET", "/api/v1/workers", expect=(200,))["workers"]
    for w in ws:
        if worker_id is None or w["id"] == worker_id:
            return w.get("resource_cache")
    return None


class ResourcesDev(PagodaTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dev = cls.start("dev", ["--slots", "4"])
        cls.api = cls.dev.api()
        cls.worker_data = os.path.join(cls.dev.data, "worker")

    def wait_stats(self, pred, what):
        return wait_until(lambda: (lambda s: s if s and pred(s) else None)(cache_stats(self.api)),
                          timeout=10, what=what)

    def test_upload_versions_download_delete(self):
        v1, v2 = b"first version\n", b"second \x00 version\n"
        r = put(self.api, "conf.yaml", v1)
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual(r.json["hash"], sha(v1))
        self.assertEqual(r.json["version"], sha(v1))
        self.assertEqual(r.json["size"], len(v1))
        r = put(self.api, "conf.yaml", v1)  # same content: no new version
        self.assertEqual(r.status, 200, r.text)
        r = put(self.api, "conf.yaml", v2)
        self.assertEqual(r.status, 201, r.text)
        # the blob is stored by hash
        blob = os.path.join(self.dev.data, "resources", "blobs", sha(v2))
        with open(blob, "rb") as f:
            self.assertEqual(f.read(), v2)

        lst = self.api.ok("GET", "/api/v1/resources", expect=(200,))["resources"]
        mine = [x for x in lst if x["name"] == "conf.yaml"]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["latest"], sha(v2))
        self.assertEqual(mine[0]["versions_count"], 2)
        vers = self.api.ok("GET", "/api/v1/resources/conf.yaml/versions", expect=(200,))
        self.assertEqual([v["hash"] for v in vers["versions"]], [sha(v2), sha(v1)])

        r = self.api.get("/api/v1/resources/conf.yaml")
        self.assertEqual((r.status, r.body), (200, v2))
        r = self.api.get("/api/v1/resources/conf.yaml?version=%s" % sha(v1))
        self.assertEqual((r.status, r.body), (200, v1))
        r = self.api.get("/api/v1/resources/conf.yaml?version=%s" % ("0" * 64))
        self.assertEqual(r.status, 404)
        self.assertIn("no version", r.json["error"])

        # deleting one version, then the name; the unused blobs go
        r = self.api.delete("/api/v1/resources/conf.yaml?version=%s" % sha(v2))
        self.assertEqual(r.status, 200, r.text)
        r = self.api.get("/api/v1/resources/conf.yaml")
        self.assertEqual(r.body, v1)
        self.assertFalse(os.path.exists(blob))
        self.assertEqual(self.api.delete("/api/v1/resources/conf.yaml").status, 200)
        self.assertEqual(self.api.get("/api/v1/resources/conf.yaml").status, 404)
        self.assertEqual(self.api.delete("/api/v1/resources/conf.yaml").status, 404)

    def test_bad_input(self):
        r = put(self.api, "bad%20name", b"x")
        self.assertEqual(r.status, 400)
        self.assertIn("invalid resource name", r.json["error"])
        self.assertEqual(self.api.request("POST", "/api/v1/resources/x", raw=b"x").status, 405)
        # unknown resource at job create: 400 naming it
        r = self.api.post("/api/v1/jobs", {"name": "needs-missing", "type": "shell",
                                           "params": {"script": "true"}, "resources": ["nope.jar"]})
        self.assertEqual(r.status, 400)
        self.assertIn("'nope.jar'", r.json["error"])
        r = self.api.post("/api/v1/jobs", {"name": "bad-spec", "type": "shell",
                                           "params": {"script": "true"}, "resources": ["a@zz"]})
        self.assertEqual(r.status, 400)
        self.assertIn("name@hash", r.json["error"])
        self.assertEqual(put(self.api, "pin.txt", b"pin").status, 201)
        r = self.api.post("/api/v1/jobs", {"name": "bad-pin", "type": "shell",
                                           "params": {"script": "true"},
                                           "resources": ["pin.txt@" + "1" * 64]})
        self.assertEqual(r.status, 400)
        self.assertIn("no version", r.json["error"])

    def test_upload_over_limit_is_413(self):
        # announce 300 MiB (over the 256 MiB default): refused before the body
        s = socket.create_connection((HOST, self.dev.http_port), timeout=10)
        s.sendall(b"PUT /api/v1/resources/huge.bin HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % (300 << 20) + b"x" * 4096)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertEqual(self.api.get("/api/v1/resources/huge.bin").status, 404)
        # other routes keep the small limit: a 2 MiB job body is refused
        r = self.api.request("POST", "/api/v1/jobs", raw=b" " * (2 << 20))
        self.assertEqual(r.status, 413)
        # a resource above 1 MiB is accepted
        big = os.urandom(3 << 20)
        r = put(self.api, "big.bin", big)
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual(self.api.get("/api/v1/resources/big.bin").body, big)

    def test_job_fetches_caches_and_detects_damage(self):
        data = b"payload for the job\n"
        self.assertEqual(put(self.api, "input.txt", data).status, 201)
        self.api.shell_job("uses-res", script='cat input.txt; echo "wd=$PAGODA_WORKDIR"; pwd',
                           resources=["input.txt"])
        before = cache_stats(self.api) or {"downloads": 0, "hits": 0, "corrupt": 0}
        e1 = self.api.run("uses-res")
        ex = self.api.wait_final(e1)
        self.assertEqual(ex["state"], "succeeded", ex)
        log = self.api.log(e1)
        self.assertIn("payload for the job", log)
        wd = os.path.join(self.worker_data, "work", "%d-1" % e1)
        self.assertIn("wd=" + wd, log)
        self.assertIn("\n" + wd + "\n", log)  # pwd: the working directory
        # the working directory is removed after the attempt
        wait_until(lambda: not os.path.exists(wd), what="work dir removed")
        cached = os.path.join(self.worker_data, "cache", sha(data))
        self.assertTrue(os.path.exists(cached))
        self.wait_stats(lambda s: s["downloads"] >= before["downloads"] + 1, "a download counted")

        # second run: served from the cache, no download
        s1 = cache_stats(self.api)
        e2 = self.api.run("uses-res")
        self.assertEqual(self.api.wait_final(e2)["state"], "succeeded")
        s2 = self.wait_stats(lambda s: s["hits"] >= s1["hits"] + 1, "a cache hit")
        self.assertEqual(s2["downloads"], s1["downloads"])

        # a damaged cache entry is detected and fetched again
        os.chmod(cached, 0o644)
        with open(cached, "wb") as f:
            f.write(b"garbage!" * 3)
        e3 = self.api.run("uses-res")
        self.assertEqual(self.api.wait_final(e3)["state"], "succeeded")
        self.assertIn("payload for the job", self.api.log(e3))
        s3 = self.wait_stats(lambda s: s["corrupt"] >= s2["corrupt"] + 1, "damage counted")
        self.assertEqual(s3["downloads"], s2["downloads"] + 1)
        with open(cached, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_latest_and_pinned_versions(self):
        a, b = b"version A\n", b"version B\n"
        self.assertEqual(put(self.api, "ver.txt", a).status, 201)
        self.api.shell_job("ver-latest", script="cat ver.txt", resources=["ver.txt"])
        self.api.shell_job("ver-pinned", script="cat ver.txt", resources=["ver.txt@" + sha(a)])
        e = self.api.run("ver-latest")
        self.assertEqual(self.api.wait_final(e)["state"], "succeeded")
        self.assertEqual(self.api.log(e).strip(), "version A")
        # a new upload takes effect for the next run of an unpinned job
        self.assertEqual(put(self.api, "ver.txt", b).status, 201)
        e = self.api.run("ver-latest")
        self.assertEqual(self.api.wait_final(e)["state"], "succeeded")
        self.assertEqual(self.api.log(e).strip(), "version B")
        e = self.api.run("ver-pinned")
        self.assertEqual(self.api.wait_final(e)["state"], "succeeded")
        self.assertEqual(self.api.log(e).strip(), "version A")

    def test_params_cwd_wins(self):
        self.assertEqual(put(self.api, "cwd.txt", b"c").status, 201)
        self.api.shell_job("cwd-job", script='pwd; cat "$PAGODA_WORKDIR/cwd.txt"',
                           resources=["cwd.txt"])
        r = self.api.post("/api/v1/jobs/cwd-job/run", {"params": {"cwd": "/"}})
        e = r.json["execution_id"]
        self.assertEqual(self.api.wait_final(e)["state"], "succeeded")
        self.assertEqual(self.api.log(e).split(), ["/", "c"])

    def test_hash_mismatch_fails_before_running(self):
        good = b"the real jar contents"
        self.assertEqual(put(self.api, "tampered.jar", good).status, 201)
        marker = os.path.join(self.tmp, "ran-tampered")
        self.api.shell_job("tampered", script="touch %s" % marker, resources=["tampered.jar"])
        # the master's stored copy changes behind its back (same size)
        blob = os.path.join(self.dev.data, "resources", "blobs", sha(good))
        with open(blob, "wb") as f:
            f.write(b"X" * len(good))
        e = self.api.run("tampered")
        ex = self.api.wait_final(e)
        self.assertEqual(ex["state"], "failed", ex)
        self.assertIn("resource 'tampered.jar' (sha256 %s" % sha(good)[:12], ex["error"])
        self.assertIn("does not match", ex["error"])
        self.assertFalse(os.path.exists(marker), "the job ran although its resource was bad")
        self.assertIsNone(ex.get("started_at") and ex.get("exit_code"))

    def test_deleted_resource_at_run(self):
        self.assertEqual(put(self.api, "gone.txt", b"soon gone").status, 201)
        self.api.shell_job("needs-gone", script="cat gone.txt", resources=["gone.txt"])
        self.assertEqual(self.api.delete("/api/v1/resources/gone.txt").status, 200)
        r = self.api.post("/api/v1/jobs/needs-gone/run")
        self.assertEqual(r.status, 400)
        self.assertIn("'gone.txt'", r.json["error"])

    def cli(self, *args, stdin=None):
        return subprocess.run([harness.pagoda_bin(), "--addr", self.dev.url] + list(args),
                              capture_output=True, timeout=30, input=stdin)

    def test_cli_put_list_get_versions_delete(self):
        src = os.path.join(self.tmp, "cli-data.txt")
        with open(src, "wb") as f:
            f.write(b"resource through the CLI\n")
        r = self.cli("resource", "put", "cli.txt", src)
        self.assertEqual(r.returncode, 0, r.stderr)
        digest = hashlib.sha256(b"resource through the CLI\n").hexdigest()
        self.assertIn(digest, r.stdout.decode())
        r = self.cli("resource", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cli.txt", r.stdout.decode())
        out = os.path.join(self.tmp, "cli-back.txt")
        r = self.cli("resource", "get", "cli.txt", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"resource through the CLI\n")
        r = self.cli("resource", "get", "cli.txt", "--version", digest)
        self.assertEqual(r.stdout, b"resource through the CLI\n")
        r = self.cli("resource", "versions", "cli.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["versions"][0]["hash"], digest)
        r = self.cli("resource", "delete", "cli.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("resource", "get", "cli.txt")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"HTTP 404", r.stderr)

    def test_no_resources_no_workdir(self):
        self.api.shell_job("plain", script='echo "[$PAGODA_WORKDIR]"')
        e = self.api.run("plain")
        self.assertEqual(self.api.wait_final(e)["state"], "succeeded")
        self.assertEqual(self.api.log(e).strip(), "[]")


class ResourcesCluster(PagodaTestCase):
    """A master and two workers: a broadcast job with a resource makes each
    worker download it once; a second run is served from both caches."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.master = cls.start("master")
        cls.api = cls.master.api()
        cls.wids = ["res-w1", "res-w2"]
        for wid in cls.wids:
            cls.start("worker", ["--master", "%s:%d" % (HOST, cls.master.rpc_port), "--id", wid,
                                 "--slots", "2"], name=wid)
        wait_until(lambda: len([w for w in cls.api.ok("GET", "/api/v1/workers", expect=(200,))["workers"]
                                if w["state"] == "alive"]) == 2, what="two workers")

    def test_each_worker_downloads_once(self):
        data = os.urandom(200 * 1024)
        self.assertEqual(put(self.api, "shared.bin", data).status, 201)
        self.api.shell_job("everywhere", script="sha256sum shared.bin", resources=["shared.bin"],
                           mode="broadcast")
        for round_ in (1, 2):
            e = self.api.run("everywhere")
            ex = self.api.wait_final(e, timeout=20)
            self.assertEqual(ex["state"], "succeeded", ex)
            self.assertEqual(self.api.log(e).count(sha(data)), 2)
            for wid in self.wids:
                wait_until(lambda: (cache_stats(self.api, wid) or {}).get("hits", -1) == round_ - 1 and
                           cache_stats(self.api, wid)["downloads"] == 1,
                           what="worker %s: 1 download, %d hits" % (wid, round_ - 1))


if __name__ == "__main__":
    harness.main()
