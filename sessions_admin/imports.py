"""Bulk and string imports of session files: each file takes the single-upload path (`session_file_store`).

- A zip archive: its limits are checked from the central directory
  (archives.py), then each `.session` entry is streamed into the same private
  checked copy, inspection, name rules and storage as a single upload. Entries
  stand alone: one refused entry never undoes another. One audit event per
  imported or refused entry (the store's own, or one here for entries refused
  before they reach it) and one for the archive.
- Either may bring the account's sidecar (docs/sidecar.md): the zip's
  `<name>.json` beside `<name>.session` (same folder), or the string
  import's `sidecar` object; `session_file_store` checks and applies it.
- A session string: the library decodes it and writes a file of its current
  layout in a private temporary folder (strings.py); that file is then
  uploaded like any other. The string is never logged, echoed or stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from adbot_admin.audit import record
from adbot_admin.models import Outcome

from . import archives, strings
from .accounts import SIDECAR_SUFFIX
from .errors import ArchiveRefused, CorruptEntry, InvalidSessionString, Refused, SidecarInvalid
from .models import SessionFile
from .names import SESSION_SUFFIX, shown_name
from .services import session_file_store
from .sidecar import MAX_SIDECAR_BYTES


@dataclass
class ImportResult:
    """What became of each entry of an archive."""

    imported: list[SessionFile] = field(default_factory=list)
    refused: list[dict] = field(default_factory=list)  # {"name", "code", "detail"}
    skipped: list[str] = field(default_factory=list)


def archive_limits() -> archives.Limits:
    return archives.Limits(
        max_files=settings.SESSION_IMPORT_MAX_FILES,
        max_bytes=settings.SESSION_IMPORT_MAX_BYTES,
        max_entry_bytes=settings.SESSION_MAX_BYTES,
    )


def session_files_import_archive(
    *, path, uploaded_by, overwrite=False, allow_duplicate_key=False, request=None
) -> ImportResult:
    """Import every `.session` entry of the zip at `path` and return an ImportResult.

    Raises ArchiveRefused (audited) when the archive as a whole is refused;
    then nothing was imported.
    """
    try:
        with archives.open_archive(path, limits=archive_limits()) as (archive, entries):
            result = ImportResult()
            sidecars, used = _sidecar_entries(entries), set()
            for entry in entries:
                if entry.action == "refuse":
                    _refuse(result, entry.name, entry.code, entry.detail, request=request)
                elif entry.action == "import":
                    _import_entry(
                        archive,
                        entry,
                        result,
                        sidecars=sidecars,
                        used=used,
                        uploaded_by=uploaded_by,
                        overwrite=overwrite,
                        allow_duplicate_key=allow_duplicate_key,
                        request=request,
                    )
            # A `<name>.json` read as its session's sidecar is part of that entry, not skipped.
            result.skipped = [entry.name for entry in entries if entry.action == "skip" and entry.name not in used]
    except ArchiveRefused as exc:
        record(
            request=request,
            action="session_file.import",
            outcome=Outcome.FAILURE,
            detail={"reason": exc.code, "detail": str(exc)[:500]},
        )
        raise
    record(
        request=request,
        action="session_file.import",
        detail={
            "imported": len(result.imported),
            "refused": len(result.refused),
            "skipped": len(result.skipped),
        },
    )
    return result


def _sidecar_entries(entries) -> dict:
    """Return {path: Entry} of the `.json` entries the plan skipped: candidate sidecars, by exact path."""
    return {entry.name: entry for entry in entries if entry.action == "skip" and entry.name.endswith(SIDECAR_SUFFIX)}


def _read_sidecar(archive, entry) -> bytes:
    """Return the bytes of a sidecar entry; raise SidecarInvalid past MAX_SIDECAR_BYTES (declared or read)."""
    if entry.info.file_size > MAX_SIDECAR_BYTES:
        raise SidecarInvalid("sidecar", f"is larger than {MAX_SIDECAR_BYTES} bytes")
    with archives.open_entry(archive, entry.info) as stream:
        return stream.read(MAX_SIDECAR_BYTES + 1)


def _import_entry(archive, entry, result, *, sidecars, used, uploaded_by, overwrite, allow_duplicate_key, request):
    audit_detail = {"archive_entry": shown_name(entry.name)}
    sidecar_entry = sidecars.get(entry.name.removesuffix(SESSION_SUFFIX) + SIDECAR_SUFFIX)
    sidecar = None
    if sidecar_entry is not None:
        used.add(sidecar_entry.name)
        audit_detail["sidecar_entry"] = shown_name(sidecar_entry.name)
        try:
            sidecar = _read_sidecar(archive, sidecar_entry)
        except (SidecarInvalid, CorruptEntry) as exc:
            # Refused before the store could audit it.
            _refuse(result, entry.name, exc.code, str(exc), request=request)
            return
    try:
        with archives.open_entry(archive, entry.info) as stream:
            try:
                session_file = session_file_store(
                    upload=stream,
                    filename=entry.stored_name,
                    sidecar=sidecar,
                    uploaded_by=uploaded_by,
                    overwrite=overwrite,
                    allow_duplicate_key=allow_duplicate_key,
                    request=request,
                    audit_detail=audit_detail,
                )
            except Refused as exc:
                # The store has audited it (a read error while streaming included).
                result.refused.append(_refusal(entry.name, exc.code, str(exc)))
                return
    except CorruptEntry as exc:
        # zipfile could not open the entry: the store never saw it.
        _refuse(result, entry.name, exc.code, str(exc), request=request)
        return
    result.imported.append(session_file)


def _refusal(name, code, detail) -> dict:
    return {"name": name, "code": code, "detail": detail}


def _refuse(result, name, code, detail, *, request):
    result.refused.append(_refusal(name, code, detail))
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
