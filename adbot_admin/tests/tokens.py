"""Tokens minted by hand, the way a frontend or an attacker would."""

import base64
import json
import time
import uuid

import jwt
from django.conf import settings
from rest_framework_simplejwt.settings import api_settings

FRONTEND_ADMIN = {"sub": "7", "email": "carol@example.com", "role": "admin"}


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _claims(base, exp_in, claims):
    payload = {**base, "exp": int(time.time()) + exp_in, **claims}
    return {key: value for key, value in payload.items() if value is not None}


def frontend_token(*, key=None, algorithm="HS256", exp_in=300, headers=None, **claims):
    """Return a Next.js-shaped token; a claim given as None is left out."""
    payload = _claims(FRONTEND_ADMIN, exp_in, claims)
    return jwt.encode(payload, key or settings.JWT_SECRET, algorithm=algorithm, headers=headers)


def backend_token(user, *, key=None, algorithm="HS256", exp_in=300, token_type="access", headers=None, **claims):
    """Return a SimpleJWT-shaped token for `user`; a claim given as None is left out."""
    base = {
        "token_type": token_type,
        "jti": uuid.uuid4().hex,
        "iat": int(time.time()),
        "user_id": str(user.pk),
        "role": user.role,
    }
    payload = _claims(base, exp_in, claims)
    return jwt.encode(payload, key or api_settings.SIGNING_KEY, algorithm=algorithm, headers=headers)


def unsigned_token(payload):
    """Return `payload` as an `alg: none` token with an empty signature."""

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


def header_of(token):
    return jwt.get_unverified_header(token)
