"""The status ledger: what is known about each account's standing with Telegram, and the counts.

`session_status_set` is the one writer of a session's status: the admin API
(source `admin`), the import's sidecar hints (`import`) and the engine
(`engine:<token name>`) all call it, and each call appends a
SessionStatusChange and an audit event in the row's transaction.
`sessions_summary` reads the trigger-kept SessionCount rows: one query,
whatever the number of sessions.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from adbot_admin.audit import record

from .errors import InvalidStatus
from .models import STATUSES_WITH_UNTIL, SessionCount, SessionFile, SessionStatus, SessionStatusChange

MAX_REASON_LENGTH = 255
MAX_SOURCE_LENGTH = 100
SUMMARY_DIMENSIONS = ("status", "library", "dc_id", "api_id")

__all__ = ["InvalidStatus", "session_status_set", "sessions_summary"]


def session_status_set(*, session, status, reason="", until=None, source, request=None, actor=None) -> SessionFile:
    """Set `session`'s status, append it to the history, audit it, and return the locked, updated row.

    `until` is allowed (and optional) for `limited` and `frozen` only, and must
    be in the future. Raises InvalidStatus naming the field, and
    SessionFile.DoesNotExist when the row is gone.
    """
    if status not in SessionStatus.values:
        raise InvalidStatus("status", f"must be one of {', '.join(SessionStatus.values)}")
    reason = reason or ""
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidStatus("reason", f"must be at most {MAX_REASON_LENGTH} characters")
    if until is not None and status not in STATUSES_WITH_UNTIL:
        raise InvalidStatus("until", "only limited and frozen end at a time")
    now = timezone.now()
    if until is not None and until <= now:
        raise InvalidStatus("until", "must be in the future")
    source = str(source)[:MAX_SOURCE_LENGTH]
    with transaction.atomic():
        locked = SessionFile.objects.select_for_update().get(pk=session.pk)
        previous = locked.status
        locked.status, locked.status_reason, locked.status_until, locked.status_changed_at = status, reason, until, now
        locked.save(update_fields=["status", "status_reason", "status_until", "status_changed_at"])
        change = SessionStatusChange.objects.create(
            session_file=locked,
            status=status,
            previous_status=previous,
            reason=reason,
            until=until,
            source=source,
            changed_by=actor or getattr(getattr(request, "user", None), "username", "") or "",
            changed_at=now,
        )
        record(
            request=request,
            action="session_file.status",
            target=locked.filename,
            actor=actor,
            detail={
                "from": previous,
                "to": status,
                "until": until.isoformat() if until else None,
                "source": source,
                "history_id": change.pk,
            },
        )
    return locked


def sessions_summary() -> dict:
    """Return {"total", "by_status", "by_library", "by_dc_id", "by_api_id"} from the kept counts (one query).

    `by_api_id` has the key "none" for sessions without an api_id.
    """
    summary = {f"by_{dimension}": {} for dimension in SUMMARY_DIMENSIONS}
    rows = SessionCount.objects.filter(count__gt=0).order_by("dimension", "value")
    for dimension, value, count in rows.values_list("dimension", "value", "count"):
        if dimension in SUMMARY_DIMENSIONS:
            summary[f"by_{dimension}"][value or "none"] = count
    summary["by_status"] = {status: summary["by_status"].get(status, 0) for status in SessionStatus.values}
    return {"total": sum(summary["by_library"].values()), **summary}
