"""Per-account lockout: too many failed password checks for one username refuse it for the rest of the window.

LOGIN_ACCOUNT_FAILURES failures (from any addresses) within one
LOCKOUT_WINDOW lock the username until the window ends: further attempts
answer 429 with Retry-After before any password is hashed. The answer is the
same whether the account exists or not. A successful login and `manage.py
unlock_user` clear the count.

The counter is a rate-limit counter, kept in the cache by django-ratelimit's
own machinery and failing closed like the other budgets (api/ratelimits.py).
Its key holds a SHA-256 of the normalised username, never the username.
"""

import hashlib
import logging
import unicodedata

from django.conf import settings
from django.core.cache import caches
from django_ratelimit import ALL
from django_ratelimit.core import _get_window, _make_cache_key, _split_rate, get_usage
from rest_framework.exceptions import Throttled

from .ratelimits import LimiterUnavailable

logger = logging.getLogger(__name__)

GROUP = "login-account"
LOCKOUT_WINDOW = "15m"


class AccountLocked(Throttled):
    default_detail = "Too many failed logins for this account."
    default_code = "account_locked"
    extra_detail_singular = "Try again in {wait} second."
    extra_detail_plural = "Try again in {wait} seconds."


def normalised(username):
    """Return `username` as the lockout counts it: one counter for every spelling that may name one account."""
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()


def _key_value(username):
    return hashlib.sha256(normalised(username).encode("utf-8", "surrogatepass")).hexdigest()


def _rate():
    limit = settings.LOGIN_ACCOUNT_FAILURES
    return f"{limit}/{LOCKOUT_WINDOW}" if limit > 0 else None


def _usage(request, username, *, increment):
    rate = _rate()
    if rate is None:
        return None
    value = _key_value(username)
    try:
        usage = get_usage(request, group=GROUP, key=lambda group, request: value, rate=rate, increment=increment)
    except Exception as exc:  # the cache backend's own errors (Redis down) vary by client
        logger.error("lockout counter unavailable: %s", type(exc).__name__)
        raise LimiterUnavailable(retry_after=5) from exc
    if usage is not None and usage["limit"] == 0 and usage["time_left"] == -1:
        logger.error("lockout counter could not count")
        raise LimiterUnavailable(retry_after=5)
    return usage


def check(request, username):
    """Raise AccountLocked (429, Retry-After: until the window ends) when `username` is locked; count nothing."""
    usage = _usage(request, username, increment=False)
    if usage is not None and usage["count"] >= usage["limit"]:
        raise AccountLocked(wait=usage["time_left"] + 1)


def failed(request, username):
    """Count one failed password check for `username`; audit the failure that locks it, once per window."""
    usage = _usage(request, username, increment=True)
    if usage is not None and usage["count"] == usage["limit"]:
        from ..audit import record
        from ..models import Outcome

        record(
            request=request,
            action="account_locked",
            target=str(username)[:150],
            outcome=Outcome.DENIED,
            actor="",
            detail={"failures": usage["count"], "seconds": usage["time_left"] + 1},
        )


def clear(username):
    """Forget the failures counted for `username` (a successful login, `manage.py unlock_user`)."""
    rate = _rate()
    if rate is None:
        return
    value = _key_value(username)
    # The key django-ratelimit's get_usage() counts under, for the current window.
    _, period = _split_rate(rate)
    key = _make_cache_key(GROUP, _get_window(value, period), rate, value, ALL)
    try:
        caches[settings.RATELIMIT_USE_CACHE].delete(key)
    except Exception as exc:
        logger.error("lockout counter unavailable: %s", type(exc).__name__)
        raise LimiterUnavailable(retry_after=5) from exc
