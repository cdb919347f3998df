"""bcrypt work at the lowest CPU priority, so a login flood cannot slow the reads.

Each bcrypt check (~250 ms of CPU at cost 12) runs on a small per-process pool
of threads whose OS priority is lowered to nice 19; the bcrypt library releases
the GIL while it hashes, so request threads at normal priority keep the cores.
How many checks may run at once, and how many a second, is the rate-limit
policy's business (budgets.py: PASSWORD_CHECK_SLOTS and
RATELIMIT_PASSWORD_CHECKS).
"""

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import bcrypt
from django.contrib.auth import hashers

LOWEST_PRIORITY = 19
_pool = None
_pool_pid = None
_pool_lock = threading.Lock()


def _lower_priority():
    with suppress(AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)


def _executor():
    global _pool, _pool_pid
    with _pool_lock:
        # A pool made before a fork (gunicorn's preloading master) has no threads in the child.
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="bcrypt", initializer=_lower_priority)
            _pool_pid = os.getpid()
        return _pool


def in_background(function, *args):
    """Return function(*args), computed on a lowest-priority thread."""
    return _executor().submit(function, *args).result()


def checkpw(password, hashed):
    """bcrypt.checkpw at the lowest CPU priority."""
    return in_background(bcrypt.checkpw, password, hashed)


class BCryptSHA256PasswordHasher(hashers.BCryptSHA256PasswordHasher):
    """Django's bcrypt hasher (same algorithm and stored format), hashing at the lowest CPU priority."""

    def encode(self, password, salt):
        return in_background(super().encode, password, salt)


class BCryptPasswordHasher(hashers.BCryptPasswordHasher):
    """Django's plain bcrypt hasher, for hashes made by older set-ups, at the lowest CPU priority."""

    def encode(self, password, salt):
        return in_background(super().encode, password, salt)


# bcrypt compares only the first 72 bytes of a password.
BCRYPT_MAX_BYTES = 72
BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def valid_bcrypt_hash(value):
    """Return True when `value` has the form of a bcrypt hash (checked without hashing)."""
    return bool(BCRYPT_HASH.match(value))
