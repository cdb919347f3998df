"""Session exports: a zip of `<name>.session` (or `<name>.txt`) + `<name>.json` per account, streamed.

The zip is written by Python's zipfile into a sink that the response drains
after each account, so an export of any size holds one account's files at a
time, never the archive (zipfile writes data descriptors when its output
cannot seek). Conversions go through conversion.py (TGConvertor) in a private
temporary folder; a file already in the asked library is sent as stored.

Everything that can refuse an export is decided before the first byte goes
out (the names, the count, each file's presence, what a conversion needs),
and the export is audited with every name then. A file that disappears while
the zip streams ends the stream early: the client gets an archive without its
central directory, which no unzip tool takes for complete.
"""

from __future__ import annotations

import logging
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from adbot_admin.audit import record
from adbot_admin.file_storage import TEMP_PREFIX, session_storage

from . import conversion
from .accounts import account_sidecar
from .copies import open_regular_file
from .errors import Refused, SessionFileRejected
from .models import SessionFile
from .names import SESSION_SUFFIX, shown_name
from .sidecar import render_sidecar

logger = logging.getLogger(__name__)

AS_STORED, TELETHON, PYROGRAM, STRING = "as_stored", "telethon", "pyrogram", "string"
FORMATS = (AS_STORED, TELETHON, PYROGRAM, STRING)
# Every entry's time and mode: the archive says nothing about when files were stored, and opens private.
ENTRY_DATE = (1980, 1, 1, 0, 0, 0)
ENTRY_MODE = 0o600


class ExportRefused(Refused):
    """Raised before anything is streamed (400); `code` says why, and the message names the sessions concerned."""

    code = "nothing_to_export"
    SHOWN_NAMES = 20

    def __init__(self, detail, *, code, names=()):
        names = list(names)
        if names:
            shown = ", ".join(shown_name(name) for name in names[: self.SHOWN_NAMES])
            more = f" and {len(names) - self.SHOWN_NAMES} more" if len(names) > self.SHOWN_NAMES else ""
            detail = f"{detail}: {shown}{more}"
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class Export:
    """A decided export: the rows, in name order, and how to write them."""

    session_files: list
    format: str
    include_secrets: bool

    @property
    def names(self) -> list[str]:
        return [row.filename for row in self.session_files]


def target_library(session_file, export_format) -> str:
    """Return the library whose file (or string) `session_file` is written as."""
    return session_file.library if export_format in (AS_STORED, STRING) else export_format


def sessions_export_prepare(*, session_files, export_format, include_secrets, request=None) -> Export:
    """Check an export of `session_files` (a queryset or list of rows), audit it, and return an Export.

    Raises ExportRefused when nothing matches, when more than
    SESSION_IMPORT_MAX_FILES match (what one import takes back), or when a
    conversion needs what a session lacks (a Pyrogram file or string records
    the account's user id and its app's api_id).
    """
    if export_format not in FORMATS:
        raise ExportRefused(f"format must be one of {', '.join(FORMATS)}", code="invalid_format")
    limit = settings.SESSION_IMPORT_MAX_FILES
    rows = list(session_files.order_by("filename")[: limit + 1]) if hasattr(session_files, "order_by") else None
    if rows is None:
        rows = sorted(session_files, key=lambda row: row.filename)
    if not rows:
        raise ExportRefused("no session matches", code="nothing_to_export")
    if len(rows) > limit:
        raise ExportRefused(
            f"more than {limit} sessions match; one export holds at most SESSION_IMPORT_MAX_FILES",
            code="too_many_sessions",
        )
    storage = session_storage()
    missing = [row.filename for row in rows if not _is_regular_file(Path(storage.path(row.filename)))]
    if missing:
        raise ExportRefused(
            "these sessions have no file in SESSIONS_DIR (manage.py sync_sessions reports such drift)",
            code="missing_files",
            names=missing,
        )
    lacking = [row.filename for row in rows if _lacks_account_data(row, export_format)]
    if lacking:
        raise ExportRefused(
            "a Pyrogram session records the account's user id and its app's api_id; these sessions lack one",
            code="missing_account_data",
            names=lacking,
        )
    export = Export(session_files=rows, format=export_format, include_secrets=bool(include_secrets))
    record(
        request=request,
        action="session_file.export",
        detail={"format": export.format, "include_secrets": export.include_secrets, "names": export.names},
    )
    return export


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _lacks_account_data(row, export_format) -> bool:
    library = target_library(row, export_format)
    converted = library != row.library or export_format == STRING
    return converted and bool(conversion.missing_for(library, user_id=row.user_id, api_id=row.api_id))


def sessions_export_stream(export: Export):
    """Yield the bytes of `export`'s zip, one account's entries at a time.

    When a session can no longer be read or converted (its file went away
    after the export was decided), the stream ends there without the zip's
    central directory, and the reason is logged: a partial archive never
    looks complete.
    """
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)
    for row in export.session_files:
        try:
            entries = list(_entries_of(row, export))
        except (conversion.ConversionRefused, SessionFileRejected, OSError) as exc:
            logger.error(
                "session export cut short at %s: %s", row.filename, getattr(exc, "code", None) or type(exc).__name__
            )
            return
        for name, content in entries:
            info = zipfile.ZipInfo(name, ENTRY_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ENTRY_MODE << 16
            archive.writestr(info, content)
        yield sink.take()
    archive.close()
    yield sink.take()


class _Sink:
    """A write-only stream (so zipfile writes data descriptors) whose bytes are taken after each account."""

    def __init__(self):
        self.parts = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _entries_of(row: SessionFile, export: Export):
    stem = row.filename.removesuffix(SESSION_SUFFIX)
    stored = _read_stored(row)
    library = target_library(row, export.format)
    if export.format == STRING:
        yield f"{stem}.txt", (_convert(row, stored, library, as_string=True) + "\n").encode("ascii")
    elif library == row.library:
        yield row.filename, stored
    else:
        yield row.filename, _convert(row, stored, library, as_string=False)
    sidecar = account_sidecar(session_file=row, include_secrets=export.include_secrets)
    yield f"{stem}.json", render_sidecar(sidecar=sidecar, include_secrets=export.include_secrets)


def _read_stored(row: SessionFile) -> bytes:
    path = Path(session_storage().path(row.filename))
    with open_regular_file(path) as file:
        content = file.read(settings.SESSION_MAX_BYTES + 1)
    if len(content) > settings.SESSION_MAX_BYTES:
        raise conversion.ConversionRefused("the stored file is larger than SESSION_MAX_BYTES", code="too_large")
    return content


def _convert(row: SessionFile, stored: bytes, library: str, *, as_string: bool):
    """Return `stored` (a `row.library` file) as a `library` file's bytes, or as its session string."""
    folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=settings.FILE_UPLOAD_TEMP_DIR))
    try:
        source = folder / "source.session"
        source.write_bytes(stored)
        manager = conversion.load(path=source, library=row.library, user_id=row.user_id, api_id=row.api_id)
        if as_string:
            return conversion.session_string(manager, library=library)
        target = folder / "converted.session"
        conversion.write_file(manager, library=library, path=target)
        return target.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
