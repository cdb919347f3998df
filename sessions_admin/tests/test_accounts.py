"""Accounts through every import path: the sidecar read, checked, linked to its API pair, encrypted, written beside."""

import io
import json
import stat
import zipfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from adbot_admin.field_encryption import decrypt_field
from adbot_admin.models import AuditEvent, Outcome
from sessions_admin.models import ApiPair, SessionFile, SessionStatusChange

from . import session_files
from .conftest import SESSIONS_URL, UPLOAD_URL, sessions_dir
from .test_sidecar import SIDECARS

pytestmark = pytest.mark.usefixtures("upload_tmp")

IMPORT_URL = f"{SESSIONS_URL}/import"
STRING_URL = f"{SESSIONS_URL}/import-string"
SECRETS = ("fixture-2fa-one", "fixture-px1", "fixture 2fa: two", "fixture@px2", "975310", "fixture-px3")


def sidecar_bytes(name):
    return (SIDECARS / name).read_bytes()


def post_pair(client, session_path, sidecar: bytes | None, *, name=None):
    name = name or session_path.name
    data = {"file": io.BytesIO(session_path.read_bytes())}
    data["file"].name = name
    if sidecar is not None:
        data["sidecar"] = io.BytesIO(sidecar)
        data["sidecar"].name = name.removesuffix(".session") + ".json"
    return client.post(UPLOAD_URL, data, format="multipart")


def zip_of(entries) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def post_zip(client, content):
    archive = io.BytesIO(content)
    archive.name = "pairs.zip"
    return client.post(IMPORT_URL, {"archive": archive}, format="multipart")


def test_single_upload_with_a_sidecar_keeps_the_account(admin_api_client, source_dir):
    path = session_files.telethon_session(source_dir, "one.session")
    response = post_pair(admin_api_client, path, sidecar_bytes("seller-api-keys.json"))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["account"] == {
        "user_id": 5000000101,
        "phone": "15555550101",
        "username": "fixture_one",
        "first_name": "Fixture",
        "last_name": "One",
    }
    assert body["device"]["device_model"] == "Samsung SM-G991B"
    assert body["app"] == {"api_id": 1234567, "app_version": "11.2.3 (5432)"}

    row = SessionFile.objects.get(filename="one.session")
    assert decrypt_field(row, "twofa_password") == "fixture-2fa-one"
    assert "fixture-2fa-one" not in row.twofa_password and "fixture-px1" not in row.proxy_credentials
    assert row.proxy == {"type": "socks5", "host": "198.51.100.7", "port": 1080, "rdns": True}
    assert row.sidecar_extra == {
        "session_file": "seller-api-keys",
        "spamblock": "free",
        **{"register_time": 1700000000, "stats_spam": "clean"},
    }

    # The pair was added, audited, with the hash normalised.
    pair = ApiPair.objects.get(api_id=1234567)
    assert pair.api_hash == "0123456789abcdef0123456789abcdef"
    assert AuditEvent.objects.filter(action="api_pair.create", target="api_id 1234567").exists()

    # The canonical sidecar beside the file: private, without secrets by default.
    on_disk = sessions_dir() / "one.json"
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o600
    document = json.loads(on_disk.read_bytes())
    assert document["device"] == "Samsung SM-G991B" and document["proxy"]["has_credentials"] is True
    assert "twoFA" not in document and "app_hash" not in document
    for secret in SECRETS[:2]:
        assert secret not in on_disk.read_text()


def test_secrets_on_disk_only_when_asked(admin_api_client, source_dir, settings):
    settings.SIDECAR_SECRETS_ON_DISK = True
    path = session_files.telethon_session(source_dir, "two.session")
    assert post_pair(admin_api_client, path, sidecar_bytes("seller-tw0fa-url.json")).status_code == 201
    document = json.loads((sessions_dir() / "two.json").read_bytes())
    assert document["twoFA"] == "fixture 2fa: two"
    assert document["proxy"]["password"] == "fixture@px2"
    assert document["app_hash"] == "b18441a1ff607e10a989891a5462e627"


def test_freeze_and_spamblock_hints_set_the_first_status(admin_api_client, source_dir):
    frozen = session_files.telethon_session(source_dir, "frozen.session")
    limited = session_files.telethon_session(source_dir, "limited.session")
    assert post_pair(admin_api_client, frozen, sidecar_bytes("seller-tw0fa-url.json")).status_code == 201
    assert post_pair(admin_api_client, limited, sidecar_bytes("seller-password-pysocks.json")).status_code == 201

    row = SessionFile.objects.get(filename="frozen.session")
    assert row.status == "frozen" and row.status_until.isoformat() == "2027-01-31T00:00:00+00:00"
    assert SessionFile.objects.get(filename="limited.session").status == "limited"
    assert set(SessionStatusChange.objects.values_list("source", flat=True)) == {"import"}


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"app_id": "x"}, "app_id"),
        ({"proxy": "socks5://u:p@h.example:1080\n"}, "proxy"),
        ({"first_name": "x" * 1_000_000}, "first_name"),
    ],
)
def test_a_hostile_sidecar_refuses_the_upload_naming_the_key(admin_api_client, source_dir, unchanged, document, key):
    path = session_files.telethon_session(source_dir, "bad.session")
    response = post_pair(admin_api_client, path, json.dumps(document).encode())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_sidecar" and body["errors"]["sidecar"][0].startswith(f"{key}: ")
    assert unchanged()
    assert AuditEvent.objects.filter(action="session_file.upload", outcome=Outcome.FAILURE).exists()


def test_a_stored_pair_with_another_hash_refuses_the_entry(admin_api_client, source_dir, unchanged):
    ApiPair.objects.create(api_id=1234567, api_hash="f" * 32)
    files_and_rows = unchanged
    path = session_files.telethon_session(source_dir, "clash.session")
    response = post_pair(admin_api_client, path, sidecar_bytes("seller-api-keys.json"))
    assert response.status_code == 409 and response.json()["code"] == "api_pair_mismatch"
    assert files_and_rows()
    assert ApiPair.objects.get(api_id=1234567).api_hash == "f" * 32


def test_a_sidecar_contradicting_the_file_is_refused(admin_api_client, source_dir, unchanged):
    # The Kurigram file records api_id 2040; the sidecar claims 6.
    path = session_files.kurigram_session(source_dir, "kuri.session")
    response = post_pair(admin_api_client, path, b'{"app_id": 6}')
    assert response.status_code == 400
    assert response.json()["errors"]["sidecar"][0].startswith("app_id: ")
    assert unchanged()


def test_zip_import_reads_each_json_beside_its_session(admin_api_client, source_dir):
    entries = []
    for number, style in enumerate(sorted(path.name for path in SIDECARS.glob("*.json"))):
        name = f"acct{number}"
        entries.append(
            (f"seller/{name}.session", session_files.telethon_session(source_dir, f"{name}.session").read_bytes())
        )
        entries.append((f"seller/{name}.json", sidecar_bytes(style)))
    entries.append(("seller/readme.txt", b"thanks for buying"))
    entries.append(
        ("seller/hostile.session", session_files.telethon_session(source_dir, "hostile.session").read_bytes())
    )
    entries.append(("seller/hostile.json", b'{"twoFA": {"deep": [[[[[[[[[1]]]]]]]]]}}'))

    response = post_zip(admin_api_client, zip_of(entries))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert len(body["refused"]) == 1, body["refused"]
    assert sorted(item["filename"] for item in body["imported"]) == [f"acct{n}.session" for n in range(4)]
    assert body["skipped"] == ["seller/readme.txt"]
    assert body["refused"] == [
        {"name": "seller/hostile.session", "code": "invalid_sidecar", "detail": "twoFA: is nested deeper than 8 levels"}
    ]
    assert not (sessions_dir() / "hostile.session").exists()
    for number in range(4):
        assert (sessions_dir() / f"acct{number}.json").exists()
    assert SessionFile.objects.exclude(twofa_password="").count() == 4


def test_string_import_takes_a_sidecar_object(admin_api_client):
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    from telethon.crypto import AuthKey

    session.auth_key = AuthKey(bytes(range(256)))
    sidecar = json.loads(sidecar_bytes("opentele2.json"))
    response = admin_api_client.post(
        STRING_URL,
        {"filename": "str.session", "library": "telethon", "session_string": session.save(), "sidecar": sidecar},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["account"]["username"] == "fixture_four"
    assert response.json()["app"]["api_id"] == 2040


def test_delete_takes_the_sidecar_with_it_and_sync_reports_drift(admin_api_client, source_dir):
    path = session_files.telethon_session(source_dir, "gone.session")
    assert post_pair(admin_api_client, path, sidecar_bytes("seller-api-keys.json")).status_code == 201
    kept = session_files.telethon_session(source_dir, "kept.session")
    assert post_pair(admin_api_client, kept, None).status_code == 201

    (sessions_dir() / "kept.json").write_text('{"edited": true}')
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sync_sessions", stdout=out)
    assert "sidecar_differs: kept.json" in out.getvalue()

    assert admin_api_client.delete(f"{SESSIONS_URL}/gone.session").status_code == 204
    assert not (sessions_dir() / "gone.json").exists()
    (sessions_dir() / "kept.json").unlink()
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("sync_sessions", stdout=out)
    assert "sidecar_missing: kept.json" in out.getvalue()
    call_command("sync_sessions", "--repair", stdout=StringIO())
    assert (sessions_dir() / "kept.json").exists()
    call_command("sync_sessions", stdout=StringIO())  # nothing left: no SystemExit


@pytest.mark.parametrize("style", sorted(path.name for path in SIDECARS.glob("*.json")))
def test_an_imported_sidecar_comes_back_with_the_same_values(admin_api_client, source_dir, style):
    from sessions_admin.accounts import account_sidecar
    from sessions_admin.sidecar import parse_sidecar, render_sidecar

    path = session_files.telethon_session(source_dir, "round.session")
    assert post_pair(admin_api_client, path, sidecar_bytes(style)).status_code == 201
    original = parse_sidecar(data=sidecar_bytes(style))
    row = SessionFile.objects.get(filename="round.session")
    back = parse_sidecar(
        data=render_sidecar(sidecar=account_sidecar(session_file=row, include_secrets=True), include_secrets=True)
    )
    assert (back.values, back.extra) == (original.values, original.extra)
    assert (sessions_dir() / "round.session").read_bytes() == path.read_bytes()
