"""The session file API, through HTTP: real Telethon and Pyrogram files in, metadata out, never the key."""

import base64
import hashlib
import logging
import os
import stat
from urllib.parse import quote

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin import services
from sessions_admin.models import SessionFile

from . import session_files
from .conftest import (
    SESSIONS_URL,
    UPLOAD_URL,
    dir_state,
    multipart_body,
    sessions_dir,
    table_state,
    upload,
    with_sidecars,
)
from .factories import ApiPairFactory, SessionFileFactory, stored_session_file
from .fixtures.make_fixtures import FIXTURES

# Requests commit as in production, so on_commit file removal runs.
pytestmark = pytest.mark.django_db(transaction=True)

KEY = os.urandom(256)


def _assert_no_key(text):
    text = text if isinstance(text, str) else text.decode("utf-8", "replace")
    assert KEY.hex() not in text.lower()
    assert base64.b64encode(KEY).decode()[:40] not in text


# --- Upload and read back ---------------------------------------------------


@pytest.mark.parametrize("url", [UPLOAD_URL, UPLOAD_URL + "/", SESSIONS_URL, SESSIONS_URL + "/"])
def test_upload_a_telethon_session(admin_api_client, source_dir, url):
    path = session_files.telethon_session(source_dir, "main.session", dc_id=4, auth_key=KEY)

    response = upload(admin_api_client, path, url=url)

    assert response.status_code == 201, response.json()
    body = response.json()
    expected_sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert {
        key: body[key]
        for key in ("filename", "library", "layout", "dc_id", "user_id", "is_bot", "size", "sha256", "uploaded_by")
    } == {
        "filename": "main.session",
        "library": "telethon",
        "layout": "telethon-8",
        "dc_id": 4,
        "user_id": None,
        "is_bot": None,
        "size": path.stat().st_size,
        "sha256": expected_sha,
        "uploaded_by": "alice",
    }
    assert body["uploaded_at"]
    assert "auth_key" not in body
    _assert_no_key(response.content)
    stored = sessions_dir() / "main.session"
    assert stored.read_bytes() == path.read_bytes()
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == expected_sha
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert set(dir_state()) == with_sidecars("main.session")


def test_upload_a_pyrogram_session_and_read_it_back(admin_api_client, source_dir):
    path = session_files.pyrogram_session(source_dir, "bot_7.session", dc_id=1, user_id=7_000_000_001, is_bot=True)

    assert upload(admin_api_client, path).status_code == 201
    response = admin_api_client.get(f"{SESSIONS_URL}/bot_7.session")

    assert response.status_code == 200
    body = response.json()
    assert (body["library"], body["layout"], body["dc_id"], body["user_id"], body["is_bot"]) == (
        "pyrogram",
        "pyrogram-3",
        1,
        7_000_000_001,
        True,
    )
    assert body["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert admin_api_client.get(f"{SESSIONS_URL}/bot_7.session/").status_code == 200


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda fixture: fixture.name)
def test_upload_every_library_made_layout(admin_api_client, fixture):
    path = session_files.fixture_path(fixture.name)

    response = upload(admin_api_client, path)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in ("filename", "library", "layout", "dc_id", "user_id", "is_bot", "api_id")} == {
        "filename": fixture.name,
        "library": fixture.library,
        "layout": fixture.layout,
        "dc_id": fixture.dc_id,
        "user_id": fixture.user_id,
        "is_bot": fixture.is_bot,
        "api_id": fixture.api_id,
    }
    assert (sessions_dir() / fixture.name).read_bytes() == path.read_bytes()


def test_a_file_from_a_newer_release_is_refused_naming_the_versions(admin_api_client, source_dir, unchanged):
    path = session_files.fixture_session(source_dir, fixture="telethon-1.45.0.session")
    session_files.execute_sql(path, "UPDATE version SET version = 9")

    response = upload(admin_api_client, path)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "newer_version"
    message = body["errors"]["file"][0]
    assert "a Telethon release newer than this server knows (version 9)" in message
    assert "6 (older Telethon 1.x, checked on 1.10.0); 7 (" in message and "8 (Telethon 1.43.0 to 1.45.0)" in message
    assert unchanged()


@pytest.mark.parametrize(
    "maker, layout",
    [
        (session_files.telethon_v6_session, "telethon-6"),
        (session_files.pyrogram_v2_session, "pyrogram-2"),
        (session_files.kurigram_session, "kurigram-7"),
        (session_files.pyrofork_session, "pyrofork-4"),
    ],
)
def test_upload_other_accepted_layouts(admin_api_client, source_dir, maker, layout):
    response = upload(admin_api_client, maker(source_dir, "acct.session"))

    assert response.status_code == 201
    assert response.json()["layout"] == layout


def test_a_100_character_name_is_accepted(admin_api_client, source_dir):
    name = "n" * 92 + ".session"

    response = upload(admin_api_client, session_files.telethon_session(source_dir), name=name)

    assert response.status_code == 201
    assert (sessions_dir() / name).exists()
    assert admin_api_client.get(f"{SESSIONS_URL}/{name}").status_code == 200


def test_the_same_auth_key_under_another_name_is_409_naming_the_holder(admin_api_client, source_dir):
    first = session_files.telethon_session(source_dir, "one.session", auth_key=KEY)
    second = session_files.kurigram_session(source_dir, "two.session", auth_key=KEY)
    assert upload(admin_api_client, first).status_code == 201
    before = dir_state(), table_state()

    refused = upload(admin_api_client, second)

    assert refused.status_code == 409
    assert refused.json()["code"] == "duplicate_key"
    assert refused.json()["detail"].startswith("one.session already holds this auth key")
    assert "allow_duplicate_key=true" in refused.json()["detail"]
    assert (dir_state(), table_state()) == before
    event = AuditEvent.objects.filter(action="session_file.upload").latest("id")
    assert (event.outcome, event.target, event.detail["reason"]) == (Outcome.FAILURE, "two.session", "duplicate_key")
    # The digest is stored, never the key; the API shows neither.
    assert SessionFile.objects.get().auth_key_sha256 == hashlib.sha256(KEY).hexdigest()
    assert "auth_key_sha256" not in admin_api_client.get(f"{SESSIONS_URL}/one.session").json()


def test_a_duplicate_key_allowed_on_purpose_is_stored_and_audited(admin_api_client, source_dir):
    path = session_files.telethon_session(source_dir, auth_key=KEY)
    assert upload(admin_api_client, path, name="one.session").status_code == 201

    allowed = upload(admin_api_client, path, name="two.session", url=f"{UPLOAD_URL}?allow_duplicate_key=true")

    assert allowed.status_code == 201
    assert set(dir_state()) == with_sidecars("one.session", "two.session")
    event = AuditEvent.objects.filter(action="session_file.upload", target="two.session").get()
    assert (event.outcome, event.detail["duplicate_key_of"]) == (Outcome.SUCCESS, "one.session")


def test_overwriting_a_file_with_its_own_key_is_no_duplicate(admin_api_client, source_dir):
    path = session_files.telethon_session(source_dir, auth_key=KEY)
    assert upload(admin_api_client, path, name="one.session").status_code == 201

    assert upload(admin_api_client, path, name="one.session", overwrite="true").status_code == 201


@pytest.mark.parametrize("taken, name", [("Acct.session", "acct.session"), ("acct.session", "ACCT.session")])
def test_a_name_equal_apart_from_letter_case_is_409_even_with_overwrite(admin_api_client, source_dir, taken, name):
    assert (
        upload(admin_api_client, session_files.telethon_session(source_dir, "a.session"), name=taken).status_code == 201
    )
    before = dir_state(), table_state()

    for overwrite in (None, "true"):
        refused = upload(
            admin_api_client,
            session_files.telethon_session(source_dir, f"b{overwrite}.session"),
            name=name,
            overwrite=overwrite,
        )
        assert refused.status_code == 409
        assert f"differs from the stored {taken} only in letter case" in refused.json()["detail"]
    assert (dir_state(), table_state()) == before


@pytest.mark.parametrize(
    "name", ["-rf.session", "--help.session", "con.session", "NUL.session", "com1.session", "lpt9.x.session"]
)
def test_dash_and_windows_device_names_are_refused(admin_api_client, source_dir, unchanged, name):
    response = upload(admin_api_client, session_files.telethon_session(source_dir), name=name)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["file"]
    assert unchanged()


# --- Refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    "maker, code, message",
    [
        (session_files.text_session, "not_sqlite", "not an SQLite database"),
        (session_files.empty_session, "not_sqlite", "empty"),
        (session_files.truncated_session, "corrupt_database", "truncated"),
        (session_files.extra_table_session, "unknown_layout", "unexpected table 'loot'"),
        (session_files.added_trigger_session, "unknown_layout", "unexpected trigger 'steal_key'"),
        (session_files.sessions_view_session, "unknown_layout", "must be a table, not a view"),
        (session_files.corrupt_pages_session, "corrupt_database", ""),
        (session_files.two_rows_session, "invalid_session_data", "exactly one row"),
    ],
)
def test_refused_files_change_nothing(admin_api_client, source_dir, unchanged, maker, code, message):
    response = upload(admin_api_client, maker(source_dir, "acct.session"))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert list(body["errors"]) == ["file"]
    assert message in body["errors"]["file"][0]
    assert body["detail"] == body["errors"]["file"][0]
    assert unchanged()


LONG_NAME = "n" * 93 + ".session"


@pytest.mark.parametrize(
    "name",
    [
        "../x.session",
        "a/b.session",
        "a\\b.session",
        "/etc/x.session",
        "C:\\x.session",
        ".hidden.session",
        "x..session",
        "name with space.session",
        "x.sqlite",
        "x.session.txt",
        "ctrl\x01.session",
        "tab\t.session",
        LONG_NAME,
        "\u00e9t\u00e9.session",
        "\u0430.session",  # Cyrillic a
        "..",
        "dir/",
        ".session",
    ],
)
def test_bad_names_are_refused_not_rewritten(admin_api_client, source_dir, unchanged, name):
    response = upload(admin_api_client, session_files.telethon_session(source_dir), name=name)

    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == ["file"]
    assert "name" in response.json()["detail"]
    assert unchanged()


def test_a_name_sent_in_rfc_2231_form_is_judged_decoded(admin_api_client, source_dir, unchanged):
    content = session_files.telethon_session(source_dir).read_bytes()
    disposition = b"form-data; name=\"file\"; filename*=UTF-8''" + quote("../\u00e9.session").encode()
    body, content_type = multipart_body(None, content, raw_disposition=disposition)

    response = admin_api_client.generic("POST", UPLOAD_URL, body, content_type=content_type)

    assert response.status_code == 400
    assert unchanged()


def test_a_raw_non_utf8_name_is_refused(admin_api_client, source_dir, unchanged):
    response = upload(admin_api_client, session_files.telethon_session(source_dir), name=b"\xff\xfe.session")

    assert response.status_code == 400
    assert unchanged()


def test_a_file_over_the_limit_is_refused_with_413(admin_api_client, source_dir, unchanged, settings):
    path = session_files.large_session(source_dir, rows=2000)
    settings.SESSION_MAX_BYTES = path.stat().st_size - 1

    response = upload(admin_api_client, path)

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert unchanged()


def test_a_body_declared_too_large_is_refused_before_it_is_read(admin_api_client, unchanged, settings):
    settings.SESSION_MAX_BYTES = 1024
    body, content_type = multipart_body("acct.session", b"\0" * (200 * 1024))

    response = admin_api_client.generic("POST", UPLOAD_URL, body, content_type=content_type)

    assert response.status_code == 413
    assert unchanged()


def test_no_file_two_files_and_json_are_refused(admin_api_client, source_dir, unchanged):
    content = session_files.telethon_session(source_dir).read_bytes()

    assert admin_api_client.post(UPLOAD_URL, {}, format="multipart").status_code == 400
    body, content_type = multipart_body("a.session", content, extra_parts=[("b.session", content)])
    two = admin_api_client.generic("POST", UPLOAD_URL, body, content_type=content_type)
    assert two.status_code == 400 and "exactly one file" in two.json()["detail"]
    assert admin_api_client.post(UPLOAD_URL, {"file": "x"}, format="json").status_code == 415
    assert unchanged()


# --- Duplicates and overwrite ------------------------------------------------------


def test_a_taken_name_is_409_unless_overwrite_true(admin_api_client, source_dir):
    first = session_files.telethon_session(source_dir, "acct.session", dc_id=2)
    second = session_files.pyrogram_session(source_dir, "second.session", dc_id=5, user_id=31)
    assert upload(admin_api_client, first).status_code == 201
    before = admin_api_client.get(f"{SESSIONS_URL}/acct.session").json()
    files, rows = dir_state(), table_state()

    conflict = upload(admin_api_client, second, name="acct.session")
    explicit_no = upload(admin_api_client, second, name="acct.session", overwrite="false")
    bogus = upload(admin_api_client, second, name="acct.session", overwrite="maybe")

    assert (conflict.status_code, explicit_no.status_code, bogus.status_code) == (409, 409, 400)
    assert conflict.json()["code"] == "conflict"
    assert (dir_state(), table_state()) == (files, rows)

    replaced = upload(admin_api_client, second, name="acct.session", overwrite="true")

    assert replaced.status_code == 201
    after = replaced.json()
    assert (after["library"], after["dc_id"], after["user_id"]) == ("pyrogram", 5, 31)
    assert after["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest() != before["sha256"]
    assert after["uploaded_at"] >= before["uploaded_at"]
    assert (sessions_dir() / "acct.session").read_bytes() == second.read_bytes()
    assert set(dir_state()) == with_sidecars("acct.session")
    assert SessionFile.objects.count() == 1


def test_a_failure_mid_upload_leaves_no_file_and_no_row(admin_api_client, source_dir, unchanged, monkeypatch):
    real = services.record

    def record(**kwargs):
        if kwargs.get("outcome", Outcome.SUCCESS) == Outcome.SUCCESS:
            raise RuntimeError("audit is down")
        return real(**kwargs)

    monkeypatch.setattr(services, "record", record)
    admin_api_client.raise_request_exception = False

    response = upload(admin_api_client, session_files.telethon_session(source_dir))

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
    assert unchanged()


# --- List, filter, paginate -----------------------------------------------------------


def test_list_is_newest_first_filterable_and_paginated(admin_api_client, source_dir):
    upload(admin_api_client, session_files.telethon_session(source_dir, "t2.session", dc_id=2))
    upload(admin_api_client, session_files.pyrogram_session(source_dir, "p4.session", dc_id=4))
    upload(admin_api_client, session_files.pyrogram_session(source_dir, "p2.session", dc_id=2))

    listing = admin_api_client.get(SESSIONS_URL).json()
    assert listing["count"] == 3
    assert [item["filename"] for item in listing["results"]] == ["p2.session", "p4.session", "t2.session"]

    def names(query):
        response = admin_api_client.get(f"{SESSIONS_URL}?{query}")
        assert response.status_code == 200
        return [item["filename"] for item in response.json()["results"]]

    assert names("library=pyrogram") == ["p2.session", "p4.session"]
    assert names("dc_id=2") == ["p2.session", "t2.session"]
    assert names("library=telethon&dc_id=4") == []
    assert names("page_size=2") == ["p2.session", "p4.session"]
    assert names("page_size=2&page=2") == ["t2.session"]
    assert admin_api_client.get(f"{SESSIONS_URL}?library=sqlite").status_code == 400
    assert admin_api_client.get(f"{SESSIONS_URL}?page=9").status_code == 404


@pytest.mark.parametrize("url", [SESSIONS_URL, "/api/admin/api-pairs"])
def test_list_query_count_does_not_grow_with_rows(admin_api_client, url):
    factory = SessionFileFactory if "sessions" in url else ApiPairFactory
    factory.create_batch(3)
    admin_api_client.get(url)  # warm-up: the first request may fill caches
    factory.create_batch(1)  # a change: the next page is built afresh
    with CaptureQueriesContext(connection) as few:
        assert admin_api_client.get(url).status_code == 200
    factory.create_batch(26)
    with CaptureQueriesContext(connection) as many:
        response = admin_api_client.get(url)

    assert response.json()["count"] == 30
    assert len(many) == len(few) > 0


@pytest.mark.parametrize("url", [SESSIONS_URL, "/api/admin/api-pairs"])
def test_admin_lists_are_read_from_the_database_every_time(admin_api_client, url, monkeypatch):
    """No copy of a list page is kept: a row written behind the API's back shows on the next request."""
    factory = SessionFileFactory if "sessions" in url else ApiPairFactory
    factory.create_batch(2)
    assert admin_api_client.get(url).json()["count"] == 2
    touched = []
    backend = caches["default"]
    for name in ("get", "get_many", "set", "set_many", "add", "has_key"):
        monkeypatch.setattr(backend, name, lambda *args, _name=name, **kwargs: touched.append(_name))

    factory.create_batch(1)  # as another process would: no API call, no signal to rely on
    with CaptureQueriesContext(connection) as queries:
        response = admin_api_client.get(url)

    assert response.json()["count"] == 3
    assert touched == []
    # The token check, then the page and its count in one statement.
    assert len(queries) == 2


def test_unknown_and_malformed_names_are_404(admin_api_client):
    assert admin_api_client.get(f"{SESSIONS_URL}/nope.session").status_code == 404
    assert admin_api_client.get(f"{SESSIONS_URL}/..%2Fx.session").status_code == 404
    assert admin_api_client.get(f"{SESSIONS_URL}/x.sqlite").json()["code"] == "not_found"


def test_there_is_no_download_endpoint(admin_api_client, source_dir):
    upload(admin_api_client, session_files.telethon_session(source_dir, auth_key=KEY))

    for path in ("acct.session/download", "acct.session/file", "acct.session/content"):
        response = admin_api_client.get(f"{SESSIONS_URL}/{path}")
        assert response.status_code == 404
        _assert_no_key(response.content)


# --- Delete ------------------------------------------------------------------------


def test_delete_removes_file_companions_and_row_then_404(admin_api_client, source_dir):
    upload(admin_api_client, session_files.telethon_session(source_dir, "gone.session"))
    upload(admin_api_client, session_files.telethon_session(source_dir, "kept.session"))
    for suffix in ("-journal", "-wal", "-shm"):
        (sessions_dir() / f"gone.session{suffix}").write_bytes(b"companion")

    response = admin_api_client.delete(f"{SESSIONS_URL}/gone.session")

    assert response.status_code == 204
    assert set(dir_state()) == with_sidecars("kept.session")
    assert list(SessionFile.objects.values_list("filename", flat=True)) == ["kept.session"]
    assert admin_api_client.get(f"{SESSIONS_URL}/gone.session").status_code == 404
    assert admin_api_client.delete(f"{SESSIONS_URL}/gone.session/").status_code == 404


# --- Auth, rate limits, audit ---------------------------------------------------------


ENDPOINTS = [
    ("get", SESSIONS_URL),
    ("get", f"{SESSIONS_URL}/acct.session"),
    ("post", SESSIONS_URL),
    ("post", UPLOAD_URL),
    ("delete", f"{SESSIONS_URL}/acct.session"),
]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_no_token_is_401_and_user_role_is_403(api_client, user_api_client, source_dir, method, url):
    stored_session_file(source_dir, "acct.session")
    files, rows = dir_state(), table_state()
    content = (sessions_dir() / "acct.session").read_bytes()

    def call(client):
        if method == "post":
            body, content_type = multipart_body("new.session", content)
            return client.generic("POST", url, body, content_type=content_type)
        return getattr(client, method)(url)

    anonymous = call(api_client)
    user = call(user_api_client)
    api_client.credentials(HTTP_AUTHORIZATION="Basic YWxpY2U6cGFzcw==")
    wrong_scheme = call(api_client)

    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert wrong_scheme.status_code == 401
    assert user.status_code == 403
    assert (dir_state(), table_state()) == (files, rows)


def test_uploads_past_the_budget_are_429(admin_api_client, source_dir, settings):
    settings.RATELIMIT_UPLOAD = "2/h"
    path = session_files.telethon_session(source_dir)

    first = upload(admin_api_client, path, name="a.session", url=SESSIONS_URL)
    second = upload(admin_api_client, session_files.telethon_session(source_dir, "b.session"), url=UPLOAD_URL)
    third = upload(admin_api_client, session_files.telethon_session(source_dir, "c.session"))

    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 429)
    assert int(third["Retry-After"]) > 0
    assert first["RateLimit-Policy"] == '"upload";q=2;w=3600'
    assert not (sessions_dir() / "c.session").exists()


def test_deletes_share_the_delete_budget_with_api_pairs(admin_api_client, source_dir, settings):
    settings.RATELIMIT_DELETE = "2/h"
    stored_session_file(source_dir, "a.session")
    stored_session_file(source_dir, "b.session")
    api_pair = ApiPairFactory()

    assert admin_api_client.delete(f"{SESSIONS_URL}/a.session").status_code == 204
    assert admin_api_client.delete(f"/api/admin/api-pairs/{api_pair.pk}").status_code == 204
    refused = admin_api_client.delete(f"{SESSIONS_URL}/b.session")

    assert refused.status_code == 429 and "Retry-After" in refused
    assert (sessions_dir() / "b.session").exists()


def test_uploads_refusals_and_deletes_are_audited(admin_api_client, source_dir):
    upload(admin_api_client, session_files.telethon_session(source_dir, "a.session"))
    upload(admin_api_client, session_files.text_session(source_dir, "b.session"))
    admin_api_client.delete(f"{SESSIONS_URL}/a.session")

    events = list(AuditEvent.objects.order_by("id").values_list("action", "target", "outcome", "actor"))
    assert events == [
        ("session_file.upload", "a.session", Outcome.SUCCESS, "alice"),
        ("session_file.upload", "b.session", Outcome.FAILURE, "alice"),
        ("session_file.delete", "a.session", Outcome.SUCCESS, "alice"),
    ]


def test_no_response_log_or_audit_row_contains_the_auth_key(admin_api_client, source_dir, caplog):
    caplog.set_level(logging.DEBUG)
    responses = [
        upload(admin_api_client, session_files.telethon_session(source_dir, "t.session", auth_key=KEY)),
        upload(
            admin_api_client,
            session_files.pyrogram_session(source_dir, "p.session", auth_key=KEY),
            url=f"{UPLOAD_URL}?allow_duplicate_key=true",
        ),
        upload(admin_api_client, session_files.added_trigger_session(source_dir, "x.session", auth_key=KEY)),
        upload(admin_api_client, session_files.short_key_session(source_dir, "s.session", key_bytes=255)),
        admin_api_client.get(SESSIONS_URL),
        admin_api_client.get(f"{SESSIONS_URL}/t.session"),
        admin_api_client.delete(f"{SESSIONS_URL}/p.session"),
    ]

    assert [response.status_code for response in responses] == [201, 201, 400, 400, 200, 200, 204]
    for response in responses:
        _assert_no_key(response.content)
    for log_record in caplog.records:
        _assert_no_key(log_record.getMessage())
    for event in AuditEvent.objects.all():
        _assert_no_key(f"{event.target} {event.detail}")


def test_schema_documents_every_status_and_the_multipart_body(api_client):
    schema = api_client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = {path.rstrip("/"): operations for path, operations in schema["paths"].items()}

    def codes(path, method):
        return set(paths[path][method]["responses"])

    for path in ("/api/admin/sessions", "/api/admin/sessions/upload"):
        assert codes(path, "post") >= {"201", "400", "401", "403", "409", "413", "429"}
        assert "multipart/form-data" in paths[path]["post"]["requestBody"]["content"]
    assert codes("/api/admin/sessions", "get") >= {"200", "400", "401", "403", "404"}
    assert codes("/api/admin/sessions/{filename}", "get") >= {"200", "401", "403", "404"}
    assert codes("/api/admin/sessions/{filename}", "delete") >= {"204", "401", "403", "404", "429"}
    assert "download" not in " ".join(paths)
    parameter = paths["/api/admin/sessions/{filename}"]["get"]["parameters"][0]
    assert parameter["name"] == "filename" and parameter["schema"]["pattern"].endswith(r"\.session$")
    for path, method in (("/api/admin/api-pairs", "post"), ("/api/admin/api-pairs/add", "post")):
        assert codes(path, method) >= {"201", "400", "401", "403", "409"}
    assert codes("/api/admin/api-pairs/{id}", "patch") >= {"200", "400", "401", "403", "404"}
    assert codes("/api/admin/api-pairs/{id}", "delete") >= {"204", "401", "403", "404", "429"}
