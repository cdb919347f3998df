"""Bulk and string imports of session files: each file takes the single-upload path (`session_file_store`).

A zip (limits from its central directory, archives.py), a folder read as one,
the tdata folders in either (tdata.py) and a session string (strings.py): README
("Zip imports", "tdata", "String sessions") has the rules. Entries stand alone:
one refused entry never undoes another. One audit event per imported or refused
entry (the store's own, or one here for entries refused before they reach it)
and one for the archive.
"""

from __future__ import annotations

import os
import stat
import zipfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from adbot_admin.audit import record
from adbot_admin.models import Outcome

from . import archives, strings, tdata
from .accounts import SIDECAR_SUFFIX, sidecar_name
from .copies import open_regular_file
from .errors import ArchiveRefused, CorruptEntry, InvalidSessionString, Refused, SidecarInvalid, UnreadableFile
from .models import SessionFile
from .names import shown_name
from .services import session_file_store
from .sidecar import MAX_SIDECAR_BYTES


@dataclass
class ImportResult:
    """What became of each entry of an archive."""

    imported: list[SessionFile] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  # {"name", "code", "detail"}
    skipped: list[str] = field(default_factory=list)
    # Every check ran, nothing was stored, and only the summary was audited.
    dry_run: bool = False


def archive_limits() -> archives.Limits:
    return archives.Limits(
        max_files=settings.SESSION_IMPORT_MAX_FILES,
        max_bytes=settings.SESSION_IMPORT_MAX_BYTES,
        max_entry_bytes=settings.SESSION_MAX_BYTES,
    )


def session_files_import_archive(
    *, path, uploaded_by, overwrite=False, allow_duplicate_key=False, tdata_passcode="", request=None
) -> ImportResult:
    """Import every `.session` entry and every tdata folder of the zip at `path`; return an ImportResult.

    Raises ArchiveRefused (audited) when the archive as a whole is refused;
    then nothing was imported.
    """
    try:
        with archives.open_archive(path, limits=archive_limits()) as (archive, entries):
            return _import_entries(
                ZipSource(archive),
                entries,
                uploaded_by=uploaded_by,
                overwrite=overwrite,
                allow_duplicate_key=allow_duplicate_key,
                tdata_passcode=tdata_passcode,
                request=request,
            )
    except ArchiveRefused as exc:
        _record_refused_archive(exc, request=request)
        raise


def session_files_import_folder(
    *, path, uploaded_by, overwrite=False, allow_duplicate_key=False, tdata_passcode="", dry_run=False
) -> ImportResult:
    """Import a folder of session files (with their sidecars) and tdata folders by the zip import's rules.

    The folder is read as an archive, so the same code judges its names, links,
    limits and duplicates. With `dry_run` nothing is stored. Raises
    ArchiveRefused (audited) when the folder as a whole breaks a limit.
    """
    root = Path(path)
    audit_detail = {"folder": shown_name(str(root))}
    try:
        infos, limits = folder_entries(root), archive_limits()
        # A folder is not compressed: its declared bytes are its bytes.
        archives.check_limits(infos, limits, archive_bytes=max(1, sum(info.file_size for info in infos)))
        # A file's name is its relative path exactly (a folder has no second spelling of it).
        names = [info.filename for info in infos]
        return _import_entries(
            FolderSource(root),
            archives.plan(infos, names, max_entry_bytes=limits.max_entry_bytes),
            uploaded_by=uploaded_by,
            overwrite=overwrite,
            allow_duplicate_key=allow_duplicate_key,
            tdata_passcode=tdata_passcode,
            request=None,
            audit_detail=audit_detail,
            dry_run=dry_run,
        )
    except ArchiveRefused as exc:
        if not dry_run:
            _record_refused_archive(exc, request=None, audit_detail=audit_detail)
        raise


def folder_entries(root: Path) -> list[zipfile.ZipInfo]:
    """Return a ZipInfo for each file, symbolic link and other non-folder under `root` (links not followed)."""
    if not root.is_dir() or root.is_symlink():
        raise ArchiveRefused("not a folder (symbolic links are not followed)", code="not_a_folder")
    infos = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if tdata.is_tdata_folder(files):
            names = [*files, *(f"{sub}/{item}" for sub in subfolders for item in _listing(here / sub))]
            chosen = [name for name in names if tdata.wanted_in_folder(name)]
            subfolders[:] = []
        else:
            links = [sub for sub in subfolders if (here / sub).is_symlink()]
            chosen = [*files, *links]
        infos.extend(_info_of(here / name, (here / name).relative_to(root).as_posix()) for name in chosen)
    return infos


def _listing(folder: Path) -> list[str]:
    if folder.is_symlink() or not folder.is_dir():
        return []
    return sorted(os.listdir(folder))


def _info_of(path: Path, name: str) -> zipfile.ZipInfo:
    status = path.lstat()
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (status.st_mode & 0xFFFF) << 16
    info.file_size = info.compress_size = status.st_size if stat.S_ISREG(status.st_mode) else 0
    return info


class FolderSource:
    """Reads the files of a folder as the entries of an archive (regular files only, never through a link)."""

    def __init__(self, root: Path):
        self.root = root

    @contextmanager
    def open(self, info):
        with ExitStack() as stack:
            try:
                file = stack.enter_context(open_regular_file(self.root / info.filename))
            except UnreadableFile as exc:
                # Changed since the folder was listed: refused like an entry that cannot be read.
                raise CorruptEntry(str(exc)) from None
            yield file


class ZipSource:
    """Reads the entries of an open zip archive."""

    def __init__(self, archive):
        self.archive = archive

    def open(self, info):
        return archives.open_entry(self.archive, info)


def _record_refused_archive(exc, *, request, audit_detail=None):
    record(
        request=request,
        action="session_file.import",
        outcome=Outcome.FAILURE,
        detail={**(audit_detail or {}), "reason": exc.code, "detail": str(exc)[:500]},
    )


def _import_entries(
    source,
    entries,
    *,
    uploaded_by,
    overwrite,
    allow_duplicate_key,
    tdata_passcode,
    request,
    audit_detail=None,
    dry_run=False,
) -> ImportResult:
    """Import the planned `entries` of `source` (a zip, or a folder read as one); return an ImportResult.

    The rules of every import of many files: each `.session` entry and each
    account of each tdata folder goes through `session_file_store` and stands
    alone. Raises ArchiveRefused when the tdata folders are too many.
    """
    try:
        folders = tdata.find_folders(entries)
    except tdata.TdataRefused as exc:
        raise ArchiveRefused(str(exc), code=exc.code) from None
    in_tdata = set().union(*(folder.entries for folder in folders))
    options = {
        "uploaded_by": uploaded_by,
        "overwrite": overwrite,
        "allow_duplicate_key": allow_duplicate_key,
        "request": request,
        "dry_run": dry_run,
    }
    result = ImportResult(dry_run=dry_run)
    # The `.json` entries the plan skipped: candidate sidecars, by exact path.
    sidecars = {
        entry.name: entry for entry in entries if entry.action == "skip" and entry.name.endswith(SIDECAR_SUFFIX)
    }
    used = set()
    for entry in entries:
        if entry.name in in_tdata or entry.action == "skip":
            continue
        if entry.action == "refuse":
            _refuse(result, entry.name, entry.code, entry.detail, request=request)
        else:
            _import_entry(source, entry, result, sidecars=sidecars, used=used, **options)
    for folder in folders:
        _import_tdata(source, folder, result, passcode=tdata_passcode, **options)
    # A `<name>.json` read as its session's sidecar is part of that entry, not skipped.
    result.skipped = [entry.name for entry in entries if entry.action == "skip" and entry.name not in used | in_tdata]
    record(
        request=request,
        action="session_file.import",
        detail={
            **(audit_detail or {}),
            **({"dry_run": True} if dry_run else {}),
            "imported": len(result.imported),
            "refused": len(result.refused),
            "skipped": len(result.skipped),
        },
    )
    return result


def _read_sidecar(source, entry) -> bytes:
    """Return the bytes of a sidecar entry; raise SidecarInvalid past MAX_SIDECAR_BYTES (declared or read)."""
    if entry.info.file_size > MAX_SIDECAR_BYTES:
        raise SidecarInvalid("sidecar", f"is larger than {MAX_SIDECAR_BYTES} bytes")
    with source.open(entry.info) as stream:
        return stream.read(MAX_SIDECAR_BYTES + 1)


def _import_entry(source, entry, result, *, sidecars, used, request, **options):
    audit_detail = {"archive_entry": shown_name(entry.name)}
    sidecar_entry = sidecars.get(sidecar_name(entry.name))
    sidecar = None
    if sidecar_entry is not None:
        used.add(sidecar_entry.name)
        audit_detail["sidecar_entry"] = shown_name(sidecar_entry.name)
        try:
            sidecar = _read_sidecar(source, sidecar_entry)
        except (SidecarInvalid, CorruptEntry) as exc:
            # Refused before the store could audit it.
            _refuse(result, entry.name, exc.code, str(exc), request=request)
            return
    _store_one(
        result,
        entry.name,
        lambda: source.open(entry.info),
        filename=entry.stored_name,
        sidecar=sidecar,
        request=request,
        audit_detail=audit_detail,
        **options,
    )


def _import_tdata(source, folder, result, *, passcode, request, **options):
    """Import each account of one tdata folder as a Telethon session named `<user id>.session`."""
    try:
        with tdata.extracted(source, folder) as copy, tdata.read_accounts(copy, passcode=passcode) as accounts:
            for account in accounts:
                _store_one(
                    result,
                    f"{folder.shown}: {account.stored_name}",
                    lambda account=account: open(account.path, "rb"),
                    filename=account.stored_name,
                    sidecar=account.sidecar,
                    request=request,
                    audit_detail={"archive_entry": shown_name(folder.shown), "source": "tdata"},
                    **options,
                )
    except (tdata.TdataRefused, CorruptEntry) as exc:
        # Refused before any account reached the store.
        _refuse(result, folder.shown, exc.code, str(exc), request=request)


def _store_one(result, name, open_upload, *, request, **store_options):
    """Store what `open_upload()` opens; file its row under imported, or its refusal (by `name`) under refused."""
    try:
        with open_upload() as stream:
            try:
                session_file = session_file_store(upload=stream, request=request, **store_options)
            except Refused as exc:
                # The store has audited it (a read error while streaming included).
                result.refused.append({"name": name, "code": exc.code, "detail": str(exc)})
                return
    except CorruptEntry as exc:
        # The entry could not be opened: the store never saw it.
        _refuse(result, name, exc.code, str(exc), request=request)
        return
    result.imported.append(session_file)


def _refuse(result, name, code, detail, *, request):
    result.refused.append({"name": name, "code": code, "detail": detail})
    if result.dry_run:
        return
    record(
        request=request,
        action="session_file.upload",
        outcome=Outcome.FAILURE,
        detail={"archive_entry": shown_name(name), "reason": code},
    )


def session_file_import_string(
    *,
    filename,
    library,
    session_string,
    sidecar=None,
    uploaded_by,
    overwrite=False,
    allow_duplicate_key=False,
    request=None,
) -> SessionFile:
    """Write `session_string` as a `library` session file, store it as `filename` and return its row.

    Raises InvalidSessionString (audited) for a string the library cannot
    decode, and whatever `session_file_store` raises for the file.
    """
    try:
        with strings.session_file_from_string(library=library, session_string=session_string) as path:
            with open(path, "rb") as content:
                return session_file_store(
                    upload=content,
                    filename=filename,
                    sidecar=sidecar,
                    uploaded_by=uploaded_by,
                    overwrite=overwrite,
                    allow_duplicate_key=allow_duplicate_key,
                    request=request,
                    audit_detail={"source": f"{library} session string"},
                )
    except InvalidSessionString as exc:
        record(
            request=request,
            action="session_file.upload",
            outcome=Outcome.FAILURE,
            target=filename,
            detail={"source": f"{library} session string", "reason": exc.code, "detail": str(exc)},
        )
        raise
