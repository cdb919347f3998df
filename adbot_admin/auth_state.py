"""Who may act, read from the database on every authenticated request, in one indexed query.

For a backend token the query answers at once: is its user still there, active
and staff; was the token itself revoked (a logout); is its login session (the
`sid` claim) still open; does the user have a second factor, a confirmed TOTP device or a passkey (for
REQUIRE_ADMIN_2FA and `/api/auth/me`). For a frontend token it answers whether the token was
revoked. Nothing here is cached: a logout, demotion or deactivation made by any
path (the API, the admin site, `manage.py`, `QuerySet.update()`, raw SQL,
another process) takes effect on the next request.

The statements are fixed SQL built once from the models' tables: an ORM query
costs about ten times as much on this path, for the same indexed lookups. They
run through statements.py: prepared on PostgreSQL, asked again on a fresh
connection when the persistent one went stale.
"""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice
from jwt.utils import base64url_decode
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken

from . import statements
from .models import LoginSession, Passkey, RevokedToken
from .tokens import SESSION_CLAIM

USER_FIELDS = {"id", "username", "is_active", "is_staff", "is_superuser"}
# Keeps a signature's key apart from any `jti`'s.
SIGNATURE_KEY_PREFIX = b"signature:"


@dataclass(frozen=True)
class AuthState:
    """What the database says of one token."""

    # The token's user with USER_FIELDS loaded, or None when there is no such user.
    user: object | None
    revoked: bool
    # False when the token names a login session that has ended (or is not the user's).
    session_open: bool = True
    # How the token's open login session was started (AuthMethod); None without one.
    session_auth_method: str | None = None
    # True when the user has a confirmed TOTP device or a passkey.
    mfa_enabled: bool = False

    def refusal(self):
        """Return the error that refuses a backend token in this state, or None when the token may act.

        The one liveness rule of access tokens: not revoked, its login session
        open, its user present and active.
        """
        if self.revoked:
            return InvalidToken("Token has been revoked.")
        if not self.session_open:
            return InvalidToken("Token's login session has ended.")
        if self.user is None:
            return AuthenticationFailed("User not found", code="user_not_found")
        if not self.user.is_active:
            return AuthenticationFailed("User is inactive", code="user_inactive")
        return None


def token_key(token):
    """Return the revocation key of a validated token: SHA-256 of its `jti`, else of its signature's bytes.

    A token's text is no key: one signature has several spellings (the unused
    low bits of the last base64url character, trailing `=`), all of which
    PyJWT decodes to the same bytes and accepts.
    """
    ident = token.get("jti")
    if ident:
        return hashlib.sha256(str(ident).encode()).hexdigest()
    raw = token.token
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    signature = base64url_decode(text.rsplit(".", 1)[-1].encode("ascii", "replace"))
    return hashlib.sha256(SIGNATURE_KEY_PREFIX + signature).hexdigest()


@cache
def _user_columns():
    # In the model's field order, which Model.from_db() expects for a partial row.
    return tuple(f.attname for f in get_user_model()._meta.concrete_fields if f.attname in USER_FIELDS)


@cache
def _statements():
    quote = connection.ops.quote_name
    user_model = get_user_model()
    users = quote(user_model._meta.db_table)
    columns = ", ".join(f"u.{quote(user_model._meta.get_field(name).column)}" for name in _user_columns())
    revoked = f"EXISTS (SELECT 1 FROM {quote(RevokedToken._meta.db_table)} r WHERE r.{quote('key')} = %s)"
    # The open session's auth_method (which decides the token's scope), NULL when it is not open.
    session_open = (
        f"(SELECT s.{quote('auth_method')} FROM {quote(LoginSession._meta.db_table)} s"
        f" WHERE s.{quote('id')} = %s AND s.{quote('user_id')} = u.{quote('id')} AND s.{quote('ended_at')} IS NULL)"
    )
    # A passkey is a second factor too (and both factors at once when it signs in alone).
    mfa_enabled = (
        f"(EXISTS (SELECT 1 FROM {quote(TOTPDevice._meta.db_table)} d"
        f" WHERE d.{quote('user_id')} = u.{quote('id')} AND d.{quote('confirmed')})"
        f" OR EXISTS (SELECT 1 FROM {quote(Passkey._meta.db_table)} p WHERE p.{quote('user_id')} = u.{quote('id')}))"
    )
    where = f"FROM {users} u WHERE u.{quote('id')} = %s"
    return {
        "user": f"SELECT {columns}, {revoked}, {mfa_enabled} {where}",
        "user_session": f"SELECT {columns}, {revoked}, {mfa_enabled}, {session_open} {where}",
        "revoked": f"SELECT {revoked}",
    }


def read(token, user_id=None):
    """Return the AuthState of a validated token; with `user_id`, its user's state too."""
    sql = _statements()
    key = token_key(token)
    if user_id is None:
        return AuthState(user=None, revoked=bool(statements.fetchone(sql["revoked"], [key])[0]))
    sid = token.get(SESSION_CLAIM)
    if sid is None:
        row = statements.fetchone(sql["user"], [key, int(user_id)])
    else:
        row = statements.fetchone(sql["user_session"], [key, sid, int(user_id)])
    if row is None:
        return AuthState(user=None, revoked=False)
    names = _user_columns()
    fields = len(names)
    user = get_user_model().from_db(connection.alias, names, row[:fields])
    mfa_enabled = bool(row[fields + 1])
    if sid is None:
        return AuthState(user=user, revoked=bool(row[fields]), mfa_enabled=mfa_enabled)
    auth_method = row[fields + 2]
    return AuthState(
        user=user,
        revoked=bool(row[fields]),
        session_open=auth_method is not None,
        session_auth_method=auth_method,
        mfa_enabled=mfa_enabled,
    )


def revoke(token):
    """Refuse `token` from the next request on, until it expires anyway.

    Rows of tokens that have expired are dropped on the way: an expired token
    is refused by its signature check, so the table only holds live ones.
    """
    now = datetime.now(UTC)
    RevokedToken.objects.filter(expires_at__lte=now).delete()
    expires_at = datetime.fromtimestamp(int(token["exp"]), tz=UTC)
    RevokedToken.objects.get_or_create(key=token_key(token), defaults={"expires_at": expires_at})
