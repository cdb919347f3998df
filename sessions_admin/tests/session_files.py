"""Factories that write real Telegram ``.session`` files, good and hostile, offline.

Every factory takes the directory to write into and a file name and returns
the Path it wrote. Current Telethon and Kurigram files are made by the
installed libraries (runtime dependencies, for string sessions); Pyrogram
2.0.106 files start from its committed fixture (tests/fixtures/, written by
the real release by make_fixtures.py); older layouts and Pyrofork are made
from their schema SQL, copied below from the library sources. These copies
are kept apart from inspection/layouts.py's on purpose, so a copying mistake in either
shows up as a failing test. No factory touches the network.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import struct
from pathlib import Path

from .fixtures.make_fixtures import fake_auth_key, fixture_path  # noqa: F401 (re-exported for tests)

DEFAULT_NAME = "acct.session"
SESSION_SUFFIX = ".session"
AUTH_KEY_BYTES = 256

# Telegram's production data centres, as the libraries store them.
DC_ADDRESSES = {
    1: "149.154.175.53",
    2: "149.154.167.51",
    3: "149.154.175.100",
    4: "149.154.167.91",
    5: "91.108.56.130",
}

# --- Schema SQL copied from the library sources ---------------------------

# Telethon 1.10.0 telethon/sessions/sqlite.py, SQLiteSession.__init__ (each
# definition run as 'create table {}'); version 5 and 6 files share it.
TELETHON_V6_SCHEMA = """
create table version (version integer primary key);
create table sessions (
                    dc_id integer primary key,
                    server_address text,
                    port integer,
                    auth_key blob,
                    takeout_id integer
                );
create table entities (
                    id integer primary key,
                    hash integer not null,
                    username text,
                    phone integer,
                    name text
                );
create table sent_files (
                    md5_digest blob,
                    file_size integer,
                    type integer,
                    id integer,
                    hash integer,
                    primary key(md5_digest, file_size, type)
                );
create table update_state (
                    id integer primary key,
                    pts integer,
                    qts integer,
                    date integer,
                    seq integer
                );
"""

# Pyrogram 1.4.16 pyrogram/storage/sqlite_storage.py SCHEMA (VERSION = 2).
PYROGRAM_V2_SCHEMA = """
CREATE TABLE sessions
(
    dc_id     INTEGER PRIMARY KEY,
    test_mode INTEGER,
    auth_key  BLOB,
    date      INTEGER NOT NULL,
    user_id   INTEGER,
    is_bot    INTEGER
);

CREATE TABLE peers
(
    id             INTEGER PRIMARY KEY,
    access_hash    INTEGER,
    type           INTEGER NOT NULL,
    username       TEXT,
    phone_number   TEXT,
    last_update_on INTEGER NOT NULL DEFAULT (CAST(STRFTIME('%s', 'now') AS INTEGER))
);

CREATE TABLE version
(
    number INTEGER PRIMARY KEY
);

CREATE INDEX idx_peers_id ON peers (id);
CREATE INDEX idx_peers_username ON peers (username);
CREATE INDEX idx_peers_phone_number ON peers (phone_number);

CREATE TRIGGER trg_peers_last_update_on
    AFTER UPDATE
    ON peers
BEGIN
    UPDATE peers
    SET last_update_on = CAST(STRFTIME('%s', 'now') AS INTEGER)
    WHERE id = NEW.id;
END;
"""

# Kurigram 2.2.26 pyrogram/storage/sqlite_storage.py SCHEMA (VERSION = 7).
KURIGRAM_SCHEMA = """
CREATE TABLE sessions
(
    dc_id          INTEGER PRIMARY KEY,
    server_address TEXT,
    port           INTEGER,
    api_id         INTEGER,
    test_mode      INTEGER,
    auth_key       BLOB,
    date           INTEGER NOT NULL,
    user_id        INTEGER,
    is_bot         INTEGER
);

CREATE TABLE peers
(
    id             INTEGER PRIMARY KEY,
    access_hash    INTEGER,
    type           INTEGER NOT NULL,
    phone_number   TEXT,
    last_update_on INTEGER NOT NULL DEFAULT (CAST(STRFTIME('%s', 'now') AS INTEGER))
);

CREATE TABLE usernames
(
    id       INTEGER,
    username TEXT,
    FOREIGN KEY (id) REFERENCES peers(id)
);

CREATE TABLE update_state
(
    id   INTEGER PRIMARY KEY,
    pts  INTEGER,
    qts  INTEGER,
    date INTEGER,
    seq  INTEGER
);

CREATE TABLE version
(
    number INTEGER PRIMARY KEY
);

CREATE INDEX idx_peers_id ON peers (id);
CREATE INDEX idx_peers_phone_number ON peers (phone_number);
CREATE INDEX idx_usernames_id ON usernames (id);
CREATE INDEX idx_usernames_username ON usernames (username);

CREATE TRIGGER trg_peers_last_update_on
    AFTER UPDATE
    ON peers
BEGIN
    UPDATE peers
    SET last_update_on = CAST(STRFTIME('%s', 'now') AS INTEGER)
    WHERE id = NEW.id;
END;
"""
KURIGRAM_VERSION = 7

# Pyrofork 2.3.69 pyrogram/storage/sqlite_storage.py SCHEMA + UNAME_SCHEMA,
# both run by SQLiteStorage.create() (VERSION = 4).
PYROFORK_SCHEMA = """
CREATE TABLE sessions
(
    dc_id     INTEGER PRIMARY KEY,
    api_id    INTEGER,
    test_mode INTEGER,
    auth_key  BLOB,
    date      INTEGER NOT NULL,
    user_id   INTEGER,
    is_bot    INTEGER
);

CREATE TABLE peers
(
    id             INTEGER PRIMARY KEY,
    access_hash    INTEGER,
    type           INTEGER NOT NULL,
    username       TEXT,
    phone_number   TEXT,
    last_update_on INTEGER NOT NULL DEFAULT (CAST(STRFTIME('%s', 'now') AS INTEGER))
);

CREATE TABLE update_state
(
    id   INTEGER PRIMARY KEY,
    pts  INTEGER,
    qts  INTEGER,
    date INTEGER,
    seq  INTEGER
);

CREATE TABLE version
(
    number INTEGER PRIMARY KEY
);

CREATE INDEX idx_peers_id ON peers (id);
CREATE INDEX idx_peers_username ON peers (username);
CREATE INDEX idx_peers_phone_number ON peers (phone_number);

CREATE TRIGGER trg_peers_last_update_on
    AFTER UPDATE
    ON peers
BEGIN
    UPDATE peers
    SET last_update_on = CAST(STRFTIME('%s', 'now') AS INTEGER)
    WHERE id = NEW.id;
END;

CREATE TABLE IF NOT EXISTS usernames
(
    id             TEXT PRIMARY KEY,
    peer_id        INTEGER NOT NULL,
    last_update_on INTEGER NOT NULL DEFAULT (CAST(STRFTIME('%s', 'now') AS INTEGER))
);

CREATE TRIGGER IF NOT EXISTS trg_usernames_last_update_on
    AFTER UPDATE
    ON usernames
BEGIN
    UPDATE usernames
    SET last_update_on = CAST(STRFTIME('%s', 'now') AS INTEGER)
    WHERE id = NEW.id;
END;
"""
PYROFORK_VERSION = 4

# Pyrofork 2.3.69 FileStorage.update(), step 3 -> 4 (UPDATE_STATE_SCHEMA).
PYROFORK_UPGRADE_FROM_V3 = """
CREATE TABLE update_state
(
    id   INTEGER PRIMARY KEY,
    pts  INTEGER,
    qts  INTEGER,
    date INTEGER,
    seq  INTEGER
);
"""


# --- Building blocks ------------------------------------------------------


def new_auth_key() -> bytes:
    """Return a random 256-byte auth key."""
    return os.urandom(AUTH_KEY_BYTES)


def execute_sql(path: Path, *scripts: str, parameters: tuple = ()) -> Path:
    """Run trusted SQL scripts against an existing file and return its path.

    With ``parameters``, exactly one statement is given and they bind to it.
    """
    if parameters and len(scripts) != 1:
        raise ValueError("parameters need exactly one statement")
    conn = sqlite3.connect(path)
    try:
        for script in scripts:
            if parameters:
                conn.execute(script, parameters)
            else:
                conn.executescript(script)
        conn.commit()
    finally:
        conn.close()
    return path


def write_bytes(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` and return the path."""
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def patch_bytes(path: Path, offset: int, data: bytes) -> Path:
    """Overwrite bytes of ``path`` at ``offset`` in place and return the path."""
    with open(path, "r+b") as file:
        file.seek(offset)
        file.write(data)
    return path


def _rename_into_place(built: Path, directory: Path, name: str) -> Path:
    """Return ``directory/name`` after moving the library-named file there."""
    target = Path(directory) / name
    if built != target:
        shutil.move(built, target)
    return target


def _library_stem(name: str) -> str:
    """Return the name both libraries turn into ``<stem>.session``."""
    return name[: -len(SESSION_SUFFIX)] if name.endswith(SESSION_SUFFIX) else f"{name}.build"


def _schema_file(directory: Path, name: str, schema: str, version: int, version_column: str, row: dict) -> Path:
    """Write a session file from schema SQL, a version number and one sessions row."""
    path = Path(directory) / name
    if path.exists():
        raise FileExistsError(path)
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    conn = sqlite3.connect(path)
    try:
        conn.executescript(schema)
        conn.execute(f"INSERT INTO version ({version_column}) VALUES (?)", (version,))
        conn.execute(f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(row.values()))
        conn.commit()
    finally:
        conn.close()
    return path


def _pyrogram_row(dc_id, auth_key, user_id, is_bot, **extra) -> dict:
    return {
        "dc_id": dc_id,
        **extra,
        "test_mode": 0,
        "auth_key": auth_key,
        "date": 1_700_000_000,
        "user_id": user_id,
        "is_bot": int(is_bot),
    }


# --- Accepted layouts -----------------------------------------------------


def fixture_session(directory, name=DEFAULT_NAME, *, fixture: str) -> Path:
    """Return a copy of the committed library-made fixture `fixture` (tests/fixtures/)."""
    target = Path(directory) / name
    if target.exists():
        raise FileExistsError(target)
    shutil.copyfile(fixture_path(fixture), target)
    return target


def _rewrite_row(path: Path, **values) -> Path:
    """Set columns of the one sessions row (trusted names from this module only)."""
    if values:
        assignments = ", ".join(f"{column} = ?" for column in values)
        execute_sql(path, f"UPDATE sessions SET {assignments}", parameters=tuple(values.values()))
    return path


def telethon_session(directory, name=DEFAULT_NAME, *, dc_id=2, auth_key=None) -> Path:
    """Return a session written by the installed Telethon's SQLiteSession (1.45.0: version 8)."""
    from telethon.crypto import AuthKey
    from telethon.sessions import SQLiteSession

    stem = _library_stem(name)
    session = SQLiteSession(str(Path(directory) / stem))
    session.set_dc(dc_id, DC_ADDRESSES.get(dc_id, "127.0.0.1"), 443)
    session.auth_key = AuthKey(new_auth_key() if auth_key is None else auth_key)
    session.save()
    session.close()
    return _rename_into_place(Path(directory) / f"{stem}{SESSION_SUFFIX}", directory, name)


def pyrogram_session(
    directory,
    name=DEFAULT_NAME,
    *,
    dc_id=2,
    user_id=123456789,
    is_bot=False,
    auth_key=None,
    logged_in=True,
    api_id=2040,
) -> Path:
    """Return a Pyrogram 2.0.106 file (version 3, the committed fixture) holding the given row.

    Pyrogram cannot be installed beside Kurigram (both are the `pyrogram`
    module), so the file is the library-made fixture with its row set here.
    With ``logged_in=False`` the row is as Pyrogram leaves it before login
    (no auth key, no user, no api_id).
    """
    path = fixture_session(directory, name, fixture="pyrogram-2.0.106.session")
    if not logged_in:
        return _rewrite_row(path, dc_id=2, api_id=None, auth_key=None, user_id=None, is_bot=None)
    return _rewrite_row(
        path,
        dc_id=dc_id,
        api_id=api_id,
        auth_key=new_auth_key() if auth_key is None else auth_key,
        user_id=user_id,
        is_bot=int(is_bot),
    )


async def _kurigram_open(directory, stem, **values):
    """Open `stem`.session with the installed Kurigram (creating or upgrading it), set `values`, save."""
    from pyrogram.storage import SQLiteStorage

    storage = SQLiteStorage(stem, Path(directory))
    await storage.open()
    for setter, value in values.items():
        await getattr(storage, setter)(value)
    await storage.save()
    await storage.close()


def kurigram_session(
    directory, name=DEFAULT_NAME, *, dc_id=2, user_id=123456789, is_bot=False, auth_key=None, api_id=2040
) -> Path:
    """Return a session written by the installed Kurigram's SQLiteStorage (2.2.26: version 7)."""
    stem = _library_stem(name)
    asyncio.run(
        _kurigram_open(
            directory,
            stem,
            dc_id=dc_id,
            server_address=DC_ADDRESSES.get(dc_id, "127.0.0.1"),
            port=443,
            api_id=api_id,
            test_mode=False,
            auth_key=new_auth_key() if auth_key is None else auth_key,
            user_id=user_id,
            is_bot=is_bot,
        )
    )
    return _rename_into_place(Path(directory) / f"{stem}{SESSION_SUFFIX}", directory, name)


def kurigram_schema_session(
    directory, name=DEFAULT_NAME, *, dc_id=2, user_id=123456789, is_bot=False, auth_key=None
) -> Path:
    """Return a Kurigram version-7 session built from this module's copy of its schema (the oracle)."""
    row = _pyrogram_row(
        dc_id,
        new_auth_key() if auth_key is None else auth_key,
        user_id,
        is_bot,
        server_address=DC_ADDRESSES.get(dc_id, "127.0.0.1"),
        port=443,
        api_id=2040,
    )
    return _schema_file(directory, name, KURIGRAM_SCHEMA, KURIGRAM_VERSION, "number", row)


def telethon_v6_session(directory, name=DEFAULT_NAME, *, dc_id=2, auth_key=None) -> Path:
    """Return a Telethon version-6 session (entities has no date column)."""
    return _schema_file(
        directory,
        name,
        TELETHON_V6_SCHEMA,
        6,
        "version",
        {
            "dc_id": dc_id,
            "server_address": DC_ADDRESSES.get(dc_id, "127.0.0.1"),
            "port": 443,
            "auth_key": new_auth_key() if auth_key is None else auth_key,
            "takeout_id": None,
        },
    )


def pyrogram_v2_session(
    directory, name=DEFAULT_NAME, *, dc_id=2, user_id=123456789, is_bot=False, auth_key=None
) -> Path:
    """Return a Pyrogram version-2 session (sessions has no api_id column)."""
    row = _pyrogram_row(dc_id, new_auth_key() if auth_key is None else auth_key, user_id, is_bot)
    return _schema_file(directory, name, PYROGRAM_V2_SCHEMA, 2, "number", row)


def pyrofork_session(directory, name=DEFAULT_NAME, *, dc_id=2, user_id=123456789, is_bot=False, auth_key=None) -> Path:
    """Return a session in Pyrofork's current (version 4) layout, from this module's schema copy."""
    row = _pyrogram_row(
        dc_id,
        new_auth_key() if auth_key is None else auth_key,
        user_id,
        is_bot,
        api_id=2040,
    )
    return _schema_file(directory, name, PYROFORK_SCHEMA, PYROFORK_VERSION, "number", row)


def pyrogram_upgraded_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a Pyrogram version-2 file upgraded in place by the installed Kurigram (to 7).

    Kurigram runs ``ALTER TABLE sessions ADD ...`` for api_id, then
    server_address and port, so those are the last columns.
    """
    path = pyrogram_v2_session(directory, name, **options)
    stem = _library_stem(name)
    staged = _rename_into_place(path, directory, f"{stem}{SESSION_SUFFIX}")
    asyncio.run(_kurigram_open(directory, stem))
    return _rename_into_place(staged, directory, name)


def telethon_upgraded_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a Telethon version-6 file upgraded in place by the installed Telethon (to 8)."""
    from telethon.sessions import SQLiteSession

    path = telethon_v6_session(directory, name, **options)
    stem = _library_stem(name)
    staged = _rename_into_place(path, directory, f"{stem}{SESSION_SUFFIX}")
    SQLiteSession(str(Path(directory) / stem)).close()
    return _rename_into_place(staged, directory, name)


def kurigram_upgraded_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a Pyrogram 2.0.106 file (version 3) upgraded in place by the installed Kurigram (to 7)."""
    path = pyrogram_session(directory, name, **options)
    stem = _library_stem(name)
    staged = _rename_into_place(path, directory, f"{stem}{SESSION_SUFFIX}")
    asyncio.run(_kurigram_open(directory, stem))
    return _rename_into_place(staged, directory, name)


def pyrofork_upgraded_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a Pyrogram 2.0.106 file taken to Pyrofork 4 by Pyrofork's upgrade SQL.

    Pyrofork creates its usernames table lazily, so it is absent here.
    """
    path = pyrogram_session(directory, name, **options)
    return execute_sql(path, PYROFORK_UPGRADE_FROM_V3, "UPDATE version SET number = 4")


# --- Hostile and broken files ---------------------------------------------


def text_session(directory, name=DEFAULT_NAME) -> Path:
    """Return a text file with a .session name."""
    return write_bytes(directory, name, b"api_id=12345\napi_hash=0123456789abcdef\n")


def empty_session(directory, name=DEFAULT_NAME) -> Path:
    """Return an empty file."""
    return write_bytes(directory, name, b"")


def header_only_session(directory, name=DEFAULT_NAME) -> Path:
    """Return the first 60 bytes of a real session: magic present, header cut short."""
    path = telethon_session(directory, name)
    return write_bytes(directory, name, path.read_bytes()[:60])


def truncated_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with its last page cut off."""
    path = telethon_session(directory, name, **options)
    page_size = header_page_size(path)
    with open(path, "r+b") as file:
        file.truncate(path.stat().st_size - page_size)
    return path


def trailing_garbage_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with bytes appended after its last page."""
    path = telethon_session(directory, name, **options)
    with open(path, "ab") as file:
        file.write(b"\x00appended" * 10)
    return path


def stale_page_count_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session whose header page count is not vouched for.

    The "version-valid-for" number at offset 92 no longer equals the change
    counter at offset 24.
    """
    path = telethon_session(directory, name, **options)
    (counter,) = struct.unpack(">I", path.read_bytes()[24:28])
    return patch_bytes(path, 92, struct.pack(">I", counter + 1))


def corrupt_pages_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with a b-tree page overwritten (size still right)."""
    path = telethon_session(directory, name, **options)
    page_size = header_page_size(path)
    return patch_bytes(path, page_size, b"\xff" * 64)


def extra_table_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with a table the library never makes."""
    return execute_sql(telethon_session(directory, name, **options), "CREATE TABLE loot (data BLOB)")


def extra_index_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Pyrogram session with an index the library never makes."""
    return execute_sql(
        pyrogram_session(directory, name, **options), "CREATE INDEX idx_sessions_key ON sessions (auth_key)"
    )


def added_trigger_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with a trigger that copies the key on any update."""
    return execute_sql(
        telethon_session(directory, name, **options),
        """
        CREATE TRIGGER steal_key AFTER UPDATE ON sessions
        BEGIN
            INSERT INTO entities (id, hash, name) VALUES (666, 0, hex(NEW.auth_key));
        END;
    """,
    )


def altered_trigger_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Pyrogram session whose own peers trigger was rewritten."""
    return execute_sql(
        pyrogram_session(directory, name, **options),
        """
        DROP TRIGGER trg_peers_last_update_on;
        CREATE TRIGGER trg_peers_last_update_on
            AFTER UPDATE
            ON peers
        BEGIN
            UPDATE sessions SET auth_key = zeroblob(256);
        END;
    """,
    )


def sessions_view_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a Telethon-layout file whose ``sessions`` is a view, not a table."""
    return execute_sql(
        telethon_session(directory, name, **options),
        """
        DROP TABLE sessions;
        CREATE VIEW sessions AS
            SELECT 2 AS dc_id, '149.154.167.51' AS server_address, 443 AS port,
                   randomblob(256) AS auth_key, NULL AS takeout_id;
    """,
    )


def missing_column_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Pyrogram session with the is_bot column dropped."""
    return execute_sql(pyrogram_session(directory, name, **options), "ALTER TABLE sessions DROP COLUMN is_bot")


def wrong_version_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon version-8 file whose version row says 6."""
    return execute_sql(telethon_session(directory, name, **options), "UPDATE version SET version = 6")


def two_rows_session(directory, name=DEFAULT_NAME, **options) -> Path:
    """Return a real Telethon session with a second sessions row."""
    return execute_sql(
        telethon_session(directory, name, **options),
        "INSERT INTO sessions VALUES (4, '149.154.167.91', 443, ?, NULL, NULL)",
        parameters=(new_auth_key(),),
    )


def short_key_session(directory, name=DEFAULT_NAME, *, key_bytes=255, **options) -> Path:
    """Return a real Telethon session whose auth key is ``key_bytes`` long."""
    return telethon_session(directory, name, auth_key=os.urandom(key_bytes), **options)


def large_session(directory, name=DEFAULT_NAME, *, rows=20_000, **options) -> Path:
    """Return a real Telethon session with many cached entities."""
    return execute_sql(
        telethon_session(directory, name, **options),
        f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {int(rows)})
        INSERT INTO entities (id, hash, username, name, date)
            SELECT i, i * 7, 'user' || i, 'Name ' || i, 1700000000 FROM n;
    """,
    )


def header_page_size(path: Path) -> int:
    (raw,) = struct.unpack(">H", path.read_bytes()[16:18])
    return 65536 if raw == 1 else raw
