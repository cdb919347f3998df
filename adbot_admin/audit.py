"""The only writer of AuditEvent: appends (sealed into the hash chain), and removes rows past their retention."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from . import audit_chain, metrics
from .client_ip import client_ip
from .models import AuditEvent, AuthMethod, Outcome

logger = logging.getLogger(__name__)


def actor_of(request):
    """Return (actor, auth_method) for whoever made the request."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return "", AuthMethod.NONE
    method = getattr(user, "auth_method", None) or (
        AuthMethod.BACKEND_TOKEN if getattr(request, "auth", None) is not None else AuthMethod.ADMIN_SITE
    )
    return user.get_username(), method


def record(*, request=None, action, outcome=Outcome.SUCCESS, target="", actor=None, auth_method=None, detail=None):
    """Append one audit event, to be sealed into the chain once it commits, and return it.

    The actor and client IP come from the request unless given; `detail` must
    never carry a secret (passwords, tokens, auth keys, api hashes). No lock is
    held for the caller (audit_chain.append): the row is sealed after the
    caller's transaction commits (PostgreSQL) or inside it (SQLite), so the
    returned event's seq may not be set yet.
    """
    request_actor, request_method = actor_of(request) if request is not None else ("", AuthMethod.SHELL)
    event = audit_chain.append(
        AuditEvent(
            actor=(actor if actor is not None else request_actor)[:255],
            auth_method=auth_method or request_method,
            client_ip=client_ip(request) if request is not None else None,
            action=action,
            target=str(target)[:255],
            outcome=outcome,
            detail=detail or {},
        )
    )
    logger.info("audit %s %s by %s: %s", action, outcome, event.actor or "-", event.target or "-")
    # Counted once the row is committed, so the metrics agree with the audit log.
    transaction.on_commit(lambda: metrics.audit_observed(event))
    return event


PRUNE_BATCH = 10_000


def prune(*, older_than_days, batch=None):
    """Delete the events older than `older_than_days`, oldest first, `batch` rows per transaction; return how many.

    Only a prefix of the chain goes, by seq: the rows before the first sealed
    one that is not older than the cutoff (created_at is taken at insert, so
    it may step back a little as seq goes up, and a prefix by time alone would
    not be one by seq). The prune event is recorded first, with the seq and MAC
    of the last row it removes, and verification starts from it (audit_chain.verify);
    a prune cut short leaves rows that the next one removes. Batches keep each
    transaction (and its locks) short on a log of millions of rows.
    """
    batch = batch or PRUNE_BATCH
    cutoff = timezone.now() - timedelta(days=older_than_days)
    audit_chain.seal_pending(wait=True)
    last = _last_to_prune(cutoff)
    anchor_seq = audit_chain.prune_anchor()[0]
    if last is None or last[0] <= anchor_seq:
        record(action="audit_prune", detail={"older_than_days": older_than_days, "deleted": 0})
        return 0
    through_seq, through_mac = last
    doomed = AuditEvent.objects.filter(seq__lte=through_seq)
    record(
        action="audit_prune",
        detail={
            "older_than_days": older_than_days,
            "deleted": doomed.count(),
            "pruned_through_seq": through_seq,
            "pruned_through_mac": through_mac,
        },
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(doomed.order_by("seq").values_list("id", flat=True)[:batch])
            if not ids:
                return deleted
            deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]


def _last_to_prune(cutoff):
    """Return (seq, mac) of the last row of the longest seq prefix older than `cutoff`, or None.

    Each query reads an index range no longer than the rows being pruned: the
    newest old row by seq, then a younger row below it, if any.
    """
    sealed = AuditEvent.objects.filter(seq__isnull=False)
    last = sealed.filter(created_at__lt=cutoff).order_by("-seq").values_list("seq", "mac").first()
    if last is None:
        return None
    younger = sealed.filter(created_at__gte=cutoff, seq__lt=last[0]).order_by("seq").values_list("seq", flat=True)
    first_kept = younger.first()
    if first_kept is None:
        return last
    return sealed.filter(seq__lt=first_kept).order_by("-seq").values_list("seq", "mac").first()
