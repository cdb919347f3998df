"""Login sessions: each login starts one, and every token it issues carries its id (`sid`).

Ending a session (logout, reuse of a rotated refresh token) refuses every
access and refresh token of that login from the next request on, because the
per-request check (auth_state.py) reads whether the session is still open.

Refresh tokens rotate: each is good for one refresh. Two refreshes of one
token are serialised on its outstanding-token row, so exactly one succeeds;
presenting a token that was already rotated is taken as theft (RFC 9700,
4.14.2) and ends its whole session.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from .audit import record
from .client_ip import client_ip
from .models import AuthMethod, LoginSession, Outcome, Scope, scope_of
from .tokens import AUTH_TIME_CLAIM, SCOPE_CLAIM, SESSION_CLAIM, AccessToken, RefreshToken, UntypedToken

USER_AGENT_MAX = 255


class RefreshReused(TokenError):
    """Raised when a refresh token that was already rotated is presented again."""


def access_lifetime_seconds():
    return int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds())


@dataclass(frozen=True)
class IssuedTokens:
    access: AccessToken
    refresh: RefreshToken | None
    session: LoginSession

    def pair(self):
        """Return the token endpoint's body: access, refresh, token_type, expires_in."""
        return {
            "access": str(self.access),
            "refresh": str(self.refresh),
            "token_type": "Bearer",
            "expires_in": access_lifetime_seconds(),
        }


def _stamp(token, user, session, scope=None):
    token["role"] = user.role
    token[SESSION_CLAIM] = session.id.hex
    token[SCOPE_CLAIM] = (scope or scope_of(session.auth_method)).value
    # The refresh token carries it too, so every access token of the session inherits the login's time.
    token[AUTH_TIME_CLAIM] = int(session.created_at.timestamp())
    return token


def login_session_start(*, user, auth_method, request=None, with_refresh=True, scope=None) -> IssuedTokens:
    """Start a login session for `user` and return its first tokens (no refresh token with `with_refresh` off).

    `scope` narrows the tokens (Scope.CMS: the gallery only) below what `auth_method` allows; it never widens them.
    """
    if scope is not None and scope_of(auth_method) != Scope.ALL:
        scope = None
    session = LoginSession.objects.create(
        user=user,
        auth_method=auth_method,
        ip=client_ip(request) if request is not None else None,
        user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX] if request is not None else "",
    )
    if not with_refresh:
        return IssuedTokens(_stamp(AccessToken.for_user(user), user, session, scope), None, session)
    refresh = _stamp(RefreshToken.for_user(user), user, session, scope)
    return IssuedTokens(refresh.access_token, refresh, session)


def access_token_reauthenticated(*, user, access_token) -> AccessToken:
    """Return a new access token of the same login session as `access_token`, its `auth_time` now.

    The session's refresh token keeps the login's time: a refresh never renews it.
    """
    token = AccessToken.for_user(user)
    token["role"] = user.role
    for claim in (SESSION_CLAIM, SCOPE_CLAIM):
        if access_token.get(claim) is not None:
            token[claim] = access_token[claim]
    token[AUTH_TIME_CLAIM] = int(timezone.now().timestamp())
    return token


def login_session_end(*, session_id, reason) -> bool:
    """End the session `session_id` (a hex string or UUID); return False when it was not open."""
    return bool(
        LoginSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=reason
        )
    )


def login_sessions_open(*, user):
    """Return `user`'s sessions that are not ended and may still hold a live token, newest first.

    A session with a refresh token lives until its last refresh token expires;
    a CMS login issues an access token only, so it lives as long as that one.
    """
    now = timezone.now()
    alive = Q(auth_method=AuthMethod.CMS_PASSWORD, created_at__gt=now - api_settings.ACCESS_TOKEN_LIFETIME) | (
        ~Q(auth_method=AuthMethod.CMS_PASSWORD) & Q(last_used_at__gt=now - api_settings.REFRESH_TOKEN_LIFETIME)
    )
    return LoginSession.objects.filter(alive, user=user, ended_at__isnull=True)


def login_sessions_end_all(*, user, reason) -> int:
    """End every open session of `user`, its admin-site sessions too, and spend its refresh tokens issued without one.

    Returns how many login sessions ended.

    Refresh tokens of a session are refused once it has ended. Tokens issued
    before sessions existed (no `sid`) are refused through the blacklist, so a
    password change leaves none of them usable either; their access tokens
    cannot be found and run out within ACCESS_TOKEN_EXPIRE_MINUTES.
    """
    now = timezone.now()
    with transaction.atomic():
        ended = LoginSession.objects.filter(user=user, ended_at__isnull=True).update(ended_at=now, end_reason=reason)
        # The admin site's sessions too: a new epoch changes the user's session auth hash.
        users = type(user).objects.filter(pk=user.pk)
        users.update(session_epoch=F("session_epoch") + 1)
        # The caller's copy follows, so that update_session_auth_hash() after a password change keeps its session.
        user.session_epoch = users.values_list("session_epoch", flat=True).first() or 0
        unspent = OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True)
        legacy = [row for row in unspent if SESSION_CLAIM not in RefreshToken(row.token, verify=False).payload]
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token=row) for row in legacy], ignore_conflicts=True)
    return ended


def refresh_token_live(token):
    """Return True while the refresh token `token` (verified) may still be used: unspent, its session open.

    The one liveness rule of refresh tokens; a rotation (refresh_token_rotate)
    applies it under a row lock.
    """
    if BlacklistedToken.objects.filter(token__jti=token.get(api_settings.JTI_CLAIM)).exists():
        return False
    sid = token.get(SESSION_CLAIM)
    return sid is None or LoginSession.objects.filter(pk=sid, ended_at__isnull=True).exists()


def verified_refresh_token(raw):
    """Return `raw` as a RefreshToken whose signature, expiry and type are checked, spent or not.

    RefreshToken itself refuses a spent (blacklisted) token before the caller
    can tell a reuse from any other invalid token.
    """
    checked = UntypedToken(raw)
    if checked.get(api_settings.TOKEN_TYPE_CLAIM) != RefreshToken.token_type:
        raise TokenError("Token has wrong type")
    return RefreshToken(raw, verify=False)  # verified just above


def _open_session(sid):
    """Return the open session `sid` with its user (None for a token without one); raise TokenError when it ended."""
    if sid is None:
        return None
    session = LoginSession.objects.select_related("user").filter(pk=sid, ended_at__isnull=True).first()
    if session is None:
        raise TokenError("Token's login session has ended")
    return session


def refresh_token_rotate(*, raw, request=None) -> IssuedTokens:
    """Trade the refresh token `raw` for a new pair of the same session; the old one is spent.

    Raises TokenError for a token that is invalid, expired, not issued here,
    of an ended session or of a user who is no longer active, and
    RefreshReused (after ending the session, committed and audited) for a
    token that was already rotated.
    """
    refresh = verified_refresh_token(raw)
    jti = refresh[api_settings.JTI_CLAIM]
    sid = refresh.get(SESSION_CLAIM)
    with transaction.atomic():
        # The row lock serialises two refreshes of one token (PostgreSQL; SQLite
        # serialises whole write transactions).
        refresh.outstand()  # a token signed here before the blacklist kept rows has none yet
        outstanding = OutstandingToken.objects.select_for_update().get(jti=jti)
        reused = BlacklistedToken.objects.filter(token=outstanding).exists()
        if not reused:
            try:
                with transaction.atomic():
                    BlacklistedToken.objects.create(token=outstanding)
            except IntegrityError:  # a concurrent refresh spent it first
                reused = True
        if reused:
            ended = sid is not None and login_session_end(session_id=sid, reason="refresh_reused")
            record(
                request=request,
                action="token_refresh_reuse",
                outcome=Outcome.DENIED,
                actor="",
                target=str(outstanding.user_id or ""),
                detail={"session_ended": ended},
            )
        else:
            session = _open_session(sid)
            user = session.user if session is not None else outstanding.user
            if user is None or not user.is_active or str(user.pk) != str(refresh.get(api_settings.USER_ID_CLAIM)):
                raise TokenError("No active account found for the given token")
            # The role is read again: a demoted user's next access token says so.
            refresh["role"] = user.role
            refresh.set_jti()
            refresh.set_exp()
            refresh.set_iat()
            refresh.outstand()
            if session is not None:
                LoginSession.objects.filter(pk=session.pk).update(last_used_at=timezone.now())
    if reused:
        raise RefreshReused("Token has already been used; its login session is ended")
    return IssuedTokens(refresh.access_token, refresh, session)
