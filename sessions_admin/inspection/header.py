"""The SQLite header, checked against the file's size before SQLite opens the file.

The page count in the header is only trusted when the "version-valid-for"
number (offset 92) equals the change counter (offset 24). When they differ
the file is refused rather than sized from its length: every supported
library uses SQLite >= 3.7.0 (2010), which keeps the two in step, so a
mismatch means an ancient writer or a hand-made file.
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..copies import open_regular_file
from ..errors import CorruptDatabase, NotSQLite

SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


def check_header(path: Path) -> None:
    """Check the SQLite header against the file's size without opening it in SQLite.

    Raises UnreadableFile for a path that is not a readable regular file,
    NotSQLite for an empty or non-SQLite file, and CorruptDatabase for one
    that is truncated, has trailing data, or has a header whose page count
    cannot be trusted.
    """
    with open_regular_file(path) as file:
        header = file.read(HEADER_BYTES)
        size = file.seek(0, 2)
    if size == 0:
        raise NotSQLite("the file is empty")
    if not header.startswith(SQLITE_MAGIC):
        raise NotSQLite("not an SQLite database (the SQLite header is missing)")
    if len(header) < HEADER_BYTES:
        raise CorruptDatabase(f"file is truncated: {size} bytes is shorter than the {HEADER_BYTES}-byte SQLite header")
    page_size, page_count = _page_geometry(header)
    expected = page_size * page_count
    if size < expected:
        raise CorruptDatabase(
            f"file is truncated: header says {page_count} pages of {page_size} bytes but file has {size} bytes"
        )
    if size > expected:
        raise CorruptDatabase(
            f"file has trailing data: header says {page_count} pages of {page_size} bytes "
            f"({expected} bytes) but file has {size} bytes"
        )


def _page_geometry(header: bytes) -> tuple[int, int]:
    """Return (page size, page count) from a 100-byte header.

    Raises CorruptDatabase if either value is invalid or untrustworthy.
    """
    (raw_page_size,) = struct.unpack_from(">H", header, 16)
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise CorruptDatabase(f"corrupt SQLite header: invalid page size {raw_page_size}")
    if header[18] not in (1, 2) or header[19] not in (1, 2):
        raise CorruptDatabase("corrupt SQLite header: unknown file format version")
    (change_counter,) = struct.unpack_from(">I", header, 24)
    (page_count,) = struct.unpack_from(">I", header, 28)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    # SQLite only vouches for the page count when these match; a stale count
    # comes from a pre-3.7.0 writer or a hand-edited file, so refuse it.
    if valid_for != change_counter:
        raise CorruptDatabase(
            "the SQLite header's page count is stale (not written by a modern SQLite); "
            "open the session once with its library and upload it again"
        )
    if page_count == 0:
        raise CorruptDatabase("corrupt SQLite header: page count is 0")
    return page_size, page_count
