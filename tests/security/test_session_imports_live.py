"""The second outside probe's session-import findings, replayed over HTTP against a live gunicorn.

- an entry named `x.session\\0.txt` was imported as `x.session` (zipfile cuts names at NUL);
- 51 overlapping entries in 110 KB (about 4,800:1) were inflated in full;
- an 11 MiB archive got the generic 413, under a documented SESSION_IMPORT_MAX_BYTES;
- a Pyrogram session string with an all-zero auth key was accepted;
- a non-SQLite file was `invalid` uploaded alone and `invalid_session_file` zipped.
"""

import io
import os
import socket
import time
import zipfile
from pathlib import Path

import pytest
import requests

from sessions_admin.tests import session_files
from sessions_admin.tests.test_strings import pyrogram_string
from sessions_admin.tests.zips import bomb_kernel, make_zip, overlapping_zip, with_raw_name
from tests.system.servers import wait_until

from . import live

IMPORT_MAX_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("imports")
    server = live.start(directory, SESSION_IMPORT_MAX_BYTES=str(IMPORT_MAX_BYTES), **live.GENEROUS_LIMITS)
    server.directory = directory
    server.headers = {"Authorization": f"Bearer {live.login(server)['access']}"}
    yield server
    server.stop()


def import_archive(server, content):
    return requests.post(
        f"{server.url}/api/admin/sessions/import",
        headers=server.headers,
        files={"archive": ("sessions.zip", content, "application/zip")},
        timeout=120,
    )


def stored(server):
    return sorted(os.listdir(server.directory / "sessions"))


def no_leftovers(server):
    """Return True once the server's temporary upload folder is empty (it empties after the response is sent)."""
    wait_until(lambda: not os.listdir(server.directory / "upload-tmp"), timeout=10, what="upload-tmp to empty")
    return True


def fixture_bytes(name):
    return session_files.fixture_path(name).read_bytes()


def test_a_name_cut_at_nul_is_refused(server):
    archive = make_zip([("nul.session#.txt", fixture_bytes("telethon-1.45.0.session"))])
    archive = with_raw_name(archive, "nul.session#.txt", b"nul.session\x00.txt")

    response = import_archive(server, archive)

    assert response.status_code == 200
    assert response.json()["refused"][0]["code"] == "unsafe_path"
    assert "nul.session" not in stored(server)
    assert no_leftovers(server)


def test_overlapping_entries_are_refused_before_anything_is_inflated(server):
    archive = overlapping_zip([f"bomb{n:02}.session" for n in range(51)], bomb_kernel(10 * 1024 * 1024))
    declared = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(archive)).infolist())
    assert len(archive) < 150_000 and declared > 500 * 1024 * 1024

    started = time.monotonic()
    response = import_archive(server, archive)
    elapsed = time.monotonic() - started

    assert (response.status_code, response.json()["code"]) == (400, "compression_ratio")
    # Inflating 510 MiB takes seconds; reading a directory does not.
    assert elapsed < 3, elapsed
    assert not any(name.startswith("bomb") for name in stored(server))
    assert no_leftovers(server)


def test_an_archive_past_the_general_limit_is_taken_up_to_session_import_max_bytes(server):
    archive = make_zip(
        [
            ("padding.bin", os.urandom(11 * 1024 * 1024)),
            ("big-archive.session", fixture_bytes("pyrofork-2.3.69.session")),
        ],
        compression=zipfile.ZIP_STORED,
    )

    response = import_archive(server, archive)

    assert response.status_code == 200, response.text[:300]
    assert [item["filename"] for item in response.json()["imported"]] == ["big-archive.session"]
    assert no_leftovers(server)


def test_past_session_import_max_bytes_is_413_before_the_body_is_read(server):
    """Only the headers are sent: the answer comes without the server waiting for the body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            (
                "POST /api/admin/sessions/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {server.headers['Authorization']}\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {IMPORT_MAX_BYTES + 1024 * 1024}\r\n\r\n"
            ).encode()
        )
        answer = b""
        while b"}" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"payload_too_large"' in answer


def test_an_all_zero_pyrogram_string_is_refused(server):
    response = requests.post(
        f"{server.url}/api/admin/sessions/import-string",
        headers=server.headers,
        json={"filename": "zero.session", "library": "pyrogram", "session_string": pyrogram_string(key=bytes(256))},
        timeout=60,
    )

    assert (response.status_code, response.json()["code"]) == (400, "no_auth_key")
    assert "zero.session" not in stored(server)


def test_a_non_sqlite_file_has_one_code_alone_and_zipped(server, tmp_path):
    content = Path(session_files.text_session(tmp_path, "text.session")).read_bytes()

    single = requests.post(
        f"{server.url}/api/admin/sessions/upload",
        headers=server.headers,
        files={"file": ("text.session", content, "application/octet-stream")},
        timeout=60,
    )
    zipped = import_archive(server, make_zip([("text.session", content)]))

    assert (single.status_code, single.json()["code"]) == (400, "not_sqlite")
    assert [item["code"] for item in zipped.json()["refused"]] == ["not_sqlite"]
