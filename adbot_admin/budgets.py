"""Rate-limit budgets: the per-address and whole-server counters, and the slots of slow work.

Each budget is a django-ratelimit group keyed by client IP, so every view that
names the same budget shares one counter; the rate is read from settings when
a request runs. Counters live in the default cache: with several processes it
must be a shared one (Redis).
"""

import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled

from . import slots
from .audit import record
from .errors import LimiterUnavailable, PasswordChecksBusy
from .metrics import CACHE_ERRORS
from .models import Outcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Budget:
    """A named rate, counted per client IP or, with `per_client` off, for the whole server."""

    name: str
    setting: str
    per_client: bool = True
    # Spent only by requests the first budget let through.
    followed_by: "Budget | None" = None
    # How many requests of this budget one process works on at once (a setting; None: no cap).
    slots_setting: str | None = None

    def rate(self, group=None, request=None):
        """Return the rate string, e.g. "5/m", as configured now."""
        return getattr(settings, self.setting)

    @property
    def slotted(self):
        """Return the budget (this one, or the one it is followed by) that caps the work one process does at once."""
        return next((b for b in (self, self.followed_by) if b is not None and b.slots_setting), None)

    @property
    def key(self):
        return "ip" if self.per_client else lambda group, request: "all-clients"


# Bounds the bcrypt work of all clients together: a botnet whose every address
# stays within its own login budget still cannot take the whole machine.
PASSWORD_CHECKS = Budget(
    "password-checks", "RATELIMIT_PASSWORD_CHECKS", per_client=False, slots_setting="PASSWORD_CHECK_SLOTS"
)
LOGIN = Budget("login", "RATELIMIT_LOGIN", followed_by=PASSWORD_CHECKS)
# The same per-client counter as LOGIN, for sign-in steps that check no password (passkeys):
# they take no bcrypt slot and spend nothing of the whole server's password checks.
PASSKEY = Budget("login", "RATELIMIT_LOGIN")
UPLOAD = Budget("upload", "RATELIMIT_UPLOAD")
DELETE = Budget("delete", "RATELIMIT_DELETE")
# Session exports: each hands out live credentials.
EXPORT = Budget("export", "RATELIMIT_EXPORT")


def spend(request, budget):
    """Count one request against `budget` (and the budget it is followed by) and return its usage.

    Raises Throttled (429, with Retry-After) past a per-client limit,
    PasswordChecksBusy (503, with Retry-After) past a whole-server one, and
    LimiterUnavailable (503) when a counter cannot be read: the limiter fails
    closed.
    """
    usage = _count(request, budget)
    if usage is not None and budget.followed_by is not None:
        _count(request, budget.followed_by)
    return usage


def _count(request, budget):
    try:
        usage = get_usage(request, group=budget.name, key=budget.key, rate=budget.rate, increment=True)
    except Exception as exc:  # the cache backend's own errors (Redis down) vary by client
        CACHE_ERRORS.inc()
        logger.error("rate limiter unavailable for %s: %s", budget.name, type(exc).__name__)
        raise LimiterUnavailable(retry_after=5) from exc
    if usage is None:  # RATELIMIT_ENABLE is off
        return None
    if usage["limit"] == 0 and usage["time_left"] == -1:
        logger.error("rate limiter could not count for %s", budget.name)
        raise LimiterUnavailable(retry_after=5)
    if not budget.per_client:
        if usage["should_limit"]:
            raise PasswordChecksBusy(retry_after=usage["time_left"] + 1)
        return usage
    request.ratelimit_usage = (budget, usage)
    if usage["should_limit"]:
        # One audit row per window and client, not one per refused request: a
        # flood must not turn into a flood of database writes.
        if usage["count"] == usage["limit"] + 1:
            record(request=request, action="rate_limited", target=budget.name, outcome=Outcome.DENIED)
        # django-ratelimit's window still refuses at time_left; it frees a second later.
        raise Throttled(wait=usage["time_left"] + 1)
    return usage


@contextmanager
def working_slot(budget):
    """Hold one of this process's slots for `budget` (and what follows it) while the work runs.

    Raises PasswordChecksBusy (503, Retry-After: 1) when every slot is taken: a
    thread waiting for bcrypt would be a thread not serving anyone else.
    """
    capped = budget.slotted
    if capped is None:
        yield
        return
    limit = getattr(settings, capped.slots_setting)
    with slots.held(capped.name, limit, wait=0, busy=PasswordChecksBusy(retry_after=1)):
        yield


PERIOD = re.compile(r"(\d*)([smhd])")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def quota_and_window(rate):
    """Return (requests, seconds) of a django-ratelimit rate: "5/m", "100/15m", "4/second" (its own notation)."""
    count, _, period = rate.partition("/")
    multiple, unit = PERIOD.match(period.lower()).groups()
    return int(count), int(multiple or 1) * SECONDS[unit]


def policy_headers(budget, usage):
    """Return the IETF draft RateLimit-Policy and RateLimit headers for `usage`."""
    quota, window = quota_and_window(budget.rate())
    remaining = max(0, usage["limit"] - usage["count"])
    reset = max(0, usage["time_left"] + 1)
    return {
        "RateLimit-Policy": f'"{budget.name}";q={quota};w={window}',
        "RateLimit": f'"{budget.name}";r={remaining};t={reset}',
    }


def _marks(request, name):
    # Kept on Django's request, which a DRF Request wraps: the view's decorator and a service see one set.
    django_request = getattr(request, "_request", request)
    if not hasattr(django_request, name):
        setattr(django_request, name, set())
    return getattr(django_request, name)


def spend_once(request, budget):
    """Spend `budget` for `request` unless it already was (a view's decorator spends it before the body is read)."""
    spent = _marks(request, "adbot_budgets_spent")
    if budget.name not in spent:
        spent.add(budget.name)
        spend(request, budget)


@contextmanager
def held(request, budget):
    """Hold the working slot of `budget` for `request`, unless an outer caller of this request already holds it."""
    holding = _marks(request, "adbot_slots_held")
    if budget.name in holding:
        yield
        return
    holding.add(budget.name)
    try:
        with working_slot(budget):
            yield
    finally:
        holding.discard(budget.name)


@contextmanager
def login_budget(request):
    """Spend the `login` budget once for `request` and hold a password-check slot while the block runs."""
    spend_once(request, LOGIN)
    with held(request, LOGIN):
        yield
