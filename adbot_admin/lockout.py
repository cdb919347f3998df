"""Per-account lockout: too many failed password checks for one username refuse it for a while.

LOGIN_ACCOUNT_FAILURES failures (from any addresses) within LOCKOUT_WINDOW
lock the username for LOCKOUT_WINDOW from the failure that locks it: every
password check for it then answers 429 with Retry-After before any password
is hashed. The answer is the same whether the account exists or not. A
correct password and `manage.py unlock_user` clear the count.

Every password check counts, wherever it happens: the token and CMS logins,
the admin site, and the password re-checks of `2fa/setup` and `2fa/disable`.

Whether an account may try a password is an access decision, so the database
holds it (an AccountLockout row), never the cache: every process and the shell
see one count, and a cache restart unlocks nothing. The row is keyed by a
SHA-256 of the normalised username, never the username. The per-address
budgets stay in the cache (ratelimits.py).
"""

import hashlib
import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .audit import record
from .errors import AccountLocked
from .models import AccountLockout, Outcome

LOCKOUT_WINDOW = timedelta(minutes=15)


def normalised(username):
    """Return `username` as the lockout counts it: one counter for every spelling that may name one account."""
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()


def _key(username):
    return hashlib.sha256(normalised(username).encode("utf-8", "surrogatepass")).hexdigest()


def check(*, username):
    """Raise AccountLocked (429, Retry-After: until the lock ends) when `username` is locked; count nothing."""
    if settings.LOGIN_ACCOUNT_FAILURES <= 0:  # the lockout is off
        return
    now = timezone.now()
    until = (
        AccountLockout.objects.filter(key=_key(username), locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    if until is not None:
        raise AccountLocked(wait=math.ceil((until - now).total_seconds()))


def failed(*, username, request=None):
    """Count one failed password check for `username`; lock it at LOGIN_ACCOUNT_FAILURES, audited once per lock."""
    limit = settings.LOGIN_ACCOUNT_FAILURES
    if limit <= 0:
        return
    now = timezone.now()
    with transaction.atomic():
        # Rows whose window and lock are both over count for nothing: the table holds live ones only.
        AccountLockout.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now), window_ends_at__lte=now
        ).delete()
        row, _ = AccountLockout.objects.select_for_update().get_or_create(
            key=_key(username), defaults={"failures": 0, "window_ends_at": now + LOCKOUT_WINDOW}
        )
        if row.window_ends_at <= now:
            row.failures, row.window_ends_at = 0, now + LOCKOUT_WINDOW
        row.failures += 1
        locks = row.failures >= limit and not (row.locked_until and row.locked_until > now)
        if locks:
            row.locked_until = now + LOCKOUT_WINDOW
            # The window runs on until the lock ends: the next failure after it starts a new count.
            row.window_ends_at = row.locked_until
            record(
                request=request,
                action="account_locked",
                target=str(username)[:150],
                outcome=Outcome.DENIED,
                actor="",
                detail={"failures": row.failures, "seconds": int(LOCKOUT_WINDOW.total_seconds())},
            )
        row.save(update_fields=["failures", "window_ends_at", "locked_until"])


def clear(*, username):
    """Forget the failures counted for `username` and any lock (a correct password, `manage.py unlock_user`)."""
    AccountLockout.objects.filter(key=_key(username)).delete()
