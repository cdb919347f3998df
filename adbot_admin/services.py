"""Authentication flows shared by the API and the shell: CMS password, logout."""

import logging
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError

from . import auth_state, hashers
from .audit import record
from .login_sessions import login_session_end
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
