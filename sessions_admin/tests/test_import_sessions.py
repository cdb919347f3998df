"""manage.py import_sessions: a folder of pairs and tdata folders by the zip import's rules, with its report."""

import os
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from adbot_admin.models import AuditEvent, AuthMethod, Outcome
from sessions_admin.models import SessionFile

from .conftest import dir_state, sessions_dir, table_state
from .fixtures.make_fixtures import fixture_path
from .fixtures.make_tdata_fixtures import USER_ID

FIXTURES = fixture_path("x").parent

pytestmark = pytest.mark.usefixtures("upload_tmp")


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "bought"
    (root / "telethon").mkdir(parents=True)
    shutil.copy(fixture_path("kurigram-2.2.26.session"), root / "kurigram-2.2.26.session")
    shutil.copy(fixture_path("telethon-1.41.2.session"), root / "telethon" / "telethon-1.41.2.session")
    shutil.copytree(FIXTURES / "tdata-telethon-1.45.0", root / "desktop" / "tdata")
    (root / "desktop" / "tdata" / "user_data").mkdir()
    (root / "desktop" / "tdata" / "user_data" / "cache").write_bytes(b"x" * 1000)
    (root / "notes.txt").write_text("read me")
    return root


def run(folder, *options):
    out = StringIO()
    call_command("import_sessions", str(folder), *options, stdout=out)
    return out.getvalue()


def test_pairs_and_tdata_import_with_mode_0600_audited_and_reported(db, folder):
    report = run(folder)

    names = {"kurigram-2.2.26.session", "telethon-1.41.2.session", f"{USER_ID}.session"}
    assert set(SessionFile.objects.values_list("filename", flat=True)) == names
    for name in names:
        assert os.stat(sessions_dir() / name).st_mode & 0o777 == 0o600
        assert f"imported  {name}" in report
    assert "skipped   notes.txt" in report
    assert "user_data" not in report
    assert "3 imported, 0 refused, 1 skipped" in report
    uploads = AuditEvent.objects.filter(action="session_file.upload", outcome=Outcome.SUCCESS)
    assert set(uploads.values_list("target", flat=True)) == names
    assert set(uploads.values_list("auth_method", flat=True)) == {AuthMethod.SHELL}
    summary = AuditEvent.objects.get(action="session_file.import")
    assert summary.detail["imported"] == 3 and summary.detail["folder"] == str(folder)


def test_anything_refused_exits_1_after_the_report(db, folder):
    (folder / "broken.session").write_bytes(b"SQLite format 3\x00" + b"\0" * 200)
    os.symlink(fixture_path("telethon-1.45.0.session"), folder / "linked.session")
    out = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_sessions", str(folder), stdout=out)

    assert refused.value.returncode == 1
    assert "3 imported, 2 refused" in str(refused.value)
    report = out.getvalue()
    assert "refused   broken.session: corrupt_database:" in report
    assert "refused   linked.session: symlink:" in report
    assert not SessionFile.objects.filter(filename__in=["broken.session", "linked.session"]).exists()


def test_dry_run_checks_everything_and_stores_nothing(db, folder):
    before_files, before_rows = dir_state(), table_state()
    (folder / "broken.session").write_bytes(b"not sqlite")

    with pytest.raises(CommandError) as refused:
        run(folder, "--dry-run")

    assert "3 would import, 1 refused" in str(refused.value)
    assert "(dry run: nothing was stored)" in str(refused.value)
    assert dir_state() == before_files and table_state() == before_rows
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["session_file.import"]
    assert AuditEvent.objects.get().detail["dry_run"] is True


def test_a_second_run_refuses_what_the_first_stored(db, folder):
    run(folder)

    with pytest.raises(CommandError) as refused:
        run(folder)

    assert "0 imported, 3 refused" in str(refused.value)


def test_a_path_that_is_not_a_folder_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="not_a_folder"):
        run(tmp_path / "missing")


def test_a_sidecar_beside_its_session_is_read_and_a_bad_one_refuses_by_key(db, folder):
    sidecars = FIXTURES / "sidecars"
    shutil.copy(sidecars / "seller-api-keys.json", folder / "telethon" / "telethon-1.41.2.json")
    (folder / "kurigram-2.2.26.json").write_text('{"app_id": "not a number"}')
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("import_sessions", str(folder), stdout=out)

    row = SessionFile.objects.get(filename="telethon-1.41.2.session")
    assert (row.phone, row.username) == ("15555550101", "fixture_one")
    assert (sessions_dir() / "telethon-1.41.2.json").exists()
    assert "refused   kurigram-2.2.26.session: invalid_sidecar: app_id:" in out.getvalue()
    assert ".json" not in out.getvalue()  # each read as its session's sidecar, never skipped
