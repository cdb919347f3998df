"""The only writer of AuditEvent."""

import logging

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


def record(*, request=None, action, outcome=Outcome.SUCCESS, target="", actor=None,
           auth_method=None, detail=None):
    """Append one audit event and return it.

    The actor and client IP come from the request unless given; `detail` must
    never carry a secret (passwords, tokens, auth keys, api hashes).
    """
    from .api.client_ip import client_ip

    request_actor, request_method = actor_of(request) if request is not None else ("", AuthMethod.SHELL)
    event = AuditEvent.objects.create(
        actor=(actor if actor is not None else request_actor)[:255],
        auth_method=auth_method or request_method,
        client_ip=client_ip(request) if request is not None else None,
        action=action,
        target=str(target)[:255],
        outcome=outcome,
        detail=detail or {},
    )
    logger.info("audit %s %s by %s: %s", action, outcome, event.actor or "-", event.target or "-")
    return event
