#!/usr/bin/env python3
"""Cost of HTTPS on the REST port per request: GET /api/v1/health on a
`pagoda dev`, with a new connection per request (handshake included) and on
one keep-alive connection, in plain HTTP and in HTTPS (a test CA made with
openssl, RSA 2048), alternating the two for --rounds rounds.

    python3 bench/https_request_cost.py --build-dir build [--n 300] [--rounds 2]

Prints the mean time per request of each kind; docs/benchmarks.md records
results. The client is Python's http.client/ssl, so the figures include its
own cost (the same in both modes but for TLS)."""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402


def measure(api, n, keepalive):
    t = time.perf_counter()
    for _ in range(n):
        r = api.request("GET", "/api/v1/health", keepalive=keepalive)
        if r.status != 200:
            raise SystemExit("bench: health answered %r" % r)
    return (time.perf_counter() - t) / n * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("PAGODA_BUILD_DIR", os.path.join(SRC, "build")))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    os.environ["PAGODA_BUILD_DIR"] = os.path.abspath(a.build_dir)
    tmp = tempfile.mkdtemp(prefix="pagoda-bench-https-")
    try:
        ca, cert, key = harness.make_test_ca(tmp)
        figures = {False: [], True: []}
        for r in range(a.rounds):
            for tls in (False, True):
                args = ["--log-level", "warn"]
                if tls:
                    args += ["--http-tls-cert", cert, "--http-tls-key", key]
                d = harness.Daemon("dev", tmp, args, name="dev-%d-%s" % (r, "tls" if tls else "plain"))
                d.cafile = ca if tls else None
                d.start(timeout=30)
                try:
                    api = d.api()
                    measure(api, 20, False)  # warm-up
                    new = measure(api, a.n, False)
                    ka = measure(api, a.n, True)
                    api.close()
                finally:
                    d.stop()
                figures[tls].append((new, ka))
                print("round %d %-5s new connection per request %7.2f ms   keep-alive %6.2f ms" %
                      (r + 1, "HTTPS" if tls else "HTTP", new, ka))
        for tls in (False, True):
            v = figures[tls]
            print("%-5s mean: new connection %.2f ms, keep-alive %.2f ms" %
                  ("HTTPS" if tls else "HTTP", sum(x for x, _ in v) / len(v), sum(y for _, y in v) / len(v)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
