"""Zip imports through HTTP: library-made files in, every hostile archive and entry refused, nothing left behind."""

import io
import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin.models import SessionFile

from . import session_files
from .conftest import SESSIONS_URL, dir_state, multipart_body, sessions_dir, table_state, upload, with_sidecars
from .fixtures.make_fixtures import FIXTURES
from .zips import bomb_kernel, make_zip, overlapping_zip, with_raw_name

IMPORT_URL = f"{SESSIONS_URL}/import"


pytestmark = pytest.mark.usefixtures("upload_tmp")


def fixture_bytes(name):
    return session_files.fixture_path(name).read_bytes()


def symlink_info(name):
    info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def post_archive(client, content: bytes, *, query="", filename="sessions.zip"):
    body, content_type = multipart_body(filename, content, field="archive")
    return client.generic("POST", IMPORT_URL + query, body, content_type=content_type)


def nothing_left(upload_tmp):
    return os.listdir(upload_tmp) == [] and not [n for n in dir_state() if n.startswith(".incoming-")]


# --- Accepted ------------------------------------------------------------------


def test_every_library_made_fixture_imports_from_folders_and_junk_is_skipped(admin_api_client, upload_tmp):
    entries = [(f"exports/{fixture.library}/{fixture.name}", fixture_bytes(fixture.name)) for fixture in FIXTURES]
    junk = [
        "exports/",
        "__MACOSX/exports/._telethon-1.45.0.session",
        "exports/.DS_Store",
        "exports/notes.txt",
        "exports/api.json",
        "Thumbs.db",
    ]
    archive = make_zip(entries + [(name, b"" if name.endswith("/") else b"junk") for name in junk])

    response = post_archive(admin_api_client, archive)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["refused"] == []
    assert sorted(body["skipped"]) == sorted(junk)
    imported = {item["filename"]: item for item in body["imported"]}
    assert set(imported) == {fixture.name for fixture in FIXTURES}
    for fixture in FIXTURES:
        assert (imported[fixture.name]["layout"], imported[fixture.name]["api_id"]) == (fixture.layout, fixture.api_id)
        assert (sessions_dir() / fixture.name).read_bytes() == fixture_bytes(fixture.name)
    assert set(dir_state()) == with_sidecars(*(fixture.name for fixture in FIXTURES))
    assert nothing_left(upload_tmp)


def test_each_entry_stands_on_its_own_and_each_is_audited(admin_api_client, source_dir):
    bad = session_files.added_trigger_session(source_dir, "bad.session").read_bytes()
    archive = make_zip(
        [
            ("good.session", fixture_bytes("telethon-1.45.0.session")),
            ("bad.session", bad),
            ("../slip.session", fixture_bytes("kurigram-2.2.26.session")),
            ("also-good.session", fixture_bytes("pyrofork-2.3.69.session")),
        ]
    )

    body = post_archive(admin_api_client, archive).json()

    assert [item["filename"] for item in body["imported"]] == ["good.session", "also-good.session"]
    assert [(item["name"], item["code"]) for item in body["refused"]] == [
        ("bad.session", "unknown_layout"),
        ("../slip.session", "unsafe_path"),
    ]
    assert "unexpected trigger 'steal_key'" in body["refused"][0]["detail"]
    events = list(AuditEvent.objects.order_by("id").values_list("action", "outcome", "target"))
    assert events == [
        ("session_file.upload", Outcome.SUCCESS, "good.session"),
        ("session_file.upload", Outcome.FAILURE, "bad.session"),
        ("session_file.upload", Outcome.FAILURE, ""),
        ("session_file.upload", Outcome.SUCCESS, "also-good.session"),
        ("session_file.import", Outcome.SUCCESS, ""),
    ]
    assert AuditEvent.objects.get(action="session_file.import").detail == {"imported": 2, "refused": 2, "skipped": 0}


def test_taken_names_are_refused_unless_overwrite(admin_api_client):
    archive = make_zip([("acct.session", fixture_bytes("telethon-1.45.0.session"))])
    assert post_archive(admin_api_client, archive).json()["imported"]

    again = post_archive(admin_api_client, archive).json()
    replaced = post_archive(admin_api_client, archive, query="?overwrite=true").json()

    assert [(item["name"], item["code"]) for item in again["refused"]] == [("acct.session", "conflict")]
    assert [item["filename"] for item in replaced["imported"]] == ["acct.session"]
    assert SessionFile.objects.count() == 1


def test_one_archive_spends_one_unit_of_the_upload_budget(admin_api_client, settings):
    settings.RATELIMIT_UPLOAD = "1/h"
    archive = make_zip([(fixture.name, fixture_bytes(fixture.name)) for fixture in FIXTURES[:4]])

    first = post_archive(admin_api_client, archive)
    second = post_archive(admin_api_client, make_zip([("x.session", fixture_bytes("hydrogram-0.2.0.session"))]))

    assert first.status_code == 200 and len(first.json()["imported"]) == 4
    assert second.status_code == 429 and int(second["Retry-After"]) > 0
    assert not (sessions_dir() / "x.session").exists()


# --- Entries refused by name -------------------------------------------------------------


@pytest.mark.parametrize(
    "name, code",
    [
        ("../evil.session", "unsafe_path"),
        ("sessions/../../evil.session", "unsafe_path"),
        ("/etc/evil.session", "unsafe_path"),
        ("C:/evil.session", "unsafe_path"),
        ("a\\..\\evil.session", "unsafe_path"),
        ("dir\\evil.session", "unsafe_path"),
        ("evil\x1b[31m.session", "unsafe_path"),
        ("evil\n.session", "unsafe_path"),
        ("evil\x7f.session", "unsafe_path"),
        ("evil\u0085.session", "unsafe_path"),
        ("-rf.session", "invalid_name"),
        ("nested/con.session", "invalid_name"),
        ("bad name.session", "invalid_name"),
    ],
)
def test_unsafe_entry_paths_are_refused_by_name_and_nothing_lands_outside(admin_api_client, upload_tmp, name, code):
    outside = sessions_dir().parent
    before = sorted(os.listdir(outside))
    archive = make_zip([(name, fixture_bytes("telethon-1.45.0.session"))])

    response = post_archive(admin_api_client, archive)

    assert response.status_code == 200
    assert response.json()["imported"] == []
    assert [(item["name"], item["code"]) for item in response.json()["refused"]] == [(name, code)]
    assert table_state() == [] and dir_state() == {}
    assert sorted(os.listdir(outside)) == before
    assert not Path("/etc/evil.session").exists()
    assert nothing_left(upload_tmp)
    event = AuditEvent.objects.get(action="session_file.upload")
    assert event.outcome == Outcome.FAILURE and event.detail["reason"] == code
    assert "\x1b" not in event.detail["archive_entry"] and "\n" not in event.detail["archive_entry"]


def test_a_name_zipfile_cuts_at_nul_is_refused_by_its_raw_name(admin_api_client, upload_tmp):
    archive = make_zip(
        [
            ("x.session#.txt", fixture_bytes("telethon-1.45.0.session")),
            ("ok.session", fixture_bytes("kurigram-2.2.26.session")),
        ]
    )
    archive = with_raw_name(archive, "x.session#.txt", b"x.session\x00.txt")
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist()[0] == "x.session"  # what zipfile alone would import

    body = post_archive(admin_api_client, archive).json()

    assert [(item["name"], item["code"]) for item in body["refused"]] == [("x.session\x00.txt", "unsafe_path")]
    assert [item["filename"] for item in body["imported"]] == ["ok.session"]
    assert set(dir_state()) == with_sidecars("ok.session")
    assert nothing_left(upload_tmp)
    event = AuditEvent.objects.get(action="session_file.upload", outcome=Outcome.FAILURE)
    assert (event.detail["reason"], event.detail["archive_entry"]) == ("unsafe_path", "x.session\\x00.txt")


def test_symlink_entries_are_refused(admin_api_client, upload_tmp):
    archive = make_zip(
        [
            (symlink_info("link.session"), b"/etc/passwd"),
            (symlink_info("folder/other.session"), b"../../outside.session"),
            ("real.session", fixture_bytes("telethon-1.45.0.session")),
        ]
    )

    body = post_archive(admin_api_client, archive).json()

    assert [(item["name"], item["code"]) for item in body["refused"]] == [
        ("link.session", "symlink"),
        ("folder/other.session", "symlink"),
    ]
    assert [item["filename"] for item in body["imported"]] == ["real.session"]
    assert set(dir_state()) == with_sidecars("real.session")
    assert not os.path.islink(sessions_dir() / "link.session")
    assert nothing_left(upload_tmp)


def test_a_name_repeated_in_the_archive_is_refused(admin_api_client):
    archive = make_zip(
        [
            ("a/acct.session", fixture_bytes("telethon-1.45.0.session")),
            ("b/acct.session", fixture_bytes("kurigram-2.2.26.session")),
            ("c/ACCT.session", fixture_bytes("pyrofork-2.3.69.session")),
        ]
    )

    body = post_archive(admin_api_client, archive).json()

    assert [item["filename"] for item in body["imported"]] == ["acct.session"]
    assert [(item["name"], item["code"]) for item in body["refused"]] == [
        ("b/acct.session", "duplicate_name"),
        ("c/ACCT.session", "duplicate_name"),
    ]
    assert "a/acct.session" in body["refused"][0]["detail"]
    assert (sessions_dir() / "acct.session").read_bytes() == fixture_bytes("telethon-1.45.0.session")


def test_a_duplicate_key_entry_is_refused_naming_the_holder(admin_api_client):
    content = fixture_bytes("telethon-1.45.0.session")
    archive = make_zip([("one.session", content), ("two.session", content)])

    body = post_archive(admin_api_client, archive).json()

    assert [item["filename"] for item in body["imported"]] == ["one.session"]
    assert body["refused"][0]["code"] == "duplicate_key"
    assert body["refused"][0]["detail"].startswith("one.session already holds this auth key")


# --- Archives refused whole --------------------------------------------------------------


def _assert_refused(response, status, code, *fragments):
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code
    text = str(body)
    for fragment in fragments:
        assert fragment in text


@pytest.fixture
def untouched(db, upload_tmp):
    """Return a check that no file, row or temporary file was left."""
    files, rows = dir_state(), table_state()
    return lambda: dir_state() == files and table_state() == rows and os.listdir(upload_tmp) == []


def test_a_zip_bomb_is_refused_by_its_ratio_before_extraction(admin_api_client, untouched):
    archive = make_zip([("bomb.session", bytes(5 * 1024 * 1024))])

    _assert_refused(post_archive(admin_api_client, archive), 400, "compression_ratio", "100:1")
    assert untouched()


@pytest.fixture
def nothing_inflated(monkeypatch):
    """Make reading any entry fail the test: an archive refused whole is refused from its directory."""
    open_entry = zipfile.ZipFile.open

    def refuse_to_read(self, name, mode="r", *args, **kwargs):
        assert mode != "r", "an entry was opened for reading"
        return open_entry(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse_to_read)


def test_the_ratio_limit_holds_over_the_whole_archive(admin_api_client, untouched, nothing_inflated):
    # The outside probe's archive: 51 entries sharing one kernel, each under 100:1 on its own.
    names = [f"bomb{n:02}.session" for n in range(51)]
    archive = overlapping_zip(names, bomb_kernel(10 * 1024 * 1024))
    infos = zipfile.ZipFile(io.BytesIO(archive)).infolist()
    assert all(info.file_size < 100 * info.compress_size for info in infos)
    assert sum(info.file_size for info in infos) > 3000 * len(archive)

    _assert_refused(post_archive(admin_api_client, archive), 400, "compression_ratio", "100:1")
    assert untouched()


def test_entries_sharing_bytes_are_refused_before_anything_is_inflated(admin_api_client, untouched, nothing_inflated):
    archive = overlapping_zip(["a.session", "b.session", "c.session"], os.urandom(20_000))
    infos = zipfile.ZipFile(io.BytesIO(archive)).infolist()
    assert sum(info.file_size for info in infos) < 100 * len(archive)  # the ratio alone would pass it

    _assert_refused(post_archive(admin_api_client, archive), 400, "overlapping_entries", "a.session", "b.session")
    assert untouched()


def test_two_records_of_one_entry_are_refused_as_overlapping(admin_api_client, untouched, nothing_inflated):
    archive = make_zip([("a.session", fixture_bytes("telethon-1.45.0.session"))])
    directory, end = archive.index(b"PK\x01\x02"), archive.index(b"PK\x05\x06")
    record, end_record = archive[directory:end], bytearray(archive[end:])
    struct.pack_into("<HHL", end_record, 8, 2, 2, 2 * len(record))  # two entries, twice the directory

    response = post_archive(admin_api_client, archive[:directory] + record + record + bytes(end_record))

    _assert_refused(response, 400, "overlapping_entries", "a.session")
    assert untouched()


def test_an_archive_past_the_general_body_limit_is_taken_up_to_its_own(admin_api_client, settings, upload_tmp):
    archive = make_zip(
        [("padding.bin", os.urandom(11 * 1024 * 1024)), ("acct.session", fixture_bytes("telethon-1.45.0.session"))],
        compression=zipfile.ZIP_STORED,
    )
    assert len(archive) > settings.SESSION_MAX_BYTES + 64 * 1024 and len(archive) > settings.IMAGE_MAX_BYTES

    response = post_archive(admin_api_client, archive)

    assert response.status_code == 200, response.json()
    assert [item["filename"] for item in response.json()["imported"]] == ["acct.session"]
    assert response.json()["skipped"] == ["padding.bin"]
    assert nothing_left(upload_tmp)


def test_past_session_import_max_bytes_is_413_unread(admin_api_client, settings, untouched):
    settings.SESSION_IMPORT_MAX_BYTES = 11 * 1024 * 1024
    archive = make_zip([("padding.bin", os.urandom(12 * 1024 * 1024))], compression=zipfile.ZIP_STORED)
    body, content_type = multipart_body("sessions.zip", archive, field="archive")

    declared = admin_api_client.generic("POST", IMPORT_URL, b"", content_type=content_type, CONTENT_LENGTH=len(body))
    sent = admin_api_client.generic("POST", IMPORT_URL, body, content_type=content_type)
    as_json = admin_api_client.generic(
        "POST", IMPORT_URL, b"{}", content_type="application/json", CONTENT_LENGTH=str(8 << 20)
    )

    assert (declared.status_code, declared.json()["code"]) == (413, "payload_too_large")
    assert (sent.status_code, sent.json()["code"]) == (413, "payload_too_large")
    assert as_json.status_code == 413
    assert untouched()


def test_too_many_entries_is_400_naming_the_limit(admin_api_client, settings, untouched):
    settings.SESSION_IMPORT_MAX_FILES = 3
    archive = make_zip([(f"{n}.session", fixture_bytes(FIXTURES[n].name)) for n in range(4)])

    _assert_refused(post_archive(admin_api_client, archive), 400, "too_many_files", "SESSION_IMPORT_MAX_FILES", "3")
    assert untouched()


def test_too_many_bytes_in_all_is_413_naming_the_limit(admin_api_client, settings, untouched):
    archive = make_zip([(f"{n}.session", fixture_bytes(FIXTURES[n].name)) for n in range(4)])
    settings.SESSION_IMPORT_MAX_BYTES = 100 * 1024  # above the archive, below what it holds
    assert len(archive) < settings.SESSION_IMPORT_MAX_BYTES

    _assert_refused(post_archive(admin_api_client, archive), 413, "archive_too_large", "SESSION_IMPORT_MAX_BYTES")
    assert untouched()


def test_an_entry_over_session_max_bytes_is_refused_unread_like_a_single_upload(
    admin_api_client, settings, source_dir, upload_tmp
):
    settings.SESSION_MAX_BYTES = 32 * 1024
    big = fixture_bytes("kurigram-2.2.26.session")
    archive = make_zip([("big.session", big), ("small.session", fixture_bytes("telethon-1.45.0.session"))])
    single = upload(admin_api_client, content=big, name="big.session")

    body = post_archive(admin_api_client, archive).json()

    assert single.status_code == 413 and single.json()["code"] == "file_too_large"
    assert body["refused"] == [{"name": "big.session", "code": "file_too_large", "detail": single.json()["detail"]}]
    assert [item["filename"] for item in body["imported"]] == ["small.session"]
    assert nothing_left(upload_tmp) and set(dir_state()) == with_sidecars("small.session")


def test_an_archive_larger_than_the_limit_is_refused_while_streaming(admin_api_client, settings, untouched):
    settings.SESSION_IMPORT_MAX_BYTES = 4096
    archive = make_zip([("a.session", os.urandom(64 * 1024))], compression=zipfile.ZIP_STORED)

    assert post_archive(admin_api_client, archive).status_code == 413
    assert untouched()


def _patch_all(data: bytes, signature: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite `value` at `offset` after every occurrence of a zip record `signature`."""
    out = bytearray(data)
    start = out.find(signature)
    while start != -1:
        out[start + offset : start + offset + len(value)] = value
        start = out.find(signature, start + 4)
    return bytes(out)


def test_an_encrypted_archive_is_400(admin_api_client, untouched):
    archive = make_zip([("a.session", fixture_bytes("telethon-1.45.0.session"))])
    # General purpose flag bit 0 (encrypted), in the local header and the central directory record.
    archive = _patch_all(archive, b"PK\x03\x04", 6, struct.pack("<H", 1))
    archive = _patch_all(archive, b"PK\x01\x02", 8, struct.pack("<H", 1))

    _assert_refused(post_archive(admin_api_client, archive), 400, "encrypted_archive", "encrypted")
    assert untouched()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a zip at all",
        session_files.fixture_path("telethon-1.45.0.session").read_bytes(),
        make_zip([("a.session", session_files.fixture_path("telethon-1.45.0.session").read_bytes())])[:-30],
    ],
    ids=["empty", "text", "a session file", "cut short"],
)
def test_a_corrupt_or_foreign_archive_is_400(admin_api_client, untouched, content):
    _assert_refused(post_archive(admin_api_client, content), 400, "invalid_archive", "not a readable zip archive")
    assert untouched()


def test_a_lying_declared_size_stops_extraction_and_refuses_the_entry(admin_api_client, upload_tmp):
    content = fixture_bytes("telethon-1.45.0.session")
    archive = make_zip([("liar.session", content), ("good.session", fixture_bytes("kurigram-2.2.26.session"))])
    # Declare 4 KiB for the first entry (it holds 28 KiB): local header offset 22, central record offset 24.
    first_local, first_central = archive.find(b"PK\x03\x04"), archive.find(b"PK\x01\x02")
    patched = bytearray(archive)
    patched[first_local + 22 : first_local + 26] = struct.pack("<I", 4096)
    patched[first_central + 24 : first_central + 28] = struct.pack("<I", 4096)

    body = post_archive(admin_api_client, bytes(patched)).json()

    assert [(item["name"], item["code"]) for item in body["refused"]] == [("liar.session", "corrupt_entry")]
    assert [item["filename"] for item in body["imported"]] == ["good.session"]
    assert set(dir_state()) == with_sidecars("good.session")
    assert nothing_left(upload_tmp)


def test_a_corrupt_entry_is_refused_and_the_rest_imported(admin_api_client, upload_tmp):
    archive = make_zip(
        [
            ("broken.session", fixture_bytes("telethon-1.45.0.session")),
            ("fine.session", fixture_bytes("pyrofork-2.3.69.session")),
        ]
    )
    patched = bytearray(archive)
    data_start = archive.find(b"PK\x03\x04") + 30 + len("broken.session")
    patched[data_start + 10 : data_start + 60] = os.urandom(50)

    body = post_archive(admin_api_client, bytes(patched)).json()

    assert [(item["name"], item["code"]) for item in body["refused"]] == [("broken.session", "corrupt_entry")]
    assert [item["filename"] for item in body["imported"]] == ["fine.session"]
    assert nothing_left(upload_tmp)


def test_no_archive_is_400_and_json_is_415(admin_api_client, untouched):
    body, content_type = multipart_body("x.zip", b"", field="other")

    missing = admin_api_client.generic("POST", IMPORT_URL, body, content_type=content_type)
    as_json = admin_api_client.post(IMPORT_URL, {"archive": "x"}, format="json")

    assert missing.status_code == 400 and "archive" in missing.json()["errors"]
    assert as_json.status_code == 415
    assert untouched()


def test_imports_are_counted_in_the_metrics(admin_api_client, django_capture_on_commit_callbacks):
    """adbot_session_imports_total comes from the import's audit row (adbot_admin/metrics.py)."""
    from prometheus_client import REGISTRY

    def counts():
        return {r: REGISTRY.get_sample_value("adbot_session_imports_total", {"result": r}) or 0 for r in RESULTS}

    RESULTS = ("imported", "refused", "skipped")
    before = counts()
    archive = make_zip(
        [
            ("good.session", fixture_bytes("telethon-1.45.0.session")),
            ("../slip.session", fixture_bytes("kurigram-2.2.26.session")),
            ("notes.txt", b"junk"),
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_archive(admin_api_client, archive).status_code == 200
    assert {r: counts()[r] - before[r] for r in RESULTS} == {"imported": 1, "refused": 1, "skipped": 1}
