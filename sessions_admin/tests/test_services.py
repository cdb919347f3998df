"""Services: rows and files appear and disappear together, whatever fails."""

import hashlib
import os
import stat

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile

from adbot_admin.file_storage import TEMP_PREFIX
from adbot_admin.models import AuditEvent, Outcome
from sessions_admin import errors, services
from sessions_admin.models import ApiPair, SessionFile
from sessions_admin.names import validate_session_filename

from . import session_files
from .conftest import dir_state, sessions_dir, table_state, with_sidecars
from .factories import ApiPairFactory, SessionFileFactory, stored_session_file

# on_commit callbacks (deleting set-aside files) must run, as they do in production.
pytestmark = pytest.mark.django_db(transaction=True)

KEY = os.urandom(256)


def _store(path, name=None, **options):
    with open(path, "rb") as content:
        return services.session_file_store(
            upload=File(content, name=path.name), filename=name or path.name, uploaded_by="alice", **options
        )


def test_store_places_a_byte_identical_private_file_and_its_row(source_dir):
    path = session_files.telethon_session(source_dir, "main.session", dc_id=4, auth_key=KEY)

    session_file = _store(path)

    stored = sessions_dir() / "main.session"
    assert stored.read_bytes() == path.read_bytes()
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert session_file.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (session_file.library, session_file.layout, session_file.dc_id) == ("telethon", "telethon-8", 4)
    assert (session_file.user_id, session_file.is_bot, session_file.uploaded_by) == (None, None, "alice")
    assert session_file.size == path.stat().st_size
    assert set(dir_state()) == with_sidecars("main.session")
    event = AuditEvent.objects.get(action="session_file.upload")
    assert (event.target, event.outcome) == ("main.session", Outcome.SUCCESS)
    assert KEY.hex() not in str(event.detail)


def test_store_accepts_an_in_memory_upload(source_dir):
    path = session_files.pyrogram_session(source_dir, "bot.session", user_id=77, is_bot=True)

    session_file = services.session_file_store(
        upload=SimpleUploadedFile("bot.session", path.read_bytes()), uploaded_by="alice"
    )

    assert (session_file.library, session_file.user_id, session_file.is_bot) == ("pyrogram", 77, True)
    assert (sessions_dir() / "bot.session").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", ["../x.session", "a/b.session", ".x.session", "x..session", "x.sqlite", "é.session"])
def test_store_refuses_a_bad_name_and_audits_it(source_dir, name):
    path = session_files.telethon_session(source_dir, "good.session")

    with pytest.raises(services.InvalidSessionFileName):
        _store(path, name)

    assert dir_state() == {} and table_state() == []
    event = AuditEvent.objects.get(action="session_file.upload")
    assert (event.outcome, event.target) == (Outcome.FAILURE, "")


def test_store_refuses_a_file_over_the_limit_without_keeping_anything(source_dir, settings):
    path = session_files.telethon_session(source_dir)
    settings.SESSION_MAX_BYTES = path.stat().st_size - 1

    with pytest.raises(errors.SessionFileTooLarge):
        _store(path)

    assert dir_state() == {} and table_state() == []


def test_store_refuses_a_taken_name_unless_overwriting(source_dir):
    first = stored_session_file(source_dir, "acct.session", maker=session_files.telethon_session, dc_id=2)
    newer = session_files.pyrogram_session(source_dir, "newer.session", dc_id=5, user_id=9)

    with pytest.raises(services.SessionFileExists):
        _store(newer, "acct.session")
    assert SessionFile.objects.get().sha256 == first.sha256

    replaced = _store(newer, "acct.session", overwrite=True)

    assert replaced.pk == first.pk
    assert (replaced.library, replaced.dc_id, replaced.user_id) == ("pyrogram", 5, 9)
    assert (sessions_dir() / "acct.session").read_bytes() == newer.read_bytes()
    assert set(dir_state()) == with_sidecars("acct.session")  # the hard-linked backup is gone after commit


def test_overwrite_also_sets_aside_the_old_files_sqlite_companions(source_dir):
    stored_session_file(source_dir, "acct.session")
    for suffix in ("-journal", "-wal", "-shm"):
        (sessions_dir() / f"acct.session{suffix}").write_bytes(b"old companion")

    _store(session_files.telethon_session(source_dir, "other.session"), "acct.session", overwrite=True)

    assert set(dir_state()) == with_sidecars("acct.session")


def test_store_maps_a_concurrent_insert_to_exists(source_dir, monkeypatch):
    SessionFileFactory(filename="acct.session")
    # As if the other upload committed between our look-up and our insert.
    monkeypatch.setattr(SessionFile.objects, "select_for_update", lambda: SessionFile.objects.none())

    with pytest.raises(services.SessionFileExists):
        _store(session_files.telethon_session(source_dir), "acct.session")

    assert dir_state() == {}


def test_a_file_already_in_the_folder_without_a_row_is_a_taken_name(source_dir):
    (sessions_dir()).mkdir(parents=True)
    (sessions_dir() / "acct.session").write_bytes(b"someone else's")

    with pytest.raises(services.SessionFileExists):
        _store(session_files.telethon_session(source_dir))

    assert table_state() == []
    assert (sessions_dir() / "acct.session").read_bytes() == b"someone else's"


def _failing_audit(monkeypatch, action):
    real = services.record

    def record(**kwargs):
        if kwargs["action"] == action and kwargs.get("outcome", Outcome.SUCCESS) == Outcome.SUCCESS:
            raise RuntimeError("audit is down")
        return real(**kwargs)

    monkeypatch.setattr(services, "record", record)


def test_a_failure_after_the_file_is_placed_leaves_neither_file_nor_row(source_dir, monkeypatch):
    _failing_audit(monkeypatch, "session_file.upload")

    with pytest.raises(RuntimeError):
        _store(session_files.telethon_session(source_dir))

    assert dir_state() == {} and table_state() == []


def test_a_storage_failure_leaves_no_row(source_dir, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(services, "save_exact", broken)

    with pytest.raises(OSError):
        _store(session_files.telethon_session(source_dir))

    assert dir_state() == {} and table_state() == []


def test_a_failed_overwrite_puts_the_old_file_and_metadata_back(source_dir, monkeypatch):
    stored_session_file(source_dir, "acct.session")
    (sessions_dir() / "acct.session-journal").write_bytes(b"journal")
    files, rows = dir_state(), table_state()
    _failing_audit(monkeypatch, "session_file.upload")

    with pytest.raises(RuntimeError):
        _store(session_files.pyrogram_session(source_dir, "new.session"), "acct.session", overwrite=True)

    assert dir_state() == files
    assert table_state() == rows


def test_delete_removes_the_row_the_file_and_its_companions(source_dir):
    session_file = stored_session_file(source_dir, "acct.session")
    for suffix in ("-journal", "-wal", "-shm"):
        (sessions_dir() / f"acct.session{suffix}").write_bytes(b"x")
    (sessions_dir() / "other.session-wal").write_bytes(b"not ours")

    services.session_file_delete(session_file=session_file)

    assert set(dir_state()) == {"other.session-wal"}
    assert table_state() == []
    event = AuditEvent.objects.get(action="session_file.delete")
    assert event.target == "acct.session" and event.detail["file_found"] is True


def test_delete_of_a_row_whose_file_is_gone_still_removes_the_row(source_dir):
    session_file = stored_session_file(source_dir, "acct.session")
    (sessions_dir() / "acct.session").unlink()

    services.session_file_delete(session_file=session_file)

    assert table_state() == []


def test_a_failed_delete_puts_everything_back(source_dir, monkeypatch):
    session_file = stored_session_file(source_dir, "acct.session")
    (sessions_dir() / "acct.session-wal").write_bytes(b"wal")
    files, rows = dir_state(), table_state()
    _failing_audit(monkeypatch, "session_file.delete")

    with pytest.raises(RuntimeError):
        services.session_file_delete(session_file=session_file)

    assert dir_state() == files
    assert table_state() == rows


def test_delete_of_a_row_deleted_meanwhile_raises_does_not_exist(source_dir):
    session_file = stored_session_file(source_dir, "acct.session")
    SessionFile.objects.all().delete()

    with pytest.raises(SessionFile.DoesNotExist):
        services.session_file_delete(session_file=session_file)


def test_no_temporary_file_is_left_behind(source_dir, tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    stored_session_file(source_dir, "a.session")
    with pytest.raises(services.SessionFileRejected):
        _store(session_files.text_session(source_dir, "b.session"))

    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []
    assert not [name for name in dir_state() if name.startswith(TEMP_PREFIX)]


# --- Names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "a.session",
        "A-b_c.1.session",
        "x-.session",
        "x" * 92 + ".session",
        "console.session",
        "con1.session",
        "com0.session",
        "lpt10.session",
        "my.con.session",
    ],
)
def test_name_rule_accepts(name):
    assert validate_session_filename(name) == name


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "no name"),
        ("x" * 93 + ".session", "longer than 100"),
        ("a/b.session", "path separator"),
        ("a\\b.session", "path separator"),
        ("a\tb.session", "control characters"),
        ("a\x7fb.session", "control characters"),
        ("a b.session", "only ASCII"),
        ("ä.session", "only ASCII"),
        (".session", "begin with a dot"),
        (".a.session", "begin with a dot"),
        ("a..b.session", "'..'"),
        ("a.session.bak", "end in .session"),
        ("a.SESSION", "end in .session"),
        ("-x.session", "begin with '-'"),
        ("--help.session", "begin with '-'"),
        *[
            (f"{base}.session", "reserved on Windows")
            for base in ("con", "CON", "nul", "prn", "aux", "com1", "COM9", "lpt1", "lpt9")
        ],
        ("nul.backup.session", "reserved on Windows"),
    ],
)
def test_name_rule_refuses(name, message):
    with pytest.raises(services.InvalidSessionFileName, match=message.replace(".", r"\.")):
        validate_session_filename(name)


# --- API pairs ------------------------------------------------------------------


def test_api_pair_create_normalises_the_hash_and_audits_without_it():
    api_pair = services.api_pair_create(api_id=12345, api_hash="ABCDEF0123456789ABCDEF0123456789", label="main")

    assert api_pair.api_hash == "abcdef0123456789abcdef0123456789"
    assert api_pair.masked_hash == "abcd************************6789"
    event = AuditEvent.objects.get(action="api_pair.create")
    assert event.target == "api_id 12345"
    assert "abcdef0123456789" not in str(event.detail) + event.target


def test_api_pair_create_refuses_a_duplicate_and_bad_values():
    ApiPairFactory(api_id=5)
    with pytest.raises(services.ApiPairExists):
        services.api_pair_create(api_id=5, api_hash="0" * 32)
    with pytest.raises(ValidationError):
        services.api_pair_create(api_id=0, api_hash="0" * 32)
    with pytest.raises(ValidationError):
        services.api_pair_create(api_id=6, api_hash="g" * 32)
    assert ApiPair.objects.count() == 1


def test_api_pair_update_changes_only_label_and_is_active():
    api_pair = ApiPairFactory(label="old")
    with pytest.raises(ValueError):
        services.api_pair_update(api_pair=api_pair, data={"api_hash": "1" * 32})

    services.api_pair_update(api_pair=api_pair, data={"label": "new", "is_active": False})

    api_pair.refresh_from_db()
    assert (api_pair.label, api_pair.is_active) == ("new", False)
    assert AuditEvent.objects.get(action="api_pair.update").detail == {"is_active": False, "label": "new"}


def test_api_pair_delete_is_audited():
    api_pair = ApiPairFactory(api_id=77)

    services.api_pair_delete(api_pair=api_pair)

    assert not ApiPair.objects.exists()
    assert AuditEvent.objects.get(action="api_pair.delete").target == "api_id 77"
