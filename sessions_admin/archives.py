"""Zip archives of session files: limits read from the central directory, safe entry names, bounded reads.

Python's zipfile does the parsing. This module decides, before a single entry
is decompressed, whether the archive may be opened at all (count, encryption,
declared sizes against the archive's own size, entries sharing bytes), and for
each entry whether it is a session file to import, something to skip, or an
entry to refuse by name. Names are judged from the raw bytes of the central
directory, since zipfile cuts a name at its first NUL before anyone sees it.
Entries are never extracted to a path: each is read as a stream into the
same private checked copy a single upload gets (`copies.private_copy`).
"""

from __future__ import annotations

import lzma
import os
import stat
import struct
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import ArchiveRefused, CorruptEntry, InvalidSessionFileName, SessionFileTooLarge, describe_bytes
from .names import SESSION_SUFFIX, shown_name, validate_session_filename

# Declared sizes over the archive's bytes. A real session file compresses about
# 20:1; past this the archive is a bomb, however its entries share the bytes.
MAX_COMPRESSION_RATIO = 100
# Folders and files that operating systems add to archives on their own.
JUNK_FOLDERS = frozenset({"__macosx"})
JUNK_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
ENCRYPTED_FLAG = 0x1
UTF8_NAMES_FLAG = 0x800
# The zip format's records (APPNOTE.TXT 4.3.7 and 4.3.12), read here for what zipfile does not keep.
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
LOCAL_SIGNATURE = b"PK\x03\x04"
CENTRAL_RECORD = struct.Struct("<4s4B4HL2L5H2L")


@dataclass(frozen=True)
class Entry:
    """One entry of the archive and what to do with it.

    `name` is the entry's name as its central directory record spells it.
    `action` is "import" (then `stored_name` is the name to store it under),
    "skip" or "refuse" (then `code` and `detail` say why).
    """

    info: zipfile.ZipInfo
    name: str
    action: str
    stored_name: str = ""
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Limits:
    max_files: int
    max_bytes: int
    max_entry_bytes: int


@contextmanager
def open_archive(path, *, limits: Limits):
    """Yield (ZipFile, [Entry]) for the zip at `path` once the archive passes every limit.

    Raises ArchiveRefused for an archive that is not a readable zip, is
    encrypted, has more entries than allowed, declares more bytes than
    allowed in total (413) or more than MAX_COMPRESSION_RATIO times its own
    size, or has entries whose data overlap.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ArchiveRefused(f"not a readable zip archive ({exc})", code="invalid_archive") from None
    try:
        infos = archive.infolist()
        with open(path, "rb") as raw:
            check_limits(infos, limits, archive_bytes=os.fstat(raw.fileno()).st_size)
            check_no_overlap(raw, infos, central_directory=archive.start_dir)
            names = raw_names(raw, central_directory=archive.start_dir, count=len(infos))
        yield archive, plan(infos, names, max_entry_bytes=limits.max_entry_bytes)
    finally:
        archive.close()


def check_limits(infos, limits: Limits, *, archive_bytes: int) -> None:
    """Raise ArchiveRefused when the central directory breaks a limit; nothing is read but the directory."""
    if len(infos) > limits.max_files:
        raise ArchiveRefused(
            f"the archive has {len(infos)} entries; SESSION_IMPORT_MAX_FILES allows {limits.max_files}",
            code="too_many_files",
        )
    if any(info.flag_bits & ENCRYPTED_FLAG for info in infos):
        raise ArchiveRefused("the archive is encrypted; send it without a password", code="encrypted_archive")
    total = sum(info.file_size for info in infos)
    if total > MAX_COMPRESSION_RATIO * archive_bytes:
        raise ArchiveRefused(
            f"the archive declares {total} bytes in {archive_bytes}, more than {MAX_COMPRESSION_RATIO}:1 "
            f"(a zip bomb); the limit is {MAX_COMPRESSION_RATIO}:1 over the whole archive",
            code="compression_ratio",
        )
    if total > limits.max_bytes:
        raise ArchiveRefused(
            f"the archive declares {total} bytes uncompressed; SESSION_IMPORT_MAX_BYTES allows "
            f"{describe_bytes(limits.max_bytes)}",
            code="archive_too_large",
            status_code=413,
        )


def check_no_overlap(raw, infos, *, central_directory: int) -> None:
    """Raise ArchiveRefused when two entries, or an entry and the central directory, share bytes.

    Each entry spans its local header, name, extra field and compressed
    data; only the 30-byte local headers are read. Overlapping entries let
    a small archive declare (and inflate) far more than it holds.
    """
    spans = sorted(((info.header_offset, _data_end(raw, info), info) for info in infos), key=lambda span: span[:2])
    previous_end, previous = 0, None
    for start, end, info in spans:
        if start < previous_end:
            raise ArchiveRefused(
                f"the entries {_shown(previous)} and {_shown(info)} share bytes (a zip bomb)",
                code="overlapping_entries",
            )
        previous_end, previous = end, info
    if previous is not None and previous_end > central_directory:
        raise ArchiveRefused(
            f"the entry {_shown(previous)} runs into the central directory", code="overlapping_entries"
        )


def _data_end(raw, info: zipfile.ZipInfo) -> int:
    raw.seek(info.header_offset)
    header = raw.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size or header[:4] != LOCAL_SIGNATURE:
        raise ArchiveRefused(f"not a readable zip archive (no local header for {_shown(info)})", code="invalid_archive")
    name_length, extra_length = LOCAL_HEADER.unpack(header)[10:12]
    return info.header_offset + LOCAL_HEADER.size + name_length + extra_length + info.compress_size


def _shown(info: zipfile.ZipInfo) -> str:
    return f"'{shown_name(info.filename, limit=64)}'"


def raw_names(raw, *, central_directory: int, count: int) -> list[str]:
    """Return each entry's name decoded from the central directory's own bytes, in archive order.

    zipfile's ZipInfo.filename is cut at the first NUL; this is the name as
    the record spells it, decoded as zipfile decodes it (UTF-8 when flagged,
    else cp437), so it can be compared.
    """
    raw.seek(central_directory)
    names = []
    for _ in range(count):
        record = CENTRAL_RECORD.unpack(raw.read(CENTRAL_RECORD.size))
        flags, name_length, extra_length, comment_length = record[5], record[12], record[13], record[14]
        name = raw.read(name_length)
        raw.seek(extra_length + comment_length, os.SEEK_CUR)
        names.append(name.decode("utf-8" if flags & UTF8_NAMES_FLAG else "cp437"))
    return names


def plan(infos, names, *, max_entry_bytes: int) -> list[Entry]:
    """Return an Entry for each ZipInfo (with its raw name from `names`), in archive order."""
    entries, taken = [], {}
    for info, name in zip(infos, names, strict=True):
        entry = classify(info, name, max_entry_bytes=max_entry_bytes)
        if entry.action == "import":
            # Names equal apart from letter case are one file on a case-insensitive filesystem.
            key = entry.stored_name.lower()
            if key in taken:
                entry = Entry(
                    info,
                    name,
                    "refuse",
                    code="duplicate_name",
                    detail=f"another entry of this archive ({taken[key]}) is stored under the same name",
                )
            else:
                taken[key] = name
        entries.append(entry)
    return entries


def classify(info: zipfile.ZipInfo, name: str, *, max_entry_bytes: int) -> Entry:
    """Return what to do with the entry `name`, judged from its central directory record alone."""

    def refuse(code, detail):
        return Entry(info, name, "refuse", code=code, detail=detail)

    problem = unsafe_path(name)
    if not problem and name != info.filename:
        problem = "zipfile would read the entry path differently from how the archive spells it"
    if problem:
        return refuse("unsafe_path", problem)
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode) == stat.S_IFLNK:
        return refuse("symlink", "the entry is a symbolic link")
    parts = name.split("/")
    last = parts[-1]
    if (
        info.is_dir()
        or any(part.lower() in JUNK_FOLDERS for part in parts[:-1])
        or last.lower() in JUNK_FILES
        or last.startswith("._")
        or not last.lower().endswith(SESSION_SUFFIX)
    ):
        return Entry(info, name, "skip")
    if info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return refuse("not_a_regular_file", "the entry is not a regular file")
    try:
        validate_session_filename(last)
    except InvalidSessionFileName as exc:
        return refuse(exc.code, str(exc))
    if info.file_size > max_entry_bytes:
        # The same refusal as a single upload's, from the declared size: nothing is read.
        return refuse(SessionFileTooLarge.code, str(SessionFileTooLarge.over(max_entry_bytes)))
    return Entry(info, name, "import", stored_name=last)


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
