"""The token classes: backend tokens (SimpleJWT, JWT_SECRET_KEY) and frontend tokens (Next.js, JWT_SECRET).

Backend tokens carry `token_type`, `jti`, `user_id`, `role` and, when a login
issued them, `sid` (the login session). Frontend tokens carry `exp` and `role`
but no `token_type`; a token of one kind is never accepted as the other.
These classes only decode and verify signatures and claims; whether a token is
still allowed is the database's answer (auth_state.py).

Each kind has one current key and any number of fallbacks (JWT_SECRET_KEY and
JWT_SECRET_KEY_FALLBACKS, JWT_SECRET and JWT_SECRET_FALLBACKS), read from the
settings when a token is read or signed. Tokens are signed with the current
key only and name it in the `kid` header; fallbacks only verify, so a key can
be rotated without logging anyone out (README, "Rotating keys").
"""

import contextlib
import functools
import hashlib
import re
import time

import jwt
from django.conf import settings
from jwt import ExpiredSignatureError, InvalidAlgorithmError, InvalidSignatureError, InvalidTokenError
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import InvalidToken, TokenBackendError, TokenBackendExpiredToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from .models import Scope

# NumericDate claims must be JSON numbers a datetime can hold (RFC 7519, 2):
# PyJWT takes "1700000000" and lets a list through as a TypeError, and SimpleJWT
# then fails on either with a 500.
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")
MAX_NUMERIC_DATE = 253402300799  # 9999-12-31T23:59:59Z
MAX_USER_ID = 2**63 - 1
SESSION_CLAIM = "sid"
# When the user last proved who they are (OpenID Connect Core, 2): set at login and by
# re-authentication, copied unchanged by every refresh, read by step-up (permissions.py).
AUTH_TIME_CLAIM = "auth_time"
# What the token may touch (models.Scope); a token without it, issued before scopes, may touch everything.
SCOPE_CLAIM = "scope"
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
# A `kid` is attacker-controlled (RFC 8725, 3.10): it is only ever compared
# with the ids of the configured keys, and anything but this shape is refused.
KEY_ID_LENGTH = 16
KEY_ID = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")
# What PyJWT lets escape from a token it cannot parse: json.loads raises RecursionError on a header or
# payload nested a thousand levels deep, and claims of the wrong type fail as TypeError or OverflowError.
UNPARSABLE = (TypeError, ValueError, OverflowError, RecursionError)


def key_id(key):
    """Return the `kid` of `key`: the first 16 hex characters of SHA-256 over its bytes, which reveal nothing of it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:KEY_ID_LENGTH]


def check_claim_types(payload, *, backend):
    """Raise TokenBackendError when a claim this server reads has the wrong JSON type.

    Time claims must be numbers in range; backend tokens also need a string
    `jti` and `token_type`, a `user_id` that can be a primary key and, when
    present, a `sid` that names a login session and a `scope` this server knows.
    """
    for name in TIME_CLAIMS:
        value = payload.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_NUMERIC_DATE:
            raise TokenBackendError(f"Token has an invalid '{name}' claim")
    if not backend:
        return
    for name in (api_settings.JTI_CLAIM, api_settings.TOKEN_TYPE_CLAIM):
        if not isinstance(payload.get(name), str):
            raise TokenBackendError(f"Token has no valid '{name}' claim")
    user_id = payload.get(api_settings.USER_ID_CLAIM)
    if isinstance(user_id, str) and user_id.isascii() and user_id.isdigit():
        user_id = int(user_id)
    if user_id is not None and not (
        isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id <= MAX_USER_ID
    ):
        raise TokenBackendError(f"Token has an invalid '{api_settings.USER_ID_CLAIM}' claim")
    sid = payload.get(SESSION_CLAIM)
    if sid is not None and not (isinstance(sid, str) and SESSION_ID.match(sid)):
        raise TokenBackendError(f"Token has an invalid '{SESSION_CLAIM}' claim")
    if SCOPE_CLAIM in payload and payload[SCOPE_CLAIM] not in Scope.values:
        raise TokenBackendError(f"Token has an invalid '{SCOPE_CLAIM}' claim")


class KeyRingTokenBackend(TokenBackend):
    """Signs with the current key, naming it in `kid`; verifies with the key `kid` names or, without one, each in turn."""

    options = {}
    # Which claims check_claim_types asks for: a backend token's, or only the time claims.
    backend_claims = True

    def __init__(self, algorithm, *, keys, **kwargs):
        self.keys = [key for key in keys if key]
        # Reversed: of two keys with one id, the earlier one is kept.
        self.keys_by_id = {key_id(key): key for key in reversed(self.keys)}
        super().__init__(algorithm, signing_key=self.keys[0] if self.keys else None, **kwargs)

    @classmethod
    @functools.lru_cache(maxsize=16)
    def for_keys(cls, algorithm, keys, audience=None, issuer=None, leeway=None, json_encoder=None):
        """Return the backend of these settings, built once: the settings are read on each use, the keys' ids not."""
        return cls(algorithm, keys=keys, audience=audience, issuer=issuer, leeway=leeway, json_encoder=json_encoder)

    def encode(self, payload):
        """Return `payload` signed with the current key, its `kid` in the header."""
        jwt_payload = payload.copy()
        if self.audience is not None:
            jwt_payload["aud"] = self.audience
        if self.issuer is not None:
            jwt_payload["iss"] = self.issuer
        return jwt.encode(
            jwt_payload,
            self.signing_key,
            algorithm=self.algorithm,
            headers={"kid": key_id(self.signing_key)},
            json_encoder=self.json_encoder,
        )

    def candidate_keys(self, token):
        """Return the keys that may have signed `token`: the one its `kid` names, or all without a `kid`.

        Raises TokenBackendError (caused by InvalidSignatureError: not signed
        by any key of ours) for a `kid` that is malformed or names no key.
        """
        try:
            header = jwt.get_unverified_header(token)
        except (InvalidTokenError, *UNPARSABLE) as exc:
            raise TokenBackendError("Token is invalid") from exc
        kid = header.get("kid")
        if kid is None:
            return self.keys
        if not (KEY_ID.fullmatch(kid) and kid in self.keys_by_id):
            raise TokenBackendError("Token is invalid") from InvalidSignatureError("No key has this kid")
        return [self.keys_by_id[kid]]

    def decode(self, token, verify=True):
        """Return the payload of `token` verified by one of the keys, its claims of the right types.

        Raises TokenBackendExpiredToken for an expired token and
        TokenBackendError for any other invalid one.
        """
        keys = self.candidate_keys(token) if verify else self.keys[:1]
        failure = None
        for key in keys:
            try:
                payload = jwt.decode(
                    token,
                    key,
                    algorithms=[self.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.get_leeway(),
                    options={"verify_aud": self.audience is not None, "verify_signature": verify, **self.options},
                )
            except InvalidSignatureError as exc:  # another key may have signed it
                failure = exc
                continue
            except UNPARSABLE as exc:  # a claim of the wrong type, or JSON nested past the parser's depth
                raise TokenBackendError("Token is invalid") from exc
            except InvalidAlgorithmError as exc:
                raise TokenBackendError("Invalid algorithm specified") from exc
            except ExpiredSignatureError as exc:
                raise TokenBackendExpiredToken("Token is expired") from exc
            except InvalidTokenError as exc:
                raise TokenBackendError("Token is invalid") from exc
            check_claim_types(payload, backend=self.backend_claims)
            return payload
        raise TokenBackendError("Token is invalid") from failure


class CheckedTokenMixin:
    """Signs and verifies with JWT_SECRET_KEY and its fallbacks, read from the settings on each use."""

    def get_token_backend(self):
        return KeyRingTokenBackend.for_keys(
            api_settings.ALGORITHM,
            (settings.JWT_SECRET_KEY, *settings.JWT_SECRET_KEY_FALLBACKS),
            audience=api_settings.AUDIENCE,
            issuer=api_settings.ISSUER,
            leeway=api_settings.LEEWAY,
            json_encoder=api_settings.JSON_ENCODER,
        )


class AccessToken(CheckedTokenMixin, simplejwt_tokens.AccessToken):
    """A backend access token; the only class that reads one."""


class RefreshToken(CheckedTokenMixin, simplejwt_tokens.RefreshToken):
    """A backend refresh token; the only class that reads one."""

    access_token_class = AccessToken


class UntypedToken(CheckedTokenMixin, simplejwt_tokens.UntypedToken):
    """A backend token of either kind, for the verify endpoint."""


class FrontendTokenBackend(KeyRingTokenBackend):
    """HS256 with JWT_SECRET and its fallbacks; `exp` required; `sub` may be a number, as Next.js writes it."""

    options = {"verify_sub": False, "require": ["exp"]}
    backend_claims = False


class FrontendToken(Token):
    """A token minted by the Next.js frontend."""

    token_type = "frontend"
    lifetime = None

    def __init__(self, token):
        # Token refuses to build without a lifetime; frontend tokens bring their own `exp`.
        self.lifetime = api_settings.ACCESS_TOKEN_LIFETIME
        super().__init__(token)

    def get_token_backend(self):
        return FrontendTokenBackend.for_keys(
            "HS256",
            (settings.JWT_SECRET, *settings.JWT_SECRET_FALLBACKS),
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
        )

    def verify(self):
        self.check_exp()
        self.check_lifetime()
        if api_settings.TOKEN_TYPE_CLAIM in self.payload:
            # A backend-shaped token signed with the frontend secret.
            raise TokenError("Token is not a frontend token")
        if not isinstance(self.payload.get("role"), str):
            raise TokenError("Token has no role")
        if not (self.payload.get("sub") or self.payload.get("email")):
            raise TokenError("Token names no subject")

    def check_lifetime(self):
        """Raise TokenError when the token lives longer than FRONTEND_TOKEN_MAX_AGE.

        The lifetime is `exp - iat`; without `iat`, it is what is left until
        `exp`. PyJWT has already refused an `iat` in the future.
        """
        start = self.payload.get("iat", time.time())
        if self.payload["exp"] - start > settings.FRONTEND_TOKEN_MAX_AGE:
            raise TokenError("Token lifetime exceeds FRONTEND_TOKEN_MAX_AGE")


@contextlib.contextmanager
def refused_as_invalid():
    """Re-raise a TokenError from the block as InvalidToken (401 token_not_valid) with its message."""
    try:
        yield
    except TokenError as exc:
        raise InvalidToken(str(exc.args[0])) from exc
