"""Fixtures of the security suite: attacker keys and a key server that must never be asked."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .forge import AttackerKeys


@pytest.fixture(scope="session")
def attacker_keys():
    return AttackerKeys()


class KeyServer:
    """A local HTTP server offering the attacker's keys; records every request it gets."""

    def __init__(self, jwks):
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                body = json.dumps(jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def key_server(attacker_keys):
    server = KeyServer({"keys": [{**attacker_keys.rsa_public_jwk(), "kid": "attacker", "use": "sig"}]})
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter):
    # The fuzz run's counts belong in the CI output even when it passes.
    from .test_schema import FUZZ_SUMMARIES

    for summary in FUZZ_SUMMARIES:
        terminalreporter.write_sep("=", "schemathesis (tests/security/test_schema.py)")
        terminalreporter.write_line(summary)
