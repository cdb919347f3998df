"""Tests for sessions_admin.inspection: accepted layouts, refusals, and that nothing runs."""

import hashlib
import os
import sqlite3

import pytest

from sessions_admin import inspection
from sessions_admin.inspection import SessionFileRejected, SessionInfo, inspect_session_file
from sessions_admin.tests import session_files
from sessions_admin.tests.fixtures.make_fixtures import FIXTURES

KEY = bytes(range(256))


def _rejection(path) -> str:
    """Return the rejection message for ``path``, failing if it was accepted."""
    with pytest.raises(SessionFileRejected) as info:
        inspect_session_file(path)
    message = str(info.value)
    assert KEY.hex() not in message.lower()
    assert KEY.hex()[:32] not in message.lower()
    assert repr(KEY)[:40] not in message
    return message


# --- Accepted layouts -----------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda fixture: fixture.name)
def test_accepts_every_library_made_fixture(fixture):
    info = inspect_session_file(session_files.fixture_path(fixture.name))

    assert info == SessionInfo(
        fixture.library,
        fixture.layout,
        fixture.dc_id,
        fixture.user_id,
        fixture.is_bot,
        fixture.api_id,
        auth_key_sha256=hashlib.sha256(session_files.fake_auth_key(fixture.name)).hexdigest(),
    )


def test_every_layout_has_a_library_made_fixture():
    assert {layout.name for layout in inspection.LAYOUTS} - {"telethon-6", "pyrogram-2"} <= {
        fixture.layout for fixture in FIXTURES
    }


@pytest.mark.parametrize(
    "factory, options, expected",
    [
        (session_files.telethon_session, {"dc_id": 2}, SessionInfo("telethon", "telethon-8", 2, None, None)),
        (session_files.telethon_v6_session, {"dc_id": 5}, SessionInfo("telethon", "telethon-6", 5, None, None)),
        (session_files.telethon_upgraded_session, {"dc_id": 1}, SessionInfo("telethon", "telethon-8", 1, None, None)),
        (
            session_files.pyrogram_session,
            {"dc_id": 4, "user_id": 42, "is_bot": False},
            SessionInfo("pyrogram", "pyrogram-3", 4, 42, False, 2040),
        ),
        (
            session_files.pyrogram_session,
            {"dc_id": 1, "user_id": 7_000_000_001, "is_bot": True},
            SessionInfo("pyrogram", "pyrogram-3", 1, 7_000_000_001, True, 2040),
        ),
        (
            session_files.pyrogram_v2_session,
            {"dc_id": 3, "user_id": 99, "is_bot": True},
            SessionInfo("pyrogram", "pyrogram-2", 3, 99, True),
        ),
        (
            session_files.pyrogram_upgraded_session,
            {"dc_id": 2, "user_id": 5, "is_bot": False},
            SessionInfo("pyrogram", "kurigram-7", 2, 5, False),
        ),
        (
            session_files.kurigram_session,
            {"dc_id": 5, "user_id": 11, "is_bot": False},
            SessionInfo("pyrogram", "kurigram-7", 5, 11, False, 2040),
        ),
        (
            session_files.kurigram_schema_session,
            {"dc_id": 5, "user_id": 11, "is_bot": False},
            SessionInfo("pyrogram", "kurigram-7", 5, 11, False, 2040),
        ),
        (
            session_files.kurigram_upgraded_session,
            {"dc_id": 4, "user_id": 12, "is_bot": True},
            SessionInfo("pyrogram", "kurigram-7", 4, 12, True, 2040),
        ),
        (
            session_files.pyrofork_session,
            {"dc_id": 2, "user_id": 13, "is_bot": False},
            SessionInfo("pyrogram", "pyrofork-4", 2, 13, False, 2040),
        ),
        (
            session_files.pyrofork_upgraded_session,
            {"dc_id": 1, "user_id": 14, "is_bot": False},
            SessionInfo("pyrogram", "pyrofork-4", 1, 14, False, 2040),
        ),
    ],
)
def test_accepts_known_layout(tmp_path, factory, options, expected):
    path = factory(tmp_path, auth_key=KEY, **options)

    info = inspect_session_file(path)

    assert info == SessionInfo(**{**vars(expected), "auth_key_sha256": hashlib.sha256(KEY).hexdigest()})


def test_accepts_a_file_not_named_dot_session(tmp_path):
    path = session_files.pyrogram_session(tmp_path, "upload.bin", auth_key=KEY)

    assert path.name == "upload.bin"
    assert inspect_session_file(path).layout == "pyrogram-3"


def test_accepts_a_session_with_cached_entities(tmp_path):
    path = session_files.large_session(tmp_path, rows=2_000)

    assert inspect_session_file(path).layout == "telethon-8"


def test_accepts_a_temporary_key_kept_on_disk(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, "UPDATE sessions SET tmp_auth_key = ?", parameters=(bytes(256),))

    assert inspect_session_file(path).layout == "telethon-8"


def test_refuses_a_temporary_key_of_the_wrong_length(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, "UPDATE sessions SET tmp_auth_key = ?", parameters=(bytes(17),))

    assert _rejection(path) == "tmp_auth_key must be empty or a 256-byte BLOB, found a 17-byte BLOB"


def test_upgraded_pyrogram_file_has_the_added_columns_last(tmp_path):
    path = session_files.pyrogram_upgraded_session(tmp_path)

    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(sessions)")]
    conn.close()
    assert columns[-3:] == ["api_id", "server_address", "port"]


def test_upgraded_telethon_file_was_upgraded_by_telethon(tmp_path):
    path = session_files.telethon_upgraded_session(tmp_path)

    conn = sqlite3.connect(path)
    version = conn.execute("SELECT version FROM version").fetchall()
    conn.close()
    assert version == [(8,)]


def test_library_sql_copies_match_installed_libraries():
    from pyrogram.storage import sqlite_storage

    assert inspection.KURIGRAM_V7_SQL == sqlite_storage.SCHEMA
    assert sqlite_storage.SQLiteStorage.VERSION == 7


def test_telethon_layout_matches_installed_telethon():
    from telethon.sessions import sqlite

    assert sqlite.CURRENT_VERSION == 8
    assert [layout.version for layout in inspection.LAYOUTS if layout.library == "telethon"] == [8, 7, 6]


def test_every_layout_variant_is_distinct_from_other_layouts():
    references = inspection.reference_schemas()
    for layout_a, _label_a, schema_a in references:
        for layout_b, _label_b, schema_b in references:
            if layout_a is not layout_b:
                assert inspection.schema_differences(schema_a, schema_b, layout_b.name)


# --- Files from a newer release than this server knows --------------------


@pytest.mark.parametrize(
    "fixture, sql, found",
    [
        ("telethon-1.45.0.session", "UPDATE version SET version = 9", "(version 9)"),
        (
            "telethon-1.45.0.session",
            "ALTER TABLE sessions ADD COLUMN flags integer",
            "(version 8 with new columns sessions.flags)",
        ),
        ("kurigram-2.2.26.session", "UPDATE version SET number = 8; CREATE TABLE stories (id INTEGER)", "(version 8)"),
        (
            "pyrofork-2.3.69.session",
            "ALTER TABLE peers ADD COLUMN is_premium INTEGER",
            "(version 4 with new columns peers.is_premium)",
        ),
    ],
)
def test_a_newer_release_is_named_with_the_supported_versions(tmp_path, fixture, sql, found):
    path = session_files.fixture_session(tmp_path, fixture=fixture)
    session_files.execute_sql(path, sql)

    message = _rejection(path)

    family = "Telethon" if fixture.startswith("telethon") else "Pyrogram-family"
    assert found in message
    assert f"newer than this server knows {found}" in message
    assert f"this server reads {family} session versions" in message
    assert ("8 (Telethon 1.43.0 to 1.45.0)" in message) == (family == "Telethon")
    assert ("7 (Kurigram 2.2.26)" in message) == (family != "Telethon")
    assert message.endswith("Upgrade adbot-admin to accept it.")


@pytest.mark.parametrize(
    "sql, expected",
    [
        (
            "UPDATE version SET version = 9; CREATE TRIGGER t AFTER UPDATE ON sessions BEGIN SELECT 1; END",
            "unexpected trigger 't'",
        ),
        ("UPDATE version SET version = 9; CREATE VIEW v AS SELECT 1", "unexpected view 'v'"),
        ("ALTER TABLE sessions ADD COLUMN flags integer; CREATE TABLE loot (data BLOB)", "unexpected table 'loot'"),
    ],
)
def test_a_newer_version_never_hides_a_hostile_schema(tmp_path, sql, expected):
    path = session_files.fixture_session(tmp_path, fixture="telethon-1.45.0.session")
    session_files.execute_sql(path, sql)

    message = _rejection(path)

    assert expected in message
    assert "newer" not in message


# --- Refusals before SQLite opens the file --------------------------------


@pytest.mark.parametrize(
    "factory, expected",
    [
        (session_files.empty_session, "the file is empty"),
        (session_files.text_session, "not an SQLite database"),
        (session_files.header_only_session, "shorter than the 100-byte SQLite header"),
        (session_files.truncated_session, "file is truncated: header says"),
        (session_files.trailing_garbage_session, "file has trailing data"),
        (session_files.stale_page_count_session, "page count is stale"),
    ],
)
def test_refuses_before_opening(tmp_path, factory, expected):
    path = factory(tmp_path)

    assert expected in _rejection(path)


def test_truncation_message_gives_the_numbers(tmp_path):
    path = session_files.truncated_session(tmp_path, auth_key=KEY)
    size = path.stat().st_size
    page_size = session_files.header_page_size(path)

    message = _rejection(path)

    expected_pages = size // page_size + 1
    assert message == (
        f"file is truncated: header says {expected_pages} pages of {page_size} bytes but file has {size} bytes"
    )


def test_refuses_a_directory(tmp_path):
    assert "not a regular file" in _rejection(tmp_path)


def test_refuses_a_missing_file(tmp_path):
    assert "cannot be read" in _rejection(tmp_path / "absent.session")


# --- Refusals by layout ---------------------------------------------------


@pytest.mark.parametrize(
    "factory, expected",
    [
        (session_files.extra_table_session, "unexpected table 'loot'"),
        (session_files.extra_index_session, "unexpected index 'idx_sessions_key'"),
        (session_files.added_trigger_session, "unexpected trigger 'steal_key'"),
        (
            session_files.altered_trigger_session,
            "trigger 'trg_peers_last_update_on' differs from pyrogram-3's definition",
        ),
        (session_files.sessions_view_session, "'sessions' must be a table, not a view"),
        (session_files.missing_column_session, "table 'sessions' has columns"),
        (session_files.wrong_version_session, "the version table says 6 but the schema is telethon-8"),
    ],
)
def test_refuses_a_layout_no_library_writes(tmp_path, factory, expected):
    path = factory(tmp_path, auth_key=KEY)

    message = _rejection(path)

    assert expected in message


def test_closest_layout_is_named(tmp_path):
    path = session_files.added_trigger_session(tmp_path, auth_key=KEY)

    assert "(closest is telethon-8)" in _rejection(path)


def test_refuses_a_database_that_is_not_a_session(tmp_path):
    path = tmp_path / "other.session"
    session_files.execute_sql(path, "CREATE TABLE notes (body TEXT)")

    assert "there is no 'sessions' table" in _rejection(path)


def test_refuses_a_check_constraint_the_library_never_writes(tmp_path):
    path = session_files.pyrogram_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(
        path,
        """
        PRAGMA writable_schema=ON;
        UPDATE sqlite_master SET sql = replace(sql, 'is_bot    INTEGER', 'is_bot INTEGER CHECK (abs(1))')
         WHERE name = 'sessions';
    """,
    )

    assert "table 'sessions' differs from pyrogram-3's definition" in _rejection(path)


def test_refuses_a_column_type_change(tmp_path):
    path = session_files.pyrogram_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(
        path,
        """
        PRAGMA writable_schema=ON;
        UPDATE sqlite_master SET sql = replace(sql, 'auth_key  BLOB', 'auth_key  TEXT')
         WHERE name = 'sessions';
    """,
    )

    assert "columns of table 'sessions' are declared differently" in _rejection(path)


def test_refuses_a_virtual_table_named_like_a_real_one(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, "DROP TABLE entities; CREATE VIRTUAL TABLE entities USING rtree(id, a, b)")

    assert "'entities' must be a plain table, not a virtual table" in _rejection(path)


def test_refuses_hostile_object_names_printably(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, 'CREATE TABLE "evil\nname" (x)')

    assert "unexpected table 'evil\\nname'" in _rejection(path)


# --- Refusals by content --------------------------------------------------


def test_refuses_two_rows_in_sessions(tmp_path):
    path = session_files.two_rows_session(tmp_path, auth_key=KEY)

    assert _rejection(path) == "expected exactly one row in sessions, found 2"


def test_refuses_an_empty_sessions_table(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, "DELETE FROM sessions")

    assert _rejection(path) == "expected exactly one row in sessions, found 0"


@pytest.mark.parametrize("key_bytes", [255, 257])
def test_refuses_an_auth_key_of_the_wrong_length(tmp_path, key_bytes):
    path = session_files.short_key_session(tmp_path, key_bytes=key_bytes)

    assert _rejection(path) == f"auth key must be 256 bytes, found {key_bytes}"


@pytest.mark.parametrize(
    "maker",
    [
        lambda directory: session_files.pyrogram_session(directory, logged_in=False),
        # Telethon writes no key as an empty BLOB.
        lambda directory: session_files.short_key_session(directory, key_bytes=0),
    ],
    ids=["pyrogram NULL", "telethon empty"],
)
def test_refuses_a_session_that_never_logged_in(tmp_path, maker):
    assert "no auth key" in _rejection(maker(tmp_path))


def test_refuses_an_auth_key_stored_as_text(tmp_path):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, "UPDATE sessions SET auth_key = ?", parameters=(KEY.hex(),))

    assert _rejection(path) == "auth key must be a BLOB, found str"


@pytest.mark.parametrize("dc_id", [0, 6, 203, -1])
def test_refuses_an_unknown_data_centre(tmp_path, dc_id):
    path = session_files.pyrogram_session(tmp_path, dc_id=dc_id, auth_key=KEY)

    assert _rejection(path) == f"dc_id must be a data centre from 1 to 5, found {dc_id}"


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("UPDATE sessions SET user_id = 'me'", "user_id must be a positive integer, found 'me'"),
        ("UPDATE sessions SET user_id = -5", "user_id must be a positive integer, found -5"),
        ("UPDATE sessions SET is_bot = 2", "is_bot must be 0 or 1, found 2"),
    ],
)
def test_refuses_implausible_user_fields(tmp_path, sql, expected):
    path = session_files.pyrogram_session(tmp_path, auth_key=KEY)
    session_files.execute_sql(path, sql)

    assert _rejection(path) == expected


def test_refuses_corrupt_pages_as_unreadable(tmp_path):
    path = session_files.corrupt_pages_session(tmp_path, auth_key=KEY)

    message = _rejection(path)

    assert "not a readable SQLite database" in message or "quick_check failed" in message


def test_refuses_when_inspection_runs_out_of_time(tmp_path):
    path = session_files.large_session(tmp_path, auth_key=KEY)

    with pytest.raises(SessionFileRejected, match="took longer than 0 s"):
        inspect_session_file(path, timeout_seconds=0)


# --- Nothing in the file ever runs or changes -----------------------------


@pytest.mark.parametrize(
    "factory",
    [
        session_files.added_trigger_session,
        session_files.altered_trigger_session,
        session_files.sessions_view_session,
        session_files.telethon_session,
        session_files.pyrogram_session,
    ],
)
def test_inspection_leaves_the_file_and_directory_unchanged(tmp_path, factory):
    path = factory(tmp_path, auth_key=KEY)
    before = path.read_bytes()
    modified = os.stat(path).st_mtime_ns
    listing = sorted(tmp_path.iterdir())

    try:
        inspect_session_file(path)
    except SessionFileRejected:
        pass

    assert path.read_bytes() == before
    assert os.stat(path).st_mtime_ns == modified
    assert sorted(tmp_path.iterdir()) == listing


def test_hostile_trigger_still_matches_its_body_after_inspection(tmp_path):
    path = session_files.added_trigger_session(tmp_path, auth_key=KEY)

    _rejection(path)

    conn = sqlite3.connect(path)
    stolen = conn.execute("SELECT count(*) FROM entities WHERE id = 666").fetchone()
    conn.close()
    assert stolen == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM sessions",
        "UPDATE sessions SET dc_id = 1",
        "INSERT INTO entities (id, hash) VALUES (1, 1)",
        "CREATE TABLE x (y)",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA writable_schema=ON",
        "PRAGMA journal_mode=WAL",
        "SELECT hex(auth_key) FROM sessions",
        "SELECT load_extension('x')",
    ],
)
def test_locked_down_connection_refuses_anything_but_reading(tmp_path, statement):
    path = session_files.telethon_session(tmp_path, auth_key=KEY)
    conn = inspection.open_locked_down(path, lambda: 0)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute(statement).fetchall()
        assert conn.execute("SELECT dc_id FROM sessions").fetchall() == [(2,)]
    finally:
        conn.close()


def test_locked_down_connection_never_reads_through_a_view(tmp_path):
    path = session_files.sessions_view_session(tmp_path, auth_key=KEY)
    conn = inspection.open_locked_down(path, lambda: 0)
    try:
        with pytest.raises(sqlite3.DatabaseError):
            conn.execute("SELECT * FROM sessions").fetchall()
    finally:
        conn.close()


# --- Schema normalisation -------------------------------------------------


def test_normalise_sql_ignores_layout_but_not_content():
    plain = inspection.normalise_sql("CREATE TABLE t (a INTEGER DEFAULT 'X')")

    assert inspection.normalise_sql("create  table\n t(a integer -- note\n default 'X')") == plain
    assert inspection.normalise_sql("CREATE TABLE [T] (`a` INTEGER DEFAULT 'X')") == inspection.normalise_sql(
        'CREATE TABLE "t" ("A" INTEGER DEFAULT \'X\')'
    )
    assert inspection.normalise_sql("CREATE TABLE t (a INTEGER DEFAULT 'x')") != plain
