"""Zip archives of session files: limits read from the central directory, safe entry names, bounded reads.

Python's zipfile does the parsing. This module decides, before a single entry
is decompressed, whether the archive may be opened at all (count, declared
sizes, compression ratio, encryption), and for each entry whether it is a
session file to import, something to skip, or an entry to refuse by name.
Entries are never extracted to a path: each is read as a stream into the same
private checked copy a single upload gets (`storage.private_copy`).
"""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from .storage import SESSION_SUFFIX, InvalidSessionFileName, describe_bytes, validate_session_filename

# Above this a single entry is treated as a bomb; a real session file compresses about 20:1.
MAX_COMPRESSION_RATIO = 100
# Folders and files that operating systems add to archives on their own.
JUNK_FOLDERS = frozenset({"__macosx"})
JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
ENCRYPTED_FLAG = 0x1


class ArchiveRefused(Exception):
    """Raised when the whole archive is refused; `status` is 400 or 413 and `code` says why."""

    def __init__(self, detail, *, code, status=400):
        super().__init__(detail)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Entry:
    """One entry of the archive and what to do with it.

    `action` is "import" (then `stored_name` is the name to store it under),
    "skip" or "refuse" (then `code` and `detail` say why).
    """

    info: zipfile.ZipInfo
    action: str
    stored_name: str = ""
    code: str = ""
    detail: str = ""

    @property
    def name(self) -> str:
        return self.info.filename


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_bytes: int
    max_entry_bytes: int


@contextmanager
def open_archive(path, *, limits: Limits):
    """Yield (ZipFile, [Entry]) for the zip at `path` once the archive passes every limit.

    Raises ArchiveRefused for an archive that is not a readable zip, is
    encrypted, has more entries than allowed, declares more bytes than allowed
    in total (413) or in one entry (413), or has an entry compressed past
    MAX_COMPRESSION_RATIO.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveRefused(f"not a readable zip archive ({exc})", code="invalid_archive") from None
    try:
        infos = archive.infolist()
        check_limits(infos, limits)
        yield archive, plan(infos)
    finally:
        archive.close()


def check_limits(infos, limits: Limits) -> None:
    """Raise ArchiveRefused when the central directory breaks a limit; nothing is read but the directory."""
    if len(infos) > limits.max_files:
        raise ArchiveRefused(
            f"the archive has {len(infos)} entries; SESSION_IMPORT_MAX_FILES allows {limits.max_files}",
            code="too_many_files",
        )
    total = 0
    for info in infos:
        if info.flag_bits & ENCRYPTED_FLAG:
            raise ArchiveRefused("the archive is encrypted; send it without a password", code="encrypted_archive")
        if info.file_size > limits.max_entry_bytes:
            raise ArchiveRefused(
                f"an entry declares {info.file_size} bytes; SESSION_MAX_BYTES allows "
                f"{describe_bytes(limits.max_entry_bytes)} per file",
                code="entry_too_large",
                status=413,
            )
        if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise ArchiveRefused(
                f"an entry is compressed more than {MAX_COMPRESSION_RATIO}:1 (a zip bomb); the limit is "
                f"{MAX_COMPRESSION_RATIO}:1",
                code="compression_ratio",
            )
        total += info.file_size
    if total > limits.max_bytes:
        raise ArchiveRefused(
            f"the archive declares {total} bytes uncompressed; SESSION_IMPORT_MAX_BYTES allows "
            f"{describe_bytes(limits.max_bytes)}",
            code="archive_too_large",
            status=413,
        )


def plan(infos) -> list[Entry]:
    """Return an Entry for each ZipInfo, in archive order."""
    entries, taken = [], {}
    for info in infos:
        entry = classify(info)
        if entry.action == "import":
            # Names equal apart from letter case are one file on a case-insensitive filesystem.
            key = entry.stored_name.lower()
            if key in taken:
                entry = Entry(
                    info,
                    "refuse",
                    code="duplicate_name",
                    detail=f"another entry of this archive ({taken[key]}) is stored under the same name",
                )
            else:
                taken[key] = info.filename
        entries.append(entry)
    return entries


def classify(info: zipfile.ZipInfo) -> Entry:
    """Return what to do with one entry, judged from its central directory record alone."""
    name = info.filename
    problem = unsafe_path(name)
    if problem:
        return Entry(info, "refuse", code="unsafe_path", detail=problem)
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode) == stat.S_IFLNK:
        return Entry(info, "refuse", code="symlink", detail="the entry is a symbolic link")
    if info.is_dir():
        return Entry(info, "skip")
    parts = name.split("/")
    if any(part.lower() in JUNK_FOLDERS for part in parts[:-1]):
        return Entry(info, "skip")
    last = parts[-1]
    if last.lower() in JUNK_FILES or last.startswith("._") or not last.lower().endswith(SESSION_SUFFIX):
        return Entry(info, "skip")
    if info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return Entry(info, "refuse", code="not_a_regular_file", detail="the entry is not a regular file")
    try:
        validate_session_filename(last)
    except InvalidSessionFileName as exc:
        return Entry(info, "refuse", code="invalid_name", detail=str(exc))
    return Entry(info, "import", stored_name=last)


def unsafe_path(name: str) -> str:
    """Return why an entry path is unsafe, or "" when it is safe to take its last component."""
    if not name:
        return "the entry has no name"
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in name):
        return "the entry path contains NUL or control characters"
    if "\\" in name:
        return "the entry path contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "the entry path is absolute"
    if ".." in name:
        return "the entry path contains '..'"
    return ""


class CorruptEntry(Exception):
    """Raised when an entry cannot be read back as it was declared (bad data, CRC, size, method)."""


# What zipfile and its decompressors raise for a damaged or unreadable entry.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    OSError,
)


@contextmanager
def open_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    """Yield a BoundedEntry for `info`; raises CorruptEntry when zipfile cannot open it."""
    try:
        stream = archive.open(info)
    except _READ_ERRORS as exc:
        raise CorruptEntry(f"the entry cannot be read ({exc})") from None
    with stream:
        yield BoundedEntry(stream, info.file_size)


class BoundedEntry:
    """A read-only stream of one entry that refuses to yield more than its declared size.

    zipfile itself stops decompressing at the declared size and then checks
    the CRC; this bound holds even if that ever changes. Read errors become
    CorruptEntry, so they are told apart from storage errors.
    """

    def __init__(self, stream, declared: int):
        self.stream = stream
        self.left = declared

    def read(self, size=-1):
        want = self.left + 1 if size is None or size < 0 else min(size, self.left + 1)
        try:
            data = self.stream.read(want)
        except _READ_ERRORS as exc:
            raise CorruptEntry(f"the entry cannot be read ({exc})") from None
        self.left -= len(data)
        if self.left < 0:
            raise CorruptEntry("the entry holds more bytes than its declared size")
        return data
