"""Bearer-token authentication: backend tokens and frontend tokens, never confused.

Backend tokens are SimpleJWT access tokens signed with JWT_SECRET_KEY; they
carry `token_type`, `jti`, `user_id` and `role`. Frontend tokens are minted by
the Next.js site with JWT_SECRET (HS256) and carry `exp` and `role` but no
`token_type`; a token of one kind is never accepted as the other.
"""

import jwt
from django.conf import settings
from jwt import DecodeError, ExpiredSignatureError, InvalidAlgorithmError, InvalidSignatureError, InvalidTokenError
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    AuthenticationFailed,
    InvalidToken,
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.tokens import Token

from .. import revocation
from ..models import AuthMethod, Role
from . import fast

# NumericDate claims must be JSON numbers a datetime can hold (RFC 7519, 2):
# PyJWT takes "1700000000" and lets a list through as a TypeError, and SimpleJWT
# then fails on either with a 500.
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z
MAX_USER_ID = 2**63 - 1


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_claim_types(payload, *, backend):
    """Raise TokenBackendError when a claim this server reads has the wrong JSON type.

    Time claims must be numbers in range; backend tokens also need a string
    `jti` and `token_type` and a `user_id` that can be a primary key.
    """
    for name in TIME_CLAIMS:
        if name in payload and not (_is_number(payload[name]) and 0 <= payload[name] <= MAX_NUMERIC_DATE):
            raise TokenBackendError(f"Token has an invalid '{name}' claim")
    if not backend:
        return
    for name in (api_settings.JTI_CLAIM, api_settings.TOKEN_TYPE_CLAIM):
        if not isinstance(payload.get(name), str):
            raise TokenBackendError(f"Token has no valid '{name}' claim")
    user_id = payload.get(api_settings.USER_ID_CLAIM)
    if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
        user_id = int(user_id)
    if user_id is not None and not (isinstance(user_id, int) and not isinstance(user_id, bool)
                                    and 0 < user_id <= MAX_USER_ID):
        raise TokenBackendError(f"Token has an invalid '{api_settings.USER_ID_CLAIM}' claim")


class CheckedTokenBackend:
    """SimpleJWT's backend, refusing claims of the wrong type instead of failing on them."""

    def __init__(self, backend):
        self.backend = backend

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def decode(self, token, verify=True):
        try:
            payload = self.backend.decode(token, verify=verify)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TokenBackendError("Token is invalid") from exc
        check_claim_types(payload, backend=True)
        return payload


class CheckedTokenMixin:
    """Decodes through CheckedTokenBackend."""

    def get_token_backend(self):
        return CheckedTokenBackend(super().get_token_backend())


class AccessToken(CheckedTokenMixin, simplejwt_tokens.AccessToken):
    """A backend access token; the only class that reads one."""


class RefreshToken(CheckedTokenMixin, simplejwt_tokens.RefreshToken):
    """A backend refresh token; the only class that reads one."""


class UntypedToken(CheckedTokenMixin, simplejwt_tokens.UntypedToken):
    """A backend token of either kind, for the verify endpoint."""


class RevocationCheckMixin:
    """Checks revocation (and user state) in the one cache round trip of the request,
    fetching with it what the view will read from the cache (api/fast.py)."""

    def authenticate(self, request):
        self.request = request  # DRF builds authenticators per request
        return super().authenticate(request)

    def lookup(self, token, user_id=None):
        keys = fast.prefetch_keys(self.request)
        result = revocation.lookup(token, user_id, also=keys)
        fast.keep_prefetched(self.request, keys, result.also)
        return result


class AdminJWTAuthentication(RevocationCheckMixin, JWTAuthentication):
    """Authenticates backend access tokens of users who are still active, unless revoked."""

    def get_validated_token(self, raw_token):
        try:
            return AccessToken(raw_token)
        except TokenError as exc:
            raise InvalidToken(str(exc.args[0])) from exc

    def get_user(self, validated_token):
        """Return the token's user, read with the revocation check in one cache round trip."""
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken("Token contained no recognizable user identification") from exc
        found = self.lookup(validated_token, user_id)
        if found.revoked:
            raise InvalidToken("Token has been revoked.")
        state = found.user_state
        if state is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        if not state.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        user = state.as_user()
        user.auth_method = AuthMethod.BACKEND_TOKEN
        return user


class FrontendTokenBackend(TokenBackend):
    """HS256 with JWT_SECRET; `exp` required; `sub` may be a number, as Next.js writes it."""

    def decode(self, token, verify=True):
        try:
            payload = jwt.decode(
                token,
                self.get_verifying_key(token),
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={
                    "verify_aud": self.audience is not None,
                    "verify_signature": verify,
                    "verify_sub": False,
                    "require": ["exp"],
                },
            )
        except (TypeError, ValueError, OverflowError) as e:  # a claim of the wrong type
            raise TokenBackendError("Token is invalid") from e
        except InvalidAlgorithmError as e:
            raise TokenBackendError("Invalid algorithm specified") from e
        except ExpiredSignatureError as e:
            raise TokenBackendExpiredToken("Token is expired") from e
        except InvalidTokenError as e:
            raise TokenBackendError("Token is invalid") from e
        check_claim_types(payload, backend=False)
        return payload


class FrontendToken(Token):
    """A token minted by the Next.js frontend."""

    token_type = "frontend"
    lifetime = None

    def __init__(self, token):
        # Token refuses to build without a lifetime; frontend tokens bring their own `exp`.
        self.lifetime = api_settings.ACCESS_TOKEN_LIFETIME
        super().__init__(token)

    def get_token_backend(self):
        return _frontend_backend()

    def verify(self):
        self.check_exp()
        if api_settings.TOKEN_TYPE_CLAIM in self.payload:
            # A backend-shaped token signed with the frontend secret.
            raise TokenError("Token is not a frontend token")
        if not isinstance(self.payload.get("role"), str):
            raise TokenError("Token has no role")
        if not (self.payload.get("sub") or self.payload.get("email")):
            raise TokenError("Token names no subject")


def _frontend_backend():
    return FrontendTokenBackend(
        "HS256",
        signing_key=settings.JWT_SECRET,
        audience=settings.JWT_AUDIENCE,
        issuer=settings.JWT_ISSUER,
    )


class FrontendUser:
    """The admin behind a frontend token: identified by `sub` or `email`, not a database row."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None
    id = None
    auth_method = AuthMethod.FRONTEND_TOKEN

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


class FrontendJWTAuthentication(RevocationCheckMixin, JWTAuthentication):
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
        if self.lookup(token).revoked:
            raise InvalidToken("Token has been revoked.")
        return token

    def get_user(self, validated_token):
        return FrontendUser(validated_token)
