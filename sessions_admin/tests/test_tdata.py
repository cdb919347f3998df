"""tdata through the zip import: library-made tdata in as Telethon sessions; hostile or locked tdata refused, never a 5xx."""

import json
import os
import uuid
import zipfile
from pathlib import Path

import pytest
from TGConvertor import API

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin import tdata
from sessions_admin.inspection import inspect_session_file
from sessions_admin.models import ApiPair, SessionFile

from .conftest import SESSIONS_URL, dir_state, sessions_dir, table_state
from .fixtures.make_tdata_fixtures import PASSCODE, USER_ID
from .test_imports import fixture_bytes, make_zip

IMPORT_URL = f"{SESSIONS_URL}/import"
FIXTURES = Path(__file__).parent / "fixtures"
PLAIN = FIXTURES / "tdata-telethon-1.45.0"
LOCKED = FIXTURES / "tdata-passcode"
SEVEN = FIXTURES / "tdata-7-accounts"

pytestmark = pytest.mark.usefixtures("upload_tmp")


def tdata_entries(folder: Path, prefix: str = "tdata/"):
    return [
        (prefix + path.relative_to(folder).as_posix(), path.read_bytes())
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    ]


def post_import(client, archive: bytes, *, passcode=None):
    boundary = uuid.uuid4().hex.encode()
    parts = [
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="archive"; filename="accounts.zip"\r\n'
        b"Content-Type: application/zip\r\n\r\n" + archive + b"\r\n"
    ]
    if passcode is not None:
        parts.append(
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="tdata_passcode"\r\n\r\n'
            + passcode.encode()
            + b"\r\n"
        )
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    return client.generic("POST", IMPORT_URL, body, content_type=f"multipart/form-data; boundary={boundary.decode()}")


def test_a_tdata_folder_imports_as_a_telethon_session_of_the_same_key(admin_api_client, upload_tmp):
    archive = make_zip(tdata_entries(PLAIN, "seller/tdata/") + [("seller/tdata/user_data/cache/0", b"x" * 100)])

    response = post_import(admin_api_client, archive)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["refused"] == [] and body["skipped"] == []
    [imported] = body["imported"]
    assert imported["filename"] == f"{USER_ID}.session"
    assert imported["library"] == "telethon" and imported["dc_id"] == 2
    stored = sessions_dir() / f"{USER_ID}.session"
    assert stat_mode(stored) == 0o600
    source_key = inspect_session_file(FIXTURES / "telethon-1.45.0.session").auth_key_sha256
    assert inspect_session_file(stored).auth_key_sha256 == source_key
    assert SessionFile.objects.get(filename=f"{USER_ID}.session").auth_key_sha256 == source_key
    event = AuditEvent.objects.get(action="session_file.upload", target=f"{USER_ID}.session")
    assert event.detail["source"] == "tdata"
    # The sidecar records the app that made the authorization: Telegram Desktop, as TGConvertor defines it.
    desktop = API.TelegramDesktop
    assert json.loads((sessions_dir() / f"{USER_ID}.json").read_bytes()) == {
        "app_id": desktop.api_id,
        "app_version": desktop.app_version,
        "device": desktop.device_model,
        "sdk": desktop.system_version,
        "lang_code": desktop.lang_code,
        "system_lang_code": desktop.system_lang_code,
        "id": USER_ID,
    }
    assert ApiPair.objects.get(api_id=desktop.api_id).api_hash == desktop.api_hash
    assert os.listdir(upload_tmp) == []


def test_a_bare_tdata_zip_and_session_files_beside_it_import_together(admin_api_client):
    archive = make_zip(
        tdata_entries(PLAIN, "") + [("telethon-1.45.0.session", fixture_bytes("telethon-1.45.0.session"))]
    )

    response = post_import(admin_api_client, archive + b"")

    body = response.json()
    assert response.status_code == 200, body
    # The same key twice: the tdata's account is refused as a duplicate of the file, by name.
    assert [item["filename"] for item in body["imported"]] == ["telethon-1.45.0.session"]
    assert [(r["name"], r["code"]) for r in body["refused"]] == [(f"tdata: {USER_ID}.session", "duplicate_key")]


def test_a_passcode_protected_tdata_opens_with_tdata_passcode(admin_api_client):
    archive = make_zip(tdata_entries(LOCKED))

    response = post_import(admin_api_client, archive, passcode=PASSCODE)

    assert response.status_code == 200, response.json()
    assert [item["filename"] for item in response.json()["imported"]] == [f"{USER_ID}.session"]


@pytest.mark.parametrize("passcode", [None, "wrong-passcode"])
def test_a_locked_tdata_without_its_passcode_is_refused_by_name(admin_api_client, unchanged, passcode):
    response = post_import(admin_api_client, make_zip(tdata_entries(LOCKED)), passcode=passcode)

    assert response.status_code == 200, response.json()
    [refused] = response.json()["refused"]
    assert (refused["name"], refused["code"]) == ("tdata", "tdata_passcode")
    assert "passcode" in refused["detail"]
    assert PASSCODE not in response.content.decode()
    assert unchanged()
    failure = AuditEvent.objects.get(action="session_file.upload", outcome=Outcome.FAILURE)
    assert failure.detail == {"archive_entry": "tdata", "reason": "tdata_passcode"}


def _with(folder, name, content):
    return [(entry, content if entry == f"tdata/{name}" else data) for entry, data in tdata_entries(folder)]


def _hostile():
    key = (PLAIN / "key_datas").read_bytes()
    account = (PLAIN / "D877F783D5D3EF8Cs").read_bytes()
    return {
        "bad key file": (_with(PLAIN, "key_datas", b"TDF$" + os.urandom(400)), "invalid_tdata"),
        "wrong magic": (_with(PLAIN, "key_datas", b"XXXX" + key[4:]), "invalid_tdata"),
        "truncated key file": (_with(PLAIN, "key_datas", key[:100]), "invalid_tdata"),
        "empty key file": (_with(PLAIN, "key_datas", b""), "invalid_tdata"),
        "truncated account": (_with(PLAIN, "D877F783D5D3EF8Cs", account[:50]), "invalid_tdata"),
        "account file missing": (
            [(n, d) for n, d in tdata_entries(PLAIN) if n != "tdata/D877F783D5D3EF8Cs"],
            "invalid_tdata",
        ),
        "huge declared key file": (_with(PLAIN, "key_datas", key + os.urandom(2 * 1024 * 1024)), "tdata_too_large"),
        "many accounts": (tdata_entries(SEVEN), "too_many_accounts"),
    }


@pytest.mark.parametrize("case", list(_hostile()))
def test_hostile_or_corrupt_tdata_is_refused_with_a_reason_never_a_5xx(admin_api_client, unchanged, upload_tmp, case):
    entries, code = _hostile()[case]

    response = post_import(admin_api_client, make_zip(entries))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["imported"] == []
    assert [(r["name"], r["code"]) for r in body["refused"]] == [("tdata", code)]
    assert body["refused"][0]["detail"]
    assert unchanged()
    assert os.listdir(upload_tmp) == []


def test_too_many_tdata_folders_refuse_the_archive_with_a_4xx(admin_api_client, unchanged):
    entries = [(f"a{n}/tdata/key_datas", b"k") for n in range(tdata.MAX_TDATA_FOLDERS + 1)]

    response = post_import(admin_api_client, make_zip(entries))

    assert response.status_code == 400
    assert response.json()["code"] == "too_many_tdata"
    assert unchanged()


def test_a_reader_past_its_cpu_or_memory_limit_is_a_refusal(admin_api_client, unchanged, monkeypatch, tmp_path):
    # Stands in for a tdata whose reading the child's rlimits or the deadline cut short.
    crasher = tmp_path / "reader.py"
    crasher.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)\n")
    monkeypatch.setattr(tdata, "READER", crasher)

    response = post_import(admin_api_client, make_zip(tdata_entries(PLAIN)))

    assert response.status_code == 200
    assert [(r["name"], r["code"]) for r in response.json()["refused"]] == [("tdata", "invalid_tdata")]
    assert unchanged()


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


def test_zip_entries_of_the_tdata_are_neither_skipped_nor_extracted_outside(admin_api_client):
    archive = make_zip(tdata_entries(PLAIN) + [("tdata/working", b"")])
    before = dir_state()

    response = post_import(admin_api_client, archive)

    assert response.json()["skipped"] == []
    assert set(dir_state()) - set(before) == {f"{USER_ID}.session", f"{USER_ID}.json"}
    assert len(table_state()) == 1
    assert zipfile  # the archive was built by zipfile, as clients build theirs
