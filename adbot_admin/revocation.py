"""What every authenticated request must know: is the token revoked, is its user still allowed?

Revoked tokens: the database keeps the list; the cache holds a copy that every
request reads. A marker key says the copy is complete, so an emptied cache (a
Redis restart) reloads the list from the database instead of forgetting every
logout.

User state (active, staff): cached per user for USER_STATE_TTL (60) seconds and
dropped on every save or delete of the user (signals), so a deactivation or
demotion through the ORM, the admin site or `manage.py` takes effect at once.
A bulk `QuerySet.update()` sends no signal: it takes effect within the TTL.

Both are read in one cache round trip per request, together with whatever the
request's view will read from the cache (lookup's `also`; see api/fast.py).
"""

import hashlib
import logging
from datetime import datetime, timezone

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction

from .models import RevokedToken

logger = logging.getLogger(__name__)

LOADED_MARKER = "revoked-tokens:loaded"
USER_STATE_TTL = 60


@dataclass(frozen=True)
class UserState:
    pk: int
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool

    def as_user(self):
        """Return an unsaved-looking User carrying just these fields (no query)."""
        user = get_user_model()(
            pk=self.pk, username=self.username, is_active=self.is_active,
            is_staff=self.is_staff, is_superuser=self.is_superuser,
        )
        user._state.adding = False
        user._state.db = "default"
        return user


def _user_key(user_id):
    return f"user-state:{user_id}"


def _load_user_state(user_id):
    row = (
        get_user_model()
        .objects.filter(pk=user_id)
        .values_list("pk", "username", "is_active", "is_staff", "is_superuser")
        .first()
    )
    return UserState(*row) if row else None


def forget_user(user_id):
    """Drop the cached state of a user; called on every save and delete."""
    try:
        cache.delete(_user_key(user_id))
    except Exception:
        logger.warning("cache unavailable while forgetting a user's state")


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
    return lookup(token).revoked


@dataclass(frozen=True)
class Lookup:
    revoked: bool
    user_state: UserState | None
    # The caller's `also` keys found in the same round trip; None when the cache failed.
    also: dict | None


def lookup(token, user_id=None, also=()):
    """Return whether a token is revoked, its user's state when `user_id` is given,
    and the cached values of the caller's `also` keys.

    One cache round trip when the cache is warm, `also` included: a request
    that needs more from the cache asks for it here rather than paying a second
    trip. The database answers what the cache cannot (a miss, or the cache being down).
    """
    key = token_key(token)
    own = [LOADED_MARKER, _cache_key(key)] + ([_user_key(user_id)] if user_id is not None else [])
    try:
        found = cache.get_many(own + list(also))
    except Exception:
        logger.warning("cache unavailable; checking the token in the database")
        found = None
    if found is not None and LOADED_MARKER in found:
        revoked = _cache_key(key) in found
    else:
        revoked = RevokedToken.objects.filter(key=key).exists()
        if found is not None:
            _reload(LOADED_MARKER)
    state = None
    if user_id is not None:
        state = found.get(_user_key(user_id)) if found is not None else None
        if not isinstance(state, UserState):
            # Absent, or left by another release with another shape: read it afresh.
            state = None
        if state is None:
            state = _load_user_state(user_id)
            if state is not None and found is not None:
                _cache_quietly(_user_key(user_id), state, USER_STATE_TTL)
    extra = None if found is None else {name: found[name] for name in also if name in found}
    return Lookup(revoked, state, extra)


def _reload(_marker):
    try:
        _load_all()
    except Exception:
        logger.warning("cache unavailable while reloading revoked tokens")


def _cache_quietly(key, value, timeout):
    try:
        cache.set(key, value, timeout)
    except Exception:
        logger.warning("cache unavailable while caching user state")
