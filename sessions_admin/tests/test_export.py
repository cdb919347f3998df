"""POST /api/admin/sessions/export: zips read back by Telethon and Kurigram offline, step-up, audit, budget, switch."""

import asyncio
import io
import json
import time
import zipfile
from pathlib import Path

import pytest

from adbot_admin.models import AuditEvent
from conftest import bearer_client
from sessions_admin import services
from sessions_admin.models import SessionFile
from sessions_admin.sidecar import parse_sidecar

from .conftest import SESSIONS_URL, sessions_dir
from .fixtures.make_fixtures import fake_auth_key, fixture_path
from .test_imports import make_zip, post_archive

EXPORT_URL = f"{SESSIONS_URL}/export"
TELETHON = "telethon-1.45.0.session"
KURIGRAM = "kurigram-2.2.26.session"
TELETHON_USER_ID = 5_000_000_777
TELETHON_API_ID = 123_456

pytestmark = pytest.mark.usefixtures("upload_tmp")


@pytest.fixture
def fresh_client(admin_user):
    """An admin client whose token proved itself just now (step-up satisfied)."""
    return bearer_client(admin_user, auth_time=time.time())


@pytest.fixture
def stored(db):
    """The Telethon and Kurigram fixtures stored; the Telethon row given the user id and api_id it lacks."""
    rows = {}
    for name in (TELETHON, KURIGRAM):
        with open(fixture_path(name), "rb") as content:
            rows[name] = services.session_file_store(upload=content, filename=name, uploaded_by="test")
    services.session_file_set_api_id(session_file=rows[TELETHON], api_id=TELETHON_API_ID)
    SessionFile.objects.filter(filename=TELETHON).update(user_id=TELETHON_USER_ID)
    return rows


def export(client, **body):
    return client.post(EXPORT_URL, body, format="json")


def archive_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def telethon_key(path) -> tuple[bytes, int]:
    from telethon.sessions import SQLiteSession

    session = SQLiteSession(str(path))
    try:
        return session.auth_key.key, session.dc_id
    finally:
        session.close()


def kurigram_values(path) -> dict:
    from pyrogram.storage import SQLiteStorage

    async def read():
        storage = SQLiteStorage(path.stem, path.parent)
        await storage.open()
        try:
            return {n: await getattr(storage, n)() for n in ("auth_key", "dc_id", "user_id", "api_id", "is_bot")}
        finally:
            await storage.close()

    return asyncio.run(read())


def test_as_stored_gives_back_the_stored_bytes_and_sidecar_values(fresh_client, stored):
    archive = archive_of(export(fresh_client, names=[TELETHON, KURIGRAM], format="as_stored"))

    assert sorted(archive.namelist()) == sorted([TELETHON, "telethon-1.45.0.json", KURIGRAM, "kurigram-2.2.26.json"])
    for name in (TELETHON, KURIGRAM):
        assert archive.read(name) == (sessions_dir() / name).read_bytes()
    assert json.loads(archive.read("telethon-1.45.0.json")) == {"app_id": TELETHON_API_ID, "id": TELETHON_USER_ID}
    row = stored[KURIGRAM]
    assert json.loads(archive.read("kurigram-2.2.26.json")) == {"app_id": row.api_id, "id": row.user_id}
    assert all(info.external_attr >> 16 == 0o600 for info in archive.infolist())


def test_pyrogram_export_opens_in_kurigram_offline_with_the_same_key(fresh_client, stored, tmp_path):
    archive = archive_of(export(fresh_client, names=[TELETHON, KURIGRAM], format="pyrogram"))
    archive.extractall(tmp_path)

    converted = kurigram_values(tmp_path / TELETHON)
    assert converted == {
        "auth_key": fake_auth_key(TELETHON),
        "dc_id": 2,
        "user_id": TELETHON_USER_ID,
        "api_id": TELETHON_API_ID,
        "is_bot": False,
    }
    # Already Kurigram: sent as stored.
    assert archive.read(KURIGRAM) == (sessions_dir() / KURIGRAM).read_bytes()
    assert kurigram_values(tmp_path / KURIGRAM)["auth_key"] == fake_auth_key(KURIGRAM)


def test_telethon_export_opens_in_telethon_offline_with_the_same_key(fresh_client, stored, tmp_path):
    archive = archive_of(export(fresh_client, filter={"library": "pyrogram"}, format="telethon"))
    assert sorted(archive.namelist()) == ["kurigram-2.2.26.json", KURIGRAM]
    archive.extractall(tmp_path)

    assert telethon_key(tmp_path / KURIGRAM) == (fake_auth_key(KURIGRAM), stored[KURIGRAM].dc_id)


def test_string_export_gives_each_librarys_own_string(fresh_client, stored):
    from pyrogram.storage import SQLiteStorage
    from telethon.sessions import StringSession

    archive = archive_of(export(fresh_client, names=[TELETHON, KURIGRAM], format="string"))

    assert sorted(archive.namelist()) == sorted(
        ["telethon-1.45.0.txt", "telethon-1.45.0.json", "kurigram-2.2.26.txt", "kurigram-2.2.26.json"]
    )
    telethon_string = archive.read("telethon-1.45.0.txt").decode().strip()
    assert StringSession(telethon_string).auth_key.key == fake_auth_key(TELETHON)

    async def pyrogram_key(session_string):
        storage = SQLiteStorage("x", Path("."), session_string=session_string, in_memory=True)
        await storage.open()
        try:
            return await storage.auth_key(), await storage.user_id()
        finally:
            await storage.close()

    key, user_id = asyncio.run(pyrogram_key(archive.read("kurigram-2.2.26.txt").decode().strip()))
    assert (key, user_id) == (fake_auth_key(KURIGRAM), stored[KURIGRAM].user_id)


def test_an_export_is_audited_with_every_name_and_no_key(fresh_client, stored):
    response = export(fresh_client, names=[KURIGRAM, TELETHON], format="string")
    b"".join(response.streaming_content)

    event = AuditEvent.objects.get(action="session_file.export")
    assert event.detail == {"format": "string", "include_secrets": False, "names": [KURIGRAM, TELETHON]}


def test_a_token_without_a_recent_login_is_refused(admin_user, stored):
    stale = bearer_client(admin_user, auth_time=time.time() - 3600)

    response = export(stale, names=[TELETHON])

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert not AuditEvent.objects.filter(action="session_file.export").exists()


def test_session_export_false_answers_403(fresh_client, stored, settings):
    settings.SESSION_EXPORT = False

    response = export(fresh_client, names=[TELETHON])

    assert response.status_code == 403
    assert response.json()["code"] == "export_disabled"


def test_the_export_budget_answers_429_with_retry_after(fresh_client, stored, settings):
    settings.RATELIMIT_EXPORT = "2/h"
    for _ in range(2):
        assert export(fresh_client, names=[TELETHON]).status_code == 200

    response = export(fresh_client, names=[TELETHON])

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"names": ["nobody.session"]}, "unknown_sessions"),
        ({"filter": {"library": "nobody"}}, "invalid"),
        ({"filter": {"dc_id": "3"}}, "nothing_to_export"),
        ({"filter": {"dc_id": 3}}, "nothing_to_export"),
        ({"filter": {"dc_id": [2]}}, "invalid"),
        ({"filter": {"dc_id": 2.5}}, "invalid"),
        ({"filter": {"no_such_filter": "1"}}, "invalid"),
        ({"names": [TELETHON], "filter": {}}, "invalid"),
        ({}, "invalid"),
        ({"names": [TELETHON], "format": "tdata"}, "invalid"),
    ],
)
def test_bad_requests_are_400_with_one_code(fresh_client, stored, body, code):
    response = export(fresh_client, **body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_a_pyrogram_target_without_user_id_is_refused_by_name_before_streaming(fresh_client, stored):
    SessionFile.objects.filter(filename=TELETHON).update(user_id=None)

    response = export(fresh_client, names=[TELETHON, KURIGRAM], format="pyrogram")

    assert response.status_code == 400
    assert response.json()["code"] == "missing_account_data"
    assert TELETHON in response.json()["detail"] and KURIGRAM not in response.json()["detail"]


def test_more_than_the_import_limit_is_refused(fresh_client, stored, settings):
    settings.SESSION_IMPORT_MAX_FILES = 1

    response = export(fresh_client, filter={}, format="as_stored")

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_sessions"


SIDECARS = fixture_path("x").parent / "sidecars"
PAIRS = {
    "telethon-1.45.0.session": "seller-api-keys.json",
    "telethon-1.41.2.session": "seller-tw0fa-url.json",
    "telethon-1.24.0.session": "seller-password-pysocks.json",
}


@pytest.fixture
def pairs(admin_api_client):
    """The library-made sessions with the sidecar fixtures (each alias style), imported as a seller's zip."""
    entries = []
    for name, sidecar in PAIRS.items():
        entries += [
            (name, fixture_path(name).read_bytes()),
            (name.removesuffix(".session") + ".json", (SIDECARS / sidecar).read_bytes()),
        ]
    response = post_archive(admin_api_client, make_zip(entries))
    assert response.status_code == 200 and response.json()["refused"] == [], response.json()
    assert len(response.json()["imported"]) == len(PAIRS)
    return PAIRS


def test_a_pair_imported_then_exported_gives_back_the_same_bytes_and_sidecar_values(fresh_client, pairs):
    archive = archive_of(export(fresh_client, names=list(pairs), format="as_stored", include_secrets=True))

    for name, sidecar in pairs.items():
        assert archive.read(name) == fixture_path(name).read_bytes()
        exported = parse_sidecar(data=archive.read(name.removesuffix(".session") + ".json"))
        original = parse_sidecar(data=(SIDECARS / sidecar).read_bytes())
        assert (exported.values, exported.extra) == (original.values, original.extra), name


def test_secrets_are_absent_from_an_export_unless_include_secrets(fresh_client, pairs):
    secrets = ["fixture-2fa-one", "fixture-px1", "fixture 2fa: two", "fixture@px2", "975310", "fixture-px3"]

    without = archive_of(export(fresh_client, names=list(pairs), format="pyrogram"))
    content = b"".join(without.read(name) for name in without.namelist())
    for secret in secrets:
        assert secret.encode() not in content, secret
    sidecar = json.loads(without.read("telethon-1.45.0.json"))
    assert "twoFA" not in sidecar and "app_hash" not in sidecar
    assert sidecar["proxy"]["has_credentials"] is True and "password" not in sidecar["proxy"]

    with_secrets = archive_of(export(fresh_client, names=list(pairs), format="pyrogram", include_secrets=True))
    sidecar = json.loads(with_secrets.read("telethon-1.45.0.json"))
    assert sidecar["twoFA"] == "fixture-2fa-one"
    assert sidecar["proxy"]["password"] == "fixture-px1"
    event = AuditEvent.objects.filter(action="session_file.export").latest("id")
    assert event.detail["include_secrets"] is True
    assert "fixture-2fa-one" not in json.dumps(list(AuditEvent.objects.values("detail", "target")))


def test_a_session_without_its_file_is_refused_by_name_before_streaming(fresh_client, stored):
    (sessions_dir() / TELETHON).unlink()

    response = export(fresh_client, names=[TELETHON, KURIGRAM])

    assert response.status_code == 400
    assert response.json()["code"] == "missing_files"
    assert TELETHON in response.json()["detail"] and KURIGRAM not in response.json()["detail"]


def test_a_file_gone_while_streaming_cuts_the_zip_short_never_complete(fresh_client, stored, caplog):
    response = export(fresh_client, names=[KURIGRAM, TELETHON])
    (sessions_dir() / TELETHON).unlink()  # after the export was decided, before its turn in the stream

    content = b"".join(response.streaming_content)

    assert content.startswith(b"PK")
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(content))
    assert f"session export cut short at {TELETHON}" in caplog.text
