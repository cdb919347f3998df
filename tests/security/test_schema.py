"""The OpenAPI schema documents every status each operation can answer, and a fuzzer agrees.

The first tests read the generated schema (GET /api/schema) against the URL
resolver: every route is in it, every guarded operation documents 401 and 403,
every rate-limited one 429 with Retry-After, and so on. The last one runs
Schemathesis with every check against a live gunicorn server.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import bcrypt
import pytest
from django.urls import resolve

from ..openapi import operations, schema  # noqa: F401  (schema: the fixture)
from . import live
from .routes import PARAMETER_SAMPLES, api_routes, guarded_cases, is_public

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
# Fixed, so a failure reproduces; the budget fits CI (about half a minute on 2 cores).
FUZZ_SEED = 20251122
FUZZ_MAX_EXAMPLES = 40
FUZZ_TIMEOUT = 300
UNDOCUMENTED = {"/api/schema", "/api/docs"}  # they serve the schema itself
FUZZ_SUMMARIES = []


def concrete(path):
    return re.sub(r"\{(\w+)\}", lambda match: PARAMETER_SAMPLES.get(match.group(1), "1"), path)


def handler_of(callback, method):
    """Return the view method that answers `method` on a route (the action, for a ViewSet)."""
    actions = getattr(callback, "actions", None) or {}
    return getattr(callback.cls, actions.get(method, method), None)


def test_paths_have_no_trailing_slash(schema):
    assert all(not path.endswith("/") for path in schema["paths"])


def test_every_route_and_method_is_documented(schema):
    documented = {(resolve(concrete(path)).route, method) for path, method, _ in operations(schema)}
    expected = {
        (resolve(route.path).route, method)
        for route in api_routes()
        if route.path.rstrip("/") not in UNDOCUMENTED
        for method in route.methods
        if method not in ("head", "options")
    }
    assert expected - documented == set()


def test_guarded_operations_document_401_and_403(schema):
    for path, method, operation in operations(schema):
        public = all(not requirement for requirement in operation.get("security", [{}]))
        assert public == is_public(path), (method, path)
        if not public:
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_the_guarded_set_matches_the_route_matrix(schema):
    guarded = {(route.path, method) for route, method in guarded_cases() if method not in ("head", "options")}
    in_schema = {(concrete(path), method) for path, method, operation in operations(schema) if not is_public(path)}
    assert guarded == in_schema


def test_rate_limited_operations_document_429_with_retry_after(schema):
    limited = {
        (route.path, method)
        for route in api_routes()
        for method in route.methods
        if getattr(handler_of(route.callback, method), "rate_limit_budget", None) is not None
    }
    assert {("/api/auth/token", "post"), ("/api/cms/login", "post")} <= limited
    for path, method, operation in operations(schema):
        if (concrete(path), method) in limited:
            response = operation["responses"].get("429")
            assert response is not None, (method, path)
            assert response["headers"]["Retry-After"]["required"] is True


def test_lookups_bodies_and_outages_are_documented(schema):
    for path, method, operation in operations(schema):
        statuses = set(operation["responses"])
        assert "503" in statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= statuses, (method, path)
        if any(p["in"] == "query" and p["name"] == "page" for p in operation.get("parameters", [])):
            assert {"400", "404"} <= statuses, (method, path)


def test_every_error_response_has_a_body_schema(schema):
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail", "code"]
    for path, method, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert "application/json" in response.get("content", {}), (method, path, status)
                assert response["description"] and response["description"] != "No response body"


# --- Schemathesis against a live server ---------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz")
    cms_hash = bcrypt.hashpw(b"a cms password the fuzzer will not guess", bcrypt.gensalt(4)).decode()
    # Generous limits: the fuzzer sends thousands of requests in a minute (SECURITY.md says so).
    server = live.start(directory, ADMIN_PASSWORD_HASH=cms_hash, **live.GENEROUS_LIMITS)
    try:
        yield server, live.login(server)["access"], directory
    finally:
        server.stop()


def _summary(output):
    """Return the SUMMARY section of Schemathesis' output."""
    start = output.rfind("SUMMARY")
    return output[output.rfind("\n", 0, start) + 1 :].strip() if start != -1 else output[-3000:]


def test_schemathesis_finds_nothing(fuzz_server, tmp_path):
    server, token, directory = fuzz_server
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/api/schema?format=json",
        "--seed",
        str(FUZZ_SEED),
        "--max-examples",
        str(FUZZ_MAX_EXAMPLES),
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
        # Logout (one or all sessions) revokes the very token the fuzzer sends; test_auth_api and
        # test_login_sessions_api cover them.
        "--exclude-path",
        "/api/auth/logout",
        "--exclude-path",
        "/api/auth/logout-all",
        # Its stateful phase feeds the username from /api/auth/me and the session ids from
        # /api/auth/sessions to these, ending its own login.
        "--exclude-path",
        "/api/admin/users/{username}/logout-all",
        "--exclude-path",
        "/api/auth/sessions/{session_id}",
        # Every text field refuses NUL (DRF); the schema's `type: string` cannot say so.
        "--generation-allow-x00",
        "false",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--no-color",
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=FUZZ_TIMEOUT)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    summary = _summary(output)
    FUZZ_SUMMARIES.append(f"seed {FUZZ_SEED}, max {FUZZ_MAX_EXAMPLES} examples/operation, {elapsed:.0f} s\n{summary}")
    print(summary)
    assert token not in output  # Schemathesis filters the Authorization header in what it prints
    assert result.returncode == 0, output[-20000:]
    assert re.search(r"Test cases:\s*\n\s*\d+ generated", output), summary
    assert "Traceback" not in server.output() and '" 500 ' not in server.output(), server.output()[-5000:]
