"""Leases: one engine at a time per account, fenced so that a holder that lost it cannot write.

Telegram ends a session whose auth key is used on two connections at once
(AUTH_KEY_DUPLICATED), so an account is handed to at most one engine process.

- The account's row says who may have it: `lease_expires_at` NULL or past
  means free, so an expired lease frees its account with no background job.
  `lease_fence` counts the leases ever granted on it; each new lease takes the
  next value, which is never reused (the row is only ever incremented).
- Grant picks free rows with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL:
  concurrent grants in any process skip each other's rows instead of waiting
  for them, and a row another grant just took fails the re-check of the
  WHERE clause. SQLite has no row locks; settings.py makes every transaction
  `BEGIN IMMEDIATE`, so grants run one at a time across processes.
- Renew, release, break and fenced writes lock the lease row first, then the
  account's row; grants lock only account rows and never an old lease. One
  order everywhere, so two of these never deadlock.
- A fenced write checks the fence and the expiry under the account's row
  lock, the same lock a grant needs to take the account: the write and a
  re-lease cannot interleave.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from adbot_admin.audit import record
from adbot_admin.metrics import LEASES_LOST
from adbot_admin.models import Outcome

from . import accounts, ledger, services
from .errors import LeaseLost, LeaseNotFound, Refused, SessionLeased, StaleFence
from .models import Lease, SessionFile, SessionStatus
from .sidecar import render_sidecar

COUNT_MAX = 50
TTL_MIN = 60
TTL_MAX = 3600
WHERE_KEYS = ("library", "api_id", "dc_id")
# A grant picks these unless `where.status` names others; the rest never (their auth key is dead or banned).
DEFAULT_STATUSES = frozenset({SessionStatus.ACTIVE, SessionStatus.UNKNOWN})
LEASABLE_STATUSES = frozenset(SessionStatus.values) - {
    SessionStatus.BANNED,
    SessionStatus.REVOKED,
    SessionStatus.DEACTIVATED,
}


def _holder_lease(lease_id, token_id):
    lease = Lease.objects.select_for_update().filter(pk=lease_id, token_id=token_id).first()
    if lease is None:
        raise LeaseNotFound()
    return lease


def leases_grant(*, token_id, holder, count, ttl, where=None, request=None) -> list[Lease]:
    """Lease up to `count` free accounts matching `where` for `ttl` seconds; return the leases (maybe none).

    `where` may hold `library`, `api_id`, `dc_id` and `status` (a set of
    LEASABLE_STATUSES; default DEFAULT_STATUSES). Each lease is audited
    (`lease.grant`, target the session's name). The leases come with their
    `session` loaded.
    """
    where = where or {}
    filters = {key: value for key, value in where.items() if key in WHERE_KEYS and value is not None}
    statuses = set(where.get("status") or DEFAULT_STATUSES) & LEASABLE_STATUSES
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    with transaction.atomic():
        sessions = list(
            SessionFile.objects.select_for_update(skip_locked=True)
            .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now), status__in=statuses, **filters)
            .order_by("id")[:count]
        )
        if not sessions:
            return []
        SessionFile.objects.filter(pk__in=[s.pk for s in sessions]).update(
            lease_fence=Coalesce(F("lease_fence"), 0) + 1, lease_expires_at=expires_at
        )
        leases = Lease.objects.bulk_create(
            Lease(
                session=session,
                fence=(session.lease_fence or 0) + 1,
                token_id=token_id,
                holder=holder,
                granted_at=now,
                expires_at=expires_at,
            )
            for session in sessions
        )
        for lease in leases:
            lease.session.lease_fence, lease.session.lease_expires_at = lease.fence, expires_at
            record(request=request, action="lease.grant", target=lease.session.filename, detail=_describe(lease))
    return leases


def lease_renew(*, lease_id, token_id, ttl) -> Lease:
    """Extend a live lease to `ttl` seconds from now and return it; raise LeaseNotFound or LeaseLost."""
    now = timezone.now()
    with transaction.atomic():
        lease = _holder_lease(lease_id, token_id)
        if not lease.is_live(now):
            LEASES_LOST.inc()
            raise LeaseLost()
        lease.expires_at = now + timedelta(seconds=ttl)
        lease.save(update_fields=["expires_at"])
        SessionFile.objects.filter(pk=lease.session_id, lease_fence=lease.fence).update(
            lease_expires_at=lease.expires_at
        )
    return lease


def lease_release(*, lease_id, token_id, status=None, reason="", until=None, request=None) -> Lease:
    """End a live lease, freeing its account, audited; return it.

    With `status`, the engine's report goes into the status ledger (source
    `engine:<token name>`) in the same transaction. Raise LeaseNotFound,
    LeaseLost, or InvalidStatus (nothing released).
    """
    with transaction.atomic():
        lease = _holder_lease(lease_id, token_id)
        try:
            _end(lease, reason="released", request=request)
        except LeaseLost:
            LEASES_LOST.inc()
            raise
        if status is not None:
            ledger.session_status_set(
                session=lease.session,
                status=status,
                reason=reason,
                until=until,
                source=f"engine:{lease.holder}",
                request=request,
            )
    return lease


def lease_break(*, lease, request=None) -> Lease:
    """End `lease` for an admin, freeing its account, audited; raise LeaseLost when it is not live."""
    with transaction.atomic():
        locked = Lease.objects.select_for_update().filter(pk=lease.pk).first()
        if locked is None:
            raise LeaseLost()
        _end(locked, reason="broken", request=request)
    return locked


def _end(lease, *, reason, request):
    now = timezone.now()
    if not lease.is_live(now):
        raise LeaseLost()
    lease.ended_at, lease.end_reason = now, reason
    lease.save(update_fields=["ended_at", "end_reason"])
    SessionFile.objects.filter(pk=lease.session_id, lease_fence=lease.fence).update(lease_expires_at=None)
    record(
        request=request,
        action=f"lease.{'release' if reason == 'released' else 'break'}",
        target=SessionFile.objects.filter(pk=lease.session_id).values_list("filename", flat=True).first() or "",
        detail=_describe(lease),
    )


def lease_live_for_holder(*, lease_id, token_id) -> Lease:
    """Return the holder's live lease with its session; raise LeaseNotFound or LeaseLost."""
    lease = Lease.objects.select_related("session").filter(pk=lease_id, token_id=token_id).first()
    if lease is None:
        raise LeaseNotFound()
    if not lease.is_live(timezone.now()) or lease.session.lease_fence != lease.fence:
        raise LeaseLost()
    return lease


def lease_sidecar(*, lease_id, token_id, include_secrets, request=None) -> bytes:
    """Return the leased account's canonical sidecar JSON; its secrets only with `include_secrets` (audited).

    Raises LeaseNotFound or LeaseLost.
    """
    lease = lease_live_for_holder(lease_id=lease_id, token_id=token_id)
    sidecar = accounts.account_sidecar(session_file=lease.session, include_secrets=include_secrets)
    if include_secrets:
        record(
            request=request,
            action="lease.sidecar_secrets",
            target=lease.session.filename,
            detail={"lease": lease.pk, "fence": lease.fence},
        )
    return render_sidecar(sidecar=sidecar, include_secrets=include_secrets)


def lease_file_write(*, lease_id, token_id, fence, upload, request=None) -> SessionFile:
    """Replace the leased account's file with `upload` when `fence` is current; return the session row.

    The upload is inspected like any other and must hold the auth key the
    stored file holds. Raises LeaseNotFound, StaleFence (the fence is not the
    account's current one, or the lease is not live), or the store's
    refusals (services.SessionFileRejected and its kinds); in every case
    nothing is written, and the outcome is audited (`lease.write`).
    """
    detail = {"lease": lease_id, "fence": fence}
    try:
        with transaction.atomic():
            lease = _holder_lease(lease_id, token_id)
            # The account's row lock is what a grant needs: no new lease can begin until this commits.
            session_file = SessionFile.objects.select_for_update().get(pk=lease.session_id)
            now = timezone.now()
            if (
                not lease.is_live(now)
                or fence != lease.fence
                or session_file.lease_fence != fence
                or session_file.lease_expires_at is None
                or session_file.lease_expires_at <= now
            ):
                raise StaleFence()
            stored = services.session_file_store(
                upload=upload,
                filename=session_file.filename,
                uploaded_by=f"engine:{lease.holder}"[:255],
                overwrite=True,
                # The same key as before: the duplicate (if any) is one the admin already allowed.
                allow_duplicate_key=True,
                expected_auth_key_sha256=session_file.auth_key_sha256,
                request=request,
                audit_detail=detail,
            )
            record(request=request, action="lease.write", target=stored.filename, detail=detail)
    except Refused as exc:
        # Outside the rolled-back transaction, so the refusal stays on record.
        record(
            request=request,
            action="lease.write",
            outcome=Outcome.FAILURE,
            target=str(lease_id),
            detail={**detail, "reason": exc.code},
        )
        raise
    return stored


def leased_session_file_delete(*, session_file, force=False, request=None) -> None:
    """Delete `session_file` (services.session_file_delete) unless an engine holds it.

    Raises SessionLeased (audited) when it has a live lease and `force` is
    false; with `force` the lease is broken first (audited). The session's
    lease rows are locked before the account's row, the order every lease
    flow keeps.
    """
    try:
        with transaction.atomic():
            now = timezone.now()
            for lease in Lease.objects.select_for_update().filter(session_id=session_file.pk, ended_at__isnull=True):
                if lease.is_live(now):
                    if not force:
                        raise SessionLeased(lease)
                    _end(lease, reason="broken", request=request)
            services.session_file_delete(session_file=session_file, request=request)
    except SessionLeased as exc:
        record(
            request=request,
            action="session_file.delete",
            outcome=Outcome.FAILURE,
            target=session_file.filename,
            detail={"reason": "leased", "lease": exc.lease.pk, "holder": exc.lease.holder},
        )
        raise


def _describe(lease) -> dict:
    return {
        "lease": lease.pk,
        "fence": lease.fence,
        "holder": lease.holder,
        "expires_at": lease.expires_at.isoformat(),
    }
