"""Access tokens refused before their expiry.

The database keeps the list; the cache holds a copy that every request reads.
A marker key says the copy is complete, so an emptied cache (a Redis restart)
reloads the list from the database instead of forgetting every logout.
"""

import hashlib
import logging
from datetime import datetime, timezone

from django.core.cache import cache
from django.db import transaction

from .models import RevokedToken

logger = logging.getLogger(__name__)

LOADED_MARKER = "revoked-tokens:loaded"


def token_key(token):
    """Return the revocation key of a validated token: its `jti`, else the whole token."""
    ident = token.get("jti")
    if not ident:
        raw = token.token
        ident = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    return hashlib.sha256(str(ident).encode()).hexdigest()


def _cache_key(key):
    return f"revoked-token:{key}"


def _seconds_left(expires_at):
    return max(1, int((expires_at - datetime.now(timezone.utc)).total_seconds()) + 1)


def revoke(token):
    """Refuse `token` from now on, until it expires anyway."""
    expires_at = datetime.fromtimestamp(int(token["exp"]), tz=timezone.utc)
    key = token_key(token)
    RevokedToken.objects.get_or_create(key=key, defaults={"expires_at": expires_at})
    transaction.on_commit(lambda: _cache_set(key, expires_at))


def _cache_set(key, expires_at):
    try:
        cache.set(_cache_key(key), True, _seconds_left(expires_at))
    except Exception:  # the database row still refuses the token
        logger.warning("cache unavailable while revoking a token; the database copy holds")


def _load_all():
    now = datetime.now(timezone.utc)
    RevokedToken.objects.filter(expires_at__lte=now).delete()
    rows = RevokedToken.objects.filter(expires_at__gt=now).values_list("key", "expires_at")
    for key, expires_at in rows:
        cache.set(_cache_key(key), True, _seconds_left(expires_at))
    cache.set(LOADED_MARKER, True, None)


def is_revoked(token):
    """Return True when the token was revoked; reads the cache, the database when it must."""
    key = token_key(token)
    try:
        found = cache.get_many([LOADED_MARKER, _cache_key(key)])
        if LOADED_MARKER in found:
            return _cache_key(key) in found
        _load_all()
    except Exception:
        logger.warning("cache unavailable; checking token revocation in the database")
    return RevokedToken.objects.filter(key=key).exists()
