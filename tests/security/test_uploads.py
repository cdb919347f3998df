"""Hostile request bodies at the HTTP level, against every write route an admin can reach.

Each answer is a 4xx (never a 500, never a hang), and nothing is left behind:
no file in SESSIONS_DIR or MEDIA_ROOT, no new row, no temporary file in
FILE_UPLOAD_TEMP_DIR. The in-process cases use Django's test client; the
socket cases speak raw HTTP to a live gunicorn, as an attacker would.
"""

import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.apps import apps
from rest_framework.test import APIClient

from . import forge, live
from .routes import guarded_cases

# Logout's (and logout-all's) body is optional and unknown fields are ignored: a junk body is a
# logout (204), not an attack.
BODY_OPTIONAL = {"/api/auth/logout", "/api/auth/logout-all"}
WRITE_CASES = [
    (route, method)
    for route, method in guarded_cases()
    if method in ("post", "put", "patch") and route.path not in BODY_OPTIONAL
]
WRITE_IDS = [f"{method.upper()} {route.id}" for route, method in WRITE_CASES]
DATA_APPS = ("cms", "sessions_admin")


def multipart(parts, boundary):
    """Return a multipart/form-data body from (field name, file name or None, bytes) parts."""
    chunks = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogateescape")
        )
        chunks.append(content + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks)


def row_counts():
    return {
        model._meta.label: model.objects.count() for app in DATA_APPS for model in apps.get_app_config(app).get_models()
    }


def files_under(*folders):
    return sorted(str(path) for folder in folders if folder.exists() for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def admin_client(admin_user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forge.backend_token(forge.backend_claims(admin_user))}")
    return client


@pytest.fixture
def nothing_left_behind(db, settings, upload_tmp):
    before = row_counts()
    yield
    assert files_under(settings.SESSIONS_DIR, settings.MEDIA_ROOT, upload_tmp) == []
    assert row_counts() == before


HOSTILE = {
    # Past DATA_UPLOAD_MAX_NUMBER_FILES, and over FILE_UPLOAD_MAX_MEMORY_SIZE so they stream to temporary files.
    "1000-files": lambda: [("file", f"a{i}.session", b"x" * 3000) for i in range(1000)],
    "nul-in-field-name": lambda: [("fi\x00le", "a.session", b"SQLite format 3\x00" + b"x" * 3_000_000)],
    "nul-in-file-name": lambda: [("file", "a\x00.session", b"SQLite format 3\x00" + b"x" * 100)],
    "1000-fields": lambda: [(f"f{i}", None, b"v") for i in range(1000)],
    "empty-field-name": lambda: [("", "a.session", b"x" * 100)],
}


@pytest.mark.parametrize("attack", list(HOSTILE))
@pytest.mark.parametrize(("route", "method"), WRITE_CASES, ids=WRITE_IDS)
def test_hostile_multipart_is_refused_and_leaves_nothing(admin_client, nothing_left_behind, route, method, attack):
    boundary = uuid.uuid4().hex
    body = multipart(HOSTILE[attack](), boundary)
    response = getattr(admin_client, method)(route.path, body, content_type=f"multipart/form-data; boundary={boundary}")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["code"]


@pytest.mark.parametrize(("route", "method"), WRITE_CASES, ids=WRITE_IDS)
@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=b", "application/json"])
def test_a_1_gb_declared_length_is_refused_unread(admin_client, nothing_left_behind, route, method, content_type):
    response = admin_client.generic(
        method.upper(),
        route.path,
        b"--b--\r\n" if "multipart" in content_type else b"{}",
        content_type=content_type,
        CONTENT_LENGTH=str(1 << 30),
    )
    assert response.status_code == 413, response.content[:300]
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(("route", "method"), WRITE_CASES, ids=WRITE_IDS)
def test_a_json_body_past_the_memory_limit_is_refused(admin_client, nothing_left_behind, settings, route, method):
    body = b'{"label": "' + b"x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}'
    response = getattr(admin_client, method)(route.path, body, content_type="application/json")
    assert response.status_code == 413, response.content[:300]


# --- raw sockets against a live gunicorn ----------------------------------------------------

# Low, so a stalled body is cut short within seconds (the default is 30 s).
STALL_TIMEOUT = 3


@pytest.fixture(scope="module")
def socket_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    server = live.start(directory, GUNICORN_TIMEOUT=str(STALL_TIMEOUT), GUNICORN_THREADS="16", **live.GENEROUS_LIMITS)
    try:
        yield server, live.login(server)["access"], directory
    finally:
        server.stop()


def raw_request(server, token, method, path, headers, body_parts, pause=0.0, read_timeout=STALL_TIMEOUT + 10):
    """Send a request in parts (sleeping `pause` between them), then wait; return (status or None, seconds)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout)
    started = time.monotonic()
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
            time.sleep(pause)
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            answer = b""
    finally:
        sock.close()
    elapsed = time.monotonic() - started
    if not answer:
        return None, elapsed  # closed without an answer: acceptable, it did not hang
    return int(answer.split(b" ", 2)[1]), elapsed


def live_post_paths():
    return sorted({route.path for route, method in WRITE_CASES if method == "post"})


def assert_clean(server, token, directory):
    assert requests.get(f"{server.url}/api/health", timeout=5).status_code == 200
    assert files_under(directory / "sessions", directory / "media", directory / "upload-tmp") == []
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/admin/sessions", "/api/cms/gallery-images", "/api/admin/api-pairs"):
        listing = requests.get(f"{server.url}{path}", headers=headers, timeout=5)
        if listing.status_code != 404:  # an app not landed yet has no route
            assert listing.json()["count"] == 0, (path, listing.text)


def test_a_stalled_body_is_cut_short_not_held_for_ever(socket_server):
    """Headers promise 5000 bytes; 100 trickle in (a byte group a second), then nothing."""
    server, token, directory = socket_server
    boundary = "b" * 16
    start = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.session"\r\n\r\n').encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": "5000"}
    parts = [start] + [b"x" * 25] * 4

    def attempt(path):
        return path, raw_request(server, token, "POST", path, headers, parts, pause=1.0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, live_post_paths()))
    for path, (status, elapsed) in results:
        # Trickling (1 s apart) keeps the read alive; the stall after it is cut at STALL_TIMEOUT.
        assert status is None or 400 <= status < 500, (path, status)
        assert elapsed < 4 + STALL_TIMEOUT + 5, (path, elapsed)
    assert "Traceback" not in server.output(), server.output()[-3000:]
    assert_clean(server, token, directory)


def test_a_1_gb_declared_length_is_answered_at_once(socket_server):
    server, token, directory = socket_server
    for path in live_post_paths():
        for content_type in ("multipart/form-data; boundary=b", "application/json"):
            status, elapsed = raw_request(
                server, token, "POST", path, {"Content-Type": content_type, "Content-Length": str(1 << 30)}, [b"{}"]
            )
            assert status == 413, (path, content_type, status)
            assert elapsed < 2, (path, elapsed)
    assert_clean(server, token, directory)
