"""The locked-down SQLite connection an uploaded file is read through.

SQLite opens the file read-only and immutable (`mode=ro&immutable=1`), with
`trusted_schema` off, extension loading off, the defensive `setconfig` flags
where Python offers them (3.12+), an authorizer that allows only SELECT,
reads, a few named pragmas and `count()`, and nothing run on behalf of a
trigger or view, and a progress handler that aborts after the time limit.
The file is never opened with Telethon or Pyrogram code, because their code
writes to the database and so runs any trigger the file carries.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import CorruptDatabase, InspectionTimeout

# Checked this often (in SQLite VM steps) against the deadline.
PROGRESS_STEPS = 100

ALLOWED_PRAGMAS = frozenset({"quick_check", "table_xinfo"})
ALLOWED_FUNCTIONS = frozenset({"count"})


@contextmanager
def read_only(path: Path, *, timeout_seconds: float):
    """Yield a locked-down connection to `path` that gives up after `timeout_seconds`.

    Any sqlite3.Error, opening or inside the block, becomes InspectionTimeout
    past the deadline and CorruptDatabase otherwise.
    """
    deadline = time.monotonic() + timeout_seconds
    timed_out = False

    def over_time() -> int:
        # A non-zero return makes SQLite abort the statement.
        nonlocal timed_out
        timed_out = time.monotonic() > deadline
        return int(timed_out)

    def refusal(exc: sqlite3.Error):
        if timed_out:
            return InspectionTimeout(f"inspecting the file took longer than {timeout_seconds:g} s")
        # SQLite's messages describe the failure, never row contents.
        return CorruptDatabase(f"not a readable SQLite database ({exc})")

    try:
        conn = open_locked_down(path, over_time)
    except sqlite3.Error as exc:
        raise refusal(exc) from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise refusal(exc) from None
    finally:
        conn.close()


def quick_check(conn: sqlite3.Connection) -> None:
    """Raise CorruptDatabase unless `PRAGMA quick_check` says "ok"."""
    if conn.execute("PRAGMA quick_check").fetchmany(5) != [("ok",)]:
        raise CorruptDatabase("the database is corrupt (PRAGMA quick_check failed)")


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
