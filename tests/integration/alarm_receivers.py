"""Real receivers for alarm tests and benchmarks (docs/alarms.md): a local
HTTP server that records webhook POSTs and verifies their HMAC signature,
and an SMTP sink (aiosmtpd, Debian's python3-aiosmtpd) that records the
messages it receives. Both listen on 127.0.0.1 on a port below 32768."""

import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def signature(secret, body):
    """What Pagoda sends in X-Pagoda-Signature for `body` (bytes)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookReceiver:
    """Records every POST: dicts with path, headers (lower-case keys), body
    (bytes), json, received (time.time()) and signature_ok (with a secret).
    stop() and start() again on the same port simulate an outage."""

    def __init__(self, secret=None, port=None, status=200):
        self.secret = secret
        self.port = port or harness.free_port()
        self.status = status
        self.posts = []
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d/alarm" % self.port

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "received": time.time()}
                try:
                    rec["json"] = json.loads(body)
                except ValueError:
                    rec["json"] = None
                if receiver.secret is not None:
                    got = rec["headers"].get("x-pagoda-signature", "")
                    rec["signature_ok"] = hmac.compare_digest(got, signature(receiver.secret, body))
                with receiver.lock:
                    receiver.posts.append(rec)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        deadline = time.monotonic() + 20
        while True:  # after stop(), the port may linger briefly
            try:
                http.server.ThreadingHTTPServer.allow_reuse_address = True
                self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def matching(self, pred):
        with self.lock:
            return [p for p in self.posts if p["json"] is not None and pred(p["json"])]


class SmtpSink:
    """An aiosmtpd server recording (envelope_from, rcpt_tos, content bytes).
    With `tls` = (cert, key) it offers STARTTLS and requires it; with
    `login` = (user, password) it requires AUTH (PLAIN or LOGIN) and records
    the authenticated user in `logins`."""

    def __init__(self, port=None, tls=None, login=None):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            # Debian's package, when the python3 on PATH is another build
            # (pyenv, a venv) that does not look in dist-packages.
            sys.path.append("/usr/lib/python3/dist-packages")
            try:
                from aiosmtpd.controller import Controller
            except ImportError:
                harness.require(False, "python3-aiosmtpd (sbin/setup-deps.sh installs it)")
        self.port = port or harness.free_port()
        self.messages = []
        self.logins = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
                return "250 OK"

        kw = {}
        if tls:
            import ssl
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(tls[0], tls[1])
            kw.update(tls_context=ctx, require_starttls=True)
        if login:
            from aiosmtpd.smtp import AuthResult

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == tuple(login)
                if ok:
                    sink.logins.append(auth_data.login.decode())
                return AuthResult(success=ok)
            kw.update(authenticator=authenticator, auth_required=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kw)

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
