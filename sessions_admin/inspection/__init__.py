"""Safe inspection of an uploaded Telegram `.session` file, one concern per module.

A `.session` file is an SQLite database written by Telethon or by Pyrogram
(or one of its forks: Kurigram, Pyrofork, Hydrogram). It holds the account's
256-byte auth key, so every file is treated as a credential: no message
raised here ever contains the key, only lengths and names. In order:

1. `header`: the 100-byte SQLite header is checked against the file's size
   before SQLite sees the file.
2. `connection`: SQLite opens it read-only, immutable, locked down and
   time-limited; `PRAGMA quick_check` must say "ok".
3. `schema`: the schema must be exactly one accepted variant of one known
   layout; `layouts` holds the libraries' own SQL that builds each variant.
4. `rows`: one version row equal to the layout's version, one session row
   with a production data centre and a usable 256-byte auth key.

Each refusal is a SessionFileRejected subclass from `sessions_admin.errors`,
whose `code` says which check failed.
"""

from pathlib import Path

from ..errors import SessionFileRejected, UnknownSessionVersion
from .connection import open_locked_down, quick_check, read_only
from .header import check_header
from .layouts import KURIGRAM_V7_SQL, LAYOUTS, Layout, supported_versions
from .rows import SessionInfo, read_session
from .schema import match_layout, normalise_sql, reference_schemas, schema_differences

__all__ = [
    "KURIGRAM_V7_SQL",
    "LAYOUTS",
    "Layout",
    "SessionFileRejected",
    "SessionInfo",
    "UnknownSessionVersion",
    "inspect_session_file",
    "normalise_sql",
    "open_locked_down",
    "reference_schemas",
    "schema_differences",
    "supported_versions",
]


def inspect_session_file(path, *, timeout_seconds: float = 2.0) -> SessionInfo:
    """Return what the session file at `path` records.

    Raises a SessionFileRejected subclass, with a message saying why, if the
    file is not exactly a known Telethon or Pyrogram layout holding one
    usable auth key.
    """
    path = Path(path)
    check_header(path)
    with read_only(path, timeout_seconds=timeout_seconds) as conn:
        quick_check(conn)
        return read_session(conn, match_layout(conn))
