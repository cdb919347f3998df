"""Authentication flows shared by the API and the shell: CMS password, logout, ending login sessions."""

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError

from . import auth_state, hashers
from .audit import record
from .login_sessions import login_session_end, login_sessions_end_all
from .tokens import SESSION_CLAIM, RefreshToken, UntypedToken

logger = logging.getLogger(__name__)

BCRYPT_MAX_BYTES = 72
CMS_ADMIN_USERNAME = "cms-admin"


def cms_login_configured():
    return bool(settings.ADMIN_PASSWORD_HASH)


BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def valid_bcrypt_hash(value):
    """Return True when `value` has the form of a bcrypt hash (checked without hashing)."""
    return bool(BCRYPT_HASH.match(value))


def cms_password_matches(password):
    """Return True when `password` matches ADMIN_PASSWORD_HASH.

    A password past bcrypt's 72 bytes is a wrong password (bcrypt would
    otherwise compare only its first 72 bytes); it still costs one check.
    """
    candidate = password.encode("utf-8", "surrogatepass")
    stored = settings.ADMIN_PASSWORD_HASH.encode()
    if len(candidate) > BCRYPT_MAX_BYTES:
        hashers.checkpw(candidate[:BCRYPT_MAX_BYTES], stored)
        return False
    return hashers.checkpw(candidate, stored)


def cms_admin_user():
    """Return the user that CMS logins act as, made on first use as active staff."""
    user, created = get_user_model().objects.get_or_create(
        username=CMS_ADMIN_USERNAME, defaults={"is_staff": True, "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


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
        checked = UntypedToken(raw)
    except TokenError:
        return False
    if checked.get("token_type") != RefreshToken.token_type:
        return False
    refresh = RefreshToken(raw, verify=False)  # verified just above; a spent token must still end its session
    with transaction.atomic():
        blacklisted, _ = refresh.blacklist()
        sid = refresh.get(SESSION_CLAIM)
        if sid is not None:
            login_session_end(session_id=sid, reason="logout")
        owner = blacklisted.token.user.get_username() if blacklisted.token.user_id else ""
        record(request=request, action="logout", actor=owner, target=owner, detail={"via": "refresh_cookie"})
    return True
