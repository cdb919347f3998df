"""`manage.py sync_sessions`: drift between SESSIONS_DIR and the table, reported and repaired."""

import hashlib
import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from adbot_admin.file_storage import TEMP_PREFIX
from adbot_admin.models import AuditEvent, AuthMethod
from sessions_admin.models import SessionFile
from sessions_admin.services import SYNC_ACTOR

from . import session_files
from .conftest import dir_state, sessions_dir, table_state, with_sidecars
from .factories import SessionFileFactory, stored_session_file

pytestmark = pytest.mark.django_db(transaction=True)


def sync(*args):
    """Run the command; return (output, exit code)."""
    out = StringIO()
    try:
        call_command("sync_sessions", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_no_drift_exits_zero(source_dir):
    stored_session_file(source_dir, "a.session")
    (sessions_dir() / "a.session-journal").write_bytes(b"companion")
    (sessions_dir() / f"{TEMP_PREFIX}abc.part").write_bytes(b"in flight")
    (sessions_dir() / "engine-cache").mkdir()

    output, code = sync()

    assert code == 0
    assert "0 finding(s)" in output


def test_an_empty_or_missing_folder_is_no_drift():
    assert sync() == ("Checked 0 file(s) and 0 row(s): 0 finding(s), 0 repaired, 0 unresolved.\n", 0)


def test_drift_is_reported_without_changing_anything(source_dir):
    stored_session_file(source_dir, "changed.session")
    sessions_dir().mkdir(exist_ok=True)
    session_files.pyrogram_session(sessions_dir(), "orphan.session")
    session_files.text_session(sessions_dir(), "junk.session")
    SessionFileFactory(filename="ghost.session")
    session_files.execute_sql(sessions_dir() / "changed.session", "INSERT INTO entities (id, hash) VALUES (1, 2)")
    files, rows = dir_state(), table_state()

    output, code = sync()

    assert code == 1
    assert "unregistered: orphan.session" in output
    assert "invalid: junk.session" in output and "not an SQLite database" in output
    assert "missing: ghost.session" in output
    assert "changed: changed.session" in output
    assert "4 unresolved" in output
    assert (dir_state(), table_state()) == (files, rows)
    assert not AuditEvent.objects.exclude(action="session_file.upload").exists()


def test_repair_registers_forgets_and_refreshes_but_never_deletes_files(source_dir):
    stored_session_file(source_dir, "changed.session")
    sessions_dir().mkdir(exist_ok=True)
    orphan = session_files.pyrogram_session(sessions_dir(), "orphan.session", dc_id=3, user_id=55)
    session_files.text_session(sessions_dir(), "junk.session")
    (sessions_dir() / "bad name.session").write_bytes(b"x")
    SessionFileFactory(filename="ghost.session")
    changed = session_files.execute_sql(
        sessions_dir() / "changed.session", "INSERT INTO entities (id, hash) VALUES (1, 2)"
    )

    output, code = sync("--repair")

    assert code == 1  # the invalid files remain, on purpose
    assert "2 unresolved" in output
    assert {"junk.session", "bad name.session", "orphan.session", "changed.session"} <= set(dir_state())
    registered = SessionFile.objects.get(filename="orphan.session")
    assert (registered.uploaded_by, registered.library, registered.dc_id, registered.user_id) == (
        SYNC_ACTOR,
        "pyrogram",
        3,
        55,
    )
    assert registered.sha256 == hashlib.sha256(orphan.read_bytes()).hexdigest()
    assert not SessionFile.objects.filter(filename="ghost.session").exists()
    refreshed = SessionFile.objects.get(filename="changed.session")
    assert (refreshed.size, refreshed.sha256) == (
        changed.stat().st_size,
        hashlib.sha256(changed.read_bytes()).hexdigest(),
    )
    assert set(SessionFile.objects.values_list("filename", flat=True)) == {"orphan.session", "changed.session"}
    sidecar_writes = AuditEvent.objects.filter(actor=SYNC_ACTOR, action="session_file.sidecar_write")
    assert set(sidecar_writes.values_list("target", flat=True)) == {"orphan.session"}  # changed.session kept its json
    events = dict(
        AuditEvent.objects.filter(actor=SYNC_ACTOR).exclude(pk__in=sidecar_writes).values_list("action", "target")
    )
    assert events == {
        "session_file.register": "orphan.session",
        "session_file.forget": "ghost.session",
        "session_file.refresh": "changed.session",
    }
    assert set(AuditEvent.objects.filter(actor=SYNC_ACTOR).values_list("auth_method", flat=True)) == {AuthMethod.SHELL}

    again, code = sync("--repair")
    assert code == 1 and "2 unresolved" in again and "unregistered" not in again


def test_repair_gives_adopted_files_an_uploads_mode_and_touches_no_other(source_dir, tmp_path):
    sessions_dir().mkdir(parents=True)
    adopted = session_files.telethon_session(sessions_dir(), "adopted.session")
    junk = session_files.text_session(sessions_dir(), "junk.session")
    outside = session_files.kurigram_session(tmp_path, "outside.session")
    (sessions_dir() / "link.session").symlink_to(outside)
    for path in (adopted, junk, outside):
        path.chmod(0o644)
    uploaded = stored_session_file(source_dir, "uploaded.session")

    reported, _ = sync()
    assert "unregistered: adopted.session" in reported and oct(adopted.stat().st_mode & 0o777) == "0o644"
    sync("--repair")

    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in (adopted, junk, outside)}
    assert modes == {"adopted.session": "0o600", "junk.session": "0o644", "outside.session": "0o644"}
    assert oct((sessions_dir() / uploaded.filename).stat().st_mode & 0o777) == "0o600"  # as an upload has it
    assert SessionFile.objects.filter(filename="adopted.session", uploaded_by=SYNC_ACTOR).exists()


def test_repair_with_only_repairable_drift_exits_zero(source_dir):
    sessions_dir().mkdir(parents=True)
    session_files.telethon_session(sessions_dir(), "orphan.session")

    output, code = sync("--repair")

    assert code == 0 and "[repaired]" in output
    assert sync()[1] == 0


def test_a_symlink_is_reported_not_followed(source_dir, tmp_path):
    target = session_files.telethon_session(source_dir, "elsewhere.session")
    sessions_dir().mkdir(parents=True)
    os.symlink(target, sessions_dir() / "link.session")

    output, code = sync("--repair")

    assert code == 1
    assert "invalid: link.session" in output
    assert not SessionFile.objects.exists()


def test_a_file_changed_into_something_invalid_keeps_its_row(source_dir):
    session_file = stored_session_file(source_dir, "a.session")
    (sessions_dir() / "a.session").write_bytes(b"overwritten by something else")

    output, code = sync("--repair")

    assert code == 1 and "changed_invalid: a.session" in output
    assert SessionFile.objects.get().sha256 == session_file.sha256


def test_control_characters_in_names_are_escaped_in_the_output():
    sessions_dir().mkdir(parents=True)
    (sessions_dir() / "evil\x1b[31m.session").write_bytes(b"x")

    output, _ = sync()

    assert "\x1b" not in output
    assert "evil\\x1b[31m.session" in output


def test_every_library_made_layout_is_registered_by_repair():
    from .fixtures.make_fixtures import FIXTURES

    sessions_dir().mkdir(parents=True, exist_ok=True)
    for fixture in FIXTURES:
        (sessions_dir() / fixture.name).write_bytes(session_files.fixture_path(fixture.name).read_bytes())

    output, code = sync("--repair")

    assert code == 0, output
    rows = {row.filename: (row.layout, row.api_id) for row in SessionFile.objects.all()}
    assert rows == {fixture.name: (fixture.layout, fixture.api_id) for fixture in FIXTURES}


def test_duplicate_keys_in_the_folder_are_reported_never_repaired():
    sessions_dir().mkdir(parents=True, exist_ok=True)
    content = session_files.fixture_path("telethon-1.45.0.session").read_bytes()
    for name in ("a.session", "b.session"):
        (sessions_dir() / name).write_bytes(content)
    (sessions_dir() / "c.session").write_bytes(session_files.fixture_path("kurigram-2.2.26.session").read_bytes())

    output, code = sync("--repair")

    assert code == 1
    assert "duplicate_key: a.session: holds the same auth key as b.session" in output
    assert "duplicate_key: b.session: holds the same auth key as a.session" in output
    assert "c.session: holds" not in output
    assert set(dir_state()) == with_sidecars("a.session", "b.session", "c.session")


def test_rows_recorded_before_key_digests_are_refreshed_by_repair(source_dir):
    stored_session_file(source_dir, "a.session", maker=session_files.kurigram_session)
    SessionFile.objects.update(auth_key_sha256="", api_id=None, api_id_in_file=False)

    output, code = sync()
    assert code == 1 and "the row's metadata is out of date" in output

    output, code = sync("--repair")
    row = SessionFile.objects.get()
    assert code == 0 and row.auth_key_sha256 and (row.api_id, row.api_id_in_file) == (2040, True)
    assert sync() == (sync()[0], 0)
