"""Private checked copies of session files, and opening a file that must be a regular file.

An upload, a zip entry or a file found in SESSIONS_DIR is copied to a fresh
0600 temporary file outside SESSIONS_DIR, sized and hashed on the way; only
that copy is inspected and placed, so nothing the client controls changes
under the checks.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from adbot_admin.file_storage import TEMP_PREFIX

from .errors import SessionFileTooLarge, UnreadableFile

CHUNK_BYTES = 64 * 1024


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
        raise SessionFileTooLarge.over(max_bytes)
    descriptor, temp_path = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".check", dir=settings.FILE_UPLOAD_TEMP_DIR)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(descriptor, "wb") as out:
            for chunk in _chunks_of(source):
                size += len(chunk)
                if size > max_bytes:
                    raise SessionFileTooLarge.over(max_bytes)
                digest.update(chunk)
                out.write(chunk)
        yield CheckedCopy(Path(temp_path), size, digest.hexdigest())
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp_path)


@contextmanager
def open_regular_file(path: Path):
    """Yield `path` opened for reading in binary mode, refusing anything but a regular file.

    Symbolic links are not followed and a FIFO cannot block the open. Raises
    UnreadableFile when the path cannot be opened or is not a regular file.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise UnreadableFile(f"the file cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnreadableFile("not a regular file")
    with os.fdopen(descriptor, "rb") as file:
        yield file


def make_private(path: Path) -> None:
    """Give the regular file at `path` an upload's mode (FILE_UPLOAD_PERMISSIONS, 0600), never through a link.

    Raises UnreadableFile when the path cannot be opened or is not a regular file.
    """
    with open_regular_file(path) as file:
        os.fchmod(file.fileno(), settings.FILE_UPLOAD_PERMISSIONS)
