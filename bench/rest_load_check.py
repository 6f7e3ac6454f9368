#!/usr/bin/env python3
"""Checks bench_rest_load (bench/rest_load.c) against a fake HTTP server that
answers with well-formed and malformed answers: each good case must exit 0
with the right ids, each bad one exit 1 with a message naming the problem
(never a crash, never a silent success). Python 3 stdlib only.

Usage: python3 bench/rest_load_check.py --build-dir BUILD
(run it under a -DPAGODA_SANITIZE=ON build too: any ASan/UBSan report fails it)
Exit: 0 when every case behaves, 1 otherwise (the failing cases are printed).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

OK = (b"HTTP/1.1 201 \r\ncontent-type: application/json\r\ncontent-length: 39\r\n\r\n"
      b"{\"execution_id\":1,\"state\":\"dispatched\"}")
CHUNKED = (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\n{\"exe\r\n10;x=y\r\ncution_id\":42}  \r\n0\r\nX-T: 1\r\n\r\n")

# name -> (answers, one per request; requests sent; expected exit; expected
# ids (exit 0) or a piece of the message on stderr (exit 1)). "slow" sends
# each answer byte by byte.
CASES = {
    "content-length": ([OK, OK], 2, 0, [1, 1]),
    "chunked": ([CHUNKED, CHUNKED], 2, 0, [42, 42]),
    "byte by byte": (["slow", OK, OK], 2, 0, [1, 1]),
    "bad status line": ([b"HTTX/1.1 201 \r\ncontent-length: 2\r\n\r\n{}"], 2, 1, "malformed status line"),
    "short status": ([b"HTTP/1.1 20\r\ncontent-length: 2\r\n\r\n{}"], 2, 1, "malformed status line"),
    "no framing": ([b"HTTP/1.1 201 \r\n\r\n{}"], 2, 1, "neither Content-Length nor chunked"),
    "negative length": ([b"HTTP/1.1 201 \r\ncontent-length: -5\r\n\r\n{}"], 2, 1, "bad or conflicting"),
    "two lengths": ([b"HTTP/1.1 201 \r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}"], 2, 1,
                    "bad or conflicting"),
    "huge length": ([b"HTTP/1.1 201 \r\ncontent-length: 99999999999999999999\r\n\r\n{}"], 2, 1,
                    "bad or conflicting"),
    "header without colon": ([b"HTTP/1.1 201 \r\nfoo\r\ncontent-length: 2\r\n\r\n{}"], 2, 1,
                             "malformed header line"),
    "no execution_id": ([b"HTTP/1.1 201 \r\ncontent-length: 2\r\n\r\n{}"], 2, 1, "execution_id"),
    "string id": ([b"HTTP/1.1 201 \r\ncontent-length: 20\r\n\r\n{\"execution_id\":\"1\"}"], 2, 1,
                  "execution_id"),
    "fractional id": ([b"HTTP/1.1 201 \r\ncontent-length: 20\r\n\r\n{\"execution_id\":1.5}"], 2, 1,
                      "execution_id"),
    "not JSON": ([b"HTTP/1.1 201 \r\ncontent-length: 5\r\n\r\nhello"], 2, 1, "execution_id"),
    "gzip coding": ([b"HTTP/1.1 201 \r\ntransfer-encoding: gzip\r\n\r\n{}"], 2, 1, "only chunked"),
    "bad chunk size": ([b"HTTP/1.1 201 \r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"], 2, 1,
                       "malformed chunk size"),
    "chunk without CRLF": ([b"HTTP/1.1 201 \r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n"], 2,
                           1, "without its CRLF"),
    "bytes after answer": ([OK + b"garbage"], 2, 1, "unexpected bytes"),
    "closed mid-answer": ([b"HTTP/1.1 201 \r\ncontent-len"], 2, 1, "in the middle of an answer"),
    "closed, no answer": ([], 2, 1, "closed by the daemon after 0 answers"),
    "Connection: close": ([OK.replace(b"content-type", b"Connection: close\r\ncontent-type")], 2, 1,
                          "Connection: close"),
    "HTTP 500": ([b"HTTP/1.1 500 Internal\r\ncontent-length: 10\r\n\r\n{\"e\":\"\x01x\"}"], 2, 1,
                 "HTTP 500 (not 201)"),
    "head over 64 KiB": ([b"HTTP/1.1 201 \r\nx: " + b"a" * 70000], 2, 1, "longer than"),
}


def serve(srv, answers):
    """Answers each request (up to its `{}` body) with the next answer, then
    closes the connection."""
    c, _ = srv.accept()
    slow = answers[:1] == ["slow"]
    buf = b""
    try:
        for a in answers[1:] if slow else answers:
            while b"\r\n\r\n{}" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            buf = buf.split(b"\r\n\r\n{}", 1)[1]
            if slow:
                for i in range(len(a)):
                    c.sendall(a[i:i + 1])
                    time.sleep(0.001)
            else:
                c.sendall(a)
        if not answers:
            c.recv(4096)  # read the request: a close with unread bytes would be a reset
    except OSError:
        pass  # the client gave up on a bad answer: expected
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True)
    a = ap.parse_args()
    exe = os.path.join(os.path.abspath(a.build_dir), "bench", "bench_rest_load")
    if not os.access(exe, os.X_OK):
        sys.stderr.write("rest_load_check: no %s (build the bench targets)\n" % exe)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory(prefix="pagoda-rest-load-") as tmp:
        tok = os.path.join(tmp, "token")
        with open(tok, "w") as f:
            f.write("abc\n")
        for name, (answers, n, want_rc, want) in CASES.items():
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            t = threading.Thread(target=serve, args=(srv, answers))
            t.start()
            p = subprocess.run([exe, "--port", str(srv.getsockname()[1]), "--token-file", tok,
                                "--requests", str(n), "--timeout-s", "10"],
                               capture_output=True, text=True, timeout=60)
            t.join()
            srv.close()
            ok = p.returncode == want_rc and "Sanitizer" not in p.stderr and \
                "runtime error" not in p.stderr
            if ok and want_rc == 0:
                ok = json.loads(p.stdout)["ids"] == want
            elif ok:
                ok = want in p.stderr
            failed += not ok
            print("%-4s %-22s exit %d  %s" % ("ok" if ok else "FAIL", name, p.returncode,
                                              (p.stderr.strip() or p.stdout.strip())[:150]))
    print("%d of %d cases failed" % (failed, len(CASES)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
