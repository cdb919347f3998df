"""The file side of session storage: the name rule, private checked copies, undoable moves.

Everything that touches SESSIONS_DIR goes through `adbot_admin.file_storage`
(`session_storage()`, `save_exact`); this module adds what the session services
need around it. SESSIONS_DIR is a local or shared folder (the engine opens the
files with SQLite), so the storage is expected to have `path()`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from adbot_admin.file_storage import TEMP_PREFIX
from adbot_admin.sizes import describe_bytes

from .inspection import SessionFileRejected

logger = logging.getLogger(__name__)

SESSION_SUFFIX = ".session"
MAX_NAME_LENGTH = 100
# SQLite's companions of a database file: a hot journal or WAL left beside a
# different database would be applied to it, so they go with their file.
SIBLING_SUFFIXES = ("-journal", "-wal", "-shm")
ALLOWED_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# The name rule as one regular expression (URL lookups, OpenAPI); validate_session_filename
# is the authority and says what is wrong.
NAME_REGEX = r"(?![.-])(?![A-Za-z0-9._-]*\.\.)[A-Za-z0-9._-]{1,92}\.session"
# Base names Windows reserves for devices: a file so named cannot be opened there,
# and the folder may be shared with a Windows host.
WINDOWS_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{n}" for n in range(1, 10)} | {f"lpt{n}" for n in range(1, 10)}
)
SHOWN_NAME_CHARACTERS = 200
CHUNK_BYTES = 64 * 1024


class InvalidSessionFileName(SessionFileRejected):
    """Raised when a name breaks the session file name rule; the message never repeats the name."""


class SessionFileTooLarge(SessionFileRejected):
    """Raised when a file is larger than SESSION_MAX_BYTES (the API answers 413)."""


def validate_session_filename(name) -> str:
    """Return `name` unchanged if it is an acceptable session file name.

    The rule: ASCII letters, digits, `.`, `_` and `-` only, at most 100
    characters, ending in `.session`, not beginning with a dot or `-`, no
    `..`, and a base name (up to the first dot) that Windows does not reserve.
    Raises InvalidSessionFileName otherwise; a name is refused, never rewritten.
    """
    if not isinstance(name, str) or not name:
        raise InvalidSessionFileName("the file has no name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidSessionFileName(f"the file name is longer than {MAX_NAME_LENGTH} characters")
    if "/" in name or "\\" in name:
        raise InvalidSessionFileName("the file name must not contain a path separator")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise InvalidSessionFileName("the file name must not contain control characters")
    if not set(name) <= ALLOWED_NAME_CHARACTERS:
        raise InvalidSessionFileName("the file name may contain only ASCII letters, digits, '.', '_' and '-'")
    if name.startswith("."):
        raise InvalidSessionFileName("the file name must not begin with a dot")
    if name.startswith("-"):
        # A shell loop over the folder would read it as an option.
        raise InvalidSessionFileName("the file name must not begin with '-'")
    if ".." in name:
        raise InvalidSessionFileName("the file name must not contain '..'")
    if not name.endswith(SESSION_SUFFIX) or name == SESSION_SUFFIX:
        raise InvalidSessionFileName(f"the file name must end in {SESSION_SUFFIX}")
    if name.split(".", 1)[0].lower() in WINDOWS_RESERVED_NAMES:
        raise InvalidSessionFileName("the file name's base is a device name reserved on Windows (con, nul, com1, ...)")
    return name


def shown_name(name) -> str:
    """Return `name` fit for a log line or a report: control and non-ASCII characters escaped, capped."""
    text = "".join(char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii") for char in str(name))
    if len(text) > SHOWN_NAME_CHARACTERS:
        text = text[: SHOWN_NAME_CHARACTERS - 1] + "…"
    return text


def is_sibling_name(name: str) -> bool:
    """Return True for an SQLite companion file name (`x.session-journal`, `-wal`, `-shm`)."""
    return name.endswith(SIBLING_SUFFIXES)


def sibling_names(name: str) -> list[str]:
    return [name + suffix for suffix in SIBLING_SUFFIXES]


def too_large(max_bytes: int) -> SessionFileTooLarge:
    return SessionFileTooLarge(f"the file is larger than {describe_bytes(max_bytes)}")


# --- Private checked copies -------------------------------------------------


@dataclass(frozen=True)
class CheckedCopy:
    """A private temporary copy of a file, with its size and SHA-256."""

    path: Path
    size: int
    sha256: str


def _chunks_of(source):
    """Yield the bytes of `source`: a Django File/UploadedFile or an open binary file."""
    if hasattr(source, "chunks"):
        if hasattr(source, "seek"):
            source.seek(0)
        yield from source.chunks(CHUNK_BYTES)
        return
    yield from iter(lambda: source.read(CHUNK_BYTES), b"")


@contextmanager
def private_copy(source, *, max_bytes: int):
    """Yield a CheckedCopy of `source` in a fresh 0600 temporary file, removed on exit.

    The copy lives outside SESSIONS_DIR (FILE_UPLOAD_TEMP_DIR or the system's
    temporary folder). Raises SessionFileTooLarge as soon as more than
    `max_bytes` have been read, without reading the rest.
    """
    declared = getattr(source, "size", None)
    if isinstance(declared, int) and declared > max_bytes:
        raise too_large(max_bytes)
    descriptor, temp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".check", dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(descriptor, "wb") as out:
            for chunk in _chunks_of(source):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                digest.update(chunk)
                out.write(chunk)
        yield CheckedCopy(Path(temp_path), size, digest.hexdigest())
    finally:
        try:
            os.unlink(temp_path)
        except FileNotFoundError:
            pass


@contextmanager
def open_regular_file(path: Path):
    """Yield `path` opened for reading in binary mode, refusing anything but a regular file.

    Symbolic links are not followed and a FIFO cannot block the open. Raises
    SessionFileRejected when the path cannot be opened or is not a regular file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise SessionFileRejected(f"the file cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise SessionFileRejected("not a regular file")
    with os.fdopen(descriptor, "rb") as file:
        yield file


# --- Undoable changes to SESSIONS_DIR ----------------------------------------


class FileJournal:
    """Changes to one storage made by one service call: undone by rollback(), made final by commit().

    A file set aside gets a temporary name (TEMP_PREFIX, so sync_sessions and
    the engine's `*.session` scan pass it by); rollback() puts it back,
    commit() deletes it. After commit() has begun, rollback() does nothing, so
    an error raised after the database commit never undoes committed files.
    """

    def __init__(self, storage):
        self.storage = storage
        self.aside: list[tuple[str, str]] = []  # (name, temporary name)
        self.placed: list[str] = []
        self.finished = False

    def _temp_name(self):
        return f"{TEMP_PREFIX}{uuid.uuid4().hex}.aside"

    def set_aside(self, name: str, *, keep_in_place: bool = False) -> bool:
        """Move `name` to a temporary name (or, with `keep_in_place`, hard-link it there).

        Returns False when there is no such file. With `keep_in_place` the file
        stays visible at `name` until something replaces it; the link is the
        copy rollback() restores.
        """
        path = self.storage.path(name)
        temp = self._temp_name()
        try:
            if keep_in_place:
                os.link(path, self.storage.path(temp), follow_symlinks=False)
            else:
                os.rename(path, self.storage.path(temp))
        except FileNotFoundError:
            return False
        self.aside.append((name, temp))
        return True

    def set_aside_existing(self, names) -> None:
        for name in names:
            self.set_aside(name)

    def record_placed(self, name: str) -> None:
        """Note that `name` was written; rollback() removes it (or restores what it replaced)."""
        self.placed.append(name)

    def rollback(self) -> None:
        """Remove what was placed and put back what was set aside; log, never raise."""
        if self.finished:
            return
        self.finished = True
        restored = {name for name, _ in self.aside}
        for name in reversed(self.placed):
            if name not in restored:
                self._quietly(os.unlink, self.storage.path(name))
        for name, temp in reversed(self.aside):
            self._quietly(os.replace, self.storage.path(temp), self.storage.path(name))

    def commit(self) -> None:
        """Delete the set-aside copies; log, never raise (the database has committed)."""
        if self.finished:
            return
        self.finished = True
        for _name, temp in self.aside:
            self._quietly(os.unlink, self.storage.path(temp))

    @staticmethod
    def _quietly(operation, *paths):
        try:
            operation(*paths)
        except FileNotFoundError:
            pass
        except OSError as exc:
            # The paths are server paths, not secrets; the file contents never appear.
            logger.error("session storage: %s failed on %s: %s", operation.__name__, paths[0], exc.strerror)
