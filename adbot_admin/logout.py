"""Logging out: one login (a token, a refresh cookie), one session, or every login of a user."""

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from rest_framework_simplejwt.exceptions import TokenError

from . import auth_state
from .audit import record
from .login_sessions import login_session_end, login_sessions_end_all, verified_refresh_token
from .models import AuthMethod
from .tokens import SESSION_CLAIM, RefreshToken


def token_logout(*, access_token, refresh=None, user=None, request=None):
    """End the login of `access_token`: the token itself, its session and, when given, the refresh token.

    The revocation and its audit event commit together, before this returns;
    a database failure propagates, and nothing was revoked. Raises TokenError
    when the refresh token is invalid or belongs to someone else.
    """
    with transaction.atomic():
        if refresh:
            refresh_token = RefreshToken(refresh)
            owner = refresh_token.get("user_id")
            if user is None or getattr(user, "pk", None) is None or str(owner) != str(user.pk):
                raise TokenError("Refresh token does not belong to the caller")
            refresh_token.blacklist()
        auth_state.revoke(access_token)
        sid = access_token.get(SESSION_CLAIM)
        if sid is not None:
            login_session_end(session_id=sid, reason="logout")
        record(request=request, action="logout")


def login_session_end_own(*, session_id, request=None) -> bool:
    """End the caller's session `session_id` (the caller's view checked it is theirs) and audit it.

    Returns False, recording nothing, when it was no longer open.
    """
    with transaction.atomic():
        ended = login_session_end(session_id=session_id, reason="ended_by_user")
        if ended:
            record(request=request, action="login_session_end", target=str(session_id))
    return ended


def token_logout_all(*, access_token, user, request=None) -> int:
    """End every login of the caller, `access_token` itself included (even without a session); return how many.

    A frontend token has no sessions: only the token itself is refused.
    """
    with transaction.atomic():
        auth_state.revoke(access_token)
        ended = 0 if getattr(user, "pk", None) is None else login_sessions_end_all(user=user, reason="logout_all")
        record(request=request, action="logout_all", target=user.get_username(), detail={"sessions_ended": ended})
    return ended


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _end_sessions_on_new_password(sender, instance, created, **kwargs):
    # set_password() keeps the new raw password until the save; a rehash at login clears it first.
    if not created and instance._password is not None:
        user_logout_all(user=instance, reason="password_change", auth_method=AuthMethod.NONE)


def user_logout_all(*, user, request=None, reason="ended_by_admin", auth_method=None) -> int:
    """End every login session of `user` on someone else's word (an admin, the shell, a new password); return how many.

    Audited as `user_logout_all` with the reason and the count.
    """
    with transaction.atomic():
        ended = login_sessions_end_all(user=user, reason=reason)
        record(
            request=request,
            action="user_logout_all",
            target=user.get_username(),
            auth_method=auth_method,
            detail={"reason": reason, "sessions_ended": ended},
        )
    return ended


def refresh_logout(*, raw, request=None) -> bool:
    """End the login of the refresh token `raw`: the token itself and its session (and so every access token of it).

    Returns False, changing nothing, when `raw` is not a live-signed refresh
    token of this server (expired, forged, another kind): there is no login to
    end. A token already rotated out still ends its session. The revocation
    and its audit event commit together; a database failure propagates.
    """
    try:
        # Spent or not: a token already rotated out must still end its session.
        refresh = verified_refresh_token(raw)
    except TokenError:
        return False
    with transaction.atomic():
        blacklisted, _ = refresh.blacklist()
        sid = refresh.get(SESSION_CLAIM)
        if sid is not None:
            login_session_end(session_id=sid, reason="logout")
        owner = blacklisted.token.user.get_username() if blacklisted.token.user_id else ""
        record(request=request, action="logout", actor=owner, target=owner, detail={"via": "refresh_cookie"})
    return True
