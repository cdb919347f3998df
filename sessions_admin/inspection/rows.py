"""The rows a matched layout must hold: one version row equal to the layout's, one usable session row.

`sessions` must hold exactly one row with `dc_id` in 1..5 and a 256-byte
BLOB auth key that is not all zeros. Only production data centres 1..5 are
accepted: Telegram's test servers reuse ids 1..3 (Pyrogram marks them with
`test_mode`) and media/CDN ids never own an account's auth key. An all-zero
key is what a library writes before login (Telethon reads it back as no key
at all), so it is refused in every layout, however the file was made.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field

from ..errors import InvalidSessionData, NoAuthKey
from ..names import shown_name
from .layouts import LAYOUTS, Layout, newer_release

AUTH_KEY_BYTES = 256
DC_IDS = range(1, 6)


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


def count_rows(conn: sqlite3.Connection, table: str) -> int:
    """Return the number of rows in `table` (a name from LAYOUTS, never one read from the file)."""
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def version_value(conn: sqlite3.Connection, column: str):
    """Return the version table's single value, or None when it cannot be read as one."""
    try:
        if count_rows(conn, "version") != 1:
            return None
        return conn.execute(f"SELECT {column} FROM version").fetchone()[0]
    except sqlite3.Error:
        return None


def check_version(conn: sqlite3.Connection, layout: Layout) -> None:
    """Raise unless the version table holds one row equal to `layout`'s version.

    A value above every known version of the library raises
    UnknownSessionVersion: a release may raise the version without changing
    the schema (Telethon 5 -> 6).
    """
    count = count_rows(conn, "version")
    if count != 1:
        raise InvalidSessionData(f"expected exactly one row in version, found {count}")
    (value,) = conn.execute(f"SELECT {layout.version_column} FROM version").fetchone()
    newest = max(known.version for known in LAYOUTS if known.library == layout.library)
    if type(value) is int and value > newest:
        raise newer_release(layout.library, f"version {value}")
    if type(value) is not int or value != layout.version:
        raise InvalidSessionData(
            f"the version table says {show_value(value)} but the schema is {layout.name} (version {layout.version})"
        )


def read_session(conn: sqlite3.Connection, layout: Layout) -> SessionInfo:
    """Return the SessionInfo of the one session row; raises InvalidSessionData or NoAuthKey."""
    count = count_rows(conn, "sessions")
    if count != 1:
        raise InvalidSessionData(f"expected exactly one row in sessions, found {count}")
    columns = ["dc_id", "auth_key"]
    if layout.records_user:
        columns += ["user_id", "is_bot"]
    if layout.records_api_id:
        columns.append("api_id")
    if layout.has_tmp_auth_key:
        columns.append("tmp_auth_key")
    row = dict(zip(columns, conn.execute(f"SELECT {', '.join(columns)} FROM sessions").fetchone(), strict=True))
    if type(row["dc_id"]) is not int or row["dc_id"] not in DC_IDS:
        raise InvalidSessionData(
            f"dc_id must be a data centre from {DC_IDS.start} to {DC_IDS.stop - 1}, found {show_value(row['dc_id'])}"
        )
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


def _check_auth_key(auth_key) -> None:
    # Telethon writes an empty BLOB for no key, Pyrogram-family libraries NULL.
    if auth_key is None or auth_key == b"":
        raise NoAuthKey("the session has no auth key (not logged in)")
    if not isinstance(auth_key, bytes):
        raise InvalidSessionData(f"auth key must be a BLOB, found {type(auth_key).__name__}")
    if len(auth_key) != AUTH_KEY_BYTES:
        raise InvalidSessionData(f"auth key must be {AUTH_KEY_BYTES} bytes, found {len(auth_key)}")
    if not any(auth_key):
        raise NoAuthKey("the auth key is all zeros (not logged in)")


def _check_tmp_auth_key(tmp_auth_key) -> None:
    # Telethon 1.43+ writes b'' unless asked to keep the temporary key on disk.
    if tmp_auth_key is None or tmp_auth_key == b"":
        return
    if not isinstance(tmp_auth_key, bytes) or len(tmp_auth_key) != AUTH_KEY_BYTES:
        raise InvalidSessionData(
            f"tmp_auth_key must be empty or a {AUTH_KEY_BYTES}-byte BLOB, found {show_value(tmp_auth_key)}"
        )


def _checked_api_id(api_id) -> int | None:
    # Pyrogram-family files made before login, or from an old session string, hold 0 or NULL.
    if api_id is None or api_id == 0:
        return None
    if type(api_id) is not int or not 0 < api_id < 2**31:
        raise InvalidSessionData(f"api_id must be a positive 32-bit integer, found {show_value(api_id)}")
    return api_id


def _checked_user_id(user_id) -> int | None:
    if user_id is None:
        return None
    if type(user_id) is not int or user_id <= 0:
        raise InvalidSessionData(f"user_id must be a positive integer, found {show_value(user_id)}")
    return user_id


def _checked_is_bot(is_bot) -> bool | None:
    if is_bot is None:
        return None
    if type(is_bot) is not int or is_bot not in (0, 1):
        raise InvalidSessionData(f"is_bot must be 0 or 1, found {show_value(is_bot)}")
    return bool(is_bot)


def show_value(value) -> str:
    """Return a short description of a scalar read from the file (never a BLOB's bytes)."""
    if isinstance(value, bytes):
        return f"a {len(value)}-byte BLOB"
    if isinstance(value, str):
        return f"'{shown_name(value, limit=64)}'"
    return repr(value) if isinstance(value, (int, float, type(None))) else type(value).__name__
