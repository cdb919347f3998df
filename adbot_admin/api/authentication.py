"""Bearer-token authentication: backend tokens and frontend tokens, never confused.

Both classes ask the database, in one query per request (auth_state.py),
whether the token was revoked and, for backend tokens, whether its login
session is open and its user still active.
"""

from django.conf import settings
from jwt import DecodeError, InvalidAlgorithmError, InvalidSignatureError
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

from .. import auth_state
from ..models import AuthMethod, Role, Scope, scope_of
from ..tokens import SCOPE_CLAIM, AccessToken, FrontendToken, refused_as_invalid
from . import schema  # noqa: F401  the OpenAPI descriptions of these classes


class AdminJWTAuthentication(JWTAuthentication):
    """Authenticates backend access tokens of users who are still active, unless revoked or logged out."""

    def get_validated_token(self, raw_token):
        with refused_as_invalid():
            return AccessToken(raw_token)

    def get_user(self, validated_token):
        """Return the token's user, read together with the token's revocation and session state."""
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        state = auth_state.read(validated_token, user_id)
        refusal = state.refusal()
        if refusal is not None:
            raise refusal
        user = state.user
        user.auth_method = AuthMethod.BACKEND_TOKEN
        # The claim and the session's auth_method can each only narrow the scope.
        narrowed = Scope.CMS in (validated_token.get(SCOPE_CLAIM), scope_of(state.session_auth_method))
        user.scope = Scope.CMS if narrowed else Scope.ALL
        user.mfa_enabled = state.mfa_enabled
        return user


class FrontendUser:
    """The admin behind a frontend token: identified by `sub` or `email`, not a database row."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
    id = None
    auth_method = AuthMethod.FRONTEND_TOKEN
    scope = Scope.ALL
    # The frontend runs its own login; this server holds no second factor for it.
    mfa_enabled = False

    def __init__(self, token):
        self.token = token
        self.username = str(token.get("email") or token.get("sub"))[:150]
        self.role = Role.ADMIN if token.get("role") == Role.ADMIN else Role.USER
        self.is_staff = self.role == Role.ADMIN

    def get_username(self):
        return self.username

    def __str__(self):
        return self.username


def _signed_by_someone_else(error):
    """Return True when `error` says the signature (or algorithm) is not the frontend's."""
    cause = error
    while cause is not None:
        if isinstance(cause, (InvalidSignatureError, InvalidAlgorithmError, DecodeError)):
            return True
        cause = cause.__cause__
    return False


class _ForeignToken(Exception):
    pass


class FrontendJWTAuthentication(JWTAuthentication):
    """Authenticates tokens signed by the frontend with JWT_SECRET; passes any other token on."""

    def authenticate(self, request):
        if not settings.JWT_SECRET:
            return None
        try:
            return super().authenticate(request)
        except _ForeignToken:
            # Not signed with JWT_SECRET: the backend-token class judges it.
            return None

    def get_validated_token(self, raw_token):
        try:
            token = FrontendToken(raw_token)
        except TokenError as exc:
            if _signed_by_someone_else(exc):
                raise _ForeignToken from exc
            raise InvalidToken(str(exc.args[0])) from exc
        if auth_state.read(token).revoked:
            raise InvalidToken("Token has been revoked.")
        return token

    def get_user(self, validated_token):
        return FrontendUser(validated_token)
