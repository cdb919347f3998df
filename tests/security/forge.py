"""Tokens built by hand, byte by byte where PyJWT refuses (alg none, a PEM as an HMAC key)."""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from .log_hygiene import register

HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value):
    """Return a JSON object as a base64url segment."""
    return b64url(json.dumps(value, separators=(",", ":")))


def assemble(header, payload, signature=b""):
    """Return `header.payload.signature` with `signature` (bytes) base64url-encoded as given."""
    token = f"{segment(header)}.{segment(payload)}.{b64url(signature)}"
    register(token)
    return token


def hmac_sign(header, payload, key):
    """Return a token MACed with `key` under the digest `header["alg"]` names (HS256 when it names none)."""
    if isinstance(key, str):
        key = key.encode()
    signing_input = f"{segment(header)}.{segment(payload)}"
    digest = HMAC_DIGESTS.get(header.get("alg"), hashlib.sha256)
    token = f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), digest).digest())}"
    register(token)
    return token


def split(token):
    header, payload, signature = token.split(".")
    return header, payload, signature


def decode_segment(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def backend_claims(user, kind="access", **overrides):
    """Return the claims SimpleJWT writes for `user`; an override of None drops the claim."""
    now = int(time.time())
    claims = {
        "token_type": kind,
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "user_id": str(user.pk),
        "role": user.role,
        # A login stamps it (adbot_admin/tokens.py); step-up routes read it.
        "auth_time": now,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def frontend_claims(role="admin", **overrides):
    """Return the claims the Next.js frontend writes; an override of None drops the claim."""
    claims = {"sub": "7", "email": "carol@example.com", "role": role, "exp": int(time.time()) + 300}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def new_key():
    """Return a fresh random key as `generate_secret` makes them, registered with the log-hygiene check."""
    key = secrets.token_urlsafe(48)
    register(key)
    return key


def key_id(key):
    """Return the `kid` the server gives `key`, computed here from its definition: SHA-256 of the key, 16 hex characters."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def backend_token(claims, key=None):
    return hmac_sign({"alg": "HS256", "typ": "JWT"}, claims, key or settings.JWT_SECRET_KEY)


def frontend_token(claims, key=None):
    return hmac_sign({"alg": "HS256", "typ": "JWT"}, claims, key or settings.JWT_SECRET)


class AttackerKeys:
    """Key pairs an attacker owns: RSA 2048 and P-256."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())

    @property
    def rsa_public_pem(self):
        return self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def rsa_public_jwk(self):
        return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key()))

    def sign(self, algorithm, claims, headers=None):
        key = self.rsa if algorithm.startswith(("RS", "PS")) else self.ec
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)
