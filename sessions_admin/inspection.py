"""Safe inspection of an uploaded Telegram ``.session`` file.

A ``.session`` file is an SQLite database written by Telethon or by Pyrogram
(or one of its forks: Kurigram, Pyrofork, Hydrogram). It holds the
account's 256-byte auth key, so every file is treated as a credential: no
message raised here ever contains the key, only lengths and names.

The file is never opened with Telethon or Pyrogram code, because their code
writes to the database and so runs any trigger the file carries. Instead:

1. The 100-byte header is read and checked before SQLite sees the file: the
   magic string, a valid page size, and ``file size == page_size *
   page_count``. The in-header page count is only trusted when the
   "version-valid-for" number (offset 92) equals the change counter (offset
   24). When they differ the file is REFUSED rather than sized from its
   length: every supported library uses SQLite >= 3.7.0 (2010), which keeps
   the two in step, so a mismatch means an ancient writer or a hand-made file.
2. SQLite opens the file read-only and immutable (``mode=ro&immutable=1``),
   with ``trusted_schema`` off, extension loading off, the defensive
   ``setconfig`` flags where Python offers them (3.12+), an authorizer that
   allows only SELECT, reads, a few named pragmas and ``count()``, and
   nothing run on behalf of a trigger or view, and a progress handler that
   aborts after ``timeout_seconds``. ``PRAGMA quick_check`` must say "ok".
3. The schema must be exactly one accepted variant of one known layout
   (``LAYOUTS``). Each variant is built by running the library's own SQL
   (copied below) in an in-memory database: the fresh ``CREATE`` script of
   that version, or an older version's script followed by the library's own
   upgrade statements. A file that a library upgraded in place
   (``ALTER TABLE ... ADD COLUMN``, so added columns come last) therefore
   counts as the version it was upgraded to. Upgrade chains start only from
   layouts listed here; anything else is refused.

   The comparison rule: the set of schema objects, keyed by lower-cased
   name, must be equal; each object must have the same type and table; each
   table must have the same columns from ``PRAGMA table_xinfo`` (order, name,
   declared type, not-null, default, primary-key position, hidden); and each
   object's ``CREATE`` text must be equal after normalisation (comments and
   whitespace dropped, words lower-cased, quoted identifiers unified to
   double quotes, string literals kept verbatim). The normalised-text check
   covers what ``table_xinfo`` cannot show (CHECK, COLLATE, trigger bodies).
   ``table_xinfo`` runs only on ordinary tables whose name a layout knows,
   so a hostile name or a virtual table never reaches a pragma.
   A schema that matches no layout but whose version table names a library
   and says a higher version than any known, or that is a known layout with
   columns appended, is refused as a newer release (UnknownSessionVersion,
   naming the versions this server reads); views, virtual tables and foreign
   triggers keep the closest-layout refusal.
4. The ``version`` table must hold exactly one row equal to the layout's
   version, and ``sessions`` exactly one row with ``dc_id`` in 1..5 and a
   256-byte BLOB auth key. Only production data centres 1..5 are accepted:
   Telegram's test servers reuse ids 1..3 (Pyrogram marks them with
   ``test_mode``) and media/CDN ids never own an account's auth key.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sqlite3
import stat
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100
AUTH_KEY_BYTES = 256
DC_IDS = range(1, 6)

# A real schema has a dozen entries of under 1 KiB; limits keep a hostile
# schema from costing time outside SQLite's progress handler.
MAX_SCHEMA_OBJECTS = 64
MAX_SCHEMA_SQL_CHARS = 8_192

# Checked this often (in SQLite VM steps) against the deadline.
PROGRESS_STEPS = 100

ALLOWED_PRAGMAS = frozenset({"quick_check", "table_xinfo"})
ALLOWED_FUNCTIONS = frozenset({"count"})


class SessionFileRejected(Exception):
    """Raised with a human-readable message saying what is wrong with the file.

    The message never includes the auth key.
    """


class UnknownSessionVersion(SessionFileRejected):
    """Raised for a file from a library release newer than any layout this server knows."""


@dataclass(frozen=True)
class SessionInfo:
    """What an accepted session file records about its account."""

    library: str
    layout: str
    dc_id: int
    user_id: int | None
    is_bot: bool | None
    api_id: int | None = None
    # SHA-256 of the auth key, hex: tells two files holding one key apart
    # without keeping the key anywhere but its file.
    auth_key_sha256: str = field(default="", repr=False)


# --- Library SQL, copied verbatim from the libraries' sources -------------
# Each block names the release and file it was copied from (installed with pip
# in a scratch environment and read there); the fixtures under tests/fixtures/
# are written by those releases and must match.

# Telethon 1.45.0 telethon/sessions/sqlite.py, SQLiteSession.__init__: each
# definition is run as 'create table {}'. CURRENT_VERSION = 8 since 1.43.0
# (1.42.0 still wrote 7); 1.43.0 to 1.45.0 write the same schema.
TELETHON_V8_SQL = """
create table version (version integer primary key);
create table sessions (
                    dc_id integer primary key,
                    server_address text,
                    port integer,
                    auth_key blob,
                    takeout_id integer,
                    tmp_auth_key blob
                );
create table entities (
                    id integer primary key,
                    hash integer not null,
                    username text,
                    phone integer,
                    name text,
                    date integer
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

# Telethon 1.45.0 SQLiteSession._upgrade_database, step 7 -> 8.
TELETHON_V7_TO_V8_SQL = """
alter table sessions add column tmp_auth_key blob
"""

# Telethon 1.41.2 telethon/sessions/sqlite.py, SQLiteSession.__init__ (1.24.0
# and 1.42.0 write the same). CURRENT_VERSION = 7.
TELETHON_V7_SQL = """
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
                    name text,
                    date integer
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

# Telethon 1.10.0 telethon/sessions/sqlite.py, the same (CURRENT_VERSION = 5;
# the 5 -> 6 upgrade only empties entities, so version 6 files look alike).
TELETHON_V6_SQL = """
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

# Telethon 1.41.2 SQLiteSession._upgrade_database, step 6 -> 7.
TELETHON_V6_TO_V7_SQL = """
alter table entities add column date integer;
"""

# Pyrogram 1.4.16 pyrogram/storage/sqlite_storage.py SCHEMA, VERSION = 2.
PYROGRAM_V2_SQL = """
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

# Pyrogram 2.0.106 pyrogram/storage/sqlite_storage.py SCHEMA, VERSION = 3.
PYROGRAM_V3_SQL = """
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

# Pyrogram 2.0.106 pyrogram/storage/file_storage.py FileStorage.update, step
# 2 -> 3 (Kurigram and Pyrofork keep the same step).
PYROGRAM_V2_TO_V3_SQL = """
ALTER TABLE sessions ADD api_id INTEGER;
"""

# Kurigram 2.2.26 pyrogram/storage/sqlite_storage.py SCHEMA, VERSION = 7.
KURIGRAM_V7_SQL = """
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

# Kurigram 2.2.0 pyrogram/storage/sqlite_storage.py SCHEMA, VERSION = 6 (the
# same in 2.1.35; 2.2.26 writes version 7).
KURIGRAM_V6_SQL = """
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

# Kurigram 2.2.26 SQLiteStorage.update, steps 3 -> 4 (USERNAMES_SCHEMA),
# 4 -> 5 (UPDATE_STATE_SCHEMA) and 5 -> 6 (Kurigram 2.2.0 FileStorage.update
# runs the same statements).
KURIGRAM_V3_TO_V6_SQL = """
CREATE TABLE usernames
(
    id       INTEGER,
    username TEXT,
    FOREIGN KEY (id) REFERENCES peers(id)
);

CREATE INDEX idx_usernames_username ON usernames (username);

CREATE TABLE update_state
(
    id   INTEGER PRIMARY KEY,
    pts  INTEGER,
    qts  INTEGER,
    date INTEGER,
    seq  INTEGER
);
CREATE INDEX idx_usernames_id ON usernames (id);
"""

# Kurigram 2.2.26 SQLiteStorage.update, step 6 -> 7.
KURIGRAM_V6_TO_V7_SQL = """
ALTER TABLE sessions ADD server_address TEXT;
ALTER TABLE sessions ADD port INTEGER;
"""

# Pyrofork 2.3.69 pyrogram/storage/sqlite_storage.py SCHEMA, VERSION = 4.
PYROFORK_V4_SQL = """
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
"""

# Pyrofork 2.3.69 UNAME_SCHEMA: run by create() and again before every
# update_usernames(), so a file Pyrofork upgraded may not have it yet.
PYROFORK_USERNAMES_SQL = """
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

# Pyrofork 2.3.69 pyrogram/storage/file_storage.py FileStorage.update, step
# 3 -> 4 (UPDATE_STATE_SCHEMA).
PYROFORK_V3_TO_V4_SQL = """
CREATE TABLE update_state
(
    id   INTEGER PRIMARY KEY,
    pts  INTEGER,
    qts  INTEGER,
    date INTEGER,
    seq  INTEGER
);
"""


@dataclass(frozen=True)
class Layout:
    """One library version's file layout, who writes it, and the SQL paths that produce it."""

    name: str
    library: str  # telethon | pyrogram (Pyrogram and its forks share one family)
    version: int
    written_by: str
    variants: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def version_column(self) -> str:
        return "version" if self.library == "telethon" else "number"

    @property
    def records_user(self) -> bool:
        return self.library == "pyrogram"

    @property
    def records_api_id(self) -> bool:
        return self.library == "pyrogram" and self.version >= 3

    @property
    def has_tmp_auth_key(self) -> bool:
        return self.library == "telethon" and self.version >= 8


_FROM_TELETHON_7 = (TELETHON_V7_SQL, TELETHON_V7_TO_V8_SQL)
_FROM_TELETHON_6 = (TELETHON_V6_SQL, TELETHON_V6_TO_V7_SQL)
_FROM_PYROGRAM_2 = (PYROGRAM_V2_SQL, PYROGRAM_V2_TO_V3_SQL)

LAYOUTS: tuple[Layout, ...] = (
    # Telethon's upgrades only append columns, which normalises to the same
    # text as a fresh file; the upgrade variants are kept to say so.
    Layout(
        "telethon-8",
        "telethon",
        8,
        "Telethon 1.43.0 to 1.45.0",
        (
            ("fresh", (TELETHON_V8_SQL,)),
            ("from 7", _FROM_TELETHON_7),
            ("from 6", (*_FROM_TELETHON_6, TELETHON_V7_TO_V8_SQL)),
        ),
    ),
    Layout(
        "telethon-7",
        "telethon",
        7,
        "Telethon 1.42.0 and earlier, checked back to 1.24.0",
        (
            ("fresh", (TELETHON_V7_SQL,)),
            ("from 6", _FROM_TELETHON_6),
        ),
    ),
    Layout("telethon-6", "telethon", 6, "older Telethon 1.x, checked on 1.10.0", (("fresh", (TELETHON_V6_SQL,)),)),
    Layout(
        "pyrogram-3",
        "pyrogram",
        3,
        "Pyrogram 2.0.106, Hydrogram 0.2.x, Pyrofork 2.3.0",
        (
            ("fresh", (PYROGRAM_V3_SQL,)),
            ("from 2", _FROM_PYROGRAM_2),
        ),
    ),
    Layout("pyrogram-2", "pyrogram", 2, "Pyrogram 1.4", (("fresh", (PYROGRAM_V2_SQL,)),)),
    Layout(
        "kurigram-7",
        "pyrogram",
        7,
        "Kurigram 2.2.26",
        (
            ("fresh", (KURIGRAM_V7_SQL,)),
            ("from kurigram 6", (KURIGRAM_V6_SQL, KURIGRAM_V6_TO_V7_SQL)),
            ("from pyrogram 3", (PYROGRAM_V3_SQL, KURIGRAM_V3_TO_V6_SQL, KURIGRAM_V6_TO_V7_SQL)),
            ("from pyrogram 2", (*_FROM_PYROGRAM_2, KURIGRAM_V3_TO_V6_SQL, KURIGRAM_V6_TO_V7_SQL)),
        ),
    ),
    Layout(
        "kurigram-6",
        "pyrogram",
        6,
        "Kurigram 2.1.35 to 2.2.0",
        (
            ("fresh", (KURIGRAM_V6_SQL,)),
            ("from pyrogram 3", (PYROGRAM_V3_SQL, KURIGRAM_V3_TO_V6_SQL)),
            ("from pyrogram 2", (*_FROM_PYROGRAM_2, KURIGRAM_V3_TO_V6_SQL)),
        ),
    ),
    Layout(
        "pyrofork-4",
        "pyrogram",
        4,
        "Pyrofork 2.3.69",
        (
            ("fresh", (PYROFORK_V4_SQL, PYROFORK_USERNAMES_SQL)),
            ("from pyrogram 3", (PYROGRAM_V3_SQL, PYROFORK_V3_TO_V4_SQL)),
            ("from pyrogram 3, usernames", (PYROGRAM_V3_SQL, PYROFORK_V3_TO_V4_SQL, PYROFORK_USERNAMES_SQL)),
            ("from pyrogram 2", (*_FROM_PYROGRAM_2, PYROFORK_V3_TO_V4_SQL)),
            ("from pyrogram 2, usernames", (*_FROM_PYROGRAM_2, PYROFORK_V3_TO_V4_SQL, PYROFORK_USERNAMES_SQL)),
        ),
    ),
)

LIBRARY_FAMILIES = {
    "telethon": ("Telethon", "Telethon"),
    "pyrogram": ("Pyrogram-family (Pyrogram, Kurigram, Pyrofork, Hydrogram)", "Pyrogram-family"),
}


def supported_versions(library: str) -> str:
    """Return the session versions this server reads for `library`, with the releases that write each."""
    layouts = sorted((layout for layout in LAYOUTS if layout.library == library), key=lambda layout: layout.version)
    return "; ".join(f"{layout.version} ({layout.written_by})" for layout in layouts)


# --- Entry point ----------------------------------------------------------


def inspect_session_file(path, *, timeout_seconds: float = 2.0) -> SessionInfo:
    """Return what the session file at ``path`` records.

    Raises SessionFileRejected, with a message saying why, if the file is not
    exactly a known Telethon or Pyrogram layout holding one usable auth key.
    """
    path = Path(path)
    check_header(path)
    with _ReadOnlyDatabase(path, timeout_seconds) as database:
        return database.inspect()


# --- Header ---------------------------------------------------------------


def check_header(path: Path) -> None:
    """Check the SQLite header against the file's size without opening it in SQLite.

    Raises SessionFileRejected if the file is empty, not SQLite, truncated,
    has trailing data, or has a header whose page count cannot be trusted.
    """
    try:
        # O_NONBLOCK so that a FIFO in place of the file cannot hang the open.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SessionFileRejected(f"the file cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SessionFileRejected("not a regular file")
        header = os.read(fd, HEADER_BYTES)
    finally:
        os.close(fd)
    size = info.st_size
    if size == 0:
        raise SessionFileRejected("the file is empty")
    if not header.startswith(SQLITE_MAGIC):
        raise SessionFileRejected("not an SQLite database (the SQLite header is missing)")
    if len(header) < HEADER_BYTES:
        raise SessionFileRejected(
            f"file is truncated: {size} bytes is shorter than the {HEADER_BYTES}-byte SQLite header"
        )
    page_size, page_count = _page_geometry(header)
    expected = page_size * page_count
    if size < expected:
        raise SessionFileRejected(
            f"file is truncated: header says {page_count} pages of {page_size} bytes but file has {size} bytes"
        )
    if size > expected:
        raise SessionFileRejected(
            f"file has trailing data: header says {page_count} pages of {page_size} bytes "
            f"({expected} bytes) but file has {size} bytes"
        )


def _page_geometry(header: bytes) -> tuple[int, int]:
    """Return (page size, page count) from a 100-byte header.

    Raises SessionFileRejected if either value is invalid or untrustworthy.
    """
    (raw_page_size,) = struct.unpack_from(">H", header, 16)
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise SessionFileRejected(f"corrupt SQLite header: invalid page size {raw_page_size}")
    if header[18] not in (1, 2) or header[19] not in (1, 2):
        raise SessionFileRejected("corrupt SQLite header: unknown file format version")
    (change_counter,) = struct.unpack_from(">I", header, 24)
    (page_count,) = struct.unpack_from(">I", header, 28)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    # SQLite only vouches for the page count when these match; a stale count
    # comes from a pre-3.7.0 writer or a hand-edited file, so refuse it.
    if valid_for != change_counter:
        raise SessionFileRejected(
            "the SQLite header's page count is stale (not written by a modern SQLite); "
            "open the session once with its library and upload it again"
        )
    if page_count == 0:
        raise SessionFileRejected("corrupt SQLite header: page count is 0")
    return page_size, page_count


# --- Schema description ---------------------------------------------------

# Quoted tokens may also end at the end of the text: a failed match would be
# retried from every later quote, which is quadratic on hostile input.
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
    | (?P<word>[\w$]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSING_QUOTE = {"'": "'", '"': '"', "`": "`", "[": "]"}


def normalise_sql(sql: str | None) -> tuple[str, ...] | None:
    """Return the tokens of ``sql`` with layout-only differences removed.

    Comments and whitespace are dropped, words lower-cased, and quoted
    identifiers rewritten in one quoting style; string literals are kept.
    """
    if sql is None:
        return None
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if kind in ("string", "quoted") and (len(text) < 2 or text[-1] != _CLOSING_QUOTE[text[0]]):
            text = "<unterminated>" + text
        elif kind == "quoted":
            inner = text[1:-1].replace(text[0] * 2, text[0]) if text[0] != "[" else text[1:-1]
            text = '"' + inner.lower().replace('"', '""') + '"'
        elif kind == "word":
            text = text.lower()
        tokens.append(text)
    return tuple(tokens)


@dataclass(frozen=True)
class SchemaObject:
    """One sqlite_master entry, normalised for comparison."""

    type: str
    name: str
    table: str
    sql: tuple[str, ...] | None
    columns: tuple[tuple, ...] | None

    @property
    def is_virtual_table(self) -> bool:
        return self.type == "table" and self.sql is not None and self.sql[:2] == ("create", "virtual")


def read_schema(conn: sqlite3.Connection, known_tables: frozenset[str]) -> dict[str, SchemaObject]:
    """Return the database's schema objects keyed by lower-cased name.

    Columns are read only for ordinary tables named in ``known_tables``.
    Raises SessionFileRejected if the schema is implausibly large.
    """
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT ?",
        (MAX_SCHEMA_OBJECTS + 1,),
    ).fetchall()
    if len(rows) > MAX_SCHEMA_OBJECTS:
        raise SessionFileRejected(f"the schema has more than {MAX_SCHEMA_OBJECTS} objects")
    schema = {}
    for type_, name, table, sql in rows:
        if not isinstance(name, str) or not isinstance(table, str) or not isinstance(type_, str):
            raise SessionFileRejected("the schema table is corrupt")
        if sql is not None and (not isinstance(sql, str) or len(sql) > MAX_SCHEMA_SQL_CHARS):
            raise SessionFileRejected(f"the definition of {_show(name)} is too large")
        obj = SchemaObject(type_, name, table.lower(), normalise_sql(sql), None)
        key = name.lower()
        if obj.type == "table" and key in known_tables and not obj.is_virtual_table:
            obj = SchemaObject(obj.type, name, obj.table, obj.sql, _table_columns(conn, key))
        schema[key] = obj
    return schema


def _table_columns(conn: sqlite3.Connection, table: str) -> tuple[tuple, ...]:
    """Return (name, type, notnull, default, pk, hidden) for each column of ``table``.

    ``table`` must be a name from LAYOUTS, never one read from the file.
    """
    quoted = '"' + table.replace('"', '""') + '"'
    columns = []
    for _cid, name, type_, notnull, default, pk, hidden in conn.execute(f"PRAGMA table_xinfo({quoted})"):
        columns.append(
            (
                name.lower(),
                " ".join(type_.upper().split()),
                notnull,
                normalise_sql(default),
                pk,
                hidden,
            )
        )
    return tuple(columns)


@functools.cache
def reference_schemas() -> tuple[tuple[Layout, str, dict[str, SchemaObject]], ...]:
    """Return (layout, variant label, schema) for every accepted variant.

    Each schema comes from running the library SQL in an in-memory database,
    so it is described exactly as an uploaded file is.
    """
    known = known_table_names()
    references = []
    for layout in LAYOUTS:
        for label, scripts in layout.variants:
            conn = sqlite3.connect(":memory:")
            try:
                for script in scripts:
                    conn.executescript(script)
                references.append((layout, label, read_schema(conn, known)))
            finally:
                conn.close()
    return tuple(references)


@functools.cache
def known_table_names() -> frozenset[str]:
    """Return every table name any layout's SQL creates (lower-cased)."""
    names = set()
    for layout in LAYOUTS:
        for _label, scripts in layout.variants:
            for script in scripts:
                names.update(
                    match.lower()
                    for match in re.findall(r"create\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)", script, re.IGNORECASE)
                )
    return frozenset(names)


def schema_differences(actual: dict, expected: dict, layout_name: str) -> list[str]:
    """Return human-readable differences between two schemas (empty if equal)."""
    problems = []
    for key, want in expected.items():
        if key not in actual:
            problems.append(f"missing {want.type} {_show(want.name)}")
    for key, have in actual.items():
        want = expected.get(key)
        if want is None:
            problems.append(f"unexpected {have.type} {_show(have.name)}")
        else:
            problems.extend(_object_differences(have, want, layout_name))
    return problems


def appended_columns(actual: dict, expected: dict) -> list[str]:
    """Return `table.column` for each column `actual` adds at the end of `expected`'s tables.

    Empty unless the two schemas are otherwise the same: same objects, and
    every table other than the extended ones defined alike.
    """
    if set(actual) != set(expected):
        return []
    added = []
    for key, want in expected.items():
        have = actual[key]
        if have.type != want.type or have.table != want.table or have.is_virtual_table:
            return []
        if want.columns is not None and have.columns is not None and have.columns != want.columns:
            if have.columns[: len(want.columns)] != want.columns:
                return []
            added.extend(f"{want.name}.{_show_plain(column[0])}" for column in have.columns[len(want.columns) :])
        elif have.sql != want.sql:
            return []
    return added


def _library_of(actual: dict) -> str | None:
    """Return the library family a schema's version table names, or None when it names none."""
    version = actual.get("version")
    if version is None or version.type != "table" or version.is_virtual_table or not version.columns:
        return None
    names = [column[0] for column in version.columns]
    if names == ["version"]:
        return "telethon"
    if names == ["number"]:
        return "pyrogram"
    return None


def _has_foreign_objects(actual: dict, family) -> bool:
    """Return True when the schema holds a view, a virtual table or a trigger of no known layout."""
    known_triggers = {
        (key, obj.sql) for _layout, expected in family for key, obj in expected.items() if obj.type == "trigger"
    }
    for key, obj in actual.items():
        if obj.type == "view" or obj.is_virtual_table:
            return True
        if obj.type == "trigger" and (key, obj.sql) not in known_triggers:
            return True
    return False


def _unknown_version(library: str, found: str) -> UnknownSessionVersion:
    long_name, short_name = LIBRARY_FAMILIES[library]
    return UnknownSessionVersion(
        f"the file comes from a {long_name} release newer than this server knows ({found}); "
        f"this server reads {short_name} session versions {supported_versions(library)}. "
        "Upgrade adbot-admin to accept it."
    )


def _object_differences(have: SchemaObject, want: SchemaObject, layout_name: str) -> list[str]:
    """Return the differences between one object in the file and its reference."""
    name = _show(want.name)
    if have.type != want.type:
        return [f"{name} must be a {want.type}, not a {have.type}"]
    if have.is_virtual_table:
        return [f"{name} must be a plain table, not a virtual table"]
    if have.table != want.table:
        return [f"{want.type} {name} belongs to the wrong table"]
    if have.columns is not None and have.columns != want.columns:
        have_names = [column[0] for column in have.columns]
        want_names = [column[0] for column in want.columns]
        if have_names != want_names:
            return [
                f"table {name} has columns ({', '.join(map(_show_plain, have_names))}) "
                f"but {layout_name} expects ({', '.join(want_names)})"
            ]
        return [f"the columns of table {name} are declared differently from {layout_name}"]
    if have.sql != want.sql:
        return [f"{want.type} {name} differs from {layout_name}'s definition"]
    return []


def _show(name: str) -> str:
    """Return a quoted, printable, bounded form of a name read from the file."""
    return f"'{_show_plain(name)}'"


def _show_plain(name: str) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in name)
    return printable if len(printable) <= 64 else printable[:61] + "..."


# --- Read-only database ---------------------------------------------------


class _ReadOnlyDatabase:
    """A locked-down, read-only, time-limited SQLite connection to one file."""

    def __init__(self, path: Path, timeout_seconds: float):
        self.path = path
        self.timeout_seconds = timeout_seconds
        self.deadline = 0.0
        self.timed_out = False
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> _ReadOnlyDatabase:
        self.deadline = time.monotonic() + self.timeout_seconds
        try:
            self.conn = open_locked_down(self.path, self._over_time)
        except sqlite3.Error as exc:
            raise self._rejection(exc) from None
        return self

    def __exit__(self, *exc_info) -> None:
        if self.conn is not None:
            self.conn.close()

    def _over_time(self) -> int:
        """Progress handler: a non-zero return makes SQLite abort the statement."""
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def _rejection(self, exc: sqlite3.Error) -> SessionFileRejected:
        if self.timed_out:
            return SessionFileRejected(f"inspecting the file took longer than {self.timeout_seconds:g} s")
        # SQLite's messages describe the failure, never row contents.
        return SessionFileRejected(f"not a readable SQLite database ({exc})")

    def inspect(self) -> SessionInfo:
        """Return the SessionInfo; raises SessionFileRejected on any problem."""
        try:
            self._quick_check()
            layout = self._match_layout()
            return self._read_session(layout)
        except sqlite3.Error as exc:
            raise self._rejection(exc) from None

    def _quick_check(self) -> None:
        rows = self.conn.execute("PRAGMA quick_check").fetchmany(5)
        if rows != [("ok",)]:
            raise SessionFileRejected("the database is corrupt (PRAGMA quick_check failed)")

    def _match_layout(self) -> Layout:
        """Return the layout the schema and version row match exactly.

        Raises SessionFileRejected naming the differences from the closest layout.
        """
        references = reference_schemas()
        actual = read_schema(self.conn, known_table_names())
        if "sessions" not in actual:
            raise SessionFileRejected("not a Telethon or Pyrogram session file: there is no 'sessions' table")
        for layout, _label, expected in references:
            # The common case, a library's own file, is an exact match: no message to build.
            if actual == expected:
                self._check_version(layout)
                return layout
        closest = None
        for layout, _label, expected in references:
            problems = schema_differences(actual, expected, layout.name)
            if not problems:
                self._check_version(layout)
                return layout
            if closest is None or len(problems) < len(closest[1]):
                closest = (layout, problems)
        layout, problems = closest
        self._refuse_if_newer(actual, references)
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise SessionFileRejected(
            f"the file does not match any known session layout (closest is {layout.name}): {shown}"
        )

    def _refuse_if_newer(self, actual: dict, references) -> None:
        """Raise UnknownSessionVersion when an unmatched schema looks like a newer release's.

        That is: the version table names the library, and either its version
        is higher than any this server knows, with nothing in the schema a
        library never makes (a view, a virtual table, a trigger of no known
        layout), or the schema is a known layout of that library with columns
        appended to its tables. Anything else keeps the closest-layout message.
        """
        library = _library_of(actual)
        if library is None:
            return
        family = [(layout, expected) for layout, _label, expected in references if layout.library == library]
        for layout, expected in family:
            added = appended_columns(actual, expected)
            if added:
                version = self._version_value(layout.version_column)
                found = f"version {_show_value(version)} with new columns {', '.join(added)}"
                raise _unknown_version(library, found)
        version = self._version_value(family[0][0].version_column)
        newest = max(layout.version for layout, _expected in family)
        if type(version) is int and version > newest and not _has_foreign_objects(actual, family):
            raise _unknown_version(library, f"version {version}")

    def _version_value(self, column: str):
        """Return the version table's single value, or None when it cannot be read as one."""
        try:
            if self._count("version") != 1:
                return None
            return self.conn.execute(f"SELECT {column} FROM version").fetchone()[0]
        except sqlite3.Error:
            return None

    def _check_version(self, layout: Layout) -> None:
        count = self._count("version")
        if count != 1:
            raise SessionFileRejected(f"expected exactly one row in version, found {count}")
        (value,) = self.conn.execute(f"SELECT {layout.version_column} FROM version").fetchone()
        newest = max(known.version for known in LAYOUTS if known.library == layout.library)
        if type(value) is int and value > newest:
            # A release may raise the version without changing the schema (Telethon 5 -> 6).
            raise _unknown_version(layout.library, f"version {value}")
        if type(value) is not int or value != layout.version:
            raise SessionFileRejected(
                f"the version table says {_show_value(value)} "
                f"but the schema is {layout.name} (version {layout.version})"
            )

    def _count(self, table: str) -> int:
        """Return the number of rows in ``table`` (a name from LAYOUTS)."""
        return self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def _read_session(self, layout: Layout) -> SessionInfo:
        count = self._count("sessions")
        if count != 1:
            raise SessionFileRejected(f"expected exactly one row in sessions, found {count}")
        columns = ["dc_id", "auth_key"]
        if layout.records_user:
            columns += ["user_id", "is_bot"]
        if layout.records_api_id:
            columns.append("api_id")
        if layout.has_tmp_auth_key:
            columns.append("tmp_auth_key")
        row = dict(
            zip(columns, self.conn.execute(f"SELECT {', '.join(columns)} FROM sessions").fetchone(), strict=True)
        )
        _check_dc_id(row["dc_id"])
        _check_auth_key(row["auth_key"])
        if layout.has_tmp_auth_key:
            _check_tmp_auth_key(row["tmp_auth_key"])
        return SessionInfo(
            library=layout.library,
            layout=layout.name,
            dc_id=row["dc_id"],
            user_id=_checked_user_id(row.get("user_id")),
            is_bot=_checked_is_bot(row.get("is_bot")),
            api_id=_checked_api_id(row.get("api_id")),
            auth_key_sha256=hashlib.sha256(row["auth_key"]).hexdigest(),
        )


def open_locked_down(path: Path, progress_handler) -> sqlite3.Connection:
    """Return a read-only, immutable, defensively configured connection to ``path``.

    ``progress_handler`` is called every PROGRESS_STEPS VM steps; a non-zero
    return aborts the running statement. Raises sqlite3.Error if SQLite
    cannot open the file.
    """
    # as_uri() percent-encodes '?' and '#', so the path cannot add URI parameters.
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        _apply_dbconfig(conn)
        # Set first: even these pragmas may make SQLite parse a hostile schema.
        conn.set_progress_handler(progress_handler, PROGRESS_STEPS)
        conn.execute("PRAGMA trusted_schema=OFF")
        conn.execute("PRAGMA query_only=ON")
        # mmap would turn a file shrinking under us into SIGBUS.
        conn.execute("PRAGMA mmap_size=0")
        conn.execute("PRAGMA cell_size_check=ON")
        # Last, because it refuses the configuration pragmas above.
        conn.set_authorizer(_authorize)
    except BaseException:
        conn.close()
        raise
    return conn


def _apply_dbconfig(conn: sqlite3.Connection) -> None:
    """Set SQLite's defensive flags where this Python exposes them (3.12+)."""
    if not hasattr(conn, "setconfig"):
        return
    for name, enabled in (
        ("SQLITE_DBCONFIG_DEFENSIVE", True),
        ("SQLITE_DBCONFIG_TRUSTED_SCHEMA", False),
        ("SQLITE_DBCONFIG_ENABLE_TRIGGER", False),
        ("SQLITE_DBCONFIG_ENABLE_VIEW", False),
        ("SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION", False),
        ("SQLITE_DBCONFIG_ENABLE_FKEY", False),
    ):
        option = getattr(sqlite3, name, None)
        if option is not None:
            conn.setconfig(option, enabled)


def _authorize(action, arg1, arg2, _database, trigger_or_view):
    """SQLite authorizer: allow plain reads, listed pragmas and functions only."""
    if trigger_or_view is not None:
        # Nothing may run on behalf of a trigger or view.
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ):
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in ALLOWED_PRAGMAS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in ALLOWED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


# --- Row checks -----------------------------------------------------------


def _check_dc_id(dc_id) -> None:
    if type(dc_id) is not int or dc_id not in DC_IDS:
        raise SessionFileRejected(
            f"dc_id must be a data centre from {DC_IDS.start} to {DC_IDS.stop - 1}, found {_show_value(dc_id)}"
        )


def _check_auth_key(auth_key) -> None:
    if auth_key is None:
        raise SessionFileRejected("the session has no auth key (not logged in)")
    if not isinstance(auth_key, bytes):
        raise SessionFileRejected(f"auth key must be a BLOB, found {type(auth_key).__name__}")
    if len(auth_key) != AUTH_KEY_BYTES:
        raise SessionFileRejected(f"auth key must be {AUTH_KEY_BYTES} bytes, found {len(auth_key)}")


def _check_tmp_auth_key(tmp_auth_key) -> None:
    # Telethon 1.43+ writes b'' unless asked to keep the temporary key on disk.
    if tmp_auth_key is None or tmp_auth_key == b"":
        return
    if not isinstance(tmp_auth_key, bytes) or len(tmp_auth_key) != AUTH_KEY_BYTES:
        raise SessionFileRejected(
            f"tmp_auth_key must be empty or a {AUTH_KEY_BYTES}-byte BLOB, found {_show_value(tmp_auth_key)}"
        )


def _checked_api_id(api_id) -> int | None:
    # Pyrogram-family files made before login, or from an old session string, hold 0 or NULL.
    if api_id is None or api_id == 0:
        return None
    if type(api_id) is not int or not 0 < api_id < 2**31:
        raise SessionFileRejected(f"api_id must be a positive 32-bit integer, found {_show_value(api_id)}")
    return api_id


def _checked_user_id(user_id) -> int | None:
    if user_id is None:
        return None
    if type(user_id) is not int or user_id <= 0:
        raise SessionFileRejected(f"user_id must be a positive integer, found {_show_value(user_id)}")
    return user_id


def _checked_is_bot(is_bot) -> bool | None:
    if is_bot is None:
        return None
    if type(is_bot) is not int or is_bot not in (0, 1):
        raise SessionFileRejected(f"is_bot must be 0 or 1, found {_show_value(is_bot)}")
    return bool(is_bot)


def _show_value(value) -> str:
    """Return a short description of a scalar read from the file (never a BLOB's bytes)."""
    if isinstance(value, bytes):
        return f"a {len(value)}-byte BLOB"
    if isinstance(value, str):
        return _show(value)
    return repr(value) if isinstance(value, (int, float, type(None))) else type(value).__name__
