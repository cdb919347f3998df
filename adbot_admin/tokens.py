"""The token classes: backend tokens (SimpleJWT, JWT_SECRET_KEY) and frontend tokens (Next.js, JWT_SECRET).

Backend tokens carry `token_type`, `jti`, `user_id`, `role` and, when a login
issued them, `sid` (the login session). Frontend tokens carry `exp` and `role`
but no `token_type`; a token of one kind is never accepted as the other.
These classes only decode and verify signatures and claims; whether a token is
still allowed is the database's answer (auth_state.py).
"""

import re

import jwt
from django.conf import settings
from jwt import ExpiredSignatureError, InvalidAlgorithmError, InvalidTokenError
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from .models import Scope

# NumericDate claims must be JSON numbers a datetime can hold (RFC 7519, 2):
# PyJWT takes "1700000000" and lets a list through as a TypeError, and SimpleJWT
# then fails on either with a 500.
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z
MAX_USER_ID = 2**63 - 1
SESSION_CLAIM = "sid"
# What the token may touch (models.Scope); a token without it, issued before scopes, may touch everything.
SCOPE_CLAIM = "scope"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_claim_types(payload, *, backend):
    """Raise TokenBackendError when a claim this server reads has the wrong JSON type.

    Time claims must be numbers in range; backend tokens also need a string
    `jti` and `token_type`, a `user_id` that can be a primary key and, when
    present, a `sid` that names a login session and a `scope` this server knows.
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
    sid = payload.get(SESSION_CLAIM)
    if sid is not None and not (isinstance(sid, str) and SESSION_ID.match(sid)):
        raise TokenBackendError(f"Token has an invalid '{SESSION_CLAIM}' claim")
    if SCOPE_CLAIM in payload and payload[SCOPE_CLAIM] not in Scope.values:
        raise TokenBackendError(f"Token has an invalid '{SCOPE_CLAIM}' claim")


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

    access_token_class = AccessToken


class UntypedToken(CheckedTokenMixin, simplejwt_tokens.UntypedToken):
    """A backend token of either kind, for the verify endpoint."""


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
        return FrontendTokenBackend(
            "HS256",
            signing_key=settings.JWT_SECRET,
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
        )

    def verify(self):
        self.check_exp()
        if api_settings.TOKEN_TYPE_CLAIM in self.payload:
            # A backend-shaped token signed with the frontend secret.
            raise TokenError("Token is not a frontend token")
        if not isinstance(self.payload.get("role"), str):
            raise TokenError("Token has no role")
        if not (self.payload.get("sub") or self.payload.get("email")):
            raise TokenError("Token names no subject")
