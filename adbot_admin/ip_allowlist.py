"""The admin IP allowlist (ADMIN_ALLOWED_IPS): who may reach the admin surface at all.

Every path is guarded except the public ones (the public gallery, health,
media and static files): a route added later is guarded without anyone having
to remember it. The refusal comes before sessions, CSRF, authentication and
any password check, so a refused address costs no bcrypt work.
"""

import functools
import ipaddress
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError

from .api.exceptions import json_error
from .audit import record
from .client_ip import client_ip
from .metrics import REFUSED_ADDRESSES
from .models import Outcome

logger = logging.getLogger(__name__)

# Open to every address whatever the allowlist says: prefixes, and exact paths (with or without a slash).
OPEN_PREFIXES = ("/api/public/",)
# /metrics has its own guard (METRICS_TOKEN, METRICS_ALLOWED_IPS): a Prometheus server is no admin.
OPEN_PATHS = ("/api/health", "/metrics")
# A refused address is audited at most once per this many seconds.
AUDIT_EVERY_SECONDS = 60
AUDIT_MARKER = "adbot:ip-refused:{address}"


def parse_entry(entry):
    """Return `entry` (an address or a CIDR network, IPv4 or IPv6) as an ip_network; raise ValueError otherwise.

    A network with host bits set (`10.0.0.1/8`) is refused: it is most likely a
    typo, and guessing what was meant could open more than intended.
    """
    return ipaddress.ip_network(entry.strip(), strict=True)


@functools.lru_cache(maxsize=8)
def _networks(entries):
    return tuple(parse_entry(entry) for entry in entries if entry.strip())


def allowed_networks():
    """Return the networks of ADMIN_ALLOWED_IPS; an empty tuple allows every address."""
    return _networks(tuple(settings.ADMIN_ALLOWED_IPS))


def address_allowed(address, networks):
    """Return True when the client `address` (a string) lies in one of `networks`; an unparsable one never does."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def path_open(path):
    """Return True for the paths every address may reach."""
    static_prefixes = tuple(
        prefix for prefix in (settings.STATIC_URL, settings.MEDIA_URL) if prefix and prefix.startswith("/")
    )
    if path.startswith(OPEN_PREFIXES + static_prefixes):
        return True
    return path.rstrip("/") in OPEN_PATHS


def _audit_refusal(request, address):
    """Record one audit row for `address` per AUDIT_EVERY_SECONDS; a lost marker only means one row more."""
    try:
        first = cache.add(AUDIT_MARKER.format(address=address), 1, AUDIT_EVERY_SECONDS)
    except Exception:  # the cache is down: audit rather than stay silent
        logger.warning("ip allowlist: cache unavailable, auditing the refusal unthrottled")
        first = True
    if not first:
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
        networks = allowed_networks()
        if networks and not path_open(request.path_info):
            address = client_ip(request)
            if not address_allowed(address, networks):
                REFUSED_ADDRESSES.inc()
                _audit_refusal(request, address)
                return json_error(403, "Your address may not reach the admin interface.", "ip_not_allowed")
        return self.get_response(request)
