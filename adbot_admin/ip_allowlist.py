"""The admin IP allowlist (ADMIN_ALLOWED_IPS): who may reach the admin surface at all.

Every path is guarded except the public ones (the public gallery, health,
media and static files): a route added later is guarded without anyone having
to remember it. The refusal comes before sessions, CSRF, authentication and
any password check, so a refused address costs no bcrypt work.
"""

import functools
import ipaddress
import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from .audit import record
from .client_ip import client_ip
from .errors import IpNotAllowed
from .http_errors import api_exception_response
from .metrics import REFUSED_ADDRESSES
from .models import Outcome

logger = logging.getLogger(__name__)

# Open to every address whatever the allowlist says: prefixes, and exact paths (with or without a slash).
OPEN_PREFIXES = ("/api/public/",)
# /metrics has its own guard (METRICS_TOKEN, METRICS_ALLOWED_IPS): a Prometheus server is no admin.
OPEN_PATHS = ("/api/health", "/metrics")
# A refused address (an IPv4 address, or an IPv6 /64: one host holds a whole /64) is audited at most once
# per this many seconds, and all refused addresses together add at most IP_REFUSED_AUDIT_PER_MINUTE rows.
AUDIT_EVERY_SECONDS = 60
IPV6_AUDIT_PREFIX = 64
AUDIT_MARKER = "adbot:ip-refused:{address}"
AUDIT_ROWS = "adbot:ip-refused-rows:{minute}"
UNAUDITED = "adbot:ip-refused-unaudited:{minute}"
SUMMARY_LOGGED = "adbot:ip-refused-summary:{minute}"
# The rows of the current minute when the cache does not answer, counted in this process only.
_local_rows = {"minute": None, "rows": 0}
_local_lock = threading.Lock()


def parse_entry(entry):
    """Return `entry` (an address or a CIDR network, IPv4 or IPv6) as an ip_network; raise ValueError otherwise.

    A network with host bits set (`10.0.0.1/8`) is refused: it is most likely a
    typo, and guessing what was meant could open more than intended.
    """
    return ipaddress.ip_network(entry.strip(), strict=True)


@functools.lru_cache(maxsize=8)
def _networks(entries):
    return tuple(parse_entry(entry) for entry in entries if entry.strip())


def _parsed(address):
    """Return `address` as an ip_address (a dual-stack socket's ::ffff:a.b.c.d as IPv4), or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def address_allowed(address, networks):
    """Return True when the client `address` (a string) lies in one of `networks`; an unparsable one never does."""
    ip = _parsed(address)
    return ip is not None and any(ip in network for network in networks)


def audited_as(address):
    """Return what one audit row per minute stands for: the IPv4 address, or the /64 of an IPv6 one."""
    ip = _parsed(address)
    if ip is None:
        return str(address)
    if ip.version == 6:
        return str(ipaddress.ip_network((ip, IPV6_AUDIT_PREFIX), strict=False))
    return str(ip)


def path_open(path):
    """Return True for the paths every address may reach."""
    static_prefixes = tuple(
        prefix for prefix in (settings.STATIC_URL, settings.MEDIA_URL) if prefix and prefix.startswith("/")
    )
    if path.startswith(OPEN_PREFIXES + static_prefixes):
        return True
    return path.rstrip("/") in OPEN_PATHS


def _cache_count(key):
    cache.add(key, 0, 2 * AUDIT_EVERY_SECONDS)
    return cache.incr(key)


def _local_row(minute):
    with _local_lock:
        if _local_rows["minute"] != minute:
            _local_rows.update(minute=minute, rows=0)
        _local_rows["rows"] += 1
        return _local_rows["rows"] <= settings.IP_REFUSED_AUDIT_PER_MINUTE


def _log_previous_minute(minute):
    """Log, once, how many refusals of the previous minute went unaudited."""
    if cache.add(SUMMARY_LOGGED.format(minute=minute), 1, 2 * AUDIT_EVERY_SECONDS):
        unaudited = cache.get(UNAUDITED.format(minute=minute - 1))
        if unaudited:
            logger.warning("ip allowlist: %d refusal(s) of the previous minute were not audited", unaudited)


def _audit_due(address, minute):
    """Return True when this refusal gets an audit row; count it as unaudited otherwise."""
    try:
        _log_previous_minute(minute)
        due = cache.add(AUDIT_MARKER.format(address=audited_as(address)), 1, AUDIT_EVERY_SECONDS) and (
            _cache_count(AUDIT_ROWS.format(minute=minute)) <= settings.IP_REFUSED_AUDIT_PER_MINUTE
        )
        if not due:
            _cache_count(UNAUDITED.format(minute=minute))
        return due
    except Exception:  # the cache is down: this process's own count still bounds the rows
        logger.warning("ip allowlist: cache unavailable, auditing refusals within this process's budget")
        return _local_row(minute)


def _audit_refusal(request, address):
    """Record one audit row for `address`, within the per-address and the per-minute bounds."""
    if not _audit_due(address, int(time.time() // AUDIT_EVERY_SECONDS)):
        return
    try:
        record(
            request=request,
            action="ip_refused",
            outcome=Outcome.DENIED,
            actor="",
            target=request.path[:255],
            detail={"method": request.method[:16]},
        )
    except (DatabaseError, ValueError):  # ValueError: an address the audit column cannot hold
        logger.error("ip allowlist: the refusal of a client could not be audited")


class AdminIpAllowlistMiddleware:
    """Refuses clients outside ADMIN_ALLOWED_IPS with 403 `ip_not_allowed` on every non-public path."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        networks = _networks(tuple(settings.ADMIN_ALLOWED_IPS))  # none allows every address
        if networks and not path_open(request.path_info):
            address = client_ip(request)
            if not address_allowed(address, networks):
                REFUSED_ADDRESSES.inc()
                _audit_refusal(request, address)
                return api_exception_response(IpNotAllowed())
        return self.get_response(request)
