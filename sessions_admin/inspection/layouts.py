"""The layouts this server accepts: each library's own SQL, copied verbatim, and the releases that write it.

A layout is accepted in each variant listed: the fresh CREATE script of that
version, or an older version's script followed by the library's own upgrade
statements (`schema.reference_schemas` runs them in memory). Upgrade chains
start only from layouts listed here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..errors import UnknownSessionVersion

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


def newer_release(library: str, found: str) -> UnknownSessionVersion:
    """Return the refusal of a file from a `library` release newer than any layout here; `found` says what was read."""
    long_name, short_name = LIBRARY_FAMILIES[library]
    return UnknownSessionVersion(
        f"the file comes from a {long_name} release newer than this server knows ({found}); "
        f"this server reads {short_name} session versions {supported_versions(library)}. "
        "Upgrade adbot-admin to accept it."
    )


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
