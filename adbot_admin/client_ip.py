"""The client's address: the connecting one, or the one the trusted proxies saw."""

from django.conf import settings
from python_ipware import IpWare


def client_ip(request):
    """Return the client IP of `request` as a string.

    With TRUSTED_PROXY_COUNT = N > 0, each of the N proxies in front of the app
    appends the address it saw to X-Forwarded-For, so the client is the N-th
    entry from the right; anything further left was written by the client and
    is ignored. python-ipware counts the proxies' own addresses in the chain,
    hence N - 1. With N = 0 the header is never read.
    """
    remote_addr = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote_addr
    ipware = IpWare(precedence=("HTTP_X_FORWARDED_FOR",), proxy_count=count - 1)
    ip, _ = ipware.get_client_ip(request.META, strict=False)
    return str(ip) if ip is not None else remote_addr
