"""Session file and API pair flows shared by the API, the admin site and `sync_sessions`.

A session file's row and its file in SESSIONS_DIR appear and disappear together:
the row, the file moves (a FileJournal, undone on failure, final on commit) and
the audit event are one transaction, so no committed row ever points at a
removed file. README, "Row and file together", has the steps and their reasons;
an enclosing transaction that rolls back later leaves drift that `sync_sessions`
reports and repairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from adbot_admin.audit import record
from adbot_admin.field_edits import fields_assign
from adbot_admin.file_storage import TEMP_PREFIX, save_exact, session_storage
from adbot_admin.models import AuthMethod, Outcome

from . import sidecar as sidecars
from .accounts import (
    SIDECAR_SUFFIX,
    account_apply,
    account_secrets,
    account_sidecar,
    sidecar_bytes,
    sidecar_name,
    sidecar_place,
)
from .copies import CheckedCopy, make_private, open_regular_file, private_copy
from .errors import (
    ApiIdRecordedInFile,
    ApiPairExists,
    ApiPairInUse,
    ApiPairMismatch,
    AuthKeyChanged,
    DuplicateAuthKey,
    InvalidSessionFileName,
    Refused,
    SessionFileExists,
    SessionFileNameCaseCollision,
    SessionFileRejected,
)
from .inspection import SessionInfo, inspect_session_file
from .journal import FileJournal
from .ledger import session_status_set
from .models import ApiPair, SessionFile, SessionStatus
from .names import is_sibling_name, sibling_names, validate_session_filename

SYNC_ACTOR = "sync_sessions"
API_PAIR_EDITABLE_FIELDS = ("label", "is_active")


# --- Session files ------------------------------------------------------------


class _DryRunDone(Exception):
    """Raised inside the store's transaction to roll a dry run back; carries the row it would have written."""

    def __init__(self, session_file):
        super().__init__(session_file.filename)
        self.session_file = session_file


def session_file_store(
    *,
    upload,
    filename=None,
    sidecar=None,
    uploaded_by,
    overwrite=False,
    allow_duplicate_key=False,
    expected_auth_key_sha256=None,
    request=None,
    audit_detail=None,
    dry_run=False,
) -> SessionFile:
    """Check `upload` and its `sidecar`, store both in SESSIONS_DIR as `filename` and return its row.

    This is the one way in for every import path (single upload, zip, string,
    folder). `sidecar` is the account's JSON as bytes or a decoded dict, or
    None (an overwrite without one keeps the row's account). Its values set
    the account fields, its app_id/app_hash add the API pair when no pair has
    that app_id (audited), and its spamblock/freeze hints set the first
    status (source `import`). The canonical `<name>.json` is written beside
    the file either way.

    `filename` is the name as the client sent it (default: `upload.name`). It
    is refused, never rewritten. `upload` is a Django File or an open binary
    file. Raises a SessionFileRejected subclass for a refused name or file,
    SessionFileExists when the name is taken (or differs from a stored one
    only in letter case) and `overwrite` is false, DuplicateAuthKey when
    another file holds the same auth key and `allow_duplicate_key` is false,
    SidecarInvalid naming the key, ApiPairMismatch when a stored pair has
    the sidecar's app_id with another hash, and AuthKeyChanged when
    `expected_auth_key_sha256` is given and the file holds another key
    (a fenced write); in every case nothing is stored
    and the refusal is audited with its code (and `audit_detail` added).

    With `dry_run` every check runs, nothing is stored or audited (an API
    pair the sidecar would add included), and the returned row is unsaved.
    """
    name = upload.name if filename is None else filename
    try:
        validate_session_filename(name)
        parsed = None if sidecar is None else sidecars.parse_sidecar(data=sidecar)
        with private_copy(upload, max_bytes=settings.SESSION_MAX_BYTES) as copy:
            info = inspect_session_file(copy.path)
            if expected_auth_key_sha256 is not None and info.auth_key_sha256 != expected_auth_key_sha256:
                raise AuthKeyChanged()
            return _place(
                name,
                copy,
                info,
                sidecar=parsed,
                uploaded_by=uploaded_by,
                overwrite=overwrite,
                allow_duplicate_key=allow_duplicate_key,
                request=request,
                audit_detail=audit_detail,
                dry_run=dry_run,
            )
    except Refused as exc:
        if dry_run:
            raise
        record(
            request=request,
            action="session_file.upload",
            outcome=Outcome.FAILURE,
            target="" if isinstance(exc, InvalidSessionFileName) else name,
            detail={**(audit_detail or {}), "reason": exc.code, "detail": str(exc)[:500]},
        )
        raise


def _place(
    name,
    copy: CheckedCopy,
    info: SessionInfo,
    *,
    sidecar,
    uploaded_by,
    overwrite,
    allow_duplicate_key,
    request,
    audit_detail,
    dry_run=False,
) -> SessionFile:
    """Write the row, place the file and audit, all or nothing; return the row."""
    storage = session_storage()
    journal = FileJournal(storage)
    try:
        with transaction.atomic():
            # One query for the three rules: the same name, the name in another case, the same key.
            related = list(
                SessionFile.objects.select_for_update()
                .annotate(filename_lower=Lower("filename"))
                .filter(Q(filename_lower=name.lower()) | Q(auth_key_sha256=info.auth_key_sha256))
                .order_by("filename")
            )
            session_file = next((row for row in related if row.filename == name), None)
            if session_file is not None and not overwrite:
                raise SessionFileExists()
            other_case = next(
                (row for row in related if row.filename != name and row.filename.lower() == name.lower()), None
            )
            if other_case is not None:
                raise SessionFileNameCaseCollision(other_case.filename)
            key_holder = next(
                (
                    row.filename
                    for row in related
                    if row.filename != name and row.auth_key_sha256 == info.auth_key_sha256
                ),
                None,
            )
            if key_holder is not None and not allow_duplicate_key:
                raise DuplicateAuthKey(key_holder)
            replaced = session_file is not None
            session_file = session_file or SessionFile(filename=name)
            _fill(session_file, copy, info)
            if sidecar is not None:
                _link_api_pair(sidecar, request=request)
                account_apply(session_file=session_file, sidecar=sidecar)
            session_file.uploaded_at = timezone.now()
            session_file.uploaded_by = str(uploaded_by)[:255]
            if dry_run:
                raise _DryRunDone(session_file)
            session_file.save()
            if overwrite:
                journal.set_aside(name, keep_in_place=True)
            journal.set_aside_existing(sibling_names(name))
            with open(copy.path, "rb") as content:
                save_exact(storage, name, File(content), overwrite=overwrite)
            journal.record_placed(name)
            hint = sidecars.status_hint(sidecar) if sidecar is not None else None
            if hint is not None and session_file.status == SessionStatus.UNKNOWN:
                status, until, reason = hint
                session_file = session_status_set(
                    session=session_file,
                    status=status,
                    reason=reason,
                    until=until if until and until > timezone.now() else None,
                    source="import",
                    request=request,
                )
            sidecar_place(storage=storage, journal=journal, session_file=session_file)
            detail = {**(audit_detail or {}), **_describe(session_file), "replaced": replaced}
            if sidecar is not None:
                # Which keys came, never their values.
                detail["sidecar_keys"] = sorted(sidecar.values)
            if key_holder is not None:
                # Allowed on purpose: the audit says which file already held the key.
                detail["duplicate_key_of"] = key_holder
            record(request=request, action="session_file.upload", target=name, detail=detail)
            transaction.on_commit(journal.commit, robust=True)
    except _DryRunDone as done:
        return done.session_file
    except BaseException as exc:
        journal.rollback()
        if isinstance(exc, (IntegrityError, FileExistsError)):
            # A concurrent upload of the same name won the unique row or the link.
            raise SessionFileExists() from exc
        raise
    return session_file


def _link_api_pair(sidecar, *, request) -> None:
    """Add the sidecar's API pair when no pair has its app_id; raise ApiPairMismatch when one has another hash."""
    api_id, api_hash = sidecar.get("app_id"), sidecar.get("app_hash")
    if api_id is None or api_hash is None:
        return
    stored = ApiPair.objects.select_for_update().filter(api_id=api_id).values_list("api_hash", flat=True).first()
    if stored is None:
        try:
            api_pair_create(api_id=api_id, api_hash=api_hash, label="added by an import", request=request)
        except ApiPairExists:
            stored = ApiPair.objects.filter(api_id=api_id).values_list("api_hash", flat=True).first()
    if stored is not None and stored != api_hash:
        raise ApiPairMismatch(api_id)


def _fill(session_file: SessionFile, copy: CheckedCopy, info: SessionInfo) -> None:
    """Set the row's metadata from the inspected file.

    An api_id the file records wins; a file that records none keeps the
    api_id an admin set on the row (the engine rewrites its files in place).
    """
    session_file.library = info.library
    session_file.layout = info.layout
    session_file.dc_id = info.dc_id
    session_file.user_id = info.user_id
    session_file.is_bot = info.is_bot
    if info.api_id is not None:
        session_file.api_id, session_file.api_id_in_file = info.api_id, True
    elif session_file.api_id_in_file:
        session_file.api_id, session_file.api_id_in_file = None, False
    session_file.size = copy.size
    session_file.sha256 = copy.sha256
    session_file.auth_key_sha256 = info.auth_key_sha256


def _describe(session_file: SessionFile) -> dict:
    """Return the audit detail for a session file: metadata, never key material."""
    return {
        "library": session_file.library,
        "layout": session_file.layout,
        "dc_id": session_file.dc_id,
        "api_id": session_file.api_id,
        "size": session_file.size,
        "sha256": session_file.sha256,
    }


def session_file_delete(*, session_file, request=None, actor=None) -> None:
    """Remove `session_file`'s row, its file and the file's SQLite companions.

    Raises SessionFile.DoesNotExist when the row is already gone. A missing
    file is not an error: the row goes anyway.
    """
    storage = session_storage()
    name = session_file.filename
    with FileJournal.opened(storage) as journal, transaction.atomic():
        deleted, _ = SessionFile.objects.filter(pk=session_file.pk).delete()
        if not deleted:
            raise SessionFile.DoesNotExist(name)
        had_file = journal.set_aside(name)
        journal.set_aside_existing([*sibling_names(name), sidecar_name(name)])
        record(
            request=request,
            action="session_file.delete",
            target=name,
            actor=actor,
            auth_method=AuthMethod.SHELL if actor else None,
            detail={**_describe(session_file), "file_found": had_file},
        )
        transaction.on_commit(journal.commit, robust=True)


def session_file_set_api_id(*, session_file, api_id, request=None) -> SessionFile:
    """Set the api_id of a session whose file does not record one, audited; return the row.

    Raises ApiIdRecordedInFile when the file records an api_id and `api_id`
    differs from it. The same value changes and records nothing.
    """
    with transaction.atomic():
        locked = SessionFile.objects.select_for_update().get(pk=session_file.pk)
        if locked.api_id == api_id:
            return locked
        if locked.api_id_in_file:
            raise ApiIdRecordedInFile(
                f"the file records api_id {locked.api_id}; a session is used with the app that created it"
            )
        previous, locked.api_id = locked.api_id, api_id
        locked.save(update_fields=["api_id"])
        record(
            request=request,
            action="session_file.update",
            target=locked.filename,
            detail={"api_id": {"from": previous, "to": api_id}},
        )
        _rewrite_sidecar(locked)
    return locked


def _rewrite_sidecar(session_file) -> None:
    """Write `session_file`'s `<name>.json` again, final when the enclosing transaction commits."""
    storage = session_storage()
    with FileJournal.opened(storage) as journal:
        sidecar_place(storage=storage, journal=journal, session_file=session_file)
    transaction.on_commit(journal.commit, robust=True)


def session_account_update(*, session_file, changes, request=None) -> SessionFile:
    """Apply `changes` (canonical sidecar key -> value; None removes the key) to the account; return the row.

    The changed account goes through the sidecar's checks as an import's does,
    the `<name>.json` beside the file is rewritten, and the change is audited
    with the keys that changed, never their values. Raises SidecarInvalid
    naming the key. An empty `changes` changes and records nothing.
    """
    if not changes:
        return session_file
    with transaction.atomic():
        locked = SessionFile.objects.select_for_update().get(pk=session_file.pk)
        current = account_sidecar(session_file=locked, include_secrets=True)
        # The hash is the API pair's, not the account's: it is not edited here.
        document = {key: value for key, value in current.values.items() if key != "app_hash"}
        document.update(current.extra)
        for key, value in changes.items():
            if value is None:
                document.pop(key, None)
            else:
                document[key] = value
        account_apply(session_file=locked, sidecar=sidecars.parse_sidecar(data=document))
        locked.save()
        record(
            request=request,
            action="session_file.update",
            target=locked.filename,
            detail={"account_keys": sorted(changes)},
        )
        _rewrite_sidecar(locked)
    return locked


def session_secrets_reveal(*, session_file, request=None) -> dict:
    """Record that `session_file`'s secrets are being shown, and return them in plain text (accounts.account_secrets)."""
    secrets = account_secrets(session_file=session_file)
    record(
        request=request,
        action="session_file.secrets",
        target=session_file.filename,
        detail={"has_2fa_password": secrets["twofa_password"] is not None, "has_proxy": secrets["proxy"] is not None},
    )
    return secrets


# --- Drift between SESSIONS_DIR and the table ---------------------------------


@dataclass
class Finding:
    """One difference between SESSIONS_DIR and the table, and what was done about it."""

    # unregistered | invalid | missing | changed | changed_invalid | duplicate_key | sidecar_missing | sidecar_differs
    kind: str
    filename: str
    message: str
    repairable: bool
    repaired: bool = False


@dataclass
class SyncReport:
    findings: list[Finding] = field(default_factory=list)
    checked_files: int = 0
    checked_rows: int = 0

    @property
    def unresolved(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.repaired]


def _directory_entries(storage) -> list[str]:
    """Return the names of SESSIONS_DIR's entries that are not folders, temporaries or companions."""
    root = Path(storage.location)
    if not root.is_dir():
        return []
    return [
        entry.name
        for entry in sorted(root.iterdir())
        if not (
            entry.name.startswith(TEMP_PREFIX) or is_sibling_name(entry.name) or entry.name.endswith(SIDECAR_SUFFIX)
        )
        and (entry.is_symlink() or not entry.is_dir())
    ]


def _inspect_in_place(storage, name) -> tuple[CheckedCopy, SessionInfo] | None:
    """Copy `name` privately, inspect the copy and return (copy, info), or None when it is gone.

    The copy's temporary file is already removed on return; its size and
    sha256 remain. Raises SessionFileRejected for a file that is refused.
    """
    path = Path(storage.path(name))
    if not os.path.lexists(path):
        return None
    with open_regular_file(path) as source, private_copy(source, max_bytes=settings.SESSION_MAX_BYTES) as copy:
        return copy, inspect_session_file(copy.path)


def session_files_sync(*, repair=False) -> SyncReport:
    """Compare SESSIONS_DIR with the table and return a SyncReport; with `repair`, repair what may be.

    The kinds of drift and what a repair does to each are the `sync_sessions`
    command's help. A refused file is never touched: it may be someone's work in
    progress or evidence, and deleting a credential is an admin's decision.
    Every repair is audited with the actor "sync_sessions".
    """
    storage = session_storage()
    rows = {row.filename: row for row in SessionFile.objects.all()}
    names = _directory_entries(storage)
    report = SyncReport(checked_files=len(names), checked_rows=len(rows))
    key_holders: dict[str, list[str]] = {}
    for name in names:
        row = rows.get(name)
        if row is None:
            report.findings.append(_unregistered_file(storage, name, repair=repair, key_holders=key_holders))
        else:
            finding = _compare(storage, row, repair=repair, key_holders=key_holders)
            if finding is not None:
                report.findings.append(finding)
    on_disk = set(names)
    report.findings += [
        _row_without_file(storage, row, repair=repair) for name, row in rows.items() if name not in on_disk
    ]
    # Read again: the repairs above add and change rows, and their sidecars follow them.
    for row in SessionFile.objects.filter(filename__in=on_disk):
        finding = _compare_sidecar(storage, row, repair=repair)
        if finding is not None:
            report.findings.append(finding)
    report.findings.extend(_duplicate_keys(key_holders))
    return report


def _sync_recorded(action, target, detail=None):
    """Audit one repair by sync_sessions (a shell action: there is no request)."""
    record(action=action, target=target, actor=SYNC_ACTOR, auth_method=AuthMethod.SHELL, detail=detail)


def _compare_sidecar(storage, row: SessionFile, *, repair) -> Finding | None:
    """Return a finding when `row`'s `<name>.json` is missing or differs from what the row renders."""
    name = sidecar_name(row.filename)
    expected = sidecar_bytes(session_file=row)
    path = Path(storage.path(name))
    if not os.path.lexists(path):
        finding = Finding("sidecar_missing", name, f"{row.filename} has no sidecar", repairable=True)
    else:
        try:
            with open_regular_file(path) as source:
                actual = source.read(sidecars.MAX_SIDECAR_BYTES + 1)
        except SessionFileRejected as exc:
            return Finding("sidecar_differs", name, f"the sidecar cannot be compared: {exc}", repairable=False)
        if actual == expected:
            return None
        finding = Finding("sidecar_differs", name, f"differs from the database's account of {row.filename}", True)
    if repair:
        with FileJournal.opened(storage) as journal:
            sidecar_place(storage=storage, journal=journal, session_file=row)
        journal.commit()
        _sync_recorded("session_file.sidecar_write", row.filename)
        finding.repaired = True
    return finding


def _duplicate_keys(key_holders) -> list[Finding]:
    """Return one finding per file whose auth key another file in the folder also holds."""
    return [
        Finding(
            "duplicate_key",
            name,
            f"holds the same auth key as {', '.join(other for other in names if other != name)}; Telegram ends "
            "sessions whose key is used on two connections at once",
            repairable=False,
        )
        for names in key_holders.values()
        if len(names) > 1
        for name in names
    ]


def _unregistered_file(storage, name, *, repair, key_holders) -> Finding:
    try:
        validate_session_filename(name)
        inspected = _inspect_in_place(storage, name)
    except SessionFileRejected as exc:
        return Finding("invalid", name, f"refused, left in place: {exc}", repairable=False)
    if inspected is None:
        return Finding("invalid", name, "vanished while being checked", repairable=False)
    copy, info = inspected
    key_holders.setdefault(info.auth_key_sha256, []).append(name)
    finding = Finding("unregistered", name, f"a valid {info.layout} file (dc {info.dc_id}) has no row", repairable=True)
    if repair:
        try:
            # Adopted like an upload: readable by the server's user only.
            make_private(Path(storage.path(name)))
        except SessionFileRejected as exc:
            finding.message = f"could not be adopted: {exc}"
            return finding
        try:
            with transaction.atomic():
                session_file = SessionFile(filename=name, uploaded_at=timezone.now(), uploaded_by=SYNC_ACTOR)
                _fill(session_file, copy, info)
                session_file.save()
                _sync_recorded("session_file.register", name, detail=_describe(session_file))
        except IntegrityError:
            finding.message = "got a row meanwhile (a concurrent upload); nothing to do"
        finding.repaired = True
    return finding


def _compare(storage, row: SessionFile, *, repair, key_holders) -> Finding | None:
    try:
        inspected = _inspect_in_place(storage, row.filename)
    except SessionFileRejected as exc:
        return Finding("changed_invalid", row.filename, f"the file is refused now, row kept: {exc}", repairable=False)
    if inspected is None:
        return _row_without_file(storage, row, repair=repair)
    copy, info = inspected
    key_holders.setdefault(info.auth_key_sha256, []).append(row.filename)
    if copy.size == row.size and copy.sha256 == row.sha256:
        if row.auth_key_sha256 == info.auth_key_sha256 and (row.layout, row.api_id_in_file) == (
            info.layout,
            info.api_id is not None,
        ):
            return None
        # Recorded before this server read layouts, key digests or api_ids as it does now.
        message = f"the row's metadata is out of date (the file is a {info.layout} file)"
    else:
        message = (
            f"the file is {copy.size} bytes, sha256 {copy.sha256[:12]}…; the row says {row.size} bytes, "
            f"sha256 {row.sha256[:12]}…"
        )
    finding = Finding("changed", row.filename, message, repairable=True)
    if repair:
        with transaction.atomic():
            locked = SessionFile.objects.select_for_update().filter(pk=row.pk).first()
            if locked is not None:
                _fill(locked, copy, info)
                locked.save()
                _sync_recorded("session_file.refresh", row.filename, detail=_describe(locked))
        finding.repaired = True
    return finding


def _row_without_file(storage, row: SessionFile, *, repair) -> Finding:
    finding = Finding("missing", row.filename, "the row has no file", repairable=True)
    if repair:
        with transaction.atomic():
            locked = SessionFile.objects.select_for_update().filter(pk=row.pk).first()
            # Checked again under the lock: a delete that failed may have put the file back.
            if locked is not None and not storage.exists(row.filename):
                locked.delete()
                _sync_recorded("session_file.forget", row.filename, detail=_describe(row))
        finding.repaired = True
    return finding


# --- API pairs ------------------------------------------------------------------


def _api_pair_target(api_pair) -> str:
    return f"api_id {api_pair.api_id}"


def api_pair_create(*, api_id, api_hash, label="", is_active=True, request=None) -> ApiPair:
    """Store a new API pair and return it.

    `api_hash` is normalised to lower case. Raises Django's ValidationError
    for invalid values and ApiPairExists when the api_id is taken.
    """
    api_pair = ApiPair(api_id=api_id, api_hash=str(api_hash).lower(), label=label or "", is_active=is_active)
    api_pair.clean_fields()
    try:
        with transaction.atomic():
            if ApiPair.objects.filter(api_id=api_id).exists():
                raise ApiPairExists()
            api_pair.save()
            record(
                request=request,
                action="api_pair.create",
                target=_api_pair_target(api_pair),
                detail={"label": api_pair.label, "is_active": api_pair.is_active},
            )
    except IntegrityError as exc:
        raise ApiPairExists() from exc
    return api_pair


def api_pair_update(*, api_pair, data, request=None) -> ApiPair:
    """Set `label` and/or `is_active` from `data` on `api_pair` and return it.

    Other keys raise ValueError (callers pass validated data); invalid values
    raise Django's ValidationError. An empty `data` changes and records nothing.
    """
    if not fields_assign(api_pair, data, editable=API_PAIR_EDITABLE_FIELDS):
        return api_pair
    with transaction.atomic():
        api_pair.save(update_fields=[*data, "updated_at"])
        record(
            request=request,
            action="api_pair.update",
            target=_api_pair_target(api_pair),
            detail={name: data[name] for name in sorted(data)},
        )
    return api_pair


def api_pairs_set_active(*, api_pairs, is_active, request=None) -> int:
    """Set `is_active` on each pair of `api_pairs` that differs; return how many changed."""
    changed = 0
    for api_pair in api_pairs:
        if api_pair.is_active != is_active:
            api_pair_update(api_pair=api_pair, data={"is_active": is_active}, request=request)
            changed += 1
    return changed


def api_pair_reveal(*, api_pair, request=None) -> ApiPair:
    """Record that `api_pair`'s whole hash is being shown, and return it."""
    record(request=request, action="api_pair.reveal", target=_api_pair_target(api_pair))
    return api_pair


def api_pair_delete(*, api_pair, force=False, request=None) -> None:
    """Delete `api_pair`, audited.

    Raises ApiPairInUse (audited) when session files have its api_id and
    `force` is false; the sessions keep their api_id either way.
    """
    target = _api_pair_target(api_pair)
    with transaction.atomic():
        in_use = SessionFile.objects.filter(api_id=api_pair.api_id).count()
        if not in_use or force:
            api_pair.delete()
            record(
                request=request,
                action="api_pair.delete",
                target=target,
                detail={"label": api_pair.label, "sessions_count": in_use, "forced": bool(force and in_use)},
            )
            return
    record(
        request=request,
        action="api_pair.delete",
        outcome=Outcome.FAILURE,
        target=target,
        detail={"reason": ApiPairInUse.code, "sessions_count": in_use},
    )
    raise ApiPairInUse(in_use)
