"""Secrets at rest in database columns: AES-256-GCM under the key ring FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so a key is rotated by putting a
new one first and running `manage.py rotate_field_key`, which re-encrypts each
row under it; the old key can then be removed. A stored value is the text
`v1.<key id>.<base64url(nonce + ciphertext + tag)>`: the key id (the first 8
hex digits of the key's SHA-256, which says nothing about the key) picks the
key and tells rotation which rows are still under an old one. The purpose
(e.g. `sessions_admin.SessionFile.twofa_password`) is the associated data, so
a value copied into another column does not decrypt.

Columns hold only that text: the model never decrypts on load, so `dumpdata`,
the admin site and every serializer see ciphertext unless a service calls
`decrypt`. This module lives in `adbot_admin` beside the other key handling
(checks.py, settings.py) because any app may store a secret this way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
# A random 32-byte key has about 30 distinct byte values; fewer than this is a pattern.
MIN_DISTINCT_BYTES = 16


class DecryptionFailed(Exception):
    """Raised when a stored value is malformed, or no key of the ring decrypts it."""


def generate_key() -> str:
    """Return a new key as FIELD_ENCRYPTION_KEYS holds it: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).rstrip(b"=").decode("ascii")


def decode_key(value: str) -> bytes:
    """Return the 32 bytes of a key; raise ValueError saying why `value` is no fit key (never repeating it)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("is not base64url") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"is {len(raw)} bytes, not {KEY_BYTES}")
    if len(set(raw)) < MIN_DISTINCT_BYTES:
        raise ValueError("is a pattern, not random bytes")
    return raw


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


def key_ring() -> list[tuple[str, AESGCM]]:
    """Return [(key id, cipher)] for FIELD_ENCRYPTION_KEYS in order; raise ImproperlyConfigured when unusable."""
    values = settings.FIELD_ENCRYPTION_KEYS
    if not values:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is not set; secrets cannot be stored or read.")
    ring = []
    for position, value in enumerate(values, start=1):
        try:
            raw = decode_key(value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS key {position} {exc}.") from None
        ring.append((key_id(raw), AESGCM(raw)))
    return ring


def encrypt(plaintext: str, *, purpose: str) -> str:
    """Return `plaintext` encrypted under the first key, bound to `purpose`; "" stays ""."""
    if plaintext == "":
        return ""
    identifier, cipher = key_ring()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, plaintext.encode("utf-8"), purpose.encode("ascii"))
    return f"{VERSION}.{identifier}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def decrypt(stored: str, *, purpose: str) -> str:
    """Return the plaintext of a value `encrypt` made for `purpose`; "" stays "".

    Raises DecryptionFailed when the value is malformed, its key is not in the
    ring, or it was made for another purpose or altered.
    """
    if stored == "":
        return ""
    identifier, sealed = _split(stored)
    for candidate, cipher in key_ring():
        if candidate != identifier:
            continue
        try:
            return cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], purpose.encode("ascii")).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise DecryptionFailed(
                f"a {purpose} value does not decrypt (altered, or made for another column)"
            ) from None
    raise DecryptionFailed(f"a {purpose} value is under a key that FIELD_ENCRYPTION_KEYS no longer holds")


def is_current(stored: str) -> bool:
    """Return whether `stored` is empty or already under the first key of the ring."""
    return stored == "" or _split(stored)[0] == key_ring()[0][0]


def _split(stored: str) -> tuple[str, bytes]:
    version, _, rest = stored.partition(".")
    identifier, _, payload = rest.partition(".")
    if version != VERSION or not identifier or not payload:
        raise DecryptionFailed("a stored secret is not in the v1 format")
    try:
        sealed = base64.urlsafe_b64decode(payload)
    except (binascii.Error, ValueError):
        raise DecryptionFailed("a stored secret is not base64url") from None
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionFailed("a stored secret is too short")
    return identifier, sealed


class EncryptedTextField(models.TextField):
    """A column that holds `encrypt`'s text; it never decrypts by itself (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    @property
    def purpose(self) -> str:
        return f"{self.model._meta.label}.{self.name}"


def encrypted_fields() -> list[EncryptedTextField]:
    """Return every EncryptedTextField of every installed model."""
    return [
        field for model in apps.get_models() for field in model._meta.fields if isinstance(field, EncryptedTextField)
    ]


def encrypt_field(instance, name: str, plaintext: str) -> None:
    """Set `instance.<name>` to `plaintext` encrypted for that column."""
    field = instance._meta.get_field(name)
    setattr(instance, name, encrypt(plaintext, purpose=field.purpose))


def decrypt_field(instance, name: str) -> str:
    """Return the plaintext of `instance.<name>`; raise DecryptionFailed when it does not decrypt."""
    field = instance._meta.get_field(name)
    return decrypt(getattr(instance, name), purpose=field.purpose)
