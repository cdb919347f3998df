"""Fixtures and HTTP helpers for the session file and API pair tests."""

import hashlib
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from sessions_admin.models import ApiPair, SessionFile

SESSIONS_URL = "/api/admin/sessions"
UPLOAD_URL = "/api/admin/sessions/upload"
API_PAIRS_URL = "/api/admin/api-pairs"


def sessions_dir() -> Path:
    return Path(settings.SESSIONS_DIR)


def dir_state() -> dict:
    """Return {name: sha256} of every entry in SESSIONS_DIR, hidden and temporary ones included."""
    root = sessions_dir()
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        for path in root.rglob("*")
    }


def with_sidecars(*names) -> set:
    """Return the session file `names` and the `<name>.json` each gets beside it."""
    return {*names, *(name.removesuffix(".session") + ".json" for name in names)}


def table_state() -> list:
    return list(SessionFile.objects.order_by("id").values())


def multipart_body(filename, content: bytes, *, field="file", raw_disposition=None, extra_parts=()):
    """Return (body, content_type) for a multipart upload whose file name is sent exactly as given.

    Django's test client keeps only a file's base name, so names like
    "../x.session" are written into the Content-Disposition header here.
    `filename` may be str (encoded as UTF-8) or bytes (sent as they are).
    """
    boundary = uuid.uuid4().hex
    if raw_disposition is None:
        name_bytes = filename if isinstance(filename, bytes) else filename.encode("utf-8")
        raw_disposition = b'form-data; name="' + field.encode() + b'"; filename="' + name_bytes + b'"'
    parts = [
        b"--"
        + boundary.encode()
        + b"\r\n"
        + b"Content-Disposition: "
        + raw_disposition
        + b"\r\n"
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + content
        + b"\r\n"
    ]
    for extra_name, extra_content in extra_parts:
        parts.append(
            b"--"
            + boundary.encode()
            + b"\r\n"
            + b'Content-Disposition: form-data; name="file"; filename="'
            + extra_name.encode()
            + b'"\r\n'
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + extra_content
            + b"\r\n"
        )
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def upload(client, path=None, *, name=None, content=None, url=UPLOAD_URL, overwrite=None, **options):
    """POST a session file (from `path`, or `content`) under `name` (default: the path's name)."""
    if content is None:
        content = Path(path).read_bytes()
    if name is None:
        name = Path(path).name
    body, content_type = multipart_body(name, content, **options)
    if overwrite is not None:
        url = f"{url}?overwrite={overwrite}"
    return client.generic("POST", url, body, content_type=content_type)


@pytest.fixture
def source_dir(tmp_path):
    """A folder outside SESSIONS_DIR where the factories write files to upload."""
    path = tmp_path / "source"
    path.mkdir()
    return path


@pytest.fixture
def unchanged(db):
    """Return a function asserting that SESSIONS_DIR and the session file table are as they were."""
    files, rows = dir_state(), table_state()

    def check():
        assert dir_state() == files
        assert table_state() == rows
        return True

    return check


@pytest.fixture
def api_pair_state(db):
    """Return a function asserting that the API pair table is as it was."""
    rows = list(ApiPair.objects.order_by("id").values())

    def check():
        assert list(ApiPair.objects.order_by("id").values()) == rows
        return True

    return check
